"""Lifting your own clip: the pipeline, its CLI (lift, detect), the HTML page and the multi-view demo check."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from poselift_core import lift as L
from poselift_core.camera import project_to_image, world_to_camera
from poselift_core.data.h36m import H36M_CAMERAS
from poselift_core.keypoints import to_h36m
from poselift_core.metrics import mpjpe, p_mpjpe
from poselift_core.skeleton import H36M_17

ROOT = Path(__file__).resolve().parents[1]
H = {n: i for i, n in enumerate(H36M_17.names)}
COCO = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
        "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle"]
FROM_H36M = {"nose": "Neck/Nose", "left_shoulder": "LShoulder", "right_shoulder": "RShoulder", "left_elbow": "LElbow",
             "right_elbow": "RElbow", "left_wrist": "LWrist", "right_wrist": "RWrist", "left_hip": "LHip",
             "right_hip": "RHip", "left_knee": "LKnee", "right_knee": "RKnee", "left_ankle": "LFoot",
             "right_ankle": "RFoot"}


def _run(*args, env=None):
    import os
    return subprocess.run([sys.executable, "-m", "poselift_core", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **(env or {})})


def _gt_clip(frames=120):
    from poselift_core.data.open_benchmark import OPEN_TEST_SUBJECTS, read_open_mm
    pos, _, _ = read_open_mm()
    clip = pos[OPEN_TEST_SUBJECTS[0]][sorted(pos[OPEN_TEST_SUBJECTS[0]])[0]]
    world = clip[: frames * 4 : 4].astype(np.float64) / 1000.0
    cam = H36M_CAMERAS["S1"][0]
    X = world_to_camera(world, cam)
    return X - X[:, :1], project_to_image(X, cam), cam


def coco_from_h36m(px: np.ndarray) -> np.ndarray:
    """COCO-17 pixels + confidence whose to_h36m gives back ``px``'s limbs, nose and head top: the ears are
    placed so that the head-top recipe (ears + 0.5 (ears - mid-shoulders)) lands on H36M's head joint."""
    out = np.zeros((len(px), 17, 3))
    for c, h in FROM_H36M.items():
        out[:, COCO.index(c), :2] = px[:, H[h]]
    thorax = (px[:, H["LShoulder"]] + px[:, H["RShoulder"]]) / 2
    ears = (px[:, H["Head"]] + 0.5 * thorax) / 1.5
    for c in ("left_ear", "right_ear", "left_eye", "right_eye"):
        out[:, COCO.index(c), :2] = ears
    out[..., 2] = 0.9
    return out


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_lift_keypoints_file_writes_poses_and_page(tmp_path):
    gt, px, _ = _gt_clip(40)
    kp = coco_from_h36m(px)
    kp[5, COCO.index("left_wrist")] = (np.nan, np.nan, 0.0)          # a gap the pipeline must fill
    src = tmp_path / "clip.npz"
    np.savez(src, keypoints=kp.astype(np.float32), image_size=np.array([1000, 1002]))
    r = _run("lift", src, "--layout", "coco17", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "out" / "poses_3d.npz") as z:
        poses, k2d = z["poses_3d"], z["keypoints_2d"]
        assert str(z["model"]) == "modgcn-open" and tuple(z["image_size"]) == (1000, 1002)
        assert z["filled"][5, H["LWrist"]] and z["filled"].sum() == 1
    assert poses.shape == (40, 17, 3) and poses.dtype == np.float32 and k2d.shape == (40, 17, 3)
    assert np.abs(poses[:, 0]).max() < 1e-6                               # root-relative
    # metres, and a human: thigh lengths of the lifted poses near the GT's (about 0.45 m, not 450 or 0.45 mm)
    thigh = np.linalg.norm(poses[:, H["RKnee"]] - poses[:, H["RHip"]], axis=-1)
    thigh_gt = np.linalg.norm(gt[:, H["RKnee"]] - gt[:, H["RHip"]], axis=-1)
    assert abs(np.median(thigh) - np.median(thigh_gt)) < 0.1
    doc = json.loads((tmp_path / "out" / "poses_3d.json").read_text())
    np.testing.assert_allclose(np.array(doc["poses_3d"]), poses, atol=1e-4)
    assert doc["joint_names"] == list(H36M_17.names) and doc["units"] == "metres"
    html = (tmp_path / "out" / "index.html").read_text()
    assert (tmp_path / "out" / "plotly.min.js").stat().st_size > 1_000_000      # offline: plotly.js next to it
    assert 'src="plotly.min.js"' in html and "cdn.plot.ly" not in html
    names = set(re.findall(r'"name":\s*"(\d+)"', html))
    assert {str(i) for i in range(40)} <= names                            # one animation frame per video frame
    assert html.count('"type":"scatter3d"') + html.count('"type": "scatter3d"') >= 40 * 4
    # the same folder again is refused (exit 2, one line), --overwrite replaces it
    again = _run("lift", src, "--layout", "coco17", "--out", tmp_path / "out")
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1 and "--overwrite" in again.stderr
    assert _run("lift", src, "--layout", "coco17", "--out", tmp_path / "out", "--overwrite").returncode == 0


