"""Checkpoints: weights-only loading refuses code, RNG states survive as plain data, model files load."""
import os
import pickle
import random

import numpy as np
import pytest
import torch

from poselift_core.checkpoint import (CheckpointError, OutputWriteError, capture_rng, is_resumable, load_model,
                                      read_checkpoint, restore_rng, save_checkpoint)
from poselift_core.data import load_videopose3d
from poselift_core.data.fixtures import make_fake_h36m
from poselift_core.models import build_model
from poselift_core.recipes import get_recipe
from poselift_core.train import RunConfig, Trainer, train


class WritesMarker:
    """Unpickling this calls ``open(marker, "w")``: what a crafted checkpoint could do with ``os.system``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    ds = load_videopose3d(*make_fake_h36m(d, subjects=("S1", "S9"), frames=24, seed=1), joints=16,
                          splits={"train": ["S1"], "test": ["S9"]})
    recipe = get_recipe("gcn-vanilla-gt", "quick", model_overrides={"hidden": 8, "num_blocks": 1}, epochs=1,
                        max_steps_per_epoch=2, batch_size=16, optimizer="ranger")
    out = d / "run"
    train(RunConfig(recipe, out=str(out), progress=False), ds.tensors("train"), ds.tensors("test"))
    return out / "checkpoint.pt", ds, recipe


def test_every_checkpoint_loads_with_plain_weights_only(tiny_run):
    path, _, _ = tiny_run
    ckpt = torch.load(path, weights_only=True)           # what any user can do, no allow-list
    assert is_resumable(ckpt) and isinstance(ckpt["rng"]["python"], list)
    assert ckpt["mean_pose"].shape == (16, 3)


def test_a_file_that_would_run_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        torch.save({"format_version": 1, "model_name": "vanilla", "model_config": {}, "model": {},
                    "payload": WritesMarker(marker)}, f)
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(evil)
    msg = str(info.value)
    assert "\n" not in msg and str(evil) in msg and "refused" in msg and "io.open" in msg
    assert not marker.exists()
    # the same pickle, unpickled without the safeguard, does run it: the test would notice a regression
    with open(evil, "rb") as f:
        torch.load(f, weights_only=False)
    assert marker.exists()


def test_the_cli_refuses_it_with_one_line(tmp_path, capsys):
    from poselift_core.__main__ import main

    marker = tmp_path / "marker"
    torch.save({"format_version": 1, "x": WritesMarker(marker)}, tmp_path / "evil.pt")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "evil.pt"), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused" in err and not marker.exists()


def test_rng_states_round_trip_as_plain_data():
    random.seed(3)
    np.random.seed(4)
    torch.manual_seed(5)
    np.random.standard_normal()          # leaves a cached Gaussian in NumPy's state
    state = capture_rng()
    first = (random.random(), np.random.standard_normal(3), torch.rand(3))
    restore_rng(state)
    again = (random.random(), np.random.standard_normal(3), torch.rand(3))
    assert first[0] == again[0] and np.array_equal(first[1], again[1]) and torch.equal(first[2], again[2])
    assert torch.is_tensor(state["numpy"][1]) and isinstance(state["python"][1], list)


def test_save_refuses_non_plain_values(tmp_path):
    with pytest.raises(TypeError, match=r"checkpoint\['rng'\]\['numpy'\] \(numpy.ndarray\)"):
        save_checkpoint({"format_version": 1, "rng": {"numpy": np.zeros(3)}}, tmp_path / "c.pt")
    assert not list(tmp_path.iterdir())


def test_weights_only_model_files_load_in_float32_and_cannot_be_resumed(tiny_run, tmp_path):
    path, ds, recipe = tiny_run
    ckpt = read_checkpoint(path)
    model_file = tmp_path / "model.pt"
    torch.save({"format_version": 1, "model_name": ckpt["model_name"], "model_config": ckpt["model_config"],
                "model": {k: v.half() if v.is_floating_point() else v for k, v in ckpt["model"].items()},
                "recipe": ckpt["recipe"], "run_config": ckpt["run_config"], "provenance": {"by": "test"}},
               model_file)
    loaded = read_checkpoint(model_file)
    assert not is_resumable(loaded) and loaded["provenance"] == {"by": "test"}
    model = load_model(model_file)
    for k, v in model.state_dict().items():
        if v.is_floating_point():
            assert v.dtype == torch.float32
            torch.testing.assert_close(v, ckpt["model"][k].half().float())
    out = tmp_path / "resume"
    out.mkdir()
    os.replace(model_file, out / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="weights-only model file.*not resumed"):
        Trainer(RunConfig(recipe, out=str(out), resume=True, progress=False), ds.tensors("train"), ds.tensors("test"))


def test_malformed_model_files_name_the_problem(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"format_version": 1, "model_name": "vanilla", "model_config": {}, "model": [1, 2]}, path)
    with pytest.raises(CheckpointError, match="'model' should be a state dict"):
        read_checkpoint(path)
    model = build_model("vanilla", hidden=8, num_blocks=1)
    torch.save({"format_version": 1, "model_name": "vanilla", "model_config": {"hidden": 8, "num_blocks": 1},
                "model": {k: v[..., :1] if v.ndim else v for k, v in model.state_dict().items()}}, path)
    with pytest.raises(CheckpointError, match="weights do not fit model 'vanilla'"):
        load_model(path)
    with pytest.raises(CheckpointError, match="is a folder"):
        read_checkpoint(tmp_path)
    path.write_bytes(pickle.dumps({"format_version": 1})[:5])
    with pytest.raises(CheckpointError, match="could not be read"):
        read_checkpoint(path)


def test_full_disk_leaves_the_old_checkpoint_and_names_the_file(tmp_path, monkeypatch):
    import errno

    import poselift_core.checkpoint as ckpt_mod

    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"format_version": 1, "model": {"w": torch.ones(2)}}, path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_mod.os, "fsync", full)
    with pytest.raises(OutputWriteError) as info:
        save_checkpoint({"format_version": 1, "model": {"w": torch.zeros(2)}}, path)
    assert str(path) in str(info.value) and "no space left" in str(info.value)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
