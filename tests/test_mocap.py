"""Conversion of motion capture to the Human3.6M-17 world (poselift_core.conversion.mocap): joint mapping,
axes, resampling and the written VideoPose3D files.

The real CMU files in ../shared/data/cmu (skipped when absent) check units, the joint mapping and left/right on
real motion; the readers are tested in test_mocap_files.py and forward kinematics in test_kinematics.py.
"""
from pathlib import Path

import numpy as np
import pytest

from poselift_core.camera import project_to_image, world_to_camera
from poselift_core.conversion.mocap import convert_mocap, resample, resample_times, to_h36m17, yup_to_zup
from poselift_core.conversion.mocap_files import load_clip
from poselift_core.data.h36m import H36M_CAMERAS
from poselift_core.skeleton import H36M_17

CMU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cmu"
needs_cmu = pytest.mark.skipif(not CMU.is_dir(), reason=f"CMU mocap folder {CMU} not available")


# ---------------------------------------------------------------- building blocks
def test_resample_reproduces_a_linear_signal():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(17, 3)), rng.normal(size=(17, 3))
    t_src = np.arange(241) / 120.0
    X = a + b * t_src[:, None, None]
    Y = resample(X, 120.0, 50.0)
    t_dst = np.arange(len(Y)) / 50.0
    assert len(Y) == 101  # 2 s at 50 Hz, both ends included
    np.testing.assert_allclose(Y, a + b * t_dst[:, None, None], atol=1e-12)
    # uneven source times, e.g. DeepMimic key frames
    t = np.cumsum(rng.uniform(0.01, 0.05, size=60))
    Z = resample_times(a + b * t[:, None, None], t, 50.0)
    np.testing.assert_allclose(Z, a + b * (t[0] + np.arange(len(Z)) / 50.0)[:, None, None], atol=1e-12)
    np.testing.assert_array_equal(resample(X, 120.0, 120.0), X)


def test_yup_to_zup_is_a_rotation():
    M = yup_to_zup(np.eye(3))
    assert np.linalg.det(M) == pytest.approx(1.0)
    np.testing.assert_array_equal(yup_to_zup(np.array([0.0, 1.0, 0.0])), [0, 0, 1])  # up stays up


# ---------------------------------------------------------------- real CMU files
def _h36m(path, max_frames=None):
    clip = load_clip(path, max_frames=max_frames)
    return clip, yup_to_zup(to_h36m17(clip.positions(), clip.names, clip.parents, clip.source))


def _bone(X, a, b):
    return np.linalg.norm(X[:, H36M_17.index(a)] - X[:, H36M_17.index(b)], axis=-1)


# (right bone, left bone, plausible mean length range in metres). CMU's forearm (lradius) is short,
# 0.185-0.197 m in subjects 01, 02, 131: its wrist joint is the start of the lwrist segment.
LIMBS = [("RHip", "RKnee", "LHip", "LKnee", 0.3, 0.55), ("RKnee", "RFoot", "LKnee", "LFoot", 0.3, 0.55),
         ("RShoulder", "RElbow", "LShoulder", "LElbow", 0.2, 0.4), ("RElbow", "RWrist", "LElbow", "LWrist", 0.15, 0.35)]
CMU_CLIPS = ["asfamc/02/02_01.amc", "bvh/131_01.bvh"]


@needs_cmu
@pytest.mark.parametrize("rel", CMU_CLIPS)
def test_cmu_bone_lengths_are_human_symmetric_and_rigid(rel):
    clip, X = _h36m(CMU / rel)
    for ra, rb, la, lb, lo, hi in LIMBS:
        r, l = _bone(X, ra, rb), _bone(X, la, lb)
        assert lo < r.mean() < hi and lo < l.mean() < hi, (ra, rb, r.mean(), l.mean())
        # CMU fits each side separately: left and right differ by up to 16 mm in these subjects
        assert abs(r.mean() - l.mean()) < 0.02, (ra, rb, r.mean(), l.mean())
        assert r.std() < 1e-3 and l.std() < 1e-3  # FK keeps every rigid bone's length
    hip = _bone(X, "LHip", "RHip")
    # CMU's hip joint centres are narrow: 0.18 m for subject 02, 0.137 m for subject 131
    assert 0.12 < hip.mean() < 0.35 and hip.std() < 1e-3
    # spine and neck points are halfway along their chains (spanning joints), so only nearly rigid
    for a, b in [("Hip", "Spine"), ("Spine", "Thorax"), ("Thorax", "Neck/Nose"), ("Neck/Nose", "Head")]:
        assert _bone(X, a, b).std() < 5e-3