def test_cli_lift_wrong_layout_is_one_line_naming_file_and_shape(tmp_path):
    src = tmp_path / "wrong.npz"
    np.savez(src, keypoints=np.zeros((7, 17, 3), np.float32), image_size=np.array([640, 480]))
    r = _run("lift", src, "--layout", "blazepose33", "--out", tmp_path / "o")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert "wrong.npz" in lines[0] and "(7, 17, 3)" in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "o" / "poses_3d.npz").exists()


def test_cli_detect_without_mediapipe_says_what_to_install(tmp_path):
    r = _run("detect", tmp_path / "clip.mp4", "--out", tmp_path / "k.npz", env={"POSELIFT_VIDEO_PYTHON": ""})
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and 'pip install "poselift-core[video]"' in lines[0], r.stderr


# ---------------------------------------------------------------------------------------------- pipeline
def test_reimaging_maps_rays_to_the_training_camera():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) * [0.5, 0.8, 0.3] + [0.2, 0.1, 4.0]
    K = np.array([[1681.0, 0, 533.0], [0, 1680.0, 948.0], [0, 0, 1]])
    uv = X[:, :2] / X[:, 2:] * K[[0, 1], [0, 1]] + K[:2, 2]
    got = L.reimage_to_training_camera(uv, K)
    # what the mean Human3.6M camera (no distortion) sees: 2 f / w times the ray plus its normalised centre
    cams = H36M_CAMERAS["S1"]
    f = np.mean([c.focal[0] / c.res_w + c.focal[1] / c.res_w for c in cams])
    c = np.mean([[2 * c.center[0] / c.res_w - 1, 2 * c.center[1] / c.res_w - c.res_h / c.res_w] for c in cams], 0)
    np.testing.assert_allclose(got, X[:, :2] / X[:, 2:] * f + c, atol=1e-9)


def test_aim_turns_the_median_root_to_the_training_root():
    rng = np.random.default_rng(1)
    rays = rng.normal(size=(30, 17, 2)) * 0.05 + [0.3, 0.2]
    turned, R = L.aim_at_training_root(rays)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    target = (L.TRAIN_ROOT_2D - L.TRAIN_CENTRE_NORM) / L.TRAIN_FOCAL_NORM
    np.testing.assert_allclose(np.median(turned[:, 0], axis=0), target, atol=1e-3)
    # a turn about the camera centre: every ray keeps its angle to every other ray
    def unit(r):
        v = np.concatenate([r, np.ones(r.shape[:-1] + (1,))], -1)
        return v / np.linalg.norm(v, axis=-1, keepdims=True)
    a, b = unit(rays[0]), unit(turned[0])
    np.testing.assert_allclose(a @ a.T, b @ b.T, atol=1e-12)


