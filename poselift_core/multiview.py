"""Calibrated multi-view geometry: a Qualisys calibration reader, the OpenCV lens model and robust triangulation.

Used to turn synchronised 2D detections from several calibrated cameras into a 3D reference (the book's
chapter "Lifting your own video" checks single-view lifting against it). Computed with NumPy.

Conventions:

* A camera maps world points to its own frame by ``X_cam = R X_world + t`` (world -> camera, OpenCV's
  extrinsics); its centre is ``-R^T t``. Camera frame: x right in the image, y down, z forward.
* Pixels follow OpenCV's pinhole + Brown-Conrady model with ``dist = (k1, k2, p1, p2, k3)`` (Brown 1966;
  Zhang 2000, section 3.3): ``x = X/Z``, ``r^2 = x^2 + y^2``, ``x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6)
  + 2 p1 x y + p2 (r^2 + 2 x^2)`` (y likewise), ``u = fx x_d + cx``.
* Triangulation is the homogeneous direct linear transform (Hartley & Zisserman, "Multiple View Geometry",
  2nd ed., section 12.2) on undistorted normalised coordinates, each view's two rows scaled by its
  detection confidence.
"""
from __future__ import annotations

import itertools
import json
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .skeleton import flip_index

__all__ = [
    "MultiViewCamera",
    "read_qualisys_calibration",
    "save_calibration",
    "load_calibration",
    "project_points",
    "undistort_points",
    "triangulate_dlt",
    "refine_points",
    "reprojection_errors",
    "Triangulation",
    "triangulate_views",
    "BLAZEPOSE_SWAP_GROUPS",
]


