"""Cameras: the camera record, rotations, world <-> camera transforms, projection and 2D normalisation.

Conventions (Human3.6M, Ionescu et al., TPAMI 2014, as distributed by VideoPose3D, Pavllo et al., CVPR 2019,
`facebookresearch/VideoPose3D`; explained in the book, chapter 2 ("Cameras")):

* A camera is a unit quaternion ``q = (w, x, y, z)`` and its centre ``t`` in world metres:
  ``X_world = R_q X_cam + t`` and ``X_cam = R_q^T (X_world - t)``.
* Camera space: x right in the image, y down, z forward along the optical axis (depths positive).
* Projection is the Human3.6M toolbox model (``x = X/Z`` clamped to [-1, 1], radial ``k1 k2 k3`` and the
  toolbox's own tangential term with ``p1 p2``), *not* OpenCV's Brown-Conrady tangential formula.
* Screen normalisation keeps the aspect ratio: ``x_n = 2u/w - 1``, ``y_n = 2v/w - h/w``.

Every function takes torch tensors or NumPy arrays with arbitrary leading dimensions and returns the
type it was given (camera parameters are cast to the points' dtype and device). Each formula is written
once against the operations NumPy and torch share, so NumPy input is computed by NumPy (no copies, no
thread pool) and tensors keep autograd and their device.

Calibration tables of real datasets live with their datasets: Human3.6M's in :mod:`poselift_core.data.h36m`,
HumanEva-I's in :mod:`poselift_core.data.humaneva`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import torch

__all__ = [
    "Camera",
    "quaternion_to_matrix",
    "axis_angle_to_matrix",
    "world_to_camera",
    "camera_to_world",
    "project",
    "project_to_image",
    "project_normalized",
    "normalize_screen_coordinates",
    "image_coordinates",
    "normalize_intrinsics",
]

Array = Union[torch.Tensor, np.ndarray]


# --------------------------------------------------------------------------- type plumbing
def _array(x: Any) -> tuple[Any, Any]:
    """``(namespace, array)``: NumPy arrays stay NumPy, anything else becomes a tensor; integers -> float64."""
    if isinstance(x, np.ndarray):
        return np, (x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64))
    t = torch.as_tensor(x)
    return torch, (t if t.is_floating_point() else t.double())


def _like(x: Any, ref: Any) -> Any:
    """A parameter (rotation, intrinsics, sizes) as an array of the points' kind, dtype and device."""
    if isinstance(ref, np.ndarray):
        return np.asarray(x, dtype=ref.dtype)
    return torch.as_tensor(x, dtype=ref.dtype, device=ref.device)


