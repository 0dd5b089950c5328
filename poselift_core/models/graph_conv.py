"""Graph convolutions on a fixed skeleton: the weight-sharing family of Liu et al. (ECCV 2020), the Modulated
GCN layer (Zou & Tang, ICCV 2021) and SemGCN's layer (Zhao et al., CVPR 2019).

Every layer computes ``out_i = sum_j A_ij * (message from j to i) + b`` with row ``i`` of the adjacency the
*receiving* joint; the variants differ only in which weight matrix a message uses, which is visible in the
parameter shapes (``W: (C_in, C_out)`` shared by everyone, ``(J, C_in, C_out)`` one per sender, ...).
Explained in the book, chapter 3 ("One rule, nine layers"); the numbers quoted below were measured on the
original implementations (`tamasino52/Any-GCN`, `ZhimingZo/Modulated-GCN`).
The network that stacks them is :mod:`poselift_core.models.gcn`.

One constructor for every layer: ``Layer(in_channels, out_channels, adj, parents, bias=True)``, the graph given
as its aggregation matrix ``adj`` ``(J, J)`` and its tree ``parents`` (only the conv-style layer reads the
tree). Two layers take one keyword-only option more, named in their ``options`` (``dense_weights``,
``modulation_init``: the :class:`~poselift_core.models.gcn.GCNConfig` fields of the same names).

A layer class holds what makes it different: the shape of its weight (``weight_stack``), the reference
initialisation where it differs from the common rule (``reference_shape``), any parameter or buffer more
(``build_extras``), its options, and its formula (``propagate``, written once). The rest is plumbing in
:class:`_GraphConv` and plain functions: :func:`aggregate` and the decoupled split :func:`_split_self`;
:func:`_shared`, which every shared-weight formula (vanilla, decoupled vanilla, conv-style, SemGCN) is a case
of, ``sum_k G_k(X) W_k`` for linear graph operators ``G_k``; and :func:`_decoupled_pre_aggregation`, shared
by the decoupled pre-aggregation layer and the modulated layer, which is one.

Layout. The public ``forward`` of a layer takes and returns ``(B, J, C)`` like PyG's ``DenseGCNConv``.
``propagate`` (used by the network) works joints-first, ``(J, B, C)``: then the aggregation ``A @ X`` is a
single ``(J, J) @ (J, B*C)`` GEMM, a per-joint weight is one ``bmm`` over ``J`` and a shared weight one
``(J*B, C_in) @ (C_in, C_out)`` GEMM, with no copies; this is where the speed-up over the reference
einsum/transpose layout comes from (benchmarks/bench_models.py). A per-sample adjacency ``(B, J, J)`` (the
conditional adjacency of :class:`~poselift_core.models.gcn.ConditionalAdjacency`) is accepted by every layer.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable, ClassVar, Sequence

import torch
import torch.nn as nn

from ..graph import topological_rank

__all__ = [
    "VanillaGraphConv", "DecoupledVanillaGraphConv", "PreAggGraphConv", "DecoupledPreAggGraphConv",
    "PostAggGraphConv", "DecoupledPostAggGraphConv", "ConvStyleGraphConv", "NoSharingGraphConv",
    "ModulatedGraphConv", "SemGraphConv", "GRAPH_CONVS", "aggregate",
]

Tensor = torch.Tensor
GraphOp = Callable[[Tensor], Tensor]  # a linear map over joints, (J, B, C) -> (J, B, C)


# --------------------------------------------------------------------------- graph operators
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


def _self_and_neighbours(adj: Tensor) -> list[GraphOp]:
    """``[X -> diag(A) X, X -> (A - diag(A)) X]``: the decoupled split, the self part as a row scale."""
    self_scale, neighbours = _split_self(adj)
    return [self_scale.mul, partial(aggregate, neighbours)]


# --------------------------------------------------------------------------- formulas shared by several layers
def _linear(x: Tensor, weight: Tensor) -> Tensor:
    """Shared per-joint linear map ``(J, B, C_in) @ (C_in, C_out)`` as one GEMM."""
    J, B, C = x.shape
    return (x.reshape(J * B, C) @ weight).view(J, B, weight.shape[-1])


def _add_bias(out: Tensor, bias: Tensor | None) -> Tensor:
    return out if bias is None else out + bias


def _shared(x: Tensor, ops: Sequence[GraphOp], weights: Sequence[Tensor], bias: Tensor | None) -> Tensor:
    """``sum_k G_k(X) W_k + b`` with shared weights ``W_k (C_in, C_out)``; ``x: (J, B, C_in)``.

    ``G_k`` acts on joints and ``W_k`` on channels, so ``G_k(X) W_k = G_k(X W_k)``: the graph operator is
    applied on the narrower side. Widening (``C_in <= C_out``, e.g. the ``2 -> C`` input layer) aggregates the
    input and accumulates every term into one ``(J*B, C_out)`` buffer with ``addmm``; narrowing (the ``C -> 3``
    output layer) transforms first and aggregates ``C_out`` channels. The second order pays a little: with the
    widening order everywhere, train steps of the default networks took 1.01-1.06x as long for vanilla,
    1.01x for dc_vanilla, 1.03x for convst and 1.03-1.05x for semgcn (batch 256, 1 thread, loaded 2-core CPU;
    both in one process, steps interleaved, median per-step time ratio of two runs of 25 pairs).
    """
    J, B, c_in = x.shape
    c_out = weights[0].shape[-1]
    if c_in <= c_out:
        out = None
        for op, w in zip(ops, weights):
            h = op(x).reshape(J * B, c_in)
            if out is None:
                out = h @ w if bias is None else torch.addmm(bias, h, w)
            else:
                out = torch.addmm(out, h, w)
        return out.view(J, B, c_out)
    out = ops[0](_linear(x, weights[0]))
    for op, w in zip(ops[1:], weights[1:]):
        out = out + op(_linear(x, w))
    return _add_bias(out, bias)


def _decoupled_pre_aggregation(x: Tensor, adj: Tensor, w_self: Tensor, w_neighbours: Tensor,
                                bias: Tensor | None) -> Tensor:
    """``diag(A)_i x_i W_self[i] + sum_{j != i} A_ij x_j W_neighbours[j] + b``; weights ``(J, C_in, C_out)``.

    The neighbour messages are transformed by their sender's weight (one ``bmm`` over joints) and aggregated;
    ``baddbmm`` adds the self term in place. A diagonal commutes with a per-joint weight, so the self scale can
    go on the weight or on the input. On the weight ``(J, C_in, C_out)`` is the cheaper place, but only a shared
    ``(J, 1, 1)`` diagonal fits there; a per-sample ``(J, B, 1)`` one scales the input. Measured with the
    default networks (train steps, batch 256, 1 thread, loaded 2-core CPU; both routes in one process, steps
    interleaved, median per-step time ratio of two runs of 20 and 30 pairs): the weight route is 1.11-1.13x as
    fast for ``modulated`` (its diagonal carries the learnable offset's gradient, which the input route reduces
    over the whole ``(J, B, C_in)`` activation) and 1.05-1.06x for ``dc_preagg``.
    """
    self_scale, neighbours = _split_self(adj)
    messages = aggregate(neighbours, torch.bmm(x, w_neighbours))
    if self_scale.shape[1] == 1:  # shared adjacency
        return _add_bias(torch.baddbmm(messages, x, w_self * self_scale), bias)
    return _add_bias(torch.baddbmm(messages, self_scale * x, w_self), bias)


def _reference_uniform_(weight: Tensor, reference_shape: Sequence[int], gain: float = 1.414) -> None:
    """Reference init: Xavier-uniform with gain 1.414 applied to the whole stacked N-D tensor.

    PyTorch's fan rule on an N-D tensor uses ``fan_in = shape[1] * prod(shape[2:])`` and
    ``fan_out = shape[0] * prod(shape[2:])``, so the bound depends on how the reference stacked its weights
    (e.g. ``(1, C_in, C_out)`` for vanilla); ``reference_shape`` names that stacking (`tamasino52/Any-GCN`).
    """
    receptive = math.prod(reference_shape[2:])
    fan_in, fan_out = reference_shape[1] * receptive, reference_shape[0] * receptive
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    nn.init.uniform_(weight, -bound, bound)


# --------------------------------------------------------------------------- the layers
class _GraphConv(nn.Module):
    """Plumbing shared by all layers: the adjacency buffer, the bias, ``weight`` and its reference
    initialisation, shape checks and the public ``(B, J, C)`` interface. A layer declares the shape of
    ``weight`` (``weight_stack``, or ``weight_shape`` when it depends on more), creates any other parameter or
    buffer in ``build_extras`` and implements ``propagate`` on joints-first ``(J, B, C)`` features.

    Construction order, which fixes the state-dict layout and the random stream of the initialisation: ``bias``,
    ``weight``, then the extras; ``reset_parameters`` draws them in that order."""

    options: ClassVar[tuple[str, ...]] = ()  # keyword-only constructor options beyond the common signature
    # axes of ``weight`` before ``(C_in, C_out)``: a count of weight groups, or "J" for one slice per joint
    weight_stack: ClassVar[tuple[int | str, ...]] = ()

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, parents: Sequence[int],
                 bias: bool = True) -> None:
        super().__init__()
        adj = torch.as_tensor(adj, dtype=torch.get_default_dtype())
        if adj.dim() != 2 or adj.shape[0] != adj.shape[1]:
            raise ValueError(f"{type(self).__name__}: adjacency must be (J, J), got {tuple(adj.shape)}")
        if len(parents) != adj.shape[0]:
            raise ValueError(f"{type(self).__name__}: {len(parents)} parents for a {adj.shape[0]}-joint adjacency")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.register_buffer("adj", adj.clone())  # in state_dict, follows .to(device)
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.weight = nn.Parameter(torch.empty(self.weight_shape()))
        self.build_extras(parents)
        self.reset_parameters()

    def weight_shape(self) -> tuple[int, ...]:
        """Shape of ``weight``: ``weight_stack`` (``"J"`` read as the number of joints), then ``(C_in, C_out)``."""
        stack = (self.num_joints if axis == "J" else axis for axis in self.weight_stack)
        return (*stack, self.in_channels, self.out_channels)

    def build_extras(self, parents: Sequence[int]) -> None:
        """Create the parameters and buffers beyond ``bias`` and ``weight`` (default: none); ``parents`` is the
        constructor's tree."""

    @property
    def num_joints(self) -> int:
        return self.adj.shape[0]

    def adjacency(self) -> Tensor:
        """The layer's own ``(J, J)`` aggregation matrix, used when ``forward`` gets no ``adj``."""
        return self.adj

    def reference_shape(self) -> tuple[int, ...]:
        """The stacking of ``weight`` in the reference code, which sets its Xavier bound.

        The reference stacks a layer's matrices along a leading group axis even when there is one group
        (vanilla ``(1, C_in, C_out)``, pre- and post-aggregation ``(1, J, C_in, C_out)``); ``weight`` leaves that
        axis out exactly when ``weight_stack`` does not begin with a group count, and here it is put back."""
        shape = tuple(self.weight.shape)
        return shape if self.weight_stack and isinstance(self.weight_stack[0], int) else (1, *shape)

    def reset_parameters(self) -> None:
        if self.bias is not None:  # reference: U(-1/sqrt(C_out), 1/sqrt(C_out))
            bound = 1.0 / math.sqrt(self.out_channels)
            nn.init.uniform_(self.bias, -bound, bound)
        _reference_uniform_(self.weight, self.reference_shape())

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
        parents (sequence of int): parent of every joint, ``-1`` for the root (the common signature; unused).
        bias (bool): add :math:`\mathbf{b}` (default: ``True``).

    Shapes:
        input ``(B, J, C_in)`` and optional ``adj`` ``(J, J)`` / ``(B, J, J)``; output ``(B, J, C_out)``.
        Parameters: ``weight (C_in, C_out)``.
    """

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        return _shared(x, [partial(aggregate, self.adjacency() if adj is None else adj)], [self.weight], self.bias)


class DecoupledVanillaGraphConv(_GraphConv):
    r"""Decoupled vanilla graph convolution: one weight for the self-connection, one for all neighbours
    (Liu et al., ECCV 2020).

    .. math::
        \mathbf{x}'_i = \hat{A}_{ii} \mathbf{W}_0 \mathbf{x}_i
            + \sum_{j \neq i} \hat{A}_{ij} \mathbf{W}_1 \mathbf{x}_j + \mathbf{b}

    Args and shapes as :class:`VanillaGraphConv`; parameters ``weight (2, C_in, C_out)`` (self, neighbours).
    """

    weight_stack = (2,)

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        return _shared(x, _self_and_neighbours(self.adjacency() if adj is None else adj), self.weight, self.bias)


class PreAggGraphConv(_GraphConv):
    r"""Pre-aggregation graph convolution: every *sender* transforms its feature with its own matrix before
    the messages are summed (Liu et al., ECCV 2020).

    .. math::
        \mathbf{x}'_i = \sum_{j} \hat{A}_{ij} \mathbf{W}_j \mathbf{x}_j + \mathbf{b}

    Args as :class:`VanillaGraphConv`. Parameters ``weight (J, C_in, C_out)``, indexed by the sender ``j``.
    """

    weight_stack = ("J",)

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        adj = self.adjacency() if adj is None else adj
        return _add_bias(aggregate(adj, torch.bmm(x, self.weight)), self.bias)  # bmm over the senders j


class DecoupledPreAggGraphConv(_GraphConv):
    r"""Decoupled pre-aggregation graph convolution (Liu et al.'s best model, 4.22M parameters at width 128).

    .. math::
        \mathbf{x}'_i = \hat{A}_{ii} \mathbf{W}_{0,i} \mathbf{x}_i
            + \sum_{j \neq i} \hat{A}_{ij} \mathbf{W}_{1,j} \mathbf{x}_j + \mathbf{b}

    Args as :class:`VanillaGraphConv`. Parameters ``weight (2, J, C_in, C_out)``: ``[0]`` self, ``[1]`` indexed
    by the sender.
    """

    weight_stack = (2, "J")

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        adj = self.adjacency() if adj is None else adj
        return _decoupled_pre_aggregation(x, adj, self.weight[0], self.weight[1], self.bias)


class PostAggGraphConv(_GraphConv):
    r"""Post-aggregation graph convolution: the *receiver* transforms the aggregated feature with its own
    matrix (Liu et al., ECCV 2020). Any-GCN's version crashes (a 3-index einsum on its 4-D weight).

    .. math::
        \mathbf{x}'_i = \mathbf{W}_i \sum_{j} \hat{A}_{ij} \mathbf{x}_j + \mathbf{b}

    Args as :class:`VanillaGraphConv`. Parameters ``weight (J, C_in, C_out)``, indexed by the receiver ``i``.
    """

    weight_stack = ("J",)

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        adj = self.adjacency() if adj is None else adj
        return _add_bias(torch.bmm(aggregate(adj, x), self.weight), self.bias)  # bmm over the receivers i


class DecoupledPostAggGraphConv(_GraphConv):
    r"""Decoupled post-aggregation graph convolution (Liu et al., ECCV 2020).

    .. math::
        \mathbf{x}'_i = \mathbf{W}_{0,i} \hat{A}_{ii} \mathbf{x}_i
            + \mathbf{W}_{1,i} \sum_{j \neq i} \hat{A}_{ij} \mathbf{x}_j + \mathbf{b}

    Args as :class:`VanillaGraphConv`. Parameters ``weight (2, J, C_in, C_out)``: ``[0]`` self, ``[1]``
    neighbours, both indexed by the receiver.
    """

    weight_stack = (2, "J")

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        self_scale, neighbours = _split_self(self.adjacency() if adj is None else adj)
        out = torch.bmm(self_scale * x, self.weight[0])
        out = torch.baddbmm(out, aggregate(neighbours, x).contiguous(), self.weight[1])  # accumulates in place
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
    (:func:`~poselift_core.graph.topological_rank`), else to the children side. On bones this is exactly
    {parent} / {children} for any joint order; on the Human3.6M orders (parents have smaller indices) it
    reproduces the reference's strict lower/upper triangles, also for the off-skeleton pairs a dense
    conditional adjacency may carry.

    Args as :class:`VanillaGraphConv`, ``parents`` used. Parameters ``weight (3, C_in, C_out)`` (self, parent,
    children); buffers ``parent_mask``, ``child_mask`` ``(J, J)``.
    """

    weight_stack = (3,)

    def build_extras(self, parents: Sequence[int]) -> None:
        rank = torch.tensor(topological_rank(parents))
        self.register_buffer("parent_mask", (rank[None, :] < rank[:, None]).to(self.adj.dtype))  # [i, j]
        self.register_buffer("child_mask", (rank[None, :] > rank[:, None]).to(self.adj.dtype))

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        adj = self.adjacency() if adj is None else adj
        self_scale, _ = _split_self(adj)
        ops = [self_scale.mul, partial(aggregate, adj * self.parent_mask), partial(aggregate, adj * self.child_mask)]
        return _shared(x, ops, self.weight, self.bias)


class NoSharingGraphConv(_GraphConv):
    r"""No weight sharing: one matrix per ordered (receiver, sender) pair (Liu et al., ECCV 2020).

    .. math::
        \mathbf{x}'_i = \sum_{j} \hat{A}_{ij} \mathbf{W}_{ij} \mathbf{x}_j + \mathbf{b}

    Computed over the edge list (gather senders -> one ``bmm`` over pairs -> scatter-add to receivers).

    Deliberate difference from the reference: by default only the pairs with :math:`\hat{A}_{ij} \neq 0`
    (46 for the 16-joint skeleton, self-loops included) own a weight block. The reference stores all
    :math:`J^2` blocks, of which 210 never receive a gradient (in `tamasino52/Any-GCN`): 6,062,211 instead of
    33,721,731 parameters at the default size, with the same function and the same initial distribution.
    ``dense_weights=True`` stores all :math:`J^2` blocks (reference count; needed if a dense conditional
    adjacency should reach every pair -- with sparse storage, ``adj`` entries outside the stored pairs are
    ignored because no weight exists for them). The reference's transposed indexing (quirk 3) is fixed: row
    ``i`` of :math:`\hat{A}` is the receiver.

    Args:
        dense_weights (bool, keyword-only): store all :math:`J^2` blocks (default: ``False``).
        Other args as :class:`VanillaGraphConv`.

    Shapes as :class:`VanillaGraphConv`; parameters ``weight (E, C_in, C_out)`` for the ``E`` pairs in
    ``edge_index (2, E)`` (rows: receiver, sender), or ``(J, J, C_in, C_out)`` with ``dense_weights``.
    """

    options = ("dense_weights",)

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, parents: Sequence[int],
                 bias: bool = True, *, dense_weights: bool = False) -> None:
        self.dense_weights = dense_weights  # set first: the base constructor's weight_shape reads it
        super().__init__(in_channels, out_channels, adj, parents, bias)

    def weight_shape(self) -> tuple[int, ...]:
        J = self.num_joints
        pairs = (J, J) if self.dense_weights else (int(torch.count_nonzero(self.adj)),)
        return (*pairs, self.in_channels, self.out_channels)

    def build_extras(self, parents: Sequence[int]) -> None:
        J = self.num_joints
        if self.dense_weights:  # receiver-major, so weight.view(J*J, Ci, Co) lines up with edge_index
            edge_index = torch.stack(torch.meshgrid(torch.arange(J), torch.arange(J), indexing="ij")).view(2, -1)
        else:  # row-major like weight_shape's count, so block e belongs to the e-th nonzero of adj
            edge_index = (self.adj != 0).nonzero().t()
        self.register_buffer("edge_index", edge_index.contiguous())

    def reference_shape(self) -> tuple[int, ...]:
        # the reference bound of the full (J, J, Ci, Co) tensor, also for sparse storage
        return (self.num_joints, self.num_joints, self.in_channels, self.out_channels)

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
    Estimation", ICCV 2021): decoupled shared weights, a learnable per-joint modulation of the *sender* and a
    learnable dense adjacency offset.

    .. math::
        \mathbf{x}'_i = \hat{A}'_{ii}\, \mathbf{m}_i \odot (\mathbf{W}_0 \mathbf{x}_i)
            + \sum_{j \neq i} \hat{A}'_{ij}\, \mathbf{m}_j \odot (\mathbf{W}_1 \mathbf{x}_j) + \mathbf{b},
        \qquad \hat{A}' = \tfrac{1}{2}\big[(\hat{A} + \mathbf{Q}) + (\hat{A} + \mathbf{Q})^\top\big]

    Since :math:`\mathbf{m}_j \odot (\mathbf{W} \mathbf{x}_j) = (\mathbf{W} \operatorname{diag}(\mathbf{m}_j))
    \mathbf{x}_j`, this is the decoupled pre-aggregation layer on :math:`\hat{A}'` with the per-sender weights
    :math:`\mathbf{W}_k \operatorname{diag}(\mathbf{m}_j)`, and is computed as such (two ``bmm`` over joints,
    no pass over the activations for the modulation).

    ``Q`` is added to whatever adjacency is used, including a per-sample one (Any-GCN drops it when experts
    are on, in `tamasino52/Any-GCN`).

    Args:
        modulation_init (str, keyword-only): ``"ones"`` (ModGCN-GT, Any-GCN) or ``"xavier"``
            (ModGCN-benchmark, Xavier-uniform gain 1.414 on ``(J, C_out)``) (default: ``"ones"``).
        Other args as :class:`VanillaGraphConv`.

    Shapes as :class:`VanillaGraphConv`; parameters ``weight (2, C_in, C_out)``, ``modulation (J, C_out)``,
    ``adj_offset (J, J)`` (:math:`\mathbf{Q}`, initialised to ``1e-6``).
    """

    options = ("modulation_init",)
    weight_stack = (2,)

    def __init__(self, in_channels: int, out_channels: int, adj: Tensor, parents: Sequence[int],
                 bias: bool = True, *, modulation_init: str = "ones") -> None:
        if modulation_init not in ("ones", "xavier"):
            raise ValueError(f"ModulatedGraphConv: modulation_init must be 'ones' or 'xavier', got {modulation_init!r}")
        self.modulation_init = modulation_init  # set first: the base constructor's reset_parameters reads it
        super().__init__(in_channels, out_channels, adj, parents, bias)

    def build_extras(self, parents: Sequence[int]) -> None:
        J = self.num_joints
        self.modulation = nn.Parameter(torch.empty(J, self.out_channels))
        self.adj_offset = nn.Parameter(torch.empty(J, J))

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.modulation_init == "ones":
            nn.init.ones_(self.modulation)
        else:
            _reference_uniform_(self.modulation, self.modulation.shape)
        nn.init.constant_(self.adj_offset, 1e-6)

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        A = (self.adjacency() if adj is None else adj) + self.adj_offset
        m = self.modulation.unsqueeze(1)  # (J, 1, C_out): W_k diag(m_j) is sender j's (C_in, C_out) weight
        return _decoupled_pre_aggregation(x, 0.5 * (A + A.transpose(-1, -2)), self.weight[0] * m,
                                          self.weight[1] * m, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", modulation_init={self.modulation_init!r}"


class SemGraphConv(_GraphConv):
    r"""Semantic graph convolution (Zhao et al., "Semantic Graph Convolutional Networks for 3D Human Pose
    Regression", CVPR 2019): decoupled shared weights and learnable edge weights on the skeleton's pattern,
    softmax-normalised over each receiver's neighbours and itself.

    .. math::
        \mathbf{x}'_i = S_{ii} \mathbf{W}_0 \mathbf{x}_i + \sum_{j \neq i} S_{ij} \mathbf{W}_1 \mathbf{x}_j
            + \mathbf{b}, \qquad
        S_{ij} = \frac{[\hat{A}_{ij} \neq 0]\, e^{E_{ij}}}{\sum_{k} [\hat{A}_{ik} \neq 0]\, e^{E_{ik}}}

    :math:`E` is initialised to 1, so :math:`S` starts as :math:`D^{-1}(A + I)`. The constructor's ``adj``
    only provides the pattern; an ``adj`` given to ``forward`` (e.g. a conditional adjacency built on
    :math:`S` by the network) is used in place of :math:`S`. Parameters per layer ``2 C_in C_out + nnz + C_out``
    (nnz = 46 at 16 joints): 267,343 for the default network, SemGCN's "0.27M".

    Shapes as :class:`VanillaGraphConv`; parameters ``weight (2, C_in, C_out)``, ``edge_logits (nnz,)``.
    """

    weight_stack = (2,)

    def build_extras(self, parents: Sequence[int]) -> None:
        self.register_buffer("edge_mask", self.adj != 0)
        self.edge_logits = nn.Parameter(torch.empty(int(self.edge_mask.sum())))

    def reset_parameters(self) -> None:
        super().reset_parameters()
        nn.init.ones_(self.edge_logits)

    def adjacency(self) -> Tensor:
        logits = torch.full_like(self.adj, float("-inf")).masked_scatter(self.edge_mask, self.edge_logits)
        return torch.softmax(logits, dim=-1)  # every row has its self-loop, so no row is all -inf

    def propagate(self, x: Tensor, adj: Tensor | None = None) -> Tensor:
        return _shared(x, _self_and_neighbours(self.adjacency() if adj is None else adj), self.weight, self.bias)


# the layer of every GCN variant name (GCNConfig.variant, and the model registry's GCN names)
GRAPH_CONVS: dict[str, type[_GraphConv]] = {
    "vanilla": VanillaGraphConv, "dc_vanilla": DecoupledVanillaGraphConv,
    "preagg": PreAggGraphConv, "dc_preagg": DecoupledPreAggGraphConv,
    "postagg": PostAggGraphConv, "dc_postagg": DecoupledPostAggGraphConv,
    "convst": ConvStyleGraphConv, "nosharing": NoSharingGraphConv,
    "modulated": ModulatedGraphConv, "semgcn": SemGraphConv,
}
