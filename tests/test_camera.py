import math

import numpy as np
import pytest
import torch

from poselift_core.camera import (Camera, axis_angle_to_matrix, camera_to_world, image_coordinates,
                                  normalize_screen_coordinates, project, project_normalized, project_to_image,
                                  quaternion_to_matrix, world_to_camera)
from poselift_core.data.h36m import H36M_CAMERAS  # real calibrations as test cameras

ALL_CAMERAS = [(s, i) for s in H36M_CAMERAS for i in range(4)]


# ------------------------------------------------------------------ independent reference code
def qmul(a, b):
    """Hamilton product of two (w, x, y, z) quaternions, scalar arithmetic."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw)


def ref_rotate(q, v):
    """q v q* with the quaternion product (no matrices)."""
    n = math.sqrt(sum(c * c for c in q))
    q = tuple(c / n for c in q)
    conj = (q[0], -q[1], -q[2], -q[3])
    return np.array(qmul(qmul(q, (0.0, *v)), conj)[1:])


def ref_world_to_camera(p, cam):
    conj = (cam.orientation[0], -cam.orientation[1], -cam.orientation[2], -cam.orientation[3])
    return ref_rotate(conj, [p[i] - cam.translation[i] for i in range(3)])


def ref_pixel(p, cam):
    """The Human3.6M projection (chapter 2) step by step for one point, plain floats."""
    X, Y, Z = (float(v) for v in p)
    x, y = min(max(X / Z, -1.0), 1.0), min(max(Y / Z, -1.0), 1.0)
    k1, k2, k3 = cam.radial
    p1, p2 = cam.tangential
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
    tan = p1 * x + p2 * y
    xd, yd = x * (radial + tan) + p1 * r2, y * (radial + tan) + p2 * r2
    return np.array([cam.focal[0] * xd + cam.center[0], cam.focal[1] * yd + cam.center[1]])


def random_camera_points(rng, n=50):
    return np.stack([rng.uniform(-2, 2, n), rng.uniform(-2, 2, n), rng.uniform(3, 8, n)], axis=1)


# ------------------------------------------------------------------ rotations
@pytest.mark.parametrize("subject,idx", ALL_CAMERAS[::3])
def test_quaternion_matrix_matches_quaternion_product(subject, idx):
    cam = H36M_CAMERAS[subject][idx]
    rng = np.random.default_rng(0)
    R = quaternion_to_matrix(np.array(cam.orientation))
    for v in rng.normal(size=(5, 3)):
        np.testing.assert_allclose(R @ v, ref_rotate(cam.orientation, v), atol=1e-12)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)


def test_quaternion_to_matrix_is_batched_and_keeps_type():
    q = torch.tensor([cam.orientation for cam in H36M_CAMERAS["S9"]], dtype=torch.float64)
    R = quaternion_to_matrix(q)
    assert isinstance(R, torch.Tensor) and R.shape == (4, 3, 3)
    for i, cam in enumerate(H36M_CAMERAS["S9"]):
        np.testing.assert_allclose(R[i].numpy(), quaternion_to_matrix(np.array(cam.orientation)), atol=1e-15)
    # a 90 degree turn about z maps x to y
    s = math.sqrt(0.5)
    np.testing.assert_allclose(quaternion_to_matrix(np.array([s, 0, 0, s])) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_world_to_camera_matches_conjugate_quaternion_rotation():
    rng = np.random.default_rng(1)
    cam = H36M_CAMERAS["S5"][2]
    Xw = rng.normal(0, 1, size=(3, 7, 3))
    ours = world_to_camera(Xw, cam)
    assert isinstance(ours, np.ndarray)
    ref = np.array([ref_world_to_camera(p, cam) for p in Xw.reshape(-1, 3)]).reshape(Xw.shape)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    # same with explicit (R, t) and quaternion arguments, and with a float32 tensor
    np.testing.assert_allclose(world_to_camera(Xw, cam.R, cam.translation), ref, atol=1e-12)
    np.testing.assert_allclose(world_to_camera(Xw, np.array(cam.orientation), cam.translation), ref, atol=1e-12)
    t32 = world_to_camera(torch.tensor(Xw, dtype=torch.float32), cam)
    assert t32.dtype == torch.float32
    np.testing.assert_allclose(t32.numpy(), ref, atol=1e-5)


def test_world_camera_roundtrip_all_cameras():
    rng = np.random.default_rng(2)
    Xw = torch.tensor(rng.normal(0, 1, size=(10, 17, 3)))
    for subject, idx in ALL_CAMERAS:
        cam = H36M_CAMERAS[subject][idx]
        back = camera_to_world(world_to_camera(Xw, cam), cam)
        np.testing.assert_allclose(back.numpy(), Xw.numpy(), atol=1e-12)


@pytest.mark.parametrize("dtype", ["numpy", "torch"])
def test_axis_angle_matrix_matches_quaternion_product(dtype):
    # Rodrigues against the half-angle quaternion (cos t/2, sin t/2 k) applied as q v q*, scalar arithmetic
    rng = np.random.default_rng(3)
    r = rng.normal(size=(6, 3)) * rng.uniform(0.1, 3.0, size=(6, 1))
    r[0] = [0.0, 0.0, -np.pi / 2]                    # a negative angle: -90 deg about z
    v = rng.normal(size=(6, 3))
    R = axis_angle_to_matrix(r if dtype == "numpy" else torch.tensor(r))
    assert isinstance(R, np.ndarray if dtype == "numpy" else torch.Tensor) and tuple(R.shape) == (6, 3, 3)
    R = np.asarray(R)
    for i in range(6):
        t = float(np.linalg.norm(r[i]))
        q = (math.cos(t / 2), *(math.sin(t / 2) * r[i] / t))
        np.testing.assert_allclose(R[i] @ v[i], ref_rotate(q, v[i]), atol=1e-12)
    np.testing.assert_allclose(R[0] @ [1.0, 0.0, 0.0], [0.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(axis_angle_to_matrix(np.zeros((2, 3))), np.broadcast_to(np.eye(3), (2, 3, 3)))


def test_camera_centre_maps_to_camera_origin():
    cam = H36M_CAMERAS["S11"][3]
    np.testing.assert_allclose(world_to_camera(np.array(cam.translation), cam), 0, atol=1e-12)


# ------------------------------------------------------------------ projection
def test_point_on_optical_axis_projects_to_principal_point():
    for subject, idx in ALL_CAMERAS[:4]:
        cam = H36M_CAMERAS[subject][idx]
        np.testing.assert_allclose(project_to_image(np.array([0.0, 0.0, 5.0]), cam), cam.center, atol=1e-9)


def test_hand_computed_pixels():
    # no distortion: f = 1000, c = (500, 400); (1, 2, 10) -> (500 + 100, 400 + 200)
    cam = Camera("toy", 1000, 800, focal=(1000, 1000), center=(500, 400))
    np.testing.assert_allclose(project_to_image(np.array([1.0, 2.0, 10.0]), cam), [600, 600], atol=1e-12)
    # radial only: x = 0.1, y = 0, r2 = 0.01, radial = 1 + 0.1 * 0.01 = 1.001 -> u = 500 + 1000 * 0.1001
    cam = Camera("toy", 1000, 800, focal=(1000, 1000), center=(500, 400), radial=(0.1, 0, 0))
    np.testing.assert_allclose(project_to_image(np.array([1.0, 0.0, 10.0]), cam), [600.1, 400], atol=1e-9)
    # tangential only: x = 0.1, y = 0.2, r2 = 0.05, p = (0.01, 0.02): tan = 0.001 + 0.004 = 0.005
    # x_d = 0.1 * 1.005 + 0.01 * 0.05 = 0.1010, y_d = 0.2 * 1.005 + 0.02 * 0.05 = 0.2020
    cam = Camera("toy", 1000, 800, focal=(1000, 1000), center=(500, 400), tangential=(0.01, 0.02))
    np.testing.assert_allclose(project_to_image(np.array([1.0, 2.0, 10.0]), cam), [601.0, 602.0], atol=1e-9)


@pytest.mark.parametrize("subject,idx", ALL_CAMERAS[::2])
def test_projection_matches_scalar_reference(subject, idx):
    cam = H36M_CAMERAS[subject][idx]
    rng = np.random.default_rng(3)
    X = random_camera_points(rng)
    X[0] = [12.0, -9.0, 4.0]  # far outside the view: exercises the clamp to [-1, 1]
    ref = np.array([ref_pixel(p, cam) for p in X])
    np.testing.assert_allclose(project_to_image(X, cam), ref, atol=1e-9)
    out = project_to_image(torch.tensor(X), cam)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-9)


def test_clamp_changes_far_points_only():
    cam = H36M_CAMERAS["S1"][0]
    far = np.array([12.0, 0.0, 4.0])  # x = 3 before the clamp
    clamped = np.array([4.0, 0.0, 4.0])  # x = 1
    np.testing.assert_allclose(project_to_image(far, cam), project_to_image(clamped, cam))


def test_h36m_tangential_model_differs_from_opencv():
    cam = Camera("toy", 1000, 1000, focal=(1000, 1000), center=(500, 500), tangential=(0.01, 0.02))
    x, y = 0.3, 0.2
    r2 = x * x + y * y
    opencv_u = 500 + 1000 * (x + 2 * 0.01 * x * y + 0.02 * (r2 + 2 * x * x))  # Brown-Conrady
    ours = project_to_image(np.array([x, y, 1.0]), cam)
    assert abs(ours[0] - opencv_u) > 1.0


def test_linear_projection_is_pinhole_without_clamp():
    cam = H36M_CAMERAS["S7"][1]
    X = np.array([[0.3, -0.4, 5.0], [9.0, 1.0, 3.0]])
    expected = np.stack([cam.focal[0] * X[:, 0] / X[:, 2] + cam.center[0],
                         cam.focal[1] * X[:, 1] / X[:, 2] + cam.center[1]], axis=1)
    np.testing.assert_allclose(project_to_image(X, cam, distortion=False), expected, atol=1e-9)
    # distortion moves a typical joint by a few pixels at most (up to ~2.5 px on real Human3.6M frames)
    shift = np.abs(project_to_image(X[:1], cam) - expected[:1]).max()
    assert 0.01 < shift < 5


def test_batched_intrinsics_match_per_camera_projection():
    rng = np.random.default_rng(4)
    cams = H36M_CAMERAS["S8"]
    X = torch.tensor(rng.normal(0, 0.5, size=(4, 3, 17, 3)) + [0, 0, 5])  # (B, T, J, 3)
    K = torch.stack([c.intrinsics_normalized(torch.float64) for c in cams])  # (B, 9)
    out = project_normalized(X, K)
    assert out.shape == (4, 3, 17, 2)
    for b, cam in enumerate(cams):
        np.testing.assert_allclose(out[b].numpy(),
                                   project_normalized(X[b], cam.intrinsics_normalized(torch.float64)).numpy())
    with pytest.raises(ValueError, match="intrinsics"):
        project(X, torch.zeros(3, 9))
    with pytest.raises(ValueError, match="9 values"):
        project(X, torch.zeros(4, 8))


@pytest.mark.parametrize("distortion", [True, False])
def test_project_normalized_equals_normalized_pixels(distortion):
    rng = np.random.default_rng(5)
    for subject, idx in ALL_CAMERAS[::5]:
        cam = H36M_CAMERAS[subject][idx]
        X = torch.tensor(random_camera_points(rng, 20))
        direct = project_normalized(X, cam.intrinsics_normalized(torch.float64), distortion=distortion)
        via_pixels = normalize_screen_coordinates(project_to_image(X, cam, distortion=distortion),
                                                  cam.res_w, cam.res_h)
        np.testing.assert_allclose(direct.numpy(), via_pixels.numpy(), atol=1e-12)


def test_normalized_intrinsics_formula():
    cam = H36M_CAMERAS["S1"][0]  # 1000 x 1002
    v = cam.intrinsics_normalized(torch.float64).numpy()
    w, h = 1000, 1002
    expected = [2 * cam.focal[0] / w, 2 * cam.focal[1] / w, 2 * cam.center[0] / w - 1,
                2 * cam.center[1] / w - h / w, *cam.radial, *cam.tangential]
    np.testing.assert_allclose(v, expected, atol=1e-12)


# ------------------------------------------------------------------ screen normalisation
def test_screen_normalization_known_values_and_roundtrip():
    w, h = 1000, 1002
    uv = np.array([[0.0, 0.0], [1000.0, 501.0], [500.0, 1002.0]])
    xy = normalize_screen_coordinates(uv, w, h)
    np.testing.assert_allclose(xy, [[-1, -1.002], [1, 0], [0, 1.002]], atol=1e-12)
    np.testing.assert_allclose(image_coordinates(xy, w, h), uv, atol=1e-9)
    rng = np.random.default_rng(6)
    uv = torch.tensor(rng.uniform(0, 1000, size=(5, 17, 2)), dtype=torch.float32)
    back = image_coordinates(normalize_screen_coordinates(uv, 1000, 1000), 1000, 1000)
    assert back.dtype == torch.float32
    np.testing.assert_allclose(back.numpy(), uv.numpy(), atol=1e-3)


def test_per_camera_sizes_broadcast():
    uv = np.full((2, 3, 2), 500.0)
    w, h = np.array([[1000.0], [1000.0]]), np.array([[1002.0], [1000.0]])
    xy = normalize_screen_coordinates(uv, w, h)
    np.testing.assert_allclose(xy[0, :, 1], 1 - 1.002)
    np.testing.assert_allclose(xy[1, :, 1], 0.0)


def test_camera_dict_roundtrip_and_validation():
    cam = H36M_CAMERAS["S6"][1]
    assert Camera.from_dict(cam.to_dict()) == cam
    assert hash(cam) == hash(Camera.from_dict(cam.to_dict()))
    with pytest.raises(ValueError, match="radial needs 3 numbers"):
        Camera("bad", 10, 10, focal=(1, 1), center=(5, 5), radial=(0.1, 0.2))
    with pytest.raises(KeyError, match="focal_length"):
        Camera.from_dict({"id": "x", "res_w": 1, "res_h": 1, "center": (0, 0)})


def test_tensor_path_keeps_autograd():
    # re-projection losses differentiate through the projection (VideoPose3D semi-supervised training)
    cam = H36M_CAMERAS["S1"][1]
    X = torch.tensor([[0.2, -0.1, 4.0]], dtype=torch.float64, requires_grad=True)
    uv = project_normalized(X, cam.intrinsics_normalized(torch.float64), distortion=False)
    uv[0, 0].backward()
    fx_n = 2 * cam.focal[0] / cam.res_w  # d(fx_n X/Z)/dX = fx_n / Z, d/dZ = -fx_n X / Z^2
    np.testing.assert_allclose(X.grad.numpy(), [[fx_n / 4.0, 0.0, -fx_n * 0.2 / 16.0]], atol=1e-12)


def test_stacked_rotations_broadcast_per_camera():
    cams = H36M_CAMERAS["S1"]
    X = np.random.default_rng(7).normal(size=(4, 17, 3))
    R = np.stack([c.R for c in cams])[:, None]  # (4, 1, 3, 3)
    t = np.array([c.translation for c in cams])[:, None]  # (4, 1, 3)
    expected = np.stack([[ref_world_to_camera(p, c) for p in X[i]] for i, c in enumerate(cams)])
    np.testing.assert_allclose(world_to_camera(X, R, t), expected, atol=1e-12)
    np.testing.assert_allclose(camera_to_world(expected, R, t), X, atol=1e-12)