# --------------------------------------------------------------------------- the Camera record
@dataclass(frozen=True)
class Camera:
    """One calibrated camera (the Human3.6M calibration as VideoPose3D distributes it).

    Attributes:
        id: camera identifier (``"54138969"`` for Human3.6M camera 0).
        res_w, res_h: image size in pixels.
        focal: ``(fx, fy)`` pixels.
        center: ``(cx, cy)`` principal point, pixels.
        radial: ``(k1, k2, k3)``.
        tangential: ``(p1, p2)`` in the order the Human3.6M formula expects (VideoPose3D's order).
        orientation: unit quaternion ``(w, x, y, z)``, camera-to-world rotation.
        translation: camera centre in world coordinates, **metres**.
    Sequences given to the constructor are stored as tuples of floats, so a ``Camera`` is hashable.
    """

    id: str
    res_w: int
    res_h: int
    focal: tuple[float, float]
    center: tuple[float, float]
    radial: tuple[float, float, float] = (0.0, 0.0, 0.0)
    tangential: tuple[float, float] = (0.0, 0.0)
    orientation: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    translation: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        for name, n in (("focal", 2), ("center", 2), ("radial", 3), ("tangential", 2),
                        ("orientation", 4), ("translation", 3)):
            value = tuple(float(v) for v in np.asarray(getattr(self, name), dtype=np.float64).reshape(-1))
            if len(value) != n:
                raise ValueError(f"Camera {self.id!r}: {name} needs {n} numbers, got {len(value)}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "id", str(self.id))
        object.__setattr__(self, "res_w", int(self.res_w))
        object.__setattr__(self, "res_h", int(self.res_h))

    @property
    def R(self) -> np.ndarray:
        """Camera-to-world rotation matrix of :attr:`orientation`, ``(3, 3)`` float64."""
        return quaternion_to_matrix(np.asarray(self.orientation))

    def intrinsics_pixels(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``[fx, fy, cx, cy, k1, k2, k3, p1, p2]`` in pixels, ``(9,)``."""
        return torch.tensor(self._pixel_vector(), dtype=dtype)

    def _pixel_vector(self) -> tuple[float, ...]:
        return (*self.focal, *self.center, *self.radial, *self.tangential)

    def intrinsics_normalized(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """VideoPose3D's normalised 9-vector ``[fx_n, fy_n, cx_n, cy_n, k1, k2, k3, p1, p2]``."""
        return normalize_intrinsics(self.intrinsics_pixels(torch.float64), self.res_w, self.res_h).to(dtype)

    def world_to_camera(self, X_world: Array) -> Array:
        return world_to_camera(X_world, self)

    def camera_to_world(self, X_cam: Array) -> Array:
        return camera_to_world(X_cam, self)

    def project(self, X_cam: Array, distortion: bool = True) -> Array:
        """Pixels of camera-space points; see :func:`project_to_image`."""
        return project_to_image(X_cam, self, distortion=distortion)

    def to_dict(self) -> dict:
        """Plain-Python form (lists and floats) used for the ``cameras`` key of a 3D ``.npz``."""
        return {"id": self.id, "res_w": self.res_w, "res_h": self.res_h,
                "focal_length": list(self.focal), "center": list(self.center),
                "radial_distortion": list(self.radial), "tangential_distortion": list(self.tangential),
                "orientation": list(self.orientation), "translation": list(self.translation)}

    @classmethod
    def from_dict(cls, d: dict) -> "Camera":
        """Inverse of :meth:`to_dict`; ``translation`` must be in metres."""
        missing = [k for k in ("id", "res_w", "res_h", "focal_length", "center") if k not in d]
        if missing:
            raise KeyError(f"camera dict lacks {missing}; keys present: {sorted(d)}")
        return cls(id=d["id"], res_w=d["res_w"], res_h=d["res_h"], focal=d["focal_length"], center=d["center"],
                   radial=d.get("radial_distortion", (0.0, 0.0, 0.0)),
                   tangential=d.get("tangential_distortion", (0.0, 0.0)),
                   orientation=d.get("orientation", (1.0, 0.0, 0.0, 0.0)),
                   translation=d.get("translation", (0.0, 0.0, 0.0)))


# --------------------------------------------------------------------------- rotations
def quaternion_to_matrix(q: Array) -> Array:
    """Rotation matrix of a quaternion ``(w, x, y, z)``: ``(..., 4) -> (..., 3, 3)``.

    ``R v`` equals the quaternion product ``q v q*`` (the active rotation VideoPose3D's ``qrot`` applies).
    The quaternion is normalised first, so slightly non-unit table values still give a rotation.
    """
    xp, q = _array(q)
    q = q / xp.sqrt((q * q).sum(-1, keepdims=True))
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return xp.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], -1).reshape(*q.shape[:-1], 3, 3)


def axis_angle_to_matrix(axis_angle: Array) -> Array:
    """Rotation matrix of an axis-angle vector (Rodrigues' formula): ``(..., 3) -> (..., 3, 3)``.

    ``R = I + sin(t) K + (1 - cos(t)) K^2`` with ``t = |r|`` the angle in radians and ``K`` the cross-product
    matrix of the unit axis ``k = r / t`` (``K v = k x v``), so
    ``R v = v cos t + (k x v) sin t + k (k . v)(1 - cos t)``.
    A zero vector gives the identity. A negative angle about ``k`` is the vector ``-|t| k``.
    """
    xp, r = _array(axis_angle)
    theta = xp.sqrt((r * r).sum(-1, keepdims=True))
    k = r / theta.clip(min=1e-12)  # any axis will do for a zero angle: sin and 1 - cos vanish
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    zero = kx * 0
    K = xp.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], -1).reshape(*k.shape[:-1], 3, 3)
    s, c = xp.sin(theta)[..., None], xp.cos(theta)[..., None]
    return _like(np.eye(3), r) + s * K + (1 - c) * (K @ K)


