"""Synthetic Human3.6M- and HumanEva-format files for tests. **Not data**: the poses are random, only the format
is real.

:func:`make_fake_h36m` writes ``data_3d_h36m.npz`` (32-joint world poses, metres) and
``data_2d_h36m_<keypoints>.npz`` (the 17 kept joints projected through the real Human3.6M cameras with the
distortion model), so ``load_h36m(tmpdir)`` works on it. Poses are a standing rest pose whose bones rotate by
smooth, bounded random walks (bone lengths and left/right symmetry are preserved), with the body turning and
drifting slowly within about a metre of the world origin, where the real cameras look.

:func:`make_fake_humaneva` writes ``data_3d_humaneva15.npz`` / ``data_2d_humaneva15_<keypoints>.npz`` the same way,
through HumanEva's cameras, with 2D either on the 15 joints or as COCO-17 detections (the layout of VideoPose3D's
``detectron_pt_coco`` file).
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..camera import axis_angle_to_matrix, project_to_image, world_to_camera
from ..skeleton import H36M_17, H36M_32, H36M_32_TO_17, HUMANEVA_15
from .h36m import H36M_CAMERAS, H36M_SKIPPED
from .humaneva import HUMANEVA_CAMERAS, HUMANEVA_TEST_SUBJECTS, HUMANEVA_TRAIN_SUBJECTS
from .videopose3d import save_videopose3d

__all__ = ["make_fake_h36m", "make_fake_humaneva", "fake_pose_sequence", "fake_coco_points"]

# Rest-pose bone offsets from the parent (metres, world frame: Z up, the body faces -Y, its right is -X).
# Spine-to-head lengths follow real Human3.6M frames (pelvis-spine ~0.24, spine-thorax ~0.25, thorax-nose ~0.11).
_OFFSETS = np.array([
    (0, 0, 0.93),                                                  # 0 Hips (absolute)
    (-0.13, 0, 0), (0, 0, -0.44), (0, 0, -0.44), (0, -0.13, -0.05), (0, -0.05, 0),  # 1-5 right leg
    (0.13, 0, 0), (0, 0, -0.44), (0, 0, -0.44), (0, -0.13, -0.05), (0, -0.05, 0),   # 6-10 left leg
    (0, 0, 0.10), (0, 0, 0.14), (0, 0, 0.25), (0, -0.05, 0.10), (0, 0.0, 0.115),      # 11-15 spine, head
    (0.03, 0, 0.23), (0.12, 0, 0), (0, 0, -0.28), (0, 0, -0.25),                     # 16-19 left arm
    (0, -0.03, -0.03), (0, -0.02, -0.02), (0, 0, -0.08), (0, 0, -0.02),              # 20-23 left hand
    (-0.03, 0, 0.23), (-0.12, 0, 0), (0, 0, -0.28), (0, 0, -0.25),                   # 24-27 right arm
    (0, -0.03, -0.03), (0, -0.02, -0.02), (0, 0, -0.08), (0, 0, -0.02),              # 28-31 right hand
], dtype=np.float64)


def _rotate(v: np.ndarray, axis_angle: np.ndarray) -> np.ndarray:
    """``v (..., 3)`` rotated by axis-angle vectors that broadcast against it, ``(..., 3)``."""
    return (axis_angle_to_matrix(axis_angle) @ v[..., None])[..., 0]


def _bounded_walk(rng: np.random.Generator, shape: tuple, step: float, bound: float) -> np.ndarray:
    """Smooth random walk along axis 0, squashed into ``(-bound, bound)``."""
    walk = np.cumsum(rng.normal(0.0, step, size=shape), axis=0)
    return bound * np.tanh(walk / bound)


def fake_pose_sequence(frames: int, rng: np.random.Generator) -> np.ndarray:
    """``(frames, 32, 3)`` synthetic world poses (metres) on the Human3.6M mocap skeleton."""
    T, J = frames, H36M_32.num_joints
    bend = _bounded_walk(rng, (T, J, 3), step=0.03, bound=0.35)  # per-bone axis-angle, radians
    yaw = _bounded_walk(rng, (T, 1), step=0.03, bound=np.pi)
    bones = _rotate(np.broadcast_to(_OFFSETS[1:], (T, J - 1, 3)), bend[:, 1:])
    pos = np.zeros((T, J, 3))
    for j in range(1, J):  # forward kinematics over 31 bones (a test fixture, not a hot path)
        pos[:, j] = pos[:, H36M_32.parents[j]] + bones[:, j - 1]
    pos = _rotate(pos, np.concatenate([np.zeros((T, 2)), yaw], axis=1)[:, None])  # turn about Z
    root = np.concatenate([_bounded_walk(rng, (T, 2), step=0.02, bound=1.0), np.full((T, 1), _OFFSETS[0, 2])], 1)
    return (pos + root[:, None]).astype(np.float32)


def make_fake_h36m(tmpdir: "str | Path", subjects: Sequence[str] = ("S1", "S9", "S11"),
                   actions: Sequence[str] = ("Directions", "Sitting 1", "SittingDown", "Walking 1"),
                   frames: int = 32, seed: int = 0, *, keypoints: str = "gt", joints_2d: int = 17,
                   extra_2d_frames: int = 0, vary_length: bool = False,
                   metadata: "Mapping | None" = None) -> tuple[Path, Path]:
    """Write a small synthetic Human3.6M pair in the VideoPose3D format; returns ``(path_3d, path_2d)``.

    Synthetic and for tests only. S11 ``Directions`` is omitted like in the real files.

    Args:
        subjects: Human3.6M subjects with cameras (S1 S5 S6 S7 S8 S9 S11).
        actions: raw action keys written for every subject.
        frames: frames per sequence (``vary_length=True`` adds 0..frames//2 per sequence, seeded).
        keypoints: the 2D file is ``data_2d_h36m_<keypoints>.npz``.
        joints_2d: 17 (VideoPose3D GT) or 16 (SemGCN-style file, Nose dropped, ``num_joints`` 16).
        extra_2d_frames: trailing 2D frames beyond the mocap, like the CPN detections.
        metadata: extra 2D metadata entries (``fps``, ``splits``, ``layout_name``, ...).
    """
    unknown = [s for s in subjects if s not in H36M_CAMERAS]
    if unknown:
        raise ValueError(f"make_fake_h36m: no Human3.6M cameras for {unknown}; use {sorted(H36M_CAMERAS)}")
    if joints_2d not in (16, 17):
        raise ValueError(f"joints_2d must be 16 or 17, got {joints_2d}")
    rng = np.random.default_rng(seed)
    keep = list(H36M_32_TO_17) if joints_2d == 17 else [j for i, j in enumerate(H36M_32_TO_17) if i != 9]
    pos3d, pos2d = {}, {}
    for s in subjects:
        pos3d[s], pos2d[s] = {}, {}
        for a in actions:
            if (s, a) in H36M_SKIPPED:
                continue
            n = frames + (int(rng.integers(0, frames // 2 + 1)) if vary_length else 0)
            world = fake_pose_sequence(n + extra_2d_frames, rng)
            pos3d[s][a] = world[:n]
            pos2d[s][a] = [project_to_image(world_to_camera(world[:, keep].astype(np.float64), cam), cam)
                           .astype(np.float32) for cam in H36M_CAMERAS[s]]
    return _write_pair(tmpdir, "h36m", keypoints, pos3d, pos2d, {"num_joints": joints_2d, **(metadata or {})})


def _write_pair(folder: "str | Path", name: str, keypoints: str, positions_3d: dict, positions_2d: dict,
                metadata: dict) -> tuple[Path, Path]:
    """``folder/data_3d_<name>.npz`` and ``folder/data_2d_<name>_<keypoints>.npz``, the names loaders look for."""
    folder = Path(folder)
    return save_videopose3d(folder / f"data_3d_{name}.npz", folder / f"data_2d_{name}_{keypoints}.npz",
                            positions_3d, positions_2d, metadata)


# HumanEva-15 joint -> Human3.6M-17 joint of the same place on the body (the fixture's 3D only).
_HUMANEVA_FROM_H36M17 = [H36M_17.index(n) for n in (
    "Hip", "Thorax", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist", "LHip", "LKnee", "LFoot",
    "RHip", "RKnee", "RFoot", "Head")]


def fake_coco_points(world32: np.ndarray) -> np.ndarray:
    """``(N, 17, 3)`` COCO-17 points (nose, eyes, ears, then the limb joints) on synthetic 32-joint poses.

    The limb joints are the mocap joints; the face is placed around the mocap ``Head`` joint (the nose): eyes
    4 cm above and 3 cm to each side, ears 3 cm above and 7.5 cm to each side, "side" being the shoulder line.
    """
    X = np.asarray(world32, dtype=np.float64)[:, list(H36M_32_TO_17)]
    j = H36M_17.index
    side = X[:, j("LShoulder")] - X[:, j("RShoulder")]
    side /= np.linalg.norm(side, axis=-1, keepdims=True)
    up = np.array([0.0, 0.0, 1.0])
    nose = X[:, j("Neck/Nose")]
    face = [nose, nose + 0.03 * side + 0.04 * up, nose - 0.03 * side + 0.04 * up,
            nose + 0.075 * side + 0.03 * up, nose - 0.075 * side + 0.03 * up]
    limbs = [X[:, j(n)] for n in ("LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist", "RWrist", "LHip", "RHip",
                                  "LKnee", "RKnee", "LFoot", "RFoot")]
    return np.stack(face + limbs, axis=1)


def make_fake_humaneva(tmpdir: "str | Path", subjects: Sequence[str] = HUMANEVA_TRAIN_SUBJECTS + HUMANEVA_TEST_SUBJECTS,
                       actions: Sequence[str] = ("Walking 1 chunk0", "Jog 1 chunk0", "Box 1 chunk0",
                                                 "Gestures 1 chunk0"),
                       frames: int = 6, seed: int = 0, *, keypoints: str = "gt", layout: str = "humaneva15",
                       metadata: "Mapping | None" = None) -> tuple[Path, Path]:
    """Write a small synthetic HumanEva-I pair in the VideoPose3D format; returns ``(path_3d, path_2d)``.

    Synthetic and for tests only: the 3D is :func:`fake_pose_sequence` on HumanEva's 15 joints; the 2D is projected
    through HumanEva's cameras C1-C3 of each subject (``"Train/S2"`` uses S2's).

    Args:
        subjects: file subjects ``"Train/S<k>"`` / ``"Validate/S<k>"`` with k in 1..3 (default all six, so the
            ``train`` and ``test`` splits of :func:`~poselift_core.data.humaneva.load_humaneva` exist).
        keypoints: the 2D file is ``data_2d_humaneva15_<keypoints>.npz``.
        layout: ``"humaneva15"`` (2D on the 15 joints, as the GT file) or ``"coco"`` (COCO-17 points of
            :func:`fake_coco_points`, as VideoPose3D's ``detectron_pt_coco`` file).
        metadata: extra or replacing 2D metadata entries.
    """
    if layout not in ("humaneva15", "coco"):
        raise ValueError(f"layout must be 'humaneva15' or 'coco', got {layout!r}")
    rng = np.random.default_rng(seed)
    pos3d, pos2d = {}, {}
    for s in subjects:
        cams = HUMANEVA_CAMERAS[s.split("/")[-1]]
        pos3d[s], pos2d[s] = {}, {}
        for a in actions:
            world32 = fake_pose_sequence(frames, rng)
            pos3d[s][a] = world32[:, list(H36M_32_TO_17)][:, _HUMANEVA_FROM_H36M17]
            points = pos3d[s][a].astype(np.float64) if layout == "humaneva15" else fake_coco_points(world32)
            pos2d[s][a] = [project_to_image(world_to_camera(points, c), c).astype(np.float32) for c in cams]
    if layout == "humaneva15":
        meta = {"layout_name": "humaneva15", "num_joints": 15,
                "keypoints_symmetry": [list(HUMANEVA_15.left), list(HUMANEVA_15.right)]}
    else:  # VideoPose3D's metadata of its COCO detections
        meta = {"layout_name": "coco", "num_joints": 17,
                "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]}
    return _write_pair(tmpdir, "humaneva15", keypoints, pos3d, pos2d, {**meta, **(metadata or {})})