@needs_cmu
@pytest.mark.parametrize("rel", CMU_CLIPS)
def test_cmu_walk_stands_on_the_floor_upright(rel):
    clip, X = _h36m(CMU / rel)
    z = X[..., 2]  # CMU's floor is Y = 0, Z = 0 after yup_to_zup
    ankles = z[:, [H36M_17.index("RFoot"), H36M_17.index("LFoot")]]
    assert 0.03 < ankles.min() < 0.15
    # the lower ankle touches down in most frames of a walk (stance phase)
    assert np.median(ankles.min(1)) < 0.15
    upright = (z[:, H36M_17.index("Head")] > z[:, 0]) & (z[:, 0] > ankles.max(1))
    assert upright.mean() > 0.95


@needs_cmu
@pytest.mark.parametrize("rel", CMU_CLIPS)
def test_cmu_walk_left_is_left(rel):
    # (LHip - RHip) x (Thorax - Hip) = forward for a right-handed Z-up world; it must agree with the
    # walking direction. A mirrored skeleton (left and right swapped) would point backwards.
    clip, X = _h36m(CMU / rel)
    left = X[:, H36M_17.index("LHip")] - X[:, H36M_17.index("RHip")]
    up = X[:, H36M_17.index("Thorax")] - X[:, 0]
    facing = np.cross(left, up)[:, :2]
    vel = np.gradient(X[:, 0, :2], axis=0) * clip.fps
    moving = np.linalg.norm(vel, axis=-1) > 0.5
    cos = (facing * vel).sum(-1) / (np.linalg.norm(facing, axis=-1) * np.linalg.norm(vel, axis=-1) + 1e-12)
    assert moving.sum() > 100
    assert np.median(cos[moving]) > 0.9 and (cos[moving] > 0).mean() > 0.85
    # shoulders agree with hips
    sh = X[:, H36M_17.index("LShoulder")] - X[:, H36M_17.index("RShoulder")]
    assert ((sh * left).sum(-1) > 0).mean() > 0.99


@needs_cmu
def test_cmu_spine_and_neck_points_are_halfway_along_their_chains():
    clip = load_clip(CMU / "asfamc/02/02_01.amc", max_frames=50)
    P = clip.positions()
    X = to_h36m17(P, clip.names, clip.parents)
    chain = [clip.names.index(n) for n in ("root", "lowerback", "upperback", "thorax", "lowerneck")]
    seg = np.linalg.norm(np.diff(P[:, chain], axis=1), axis=-1)
    spine = X[:, H36M_17.index("Spine")]
    # the halfway point of this ASF chain falls on the upperback bone (upperback -> thorax start)
    a, b = P[:, chain[2]], P[:, chain[3]]
    along = np.linalg.norm(spine - a, axis=-1)
    np.testing.assert_allclose(seg[:, :2].sum(1) + along, seg.sum(1) / 2, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(np.cross(spine - a, b - a), axis=-1), 0, atol=1e-9)
    np.testing.assert_allclose(X[:, H36M_17.index("Thorax")], P[:, chain[4]])
    np.testing.assert_allclose(X[:, H36M_17.index("Head")], P[:, clip.names.index("head_end")])


@needs_cmu
def test_convert_mocap_writes_loadable_videopose3d_files(tmp_path):
    from poselift_core.data import load_videopose3d

    p3, p2 = convert_mocap([CMU / "asfamc/02/02_01.amc", CMU / "bvh/131_01.bvh"], tmp_path,
                           camera_subject="S5", max_frames=240)
    ds = load_videopose3d(p3, p2)
    assert sorted(ds.subjects()) == ["02", "131"] and ds.fps == 50
    assert ds.actions("02") == ["02_01"]
    world = ds._world["131"]["131_01"]
    assert world.shape == (100, 17, 3)  # 240 frames at 120 Hz = 1.99 s -> 100 frames at 50 Hz
    assert abs(world[:, 0, :2].mean(0)).max() < 1e-5  # recentred horizontally
    # the 50 Hz frames are the 120 Hz poses at t = k / 50 (t = 0.1 s is 120 Hz frame 12), shifted horizontally
    clip, X = _h36m(CMU / "bvh/131_01.bvh", max_frames=240)
    np.testing.assert_allclose(world[5] - world[0], X[12] - X[0], atol=1e-5)
    np.testing.assert_allclose(world[5, :, 2], X[12, :, 2], atol=1e-5)  # height kept
    for c, cam in enumerate(H36M_CAMERAS["S5"]):
        seq = ds.sequence("131", "131_01", c)
        assert seq.camera == cam
        ref = project_to_image(world_to_camera(world.astype(np.float64), cam), cam)
        np.testing.assert_allclose(seq.pixels, ref, atol=1e-3)
        assert seq.camera_abs[..., 2].min() > 2.0  # in front of every camera
