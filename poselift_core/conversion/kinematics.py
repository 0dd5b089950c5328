"""Kinematic trees: Euler rotations, forward kinematics and the :class:`KinematicClip` record.

Shared by the motion-file readers (:mod:`~poselift_core.conversion.mocap_files`), the DeepMimic reader
(:mod:`~poselift_core.conversion.build_sample`) and the conversion to Human3.6M
(:mod:`~poselift_core.conversion.mocap`).
Explained in the book, chapter 2 ("The open benchmark, and converting CMU motion capture").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

__all__ = ["MocapError", "euler_to_matrix", "forward_kinematics", "KinematicClip"]


class MocapError(ValueError):
    """A malformed motion file; the message starts with ``path:line:``."""


def _err(path: Any, line: "int | None", msg: str) -> MocapError:
    return MocapError(f"{path}:{line}: {msg}" if line is not None else f"{path}: {msg}")


# --------------------------------------------------------------------------- rotations and FK
def _axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation by ``angle`` (radians, any shape) about x, y or z: ``(...) -> (..., 3, 3)``."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    rows = {"x": ((o, z, z), (z, c, -s), (z, s, c)),
            "y": ((c, z, s), (z, o, z), (-s, z, c)),
            "z": ((c, -s, z), (s, c, z), (z, z, o))}[axis]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_to_matrix(angles: np.ndarray, axes: str) -> np.ndarray:
    """``R = R_{axes[0]}(a_0) @ R_{axes[1]}(a_1) @ ...`` (intrinsic rotations in listed order).

    Args:
        angles: ``(..., len(axes))`` radians.
        axes: e.g. ``"zyx"``; BVH ``CHANNELS ... Zrotation Yrotation Xrotation`` means ``"zyx"``.
    Returns:
        ``(..., 3, 3)``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    R = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for i, ax in enumerate(axes.lower()):
        R = R @ _axis_rotation(ax, angles[..., i])
    return R


def forward_kinematics(parents: Sequence[int], offsets: np.ndarray, rotations: np.ndarray,
                       root_positions: np.ndarray) -> np.ndarray:
    """Global joint positions of a kinematic tree, vectorised over frames.

    ``G_0 = R_0``, ``p_0 = root``; for every other joint ``k`` with parent ``q``:
    ``G_k = G_q R_k`` and ``p_k = p_q + G_q o_k``.

    Args:
        parents: ``(K,)`` parent index per joint, ``-1`` for joint 0 only, ``parents[k] < k``.
        offsets: ``(K, 3)`` or ``(N, K, 3)`` position of each joint in its parent's frame (metres).
        rotations: ``(N, K, 3, 3)`` local rotation of each joint.
        root_positions: ``(N, 3)`` position of joint 0.
    Returns:
        ``(N, K, 3)``.
    """
    parents = [int(p) for p in parents]
    R = np.asarray(rotations, dtype=np.float64)
    N, K = R.shape[:2]
    if len(parents) != K or R.shape[2:] != (3, 3):
        raise ValueError(f"rotations {R.shape} do not match {len(parents)} joints; expected (N, K, 3, 3)")
    if parents[0] != -1 or any(not 0 <= p < k for k, p in enumerate(parents) if k > 0):
        raise ValueError(f"parents must list joint 0 as the only root and every parent before its child: {parents}")
    off = np.broadcast_to(np.asarray(offsets, dtype=np.float64), (N, K, 3))
    G = np.empty((N, K, 3, 3))
    P = np.empty((N, K, 3))
    G[:, 0], P[:, 0] = R[:, 0], root_positions
    for k in range(1, K):  # loop over the ~30 joints of the tree; every step is vectorised over frames
        q = parents[k]
        G[:, k] = G[:, q] @ R[:, k]
        P[:, k] = P[:, q] + np.einsum("nij,nj->ni", G[:, q], off[:, k])
    return P


@dataclass
class KinematicClip:
    """A motion clip ready for forward kinematics; ``N`` frames, ``K`` joints.

    Attributes:
        names: joint names; joint 0 is the root.
        parents: ``(K,)`` parent indices, ``parents[k] < k``.
        offsets: ``(K, 3)`` (or ``(N, K, 3)`` with animated translations) metres, in the parent's frame.
        rotations: ``(N, K, 3, 3)`` local rotations (identity for end sites).
        root_positions: ``(N, 3)`` metres, source axes (Y up for CMU, BVH and DeepMimic).
        fps: frames per second; ``times`` (``(N,)`` seconds) when frames are not evenly spaced.
        source: file the clip came from (used in messages and metadata).
        info: reader notes, e.g. ``{'unit': 'centimetres'}`` for a BVH whose unit was inferred.
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    rotations: np.ndarray
    root_positions: np.ndarray
    fps: float
    source: str = ""
    times: "np.ndarray | None" = None
    info: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.rotations.shape[0]

    def positions(self) -> np.ndarray:
        """Global joint positions ``(N, K, 3)`` in metres (source axes)."""
        return forward_kinematics(self.parents, self.offsets, self.rotations, self.root_positions)

    def frame_times(self) -> np.ndarray:
        """``(N,)`` seconds from the first frame."""
        return self.times if self.times is not None else np.arange(self.num_frames) / self.fps