def _rotation_and_centre(R_or_q: Any, t: Any, ref: Any) -> tuple[Any, Any]:
    if isinstance(R_or_q, Camera):
        R_or_q, t = R_or_q.orientation, R_or_q.translation if t is None else t
    if t is None:
        raise TypeError("world_to_camera/camera_to_world need the camera centre t (or a Camera)")
    R = _like(R_or_q, ref)
    if R.shape[-1] == 4:
        R = quaternion_to_matrix(R)
    elif R.shape[-2:] != (3, 3):
        raise ValueError(f"expected a rotation (..., 3, 3) or quaternion (..., 4), got shape {tuple(R.shape)}")
    return R, _like(t, ref)


def _rows_times(v: Any, M: Any) -> Any:
    """Row vectors ``v (..., 3)`` times ``M (3, 3)`` or a broadcasting stack ``(..., 3, 3)``: ``sum_j v_j M_j``.

    Written as three broadcast multiply-adds: batched 3x3 matmuls and tiny float64 BLAS calls are slow on CPU.
    """
    return v[..., 0:1] * M[..., 0, :] + v[..., 1:2] * M[..., 1, :] + v[..., 2:3] * M[..., 2, :]


def world_to_camera(X_world: Array, R_or_q: Any, t: Any = None) -> Array:
    """``X_cam = R^T (X_world - t)``, ``(..., 3) -> (..., 3)`` (chapter 2, "Cameras").

    Args:
        X_world: points in world coordinates, metres.
        R_or_q: camera-to-world rotation ``(3, 3)`` or quaternion ``(4,)``, or a :class:`Camera` (then ``t``
            defaults to its centre). Stacks ``(*L, 3, 3)`` / ``(*L, 4)`` broadcast against the points' leading
            dimensions, e.g. ``(B, 1, 3, 3)`` with ``t (B, 1, 3)`` for points ``(B, J, 3)``.
        t: camera centre in world coordinates, ``(3,)``, metres.
    """
    _, X = _array(X_world)
    R, t = _rotation_and_centre(R_or_q, t, X)
    return _rows_times(X - t, R)  # R^T v for column vectors = v^T R for row vectors


def camera_to_world(X_cam: Array, R_or_q: Any, t: Any = None) -> Array:
    """``X_world = R X_cam + t``, the inverse of :func:`world_to_camera`; same arguments."""
    _, X = _array(X_cam)
    R, t = _rotation_and_centre(R_or_q, t, X)
    return _rows_times(X, R.swapaxes(-1, -2)) + t  # R v = (v^T R^T)^T


# --------------------------------------------------------------------------- projection
def project(X_cam: Array, intrinsics: Any, distortion: bool = True) -> Array:
    """Project camera-space points with a 9-vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``.

    With distortion (the Human3.6M toolbox model; chapter 2, "Projection with lens distortion")::

        x, y   = clamp(X / Z, -1, 1), clamp(Y / Z, -1, 1)
        r2     = x^2 + y^2
        radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3
        tan    = p1 x + p2 y
        x_d    = x (radial + tan) + p1 r2,    y_d = y (radial + tan) + p2 r2
        u, v   = fx x_d + cx,  fy y_d + cy

    Without (``distortion=False``, VideoPose3D's "linear" model): ``u = fx X/Z + cx`` (no clamp, as
    VideoPose3D's ``project_to_2d_linear``). Pixel intrinsics give pixels; the normalised vector of
    :func:`normalize_intrinsics` gives normalised screen coordinates directly.

    Args:
        X_cam: ``(..., 3)`` camera-space points, metres.
        intrinsics: ``(9,)`` or ``(*L, 9)`` where ``L`` is a prefix of the points' leading dimensions
            (e.g. ``(B, 9)`` for points ``(B, J, 3)`` or ``(B, T, J, 3)``).
    Returns:
        ``(..., 2)``.
    """
    _, X = _array(X_cam)
    K = _like(intrinsics, X)
    if K.shape[-1] != 9:
        raise ValueError(f"intrinsics must end in 9 values [fx, fy, cx, cy, k1, k2, k3, p1, p2], got {tuple(K.shape)}")
    n_lead = K.ndim - 1
    if n_lead > X.ndim - 1 or any(a not in (1, b) for a, b in zip(K.shape[:-1], X.shape[:n_lead])):
        raise ValueError(f"intrinsics {tuple(K.shape)} do not match the leading dims of points {tuple(X.shape)}")
    # insert singleton dims so (*L, 9) broadcasts against (*L, ..., 3)
    K = K.reshape(*K.shape[:-1], *([1] * (X.ndim - 1 - n_lead)), 9)
    f, c, k, p = K[..., 0:2], K[..., 2:4], K[..., 4:7], K[..., 7:9]
    xy = X[..., :2] / X[..., 2:3]
    if distortion:
        xy = xy.clip(-1, 1)
        r2 = (xy * xy).sum(-1, keepdims=True)
        radial = 1 + k[..., 0:1] * r2 + k[..., 1:2] * r2 ** 2 + k[..., 2:3] * r2 ** 3
        tan = (p * xy).sum(-1, keepdims=True)
        xy = xy * (radial + tan) + p * r2
    return f * xy + c


