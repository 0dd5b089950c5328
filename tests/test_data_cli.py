import runpy
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from poselift_core.data.__main__ import build_parser, main
from poselift_core.data.fixtures import make_fake_h36m, make_fake_humaneva


@pytest.fixture
def fake_pair(tmp_path):
    return make_fake_h36m(tmp_path, subjects=("S1", "S9"), actions=("Walking 1", "Sitting"), frames=7,
                          extra_2d_frames=2, metadata={"layout_name": "h36m", "fps": 50})


def test_module_help_lists_subcommands(monkeypatch, capsys):
    # runs the module as `python -m poselift_core.data --help` would, without paying for a new interpreter
    monkeypatch.setattr(sys, "argv", ["python -m poselift_core.data", "--help"])
    monkeypatch.delitem(sys.modules, "poselift_core.data.__main__", raising=False)  # fresh run, as with -m
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("poselift_core.data", run_name="__main__", alter_sys=False)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("inspect", "convert-mocap", "build-sample"):
        assert command in out


def test_inspect_3d_and_2d(fake_pair, capsys):
    p3, p2 = fake_pair
    assert main(["inspect", str(p3), str(p2)]) == 0
    out = capsys.readouterr().out
    three, two, verdict = out.split("\n\n")
    assert "checks passed: 2 file(s)" in verdict and "1 3D/2D pair(s) load as for training" in verdict
    assert "VideoPose3D 3D file" in three and "S9: 2 actions, 14 frames" in three
    assert "Walking 1" in three and "joints: [32]" in three and "built-in Human3.6M table" in three
    assert "VideoPose3D 2D file" in two and "S1: 2 actions, 18 frames, 4 cameras" in two
    assert "9 x4" in two and "joints: [17]" in two  # 7 mocap frames + 2 trailing detections
    assert "'layout_name': 'h36m'" in two and "'fps': 50" in two


