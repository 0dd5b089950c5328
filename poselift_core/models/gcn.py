"""The residual GCN lifting network of SemGCN / Liu et al. / Any-GCN, with Modulated GCN and SemGCN layers.

``GConv(2 -> C) -> BN -> ReLU``, ``num_blocks`` residual blocks of two ``GConv -> BN -> ReLU``, ``GConv(C -> 3)``
(Zhao et al., CVPR 2019; `tamasino52/Any-GCN`), with the graph convolution picked by name from
:data:`~poselift_core.models.graph_conv.GRAPH_CONVS`, optional SemGCN non-local blocks and an optional per-sample
"experts" adjacency. Explained in the book, chapter 3 ("One rule, nine layers"). :data:`GCN_VARIANTS` are the
family's model names, :func:`build_gcn` builds one.

Activations stay joints-first, ``(J, B, C)``, through the whole network (see ``graph_conv``): BatchNorm then
runs on the flat ``(J*B, C)`` view, whose statistics are pooled over batch and joints exactly like the
reference's ``BatchNorm1d`` on the ``(B, C, J)`` transpose, without any transpose.

Parameter counts at the default size (16 joints, width 128, 4 blocks) equal the originals' (chapter 6, "Model sizes"),
except ``nosharing``, which stores only the weight blocks that can receive a gradient (see
:class:`NoSharingGraphConv`; ``dense_weights=True`` restores the reference count).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import check_config, check_keys
from ..skeleton import Skeleton, get_skeleton
from .graph_conv import GRAPH_CONVS, _GraphConv

__all__ = ["GCN_VARIANTS", "ConditionalAdjacency", "GraphNonLocal", "GaussianNonLocal", "GCNConfig", "GCNLifter",
           "build_gcn"]

Tensor = torch.Tensor

#: The family's model names, one per graph-convolution layer (the keys of ``GRAPH_CONVS``), in registry order.
GCN_VARIANTS: tuple[str, ...] = tuple(GRAPH_CONVS)
REG_TYPES = ("add", "mul", "no_skeleton")  # how a conditional adjacency combines with the skeleton's


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
        if reg_type not in REG_TYPES:
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


class _NonLocalBlock(nn.Module):
    r"""What both non-local blocks share: per-joint maps :math:`\theta, \phi, g` to :math:`C/2` channels, the output
    map :math:`W_z` and a BN that starts at :math:`\gamma = \beta = 0` (the block starts as the identity)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        inter = channels // 2
        self.theta, self.phi, self.g = (nn.Linear(channels, inter) for _ in range(3))
        self.out = nn.Linear(inter, channels)
        self.bn = nn.BatchNorm1d(channels)

    def reset_parameters(self) -> None:
        for lin in (self.theta, self.phi, self.g, self.out):
            lin.reset_parameters()
        nn.init.zeros_(self.bn.weight)
        nn.init.zeros_(self.bn.bias)

    def residual(self, x: Tensor, y: Tensor) -> Tensor:
        """``x + BN(W_z y)`` for ``x: (J, B, C)``, ``y: (J, B, C/2)``."""
        J, B, C = x.shape
        return x + self.bn(self.out(y).reshape(J * B, C)).view(J, B, C)


