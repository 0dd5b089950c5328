"""Datasets in the VideoPose3D file format: Human3.6M, HumanEva-I and the bundled mocap sample.

``h36m`` holds the readers, the writer and :class:`PoseDataset`; ``humaneva`` the HumanEva-I tables and
loader; ``fixtures`` a synthetic H36M-format pair for tests. ``python -m poselift_core.data --help`` lists
the command-line tools (``inspect``, ``convert-mocap``, ``build-sample``).
"""
from typing import Any

from .h36m import (H36M_ACTIONS, H36M_DRIFT_SEQUENCES, H36M_SKIPPED, H36M_SUBJECTS, H36M_TEST_SUBJECTS,
                   H36M_TRAIN_SUBJECTS, SH_MPII_TO_H36M16, DataError, PoseDataset, PoseSequence, canonical_action,
                   cameras_from_dict, cameras_to_dict, load_h36m, load_sample, load_videopose3d, read_positions_2d,
                   read_positions_3d, sample_paths, sample_splits, save_videopose3d)
from .humaneva import (HUMANEVA_ACTIONS, HUMANEVA_CAMERAS, HUMANEVA_EVAL_ACTIONS, HUMANEVA_TEST_SUBJECTS,
                       HUMANEVA_TRAIN_SUBJECTS, load_humaneva)

__all__ = [
    "H36M_ACTIONS", "H36M_DRIFT_SEQUENCES", "H36M_SKIPPED", "H36M_SUBJECTS", "H36M_TEST_SUBJECTS",
    "H36M_TRAIN_SUBJECTS", "SH_MPII_TO_H36M16", "DataError", "PoseDataset", "PoseSequence", "canonical_action",
    "cameras_from_dict", "cameras_to_dict", "load_h36m", "load_sample", "load_videopose3d", "read_positions_2d",
    "read_positions_3d", "sample_paths", "sample_splits", "save_videopose3d",
    "HUMANEVA_ACTIONS", "HUMANEVA_CAMERAS", "HUMANEVA_EVAL_ACTIONS", "HUMANEVA_TEST_SUBJECTS",
    "HUMANEVA_TRAIN_SUBJECTS", "load_humaneva",
]


def __getattr__(name: str) -> Any:
    # SAMPLE_TRAIN_SUBJECTS / SAMPLE_TEST_SUBJECTS come from the sample file, read on first access
    if name in ("SAMPLE_TRAIN_SUBJECTS", "SAMPLE_TEST_SUBJECTS"):
        from . import h36m
        return getattr(h36m, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