def test_inspect_sample_from_root(fake_pair, tmp_path, capsys):
    p3, p2 = fake_pair
    root = tmp_path / "sample"
    root.mkdir()
    p3.rename(root / "data_3d_sample.npz")
    p2.rename(root / "data_2d_sample_gt.npz")
    assert main(["inspect", "--sample", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "data_3d_sample.npz: VideoPose3D 3D file" in out and "data_2d_sample_gt.npz: VideoPose3D 2D file" in out
    assert main(["inspect", "--root", str(root)]) == 0  # no path means the sample too
    assert "data_2d_sample_gt.npz" in capsys.readouterr().out


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    assert main(["inspect", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "data_3d_sample.npz" in err and "python -m poselift_core.data build-sample" in err
    assert main(["inspect", str(tmp_path / "nope.npz")]) == 2
    assert "nope.npz" in capsys.readouterr().err
    np.savez_compressed(tmp_path / "other.npz", weights=np.zeros(2))
    assert main(["inspect", str(tmp_path / "other.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neither a 3D (positions_3d) nor a 2D (positions_2d) file" in err
    (tmp_path / "junk.npz").write_text("not a zip")
    assert main(["inspect", str(tmp_path / "junk.npz")]) == 2
    assert "not a readable .npz archive" in capsys.readouterr().err


def test_mocap_subcommands_are_wired_lazily(monkeypatch, tmp_path):
    calls = {}
    fake_mocap = types.ModuleType("poselift_core.conversion.mocap")
    fake_mocap.convert_mocap_cli = lambda args: calls.setdefault("convert", args)
    fake_sample = types.ModuleType("poselift_core.conversion.build_sample")
    fake_sample.build_sample_cli = lambda args: calls.setdefault("sample", args)
    monkeypatch.setitem(sys.modules, "poselift_core.conversion.mocap", fake_mocap)
    monkeypatch.setitem(sys.modules, "poselift_core.conversion.build_sample", fake_sample)
    assert main(["convert-mocap", "a.amc", "b.bvh", "--out", str(tmp_path), "--subject", "86",
                 "--camera-subject", "S9", "--fps", "25"]) == 0
    args = calls["convert"]
    assert args.inputs == [Path("a.amc"), Path("b.bvh")] and args.out == tmp_path
    assert (args.subject, args.camera_subject, args.fps) == ("86", "S9", 25.0)
    assert main(["build-sample"]) == 0 and calls["sample"].out == Path("data/sample")
    defaults = build_parser().parse_args(["convert-mocap", "x.bvh", "--out", "o"])
    assert (defaults.subject, defaults.camera_subject, defaults.fps) == (None, "S1", 50.0)
    with pytest.raises(SystemExit):  # --out is required
        build_parser().parse_args(["convert-mocap", "x.bvh"])


# ------------------------------------------------------------------ the checks training makes, and exit status 2
def _rewrite_2d(p2, change):
    """Rewrite the 2D file with ``change(positions_2d)`` applied (metadata kept)."""
    from poselift_core.data import read_positions_2d

    positions, metadata = read_positions_2d(p2)
    change(positions)
    np.savez_compressed(p2, positions_2d=np.array(positions, dtype=object), metadata=np.array(metadata, dtype=object))


def _fails(argv, capsys, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)
    return err


def test_inspect_fails_on_nan_keypoints(fake_pair, capsys):
    p3, p2 = fake_pair

    def poison(pos):
        pos["S9"]["Sitting"][2][4, 3, 0] = np.nan
    _rewrite_2d(p2, poison)
    _fails(["inspect", str(p2)], capsys, str(p2), "'S9'", "'Sitting'", "camera 2", "NaN/inf", "frame 4")


def test_inspect_fails_on_2d_shorter_than_3d(fake_pair, capsys):
    p3, p2 = fake_pair

    def shorten(pos):
        pos["S1"]["Walking 1"][0] = pos["S1"]["Walking 1"][0][:5]      # 7 mocap frames, 5 keypoint frames
    _rewrite_2d(p2, shorten)
    assert main(["inspect", str(p2)]) == 0                        # alone the 2D file is fine
    capsys.readouterr()
    _fails(["inspect", str(p3), str(p2)], capsys, "'Walking 1'", "5 2D frames, fewer than the 7 3D frames")


def test_inspect_fails_on_mixed_joint_counts(fake_pair, capsys):
    _, p2 = fake_pair

    def drop_joint(pos):
        pos["S1"]["Sitting"] = [v[:, :16] for v in pos["S1"]["Sitting"]]
    _rewrite_2d(p2, drop_joint)
    _fails(["inspect", str(p2)], capsys, str(p2), "joint counts differ", "16", "17")


def test_corrupt_member_names_file_and_member(fake_pair, tmp_path, capsys):
    import zipfile

    p3, _ = fake_pair
    with zipfile.ZipFile(p3) as zf:
        info = zf.getinfo("positions_3d.npy")
        offset = info.header_offset + 30 + len(info.filename) + len(info.extra)   # start of the member's data
    raw = bytearray(p3.read_bytes())
    for k in range(offset + 40, offset + 60):                   # flip bytes inside the compressed stream
        raw[k] ^= 0xFF
    bad = tmp_path / "data_3d_bad.npz"
    bad.write_bytes(bytes(raw))
    _fails(["inspect", str(bad)], capsys, str(bad), "member 'positions_3d' is corrupt")


def test_usage_errors_are_one_line_with_status_2(capsys):
    _fails(["convert-mocap", "x.bvh", "--out", "o", "--max-frames", "0"], capsys, "--max-frames", ">= 1")
    _fails(["convert-mocap", "x.bvh", "--out", "o", "--fps", "-5"], capsys, "--fps", "> 0")
    _fails(["frobnicate"], capsys, "invalid choice")


def test_inspect_refuses_a_humaneva_pair_whose_joint_sets_do_not_match(tmp_path, capsys):
    p3, _ = make_fake_humaneva(tmp_path, frames=4)
    _, p2 = make_fake_humaneva(tmp_path, frames=4, keypoints="bad", metadata={"layout_name": "mpii", "num_joints": 15})
    assert main(["inspect", str(p3), str(tmp_path / "data_2d_humaneva15_gt.npz")]) == 0   # the GT pair loads
    capsys.readouterr()
    pos2 = np.load(p2, allow_pickle=True)["positions_2d"].item()
    sixteen = {s: {a: [np.concatenate([v, v[:, :1]], 1) for v in views] for a, views in acts.items()}
               for s, acts in pos2.items()}
    np.savez_compressed(p2, positions_2d=np.array(sixteen, dtype=object),
                        metadata=np.array({"layout_name": "mpii", "num_joints": 16}, dtype=object))
    _fails(["inspect", str(p3), str(p2)], capsys, str(p2), "16-joint 2D keypoints (layout 'mpii')",
           "the 3D has 15 joints (humaneva15); no mapping between them")
