"""Cameras: the Human3.6M calibration table, world <-> camera transforms, projection and 2D normalisation.

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
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence, Union

import numpy as np
import torch

__all__ = [
    "Camera",
    "H36M_CAMERA_IDS",
    "H36M_CAMERAS",
    "quaternion_to_matrix",
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


# --------------------------------------------------------------------------- Human3.6M table
#: Camera ids in index order 0..3 (Human3.6M; the order of VideoPose3D's files).
H36M_CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")

# VideoPose3D's table: id -> (w, h, fx, fy, cx, cy, k1, k2, k3, p1, p2); identical for every subject.
_H36M_INTRINSICS = {
    "54138969": (1000, 1002, 1145.0494384765625, 1143.7811279296875, 512.54150390625, 515.4514770507812,
                 -0.20709891617298126, 0.24777518212795258, -0.0030751503072679043,
                 -0.0009756988729350269, -0.00142447161488235),
    "55011271": (1000, 1000, 1149.6756591796875, 1147.5916748046875, 508.8486328125, 508.0649108886719,
                 -0.1942136287689209, 0.2404085397720337, 0.006819975562393665,
                 -0.0016190266469493508, -0.0027408944442868233),
    "58860488": (1000, 1000, 1149.1407470703125, 1148.7989501953125, 519.8158569335938, 501.40264892578125,
                 -0.2083381861448288, 0.25548800826072693, -0.0024604974314570427,
                 0.0014843869721516967, -0.0007599993259645998),
    "60457274": (1000, 1002, 1145.5113525390625, 1144.77392578125, 514.9682006835938, 501.88201904296875,
                 -0.198384091258049, 0.21832367777824402, -0.008947807364165783,
                 -0.0005872055771760643, -0.0018133620033040643),
}

# VideoPose3D: subject -> 4 x (qw, qx, qy, qz, tx, ty, tz) with the centre in millimetres, cameras in id order.
_H36M_EXTRINSICS_MM = {
    "S1": [(0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088,
            1841.1070556640625, 4955.28466796875, 1563.4454345703125),
           (0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205,
            1761.278564453125, -5078.0068359375, 1606.2650146484375),
           (0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696,
            -1846.7777099609375, 5215.04638671875, 1491.972412109375),
           (0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435,
            -1794.7896728515625, -3722.698974609375, 1574.8927001953125)],
    "S5": [(0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332,
            2097.3916015625, 4880.94482421875, 1605.732421875),
           (0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915,
            2031.7008056640625, -5167.93310546875, 1612.923095703125),
           (0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576,
            -1620.5948486328125, 5171.65869140625, 1496.43701171875),
           (0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092,
            -1637.1737060546875, -3867.3173828125, 1547.033203125)],
    "S6": [(0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938,
            1935.4517822265625, 4950.24560546875, 1618.0838623046875),
           (0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428,
            1969.803955078125, -5128.73876953125, 1632.77880859375),
           (0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334,
            -1769.596435546875, 5185.361328125, 1476.993408203125),
           (0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802,
            -1721.668701171875, -3884.13134765625, 1540.4879150390625)],
    "S7": [(0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778,
            1974.512939453125, 4926.3544921875, 1597.8326416015625),
           (0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508,
            1937.0584716796875, -5119.7900390625, 1631.5665283203125),
           (0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278,
            -1741.8111572265625, 5208.24951171875, 1464.8245849609375),
           (0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523,
            -1734.7105712890625, -3832.42138671875, 1548.5830078125)],
    "S8": [(0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773,
            2150.65185546875, 4896.1611328125, 1611.9046630859375),
           (0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615,
            2219.965576171875, -5148.453125, 1613.0440673828125),
           (0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755,
            -1571.2215576171875, 5137.0185546875, 1498.1761474609375),
           (0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708,
            -1476.913330078125, -3896.7412109375, 1547.97216796875)],
    "S9": [(0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243,
            2044.45849609375, 4935.1171875, 1481.2275390625),
           (0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801,
            1990.959716796875, -5123.810546875, 1568.8048095703125),
           (0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915,
            -1670.9921875, 5211.98583984375, 1528.387939453125),
           (0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822,
            -1696.04345703125, -3827.099853515625, 1591.4127197265625)],
    "S11": [(0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467,
             2098.440185546875, 4926.5546875, 1500.278564453125),
            (0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085,
             2083.182373046875, -4912.1728515625, 1561.07861328125),
            (0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407,
             -1609.8153076171875, 5177.3359375, 1537.896728515625),
            (0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809,
             -1590.738037109375, -3854.1689453125, 1578.017578125)],
}


def _h36m_camera(cam_id: str, extrinsics_mm: Sequence[float]) -> Camera:
    w, h, fx, fy, cx, cy, k1, k2, k3, p1, p2 = _H36M_INTRINSICS[cam_id]
    return Camera(id=cam_id, res_w=w, res_h=h, focal=(fx, fy), center=(cx, cy), radial=(k1, k2, k3),
                  tangential=(p1, p2), orientation=extrinsics_mm[:4],
                  translation=tuple(v / 1000.0 for v in extrinsics_mm[4:]))  # mm -> m


#: ``subject -> [Camera x 4]`` for the subjects with published extrinsics (S1 S5 S6 S7 S8 S9 S11).
H36M_CAMERAS: dict[str, list[Camera]] = {
    subject: [_h36m_camera(cid, ext) for cid, ext in zip(H36M_CAMERA_IDS, table)]
    for subject, table in _H36M_EXTRINSICS_MM.items()
}
