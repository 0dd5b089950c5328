"""Skeletons: joint names, kinematic tree, left/right symmetry and the graphs built from them.

Every graph a model uses (the GCN adjacency, the conv-style partition, GLA-GCN's subsets) is built by
:mod:`poselift_core.graph` from ``parents``, never from joint index order, so a new joint order cannot silently change a
model's meaning. Explained in the book, chapter 2 ("Skeletons") and chapter 3 ("The skeleton as a graph").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal, Sequence

import torch

from .graph import adjacency_matrix, normalize_adjacency

__all__ = [
    "Skeleton",
    "H36M_32",
    "H36M_17",
    "H36M_16",
    "HUMANEVA_15",
    "H36M_32_TO_17",
    "SKELETONS",
    "get_skeleton",
    "flip_index",
]


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree with named joints and a left/right pairing.

    Args:
        name: short identifier (``"h36m17"``).
        names: joint names, index order.
        parents: parent index per joint, ``-1`` for the root.
        left, right: joints of the subject's left and right side, paired element-wise
            (``left[k]`` mirrors onto ``right[k]``).
        nonlocal_groups: optional joint pairs used by SemGCN-style non-local blocks.
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    nonlocal_groups: tuple[tuple[int, ...], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        J = len(self.names)
        if len(self.parents) != J:
            raise ValueError(f"Skeleton {self.name!r}: {len(self.parents)} parents for {J} joint names")
        if len(self.left) != len(self.right):
            raise ValueError(f"Skeleton {self.name!r}: left has {len(self.left)} joints, right {len(self.right)}")
        roots = [j for j, p in enumerate(self.parents) if p == -1]
        if len(roots) != 1:
            raise ValueError(f"Skeleton {self.name!r}: expected exactly one root, found {roots}")
        for j, p in enumerate(self.parents):
            if p >= J or p < -1 or p == j:
                raise ValueError(f"Skeleton {self.name!r}: joint {j} has invalid parent {p}")

    # ----------------------------------------------------------------- derived structure
    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def root(self) -> int:
        return self.parents.index(-1)

    @cached_property
    def edges(self) -> list[tuple[int, int]]:
        """Bones as ``(child, parent)`` pairs, one per non-root joint."""
        return [(j, p) for j, p in enumerate(self.parents) if p >= 0]

    @cached_property
    def children(self) -> list[list[int]]:
        kids: list[list[int]] = [[] for _ in self.names]
        for c, p in self.edges:
            kids[p].append(c)
        return kids

    @cached_property
    def flip_permutation(self) -> list[int]:
        """``pose[..., flip_permutation, :]`` swaps every left joint with its right partner."""
        return flip_index(self.left, self.right, self.num_joints)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"Skeleton {self.name!r} has no joint {name!r}; joints: {list(self.names)}") from None

    def adjacency(
        self,
        normalization: Literal["row", "diag1", "none"] = "row",
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Normalised bone adjacency, ``(J, J)``; row ``i`` is the receiving joint.

        ``"row"``: ``D^-1 (A + I)`` (SemGCN, Liu et al., Any-GCN).
        ``"diag1"``: ``D^-1 A`` then the diagonal set to 1 (the Modulated GCN original).
        ``"none"``: binary symmetric ``A + I``.
        """
        return normalize_adjacency(adjacency_matrix(self, dtype=dtype), normalization)

    def remove_joints(self, remove: Sequence[int], name: str | None = None) -> "Skeleton":
        """Drop joints, re-attaching children to the nearest kept ancestor; indices are compacted."""
        remove_set = set(remove)
        if self.root in remove_set:
            raise ValueError(f"cannot remove the root joint {self.root} of {self.name!r}")
        kept = [j for j in range(self.num_joints) if j not in remove_set]
        new_index = {old: new for new, old in enumerate(kept)}
        parents = []
        for j in kept:
            p = self.parents[j]
            while p in remove_set:
                p = self.parents[p]
            parents.append(-1 if p == -1 else new_index[p])
        pairs = [(new_index[l], new_index[r]) for l, r in zip(self.left, self.right)
                 if l in new_index and r in new_index]
        return Skeleton(
            name=name or f"{self.name}-{len(kept)}",
            names=tuple(self.names[j] for j in kept),
            parents=tuple(parents),
            left=tuple(l for l, _ in pairs),
            right=tuple(r for _, r in pairs),
        )

    def __repr__(self) -> str:
        return f"Skeleton({self.name!r}, {self.num_joints} joints, {len(self.edges)} bones)"


