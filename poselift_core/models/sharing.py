"""Which weights a graph convolution shares: the weight-block index of every (receiver, sender) pair.

The weight-sharing GCNs of :mod:`poselift_core.models.gcn` (Liu et al., ECCV 2020; Zou & Tang, ICCV 2021) all
compute ``out_i = sum_j A_ij W(i, j) x_j + b`` and differ only in the rule ``W(i, j)`` that picks the weight
block for a message from sender ``j`` to receiver ``i``: one block for every pair (vanilla), one per sender
(pre-aggregation), one per receiver (post-aggregation), ... Explained in the book, chapter 3 ("One rule, nine layers").

:func:`weight_block_ids` reads that rule off a layer *by differentiation* rather than from its class name: a
sender ``j`` alone carries a signal, and a weight block belongs to the pair ``(i, j)`` exactly when the output
of receiver ``i`` depends on it. The result is therefore a check of each layer's implementation as much as a
picture of it (``tests/test_sharing.py`` compares it with the formulas).
"""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.func import functional_call, jacrev

from ..skeleton import Skeleton

__all__ = ["weight_block_ids", "weight_sharing_matrix", "num_weight_blocks"]

# Probe sizes: distinct from each other and from any joint or edge count, so the trailing (C_in, C_out) or
# (C_out,) axes of a parameter can be told apart from its stacking axes by their sizes.
_PROBE_IN, _PROBE_OUT = 2, 3


def _stack_shape(shape: torch.Size, c_in: int, c_out: int) -> tuple[int, ...] | None:
    """Leading "stacking" axes of a parameter ending in ``(C_in, C_out)`` or ``(C_out,)``; None otherwise."""
    if len(shape) >= 2 and tuple(shape[-2:]) == (c_in, c_out):
        return tuple(shape[:-2])
    if len(shape) >= 2 and shape[-1] == c_out:  # a per-block output scale, e.g. the modulation (J, C_out)
        return tuple(shape[:-1])
    return None


@torch.no_grad()
def _probe_input(J: int, c_in: int, dtype: torch.dtype) -> torch.Tensor:
    """``(J, J, C_in)``: sample ``b`` carries a random nonzero feature at joint ``b`` only."""
    g = torch.Generator().manual_seed(0)
    feats = torch.rand(J, c_in, generator=g, dtype=dtype) + 0.5  # bounded away from 0
    return torch.diag_embed(feats.T).permute(1, 2, 0).contiguous()  # x[b, j] = feats[b] if j == b


def weight_block_ids(layer: nn.Module) -> torch.Tensor:
    """Id of the weight block each message uses: ``(J, J)`` long, row = receiver ``i``, column = sender ``j``.

    For every pair with ``A_ij != 0`` (``A = layer.adjacency()``) the Jacobian of receiver ``i``'s output
    with respect to each stacked weight parameter, for an input where only sender ``j`` is nonzero, is
    nonzero in exactly one block. The id is that block's flat index (row-major over the stacking axes); when a
    layer has several stacked parameters (the modulated layer: ``weight (2, C_in, C_out)`` and ``modulation
    (J, C_out)``) the ids are combined in mixed radix, first parameter most significant. Unconnected pairs
    are ``-1``. Parameters that are not stacked weights (bias, adjacency offsets, edge logits) are ignored.

    So ``vanilla`` gives 0 everywhere, ``preagg`` the sender ``j``, ``postagg`` the receiver ``i``, and a pair
    that used a mix of blocks raises ``ValueError``. Works for any layer with the ``(B, J, C)`` interface of
    :mod:`~poselift_core.models.gcn`, small ``C_in`` and ``C_out`` keep it cheap (the probe is ``J`` samples).
    """
    A = layer.adjacency().detach()
    J = A.shape[0]
    c_in, c_out = layer.in_channels, layer.out_channels
    stacked = {n: _stack_shape(p.shape, c_in, c_out) for n, p in layer.named_parameters() if n != "bias"}
    stacked = {n: s for n, s in stacked.items() if s is not None}
    if not stacked:
        raise ValueError(f"weight_block_ids: {type(layer).__name__} has no parameter shaped (..., C_in={c_in}, "
                         f"C_out={c_out}) or (..., C_out={c_out})")
    # differentiate with respect to the stacked weights only; the other parameters are held fixed
    fixed = {n: p.detach() for n, p in layer.named_parameters() if n not in stacked} | dict(layer.named_buffers())
    x = _probe_input(J, c_in, A.dtype)

    def forward(weights: dict) -> torch.Tensor:
        return functional_call(layer, (weights, fixed), (x,))  # (B = sender, J = receiver, C_out)

    jac = jacrev(forward)({n: p.detach() for n, p in layer.named_parameters() if n in stacked})
    ids = torch.zeros(J, J, dtype=torch.long)
    for name, stack in stacked.items():
        # (sender, receiver, C_out, *stack, C_in?, C_out) -> which blocks each pair touches
        used = jac[name].abs().flatten(start_dim=2 + 1 + len(stack)).sum(-1)  # (J, J, C_out, *stack)
        used = (used.sum(2) > 0).transpose(0, 1).reshape(J, J, -1)  # (receiver, sender, n_blocks)
        count = used.sum(-1)
        bad = (A != 0) & (count != 1)
        if bad.any():
            i, j = bad.nonzero()[0].tolist()
            raise ValueError(f"weight_block_ids: pair (receiver {i}, sender {j}) uses {int(count[i, j])} blocks "
                             f"of {name!r}, expected exactly one")
        n_blocks = used.shape[-1]
        ids = ids * n_blocks + used.float().argmax(-1)
    return torch.where(A != 0, ids, torch.full_like(ids, -1))


def weight_sharing_matrix(variant: str, skeleton: "Skeleton | str | int" = "h36m16", **overrides) -> torch.Tensor:
    """:func:`weight_block_ids` of the input layer of ``build_model(variant, skeleton=..., hidden=3)``.

    The input graph convolution (``2 -> hidden``) of the lifting network has the same sharing rule as every
    other layer, and with ``hidden = 3`` the probe is tiny. ``overrides`` go to :func:`build_model`
    (e.g. ``adjacency="row"``). Returns ``(J, J)`` long, ``-1`` where the skeleton has no edge.
    """
    from . import build_model

    model = build_model(variant, skeleton=skeleton, **{"hidden": _PROBE_OUT, **overrides})
    return weight_block_ids(model.input.gconv)


def num_weight_blocks(index_matrix: torch.Tensor) -> int:
    """How many distinct weight blocks the connected pairs of an index matrix use."""
    return int(torch.unique(index_matrix[index_matrix >= 0]).numel())
