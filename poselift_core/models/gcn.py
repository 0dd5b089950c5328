"""Weight-sharing graph convolutions (Liu et al., ECCV 2020), Modulated GCN (Zou & Tang, ICCV 2021),
SemGCN (Zhao et al., CVPR 2019) and the residual lifting network they all share.

Every layer computes ``out_i = sum_j A_ij * (message from j to i) + b`` with row ``i`` of the adjacency the
*receiving* joint; the variants differ only in which weight matrix a message uses, which is visible in the
parameter shapes (``W: (C_in, C_out)`` shared by everyone, ``(J, C_in, C_out)`` one per sender, ...).
Explained in the book, chapter 3 ("Graph convolution"); the numbers quoted below come from models.md §3.

Layout. The public ``forward`` of a layer takes and returns ``(B, J, C)`` like ``DenseGCNConv``. Internally
(``propagate``) and inside :class:`GCNLifter` activations are kept joints-first, ``(J, B, C)``: then the
aggregation ``A @ X`` is a single ``(J, J) @ (J, B*C)`` GEMM, a per-joint weight is one ``bmm`` over ``J``,
a shared weight one ``(J*B, C_in) @ (C_in, C_out)`` GEMM, and BatchNorm runs on the flat ``(J*B, C)`` view
(statistics pooled over batch and joints, as BatchNorm1d on the ``(B, C, J)`` transpose) without any copy.
This is where the speed-up over the reference einsum/transposes comes from (benchmarks/bench_models.py).
"""
from __future__ import annotations

import dataclasses
import heapq
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..skeleton import Skeleton, get_skeleton

__all__ = [
    "VanillaGraphConv", "DecoupledVanillaGraphConv", "PreAggGraphConv", "DecoupledPreAggGraphConv",
    "PostAggGraphConv", "DecoupledPostAggGraphConv", "ConvStyleGraphConv", "NoSharingGraphConv",
    "ModulatedGraphConv", "SemGraphConv", "ConditionalAdjacency", "GraphNonLocal", "GCNConfig", "GCNLifter",
    "GRAPH_CONVS", "MODEL_BUILDERS", "aggregate", "topological_rank",
]

Tensor = torch.Tensor


# --------------------------------------------------------------------------- shared helpers
def aggregate(adj: Tensor, h: Tensor) -> Tensor:
    """``out_i = sum_j adj_ij h_j`` on joints-first features.

    Args:
        adj: ``(J, J)`` shared or ``(B, J, J)`` per-sample adjacency, row = receiver.
        h: ``(J, B, C)``.
    Returns:
        ``(J, B, C)``.
    """
    J, B, C = h.shape
    if adj.dim() == 2:  # one GEMM: (J, J) @ (J, B*C)
        return (adj @ h.reshape(J, B * C)).view(J, B, C)
    return torch.bmm(adj, h.transpose(0, 1)).transpose(0, 1)  # (B, J, J) @ (B, J, C)


