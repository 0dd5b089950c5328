"""``python -m poselift_core``: train / evaluate round trip and clear, non-zero exits for bad input."""
import hashlib
import json
import subprocess
import sys

import pytest
import torch

from poselift_core.__main__ import main
from poselift_core.checkpoint import read_checkpoint
from poselift_core.data.fixtures import make_fake_h36m
from poselift_core.recipes import list_recipes

TINY = ['model_overrides={"hidden": 16, "num_blocks": 1}', "max_steps_per_epoch=4"]


@pytest.fixture(scope="module")
def h36m_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("h36m")
    make_fake_h36m(d, subjects=("S1", "S9"), frames=40)
    return d


def train_args(h36m_dir, out, *extra, recipe="gcn-vanilla-gt", sets=()):
    return ["train", "--recipe", recipe, "--profile", "quick", "--data", "h36m", "--data-dir", str(h36m_dir),
            "--train-subjects", "S1", "--test-subjects", "S9", "--out", str(out), "--no-progress", "--epochs", "1",
            *extra, "--set", *TINY, *sets]


def run_error(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def trained(h36m_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(train_args(h36m_dir, out)) == 0
    return out


def test_train_then_evaluate_from_the_checkpoint_alone(trained, h36m_dir, tmp_path):
    results = json.loads((trained / "results.json").read_text())
    assert results["recipe"] == "gcn-vanilla-gt" and results["data"]["test_subjects"] == ["S9"]
    ev_out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(trained / "checkpoint.pt"), "--data", "h36m", "--data-dir",
                 str(h36m_dir), "--test-subjects", "S9", "--out", str(ev_out)]) == 0
    ev = json.loads((ev_out / "results.json").read_text())
    for key in ("mpjpe", "p_mpjpe", "per_action", "per_subject", "model", "parameters"):
        assert key in ev
    # same weights, same data: the numbers of the training run's last evaluation
    assert ev["mpjpe"] == pytest.approx(results["mpjpe"], rel=1e-6)
    assert ev["per_action"]["mpjpe"] == pytest.approx(results["per_action"]["mpjpe"], rel=1e-6)
    assert "| P-MPJPE (P2) |" in (ev_out / "results.md").read_text()


def test_unknown_recipe_and_data_fail_cleanly(capsys, tmp_path):
    err = run_error(["train", "--recipe", "gcn-foo", "--data", "sample", "--out", str(tmp_path)], capsys)
    assert "unknown recipe 'gcn-foo'" in err and "gcn-vanilla-gt" in err
    err = run_error(["train", "--recipe", "gcn-vanilla-gt", "--data", "mnist", "--out", str(tmp_path)], capsys)
    assert "unknown data 'mnist'" in err
    err = run_error(["train", "--recipe", "gcn-vanilla-gt", "--data", "sample", "--out", str(tmp_path),
                     "--set", "learning_rate=1"], capsys)
    assert "learning_rate" in err


def test_data_dir_without_the_expected_files(capsys, tmp_path):
    err = run_error(["train", "--recipe", "gcn-vanilla-gt", "--data", "h36m", "--data-dir", str(tmp_path),
                     "--out", str(tmp_path / "out")], capsys)
    assert "data_3d_h36m.npz" in err
    err = run_error(["train", "--recipe", "gcn-vanilla-gt", "--data", "cmu", "--data-dir", str(tmp_path),
                     "--out", str(tmp_path / "out")], capsys)
    assert "no .amc or .bvh" in err


def test_checkpoints_of_another_model_or_format_are_refused(trained, h36m_dir, capsys, tmp_path):
    ckpt = read_checkpoint(trained / "checkpoint.pt")
    before = hashlib.sha256((trained / "checkpoint.pt").read_bytes()).hexdigest()
    err = run_error(train_args(h36m_dir, trained, "--resume", recipe="gcn-modulated-gt"), capsys)
    assert "holds model 'vanilla'" in err
    err = run_error(train_args(h36m_dir, trained), capsys)          # no --resume: never overwrite
    assert "--resume" in err
    assert hashlib.sha256((trained / "checkpoint.pt").read_bytes()).hexdigest() == before
    future = tmp_path / "future.pt"
    torch.save({**ckpt, "format_version": 99}, future)
    err = run_error(["evaluate", "--checkpoint", str(future), "--out", str(tmp_path / "e")], capsys)
    assert "format version 99" in err
    torch.save({"weights": 1}, tmp_path / "other.pt")
    err = run_error(["evaluate", "--checkpoint", str(tmp_path / "other.pt"), "--out", str(tmp_path / "e")], capsys)
    assert "not a poselift checkpoint" in err
    err = run_error(["evaluate", "--checkpoint", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "e")], capsys)
    assert "missing.pt does not exist" in err


def test_diverging_loss_exits_and_keeps_the_good_checkpoint(h36m_dir, capsys, tmp_path):
    assert main(train_args(h36m_dir, tmp_path)) == 0
    before = hashlib.sha256((tmp_path / "checkpoint.pt").read_bytes()).hexdigest()
    args = train_args(h36m_dir, tmp_path, "--resume", sets=["lr=1e30"])
    args[args.index("--epochs") + 1] = "2"
    err = run_error(args, capsys)
    assert "non-finite" in err and "checkpoint.pt was kept" in err
    assert hashlib.sha256((tmp_path / "checkpoint.pt").read_bytes()).hexdigest() == before


def test_module_entry_point_lists_recipes_and_reports_errors_without_traceback():
    ok = subprocess.run([sys.executable, "-m", "poselift_core", "list-recipes"], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and all(name in ok.stdout for name in list_recipes())
    bad = subprocess.run([sys.executable, "-m", "poselift_core", "train", "--recipe", "gcn-nope", "--data", "sample",
                          "--out", "unused"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown recipe 'gcn-nope'" in bad.stderr and "Traceback" not in bad.stderr
