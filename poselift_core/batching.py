"""Whole-dataset tensors and fast batching: single frames, temporal windows, flip augmentation.

A split lives on the device as one :class:`PoseTensors`: every sequence's frames concatenated along
one axis. Batches are index tensors into it; windows are gathered with clamped indices (edge padding),
so no per-sample Python runs in the training loop. Explained in the book, chapter 2 ("Batching").
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from .skeleton import Skeleton


@dataclass
class PoseTensors:
    """One split (e.g. train or test) as flat tensors; ``F`` frames in ``S`` sequences.

    A sequence is one (subject, action, camera) triple. Sequences are contiguous in the flat arrays:
    frames ``seq_start[s] : seq_start[s] + seq_length[s]`` belong to sequence ``s``.

    Attributes:
        x2d: ``(F, J2, 2)`` normalised screen coordinates (data.md 5.2).
        y3d: ``(F, J, 3)`` camera-space joints, metres, root-relative (root row is 0).
        root: ``(F, 3)`` absolute camera-space root position, metres.
        frame_seq: ``(F,)`` long, sequence index of every frame.
        seq_start, seq_length: ``(S,)`` long.
        intrinsics: ``(S, 9)`` normalised camera vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``.
        subjects, actions, cameras: per-sequence labels (length ``S``); ``actions`` are raw keys
            such as ``"Directions 1"``.
        skeleton: the 3D joint layout.
        keypoints_left, keypoints_right: symmetry of the 2D layout (may differ from the skeleton's).
        fps: frame rate of the sequences.
    """

    x2d: torch.Tensor
    y3d: torch.Tensor
    root: torch.Tensor
    frame_seq: torch.Tensor
    seq_start: torch.Tensor
    seq_length: torch.Tensor
    intrinsics: torch.Tensor
    subjects: list[str]
    actions: list[str]
    cameras: list[int]
    skeleton: Skeleton
    keypoints_left: tuple[int, ...]
    keypoints_right: tuple[int, ...]
    fps: float = 50.0

    @property
    def num_frames(self) -> int:
        return self.x2d.shape[0]

    @property
    def num_sequences(self) -> int:
        return self.seq_start.shape[0]

    @property
    def device(self) -> torch.device:
        return self.x2d.device

    def to(self, device: "torch.device | str") -> "PoseTensors":
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self)
                 if isinstance(getattr(self, f.name), torch.Tensor)}
        return replace(self, **moved)