def _split_self(adj: Tensor) -> tuple[Tensor, Tensor]:
    """Diagonal of ``adj`` as a row scale for ``(J, B, C)`` features, and the off-diagonal part."""
    d = adj.diagonal(dim1=-2, dim2=-1)  # (J,) or (B, J)
    scale = d.view(-1, 1, 1) if adj.dim() == 2 else d.t().unsqueeze(-1)  # (J, 1, 1) or (J, B, 1)
    return scale, adj - torch.diag_embed(d)


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Shared per-joint linear map ``(J, B, C_in) @ (C_in, C_out) (+ b)`` as one GEMM."""
    J, B, C = x.shape
    flat = x.reshape(J * B, C)
    out = flat @ weight if bias is None else torch.addmm(bias, flat, weight)
    return out.view(J, B, weight.shape[-1])


def _add_bias(out: Tensor, bias: Tensor | None) -> Tensor:
    return out if bias is None else out + bias


def _reference_uniform_(weight: Tensor, reference_shape: Sequence[int], gain: float = 1.414) -> None:
    """Reference init: Xavier-uniform with gain 1.414 applied to the whole stacked N-D tensor.

    PyTorch's fan rule on an N-D tensor uses ``fan_in = shape[1] * prod(shape[2:])`` and
    ``fan_out = shape[0] * prod(shape[2:])``, so the bound depends on how the reference stacked its weights
    (e.g. ``(1, C_in, C_out)`` for vanilla); ``reference_shape`` names that stacking (models.md §3.4).
    """
    receptive = math.prod(reference_shape[2:])
    fan_in, fan_out = reference_shape[1] * receptive, reference_shape[0] * receptive
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    nn.init.uniform_(weight, -bound, bound)


def topological_rank(parents: Sequence[int]) -> list[int]:
    """Position of each joint in the smallest-index-first topological order (every parent before its children).

    On a skeleton whose parents already precede their children (all built-in ones) this is the identity, so
    masks built from it equal the upper/lower-triangle split of the reference code; for any other joint order
    it still puts every parent before its children.
    """
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


# --------------------------------------------------------------------------- the layers
class _GraphConv(nn.Module):
    """Plumbing shared by all layers: the adjacency buffer, the bias, shape checks and the public
    ``(B, J, C)`` interface. Subclasses implement ``propagate`` on joints-first ``(J, B, C)`` features."""

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, bias: bool = True) -> None:
        super().__init__()
        adj = torch.as_tensor(adj, dtype=torch.get_default_dtype())
        if adj.dim() != 2 or adj.shape[0] != adj.shape[1]:
            raise ValueError(f"{type(self).__name__}: adjacency must be (J, J), got {tuple(adj.shape)}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.register_buffer("adj", adj.clone())  # in state_dict, follows .to(device)
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)

    @property
    def num_joints(self) -> int:
        return self.adj.shape[0]

    def adjacency(self) -> Tensor:
        """The layer's own ``(J, J)`` aggregation matrix, used when ``forward`` gets no ``adj``."""
        return self.adj

    def reset_parameters(self) -> None:
        if self.bias is not None:  # reference: U(-1/sqrt(C_out), 1/sqrt(C_out))
            bound = 1.0 / math.sqrt(self.out_channels)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        """``x: (B, J, C_in)``, ``adj: (J, J)`` or ``(B, J, J)`` or None (the layer's own) -> ``(B, J, C_out)``."""
        J = self.num_joints
        if x.dim() != 3 or x.shape[1] != J or x.shape[2] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: expected x of shape (B, J={J}, C_in={self.in_channels}), "
                             f"got {tuple(x.shape)}")
        if adj is not None and not (adj.shape[-2:] == (J, J) and (adj.dim() == 2 or (
                adj.dim() == 3 and adj.shape[0] == x.shape[0]))):
            raise ValueError(f"{type(self).__name__}: expected adj of shape (J, J) or (B, J, J) with "
                             f"J={J}, B={x.shape[0]}, got {tuple(adj.shape)}")
        return self.propagate(x.transpose(0, 1), adj).transpose(0, 1).contiguous()

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:  # (J, B, C_in) -> (J, B, C_out)
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, num_joints={self.num_joints}"


