"""DistributedDataParallel on CPU (gloo): what is equal is compared for equality, what is not for closeness.

- The same world size, seed and thread count give identical runs: two runs of two ranks end with bit-identical
  weights and the same numbers.
- A different world size sums in another order, so one process and two ranks on the same global batch agree
  only up to float rounding: weights within ``rtol=1e-4, atol=1e-6``, epoch losses within ``rel=1e-5`` and
  MPJPE within 1e-3 mm after 6 steps (over a full run such differences grow: about 2 mm of MPJPE were measured
  between one and two processes, see the book's page "Using the library from the command line").

Each rank takes a disjoint slice of the same shuffled global batch (31 samples: uneven slices of 16 and 15), the
GCN's BatchNorms are synchronised (poselift's gloo-capable SyncBatchNorm, since torch's needs CUDA) and each rank's
loss is weighted by its share, so the gradient is the single-process one up to float rounding.

SGD rather than the recipe's Adam: the bias of a layer followed by BatchNorm has a gradient that is zero in exact
arithmetic, i.e. pure rounding noise, which Adam rescales into full-size steps; any change of summation order (two
ranks instead of one) then moves those biases by about lr per step. SGD keeps noise noise-sized.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

from poselift_core.__main__ import main
from poselift_core.checkpoint import read_checkpoint
from poselift_core.data.fixtures import make_fake_h36m

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with the gloo backend is not available")


def args(data_dir, out):
    return ["train", "--recipe", "gcn-vanilla-gt", "--profile", "quick", "--data", "h36m", "--data-dir", str(data_dir),
            "--train-subjects", "S1", "--test-subjects", "S9", "--out", str(out), "--no-progress", "--device", "cpu",
            "--epochs", "2", "--batch-size", "31", "--set", 'model_overrides={"hidden": 16, "num_blocks": 1}',
            "max_steps_per_epoch=3", "flip_aug=true", "optimizer=sgd", "lr=0.05"]


def torchrun(data_dir, out):
    """Train with two gloo ranks of one thread each in fresh interpreters; the run's results.json."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "poselift_core", *args(data_dir, out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


@pytest.mark.slow   # three fresh interpreters importing torch: 20-50 s on two cores
def test_ddp_is_identical_at_one_world_size_and_close_across_world_sizes(tmp_path):
    data_dir = tmp_path / "h36m"
    make_fake_h36m(data_dir, subjects=("S1", "S9"), frames=40)
    assert torch.get_num_threads() == 1            # the same thread count as each rank (conftest)
    assert main(args(data_dir, tmp_path / "single")) == 0
    single = json.loads((tmp_path / "single" / "results.json").read_text())
    ddp, again = torchrun(data_dir, tmp_path / "ddp"), torchrun(data_dir, tmp_path / "again")
    assert (single["world_size"], ddp["world_size"], again["world_size"]) == (1, 2, 2)
    assert ddp["steps"] == again["steps"] == single["steps"] == 6
    w1, w2, w3 = (read_checkpoint(tmp_path / d / "checkpoint.pt")["model"] for d in ("single", "ddp", "again"))
    # same world size, seed and threads: equal, bit for bit
    assert w2.keys() == w3.keys() and all(torch.equal(w2[k], w3[k]) for k in w2)
    assert (again["mpjpe"], again["p_mpjpe"]) == (ddp["mpjpe"], ddp["p_mpjpe"])
    assert [h["loss"] for h in again["history"]] == [h["loss"] for h in ddp["history"]]
    # one process against two: the same up to float rounding, with the tolerances of the module docstring
    assert ddp["mpjpe"] == pytest.approx(single["mpjpe"], abs=1e-3)
    assert [h["loss"] for h in ddp["history"]] == pytest.approx([h["loss"] for h in single["history"]], rel=1e-5)
    assert w1.keys() == w2.keys()
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], rtol=1e-4, atol=1e-6, msg=k)
