"""Motion-capture file readers (poselift_core.conversion.mocap_files): ASF/AMC and BVH.

Hand-written files with known angles check the rotation conventions against positions worked out by hand, and
malformed files must name the file and line.
"""
import numpy as np
import pytest

from poselift_core.conversion.kinematics import MocapError
from poselift_core.conversion.mocap_files import read_amc, read_asf, read_bvh


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
