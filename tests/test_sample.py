"""The committed sample in data/sample/ (built by poselift_core.data.sample) and the DeepMimic reader."""
import os
from pathlib import Path

import numpy as np
import pytest

from poselift_core.camera import Camera, project_to_image, world_to_camera
from poselift_core.data.mocap import to_h36m17
from poselift_core.data.sample import SAMPLE_CLIPS, read_deepmimic
from poselift_core.skeleton import H36M_17

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
P3, P2 = SAMPLE / "data_3d_sample.npz", SAMPLE / "data_2d_sample_gt.npz"
pytestmark = pytest.mark.skipif(not P3.is_file(), reason=f"{P3} missing: run python -m poselift_core.data build-sample")


def _load():
    with np.load(P3, allow_pickle=True) as z3, np.load(P2, allow_pickle=True) as z2:
        return z3["positions_3d"].item(), z3["cameras"].item(), z2["positions_2d"].item(), z2["metadata"].item()


@pytest.fixture(scope="module")
def sample():
    return _load()


def _bone(X, a, b):
    return np.linalg.norm(X[:, H36M_17.index(a)] - X[:, H36M_17.index(b)], axis=-1)


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


def test_sample_through_the_dataset_loader():
    from poselift_core.data import load_sample

    ds = load_sample()
    assert set(ds.subjects()) == set(SAMPLE_CLIPS)
    assert ds.actions("Test") == list(SAMPLE_CLIPS["Test"])
    t = ds.tensors("test")
    assert t.num_frames == 4 * sum(len(ds.sequence("Test", a, 0).world) for a in ds.actions("Test"))
    assert float(t.x2d.abs().max()) < 1.1  # every joint stays (nearly) inside every image


# ---------------------------------------------------------------- DeepMimic reader on a hand-written humanoid
def _urdf() -> str:
    """A humanoid with DeepMimic's joint names and round offsets (before the 0.25 scale)."""
    joints = [("root", "base", "root", "fixed", "0 0 0"), ("chest", "root", "chest", "spherical", "0 4 0"),
              ("neck", "chest", "neck", "spherical", "0 4 0")]
    for side, z in (("right", 1), ("left", -1)):
        joints += [(f"{side}_hip", "root", f"{side}_hip", "spherical", f"0 0 {z}"),
                   (f"{side}_knee", f"{side}_hip", f"{side}_knee", "revolute", "0 -2 0"),
                   (f"{side}_ankle", f"{side}_knee", f"{side}_ankle", "spherical", "0 -2 0"),
                   (f"{side}_shoulder", "chest", f"{side}_shoulder", "spherical", f"0 4 {2 * z}"),
                   (f"{side}_elbow", f"{side}_shoulder", f"{side}_elbow", "revolute", "0 -1 0"),
                   (f"{side}_wrist", f"{side}_elbow", f"{side}_wrist", "fixed", "0 -1 0")]
    links = "".join(f'<link name="{c}"/>' for _, _, c, _, _ in joints if c != "neck")
    links += ('<link name="neck"><collision><origin xyz="0 1 0"/><geometry><sphere radius="1"/></geometry>'
              '</collision></link><link name="base"/>')
    body = "".join(f'<joint name="{n}" type="{t}"><parent link="{p}"/><child link="{c}"/><origin xyz="{o}"/>'
                   + ('<axis xyz="0 0 1"/>' if t == "revolute" else "") + "</joint>"
                   for n, p, c, t, o in joints)
    return f'<robot name="h">{links}{body}</robot>\x00'


def test_deepmimic_reader_hand_computed_pose():
    import json

    ident = [1, 0, 0, 0]
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)  # quaternion of 90 deg about z: (cos 45, 0, 0, sin 45)
    rot_z90 = [c, 0, 0, s]
    # frame layout: duration, root pos, root quat, chest, neck, r hip, r knee, r ankle, r shoulder, r elbow,
    # l hip, l knee, l ankle, l shoulder, l elbow
    f0 = [0.1, 0, 2, 0, *ident, *ident, *ident, *ident, 0.0, *ident, *ident, 0.0, *ident, 0.0, *ident, *ident, 0.0]
    f1 = [0.0, 1, 2, 0, *ident, *ident, *ident, *ident, -np.pi / 2, *ident, *rot_z90, np.pi / 2,
          *ident, 0.0, *ident, *ident, 0.0]
    clip = read_deepmimic(json.dumps({"Loop": "none", "Frames": [f0, f1]}), _urdf(), fps=20.0)
    assert clip.num_frames == 3  # 0.1 s at 20 Hz, both ends
    P = clip.positions()
    at = lambda f, n: P[f, clip.names.index(n)]  # noqa: E731
    # offsets are scaled by 0.25 (DeepMimic's globalScaling); rest pose = cumulative offsets
    np.testing.assert_allclose(at(0, "right_hip"), [0, 2, 0.25], atol=1e-12)
    np.testing.assert_allclose(at(0, "right_knee"), [0, 1.5, 0.25], atol=1e-12)
    np.testing.assert_allclose(at(0, "right_ankle"), [0, 1, 0.25], atol=1e-12)
    np.testing.assert_allclose(at(0, "head_end"), [0, 4.5, 0], atol=1e-12)  # neck (0, 4, 0) + sphere top 0.5
    # knee -90 deg about z bends the shin backwards (-x); the right shoulder's 90 deg about z lifts the arm
    # forward-up from -y to +x, and the elbow's +90 deg turns the forearm from +x to +y
    np.testing.assert_allclose(at(2, "right_ankle") - at(2, "right_knee"), [-0.5, 0, 0], atol=1e-12)
    np.testing.assert_allclose(at(2, "right_elbow") - at(2, "right_shoulder"), [0.25, 0, 0], atol=1e-12)
    np.testing.assert_allclose(at(2, "right_wrist") - at(2, "right_elbow"), [0, 0.25, 0], atol=1e-12)
    # the middle frame is the slerp halfway: the knee at -45 deg
    shin = at(1, "right_ankle") - at(1, "right_knee")
    np.testing.assert_allclose(shin, 0.5 * np.array([-np.sin(np.pi / 4), -np.cos(np.pi / 4), 0]), atol=1e-12)
    np.testing.assert_allclose(at(1, "root"), [0.5, 2, 0], atol=1e-12)
    X = to_h36m17(P, clip.names, clip.parents)
    np.testing.assert_allclose(X[:, H36M_17.index("RHip")], P[:, clip.names.index("right_hip")])
    np.testing.assert_allclose(X[:, H36M_17.index("Thorax")], P[:, clip.names.index("neck")])


@pytest.mark.skipif(not os.environ.get("POSELIFT_SAMPLE_CACHE"),
                    reason="set POSELIFT_SAMPLE_CACHE to a folder holding (or allowed to download) the source "
                           "packages to check that build-sample reproduces the committed arrays")
def test_rebuild_reproduces_the_committed_arrays(tmp_path, sample):
    from poselift_core.data.sample import build_sample

    p3, p2 = build_sample(tmp_path, os.environ["POSELIFT_SAMPLE_CACHE"])
    with np.load(p3, allow_pickle=True) as z3, np.load(p2, allow_pickle=True) as z2:
        pos3, pos2 = z3["positions_3d"].item(), z2["positions_2d"].item()
    for s, acts in sample[0].items():
        for a, X in acts.items():
            np.testing.assert_array_equal(pos3[s][a], X)
            for c in range(4):
                np.testing.assert_array_equal(pos2[s][a][c], sample[2][s][a][c])