# --------------------------------------------------------------------------- cameras
@dataclass(frozen=True)
class MultiViewCamera:
    """One calibrated camera in OpenCV's convention.

    Attributes:
        name: camera label (``"cam01"``).
        K: (3, 3) intrinsic matrix, pixels.
        dist: (5,) ``k1, k2, p1, p2, k3``.
        R: (3, 3) world -> camera rotation.
        t: (3,) world -> camera translation, metres (``X_cam = R X + t``).
        image_size: ``(width, height)`` in pixels of the images the detections come from.
    """

    name: str
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray
    image_size: tuple[int, int]

    def __post_init__(self) -> None:
        for key, shape in (("K", (3, 3)), ("dist", (5,)), ("R", (3, 3)), ("t", (3,))):
            a = np.asarray(getattr(self, key), dtype=np.float64)
            if a.shape != shape:
                raise ValueError(f"camera {self.name!r}: {key} has shape {a.shape}, expected {shape}")
            object.__setattr__(self, key, a)
        if not np.allclose(self.R @ self.R.T, np.eye(3), atol=1e-6) or np.linalg.det(self.R) < 0:
            raise ValueError(f"camera {self.name!r}: R is not a rotation matrix")
        object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))

    @property
    def centre(self) -> np.ndarray:
        """Camera centre in world coordinates, (3,) metres."""
        return -self.R.T @ self.t

    @property
    def P(self) -> np.ndarray:
        """(3, 4) normalised projection matrix ``[R | t]`` (intrinsics and distortion removed)."""
        return np.concatenate([self.R, self.t[:, None]], axis=1)

    def world_to_camera(self, X: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) camera-frame points."""
        return np.asarray(X) @ self.R.T + self.t

    def cropped(self, left: float, top: float, width: int, height: int) -> "MultiViewCamera":
        """The same camera seen through a crop of its image whose top-left corner is ``(left, top)``.

        A crop moves only the principal point: pixel ``u`` of the crop is pixel ``u + left`` of the
        calibrated image.
        """
        K = self.K.copy()
        K[0, 2] -= left
        K[1, 2] -= top
        return MultiViewCamera(self.name, K, self.dist, self.R, self.t, (width, height))

    def to_dict(self) -> dict:
        """Plain-Python form (lists, floats) for JSON."""
        return {"name": self.name, "K": self.K.tolist(), "dist": self.dist.tolist(), "R": self.R.tolist(),
                "t": self.t.tolist(), "image_size": list(self.image_size)}

    @classmethod
    def from_dict(cls, d: dict) -> "MultiViewCamera":
        missing = [k for k in ("name", "K", "dist", "R", "t", "image_size") if k not in d]
        if missing:
            raise KeyError(f"camera entry lacks {missing}; keys present: {sorted(d)}")
        return cls(d["name"], d["K"], d["dist"], d["R"], d["t"], d["image_size"])


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def read_qualisys_calibration(path: str | Path) -> list[MultiViewCamera]:
    """Cameras of a Qualisys Track Manager calibration export (``*.qca.txt``, XML), in file order.

    Reading (the one pose2sim's ``calibration.read_qca`` / ``calib_qca_fun`` use, checked on the pose2sim
    demo capture by triangulating detections; see ``data/demo_capture/README.md``):

    * ``intrinsic`` focal lengths, principal point and distortion are in 1/64 sensor units: divide by 64.
      The principal point is then shifted by the ``fov_video`` ``left``/``top`` offsets, and the image size
      is the ``fov_video`` window.
    * ``transform`` ``r11..r33`` read row by row give a matrix ``M``; ``x, y, z`` (mm) is the camera
      centre ``C``. World -> camera is ``R = Rx(pi) M``, ``t = -R C``: Qualisys' camera frame looks along
      its -z axis with y up, and the half turn about x gives OpenCV's z-forward, y-down frame.

    Raises ``ValueError`` naming the file and camera when an attribute is missing or not a number.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ValueError(f"{path}: not a readable Qualisys XML calibration ({exc})") from exc
    cams = root.findall("cameras/camera")
    if not cams:
        raise ValueError(f"{path}: no <cameras>/<camera> elements")

    def num(node: ET.Element | None, key: str, serial: str) -> float:
        if node is None or key not in node.attrib:
            raise ValueError(f"{path}: camera {serial!r} lacks attribute {key!r}")
        try:
            return float(node.attrib[key])
        except ValueError as exc:
            raise ValueError(f"{path}: camera {serial!r} attribute {key!r} is not a number") from exc

    out = []
    for cam in cams:
        serial = cam.attrib.get("serial", f"camera{len(out)}")
        fov, intr, tr = cam.find("fov_video"), cam.find("intrinsic"), cam.find("transform")
        left, top = num(fov, "left", serial), num(fov, "top", serial)
        width = int(num(fov, "right", serial) - left + 1)
        height = int(num(fov, "bottom", serial) - top + 1)
        fu, fv = num(intr, "focalLengthU", serial) / 64, num(intr, "focalLengthV", serial) / 64
        cu = num(intr, "centerPointU", serial) / 64 - left
        cv = num(intr, "centerPointV", serial) / 64 - top
        K = np.array([[fu, 0.0, cu], [0.0, fv, cv], [0.0, 0.0, 1.0]])
        dist = np.array([num(intr, k, serial) for k in ("radialDistortion1", "radialDistortion2",
                                                          "tangentalDistortion1", "tangentalDistortion2",
                                                          "radialDistortion3")]) / 64
        M = np.array([[num(tr, f"r{i}{j}", serial) for j in (1, 2, 3)] for i in (1, 2, 3)])
        C = np.array([num(tr, k, serial) for k in ("x", "y", "z")]) / 1000.0
        R = _rot_x(np.pi) @ M
        # Qualisys stores M to six digits or so: re-orthonormalise so the record passes the rotation check.
        u, _, vt = np.linalg.svd(R)
        R = u @ vt
        out.append(MultiViewCamera(serial, K, dist, R, -R @ C, (width, height)))
    return out


