"""Mocap readers, forward kinematics, H36M-17 mapping and conversion (poselift_core.data.mocap).

Hand-written ASF/AMC and BVH files with known angles check the rotation conventions against positions
worked out by hand; the real CMU files in ../shared/data/cmu (skipped when absent) check units, the joint
mapping and left/right on real motion.
"""
from pathlib import Path

import numpy as np
import pytest

from poselift_core.camera import H36M_CAMERAS, project_to_image, world_to_camera
from poselift_core.data.mocap import (MocapError, convert_mocap, euler_to_matrix, forward_kinematics, load_clip,
                                      read_amc, read_asf, read_bvh, resample, resample_times, to_h36m17,
                                      yup_to_zup)
from poselift_core.skeleton import H36M_17

CMU = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cmu"
needs_cmu = pytest.mark.skipif(not CMU.is_dir(), reason=f"CMU mocap folder {CMU} not available")

# ---------------------------------------------------------------- hand-written ASF/AMC
# `:units length 0.0254` makes one file unit one metre (metres = value / units * 0.0254).
ASF = """# tiny test skeleton
:version 1.10
:units
  mass 1.0
  length 0.0254
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name arm
     direction 1 0 0
     length 1.0
     axis 0 0 0 XYZ
    dof rx ry rz
    limits (-180 180)
           (-180 180)
           (-180 180)
  end
  begin
     id 2
     name fore
     direction 1 0 0
     length 0.5
     axis 0 0 90 XYZ
    dof rx
  end
  begin
     id 3
     name up
     direction 0 2 0
     length 1.0
     axis 0 0 0 XYZ
    dof rx ry rz
  end
:hierarchy
  begin
    root arm up
    arm fore
  end
"""

AMC_FRAMES = [
    # root (tx ty tz rx ry rz), arm (rx ry rz), fore (rx), up (rx ry rz)
    ("0 0 0 0 0 0", "0 0 90", "0", "0 0 0"),
    ("1 2 3 0 0 0", "0 0 0", "90", "90 0 90"),
    ("0 0 0 0 0 90", "0 0 0", "0", "0 0 0"),
]


def _amc_text(frames, orders=None) -> str:
    out = ["#!OML:ASF test.asf", ":FULLY-SPECIFIED", ":DEGREES"]
    for i, fr in enumerate(frames, start=1):
        out.append(str(i))
        vals = dict(zip(("root", "arm", "fore", "up"), fr))
        order = orders[i - 1] if orders else ("root", "arm", "fore", "up")
        out.extend(f"{name} {vals[name]}" for name in order)
    return "\n".join(out) + "\n"


@pytest.fixture
def asf_amc(tmp_path):
    (tmp_path / "t.asf").write_text(ASF)
    (tmp_path / "t_01.amc").write_text(_amc_text(AMC_FRAMES))
    return tmp_path / "t.asf", tmp_path / "t_01.amc"


