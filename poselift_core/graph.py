"""The graphs the models build from a skeleton's kinematic tree.

- :func:`adjacency_matrix` and :func:`normalize_adjacency`: the bone adjacency and its normalisations, the
  aggregation matrix of the GCN family (Kipf & Welling, ICLR 2017; Zhao et al., CVPR 2019);
- :func:`topological_rank`: a joint order with every parent before its children, which tells the parent side
  of a pair from the children side (the conv-style layer of Liu et al., ECCV 2020);
- :func:`spatial_partition`: ST-GCN's self / inward / outward subsets (Yan et al., AAAI 2018, section 3.3),
  the fixed graphs of GLA-GCN.

Every graph is built from the parent list (``parents[j]`` is the parent of joint ``j``, ``-1`` for the root),
never from the joint index order, so reordering the joints only permutes the graphs. Row ``i`` of every matrix
is the *receiving* joint: ``out_i = sum_j A[i, j] x_j``. Each function takes a
:class:`~poselift_core.skeleton.Skeleton` or its parent list. Explained in the book, chapter 3 ("The skeleton
as a graph") and chapter 4 ("GLA-GCN: lifting from a window of frames").
"""
from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Literal, Sequence, Union

import torch

if TYPE_CHECKING:
    from .skeleton import Skeleton

__all__ = ["adjacency_matrix", "normalize_adjacency", "topological_rank", "spatial_partition"]

Tree = Union["Skeleton", Sequence[int]]  # a Skeleton, or its parent list


def _parents(tree: Tree) -> list[int]:
    return [int(p) for p in getattr(tree, "parents", tree)]


def _bones(parents: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(child, parent)``: the two ends of every bone, each ``(E,)`` long."""
    p = torch.tensor(parents, dtype=torch.long).reshape(-1)
    child = torch.nonzero(p >= 0).squeeze(1)
    return child, p[child]


def adjacency_matrix(tree: Tree, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Binary symmetric bone adjacency without self loops, ``(J, J)``: ``A[c, p] = A[p, c] = 1`` per bone."""
    parents = _parents(tree)
    child, parent = _bones(parents)
    A = torch.zeros(len(parents), len(parents), dtype=dtype)
    A[child, parent] = 1
    A[parent, child] = 1
    return A


def normalize_adjacency(A: torch.Tensor, normalization: Literal["row", "diag1", "none"] = "row") -> torch.Tensor:
    """Normalise a binary adjacency ``(J, J)`` without self loops.

    ``"row"``: ``D^-1 (A + I)`` (SemGCN, Liu et al., Any-GCN); ``"diag1"``: ``D^-1 A`` with the diagonal set to 1
    (the Modulated GCN original, Zou & Tang, ICCV 2021); ``"none"``: binary ``A + I``.
    """
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    if normalization == "row":
        A_hat = A + eye
        return A_hat / A_hat.sum(-1, keepdim=True)
    if normalization == "diag1":
        deg = A.sum(-1, keepdim=True).clamp_min(1)
        return A / deg * (1 - eye) + eye
    if normalization == "none":
        return A + eye
    raise ValueError(f"unknown adjacency normalization {normalization!r}; use 'row', 'diag1' or 'none'")


def topological_rank(tree: Tree) -> list[int]:
    """Position of each joint in the smallest-index-first topological order (every parent before its children).

    On a skeleton whose parents already precede their children (all built-in ones) this is the identity, so
    masks built from it equal the upper/lower-triangle split of the reference code; for any other joint order
    it still puts every parent before its children.
    """
    parents = _parents(tree)
    children: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            children[p].append(j)
    heap = [j for j, p in enumerate(parents) if p < 0]
    rank = [0] * len(parents)
    for position in range(len(parents)):
        j = heapq.heappop(heap)
        rank[j] = position
        for c in children[j]:
            heapq.heappush(heap, c)
    return rank


def spatial_partition(tree: Tree) -> torch.Tensor:
    """ST-GCN's three subset graphs ``A`` of shape ``(3, J, J)``, row ``i`` = receiving joint.

    ``A[0] = I`` (self); ``A[1][c, parent(c)] = 1``: a child receives its parent, the root nothing (ST-GCN's
    "inward" edge list child -> parent); ``A[2][p, c] = 1 / #children(p)``: a parent receives the mean of its
    children ("outward"). GLA-GCN's code (``bruceyo/GLA-GCN``) stores the transposes and normalises their columns
    (over senders); normalising our rows is the same.
    """
    parents = _parents(tree)
    J = len(parents)
    child, parent = _bones(parents)
    n_children = torch.bincount(parent, minlength=J).float()
    A = torch.zeros(3, J, J)
    A[0] = torch.eye(J)
    A[1, child, parent] = 1.0
    A[2, parent, child] = 1.0 / n_children[parent]
    return A
