"""Datasets in the VideoPose3D file format, one module per dataset, built on one module for the format itself.

- ``videopose3d``: the file format (readers, writer, checks of damaged archives), :class:`PoseDataset` (what every
  loader returns) and :func:`~poselift_core.data.videopose3d.load_file_pair`, which assumes nothing about the
  dataset and maps detector 2D layouts onto the 3D joints (or refuses the pair, naming both layouts).
- ``h36m``: Human3.6M as VideoPose3D distributes it: subjects, actions, camera table, skipped and drift
  sequences, 16-joint variants, :func:`load_videopose3d` (a file pair with Human3.6M's conventions where the
  files are silent) and :func:`load_h36m`.
- ``humaneva``: HumanEva-I: tables, cameras, the protocol's action names, :func:`load_humaneva`.
- ``open_benchmark``: the shipped open benchmark (int16 millimetre 3D, 2D projected at load time).
- ``sample``: the bundled sample's files and splits, :func:`load_sample`.
- ``checks``: sanity checks of a loaded dataset; ``fixtures``: synthetic Human3.6M / HumanEva files for tests.

Imports flow one way: ``skeleton``, ``camera``, ``keypoints`` -> ``videopose3d`` -> the dataset modules. Building
data files from motion capture is :mod:`poselift_core.conversion`, which nothing here imports.
``python -m poselift_core.data --help`` lists the command-line tools (``inspect``, ``convert-mocap``,
``build-sample``, ``build-open``).
"""
from typing import Any

from .h36m import (H36M_ACTIONS, H36M_DRIFT_SEQUENCES, H36M_SKIPPED, H36M_SUBJECTS, H36M_TEST_SUBJECTS,
                   H36M_TRAIN_SUBJECTS, SH_MPII_TO_H36M16, load_h36m, load_videopose3d)
from .humaneva import (HUMANEVA_ACTION_ALIASES, HUMANEVA_ACTIONS, HUMANEVA_CAMERAS, HUMANEVA_EVAL_ACTIONS,
                       HUMANEVA_TEST_SUBJECTS, HUMANEVA_TRAIN_SUBJECTS, load_humaneva)
from .sample import load_sample, sample_paths, sample_splits
from .videopose3d import (DataError, PoseDataset, PoseSequence, canonical_action, cameras_from_dict,
                          cameras_to_dict, load_file_pair, read_positions_2d, read_positions_3d, save_videopose3d)

__all__ = [
    "H36M_ACTIONS", "H36M_DRIFT_SEQUENCES", "H36M_SKIPPED", "H36M_SUBJECTS", "H36M_TEST_SUBJECTS",
    "H36M_TRAIN_SUBJECTS", "SH_MPII_TO_H36M16", "load_h36m", "load_videopose3d",
    "HUMANEVA_ACTION_ALIASES", "HUMANEVA_ACTIONS", "HUMANEVA_CAMERAS", "HUMANEVA_EVAL_ACTIONS",
    "HUMANEVA_TEST_SUBJECTS", "HUMANEVA_TRAIN_SUBJECTS", "load_humaneva",
    "load_sample", "sample_paths", "sample_splits",
    "DataError", "PoseDataset", "PoseSequence", "canonical_action", "cameras_from_dict", "cameras_to_dict",
    "load_file_pair", "read_positions_2d", "read_positions_3d", "save_videopose3d",
]


def __getattr__(name: str) -> Any:
    # SAMPLE_TRAIN_SUBJECTS / SAMPLE_TEST_SUBJECTS come from the sample file, read on first access
    if name in ("SAMPLE_TRAIN_SUBJECTS", "SAMPLE_TEST_SUBJECTS"):
        from . import sample
        return getattr(sample, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