def flip_index(left: Sequence[int], right: Sequence[int], num_joints: int) -> list[int]:
    """The permutation that mirrors a joint layout: ``perm[l] = r`` and ``perm[r] = l`` for every pair, the
    identity elsewhere, so ``pose[..., perm, :]`` swaps each left joint with its right partner (an involution).

    For the skeleton's own pairs use :attr:`Skeleton.flip_permutation`; a 2D keypoint layout may pair its
    joints differently, hence the lists as arguments.
    """
    if len(left) != len(right):
        raise ValueError(f"left has {len(left)} joints but right has {len(right)}")
    perm = list(range(num_joints))
    for l, r in zip(left, right):
        if not (0 <= l < num_joints and 0 <= r < num_joints):
            raise ValueError(f"left/right pair ({l}, {r}) out of range for {num_joints} joints")
        perm[l], perm[r] = r, l
    return perm


# --------------------------------------------------------------------------- the skeletons
# Human3.6M mocap skeleton as distributed (32 entries, many end sites); parents as in VideoPose3D.
H36M_32 = Skeleton(
    name="h36m32",
    names=(
        "Hips", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "RightToeSite",
        "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToeSite",
        "Spine", "Spine1", "Neck", "Head", "HeadSite",
        "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftHandThumb", "LeftThumbSite",
        "L_Wrist_End", "LeftWristSite",
        "RightShoulder", "RightArm", "RightForeArm", "RightHand", "RightHandThumb", "RightThumbSite",
        "R_Wrist_End", "RightWristSite",
    ),
    parents=(-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20, 19, 22,
             12, 24, 25, 26, 27, 28, 27, 30),
    left=(6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23),
    right=(1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31),
)

#: Indices of the 32-joint mocap array kept for the 17-joint skeleton, in 17-joint order.
H36M_32_TO_17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

# The 17-joint skeleton of VideoPose3D, GLA-GCN, GridConv and the CPN files (chapter 2, "Skeletons").
# Written out rather than derived from H36M_32 so the table in the book and this literal agree at a glance;
# tests/test_skeleton.py checks that reducing H36M_32 gives the same parents.
H36M_17 = Skeleton(
    name="h36m17",
    names=("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Neck/Nose",
           "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    left=(4, 5, 6, 11, 12, 13),
    right=(1, 2, 3, 14, 15, 16),
)

# SemGCN family: Neck/Nose removed so GT 2D matches Stacked-Hourglass joints (`garyzhao/SemGCN`).
H36M_16 = Skeleton(
    name="h36m16",
    names=("Hip", "RHip", "RKnee", "RFoot", "LHip", "LKnee", "LFoot", "Spine", "Thorax", "Head",
           "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8, 10, 11, 8, 13, 14),
    left=(4, 5, 6, 10, 11, 12),
    right=(1, 2, 3, 13, 14, 15),
    nonlocal_groups=((2, 3), (5, 6), (1, 4), (0, 7), (8, 9), (14, 15), (11, 12), (10, 13)),
)

# HumanEva-I (Sigal et al., IJCV 2010), 15 joints as in VideoPose3D.
HUMANEVA_15 = Skeleton(
    name="humaneva15",
    names=("Pelvis", "Thorax", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist",
           "LHip", "LKnee", "LAnkle", "RHip", "RKnee", "RAnkle", "Head"),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    left=(2, 3, 4, 8, 9, 10),
    right=(5, 6, 7, 11, 12, 13),
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M_17, H36M_16, HUMANEVA_15, H36M_32)}


def get_skeleton(skeleton: "str | int | Skeleton") -> Skeleton:
    """Look a skeleton up by name (``"h36m17"``), by joint count (17, 16, 15, 32) or pass one through."""
    if isinstance(skeleton, Skeleton):
        return skeleton
    if isinstance(skeleton, int):
        for s in SKELETONS.values():
            if s.num_joints == skeleton:
                return s
        raise ValueError(f"no built-in skeleton has {skeleton} joints; known: "
                         f"{ {s.name: s.num_joints for s in SKELETONS.values()} }")
    try:
        return SKELETONS[skeleton]
    except KeyError:
        raise ValueError(f"unknown skeleton {skeleton!r}; known: {sorted(SKELETONS)}") from None
