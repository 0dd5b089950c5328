"""The open benchmark: real motion capture that may be redistributed, filmed by the Human3.6M cameras.

``data/open/data_3d_open.npz`` (shipped in the repository) holds the 3D of every clip once; the ground-truth 2D
is derived at load time by projecting through the four Human3.6M cameras of S1 (with their lens distortion),
so the repository carries no second copy of the data as pixels. :func:`load_open` returns the same
:class:`~poselift_core.data.videopose3d.PoseDataset` that the VideoPose3D files of Human3.6M give, and
:func:`export_videopose3d` writes the usual ``data_3d_open.npz`` / ``data_2d_open_gt.npz`` pair for code that
reads the VideoPose3D format directly.

Storage: ``positions_3d_mm`` = ``subject -> action -> (N, 17, 3) int16`` world millimetres (Z up, H36M-17
joints). Rounding to the millimetre moves a joint by at most 0.87 mm (half a millimetre per axis), far below
what any lifter resolves; the key is named for its unit so that a reader expecting ``positions_3d`` in metres
fails instead of reading millimetres. ``metadata`` carries the fps, the split, the credit lines and the
``content_sha256`` of the arrays that :func:`content_hash` recomputes.

Split (by subject): train CMU 01, 02, 11 and the DeepMimic clips; test CMU 03 (walking on uneven terrain) and
CMU 131 (BVH; stylised walks and hops, with a pelvis-to-thorax distance about 12 cm shorter than any training subject's), reported
separately as well as together. How it is built: :mod:`poselift_core.conversion.build_open`. Explained in the book,
chapter 2 ("The open benchmark, and converting CMU motion capture").
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .._bundled_path import bundled_path
from ..camera import project_to_image, world_to_camera
from ..skeleton import H36M_16, H36M_17
from .h36m import H36M_17_TO_16, H36M_CAMERAS
from .videopose3d import DataError, PoseDataset, cameras_from_dict, open_npz, read_dict, save_videopose3d

__all__ = ["OPEN_TRAIN_SUBJECTS", "OPEN_TEST_SUBJECTS", "OPEN_CAMERA_SUBJECT", "OPEN_FILE", "open_path",
           "read_open_mm", "content_hash", "project_open", "load_open", "export_videopose3d"]

OPEN_TRAIN_SUBJECTS = ("01", "02", "11", "DeepMimic")
OPEN_TEST_SUBJECTS = ("03", "131")
OPEN_CAMERA_SUBJECT = "S1"
OPEN_FILE = "data_3d_open.npz"
_REBUILD = "python -m poselift_core.data build-open"


def open_path(root: "str | Path | None" = None) -> Path:
    """Path of the shipped open benchmark (``data/open/data_3d_open.npz`` of the repository, or the installed copy)."""
    root = Path(root) if root is not None else bundled_path("open")
    return root / OPEN_FILE if root.suffix != ".npz" else root


def content_hash(positions_mm: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    """sha256 over the sorted subject/action keys and the int16 bytes (little endian) of every clip.

    It identifies the data, not the zip file (whose member timestamps change at every write).
    """
    h = hashlib.sha256()
    for s in sorted(positions_mm):
        for a in sorted(positions_mm[s]):
            x = np.ascontiguousarray(positions_mm[s][a], dtype="<i2")
            h.update(f"{s}/{a}:{x.shape}\n".encode())
            h.update(x.tobytes())
    return h.hexdigest()


def read_open_mm(path: "str | Path | None" = None) -> tuple[dict, dict, dict]:
    """``(positions_mm, metadata, cameras)`` of an open-benchmark file, checked against its stored hash."""
    p = open_path(path)
    if not p.is_file():
        raise FileNotFoundError(f"open benchmark not found: {p}; rebuild it with `{_REBUILD}`")
    with open_npz(p) as npz:
        pos = read_dict(npz, "positions_3d_mm", p)
        meta = read_dict(npz, "metadata", p)
        cams = read_dict(npz, "cameras", p)
    for s, acts in pos.items():
        for a, x in acts.items():
            if not (isinstance(x, np.ndarray) and x.dtype == np.int16 and x.ndim == 3 and x.shape[1:] == (17, 3)):
                raise DataError(f"{p}: positions_3d_mm[{s!r}][{a!r}] is {getattr(x, 'dtype', type(x))} "
                                f"{getattr(x, 'shape', '')}; expected int16 (N, 17, 3) millimetres")
    stored = meta.get("content_sha256")
    if stored is not None and stored != content_hash(pos):
        raise DataError(f"{p}: arrays do not match the stored content_sha256 (file damaged or edited); "
                        f"rebuild it with `{_REBUILD}`")
    return pos, meta, cams


def project_open(world_m: np.ndarray, cameras) -> list[np.ndarray]:
    """Ground-truth 2D of world poses ``(N, 17, 3)`` metres: ``[(N, 17, 2) float32 pixels]`` per camera."""
    X = np.asarray(world_m, dtype=np.float64)
    return [np.asarray(project_to_image(world_to_camera(X, c), c), dtype=np.float32) for c in cameras]


def _world_metres(positions_mm: Mapping) -> dict[str, dict[str, np.ndarray]]:
    return {s: {a: (x.astype(np.float32) / np.float32(1000.0)) for a, x in acts.items()}
            for s, acts in positions_mm.items()}


def load_open(root: "str | Path | None" = None, joints: int = 17) -> PoseDataset:
    """The open benchmark as a :class:`PoseDataset` (50 Hz, four cameras of H36M S1).

    The 3D is read once (int16 millimetres -> float32 metres); the GT 2D is projected from it here.
    ``joints``: 17 (H36M-17) or 16 (H36M-16: the Nose joint dropped from 3D and 2D, as the SemGCN family uses).
    """
    if joints not in (16, 17):
        raise ValueError(f"joints must be 17 or 16 for the open benchmark, got {joints!r}")
    pos_mm, meta, cams_d = read_open_mm(root)
    cams = cameras_from_dict(cams_d) if cams_d else {s: H36M_CAMERAS[OPEN_CAMERA_SUBJECT] for s in pos_mm}
    world = _world_metres(pos_mm)
    pixels = {s: {a: project_open(x, cams[s]) for a, x in acts.items()} for s, acts in world.items()}
    skeleton = H36M_17
    if joints == 16:
        keep = list(H36M_17_TO_16)
        world = {s: {a: x[:, keep] for a, x in acts.items()} for s, acts in world.items()}
        pixels = {s: {a: [v[:, keep] for v in views] for a, views in acts.items()} for s, acts in pixels.items()}
        skeleton = H36M_16
    return PoseDataset(world, pixels, cams, skeleton, skeleton.left, skeleton.right, fps=float(meta.get("fps", 50.0)),
                       splits=meta.get("splits", {"train": list(OPEN_TRAIN_SUBJECTS),
                                                   "test": list(OPEN_TEST_SUBJECTS)}),
                       metadata=meta, sources=(str(open_path(root)), f"{open_path(root)} (projected 2D)"),
                       name=f"open-{joints}")


def export_videopose3d(out_dir: "str | Path", root: "str | Path | None" = None) -> tuple[Path, Path]:
    """Write ``out_dir/data_3d_open.npz`` and ``data_2d_open_gt.npz`` in the plain VideoPose3D layout
    (float32 metres and pixels), for code that reads that format directly."""
    pos_mm, meta, cams_d = read_open_mm(root)
    cams = cameras_from_dict(cams_d)
    world = _world_metres(pos_mm)
    pixels = {s: {a: project_open(x, cams[s]) for a, x in acts.items()} for s, acts in world.items()}
    meta2: dict[str, Any] = {k: v for k, v in meta.items() if k != "content_sha256"}
    meta2.update({"num_joints": 17, "keypoints_symmetry": [list(H36M_17.left), list(H36M_17.right)],
                  "layout_name": "h36m"})
    out = Path(out_dir)
    return save_videopose3d(out / "data_3d_open.npz", out / "data_2d_open_gt.npz", world, pixels, meta2, cameras=cams)