def test_training_statistics_match_the_open_benchmark():
    from poselift_core.recipes import get_recipe
    from poselift_core.sources import load_data
    train, _, _ = load_data(get_recipe("gcn-modulated-gt", joints=17), "open", need_train=True)
    x = train.x2d.numpy().astype(np.float64)
    assert np.median(L.pose_size_2d(x)) == pytest.approx(L.TRAIN_SIZE_2D, rel=0.01)
    np.testing.assert_allclose(np.median(x[:, 0], axis=0), L.TRAIN_ROOT_2D, atol=0.01)


def test_projected_ground_truth_lifts_well_through_the_pipeline():
    """GT 2D of a test clip, as h36m17 'detections' of a camera with known K: the pipeline's output agrees with
    the truth about as well as the model does on GT 2D (its test P-MPJPE is about 48 mm), and its output is the
    model's own output on the dataset's normalisation when re-imaging is the only step."""
    from poselift_core.camera import normalize_screen_coordinates
    from poselift_core.pretrained import load
    gt, px, cam = _gt_clip(150)
    kp = np.concatenate([px, np.ones(px.shape[:-1] + (1,))], -1)
    K = np.array([[cam.focal[0], 0, cam.center[0]], [0, cam.focal[1], cam.center[1]], [0, 0, 1]])
    net = load("modgcn-open")
    res = L.lift_keypoints(kp, "h36m17", (cam.res_w, cam.res_h), options=L.LiftOptions(K=K), lifter=net)
    assert p_mpjpe(res.poses_3d.astype(np.float64), gt) < 0.055
    assert mpjpe(res.poses_3d.astype(np.float64), gt) < 0.075
    plain = L.lift_keypoints(kp, "h36m17", (cam.res_w, cam.res_h), lifter=net, options=L.LiftOptions(
        K=K, standardise=False, aim=False, flip=False))
    with torch.no_grad():
        direct = net(torch.as_tensor(normalize_screen_coordinates(px, cam.res_w, cam.res_h), dtype=torch.float32))
    direct = (direct - direct[:, :1]).numpy()
    assert np.abs(plain.poses_3d - direct).mean() < 0.006          # re-imaging moves points by ~0.3 % focal


def test_temporal_models_get_centred_edge_padded_windows():
    class Window(torch.nn.Module):       # returns its window's centre frame, lifted to 3D with z = frame value
        receptive_field = 5

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):            # (B, 5, 17, 2) -> (B, 1, 17, 3)
            c = x[:, 2:3]
            return torch.cat([c, c[..., :1]], -1) + self.w
    T = 9
    x = np.tile(np.arange(T, dtype=np.float32)[:, None, None], (1, 17, 2))
    x[:, 0] = 0                             # root at the origin so root-centring changes nothing
    y = L.lift_normalized(Window(), x)
    np.testing.assert_array_equal(y[:, 1, 2], np.arange(T))       # frame t's output comes from frame t


def test_swap_repair_undoes_a_swapped_run():
    _, px, _ = _gt_clip(60)
    kp = coco_from_h36m(px)
    bad = kp.copy()
    for a, b in (("left_wrist", "right_wrist"), ("left_elbow", "right_elbow"), ("left_shoulder", "right_shoulder")):
        bad[20:30, [COCO.index(a), COCO.index(b)]] = bad[20:30, [COCO.index(b), COCO.index(a)]]
    fixed = L.prepare_keypoints(bad, "coco17", (1000, 1002), L.LiftOptions())
    clean = L.prepare_keypoints(kp, "coco17", (1000, 1002), L.LiftOptions())
    assert fixed.swapped[20:30, 0].all() and not fixed.swapped[:20, 0].any()
    np.testing.assert_allclose(fixed.keypoints_2d[..., :2], to_h36m(kp, "coco17")[..., :2], atol=1e-3)
    np.testing.assert_allclose(fixed.x2d, clean.x2d, atol=1e-5)


