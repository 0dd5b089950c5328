"""The sample builder (poselift_core.conversion.build_sample): the DeepMimic reader on a hand-written humanoid,
and (with POSELIFT_SAMPLE_CACHE set) a rebuild that must reproduce the committed data/sample/ arrays."""
import os
from pathlib import Path

import numpy as np
import pytest

from poselift_core.conversion.build_sample import read_deepmimic
from poselift_core.conversion.mocap import to_h36m17
from poselift_core.skeleton import H36M_17

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
P3, P2 = SAMPLE / "data_3d_sample.npz", SAMPLE / "data_2d_sample_gt.npz"


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


def test_rebuild_reproduces_the_committed_arrays(tmp_path):
    from poselift_core.conversion.build_sample import build_sample

    p3, p2 = build_sample(tmp_path, os.environ["POSELIFT_SAMPLE_CACHE"])
    with np.load(p3, allow_pickle=True) as z3, np.load(p2, allow_pickle=True) as z2:
        pos3, pos2 = z3["positions_3d"].item(), z2["positions_2d"].item()
    with np.load(P3, allow_pickle=True) as z3, np.load(P2, allow_pickle=True) as z2:
        committed3, committed2 = z3["positions_3d"].item(), z2["positions_2d"].item()
    for s, acts in committed3.items():
        for a, X in acts.items():
            np.testing.assert_array_equal(pos3[s][a], X)
            for c in range(4):
                np.testing.assert_array_equal(pos2[s][a][c], committed2[s][a][c])