class GraphNonLocal(_NonLocalBlock):
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
        if not groups or len({len(g) for g in groups}) != 1:
            raise ValueError(f"GraphNonLocal: need non-empty joint groups of equal size, got {groups!r}")
        super().__init__(channels)
        self.register_buffer("groups", torch.tensor(groups, dtype=torch.long))  # (K, S)
        self.pair_weight = nn.Parameter(torch.empty(2 * (channels // 2)))  # w of the concatenation form, no bias
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        bound = 1.0 / math.sqrt(self.pair_weight.numel())  # default init of SemGCN's 1x1 conv (fan_in = 2*inter)
        nn.init.uniform_(self.pair_weight, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        K = self.groups.shape[0]
        theta, phi, g = (f(x) for f in (self.theta, self.phi, self.g))  # (J, B, C/2) each
        phi_k, g_k = phi[self.groups].amax(1), g[self.groups].amax(1)  # (K, B, C/2): pooled keys/values
        w_theta, w_phi = self.pair_weight.chunk(2)
        f = F.relu((theta @ w_theta).unsqueeze(1) + (phi_k @ w_phi).unsqueeze(0)) / K  # (J, K, B)
        y = torch.bmm(f.permute(2, 0, 1), g_k.transpose(0, 1)).transpose(0, 1)  # (J, B, C/2)
        return self.residual(x, y)


class GaussianNonLocal(_NonLocalBlock):
    r"""Embedded-Gaussian non-local block over all joints (Wang et al., CVPR 2018), as placed by the
    ModGCN-benchmark network between the residual stack and the output layer (`ZhimingZo/Modulated-GCN`).

    .. math::
        \mathbf{z}_i = \mathbf{x}_i + \mathrm{BN}\Big(\mathbf{W}_z \sum_j
            \operatorname{softmax}_j\big(\theta(\mathbf{x}_i)^\top \phi(\mathbf{x}_j)\big)\, g(\mathbf{x}_j)\Big)

    :math:`\theta, \phi, g` are per-joint linear maps to :math:`C/2` channels; no sub-sampling, no scaling of the
    scores. The BN starts at :math:`\gamma = \beta = 0` (identity block at start).

    Args:
        channels (int): :math:`C`.

    Shapes: ``(J, B, C)`` -> ``(J, B, C)``. 296,640 parameters at ``C = 384``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        theta, phi, g = (f(x).transpose(0, 1) for f in (self.theta, self.phi, self.g))  # (B, J, C/2) each
        attention = torch.softmax(theta @ phi.transpose(1, 2), dim=-1)  # (B, J, J), row i = query joint
        y = (attention @ g).transpose(0, 1)  # (J, B, C/2)
        return self.residual(x, y)


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
        h = F.relu(self.bn(h.reshape(J * B, C)), inplace=True).view(J, B, C)  # BN pooled over batch and joints
        return F.dropout(h, self.dropout, self.training) if self.dropout > 0 else h


# --------------------------------------------------------------------------- the network
@dataclass
class GCNConfig:
    """Everything that defines a :class:`GCNLifter`. Defaults = Any-GCN's CLI defaults (`tamasino52/Any-GCN`)."""

    variant: str = "vanilla"  # one of GCN_VARIANTS
    skeleton: str = "h36m16"  # the reference counts are for 16 joints (Nose removed)
    hidden: int = 128
    num_blocks: int = 4  # residual blocks of two graph convolutions
    dropout: float = 0.0
    adjacency: str = "row"  # "row": D^-1 (A + I) (SemGCN/Any-GCN); "diag1": ZhimingZo/Modulated-GCN's
    non_local: bool = False  # SemGCN non-local blocks after the input layer and every residual block
    gaussian_non_local: bool = False  # ModGCN-benchmark: one embedded-Gaussian block before the output layer
    num_experts: int = 0  # > 0: conditional adjacency in every layer but the input one
    reg_type: str = "add"  # how experts combine with the skeleton: "add" | "mul" | "no_skeleton"
    modulation_init: str = "ones"  # modulated only: "ones" (ModGCN-GT) | "xavier" (ModGCN-benchmark)
    dense_weights: bool = False  # nosharing only: store all J^2 blocks (reference count) instead of nnz(A)

    def __post_init__(self) -> None:
        check_config(self, "GCNConfig",
                     choices={"variant": GCN_VARIANTS, "adjacency": ("row", "diag1"), "reg_type": REG_TYPES,
                              "modulation_init": ("ones", "xavier")},
                     ranges={"hidden": (1, None), "num_blocks": (0, None), "num_experts": (0, None),
                             "dropout": (0, 1)})


class GCNLifter(nn.Module):
    """Residual GCN lifting network shared by SemGCN, Liu et al. and Any-GCN (Zhao et al., CVPR 2019).

    ``GConv(2 -> C) -> BN -> ReLU``, then ``num_blocks`` times ``x + (GConv -> BN -> ReLU -> GConv -> BN -> ReLU)``,
    then ``GConv(C -> 3)``; optional SemGCN non-local blocks after the input layer and each residual block, an
    optional embedded-Gaussian non-local block before the output layer (ModGCN-benchmark), optional
    conditional adjacency in every layer but the input one.

    The ModGCN-benchmark network (17 joints, CPN input, 2,731,840 parameters) is
    ``build_model("modulated", skeleton="h36m17", hidden=384, dropout=0.2, modulation_init="xavier",
    gaussian_non_local=True)``; the default ``modulated`` is ModGCN-GT (16 joints, width 128, ``M = 1``).

    Args:
        config: a :class:`GCNConfig`.
        skeleton: a :class:`~poselift_core.skeleton.Skeleton` to use instead of looking ``config.skeleton`` up.

    Shapes: input ``(B, J, 2)`` normalised 2D keypoints, output ``(B, J, 3)`` root-relative joints.
    """

    receptive_field = 1

    def __init__(self, config: GCNConfig, skeleton: Skeleton | None = None) -> None:
        super().__init__()
        self.skeleton = get_skeleton(config.skeleton if skeleton is None else skeleton)
        self.config = dataclasses.replace(config, skeleton=self.skeleton.name)
        sk, C = self.skeleton, config.hidden
        adj = sk.adjacency(config.adjacency)
        layer = GRAPH_CONVS[config.variant]
        options = {key: getattr(config, key) for key in layer.options}  # e.g. nosharing's dense_weights

        def unit(c_in: int, c_out: int, norm: bool = True, routed: bool = True) -> _GraphConvUnit:
            router = (ConditionalAdjacency(c_in, sk.num_joints, config.num_experts, config.reg_type)
                      if routed and config.num_experts > 0 else None)
            gconv = layer(c_in, c_out, adj, sk.parents, **options)
            return _GraphConvUnit(gconv, router, norm, config.dropout)

        if config.non_local and not sk.nonlocal_groups:
            raise ValueError(f"GCNLifter: non_local=True needs joint groups; skeleton {sk.name!r} defines none")
        make_nl = (lambda: GraphNonLocal(C, sk.nonlocal_groups)) if config.non_local else nn.Identity
        self.input = unit(2, C, routed=False)  # Any-GCN: no conditional adjacency in the input layer
        self.input_nonlocal = make_nl()
        self.blocks = nn.ModuleList(nn.Sequential(unit(C, C), unit(C, C)) for _ in range(config.num_blocks))
        self.block_nonlocals = nn.ModuleList(make_nl() for _ in range(config.num_blocks))
        self.output_nonlocal = GaussianNonLocal(C) if config.gaussian_non_local else nn.Identity()
        self.output = unit(C, 3, norm=False)

    def forward(self, x: Tensor) -> Tensor:
        J = self.skeleton.num_joints
        if x.dim() != 3 or x.shape[1:] != (J, 2):
            raise ValueError(f"GCNLifter({self.config.variant}): expected 2D keypoints of shape (B, J={J}, 2), "
                             f"got {tuple(x.shape)}")
        h = self.input_nonlocal(self.input(x.transpose(0, 1)))  # (J, B, C): joints-first inside the network
        for block, nonlocal_ in zip(self.blocks, self.block_nonlocals):
            h = nonlocal_(h + block(h))
        return self.output(self.output_nonlocal(h)).transpose(0, 1).contiguous()  # (B, J, 3)


# The published Modulated GCN numbers come from the original's diag-1 adjacency (`ZhimingZo/Modulated-GCN`); Any-GCN's
# "modulated" uses D^-1 (A + I). Parameter counts are the same (287,923); pass adjacency="row" for Any-GCN.
_PRESETS: dict[str, dict] = {"modulated": {"adjacency": "diag1"}}


def build_gcn(name: str, skeleton: "str | int | Skeleton | None" = None, **overrides) -> GCNLifter:
    """The GCN lifter of variant ``name`` (one of :data:`GCN_VARIANTS`): :class:`GCNConfig` defaults, then the
    variant's preset (``modulated``: ``adjacency="diag1"``), then ``overrides`` (:class:`GCNConfig` fields)."""
    check_keys(GCNConfig, overrides, f"model {name!r}")
    if overrides.get("variant", name) != name:
        raise ValueError(f"model {name!r}: variant={overrides['variant']!r} does not match the model name")
    sk = get_skeleton(skeleton if skeleton is not None else GCNConfig.skeleton)
    cfg = GCNConfig(**{**_PRESETS.get(name, {}), **overrides, "variant": name, "skeleton": sk.name})
    return GCNLifter(cfg, skeleton=sk)
