"""Multi-view geometry (poselift_core.multiview), the shipped demo capture and the MediaPipe wrapper."""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from poselift_core.keypoints import read_keypoints
from poselift_core.multiview import (
    BLAZEPOSE_SWAP_GROUPS,
    MultiViewCamera,
    _swap_hypotheses,
    load_calibration,
    project_points,
    read_qualisys_calibration,
    refine_points,
    reprojection_errors,
    save_calibration,
    triangulate_dlt,
    triangulate_views,
    undistort_points,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo_capture"
CAMS = ("cam01", "cam02", "cam03", "cam04")
# Measured on the shipped reference: per-view medians 14.3, 10.0, 16.7, 10.6 px.
MAX_MEDIAN_PX = 20.0


# ------------------------------------------------------------------ synthetic scene
def look_at(name: str, centre, target, f=1500.0, size=(1080, 1920), dist=(-0.02, 0.01, 0.001, -0.0015, 0.0)):
    """OpenCV camera at ``centre`` looking at ``target`` with world z up (rows: right, down, forward)."""
    centre, target = np.asarray(centre, float), np.asarray(target, float)
    fwd = (target - centre) / np.linalg.norm(target - centre)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    R = np.stack([right, np.cross(fwd, right), fwd])
    K = np.array([[f, 0, size[0] / 2 + 7.0], [0, f * 1.001, size[1] / 2 - 5.0], [0, 0, 1]])
    return MultiViewCamera(name, K, np.asarray(dist), R, -R @ centre, size)


def ring(n=4, radius=4.0):
    return [look_at(f"c{i}", [radius * np.cos(a), radius * np.sin(a), 1.6 + 0.2 * i], [0.0, 0.0, 1.0])
            for i, a in enumerate(np.linspace(0, 2 * np.pi, n, endpoint=False) + 0.3)]


def scene(frames=12, joints=33, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform([-0.6, -0.4, 0.1], [0.6, 0.4, 1.9], size=(frames, joints, 3))


def project_all(X, cams):
    return np.stack([project_points(X, c) for c in cams])


def opencv_project_scalar(X, cam):
    """Brown-Conrady projection written out point by point (independent of the vectorised code)."""
    Xc = cam.R @ X + cam.t
    x, y = Xc[0] / Xc[2], Xc[1] / Xc[2]
    k1, k2, p1, p2, k3 = cam.dist
    r2 = x * x + y * y
    rad = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    xd = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.array([cam.K[0, 0] * xd + cam.K[0, 1] * yd + cam.K[0, 2], cam.K[1, 1] * yd + cam.K[1, 2]])


# ------------------------------------------------------------------ lens model
def test_projection_matches_scalar_formula_and_undistortion_inverts_it():
    cams, X = ring(), scene(frames=3)
    uv = project_all(X, cams)
    for v, c in enumerate(cams):
        for f, j in [(0, 0), (1, 17), (2, 32)]:
            np.testing.assert_allclose(uv[v, f, j], opencv_project_scalar(X[f, j], c), rtol=0, atol=1e-9)
        xn = undistort_points(uv[v], c)
        Xc = c.world_to_camera(X)
        np.testing.assert_allclose(xn, Xc[..., :2] / Xc[..., 2:], atol=1e-10)


def test_points_behind_a_camera_project_to_nan():
    c = ring()[0]
    behind = c.centre - 2.0 * c.R[2]                       # two metres behind along the optical axis
    assert np.isnan(project_points(behind, c)).all()


# ------------------------------------------------------------------ triangulation
def test_dlt_recovers_exact_points_and_tolerates_pixel_noise():
    cams, X = ring(), scene()
    uv = project_all(X, cams)
    P = np.stack([c.P for c in cams])
    xn = np.stack([undistort_points(uv[v], c) for v, c in enumerate(cams)])
    np.testing.assert_allclose(triangulate_dlt(xn, P), X, atol=1e-9)

    noisy = uv + np.random.default_rng(1).normal(scale=1.0, size=uv.shape)
    tri = triangulate_views(noisy, np.ones(uv.shape[:-1]), cams)
    err_mm = 1000 * np.linalg.norm(tri.points - X, axis=-1)
    # 1 px at 4 m with f = 1500 px is about 2.7 mm per view; four views average it down.
    assert np.median(err_mm) < 3.0 and err_mm.max() < 15.0
    # Residuals: below the noise's own median (1.18 px for unit Gaussian noise in 2D), as the fit absorbs
    # 3 of each point's 8 degrees of freedom, but of its order.
    assert np.all((tri.median_error() > 0.6) & (tri.median_error() < 1.18))


def test_zero_weight_or_missing_view_is_ignored_and_two_views_are_needed():
    cams, X = ring(), scene(frames=4)
    uv = project_all(X, cams)
    conf = np.ones(uv.shape[:-1])
    garbage = uv.copy()
    garbage[2] += 300.0
    conf_drop = conf.copy()
    conf_drop[2] = 0.0
    np.testing.assert_allclose(triangulate_views(garbage, conf_drop, cams).points, X, atol=1e-8)
    missing = uv.copy()
    missing[1, 0, 5] = np.nan
    np.testing.assert_allclose(triangulate_views(missing, conf, cams).points, X, atol=1e-8)
    one_view = conf.copy()
    one_view[1:, 0, 3] = 0.0
    assert np.isnan(triangulate_views(uv, one_view, cams).points[0, 3]).all()


def test_swap_hypotheses_cover_each_labelling_up_to_a_global_mirror_once():
    for V in (2, 3, 4, 5):
        h = _swap_hypotheses(V)
        assert len(h) == 2 ** (V - 1)
        keys = {tuple(row) for row in h} | {tuple(~row) for row in h}
        assert keys == set(itertools.product([False, True], repeat=V))
        assert not h[0].any()                              # the detector's own labels are a hypothesis


def test_left_right_swaps_in_one_view_are_repaired():
    cams, X = ring(), scene(frames=20)
    rng = np.random.default_rng(2)
    uv = project_all(X, cams) + rng.normal(scale=0.5, size=(4, 20, 33, 2))
    conf = np.ones(uv.shape[:-1])
    names = [g[0] for g in BLAZEPOSE_SWAP_GROUPS]
    truth = np.zeros((4, 20, 3), dtype=bool)
    for view, group, frames in [(1, "arms", slice(5, 13)), (3, "legs", slice(9, 16)), (2, "face", slice(0, 3))]:
        g = names.index(group)
        left, right = map(list, BLAZEPOSE_SWAP_GROUPS[g][1:])
        uv[view, frames, left + right] = uv[view, frames, right + left]
        truth[view, frames, g] = True

    plain = triangulate_views(uv, conf, cams)
    fixed = triangulate_views(uv, conf, cams, swap_groups=BLAZEPOSE_SWAP_GROUPS)
    np.testing.assert_array_equal(fixed.swapped, truth)
    np.testing.assert_array_equal(fixed.swap_counts(), truth.sum(1))
    err_fixed = np.linalg.norm(fixed.points - X, axis=-1)
    err_plain = np.linalg.norm(plain.points - X, axis=-1)
    assert err_fixed.max() < 0.01                          # metres
    assert err_plain.max() > 0.05                          # the swaps did damage without the repair
    assert fixed.median_error().max() < 1.0


def test_refinement_does_not_increase_the_weighted_pixel_error():
    cams, X = ring(), scene(frames=6)
    rng = np.random.default_rng(3)
    uv = project_all(X, cams) + rng.normal(scale=2.0, size=(4, 6, 33, 2))
    w = rng.uniform(0.3, 1.0, size=uv.shape[:-1])
    xn = np.stack([undistort_points(uv[v], c) for v, c in enumerate(cams)])
    X0 = triangulate_dlt(xn, np.stack([c.P for c in cams]), w)
    X1 = refine_points(X0, xn, cams, w)

    def cost(Xs):   # weighted squared error in undistorted pixels, computed by projecting without distortion
        out = 0.0
        for v, c in enumerate(cams):
            Xc = c.world_to_camera(Xs)
            out = out + (w[v] * (c.K[0, 0] ** 2) * ((Xc[..., :2] / Xc[..., 2:] - xn[v]) ** 2).sum(-1))
        return out
    assert np.all(cost(X1) <= cost(X0) * (1 + 1e-3) + 1e-9)
    assert cost(X1).sum() < cost(X0).sum()


def test_outlier_view_is_dropped():
    cams, X = ring(), scene(frames=3)
    uv = project_all(X, cams)
    uv[0, 1, 7] += [120.0, -80.0]
    tri = triangulate_views(uv, np.ones(uv.shape[:-1]), cams, outlier_px=30.0)
    assert not tri.used[0, 1, 7] and tri.used.sum() == tri.used.size - 1
    np.testing.assert_allclose(tri.points, X, atol=1e-6)


def test_bad_shapes_raise_one_clear_error():
    cams = ring()
    with pytest.raises(ValueError, match="uv has shape"):
        triangulate_views(np.zeros((3, 2, 33, 2)), np.ones((3, 2, 33)), cams)
    with pytest.raises(ValueError, match="conf has shape"):
        triangulate_views(np.zeros((4, 2, 33, 2)), np.ones((4, 2, 32)), cams)
    with pytest.raises(ValueError, match="R is not a rotation"):
        MultiViewCamera("x", np.eye(3), np.zeros(5), 2 * np.eye(3), np.zeros(3), (10, 10))
    uv, conf = project_all(scene(frames=2), cams), np.ones((4, 2, 33))
    with pytest.raises(ValueError, match=r"swap group 'hands': left/right pair \(15, 40\) out of range for 33"):
        triangulate_views(uv, conf, cams, swap_groups=[("arms", [11], [12]), ("hands", [15], [40])])
    with pytest.raises(ValueError, match="swap group 'arms': left has 2 joints but right has 1"):
        triangulate_views(uv, conf, cams, swap_groups=[("arms", [11, 13], [12])])


# ------------------------------------------------------------------ calibration files
QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration><cameras>
  <camera serial="camA">
    <fov_video bottom="{bottom}" left="{left}" right="{right}" top="{top}"/>
    <transform r11="{M[0][0]}" r12="{M[0][1]}" r13="{M[0][2]}" r21="{M[1][0]}" r22="{M[1][1]}" r23="{M[1][2]}"
               r31="{M[2][0]}" r32="{M[2][1]}" r33="{M[2][2]}" x="{C[0]}" y="{C[1]}" z="{C[2]}"/>
    <intrinsic centerPointU="{cu}" centerPointV="{cv}" focalLengthU="{fu}" focalLengthV="{fv}"
               radialDistortion1="{k1}" radialDistortion2="0" radialDistortion3="0"
               tangentalDistortion1="0" tangentalDistortion2="0"/>
  </camera>
</cameras></calibration>
"""


def test_qualisys_reader_units_offsets_and_axes(tmp_path):
    truth = look_at("camA", [2.0, -3.0, 1.8], [0.0, 0.0, 1.0])
    # Qualisys' camera frame is OpenCV's turned half a turn about x: M = Rx(pi) R.
    M = np.diag([1.0, -1.0, -1.0]) @ truth.R
    left, top = 16, 8
    path = tmp_path / "calib.qca.txt"
    path.write_text(QCA.format(M=M.tolist(), C=(truth.centre * 1000).tolist(), left=left, top=top,
                               right=left + 1079, bottom=top + 1919,
                               cu=64 * (truth.K[0, 2] + left), cv=64 * (truth.K[1, 2] + top),
                               fu=64 * truth.K[0, 0], fv=64 * truth.K[1, 1], k1=64 * -0.03))
    (cam,) = read_qualisys_calibration(path)
    assert cam.name == "camA" and cam.image_size == (1080, 1920)
    np.testing.assert_allclose(cam.K, truth.K, atol=1e-9)
    np.testing.assert_allclose(cam.dist, [-0.03, 0, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(cam.R, truth.R, atol=1e-9)
    np.testing.assert_allclose(cam.centre, truth.centre, atol=1e-9)
    target = np.array([0.0, 0.0, 1.0])
    assert cam.world_to_camera(target)[2] > 0                            # the target is in front

    path.write_text(path.read_text().replace('focalLengthV=', 'focalLengthW='))
    with pytest.raises(ValueError, match="camA.*focalLengthV"):
        read_qualisys_calibration(path)


def test_calibration_json_round_trip(tmp_path):
    cams = ring()
    save_calibration(cams, tmp_path / "c.json", source="test")
    back = load_calibration(tmp_path / "c.json")
    for a, b in zip(cams, back):
        assert a.name == b.name and a.image_size == b.image_size
        for k in ("K", "dist", "R", "t"):
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    (tmp_path / "bad.json").write_text(json.dumps({"cameras": [{"name": "x"}]}))
    with pytest.raises(ValueError, match="bad.json.*lacks"):
        load_calibration(tmp_path / "bad.json")


# ------------------------------------------------------------------ the shipped demo capture
@pytest.fixture(scope="module")
def demo():
    if not (DEMO / "reference.npz").exists():
        pytest.skip(f"{DEMO} not built (tools/build_demo_capture.py)")
    cams = load_calibration(DEMO / "calibration.json")
    files = [read_keypoints(DEMO / "detections" / f"{c}.npz") for c in CAMS]
    with np.load(DEMO / "reference.npz") as z:
        ref = {k: z[k] for k in z.files}
    return cams, files, ref


def test_demo_detections_are_readable_and_match_the_calibration(demo):
    cams, files, ref = demo
    assert [c.name for c in cams] == list(CAMS) == ref["camera_names"].tolist()
    for c, f in zip(cams, files):
        assert f.layout == "blazepose33" and f.keypoints.shape == (100, 33, 3)
        assert tuple(f.image_size) == c.image_size                     # 1080 or 1088 wide, as decoded
    assert [c.image_size[0] for c in cams] == [1080, 1080, 1088, 1088]


def test_demo_reference_is_in_front_of_every_camera_and_inside_its_image(demo):
    cams, _, ref = demo
    X = ref["joints_33"].astype(np.float64)
    assert np.isfinite(X).all()
    for c in cams:
        assert (c.world_to_camera(X)[..., 2] > 1.0).all()             # metres: the person stands away from it
        uv = project_points(X, c)
        inside = (uv >= 0).all(-1) & (uv[..., 0] < c.image_size[0]) & (uv[..., 1] < c.image_size[1])
        assert inside.mean() > 0.99


def test_demo_reference_is_an_upright_rigid_person(demo):
    _, _, ref = demo
    X = ref["joints_33"]
    assert (X[:, 0, 2] > X[:, [27, 28], 2].max(1) + 0.8).all()        # nose well above the ankles (z up)
    assert abs(np.median(X[:, 29:33, 2])) < 0.15                     # heels and toes near the floor z = 0
    for a, b in [(25, 27), (26, 28), (23, 25), (24, 26), (13, 15), (14, 16)]:   # shanks, thighs, forearms
        length = np.linalg.norm(X[:, a] - X[:, b], axis=-1)
        assert 0.15 < np.median(length) < 0.6 and length.std() < 0.03


def test_demo_reprojection_error_recomputed_from_the_shipped_files(demo):
    cams, files, ref = demo
    kp = np.stack([f.keypoints for f in files]).astype(np.float64)
    names = [g[0] for g in BLAZEPOSE_SWAP_GROUPS]
    assert ref["group_names"].tolist() == names
    # Relabel the detections as the reference says, then measure independently of the stored errors.
    idx = np.broadcast_to(np.arange(33), (4, 100, 33)).copy()
    for g, (_, left, right) in enumerate(BLAZEPOSE_SWAP_GROUPS):
        s = ref["swapped"][:, :, g][..., None]
        idx[..., list(left)] = np.where(s, list(right), idx[..., list(left)])
        idx[..., list(right)] = np.where(s, list(left), idx[..., list(right)])
    uv = np.take_along_axis(kp[..., :2], idx[..., None], axis=2)
    err = reprojection_errors(ref["joints_33"].astype(np.float64), cams, uv)
    used = ref["used"]
    np.testing.assert_allclose(err[used], ref["reprojection_error"][used], rtol=1e-3, atol=0.05)
    medians = np.array([np.median(err[v][used[v]]) for v in range(4)])
    assert (medians < MAX_MEDIAN_PX).all(), medians
    assert used.mean() > 0.95


def test_demo_reference_is_reproduced_by_triangulating_the_detections(demo):
    cams, files, ref = demo
    kp = np.stack([f.keypoints for f in files]).astype(np.float64)
    tri = triangulate_views(kp[..., :2], kp[..., 2], cams, swap_groups=BLAZEPOSE_SWAP_GROUPS, outlier_px=50.0)
    np.testing.assert_array_equal(tri.swapped, ref["swapped"])
    np.testing.assert_allclose(tri.points, ref["joints_33"], atol=1e-3)   # float32 storage, metres
    # cam02 mislabels the whole body in a stretch of frames; no other view needs relabelling.
    counts = tri.swap_counts()
    assert counts[[0, 2, 3]].sum() == 0 and (counts[1] >= 20).all()
    # Without the repair cam02's error rises.
    plain = triangulate_views(kp[..., :2], kp[..., 2], cams, outlier_px=50.0)
    assert plain.median_error()[1] > tri.median_error()[1]


def test_demo_h36m17_reference_follows_the_joint_recipe(demo):
    _, _, ref = demo
    X, H = ref["joints_33"].astype(np.float64), ref["joints_h36m17"].astype(np.float64)
    np.testing.assert_allclose(H[:, 0], (X[:, 23] + X[:, 24]) / 2, atol=1e-6)     # pelvis = mid-hips
    np.testing.assert_allclose(H[:, 8], (X[:, 11] + X[:, 12]) / 2, atol=1e-6)     # thorax = mid-shoulders
    np.testing.assert_allclose(H[:, [1, 2, 3, 4, 5, 6]], X[:, [24, 26, 28, 23, 25, 27]], atol=1e-6)
    np.testing.assert_allclose(H[:, [11, 12, 13, 14, 15, 16]], X[:, [11, 13, 15, 12, 14, 16]], atol=1e-6)
    assert (H[:, 10, 2] > H[:, 9, 2]).all()                                       # head top above the nose


# ------------------------------------------------------------------ against the pose2sim wheel
def _wheel() -> Path | None:
    env = os.environ.get("POSELIFT_POSE2SIM_WHEEL")
    if env:
        return Path(env) if Path(env).is_file() else None
    found = sorted((Path.home() / ".cache" / "poselift" / "pose2sim").glob("pose2sim-*.whl"))
    return found[-1] if found else None


def _mediapipe_python() -> str | None:
    """An interpreter that imports mediapipe: this one, else the project's .venv-video."""
    for py in (sys.executable, str(ROOT / ".venv-video" / "bin" / "python")):
        if Path(py).exists() and subprocess.run([py, "-c", "import mediapipe, cv2"],
                                                capture_output=True).returncode == 0:
            return py
    return None


@pytest.fixture(scope="module")
def wheel():
    w = _wheel()
    if w is None:
        pytest.skip("no pose2sim wheel (set POSELIFT_POSE2SIM_WHEEL or run tools/build_demo_capture.py)")
    return w


def test_shipped_calibration_is_the_wheels_qualisys_file(wheel, tmp_path, demo):
    cams, _, _ = demo
    with zipfile.ZipFile(wheel) as z:
        path = z.extract("Pose2Sim/Demo_SinglePerson/calibration/Calib.qca.txt", tmp_path)
    raw = read_qualisys_calibration(path)
    assert [c.name for c in raw] == list(CAMS)
    for r, c in zip(raw, cams):
        np.testing.assert_allclose(c.K, r.K)          # narrower videos lose right columns: K unchanged
        np.testing.assert_allclose(c.R, r.R, atol=1e-12)
        np.testing.assert_allclose(c.t, r.t, atol=1e-12)
        assert c.image_size[1] == r.image_size[1] and c.image_size[0] <= r.image_size[0]


def test_redetecting_frames_matches_the_shipped_detections(wheel, tmp_path, demo):
    py = _mediapipe_python()
    if py is None:
        pytest.skip("mediapipe==0.10.21 not importable here or in .venv-video")
    _, files, _ = demo
    with zipfile.ZipFile(wheel) as z:
        video = z.extract("Pose2Sim/Demo_SinglePerson/videos/cam03.mp4", tmp_path)
    out = tmp_path / "cam03.npz"
    # MediaPipe tracks and smooths across frames, so a re-run starts at frame 0 like the shipped one.
    code = ("import sys; from poselift_core.video import detect_video; "
            "detect_video(sys.argv[1], sys.argv[2], progress=False, max_frames=8)")
    subprocess.run([py, "-c", code, video, str(out)], check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    new = read_keypoints(out)
    assert new.keypoints.shape == (8, 33, 3) and tuple(new.image_size) == (1088, 1920)
    d = np.linalg.norm(new.keypoints[..., :2] - files[2].keypoints[:8, :, :2], axis=-1)
    assert np.median(d) < 1.0 and np.percentile(d, 95) < 3.0, (np.median(d), d.max())
