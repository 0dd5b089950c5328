"""The bundled sample: its locator and loader (poselift_core.data.sample) and the committed data/sample/ files
(built by poselift_core.conversion.build_sample, whose tests are in test_build_sample.py)."""
from pathlib import Path

import numpy as np
import pytest

from poselift_core.camera import Camera, project_to_image, world_to_camera
from poselift_core.conversion.build_sample import SAMPLE_CLIPS
from poselift_core.data import sample as sample_module
from poselift_core.data.fixtures import make_fake_h36m
from poselift_core.data.sample import load_sample, sample_splits
from poselift_core.skeleton import H36M_17

from test_videopose3d import ref_pixels  # the Human3.6M projection written out step by step

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
P3, P2 = SAMPLE / "data_3d_sample.npz", SAMPLE / "data_2d_sample_gt.npz"
needs_sample = pytest.mark.skipif(not P3.is_file(), reason=f"{P3} missing: run python -m poselift_core.data build-sample")


def _load():
    with np.load(P3, allow_pickle=True) as z3, np.load(P2, allow_pickle=True) as z2:
        return z3["positions_3d"].item(), z3["cameras"].item(), z2["positions_2d"].item(), z2["metadata"].item()


@pytest.fixture(scope="module")
def sample():
    return _load()


def _bone(X, a, b):
    return np.linalg.norm(X[:, H36M_17.index(a)] - X[:, H36M_17.index(b)], axis=-1)


@needs_sample
def test_sample_layout_and_splits(sample):
    pos3, cams, pos2, meta = sample
    assert meta["num_joints"] == 17 and meta["layout_name"] == "h36m" and meta["fps"] == 50
    assert meta["keypoints_symmetry"] == [list(H36M_17.left), list(H36M_17.right)]
    train, test = meta["splits"]["train"], meta["splits"]["test"]
    assert train and test and not set(train) & set(test) and set(train) | set(test) == set(pos3)
    # clips are disjoint between the splits: no source file appears on both sides
    sources = {s: {meta["clips"][f"{s}/{a}"] for a in pos3[s]} for s in pos3}
    assert not set().union(*(sources[s] for s in train)) & set().union(*(sources[s] for s in test))
    frames = {split: sum(len(x) for s in subjects for x in pos3[s].values())
              for split, subjects in meta["splits"].items()}
    assert frames["train"] > 2000 and frames["test"] > 400
    for s, acts in pos3.items():
        assert len(cams[s]) == 4 and set(pos2[s]) == set(acts)
        for a, X in acts.items():
            assert X.dtype == np.float32 and X.ndim == 3 and X.shape[1:] == (17, 3) and len(X) > 30
            assert np.isfinite(X).all()
            assert len(pos2[s][a]) == 4
            for v in pos2[s][a]:
                assert v.dtype == np.float32 and v.shape == (len(X), 17, 2) and np.isfinite(v).all()


@needs_sample
def test_sample_bones_are_human_symmetric_and_rigid(sample):
    pos3 = sample[0]
    limbs = [("RHip", "RKnee", "LHip", "LKnee", 0.3, 0.55), ("RKnee", "RFoot", "LKnee", "LFoot", 0.3, 0.55),
             ("RShoulder", "RElbow", "LShoulder", "LElbow", 0.2, 0.4),
             ("RElbow", "RWrist", "LElbow", "LWrist", 0.15, 0.35)]
    for s, acts in pos3.items():
        for a, X in acts.items():
            for ra, rb, la, lb, lo, hi in limbs:
                r, l = _bone(X, ra, rb), _bone(X, la, lb)
                assert lo < r.mean() < hi and lo < l.mean() < hi, (s, a, ra, r.mean(), l.mean())
                assert abs(r.mean() - l.mean()) < 0.02, (s, a, ra, r.mean(), l.mean())  # CMU 01: 16 mm
                assert r.std() < 1e-3 and l.std() < 1e-3, (s, a, ra)
            assert 0.12 < _bone(X, "LHip", "RHip").mean() < 0.35
    # the world is Z-up: the head is above the pelvis in upright motions (cartwheels, rolls and getting up
    # from the floor turn it over part of the time)
    up = {a: X[:, H36M_17.index("Head"), 2] > X[:, 0, 2] for acts in pos3.values() for a, X in acts.items()}
    for a in ("Playground", "Walk", "Run", "Jump", "Kick", "Punch", "SpinKick", "Dance 1", "Dance 2"):
        assert up[a].mean() > 0.99, (a, up[a].mean())
    assert np.concatenate(list(up.values())).mean() > 0.9


@needs_sample
def test_sample_2d_is_the_projection_of_3d(sample):
    pos3, cams, pos2, _ = sample
    for s, acts in pos3.items():
        X = np.concatenate([acts[a] for a in acts]).astype(np.float64)  # one projection per camera
        for c, d in enumerate(cams[s]):
            cam = Camera.from_dict(d)
            X_cam = world_to_camera(X, cam)
            assert X_cam[..., 2].min() > 2.0
            uv = np.concatenate([pos2[s][a][c] for a in acts])
            np.testing.assert_allclose(uv, project_to_image(X_cam, cam), atol=0.01)


@needs_sample
def test_sample_through_the_dataset_loader():
    ds = load_sample()
    assert set(ds.subjects()) == set(SAMPLE_CLIPS)
    assert ds.actions("Test") == list(SAMPLE_CLIPS["Test"])
    t = ds.tensors("test")
    assert t.num_frames == 4 * sum(len(ds.sequence("Test", a, 0).world) for a in ds.actions("Test"))
    assert float(t.x2d.abs().max()) < 1.1  # every joint stays (nearly) inside every image


# ---------------------------------------------------------------- the locator
def test_missing_sample_names_path_and_rebuild_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_3d_sample.npz.*python -m poselift_core.data build-sample"):
        load_sample(tmp_path)


def test_sample_splits_from_metadata(tmp_path, monkeypatch):
    root = tmp_path / "data" / "sample"
    p3, p2 = make_fake_h36m(tmp_path / "tmp", subjects=("S1", "S9"), actions=("Walking",), frames=4,
                            metadata={"splits": {"train": ["S1"], "test": ["S9"]}, "fps": 50})
    root.mkdir(parents=True)
    p3.rename(root / "data_3d_sample.npz")
    p2.rename(root / "data_2d_sample_gt.npz")
    ds = load_sample(root)
    assert ds.splits == {"train": ["S1"], "test": ["S9"]} and sample_splits(root)["test"] == ["S9"]
    assert ds.tensors("test").subjects == ["S9"] * 4
    monkeypatch.setattr(sample_module, "_REPO_ROOT", tmp_path)
    from poselift_core.data import SAMPLE_TEST_SUBJECTS, SAMPLE_TRAIN_SUBJECTS
    assert SAMPLE_TRAIN_SUBJECTS == ("S1",) and SAMPLE_TEST_SUBJECTS == ("S9",)


@needs_sample
def test_bundled_sample_is_consistent():
    ds = load_sample()
    splits = sample_splits()
    assert set(splits["train"] + splits["test"]) == set(ds.subjects())
    for s in ds.subjects():
        for a in ds.actions(s)[:2]:
            for c, cam in enumerate(ds.cameras(s)):
                seq = ds.sequence(s, a, c)
                assert (seq.camera_abs[..., 2] > 0).all()
                assert np.abs(ref_pixels(seq.camera_abs.astype(np.float64), cam) - seq.pixels).max() < 0.01
