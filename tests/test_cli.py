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
    err = run_error(args, capsys)                       # other settings than the checkpoint's: named, refused
    assert "other settings" in err and "epochs: 1 -> 2" in err and "lr: 0.001 -> 1e+30" in err
    err = run_error(args[:1] + ["--allow-changes"] + args[1:], capsys)
    assert "non-finite" in err and "checkpoint.pt was kept" in err
    assert hashlib.sha256((tmp_path / "checkpoint.pt").read_bytes()).hexdigest() == before


def test_module_entry_point_lists_recipes_and_reports_errors_without_traceback():
    ok = subprocess.run([sys.executable, "-m", "poselift_core", "list-recipes"], capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0 and all(name in ok.stdout for name in list_recipes())
    bad = subprocess.run([sys.executable, "-m", "poselift_core", "train", "--recipe", "gcn-nope", "--data", "sample",
                          "--out", "unused"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "unknown recipe 'gcn-nope'" in bad.stderr and "Traceback" not in bad.stderr


# ---------------------------------------------------------------------------------- nothing overwritten, resume
def test_results_are_never_replaced_silently(trained, h36m_dir, capsys, tmp_path):
    ev_args = ["evaluate", "--checkpoint", str(trained / "checkpoint.pt"), "--data", "h36m", "--data-dir",
               str(h36m_dir), "--test-subjects", "S9"]
    before = (trained / "results.json").read_text()
    err = run_error(ev_args + ["--out", str(trained)], capsys)         # the training folder: its results
    assert str(trained / "checkpoint.pt") in err and "--overwrite" in err
    assert (trained / "results.json").read_text() == before
    out = tmp_path / "eval"
    assert main(ev_args + ["--out", str(out)]) == 0
    first = (out / "results.json").read_bytes()
    err = run_error(ev_args + ["--out", str(out)], capsys)
    assert str(out / "results.json") in err
    assert main(ev_args + ["--out", str(out), "--overwrite"]) == 0 and (out / "results.json").exists()
    assert json.loads(first)["mpjpe"] == json.loads((out / "results.json").read_text())["mpjpe"]


def test_resume_refuses_changes_unless_allowed_and_records_them(h36m_dir, capsys, tmp_path):
    assert main(train_args(h36m_dir, tmp_path)) == 0
    args = train_args(h36m_dir, tmp_path, "--resume", sets=["lr=2e-3"])
    args[args.index("--epochs") + 1] = "2"
    err = run_error(args, capsys)
    assert "epochs: 1 -> 2" in err and "lr: 0.001 -> 0.002" in err and "--allow-changes" in err
    assert main(args[:1] + ["--allow-changes"] + args[1:]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["epochs"] == 2 and res["recipe_config"]["lr"] == 2e-3
    change = res["resumes"][-1]
    assert change["epoch"] == 1 and change["changes"]["epochs"] == {"checkpoint": 1, "now": 2}
    assert change["changes"]["lr"] == {"checkpoint": 1e-3, "now": 2e-3}
    # resuming the finished run with its own (new) settings needs no opt-in, and keeps the record
    assert main(args) == 0
    assert json.loads((tmp_path / "results.json").read_text())["resumes"][0] == change


def test_resume_without_a_checkpoint_says_why(h36m_dir, capsys, tmp_path):
    err = run_error(train_args(h36m_dir, tmp_path / "absent", "--resume"), capsys)
    assert "nothing to resume" in err and "does not exist" in err
    (tmp_path / "killed").mkdir()
    (tmp_path / "killed" / "train.log").write_text("training ...\n")
    err = run_error(train_args(h36m_dir, tmp_path / "killed", "--resume"), capsys)
    assert "stopped before its first checkpoint" in err and "without resume" in err
    assert main(train_args(h36m_dir, tmp_path / "killed")) == 0     # a log alone does not block a new run
    assert "checkpoint.pt" in (tmp_path / "killed" / "train.log").read_text()


# ---------------------------------------------------------------------------------- one error contract
@pytest.mark.parametrize("case", [
    (["--device", "cuda"], "no CUDA GPU"), (["--device", "gpu"], "no CUDA GPU"), (["--device", "tpu9"], "device"),
    (["--checkpoint-every", "-3"], "--checkpoint-every"), (["--batch-size", "0"], "--batch-size"),
    (["--epochs", "0"], "--epochs"), (["--threads", "0"], "--threads"),
    (["--keypoints", "cpnn_ft"], "--keypoints 'cpnn_ft': no file data_2d_h36m_cpnn_ft.npz"),
    (["--allow-changes"], "--allow-changes only applies with --resume"),
    (["--resume", "--overwrite"], "--overwrite has no effect with --resume"),
], ids=lambda c: c[0][0] + (c[0][1] if len(c[0]) > 1 else ""))
def test_bad_train_flags(case, h36m_dir, capsys, tmp_path):
    extra, needle = case
    if "cuda" in needle.lower() and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    err = run_error(train_args(h36m_dir, tmp_path / "o", *extra), capsys)
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "checkpoint.pt").exists()


def test_bad_settings_for_the_data(h36m_dir, capsys, tmp_path):
    sample = ["train", "--recipe", "gcn-vanilla-gt", "--profile", "quick", "--data", "sample", "--out",
              str(tmp_path / "o")]
    err = run_error(sample + ["--keypoints", "cpn_ft_h36m_dbb"], capsys)   # no silent fall-back to GT 2D
    assert "--keypoints 'cpn_ft_h36m_dbb' is not available for data 'sample'" in err
    err = run_error(sample + ["--set", 'actions=["Walking"]'], capsys)
    assert "actions" in err and "ignore" in err
    err = run_error(train_args(h36m_dir, tmp_path / "o", sets=['actions=["Jumping"]']), capsys)
    assert "unknown action(s) ['Jumping']" in err
    args = train_args(h36m_dir, tmp_path / "o")
    args[args.index("--test-subjects") + 1] = "S1"
    err = run_error(args, capsys)
    assert "train and test subjects overlap (S1)" in err
    err = run_error(train_args(h36m_dir, tmp_path / "o", sets=["batch_size=0"]), capsys)
    assert "batch_size" in err
    assert not (tmp_path / "o").exists()


def test_bad_evaluate_flags_and_files(trained, h36m_dir, capsys, tmp_path):
    base = ["evaluate", "--data", "h36m", "--data-dir", str(h36m_dir), "--out", str(tmp_path / "e")]
    err = run_error(base + ["--checkpoint", str(trained / "checkpoint.pt"), "--max-frames", "0"], capsys)
    assert "--max-frames" in err and ">= 1" in err
    err = run_error(base + ["--checkpoint", str(trained)], capsys)       # a folder
    assert "is a folder" in err and "did you mean" in err
    err = run_error(base + ["--checkpoint", str(trained / "checkpoint.pt"), "--pretrained", "x"], capsys)
    assert "not allowed with" in err
    assert not (tmp_path / "e").exists()


def test_corrupt_data_member_is_named(h36m_dir, capsys, tmp_path):
    import shutil
    import zipfile

    bad = tmp_path / "h36m"
    shutil.copytree(h36m_dir, bad)
    p3 = bad / "data_3d_h36m.npz"
    with zipfile.ZipFile(p3) as zf:
        info = zf.getinfo("positions_3d.npy")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw = bytearray(p3.read_bytes())
    for k in range(start + 50, start + 80):
        raw[k] ^= 0x5A
    p3.write_bytes(bytes(raw))
    err = run_error(train_args(bad, tmp_path / "o"), capsys)
    assert str(p3) in err and "member 'positions_3d' is corrupt" in err


def test_full_disk_names_the_file(h36m_dir, capsys, tmp_path, monkeypatch):
    import errno

    import poselift_core.checkpoint as ckpt_mod

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_mod.os, "fsync", no_space)
    err = run_error(train_args(h36m_dir, tmp_path), capsys)
    assert "no space left on the device" in err and str(tmp_path / "checkpoint.pt") in err
    assert not list(tmp_path.glob(".checkpoint.pt.*"))             # the temporary file was removed


def test_set_model_overrides_merges_into_the_recipe():
    from poselift_core.__main__ import _recipe_from_args, build_parser

    args = build_parser().parse_args(["train", "--recipe", "glagcn-h36m-gt-27", "--data", "sample", "--out", "x",
                                      "--set", 'model_overrides={"channels": 8}'])
    recipe, _ = _recipe_from_args(args)
    assert recipe.model_overrides == {"receptive_field": 27, "channels": 8}


def test_help_has_examples_and_defaults(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "(default: 0)" in out and "--allow-changes" in out
    assert main(["evaluate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--save-predictions" in out and "--pretrained" in out and "(default: auto)" in out


def test_cli_sets_passive_openmp_before_torch():
    code = ("import os, sys; os.environ.pop('OMP_WAIT_POLICY', None); import poselift_core.__main__; "
            "print(os.environ['OMP_WAIT_POLICY'], 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["PASSIVE", "False"], out.stderr


# ---------------------------------------------------------------------------------- evaluate others can recompute
def test_evaluate_writes_predictions_that_reproduce_the_numbers(trained, h36m_dir, tmp_path, capsys):
    import numpy as np

    from poselift_core.data import canonical_action, load_h36m
    from poselift_core.metrics import p_mpjpe

    out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(trained / "checkpoint.pt"), "--data", "h36m", "--data-dir",
                 str(h36m_dir), "--out", str(out), "--save-predictions"]) == 0
    printed = capsys.readouterr().out
    assert "scoring" in printed and "per-action averages, as the papers print" in printed
    res = json.loads((out / "results.json").read_text())
    npz = np.load(out / "predictions.npz")                       # no pickled objects
    pred, target = npz["pred"], npz["target"]
    assert pred.dtype == target.dtype == np.float32 and pred.shape == target.shape == (res["frames"], 16, 3)
    assert npz["subject"].shape == npz["action"].shape == npz["camera"].shape == (res["frames"],)
    assert np.abs(target[:, 0]).max() == 0 and np.abs(pred[:, 0]).max() == 0       # root-relative
    err = np.linalg.norm(pred.astype(np.float64) - target, axis=-1).mean(-1)         # (N,) mm
    assert res["mpjpe_frames"] == pytest.approx(err.mean(), rel=1e-5)
    actions = np.array([canonical_action(a) for a in npz["action"]])
    assert res["mpjpe"] == pytest.approx(np.mean([err[actions == a].mean() for a in set(actions)]), rel=1e-5)
    e2 = 1000 * p_mpjpe(torch.from_numpy(pred) / 1000, torch.from_numpy(target) / 1000, reduction="none").numpy()
    assert res["p_mpjpe_frames"] == pytest.approx(e2.mean(), rel=1e-4)
    for s, row in res["per_subject"].items():
        mask = npz["subject"] == s
        assert row["frames"] == mask.sum() and row["mpjpe_frames"] == pytest.approx(err[mask].mean(), rel=1e-5)
    # the mean-pose baseline: the mean of the training split (S1) scored on the same frames
    train = load_h36m(h36m_dir, joints=16).tensors(["S1"])
    mean = 1000 * train.y3d.double().mean(0).numpy()
    base = np.linalg.norm(mean[None] - target, axis=-1).mean(-1)
    assert res["mean_pose_mpjpe_frames"] == pytest.approx(base.mean(), rel=1e-5)
    assert "stored in the checkpoint" in res["mean_pose_source"]
    # the same frames and numbers as the end of training
    trained_res = json.loads((trained / "results.json").read_text())
    assert res["frames"] == trained_res["frames"] and res["mpjpe"] == pytest.approx(trained_res["mpjpe"], rel=1e-6)
    assert trained_res["mpjpe_frames"] == pytest.approx(res["mpjpe_frames"], rel=1e-6)
    assert trained_res["mean_pose_mpjpe"] == pytest.approx(res["mean_pose_mpjpe"], rel=1e-6)


def test_pretrained_name_resolves_a_weights_only_file(trained, h36m_dir, tmp_path, monkeypatch):
    import types

    ckpt = read_checkpoint(trained / "checkpoint.pt")
    model_file = tmp_path / "published.pt"
    torch.save({"format_version": ckpt["format_version"], "model_name": ckpt["model_name"],
                "model_config": ckpt["model_config"], "model": {k: v.half() for k, v in ckpt["model"].items()},
                "recipe": ckpt["recipe"], "run_config": ckpt["run_config"], "provenance": {"source": "test"}},
               model_file)
    fake = types.ModuleType("poselift_core.pretrained")
    fake.checkpoint_path = lambda name: model_file if name == "vanilla-test" else (_ for _ in ()).throw(
        ValueError(f"unknown pretrained model {name!r}"))
    monkeypatch.setitem(sys.modules, "poselift_core.pretrained", fake)
    out = tmp_path / "eval"
    assert main(["evaluate", "--pretrained", "vanilla-test", "--data", "h36m", "--data-dir", str(h36m_dir),
                 "--out", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    trained_res = json.loads((trained / "results.json").read_text())
    assert res["pretrained"] == "vanilla-test" and res["provenance"] == {"source": "test"}
    assert res["mpjpe"] == pytest.approx(trained_res["mpjpe"], rel=2e-3)          # float16 weights
    assert "train split of 'h36m'" in res["mean_pose_source"]                   # no mean pose in the file
    assert res["mean_pose_mpjpe"] == pytest.approx(trained_res["mean_pose_mpjpe"], rel=1e-5)