def save_calibration(cameras: Sequence[MultiViewCamera], path: str | Path, **info) -> None:
    """Write cameras (and any JSON-serialisable ``info`` entries) to a JSON file."""
    doc = {**info, "convention": "X_cam = R X_world + t (metres); OpenCV pinhole, dist = k1 k2 p1 p2 k3",
           "cameras": [c.to_dict() for c in cameras]}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def load_calibration(path: str | Path) -> list[MultiViewCamera]:
    """Cameras from a file written by :func:`save_calibration`."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read calibration JSON ({exc})") from exc
    if "cameras" not in doc:
        raise ValueError(f"{path}: no 'cameras' key")
    try:
        return [MultiViewCamera.from_dict(d) for d in doc["cameras"]]
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc


# --------------------------------------------------------------------------- lens model
def _distort(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    k1, k2, p1, p2, k3 = dist
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def project_points(X: np.ndarray, camera: MultiViewCamera) -> np.ndarray:
    """(..., 3) world points -> (..., 2) distorted pixels. Points behind the camera give NaN."""
    Xc = camera.world_to_camera(np.asarray(X, dtype=np.float64))
    z = Xc[..., 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = np.where(z > 0, Xc[..., :2] / z, np.nan)
    xy = _distort(xy, camera.dist)
    return xy @ camera.K[:2, :2].T + camera.K[:2, 2]


def undistort_points(uv: np.ndarray, camera: MultiViewCamera, iterations: int = 20) -> np.ndarray:
    """(..., 2) pixels -> (..., 2) undistorted normalised coordinates ``(X/Z, Y/Z)``.

    Inverts the lens model by the fixed-point iteration OpenCV's ``undistortPoints`` uses; for the mild
    distortion of video lenses it converges to far below a pixel within a few steps.
    """
    uv = np.asarray(uv, dtype=np.float64)
    xd = (uv - camera.K[:2, 2]) @ np.linalg.inv(camera.K[:2, :2]).T
    k1, k2, p1, p2, k3 = camera.dist
    x = xd.copy()
    for _ in range(iterations):
        px, py = x[..., 0], x[..., 1]
        r2 = px * px + py * py
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2 * p1 * px * py + p2 * (r2 + 2 * px * px)
        dy = p1 * (r2 + 2 * py * py) + 2 * p2 * px * py
        x = np.stack([(xd[..., 0] - dx) / radial, (xd[..., 1] - dy) / radial], axis=-1)
    return x


# --------------------------------------------------------------------------- triangulation
def triangulate_dlt(xn: np.ndarray, P: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted homogeneous DLT.

    Args:
        xn: (V, ..., 2) undistorted normalised coordinates of the same points in V views.
        P: (V, 3, 4) normalised projection matrices ``[R | t]``.
        weights: (V, ...) non-negative weight per view and point (0 drops the view); default all ones.

    Returns:
        (..., 3) world points; NaN where fewer than two views have a positive weight and finite coordinates.
    """
    xn = np.asarray(xn, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    V = xn.shape[0]
    if P.shape != (V, 3, 4) or xn.shape[-1] != 2:
        raise ValueError(f"triangulate_dlt: xn {xn.shape} and P {P.shape} must be (V, ..., 2) and (V, 3, 4)")
    w = np.ones(xn.shape[:-1]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != xn.shape[:-1]:
        raise ValueError(f"triangulate_dlt: weights {w.shape} must match xn's leading shape {xn.shape[:-1]}")
    ok = np.isfinite(xn).all(-1) & (w > 0)
    w = np.where(ok, w, 0.0)
    xn = np.where(ok[..., None], xn, 0.0)
    batch = xn.shape[1:-1]
    Pb = P.reshape((V,) + (1,) * len(batch) + (3, 4))
    # Each view contributes x P3 - P1 and y P3 - P2 (H&Z eq. 12.2 ff.), scaled by its weight.
    rows_x = xn[..., 0:1] * Pb[..., 2, :] - Pb[..., 0, :]
    rows_y = xn[..., 1:2] * Pb[..., 2, :] - Pb[..., 1, :]
    A = np.stack([rows_x, rows_y], axis=1) * w[:, None, ..., None]      # (V, 2, *batch, 4)
    A = np.moveaxis(A.reshape((2 * V,) + batch + (4,)), 0, -2)            # (*batch, 2V, 4)
    _, _, vt = np.linalg.svd(A)
    Xh = vt[..., -1, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        X = Xh[..., :3] / Xh[..., 3:4]
    return np.where(((w > 0).sum(0) >= 2)[..., None], X, np.nan)


def refine_points(
    X: np.ndarray, xn: np.ndarray, cameras: Sequence[MultiViewCamera], weights: np.ndarray, iterations: int = 5
) -> np.ndarray:
    """Gauss-Newton refinement of triangulated points on the weighted reprojection error.

    The DLT minimises an algebraic error that weighs views by their depth; this minimises
    ``sum_v w_v |f_v (pi(R_v X + t_v) - xn_v)|^2`` instead, i.e. undistorted pixel error (Hartley & Zisserman,
    section 12.3, with the lens distortion left in the measurements' undistortion).

    Args:
        X: (..., 3) initial world points (NaN stays NaN). xn: (V, ..., 2) undistorted normalised coordinates.
        cameras: V cameras. weights: (V, ...) per-view weights, 0 drops a view.
    Returns:
        (..., 3) refined points.
    """
    X = np.asarray(X, dtype=np.float64).copy()
    w = np.where(np.isfinite(xn).all(-1), np.asarray(weights, dtype=np.float64), 0.0)
    xn = np.nan_to_num(xn)
    R = np.stack([c.R for c in cameras])                               # (V, 3, 3)
    t = np.stack([c.t for c in cameras])
    f = np.stack([c.K[[0, 1], [0, 1]] for c in cameras])               # (V, 2)
    bshape = (len(cameras),) + (1,) * (X.ndim - 1)
    Rb, tb, fb = R.reshape(bshape + (3, 3)), t.reshape(bshape + (3,)), f.reshape(bshape + (2,))
    good = np.isfinite(X).all(-1)
    for _ in range(iterations):
        Xc = np.einsum("v...ij,...j->v...i", Rb, np.where(good[..., None], X, 0.0)) + tb   # (V, ..., 3)
        z = np.where(np.abs(Xc[..., 2]) > 1e-9, Xc[..., 2], 1e-9)
        r = fb * (Xc[..., :2] / z[..., None] - xn)                        # (V, ..., 2) pixels
        # d pi / d Xc = [[1/z, 0, -x/z^2], [0, 1/z, -y/z^2]], chained with d Xc / d X = R.
        dpi = np.zeros(Xc.shape[:-1] + (2, 3))
        dpi[..., 0, 0] = dpi[..., 1, 1] = 1 / z
        dpi[..., :, 2] = -Xc[..., :2] / (z * z)[..., None]
        Jac = fb[..., :, None] * (dpi @ Rb)                              # (V, ..., 2, 3)
        JtJ = np.einsum("v...ki,v...kj,v...->...ij", Jac, Jac, w)
        Jtr = np.einsum("v...ki,v...k,v...->...i", Jac, r, w)
        ok = good & (np.linalg.det(JtJ) > 1e-12)
        step = np.linalg.solve(np.where(ok[..., None, None], JtJ, np.eye(3)), -Jtr[..., None])[..., 0]
        X = np.where(ok[..., None], X + step, X)
    return X


def reprojection_errors(X: np.ndarray, cameras: Sequence[MultiViewCamera], uv: np.ndarray) -> np.ndarray:
    """Pixel distance between the projections of world points and detections.

    Args:
        X: (..., 3) world points. cameras: V cameras. uv: (V, ..., 2) pixels.
    Returns:
        (V, ...) errors in pixels (NaN where either side is missing or the point is behind a camera).
    """
    proj = np.stack([project_points(X, c) for c in cameras])
    return np.linalg.norm(proj - np.asarray(uv, dtype=np.float64), axis=-1)


#: BlazePose-33 left/right pairs that a detector mislabels together: (name, left joints, right joints).
BLAZEPOSE_SWAP_GROUPS: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("face", (1, 2, 3, 7, 9), (4, 5, 6, 8, 10)),
    ("arms", (11, 13, 15, 17, 19, 21), (12, 14, 16, 18, 20, 22)),
    ("legs", (23, 25, 27, 29, 31), (24, 26, 28, 30, 32)),
)


@dataclass
class Triangulation:
    """Result of :func:`triangulate_views`.

    Attributes:
        points: (F, J, 3) world points (NaN where fewer than two views were usable).
        errors: (V, F, J) reprojection error in pixels of each view's (relabelled) detection.
        swapped: (V, F, G) True where a view's left/right labels of group g were exchanged.
        used: (V, F, J) True where a view took part in the final triangulation.
        group_names: the G group names.
    """

    points: np.ndarray
    errors: np.ndarray
    swapped: np.ndarray
    used: np.ndarray
    group_names: tuple[str, ...]

    def median_error(self) -> np.ndarray:
        """(V,) median reprojection error per view over the detections used, pixels (NaN if none is finite)."""
        e = np.where(self.used, self.errors, np.nan).reshape(self.errors.shape[0], -1)
        with warnings.catch_warnings():     # a view with no finite error (all behind it) is NaN, said above
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(e, axis=1)

    def swap_counts(self) -> np.ndarray:
        """(V, G) number of frames in which each view's group was relabelled."""
        return self.swapped.sum(axis=1)


def _swap_hypotheses(V: int) -> np.ndarray:
    """(H, V) bool: which views to relabel. Relabelling every view only mirrors the 3D result and
    reprojects identically, so of each complementary pair keep the one with fewer relabelled views (on a tie,
    the one that leaves view 0 alone): the labels most views agree on are taken as the truth."""
    allc = np.array(list(itertools.product([False, True], repeat=V)), dtype=bool)
    n = allc.sum(1)
    keep = (2 * n < V) | ((2 * n == V) & ~allc[:, 0])
    return allc[keep]


def _mirror_index(J: int, groups: Sequence[tuple[str, Sequence[int], Sequence[int]]]) -> tuple[np.ndarray, np.ndarray]:
    """``mirror`` (J,): the left/right partner of each joint (itself if none); ``group_of`` (J,): its group or -1."""
    mirror = np.arange(J)
    group_of = np.full(J, -1)
    for g, (name, left, right) in enumerate(groups):
        try:
            swap = np.asarray(flip_index(left, right, J))         # this group's left/right exchange
        except ValueError as e:
            raise ValueError(f"swap group {name!r}: {e}") from None
        mirror = swap[mirror]                                     # groups are disjoint: compose the swaps
        group_of[list(left) + list(right)] = g
    return mirror, group_of


def triangulate_views(
    uv: np.ndarray,
    conf: np.ndarray,
    cameras: Sequence[MultiViewCamera],
    *,
    swap_groups: Sequence[tuple[str, Sequence[int], Sequence[int]]] = (),
    min_conf: float = 0.1,
    swap_margin: float = 0.1,
    cost_cap_px: float = 100.0,
    outlier_px: float | None = None,
    refine: bool = True,
) -> Triangulation:
    """Triangulate per-view 2D detections, repairing left/right swaps and (optionally) dropping outliers.

    Swap repair: for every frame and group, each hypothesis of which views have their left/right labels
    exchanged (:func:`_swap_hypotheses`; 8 for four views) is triangulated, and the one with the lowest
    confidence-weighted reprojection error over the group's joints (errors capped at ``cost_cap_px`` so one
    wild joint does not decide) wins; a hypothesis that relabels ``n`` views must beat the others by a factor
    ``1 + swap_margin * n``, so near-ties keep the detector's labels.

    Outliers: with ``outlier_px`` set, a view whose error for a joint exceeds it is dropped (the worst one,
    once) and the joint re-triangulated, provided two views remain.

    With ``refine`` the final points are polished by :func:`refine_points` (pixel error instead of the
    DLT's algebraic error); the swap hypotheses are scored on plain DLT points, which is enough to rank them.

    Args:
        uv: (V, F, J, 2) pixels. conf: (V, F, J) detection confidence in [0, 1]; NaN or below ``min_conf``
            drops the view for that joint.
        cameras: the V cameras, matching ``uv``'s pixel frame.
        swap_groups: ``(name, left_joints, right_joints)`` triples, e.g. :data:`BLAZEPOSE_SWAP_GROUPS`.

    Returns:
        :class:`Triangulation`.
    """
    uv = np.asarray(uv, dtype=np.float64)
    conf = np.asarray(conf, dtype=np.float64)
    V = len(cameras)
    if uv.ndim != 4 or uv.shape[0] != V or uv.shape[-1] != 2:
        raise ValueError(f"triangulate_views: uv has shape {uv.shape}, expected ({V}, frames, joints, 2)")
    if conf.shape != uv.shape[:-1]:
        raise ValueError(f"triangulate_views: conf has shape {conf.shape}, expected {uv.shape[:-1]}")
    _, F, J, _ = uv.shape
    P = np.stack([c.P for c in cameras])
    xn = np.stack([undistort_points(uv[v], c) for v, c in enumerate(cameras)])
    w = np.where(np.isfinite(conf) & (conf >= min_conf) & np.isfinite(uv).all(-1), conf, 0.0)
    mirror, group_of = _mirror_index(J, swap_groups)
    G = len(swap_groups)

    def relabel(a: np.ndarray, swap_vfj: np.ndarray) -> np.ndarray:
        # a: (V, F, J, ...) ; swap_vfj: (V, F, J) bool -> take the mirror joint where set.
        idx = np.where(swap_vfj, mirror, np.arange(J))
        return np.take_along_axis(a, idx.reshape(idx.shape + (1,) * (a.ndim - 3)), axis=2)

    swapped = np.zeros((V, F, G), dtype=bool)
    if G:
        hyps = _swap_hypotheses(V)                                     # (H, V)
        in_group = group_of >= 0
        costs = []
        for h in hyps:                                                 # a handful of hypotheses, not a data loop
            s = np.broadcast_to((h[:, None, None] & in_group), (V, F, J))
            uvh, wh = relabel(uv, s), relabel(w[..., None], s)[..., 0]
            X = triangulate_dlt(relabel(xn, s), P, wh)
            err = np.minimum(reprojection_errors(X, cameras, uvh), cost_cap_px)
            err = np.where(np.isfinite(err), err, cost_cap_px)
            per_joint = (wh * err).sum(0)                              # (F, J)
            onehot = (group_of[:, None] == np.arange(G)).astype(float)  # (J, G)
            costs.append(per_joint @ onehot * (1 + swap_margin * h.sum()))
        best = np.argmin(np.stack(costs), axis=0)                      # (F, G)
        swapped = np.moveaxis(hyps[best], -1, 0)                       # (V, F, G)

    s = np.zeros((V, F, J), dtype=bool)
    if G:
        s = np.where(group_of >= 0, np.take(swapped, np.maximum(group_of, 0), axis=2), False)
    uv_f, xn_f, w_f = relabel(uv, s), relabel(xn, s), relabel(w[..., None], s)[..., 0]

    def solve(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points (F, J, 3) from the relabelled views with per-view ``weights`` (V, F, J), and their errors."""
        X = triangulate_dlt(xn_f, P, weights)
        if refine:
            X = refine_points(X, xn_f, cameras, weights)
        return X, reprojection_errors(X, cameras, uv_f)

    X, err = solve(w_f)
    if outlier_px is not None:
        worst = np.argmax(np.where(w_f > 0, np.nan_to_num(err, nan=np.inf), -1.0), axis=0)   # (F, J)
        drop = (np.take_along_axis(err, worst[None], 0)[0] > outlier_px) & ((w_f > 0).sum(0) >= 3)
        w_f = np.where((np.arange(V)[:, None, None] == worst[None]) & drop[None], 0.0, w_f)
        X, err = solve(w_f)
    return Triangulation(points=X, errors=err, swapped=swapped, used=w_f > 0,
                         group_names=tuple(g[0] for g in swap_groups))
