"""The bundled sample ``data/sample/``: a few minutes of real motion capture in the VideoPose3D file format, small
enough for unit tests and the quickest notebook runs.

Its two files (``data_3d_sample.npz`` with the cameras of Human3.6M S1 stored, ``data_2d_sample_gt.npz`` with
``splits`` in its metadata) are found where :func:`poselift_core._bundled_path.bundled_path` finds all bundled data:
the repository's ``data/`` in a checkout, the package's copy after ``pip install``. How they are built (and
rebuilt, byte for byte): :mod:`poselift_core.conversion.build_sample`. Explained in the book, chapter 2
("Loading a dataset").
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .._bundled_path import bundled_path
from .h36m import load_videopose3d
from .videopose3d import DataError, PoseDataset, open_npz, read_dict, require_files

__all__ = ["SAMPLE_FILES", "sample_paths", "require_sample", "load_sample", "sample_splits"]

#: The sample's (3D, 2D) file names.
SAMPLE_FILES = ("data_3d_sample.npz", "data_2d_sample_gt.npz")
_REPO_ROOT = Path(__file__).resolve().parents[2]  # tests repoint it; bundled_path falls back to the installed copy
_BUILD_SAMPLE = "python -m poselift_core.data build-sample"


def sample_paths(root: "str | Path | None" = None) -> tuple[Path, Path]:
    """``(3D, 2D)`` paths of the bundled sample (``data/sample/`` of the repository, or the installed copy)."""
    root = Path(root) if root is not None else bundled_path("sample", repo_root=_REPO_ROOT)
    return root / SAMPLE_FILES[0], root / SAMPLE_FILES[1]


def require_sample(root: "str | Path | None" = None) -> tuple[Path, Path]:
    """:func:`sample_paths`, or ``FileNotFoundError`` naming the missing file and the command that rebuilds it."""
    return require_files(sample_paths(root), f"the bundled sample; rebuild it with `{_BUILD_SAMPLE}`")


def load_sample(root: "str | Path | None" = None) -> PoseDataset:
    """The bundled sample (real mocap converted to the VideoPose3D format), splits from its metadata."""
    p3, p2 = require_sample(root)
    return load_videopose3d(p3, p2, name="sample")


def sample_splits(root: "str | Path | None" = None) -> dict[str, list[str]]:
    """``{'train': [...], 'test': [...]}`` from the sample's 2D metadata key ``splits``."""
    _, p2 = require_sample(root)
    with open_npz(p2) as npz:
        meta = read_dict(npz, "metadata", p2)
    splits = meta.get("splits")
    if not isinstance(splits, dict) or not {"train", "test"} <= set(splits):
        raise DataError(f"{p2}: metadata needs 'splits' = {{'train': [...], 'test': [...]}}, got {splits!r}")
    return {k: list(v) for k, v in splits.items()}


def __getattr__(name: str) -> Any:
    # SAMPLE_TRAIN_SUBJECTS / SAMPLE_TEST_SUBJECTS are read from the sample file on first access (PEP 562),
    # so importing this module never needs the sample to exist.
    if name in ("SAMPLE_TRAIN_SUBJECTS", "SAMPLE_TEST_SUBJECTS"):
        return tuple(sample_splits()["train" if name == "SAMPLE_TRAIN_SUBJECTS" else "test"])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