class VanillaGraphConv(_GraphConv):
    r"""Vanilla graph convolution, full weight sharing (Kipf & Welling, ICLR 2017, as studied by Liu et al.,
    "A Comprehensive Study of Weight Sharing in Graph Networks for 3D Human Pose Estimation", ECCV 2020).

    .. math::
        \mathbf{x}'_i = \sum_{j} \hat{A}_{ij} \mathbf{W} \mathbf{x}_j + \mathbf{b}

    Args:
        in_channels (int): :math:`C_{in}`.
        out_channels (int): :math:`C_{out}`.
        adj (Tensor): :math:`\hat{A}`, ``(J, J)``, row = receiving joint.
        bias (bool): add :math:`\mathbf{b}` (default: ``True``).

    Shapes:
        input ``(B, J, C_in)`` and optional ``adj`` ``(J, J)`` / ``(B, J, J)``; output ``(B, J, C_out)``.
        Parameters: ``weight (C_in, C_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, adj, bias)
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        _reference_uniform_(self.weight, (1, self.in_channels, self.out_channels))  # stacked as (1, Ci, Co)

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        adj = self.adjacency() if adj is None else adj
        if self.in_channels <= self.out_channels:  # (A X) W: aggregate the narrower tensor (associativity)
            return _linear(aggregate(adj, x), self.weight, self.bias)
        return _add_bias(aggregate(adj, _linear(x, self.weight)), self.bias)


class DecoupledVanillaGraphConv(_GraphConv):
    r"""Decoupled vanilla graph convolution: one weight for the self-connection, one for all neighbours
    (Liu et al., ECCV 2020).

    .. math::
        \mathbf{x}'_i = \hat{A}_{ii} \mathbf{W}_0 \mathbf{x}_i
            + \sum_{j \neq i} \hat{A}_{ij} \mathbf{W}_1 \mathbf{x}_j + \mathbf{b}

    Args and shapes as :class:`VanillaGraphConv`; parameters ``weight (2, C_in, C_out)`` (self, neighbours).
    """

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, adj, bias)
        self.weight = nn.Parameter(torch.empty(2, in_channels, out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        _reference_uniform_(self.weight, self.weight.shape)

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        self_scale, nb = _split_self(self.adjacency() if adj is None else adj)
        if self.in_channels <= self.out_channels:  # both terms in one output buffer (addmm accumulates)
            out = _linear(self_scale * x, self.weight[0], self.bias)
            J, B, _ = x.shape
            return torch.addmm(out.view(J * B, -1), aggregate(nb, x).reshape(J * B, -1), self.weight[1]).view_as(out)
        return _add_bias(self_scale * _linear(x, self.weight[0]) + aggregate(nb, _linear(x, self.weight[1])),
                         self.bias)


class PreAggGraphConv(_GraphConv):
    r"""Pre-aggregation graph convolution: every *sender* transforms its feature with its own matrix before
    the messages are summed (Liu et al., ECCV 2020).

    .. math::
        \mathbf{x}'_i = \sum_{j} \hat{A}_{ij} \mathbf{W}_j \mathbf{x}_j + \mathbf{b}

    Args as :class:`VanillaGraphConv`. Parameters ``weight (J, C_in, C_out)``, indexed by the sender ``j``.
    """

    num_weight_sets = 1

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, adj, bias)
        shape = (self.num_joints, in_channels, out_channels)
        if self.num_weight_sets > 1:
            shape = (self.num_weight_sets,) + shape
        self.weight = nn.Parameter(torch.empty(shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        _reference_uniform_(self.weight, (self.num_weight_sets, self.num_joints, self.in_channels,
                                          self.out_channels))  # stacked as (1|2, J, Ci, Co)

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        adj = self.adjacency() if adj is None else adj
        return _add_bias(aggregate(adj, torch.bmm(x, self.weight)), self.bias)  # bmm over joints j


class DecoupledPreAggGraphConv(PreAggGraphConv):
    r"""Decoupled pre-aggregation graph convolution (Liu et al.'s best model, 4.22M parameters at width 128).

    .. math::
        \mathbf{x}'_i = \hat{A}_{ii} \mathbf{W}_{0,i} \mathbf{x}_i
            + \sum_{j \neq i} \hat{A}_{ij} \mathbf{W}_{1,j} \mathbf{x}_j + \mathbf{b}

    Parameters ``weight (2, J, C_in, C_out)``: ``[0]`` self, ``[1]`` indexed by the sender.
    """

    num_weight_sets = 2

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        self_scale, nb = _split_self(self.adjacency() if adj is None else adj)
        out = self_scale * torch.bmm(x, self.weight[0]) + aggregate(nb, torch.bmm(x, self.weight[1]))
        return _add_bias(out, self.bias)


class PostAggGraphConv(PreAggGraphConv):
    r"""Post-aggregation graph convolution: the *receiver* transforms the aggregated feature with its own
    matrix (Liu et al., ECCV 2020). Any-GCN's version crashes (models.md §3.8, quirk 1).

    .. math::
        \mathbf{x}'_i = \mathbf{W}_i \sum_{j} \hat{A}_{ij} \mathbf{x}_j + \mathbf{b}

    Parameters ``weight (J, C_in, C_out)``, indexed by the receiver ``i``.
    """

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        adj = self.adjacency() if adj is None else adj
        y = torch.bmm(aggregate(adj, x), self.weight)
        return _add_bias(y, self.bias)


class DecoupledPostAggGraphConv(PreAggGraphConv):
    r"""Decoupled post-aggregation graph convolution (Liu et al., ECCV 2020).

    .. math::
        \mathbf{x}'_i = \mathbf{W}_{0,i} \hat{A}_{ii} \mathbf{x}_i
            + \mathbf{W}_{1,i} \sum_{j \neq i} \hat{A}_{ij} \mathbf{x}_j + \mathbf{b}

    Parameters ``weight (2, J, C_in, C_out)``: ``[0]`` self, ``[1]`` neighbours, both indexed by the receiver.
    """

    num_weight_sets = 2

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        self_scale, nb = _split_self(self.adjacency() if adj is None else adj)
        out = torch.bmm(self_scale * x, self.weight[0])
        out = torch.baddbmm(out, aggregate(nb, x).contiguous(), self.weight[1])  # accumulate in place of a sum
        return _add_bias(out, self.bias)


class ConvStyleGraphConv(_GraphConv):
    r"""Convolution-style graph convolution: separate weights for the self-connection, the neighbour towards
    the root (parent) and the neighbours away from it (children) -- ST-GCN's spatial partition
    (Liu et al., ECCV 2020).

    .. math::
        \mathbf{x}'_i = \hat{A}_{ii} \mathbf{W}_0 \mathbf{x}_i
            + \sum_{j \in \mathcal{P}(i)} \hat{A}_{ij} \mathbf{W}_1 \mathbf{x}_j
            + \sum_{j \in \mathcal{C}(i)} \hat{A}_{ij} \mathbf{W}_2 \mathbf{x}_j + \mathbf{b}

    :math:`\mathcal{P}(i)` / :math:`\mathcal{C}(i)` are built from ``parents``, not from index order: pair
    ``(i, j)`` goes to the parent side when ``j`` comes before ``i`` in a topological order of the tree
    (:func:`topological_rank`), else to the children side. On bones this is exactly {parent} / {children}
    for any joint order; on the Human3.6M orders (parents have smaller indices) it reproduces the reference's
    strict lower/upper triangles, also for the off-skeleton pairs a dense conditional adjacency may carry.

    Args:
        parents (sequence of int): parent of every joint, ``-1`` for the root.
        Other args as :class:`VanillaGraphConv`.

    Shapes as :class:`VanillaGraphConv`; parameters ``weight (3, C_in, C_out)`` (self, parent, children).
    """

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, parents: Sequence[int],
                 bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, adj, bias)
        if len(parents) != self.num_joints:
            raise ValueError(f"ConvStyleGraphConv: {len(parents)} parents for a {self.num_joints}-joint adjacency")
        rank = torch.tensor(topological_rank(parents))
        self.register_buffer("parent_mask", (rank[None, :] < rank[:, None]).to(self.adj.dtype))  # [i, j]
        self.register_buffer("child_mask", (rank[None, :] > rank[:, None]).to(self.adj.dtype))
        self.weight = nn.Parameter(torch.empty(3, in_channels, out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        _reference_uniform_(self.weight, self.weight.shape)

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        adj = self.adjacency() if adj is None else adj
        self_scale, _ = _split_self(adj)
        parts = (adj * self.parent_mask, adj * self.child_mask)
        W = self.weight
        if self.in_channels <= self.out_channels:
            J, B, _ = x.shape
            out = _linear(self_scale * x, W[0], self.bias).view(J * B, -1)
            for part, w in zip(parts, W[1:]):
                out = torch.addmm(out, aggregate(part, x).reshape(J * B, -1), w)
            return out.view(J, B, -1)
        out = self_scale * _linear(x, W[0])
        for part, w in zip(parts, W[1:]):
            out = out + aggregate(part, _linear(x, w))
        return _add_bias(out, self.bias)


class NoSharingGraphConv(_GraphConv):
    r"""No weight sharing: one matrix per ordered (receiver, sender) pair (Liu et al., ECCV 2020).

    .. math::
        \mathbf{x}'_i = \sum_{j} \hat{A}_{ij} \mathbf{W}_{ij} \mathbf{x}_j + \mathbf{b}

    Computed over the edge list (gather senders -> one ``bmm`` over pairs -> scatter-add to receivers).

    Deliberate difference from the reference: by default only the pairs with :math:`\hat{A}_{ij} \neq 0`
    (46 for the 16-joint skeleton, self-loops included) own a weight block. The reference stores all
    :math:`J^2` blocks, of which 210 never receive a gradient (models.md §3.2): 6,062,211 instead of
    33,721,731 parameters at the default size, with the same function and the same initial distribution.
    ``dense_weights=True`` stores all :math:`J^2` blocks (reference count; needed if a dense conditional
    adjacency should reach every pair -- with sparse storage, ``adj`` entries outside the stored pairs are
    ignored because no weight exists for them). The reference's transposed indexing (quirk 3) is fixed: row
    ``i`` of :math:`\hat{A}` is the receiver.

    Args:
        dense_weights (bool): store all :math:`J^2` blocks (default: ``False``).
        Other args as :class:`VanillaGraphConv`.

    Shapes as :class:`VanillaGraphConv`; parameters ``weight (E, C_in, C_out)`` for the ``E`` pairs in
    ``edge_index (2, E)`` (rows: receiver, sender), or ``(J, J, C_in, C_out)`` with ``dense_weights``.
    """

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, bias: bool = True,
                 dense_weights: bool = False) -> None:
        super().__init__(in_channels, out_channels, adj, bias)
        J = self.num_joints
        self.dense_weights = dense_weights
        if dense_weights:  # receiver-major, so weight.view(J*J, Ci, Co) lines up with edge_index
            edge_index = torch.stack(torch.meshgrid(torch.arange(J), torch.arange(J), indexing="ij")).view(2, -1)
            self.weight = nn.Parameter(torch.empty(J, J, in_channels, out_channels))
        else:
            edge_index = (self.adj != 0).nonzero().t()
            self.weight = nn.Parameter(torch.empty(edge_index.shape[1], in_channels, out_channels))
        self.register_buffer("edge_index", edge_index.contiguous())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        J = self.num_joints  # the reference bound of the full (J, J, Ci, Co) tensor, also for sparse storage
        _reference_uniform_(self.weight, (J, J, self.in_channels, self.out_channels))

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        adj = self.adjacency() if adj is None else adj
        receiver, sender = self.edge_index
        E = receiver.shape[0]
        W = self.weight.view(E, self.in_channels, self.out_channels)
        a = adj[..., receiver, sender]  # (E,) or (B, E)
        a = a.view(E, 1, 1) if adj.dim() == 2 else a.t().unsqueeze(-1)  # (E, 1|B, 1)
        h = torch.bmm(x.index_select(0, sender) * a, W)  # (E, B, C_out): one matrix per pair
        J, B, _ = x.shape
        out = h.new_zeros(J, B, self.out_channels).index_add_(0, receiver, h)
        return _add_bias(out, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", pairs={self.edge_index.shape[1]}"


class ModulatedGraphConv(_GraphConv):
    r"""Modulated graph convolution (Zou & Tang, "Modulated Graph Convolutional Network for 3D Human Pose
    Estimation", ICCV 2021):
    decoupled shared weights, a learnable per-joint modulation of the *sender* and a learnable dense
    adjacency offset.

    .. math::
        \mathbf{x}'_i = \hat{A}'_{ii}\, \mathbf{m}_i \odot (\mathbf{W}_0 \mathbf{x}_i)
            + \sum_{j \neq i} \hat{A}'_{ij}\, \mathbf{m}_j \odot (\mathbf{W}_1 \mathbf{x}_j) + \mathbf{b},
        \qquad \hat{A}' = \tfrac{1}{2}\big[(\hat{A} + \mathbf{Q}) + (\hat{A} + \mathbf{Q})^\top\big]

    ``Q`` is added to whatever adjacency is used, including a per-sample one (Any-GCN drops it when experts
    are on, models.md §3.8 quirk 4).

    Args:
        modulation_init (str): ``"ones"`` (ModGCN-GT, Any-GCN) or ``"xavier"`` (ModGCN-benchmark,
            Xavier-uniform gain 1.414 on ``(J, C_out)``) (default: ``"ones"``).
        Other args as :class:`VanillaGraphConv`.

    Shapes as :class:`VanillaGraphConv`; parameters ``weight (2, C_in, C_out)``, ``modulation (J, C_out)``,
    ``adj_offset (J, J)`` (:math:`\mathbf{Q}`, initialised to ``1e-6``).
    """

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, bias: bool = True,
                 modulation_init: str = "ones") -> None:
        super().__init__(in_channels, out_channels, adj, bias)
        if modulation_init not in ("ones", "xavier"):
            raise ValueError(f"ModulatedGraphConv: modulation_init must be 'ones' or 'xavier', got {modulation_init!r}")
        self.modulation_init = modulation_init
        J = self.num_joints
        self.weight = nn.Parameter(torch.empty(2, in_channels, out_channels))
        self.modulation = nn.Parameter(torch.empty(J, out_channels))
        self.adj_offset = nn.Parameter(torch.empty(J, J))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        _reference_uniform_(self.weight, self.weight.shape)
        if self.modulation_init == "ones":
            nn.init.ones_(self.modulation)
        else:
            _reference_uniform_(self.modulation, self.modulation.shape)
        nn.init.constant_(self.adj_offset, 1e-6)

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        A = (self.adjacency() if adj is None else adj) + self.adj_offset
        self_scale, nb = _split_self(0.5 * (A + A.transpose(-1, -2)))
        m = self.modulation.unsqueeze(1)  # (J, 1, C_out), row j modulates sender j
        out = self_scale * (_linear(x, self.weight[0]) * m) + aggregate(nb, _linear(x, self.weight[1]) * m)
        return _add_bias(out, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", modulation_init={self.modulation_init!r}"


class SemGraphConv(_GraphConv):
    r"""Semantic graph convolution (Zhao et al., "Semantic Graph Convolutional Networks for 3D Human Pose
    Regression", CVPR 2019): decoupled shared weights and learnable edge
    weights on the skeleton's pattern, softmax-normalised over each receiver's neighbours and itself.

    .. math::
        \mathbf{x}'_i = S_{ii} \mathbf{W}_0 \mathbf{x}_i + \sum_{j \neq i} S_{ij} \mathbf{W}_1 \mathbf{x}_j
            + \mathbf{b}, \qquad
        S_{ij} = \frac{[\hat{A}_{ij} \neq 0]\, e^{E_{ij}}}{\sum_{k} [\hat{A}_{ik} \neq 0]\, e^{E_{ik}}}

    :math:`E` is initialised to 1, so :math:`S` starts as :math:`D^{-1}(A + I)`. ``adj`` only provides the
    pattern. Parameters per layer ``2 C_in C_out + nnz + C_out`` (nnz = 46 at 16 joints): 267,343 for the
    default network, SemGCN's "0.27M".

    Shapes as :class:`VanillaGraphConv`; parameters ``weight (2, C_in, C_out)``, ``edge_logits (nnz,)``.
    """

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, adj, bias)
        self.register_buffer("edge_mask", self.adj != 0)
        self.weight = nn.Parameter(torch.empty(2, in_channels, out_channels))
        self.edge_logits = nn.Parameter(torch.empty(int(self.edge_mask.sum())))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        _reference_uniform_(self.weight, self.weight.shape)
        nn.init.ones_(self.edge_logits)

    propagate = DecoupledVanillaGraphConv.propagate  # same computation, with the learned adjacency below

    def adjacency(self) -> Tensor:
        logits = torch.full_like(self.adj, float("-inf")).masked_scatter(self.edge_mask, self.edge_logits)
        return torch.softmax(logits, dim=-1)  # every row has its self-loop, so no row is all -inf


# --------------------------------------------------------------------------- network parts
class ConditionalAdjacency(nn.Module):
    r"""Per-sample adjacency from a mixture of learnable "expert" graphs (Any-GCN ``--num_experts``).

    .. math::
        \mathbf{r} = \sigma\big(\mathrm{Linear}(\mathrm{Dropout}_{0.2}(\tfrac{1}{J}\textstyle\sum_j \mathbf{x}_j))\big),
        \quad A_c = \sum_e r_e K_e, \quad
        A = \tfrac{1}{2}(\tilde{A} + \tilde{A}^\top),\ \tilde{A} \in \{\hat{A} + A_c,\ \hat{A} \odot A_c,\ A_c\}

    Args:
        in_channels (int): channels of the layer input.
        num_joints (int): :math:`J`.
        num_experts (int): :math:`E`.
        reg_type (str): ``"add"``, ``"mul"`` or ``"no_skeleton"`` (default: ``"add"``).

    Shapes: ``x (J, B, C)``, ``base (J, J)`` -> ``(B, J, J)``. Parameters ``E J^2 + E C + E``.
    """

    def __init__(self, in_channels: int, num_joints: int, num_experts: int, reg_type: str = "add",
                 dropout: float = 0.2) -> None:
        super().__init__()
        if reg_type not in ("add", "mul", "no_skeleton"):
            raise ValueError(f"ConditionalAdjacency: reg_type must be 'add', 'mul' or 'no_skeleton', got {reg_type!r}")
        self.reg_type, self.dropout = reg_type, dropout
        self.gate = nn.Linear(in_channels, num_experts)
        self.experts = nn.Parameter(torch.empty(num_experts, num_joints, num_joints))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.gate.reset_parameters()
        nn.init.xavier_uniform_(self.experts)  # dense random over the whole (E, J, J) tensor, as the reference

    def forward(self, x: Tensor, base: Tensor) -> Tensor:
        J, B, _ = x.shape
        r = torch.sigmoid(self.gate(F.dropout(x.mean(0), self.dropout, self.training)))  # (B, E) independent gates
        A_c = (r @ self.experts.flatten(1)).view(B, J, J)
        A = {"add": lambda: base + A_c, "mul": lambda: base * A_c, "no_skeleton": lambda: A_c}[self.reg_type]()
        return 0.5 * (A + A.transpose(1, 2))


class GraphNonLocal(nn.Module):
    r"""SemGCN's non-local block over joint groups (concatenation form, keys max-pooled per group).

    .. math::
        \mathbf{z}_i = \mathbf{x}_i + \mathrm{BN}\Big(\mathbf{W}_z \frac{1}{K} \sum_{k=1}^{K}
            \mathrm{ReLU}\big(\mathbf{w}^\top [\theta(\mathbf{x}_i); \bar\phi_k]\big)\, \bar{g}_k\Big),
        \quad \bar\phi_k = \max_{j \in G_k} \phi(\mathbf{x}_j),\ \bar g_k = \max_{j \in G_k} g(\mathbf{x}_j)

    SemGCN permutes the joints into group order, max-pools by the group size and permutes back; pooling
    inside each group directly is the same computation (BN statistics do not depend on joint order), so no
    permutation is done here. The BN starts at :math:`\gamma = \beta = 0`, so the block starts as the identity.

    Args:
        channels (int): :math:`C`; inter channels :math:`C/2`.
        groups (sequence of sequences of int): :math:`K` joint groups of equal size.

    Shapes: ``(J, B, C)`` -> ``(J, B, C)``. 33,472 parameters at ``C = 128``.
    """

    def __init__(self, channels: int, groups: Sequence[Sequence[int]]) -> None:
        super().__init__()
        if not groups or len({len(g) for g in groups}) != 1:
            raise ValueError(f"GraphNonLocal: need non-empty joint groups of equal size, got {groups!r}")
        inter = channels // 2
        self.register_buffer("groups", torch.tensor(groups, dtype=torch.long))  # (K, S)
        self.theta, self.phi, self.g = (nn.Linear(channels, inter) for _ in range(3))
        self.pair_weight = nn.Parameter(torch.empty(2 * inter))  # w of the concatenation form, no bias
        self.out = nn.Linear(inter, channels)
        self.bn = nn.BatchNorm1d(channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.theta, self.phi, self.g, self.out):
            lin.reset_parameters()
        bound = 1.0 / math.sqrt(self.pair_weight.numel())  # default init of SemGCN's 1x1 conv (fan_in = 2*inter)
        nn.init.uniform_(self.pair_weight, -bound, bound)
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def forward(self, x: Tensor) -> Tensor:
        J, B, C = x.shape
        K = self.groups.shape[0]
        theta, phi, g = (f(x) for f in (self.theta, self.phi, self.g))  # (J, B, C/2) each
        phi_k, g_k = phi[self.groups].amax(1), g[self.groups].amax(1)  # (K, B, C/2): pooled keys/values
        w_theta, w_phi = self.pair_weight.chunk(2)
        f = F.relu((theta @ w_theta).unsqueeze(1) + (phi_k @ w_phi).unsqueeze(0)) / K  # (J, K, B)
        y = torch.bmm(f.permute(2, 0, 1), g_k.transpose(0, 1)).transpose(0, 1)  # (J, B, C/2)
        return x + self.bn(self.out(y).reshape(J * B, C)).view(J, B, C)


class _GraphConvUnit(nn.Module):
    """GConv (+ conditional adjacency) (+ BN + ReLU + dropout): SemGCN's ``_GraphConv`` on (J, B, C)."""

    def __init__(self, gconv: _GraphConv, router: ConditionalAdjacency | None, norm: bool, dropout: float) -> None:
        super().__init__()
        self.gconv, self.router = gconv, router
        self.bn = nn.BatchNorm1d(gconv.out_channels) if norm else None
        self.dropout = dropout

    def forward(self, x: Tensor) -> Tensor:
        adj = None if self.router is None else self.router(x, self.gconv.adjacency())
        h = self.gconv.propagate(x, adj)  # (J, B, C)
        if self.bn is None:
            return h
        J, B, C = h.shape
        h = F.relu(self.bn(h.reshape(J * B, C))).view(J, B, C)  # BN pooled over batch and joints
        return F.dropout(h, self.dropout, self.training) if self.dropout > 0 else h


# --------------------------------------------------------------------------- the network
def _make_graph_conv(cfg: "GCNConfig", skeleton: Skeleton, adj: Tensor, c_in: int, c_out: int) -> _GraphConv:
    cls = GRAPH_CONVS[cfg.variant]
    if cls is ConvStyleGraphConv:
        return cls(c_in, c_out, adj, skeleton.parents)
    if cls is NoSharingGraphConv:
        return cls(c_in, c_out, adj, dense_weights=cfg.dense_weights)
    if cls is ModulatedGraphConv:
        return cls(c_in, c_out, adj, modulation_init=cfg.modulation_init)
    return cls(c_in, c_out, adj)


GRAPH_CONVS: dict[str, type[_GraphConv]] = {
    "vanilla": VanillaGraphConv, "dc_vanilla": DecoupledVanillaGraphConv,
    "preagg": PreAggGraphConv, "dc_preagg": DecoupledPreAggGraphConv,
    "postagg": PostAggGraphConv, "dc_postagg": DecoupledPostAggGraphConv,
    "convst": ConvStyleGraphConv, "nosharing": NoSharingGraphConv,
    "modulated": ModulatedGraphConv, "semgcn": SemGraphConv,
}


@dataclass
class GCNConfig:
    """Everything that defines a :class:`GCNLifter`. Defaults = Any-GCN's CLI defaults (models.md §3.4)."""

    variant: str = "vanilla"  # key of GRAPH_CONVS
    skeleton: str = "h36m16"  # the reference counts are for 16 joints (Nose removed)
    hidden: int = 128
    num_blocks: int = 4  # residual blocks of two graph convolutions
    dropout: float = 0.0
    adjacency: str = "row"  # "row": D^-1 (A + I) (SemGCN/Any-GCN); "diag1": the ModGCN original (models.md §3.1)
    non_local: bool = False  # SemGCN non-local blocks after the input layer and every residual block
    num_experts: int = 0  # > 0: conditional adjacency in every layer but the input one
    reg_type: str = "add"  # how experts combine with the skeleton: "add" | "mul" | "no_skeleton"
    modulation_init: str = "ones"  # modulated only: "ones" (ModGCN-GT) | "xavier" (ModGCN-benchmark)
    dense_weights: bool = False  # nosharing only: store all J^2 blocks (reference count) instead of nnz(A)

    def __post_init__(self) -> None:
        choices = {"variant": tuple(GRAPH_CONVS), "adjacency": ("row", "diag1"),
                   "reg_type": ("add", "mul", "no_skeleton"), "modulation_init": ("ones", "xavier")}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"GCNConfig.{key}={getattr(self, key)!r}; expected one of {allowed}")
        types = {"hidden": int, "num_blocks": int, "num_experts": int, "dropout": (int, float),
                 "non_local": bool, "dense_weights": bool, "skeleton": str}
        for key, typ in types.items():
            value = getattr(self, key)
            if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
                raise TypeError(f"GCNConfig.{key} must be {typ}, got {type(value).__name__} {value!r}")
        if self.hidden < 1 or self.num_blocks < 0 or self.num_experts < 0 or not 0 <= self.dropout < 1:
            raise ValueError(f"GCNConfig: invalid sizes hidden={self.hidden}, num_blocks={self.num_blocks}, "
                             f"num_experts={self.num_experts}, dropout={self.dropout}")


class GCNLifter(nn.Module):
    """Residual GCN lifting network shared by SemGCN, Liu et al. and Any-GCN (models.md §3.4).

    ``GConv(2 -> C) -> BN -> ReLU``, then ``num_blocks`` times ``x + (GConv -> BN -> ReLU -> GConv -> BN -> ReLU)``,
    then ``GConv(C -> 3)``; optional non-local blocks after the input layer and each residual block, optional
    conditional adjacency in every layer but the input one.

    Args:
        config: a :class:`GCNConfig`.
        skeleton: a :class:`~poselift_core.skeleton.Skeleton` to use instead of looking ``config.skeleton`` up.

    Shapes: input ``(B, J, 2)`` normalised 2D keypoints, output ``(B, J, 3)`` root-relative joints.
    """

    receptive_field = 1

    def __init__(self, config: GCNConfig, skeleton: Skeleton | None = None) -> None:
        super().__init__()
        self.config = config
        self.skeleton = get_skeleton(config.skeleton if skeleton is None else skeleton)
        sk, C = self.skeleton, config.hidden
        adj = sk.adjacency(config.adjacency)

        def unit(c_in: int, c_out: int, norm: bool = True, routed: bool = True) -> _GraphConvUnit:
            router = (ConditionalAdjacency(c_in, sk.num_joints, config.num_experts, config.reg_type)
                      if routed and config.num_experts > 0 else None)
            return _GraphConvUnit(_make_graph_conv(config, sk, adj, c_in, c_out), router, norm, config.dropout)

        if config.non_local and not sk.nonlocal_groups:
            raise ValueError(f"GCNLifter: non_local=True needs joint groups; skeleton {sk.name!r} defines none")
        make_nl = (lambda: GraphNonLocal(C, sk.nonlocal_groups)) if config.non_local else nn.Identity
        self.input = unit(2, C, routed=False)  # Any-GCN: no conditional adjacency in the input layer
        self.input_nonlocal = make_nl()
        self.blocks = nn.ModuleList(nn.Sequential(unit(C, C), unit(C, C)) for _ in range(config.num_blocks))
        self.block_nonlocals = nn.ModuleList(make_nl() for _ in range(config.num_blocks))
        self.output = unit(C, 3, norm=False)

    def forward(self, x: Tensor) -> Tensor:
        J = self.skeleton.num_joints
        if x.dim() != 3 or x.shape[1:] != (J, 2):
            raise ValueError(f"GCNLifter({self.config.variant}): expected 2D keypoints of shape (B, J={J}, 2), "
                             f"got {tuple(x.shape)}")
        h = self.input_nonlocal(self.input(x.transpose(0, 1)))  # (J, B, C): joints-first inside the network
        for block, nonlocal_ in zip(self.blocks, self.block_nonlocals):
            h = nonlocal_(h + block(h))
        return self.output(h).transpose(0, 1).contiguous()  # (B, J, 3)


def _builder(variant: str, **preset) -> Callable[..., GCNLifter]:
    def build(skeleton: "str | int | Skeleton | None" = None, **overrides) -> GCNLifter:
        fields = {f.name for f in dataclasses.fields(GCNConfig)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise ValueError(f"model {variant!r}: unknown option(s) {unknown}; valid: {sorted(fields)}")
        if overrides.get("variant", variant) != variant:
            raise ValueError(f"model {variant!r}: variant={overrides['variant']!r} does not match the model name")
        sk = get_skeleton(skeleton if skeleton is not None else GCNConfig.skeleton)
        cfg = GCNConfig(**{**preset, **overrides, "variant": variant, "skeleton": sk.name})
        return GCNLifter(cfg, skeleton=sk)

    build.__doc__ = f"Build the {variant!r} GCN lifter (GCNConfig defaults, then {preset or 'no presets'}, then overrides)."
    return build


# The published Modulated GCN numbers come from the original's diag-1 adjacency (models.md §3.1); Any-GCN's
# "modulated" uses D^-1 (A + I). Parameter counts are the same (287,923); pass adjacency="row" for Any-GCN.
_PRESETS: dict[str, dict] = {"modulated": {"adjacency": "diag1"}}

MODEL_BUILDERS: dict[str, Callable[..., GCNLifter]] = {
    name: _builder(name, **_PRESETS.get(name, {})) for name in GRAPH_CONVS
}