# ---------------------------------------------------------------------------------------------- demo check
def test_demo_check_numbers_are_recomputed_from_its_arrays():
    from poselift_core import demo_check as D
    if not (D.DEMO_DIR / "reference.npz").is_file():
        pytest.skip("data/demo_capture is absent")
    mean_pose = np.zeros((17, 3))
    mean_pose[:, 1] = np.linspace(-0.5, 0.5, 17)
    res = D.check_demo(mean_pose=mean_pose)
    with np.load(D.DEMO_DIR / "reference.npz") as z:
        ref_world, err, used = z["joints_h36m17"].astype(np.float64), z["reprojection_error"], z["used"]
    from poselift_core.multiview import load_calibration
    cams = load_calibration(D.DEMO_DIR / "calibration.json")
    assert [r["view"] for r in res.rows] == [c.name for c in cams]
    for v, (row, cam) in enumerate(zip(res.rows, cams)):
        ref = ref_world @ cam.R.T + cam.t                   # world -> camera, written out again
        ref = ref - ref[:, :1]
        np.testing.assert_allclose(res.references[cam.name], ref, atol=1e-9)
        pred = res.predictions[cam.name].astype(np.float64)
        assert row["mpjpe"] == pytest.approx(1000 * mpjpe(pred, ref), rel=1e-6)
        assert row["p_mpjpe"] == pytest.approx(1000 * p_mpjpe(pred, ref), rel=1e-6)
        avg = np.ascontiguousarray(np.broadcast_to(ref.mean(0), ref.shape))
        assert row["clip_average_p_mpjpe"] == pytest.approx(1000 * p_mpjpe(avg, ref), rel=1e-6)
        mp = np.ascontiguousarray(np.broadcast_to(mean_pose, ref.shape))
        assert row["mean_pose_mpjpe"] == pytest.approx(1000 * mpjpe(mp, ref), rel=1e-6)
        assert row["triangulation_px"] == pytest.approx(np.median(err[v][used[v]]), rel=1e-6)
        assert row["p_mpjpe"] <= row["mpjpe"]


def test_demo_check_scores_a_given_lifter_like_the_named_one():
    from poselift_core import demo_check as D
    if not (D.DEMO_DIR / "reference.npz").is_file():
        pytest.skip("data/demo_capture is absent")
    mean_pose = np.zeros((17, 3))
    named = D.check_demo(model="modgcn-open", mean_pose=mean_pose)
    from poselift_core.lift import load_lifter
    net = load_lifter("modgcn-open")
    given = D.check_demo(lifter=net, mean_pose=mean_pose)
    assert [r["p_mpjpe"] for r in given.rows] == pytest.approx([r["p_mpjpe"] for r in named.rows], abs=1e-9)
    # a different model gives different numbers: the lifter is really the one used
    torch.manual_seed(0)
    for p in net.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    moved = D.check_demo(lifter=net, mean_pose=mean_pose)
    assert all(abs(a["p_mpjpe"] - b["p_mpjpe"]) > 0.1 for a, b in zip(moved.rows, named.rows))


def test_the_shipped_lifter_meets_the_demo_targets():
    """Chapter 7's target on the multi-view check: P-MPJPE at most 90 mm in every view and below the clip's own
    average pose (an oracle) in every view, with the shipped weights and the default pipeline."""
    from poselift_core import demo_check as D
    if not (D.DEMO_DIR / "reference.npz").is_file():
        pytest.skip("data/demo_capture is absent")
    rows = D.check_demo(model="modgcn-open", mean_pose=np.zeros((17, 3))).rows
    assert len(rows) == 4
    for r in rows:
        assert r["p_mpjpe"] <= 90.0, r
        assert r["p_mpjpe"] < r["clip_average_p_mpjpe"], r