def test_asf_amc_forward_kinematics_matches_hand_computed_positions(asf_amc):
    clip = read_amc(asf_amc[1], read_asf(asf_amc[0]))
    P = clip.positions()
    at = lambda f, name: P[f, clip.names.index(name)]  # noqa: E731
    # frame 1: rz = 90 turns the arm from +x to +y; the forearm follows its parent
    np.testing.assert_allclose(at(0, "fore"), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(at(0, "fore_end"), [0, 1.5, 0], atol=1e-12)
    # frame 2: translation, and the forearm's rx acts about C x = y (axis 0 0 90): +x -> -z
    np.testing.assert_allclose(at(1, "root"), [1, 2, 3], atol=1e-12)
    np.testing.assert_allclose(at(1, "fore_end"), [2, 2, 2.5], atol=1e-12)
    # frame 2: dof order: M = Rz Ry Rx (x applied first): +y -> +z under (rx, rz) = (90, 90);
    # the other order would give -x. The direction (0 2 0) is normalised.
    np.testing.assert_allclose(at(1, "up_end"), [1, 2, 4], atol=1e-12)
    # frame 3: root rz = 90 rotates the whole tree
    np.testing.assert_allclose(at(2, "fore"), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(at(2, "up_end"), [-1, 0, 0], atol=1e-12)


def test_asf_cmu_length_unit(tmp_path):
    text = ASF.replace("length 0.0254", "length 0.45").replace("length 1.0\n", "length 0.45\n")
    (tmp_path / "c.asf").write_text(text)
    sk = read_asf(tmp_path / "c.asf")
    assert sk.length_scale == pytest.approx(0.0254 / 0.45)
    names, parents, offsets = sk.tree()
    # a bone of 0.45 file units is one inch
    assert np.linalg.norm(offsets[names.index("fore")]) == pytest.approx(0.0254)


def test_amc_bone_order_may_change_between_frames(asf_amc, tmp_path):
    sk = read_asf(asf_amc[0])
    shuffled = tmp_path / "s.amc"
    orders = [("up", "fore", "root", "arm"), ("root", "arm", "fore", "up"), ("arm", "root", "up", "fore")]
    shuffled.write_text(_amc_text(AMC_FRAMES, orders))
    np.testing.assert_array_equal(read_amc(asf_amc[1], sk).positions(), read_amc(shuffled, sk).positions())


@pytest.mark.parametrize("bad, match", [
    (lambda t: t.replace("fore 90", "forearm 90"), r"t_01\.amc:\d+: unknown bone 'forearm'"),
    (lambda t: t.replace("fore 90", "fore 90 5"), r"t_01\.amc:\d+: bone 'fore' has 2 values"),
    (lambda t: t.replace("arm 0 0 0", "arm 0 x 0"), r"t_01\.amc:\d+: arm: expected numbers"),
])
def test_amc_errors_name_file_and_line(asf_amc, bad, match):
    sk = read_asf(asf_amc[0])
    asf_amc[1].write_text(bad(asf_amc[1].read_text()))
    with pytest.raises(MocapError, match=match):
        read_amc(asf_amc[1], sk)


def test_amc_error_reports_the_right_line(asf_amc):
    lines = asf_amc[1].read_text().splitlines()
    n = lines.index("fore 90") + 1
    lines[n - 1] = "fore 90 1"
    asf_amc[1].write_text("\n".join(lines))
    with pytest.raises(MocapError, match=rf"t_01\.amc:{n}:"):
        read_amc(asf_amc[1], read_asf(asf_amc[0]))


def test_asf_errors(tmp_path):
    p = tmp_path / "bad.asf"
    p.write_text(ASF.replace("arm fore", "arm hand"))
    with pytest.raises(MocapError, match=r"bad\.asf:\d+: hierarchy names unknown bone 'hand'"):
        read_asf(p)
    p.write_text(ASF.replace("     length 0.5\n", ""))
    with pytest.raises(MocapError, match=r"bad\.asf:\d+: bone 'fore' has no length"):
        read_asf(p)


# ---------------------------------------------------------------- hand-written BVH
BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Arm
  {
    OFFSET 1 0 0
    CHANNELS 3 Xrotation Zrotation Yrotation
    End Site
    {
      OFFSET 0 2 0
    }
  }
}
MOTION
Frames: 4
Frame Time: 0.1
0 0 0 0 0 0 0 0 0
10 20 30 90 0 0 0 0 0
0 0 0 0 90 0 90 0 0
0 0 0 0 0 0 90 90 0
"""


def test_bvh_forward_kinematics_matches_hand_computed_positions(tmp_path):
    p = tmp_path / "t.bvh"
    p.write_text(BVH)
    clip = read_bvh(p, length_scale=1.0)
    assert clip.names == ["Hips", "Arm", "Arm_end"] and clip.fps == pytest.approx(10.0)
    P = clip.positions()
    np.testing.assert_allclose(P[0], [[0, 0, 0], [1, 0, 0], [1, 2, 0]], atol=1e-12)
    # root Zrotation 90 turns +x into +y and the end site's +y into -x
    np.testing.assert_allclose(P[1], [[10, 20, 30], [10, 21, 30], [8, 21, 30]], atol=1e-12)
    # root Xrotation 90 then Arm Xrotation 90: the end site is turned by 180 deg about x
    np.testing.assert_allclose(P[2], [[0, 0, 0], [1, 0, 0], [1, -2, 0]], atol=1e-12)
    # channel order "X Z Y" means R = Rx Rz Ry: +y -> -x (the reverse order would give +z)
    np.testing.assert_allclose(P[3, 2], [-1, 0, 0], atol=1e-12)


def test_bvh_unit_inference(tmp_path):
    p = tmp_path / "cm.bvh"
    p.write_text(BVH.replace("OFFSET 1 0 0", "OFFSET 100 0 0").replace("OFFSET 0 2 0", "OFFSET 0 150 0"))
    clip = read_bvh(p)
    assert clip.info["unit"] == "centimetres"
    np.testing.assert_allclose(clip.positions()[0, 2], [1.0, 1.5, 0.0], atol=1e-12)


@pytest.mark.parametrize("bad, match", [
    (lambda t: t.replace("0 0 0 0 90 0 90 0 0", "0 0 0 0 90 0 90 0"), r"t\.bvh:21: frame 2 has 8 values"),
    (lambda t: t.replace("Xrotation Zrotation", "Xrotation Wrotation"), r"t\.bvh:9: unknown channel 'Wrotation'"),
    (lambda t: t.replace("    OFFSET 0 2 0\n", ""), r"t\.bvh:\d+: expected 'OFFSET'"),
    (lambda t: t.replace("Frames: 4", "Frames: 5"), r"t\.bvh:\d+: file ends after 4 of 5 frames"),
])
def test_bvh_errors_name_file_and_line(tmp_path, bad, match):
    p = tmp_path / "t.bvh"
    p.write_text(bad(BVH))
    with pytest.raises(MocapError, match=match):
        read_bvh(p, length_scale=1.0)


# ---------------------------------------------------------------- building blocks
def test_euler_to_matrix_composes_in_listed_order():
    a = np.deg2rad([30.0, -50.0, 70.0])
    R = euler_to_matrix(a, "zxy")
    Rz, Rx, Ry = (euler_to_matrix(np.array([v]), ax) for v, ax in zip(a, "zxy"))
    np.testing.assert_allclose(R, Rz @ Rx @ Ry, atol=1e-12)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(euler_to_matrix(np.array([np.pi / 2]), "z") @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_forward_kinematics_chain_of_right_angles():
    # three unit bones along x, each joint turning +90 deg about z: a square's corners
    parents = [-1, 0, 1, 2]
    offsets = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]], float)
    R = np.broadcast_to(euler_to_matrix(np.array([np.pi / 2]), "z"), (2, 4, 3, 3)).copy()
    R[1] = np.eye(3)
    P = forward_kinematics(parents, offsets, R, np.zeros((2, 3)))
    np.testing.assert_allclose(P[0], [[0, 0, 0], [0, 1, 0], [-1, 1, 0], [-1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(P[1], [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], atol=1e-12)


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
