"""Detector keypoints: layout adapters, gap filling, screen normalisation, swap repair and the readers.

The detector layouts are written out again here from the detectors' documentation and joints are placed by
name, so an index slip in poselift_core.keypoints cannot cancel out against the same slip in the test.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from poselift_core.camera import project_to_image, world_to_camera
from poselift_core.data.h36m import H36M_CAMERAS
from poselift_core.data.fixtures import fake_pose_sequence
from poselift_core.keypoints import (LAYOUTS, LIMB_PAIRS, KeypointError, fill_missing, normalize_to_screen,
                                     read_keypoints, repair_left_right_swaps, to_h36m, to_skeleton)
from poselift_core.skeleton import H36M_16, H36M_17, H36M_32_TO_17, HUMANEVA_15

# ------------------------------------------------------------------ independent layout tables
COCO = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
        "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
        "right_knee", "left_ankle", "right_ankle"]
BLAZEPOSE = ["nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
             "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
             "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
             "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
             "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
             "left_foot_index", "right_foot_index"]
BODY25 = ["Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
          "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe",
          "LHeel", "RBigToe", "RSmallToe", "RHeel"]
# OpenPose's spelling of the COCO joints.
OPENPOSE_NAME = {"nose": "Nose", "left_eye": "LEye", "right_eye": "REye", "left_ear": "LEar", "right_ear": "REar",
                 "left_shoulder": "LShoulder", "right_shoulder": "RShoulder", "left_elbow": "LElbow",
                 "right_elbow": "RElbow", "left_wrist": "LWrist", "right_wrist": "RWrist", "left_hip": "LHip",
                 "right_hip": "RHip", "left_knee": "LKnee", "right_knee": "RKnee", "left_ankle": "LAnkle",
                 "right_ankle": "RAnkle"}
NAMES = {"coco17": COCO, "blazepose33": BLAZEPOSE, "body25": BODY25}
# Human3.6M-17 joints that are one detector joint (COCO spelling).
DIRECT = {"RHip": "right_hip", "RKnee": "right_knee", "RFoot": "right_ankle", "LHip": "left_hip",
          "LKnee": "left_knee", "LFoot": "left_ankle", "Neck/Nose": "nose", "LShoulder": "left_shoulder",
          "LElbow": "left_elbow", "LWrist": "left_wrist", "RShoulder": "right_shoulder", "RElbow": "right_elbow",
          "RWrist": "right_wrist"}
H = {n: i for i, n in enumerate(H36M_17.names)}


def own_name(layout, coco_name):
    return OPENPOSE_NAME[coco_name] if layout == "body25" else coco_name


def projected_h36m(frames=40, seed=0):
    """(frames, 17, 2) pixels: fixture poses through Human3.6M camera S9/0."""
    world = fake_pose_sequence(frames, np.random.default_rng(seed))[:, list(H36M_32_TO_17)].astype(np.float64)
    cam = H36M_CAMERAS["S9"][0]
    return project_to_image(world_to_camera(world, cam), cam)


def synth_detector(layout, h36m_px, rng, face=None):
    """Detector keypoints (frames, J, 3) placing the H36M joints under the detector's names.

    Joints H36M lacks (eyes, ears, toes, OpenPose's Neck/MidHip, ...) get random pixels; ``face`` overrides
    COCO-named ones (for comparing layouts on the same person). Confidences are random.
    """
    names = NAMES[layout]
    T = h36m_px.shape[0]
    det = np.concatenate([rng.uniform(0, 1000, (T, len(names), 2)), rng.uniform(0.05, 1, (T, len(names), 1))], -1)
    for h, c in DIRECT.items():
        det[:, names.index(own_name(layout, c)), :2] = h36m_px[:, H[h]]
    for c, value in (face or {}).items():
        det[:, names.index(own_name(layout, c))] = value
    return det


def joint(det, layout, coco_name):
    return det[:, NAMES[layout].index(own_name(layout, coco_name))]


# ------------------------------------------------------------------ layouts and adapters
def test_layouts_describe_the_detectors():
    assert set(LAYOUTS) == {"coco17", "blazepose33", "body25", "h36m17"}
    for name, names in NAMES.items():
        assert LAYOUTS[name].num_joints == len(names)
        assert list(LAYOUTS[name].names) == names
    assert list(LAYOUTS["h36m17"].names) == list(H36M_17.names)


@pytest.mark.parametrize("layout", ["coco17", "blazepose33", "body25"])
def test_to_h36m_direct_and_derived_joints(layout):
    rng = np.random.default_rng(1)
    det = synth_detector(layout, projected_h36m(), rng)
    out = to_h36m(det, layout)
    assert out.shape == (det.shape[0], 17, 3)
    for h, c in DIRECT.items():  # one source joint: copied exactly, confidence included
        np.testing.assert_array_equal(out[:, H[h]], joint(det, layout, c), err_msg=h)

    def j(c):
        return joint(det, layout, c)
    pelvis = (j("left_hip") + j("right_hip")) / 2
    thorax = (j("left_shoulder") + j("right_shoulder")) / 2
    ears = (j("left_ear") + j("right_ear")) / 2
    expected = {"Hip": pelvis[:, :2], "Thorax": thorax[:, :2], "Spine": (pelvis[:, :2] + thorax[:, :2]) / 2,
                "Head": ears[:, :2] + 0.5 * (ears[:, :2] - thorax[:, :2])}
    sources = {"Hip": ["left_hip", "right_hip"], "Thorax": ["left_shoulder", "right_shoulder"],
               "Spine": ["left_hip", "right_hip", "left_shoulder", "right_shoulder"],
               "Head": ["left_ear", "right_ear", "left_shoulder", "right_shoulder"]}
    for h, xy in expected.items():
        np.testing.assert_allclose(out[:, H[h], :2], xy, rtol=0, atol=1e-9, err_msg=h)
        np.testing.assert_array_equal(out[:, H[h], 2], np.min([j(c)[:, 2] for c in sources[h]], axis=0))
    # Pixels only in, pixels only out.
    np.testing.assert_array_equal(to_h36m(det[..., :2], layout), out[..., :2])
    # 3D points in the detector's layout: every channel is a coordinate, x and y as for pixels.
    det3d = det.copy()
    det3d[..., 2] = np.random.default_rng(2).normal(size=det.shape[:2])
    out3d = to_h36m(det3d, layout, points=True)
    np.testing.assert_array_equal(out3d[..., :2], out[..., :2])
    np.testing.assert_array_equal(out3d[..., 2], to_h36m(det3d[..., 2:], layout, points=True)[..., 0])
    np.testing.assert_array_equal(out3d[..., 2], to_h36m(np.repeat(det3d[..., 2:], 2, -1), layout)[..., 0])


# HumanEva-15 joint -> how it is made from COCO names (pelvis = mid-hip, thorax = mid-shoulder, head top as
# Human3.6M's), typed out again by name.
HUMANEVA_FROM_COCO = {"LShoulder": "left_shoulder", "LElbow": "left_elbow", "LWrist": "left_wrist",
                      "RShoulder": "right_shoulder", "RElbow": "right_elbow", "RWrist": "right_wrist",
                      "LHip": "left_hip", "LKnee": "left_knee", "LAnkle": "left_ankle", "RHip": "right_hip",
                      "RKnee": "right_knee", "RAnkle": "right_ankle"}


@pytest.mark.parametrize("layout", ["coco17", "blazepose33", "body25"])
def test_to_skeleton_humaneva15_and_h36m16(layout):
    rng = np.random.default_rng(4)
    det = synth_detector(layout, projected_h36m(frames=12), rng)
    out = to_skeleton(det, layout, "humaneva15")
    assert out.shape == (12, 15, 3)
    E = {n: i for i, n in enumerate(HUMANEVA_15.names)}

    def j(c):
        return joint(det, layout, c)
    for he, c in HUMANEVA_FROM_COCO.items():
        np.testing.assert_array_equal(out[:, E[he]], j(c), err_msg=he)
    thorax = (j("left_shoulder") + j("right_shoulder"))[:, :2] / 2
    ears = (j("left_ear") + j("right_ear"))[:, :2] / 2
    np.testing.assert_allclose(out[:, E["Pelvis"], :2], (j("left_hip") + j("right_hip"))[:, :2] / 2, atol=1e-9)
    np.testing.assert_allclose(out[:, E["Thorax"], :2], thorax, atol=1e-9)
    np.testing.assert_allclose(out[:, E["Head"], :2], ears + 0.5 * (ears - thorax), atol=1e-9)
    np.testing.assert_array_equal(out[:, E["Pelvis"], 2], np.minimum(j("left_hip")[:, 2], j("right_hip")[:, 2]))
    # the 16-joint skeleton is the 17 without Neck/Nose, joint for joint by name
    out16 = to_skeleton(det, layout, H36M_16)
    np.testing.assert_array_equal(out16, to_h36m(det, layout)[:, [H[n] for n in H36M_16.names]])
    with pytest.raises(KeypointError, match=r"no mapping from layout '.*' to skeleton 'h36m32'"):
        to_skeleton(det, layout, "h36m32")


def test_layouts_agree_on_the_same_person():
    """COCO, BlazePose and BODY_25 views of one person give the same H36M joints; OpenPose's Neck and MidHip
    (random here) are not used."""
    px = projected_h36m(seed=2)
    rng = np.random.default_rng(3)
    T = px.shape[0]
    face = {c: np.concatenate([rng.uniform(0, 1000, (T, 2)), rng.uniform(0, 1, (T, 1))], -1)
            for c in ("left_ear", "right_ear", "left_eye", "right_eye")}
    common = {c: np.concatenate([px[:, H[h]], rng.uniform(0, 1, (T, 1))], -1) for h, c in DIRECT.items()}
    outs = [to_h36m(synth_detector(lay, px, rng, face={**face, **common}), lay)
            for lay in ("coco17", "blazepose33", "body25")]
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


def test_h36m_head_top_lands_near_the_true_head_top():
    """On a frontal, upright head the recipe puts the head top above the ears, in line with the neck."""
    thorax, ears = np.array([0.0, 0.0]), np.array([0.0, -20.0])        # y down: ears 20 px above the thorax
    det = np.zeros((1, 17, 3))
    for name, xy in (("left_shoulder", thorax + [15, 0]), ("right_shoulder", thorax - [15, 0]),
                     ("left_ear", ears + [5, 0]), ("right_ear", ears - [5, 0])):
        det[0, COCO.index(name), :2] = xy
    head = to_h36m(det, "coco17")[0, H["Head"], :2]
    np.testing.assert_allclose(head, [0.0, -30.0])


def test_to_h36m_nan_reaches_only_the_joints_built_from_it():
    det = synth_detector("coco17", projected_h36m(frames=5), np.random.default_rng(4))
    det[2, COCO.index("left_ear"), :2] = np.nan
    det[3, COCO.index("left_eye")] = np.nan      # the eyes feed no H36M joint
    out = to_h36m(det, "coco17")
    bad = np.argwhere(~np.isfinite(out[..., :2]).all(-1))
    assert bad.tolist() == [[2, H["Head"]]]


def test_to_h36m_identity_and_errors():
    kp = np.random.default_rng(5).normal(size=(4, 17, 3)).astype(np.float32)
    out = to_h36m(kp, "h36m17")
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, kp)
    with pytest.raises(KeypointError) as e:
        to_h36m(np.zeros((6, 25, 3)), "coco17", source="clip_keypoints.npz")
    msg = str(e.value)
    assert "clip_keypoints.npz" in msg and "(6, 25, 3)" in msg and "coco17" in msg and "\n" not in msg
    with pytest.raises(KeypointError, match=r"\(6, 33, 4\)"):
        to_h36m(np.zeros((6, 33, 4)), "blazepose33")
    with pytest.raises(KeypointError, match="unknown keypoint layout"):
        to_h36m(kp, "halpe26")


# ------------------------------------------------------------------ gaps
def test_fill_missing_matches_np_interp():
    rng = np.random.default_rng(6)
    T, J = 15, 4
    kp = np.concatenate([rng.uniform(0, 500, (T, J, 2)), rng.uniform(0.5, 1, (T, J, 1))], -1)
    kp[[0, 1, 7], 0, 2] = 0.1                      # low confidence, including the first frames (held)
    kp[[5, 6, 14], 1, :2] = np.nan                 # NaN, including the last frame (held)
    kp[[3, 9, 10], 2] = 0.0                        # OpenPose's (0, 0, 0)
    kp[4, 3, 2] = np.nan                           # unknown confidence
    expected_mask = np.zeros((T, J), bool)
    expected_mask[[0, 1, 7], 0] = expected_mask[[5, 6, 14], 1] = expected_mask[[3, 9, 10], 2] = True
    expected_mask[4, 3] = True

    filled, mask = fill_missing(kp, min_confidence=0.3)
    np.testing.assert_array_equal(mask, expected_mask)
    t = np.arange(T)
    for j in range(J):
        ok = ~expected_mask[:, j]
        for c in range(2):
            np.testing.assert_allclose(filled[:, j, c], np.interp(t, t[ok], kp[ok, j, c]), rtol=1e-13, atol=0)
    np.testing.assert_array_equal(filled[~mask], kp[~mask])                      # valid joints untouched
    np.testing.assert_array_equal(filled[..., 2], np.nan_to_num(kp[..., 2]))     # confidences kept
    assert filled[0, 0, 0] == kp[2, 0, 0] and filled[14, 1, 1] == kp[13, 1, 1]   # edges held


def test_fill_missing_two_channels_and_threshold():
    kp = np.arange(20, dtype=np.float32).reshape(5, 2, 2)
    kp[2, 1] = np.nan
    filled, mask = fill_missing(kp)
    assert filled.dtype == np.float32 and mask.sum() == 1 and mask[2, 1]
    np.testing.assert_allclose(filled[2, 1], (kp[1, 1] + kp[3, 1]) / 2)
    # min_confidence decides: 0.5 is kept at threshold 0.5 and filled at 0.6
    kp3 = np.concatenate([np.arange(10.0).reshape(5, 1, 2), np.full((5, 1, 1), 0.9)], -1)
    kp3[2, 0, 2] = 0.5
    assert not fill_missing(kp3, 0.5)[1].any()
    assert fill_missing(kp3, 0.6)[1][2, 0]


def test_fill_missing_reports_joints_never_seen():
    kp = np.ones((6, 3, 3))
    kp[:, 1, 2] = 0.05
    with pytest.raises(KeypointError) as e:
        fill_missing(kp, joint_names=["a", "b", "c"], source="x.json")
    assert "'b'" in str(e.value) and "x.json" in str(e.value) and "(6, 3, 3)" in str(e.value)
    with pytest.raises(KeypointError, match=r"\(6, 3\)"):
        fill_missing(np.ones((6, 3)))


# ------------------------------------------------------------------ normalisation
def test_normalize_to_screen():
    w, h = 1920, 1080
    px = np.array([[[0, 0, 0.5], [w, h, 0.7], [w / 2, h / 2, 1.0], [w / 4, 3 * h / 4, 0.2]]])
    out = normalize_to_screen(px, (w, h))
    expected_xy = np.stack([px[..., 0] / w * 2 - 1, (px[..., 1] - h / 2) * 2 / w], -1)  # same scale on y
    np.testing.assert_allclose(out[..., :2], expected_xy, atol=1e-12)
    assert out[0, 0, 0] == -1 and out[0, 1, 0] == 1 and out[0, 2, 1] == 0
    np.testing.assert_array_equal(out[..., 2], px[..., 2])
    np.testing.assert_allclose(normalize_to_screen(px[..., :2], (w, h)), out[..., :2])
    with pytest.raises(KeypointError, match="width, height"):
        normalize_to_screen(px, (1920,))
    with pytest.raises(KeypointError, match="positive"):
        normalize_to_screen(px, (0, 1080))


# ------------------------------------------------------------------ left/right swaps
def frontal_sequence(frames, seed):
    """(frames, 17, 3) pixels + confidence: fixture poses turned to face the camera in every frame."""
    w = fake_pose_sequence(frames, np.random.default_rng(seed))[:, list(H36M_32_TO_17)].astype(np.float64)
    hips = w[:, H["LHip"]] - w[:, H["RHip"]]
    yaw = np.arctan2(hips[:, 1], hips[:, 0])
    c, s = np.cos(-yaw)[:, None], np.sin(-yaw)[:, None]
    rel = w - w[:, :1]
    X = c * rel[..., 0] - s * rel[..., 1] + w[:, :1, 0]
    Y = s * rel[..., 0] + c * rel[..., 1] + w[:, :1, 1]
    depth = Y + 5.0                                    # camera 5 m in front, looking along +Y
    uv = np.stack([1000 * X / depth + 500, -1000 * (w[..., 2] - 1) / depth + 500], -1)
    return np.concatenate([uv, np.random.default_rng(seed).uniform(0.5, 1, uv.shape[:2] + (1,))], -1)


def swap(kp, frames, limb):
    left, right = (list(x) for x in LIMB_PAIRS[limb])
    out = kp.copy()
    out[np.ix_(frames, left + right)] = kp[np.ix_(frames, right + left)]
    return out


def test_repair_left_right_swaps_restores_swapped_frames():
    truth = frontal_sequence(200, seed=3)
    # Precondition: between any two frames, the true labelling is the more continuous one by a margin.
    for left, right in LIMB_PAIRS.values():
        L, R = truth[:, list(left), :2], truth[:, list(right), :2]
        d = lambda a, b: np.linalg.norm(a - b, axis=-1).sum(-1)  # noqa: E731
        stay, cross = d(L[1:], L[:-1]) + d(R[1:], R[:-1]), d(L[1:], R[:-1]) + d(R[1:], L[:-1])
        assert (cross - stay).min() > 20
    arms = [0, 1, 17, *range(40, 72)]                 # first frames, a single frame, a 32-frame run
    legs = [*range(60, 89), 150, 199]                 # overlapping the arm run, a single frame, the last frame
    bad = swap(swap(truth, arms, "arms"), legs, "legs")
    bad[120, H["LWrist"], :2] += 300                  # an outlier that is not a swap
    truth[120, H["LWrist"], :2] += 300
    fixed, swapped = repair_left_right_swaps(bad)
    np.testing.assert_array_equal(fixed, truth)
    expected = np.zeros((200, 2), bool)
    expected[arms, list(LIMB_PAIRS).index("arms")] = True
    expected[legs, list(LIMB_PAIRS).index("legs")] = True
    np.testing.assert_array_equal(swapped, expected)
    # Nothing to repair: nothing changes.
    same, none = repair_left_right_swaps(truth)
    np.testing.assert_array_equal(same, truth)
    assert not none.any()


def greedy_repair(kp, limb):
    """Reference greedy rule: per frame keep or swap, whichever is closer to the repaired previous frame."""
    left, right = (list(x) for x in LIMB_PAIRS[limb])
    out = kp.copy()
    for t in range(1, len(kp)):
        keep = np.linalg.norm(out[t, left + right, :2] - out[t - 1, left + right, :2], axis=-1).sum()
        cross = np.linalg.norm(out[t, right + left, :2] - out[t - 1, left + right, :2], axis=-1).sum()
        if cross < keep:
            out[t, left + right] = out[t, right + left]
    return out


def test_repair_is_not_fooled_by_crossing_legs():
    """Legs seen from the side cross every half stride; at the crossing both labellings are continuous and
    frame-by-frame noise decides a greedy repair, which then relabels the rest of the clip."""
    rng = np.random.default_rng(7)
    T = 240
    kp = np.ones((T, 17, 3))
    kp[..., :2] = rng.uniform(100, 400, (17, 2))       # a still body whose legs swing
    stride = np.sin(2 * np.pi * np.arange(T) / 60)
    for k, (l, r) in enumerate(zip(*LIMB_PAIRS["legs"])):   # hips overlap, knees and ankles swing
        amplitude = (0, 30, 60)[k]
        kp[:, l, 0], kp[:, r, 0] = 200 + amplitude * stride, 200 - amplitude * stride
        kp[:, l, 1] = kp[:, r, 1] = 300 + 100 * k
    noisy = kp.copy()
    noisy[..., :2] += rng.normal(0, 1.0, kp[..., :2].shape)
    assert np.abs(greedy_repair(noisy, "legs") - noisy).max() > 50      # the trap works on the greedy rule
    fixed, swapped = repair_left_right_swaps(noisy)
    # Only frames where the legs coincide to within the noise may be relabelled, which moves nothing visibly.
    assert np.abs(fixed - noisy).max() < 6
    assert swapped[:, 1].sum() <= 6 and not swapped[:, 0].any()


@pytest.mark.parametrize("swap_penalty", [0.0, 0.3])
def test_repair_finds_the_least_cost_labelling(swap_penalty):
    """Against brute force over all 2^T labellings of the documented cost (continuity + penalty per swap)."""
    rng = np.random.default_rng(15)
    T = 8
    kp = rng.uniform(0, 100, (T, 17, 2))
    _, swapped = repair_left_right_swaps(kp, swap_penalty=swap_penalty)
    for p, (left, right) in enumerate(LIMB_PAIRS.values()):
        left, right = list(left), list(right)
        separation = np.median(np.linalg.norm(kp[:, left] - kp[:, right], axis=-1).sum(-1))

        def cost(labels):
            limbs = np.stack([kp[t, right + left] if s else kp[t, left + right] for t, s in enumerate(labels)])
            return np.linalg.norm(np.diff(limbs, axis=0), axis=-1).sum() + swap_penalty * separation * sum(labels)
        costs = {code: cost([(code >> t) & 1 for t in range(T)]) for code in range(2 ** T)}
        best = min(costs, key=costs.get)
        assert cost(swapped[:, p].astype(int).tolist()) == pytest.approx(costs[best], rel=1e-12)
        if swap_penalty > 0:  # without a penalty a labelling and its mirror tie; with one the best is unique
            assert swapped[:, p].tolist() == [bool((best >> t) & 1) for t in range(T)]


DEMO = Path(__file__).resolve().parents[1] / "data" / "demo_capture"


@pytest.mark.skipif(not (DEMO / "reference.npz").exists(), reason="data/demo_capture is not in this checkout")
def test_repair_agrees_with_multiview_relabelling_on_real_detections():
    """BlazePose on the demo capture's cam02 swaps limbs; the four-view triangulation found which frames by
    reprojection. The single-view repair, from continuity alone, must find the same arm frames and nearly
    the same leg frames, and nothing on cam01."""
    reference = np.load(DEMO / "reference.npz")
    groups = [str(g) for g in reference["group_names"]]
    cameras = [str(c) for c in reference["camera_names"]]
    for cam in ("cam01", "cam02"):
        kf = read_keypoints(DEMO / "detections" / f"{cam}.npz")
        _, swapped = repair_left_right_swaps(kf.to_h36m())
        views = reference["swapped"][cameras.index(cam)]
        np.testing.assert_array_equal(swapped[:, 0], views[:, groups.index("arms")])
        legs = views[:, groups.index("legs")]
        # The legs flicker at the end of the swapped stretch (frames 60-75), where the two methods may differ.
        assert (swapped[:, 1] != legs).mean() <= 0.06, (cam, np.flatnonzero(swapped[:, 1] != legs))


def test_repair_left_right_swaps_rejects_other_layouts():
    with pytest.raises(KeypointError, match=r"\(5, 25, 3\)"):
        repair_left_right_swaps(np.zeros((5, 25, 3)))


# ------------------------------------------------------------------ readers
def write_openpose_frame(path, people):
    path.write_text(json.dumps({"version": 1.3, "people": [
        {"person_id": [-1], "pose_keypoints_2d": np.asarray(p, float).reshape(-1).tolist(),
         "face_keypoints_2d": [], "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []}
        for p in people]}))


def test_openpose_folder_round_trip(tmp_path):
    rng = np.random.default_rng(8)
    T = 12
    # Person A walks slowly near x=300; person B stands at x=900. Unpadded names check the frame order.
    a = np.concatenate([300 + np.cumsum(rng.normal(0, 2, (T, 25, 2)), 0), rng.uniform(0.5, 0.7, (T, 25, 1))], -1)
    b = np.concatenate([900 + rng.normal(0, 2, (T, 25, 2)), rng.uniform(0.3, 0.4, (T, 25, 1))], -1)
    b[4, :, 2] = 0.95                                 # frame 4: B is the more confident one
    a[6, BODY25.index("LWrist")] = 0                   # an undetected joint, as OpenPose writes it
    for t in range(T):
        people = [] if t == 3 else [b[t], a[t]]
        write_openpose_frame(tmp_path / f"clip_{t}_keypoints.json", people)
    (tmp_path / "notes.txt").write_text("not a frame")

    kf = read_keypoints(tmp_path)
    assert kf.layout == "body25" and kf.image_size is None and kf.keypoints.dtype == np.float32
    assert kf.frame_ids == [f"clip_{t}" for t in range(T)] and kf.source == tmp_path
    expected = a.astype(np.float32).copy()
    expected[3] = [np.nan, np.nan, 0]
    expected[6, BODY25.index("LWrist")] = [np.nan, np.nan, 0]
    np.testing.assert_array_equal(kf.keypoints, expected)                 # tracked: A throughout
    by_conf = read_keypoints(tmp_path, person="confident", image_size=(1280, 720))
    np.testing.assert_array_equal(by_conf.keypoints[4], b[4].astype(np.float32))
    np.testing.assert_array_equal(by_conf.keypoints[5], a[5].astype(np.float32))
    assert by_conf.image_size == (1280, 720)
    assert kf.to_h36m().shape == (T, 17, 3)
    one = read_keypoints(tmp_path / "clip_0_keypoints.json")
    np.testing.assert_array_equal(one.keypoints[0], a[0].astype(np.float32))


def test_openpose_wrong_joint_count_names_file(tmp_path):
    write_openpose_frame(tmp_path / "v_000_keypoints.json", [np.ones((18, 3))])
    with pytest.raises(KeypointError) as e:
        read_keypoints(tmp_path)
    assert "v_000_keypoints.json" in str(e.value) and "18" in str(e.value) and "body25" in str(e.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeypointError, match=r"empty: no OpenPose"):
        read_keypoints(tmp_path / "empty")


def test_coco_results_round_trip(tmp_path):
    rng = np.random.default_rng(9)
    ids = [10, 2, 1, 3]
    truth = {i: np.concatenate([rng.uniform(0, 640, (17, 2)), rng.uniform(0, 1, (17, 1))], -1) for i in ids}
    entries = []
    for i in ids:
        entries.append({"image_id": i, "category_id": 1, "keypoints": truth[i].reshape(-1).tolist(), "score": 0.9})
        entries.append({"image_id": i, "category_id": 1, "keypoints": rng.uniform(0, 640, 51).tolist(),
                        "score": 0.4})
    entries.append({"image_id": 1, "category_id": 2, "keypoints": rng.uniform(0, 640, 51).tolist(), "score": 1.0})
    rng.shuffle(entries)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(entries))
    kf = read_keypoints(path)
    assert kf.layout == "coco17" and kf.frame_ids == [1, 2, 3, 10]
    np.testing.assert_allclose(kf.keypoints, np.stack([truth[i] for i in (1, 2, 3, 10)]), rtol=1e-6)

    entries[0]["keypoints"] = entries[0]["keypoints"][:-3]
    path.write_text(json.dumps(entries))
    with pytest.raises(KeypointError) as e:
        read_keypoints(path)
    assert "results.json" in str(e.value) and "48 values" in str(e.value)


def test_mediapipe_npz_and_json_round_trip(tmp_path):
    rng = np.random.default_rng(10)
    T, (w, h) = 5, (1080, 1920)
    norm = np.concatenate([rng.uniform(0, 1, (T, 33, 3)), rng.uniform(0, 1, (T, 33, 1))], -1)  # x y z vis
    norm[2] = np.nan                                                                          # nobody
    expected = np.stack([norm[..., 0] * w, norm[..., 1] * h, norm[..., 3]], -1)
    expected[2] = [np.nan, np.nan, 0]

    np.savez(tmp_path / "mp.npz", landmarks=norm, image_size=np.array([w, h]))
    kf = read_keypoints(tmp_path / "mp.npz")
    assert kf.layout == "blazepose33" and kf.image_size == (w, h)
    np.testing.assert_allclose(kf.keypoints, expected, rtol=1e-6)

    frames = [None if t == 2 else [{"x": p[0], "y": p[1], "z": p[2], "visibility": p[3]} for p in norm[t]]
              for t in range(T)]
    (tmp_path / "mp.json").write_text(json.dumps({"image_size": [w, h], "landmarks": frames}))
    np.testing.assert_allclose(read_keypoints(tmp_path / "mp.json").keypoints, expected, rtol=1e-6)

    (tmp_path / "bare.json").write_text(json.dumps([f if f is None else [[d["x"], d["y"], d["z"], d["visibility"]]
                                                                         for d in f] for f in frames]))
    with pytest.raises(KeypointError) as e:
        read_keypoints(tmp_path / "bare.json")
    assert "bare.json" in str(e.value) and "image_size" in str(e.value)
    np.testing.assert_allclose(read_keypoints(tmp_path / "bare.json", image_size=(w, h)).keypoints, expected,
                               rtol=1e-6)

    np.savez(tmp_path / "mp32.npz", landmarks=norm[:, :32], image_size=np.array([w, h]))
    with pytest.raises(KeypointError) as e:
        read_keypoints(tmp_path / "mp32.npz")
    assert "mp32.npz" in str(e.value) and "(5, 32, 4)" in str(e.value)


def test_plain_npz_needs_a_layout_that_fits(tmp_path):
    rng = np.random.default_rng(11)
    kp = rng.uniform(0, 500, (7, 17, 3))
    kp[3, 5] = 0                                       # (0, 0, 0): undetected
    np.savez(tmp_path / "kp.npz", keypoints=kp, image_size=np.array([640, 480]))
    with pytest.raises(KeypointError) as e:
        read_keypoints(tmp_path / "kp.npz")
    assert "kp.npz" in str(e.value) and "(7, 17, 3)" in str(e.value)
    kf = read_keypoints(tmp_path / "kp.npz", layout="coco17")
    expected = kp.astype(np.float32)
    expected[3, 5] = [np.nan, np.nan, 0]
    np.testing.assert_array_equal(kf.keypoints, expected)
    assert kf.image_size == (640, 480) and kf.layout == "coco17"
    with pytest.raises(KeypointError) as e:
        read_keypoints(tmp_path / "kp.npz", layout="body25")
    assert "kp.npz" in str(e.value) and "(7, 17, 3)" in str(e.value) and "body25" in str(e.value)

    np.savez(tmp_path / "xy.npz", keypoints=kp[..., :2], layout="h36m17")
    kf = read_keypoints(tmp_path / "xy.npz")
    assert kf.layout == "h36m17" and kf.image_size is None
    np.testing.assert_array_equal(kf.keypoints[..., 2], 1.0)        # no confidence: all observed
    with pytest.raises(KeypointError, match="says layout"):
        read_keypoints(tmp_path / "xy.npz", layout="coco17")

    np.savez(tmp_path / "other.npz", poses=kp)
    with pytest.raises(KeypointError, match=r"other\.npz.*'keypoints'.*poses"):
        read_keypoints(tmp_path / "other.npz")


def test_videopose3d_custom_npz(tmp_path):
    kp = np.random.default_rng(12).uniform(0, 1000, (9, 17, 2)).astype(np.float32)
    np.savez_compressed(tmp_path / "data_2d_custom_myvideos.npz",
                        positions_2d={"walk.mp4": {"custom": [kp]}},
                        metadata={"layout_name": "coco", "num_joints": 17,
                                  "video_metadata": {"walk.mp4": {"w": 1280, "h": 720}}})
    kf = read_keypoints(tmp_path / "data_2d_custom_myvideos.npz")
    assert kf.layout == "coco17" and kf.image_size == (1280, 720)
    np.testing.assert_array_equal(kf.keypoints[..., :2], kp)


def test_reader_errors_name_the_file(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "odd.json").write_text(json.dumps({"poses": []}))
    (tmp_path / "clip.csv").write_text("1,2,3")
    for name, needle in (("broken.json", "not valid JSON"), ("odd.json", "poses"), ("clip.csv", ".csv"),
                         ("missing.npz", "no such file")):
        with pytest.raises(KeypointError) as e:
            read_keypoints(tmp_path / name)
        assert name in str(e.value) and needle in str(e.value) and "\n" not in str(e.value)


def test_pipeline_from_file_to_model_input(tmp_path):
    """COCO results -> H36M order -> swaps repaired -> gaps filled -> normalised, shapes and ranges kept."""
    truth = frontal_sequence(30, seed=13)
    det = synth_detector("coco17", truth[..., :2], np.random.default_rng(14))
    det[..., 2] = 0.9
    det[10:13, COCO.index("left_knee"), 2] = 0.01
    entries = [{"image_id": t, "category_id": 1, "keypoints": det[t].reshape(-1).tolist(), "score": 1.0}
               for t in range(30)]
    (tmp_path / "r.json").write_text(json.dumps(entries))
    kf = read_keypoints(tmp_path / "r.json", image_size=(1000, 1000))
    kp, swapped = repair_left_right_swaps(kf.to_h36m())
    kp, filled = fill_missing(kp)
    x = normalize_to_screen(kp[..., :2], kf.image_size)
    assert x.shape == (30, 17, 2) and np.isfinite(x).all()
    assert filled[10:13, H["LKnee"]].all() and not swapped.any()
    np.testing.assert_allclose(x[:, H["RWrist"]], truth[:, H["RWrist"], :2] / 500 - 1, atol=1e-5)