def project_to_image(X_cam: Array, cam: "Camera | Any", distortion: bool = True) -> Array:
    """Pixels ``(..., 2)`` of camera-space points ``(..., 3)`` seen by ``cam``.

    ``cam`` is a :class:`Camera` or a pixel-intrinsics 9-vector (see :func:`project`).
    """
    intrinsics = cam._pixel_vector() if isinstance(cam, Camera) else cam
    return project(X_cam, intrinsics, distortion=distortion)


def project_normalized(X_cam: Array, intrinsics9: Any, distortion: bool = True) -> Array:
    """Normalised screen coordinates ``(..., 2)`` from the normalised 9-vector (VideoPose3D's re-projection form).

    Equals ``normalize_screen_coordinates(project_to_image(X_cam, cam), w, h)`` when
    ``intrinsics9 = cam.intrinsics_normalized()``; used by re-projection losses and flip checks.
    """
    return project(X_cam, intrinsics9, distortion=distortion)


# --------------------------------------------------------------------------- screen normalisation
def normalize_screen_coordinates(uv: Array, w: Any, h: Any) -> Array:
    """Pixels to normalised coordinates: ``x_n = 2u/w - 1``, ``y_n = 2v/w - h/w``.

    ``uv`` is ``(..., 2)``; ``w`` and ``h`` are numbers or arrays broadcasting against ``uv[..., 0]``
    (one size per camera, since Human3.6M cameras 0 and 3 are 1002 px high). Explained in chapter 2
    ("Normalising the 2D input").
    """
    xp, X = _array(uv)
    w, h = _like(w, X), _like(h, X)
    return xp.stack([X[..., 0] * 2 / w - 1, X[..., 1] * 2 / w - h / w], -1)


def image_coordinates(xy: Array, w: Any, h: Any) -> Array:
    """Inverse of :func:`normalize_screen_coordinates`: ``u = (x_n + 1) w/2``, ``v = (y_n + h/w) w/2``."""
    xp, X = _array(xy)
    w, h = _like(w, X), _like(h, X)
    return xp.stack([(X[..., 0] + 1) * w / 2, (X[..., 1] + h / w) * w / 2], -1)


def normalize_intrinsics(intrinsics: Array, w: Any, h: Any) -> Array:
    """Pixel 9-vector(s) ``(..., 9)`` to VideoPose3D's normalised form (Pavllo et al., CVPR 2019).

    ``f_n = 2 f / w`` (both axes divided by the width) and ``c_n`` = the normalised principal point;
    distortion coefficients are unchanged. ``w``, ``h`` broadcast against ``intrinsics[..., 0]``.
    """
    xp, K = _array(intrinsics)
    w_t = _like(w, K)
    f = K[..., 0:2] * 2 / w_t[..., None]
    c = normalize_screen_coordinates(K[..., 2:4], w_t, _like(h, K))
    return xp.concatenate([f, c, K[..., 4:9]], -1)
