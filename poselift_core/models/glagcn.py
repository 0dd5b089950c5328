"""GLA-GCN: global-local adaptive graph convolution for temporal 2D-to-3D pose lifting.

Yu et al., "GLA-GCN: Global-local Adaptive Graph Convolutional Network for 3D Human Pose Estimation from
Monocular Video", ICCV 2023 (arXiv 2307.05853); released code ``bruceyo/GLA-GCN``. Explained in the book,
chapter 4 ("GLA-GCN: lifting from a window of frames"); every formula below is restated from the paper and the
released code.

A window of ``T`` 2D poses (``T`` = receptive field) goes through a stack of 2s-AGCN units ("global":
an adaptive graph convolution followed by a strided temporal convolution), which shrinks time by the
per-stage strides down to one frame; a per-joint linear map ("local", the individually connected layer)
then reads out the 3D pose of the centre frame.

Conventions that differ from the released code (same function, different bookkeeping; ``benchmarks/
reference_glagcn.py`` re-implements the released layout and ``benchmarks/bench_glagcn.py`` checks that both
compute the same outputs before timing them):

* **Graphs are row-receiver** (as everywhere in this library): ``out_i = sum_j G[i, j] x_j``. The original multiplies
  on the right, ``out[w] = sum_v x[v] G[v, w]`` (column = receiver), so every graph here is the transpose of
  the original's (its column normalisation over senders is our row normalisation), including the learnable
  ``P`` (only matters when importing original weights).
* **Activations are joint-major and channels-last**, ``(B, J, T, C)``. Every 1x1 convolution is then a
  linear map on the last axis (same parameters), one sample's graph aggregation is a single
  ``(J, J) @ (J, T*C)`` matmul, the attention logits contract each joint's contiguous ``(T, C_e)`` block,
  and the temporal convolution is oneDNN's conv on the zero-copy channels-last view ``(B, C, J, T)``.
* The three subsets are batched: one linear map gives all ``theta_k, phi_k``, one batched matmul all logits.
  The ``2 -> C`` expansion unit never forms its ``C_e``-channel embeddings (see :class:`AdaptiveGraphConv`).
* Dropout masks come from 15-bit chunks of 64-bit random integers (:func:`dropout`), not ``bernoulli_``.

A dilated whole-sequence pass that shares work between neighbouring windows (VideoPose3D) is not exact here:
the temporal convolutions zero-pad at every window border, and each unit's attention graph ``S_k`` depends on
all frames of the window, so :meth:`GLAGCN.lift_sequence` evaluates the windows in chunks.

Fixed quirks of the released code: graphs are buffers, nothing calls ``.cuda()`` (1); dropout is out-of-place (2);
the read-out can be shared (released code) or per-joint (paper) (3); the HumanEva graph is built from the
parent list like every other, so "inward"/"outward" are a consistent root-ward split there too, unlike the
released HumanEva edge list, which mixes directions (7).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import check_config, check_keys
from ..graph import spatial_partition
from ..skeleton import Skeleton, get_skeleton

__all__ = [
    "AdaptiveGraphConv",
    "TemporalConv",
    "GCNTemporalBlock",
    "GLAGCNConfig",
    "GLAGCN",
    "filter_widths_for",
    "dropout",
    "pointwise",
    "build_glagcn",
]

GRAPH_DROPOUT = 0.1    # hard-coded inside the original unit_gcn, independent of the stage dropout
TEMPORAL_KERNEL = 9    # unit_tcn kernel (9, 1), zero padding 4
P_INIT = 1e-6          # the learnable graph offset starts (almost) at zero
BN_MOMENTUM_START, BN_MOMENTUM_END = 0.1, 0.001


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Out-of-place inverted dropout, ``x * keep / (1 - p)``, with a cheaper mask than ``F.dropout``.

    On CPU ``F.dropout`` draws one ``bernoulli_`` sample per element (a scalar Mersenne-Twister call; the
    whole dropout costs about twice the version here). Here one 64-bit random integer gives four 15-bit
    uniforms: ``random_()`` fills ``[0, 2^63)``, so the top bit of its last 16-bit chunk is always 0, and
    ``& 0x7FFF`` keeps the 15 uniform low bits of every chunk. ``p`` is thus rounded to a multiple of
    ``2^-15`` (0.1 -> 0.100006), and the scale uses that rounded value so the output stays unbiased. Under ``torch.compile`` (which cannot trace ``random_``) it is plain
    ``F.dropout``, whose mask inductor generates in a fused kernel anyway.
    """
    if not training or p == 0.0:
        return x
    if torch.compiler.is_compiling():
        return F.dropout(x, p, training)
    n, threshold = x.numel(), round(p * 32768)
    bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_()
    keep = (bits.view(torch.int16)[:n] & 0x7FFF) >= threshold                # P(keep) = 1 - threshold / 2^15
    scale = 1.0 / (1.0 - threshold / 32768)
    return x * keep.to(x.dtype).mul_(scale).view(x.shape)


def _bn_last(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm over the last (channel) axis of a channels-last tensor: statistics over all other axes."""
    return bn(x.reshape(-1, x.shape[-1])).view(x.shape)


def pointwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """A 1x1 convolution, i.e. the linear map ``weight (C_out, C_in)`` on the channel axis of ``(B, J, T, C_in)``.

    Wide inputs use ``F.linear`` (a BLAS GEMM). For narrow inputs (the 2-channel poses) BLAS is slow in the
    backward pass (a ``(C_out, N) @ (N, 2)`` product), and oneDNN's 1x1 convolution on the zero-copy
    channels-last view ``(B, C, J, T)`` is about twice as fast overall.
    """
    if x.shape[-1] > 8:
        return F.linear(x, weight, bias)
    return F.conv2d(x.permute(0, 3, 1, 2), weight[:, :, None, None], bias).permute(0, 2, 3, 1)


class AdaptiveGraphConv(nn.Module):
    r"""Adaptive graph convolution (2s-AGCN ``unit_gcn``, Shi et al. CVPR 2019) on ``(B, J, T, C)`` features.

    .. math::
        S_k = \mathrm{softmax}_j\!\Big(\tfrac{\tilde\phi_k(x)\,\tilde\theta_k(x)^\top}{C_e T}\Big),\quad
        G_k = A_k + P_k + S_k,\quad
        y = \mathrm{ReLU}\Big(\mathrm{Drop}_{0.1}\big(\mathrm{BN}(\textstyle\sum_k W_k (G_k x))\big)
            + \mathrm{down}(x)\Big)

    ``theta_k`` (senders) and ``phi_k`` (receivers) are linear maps ``C_in -> C_e = C_out / 4``; the tilde
    flattens each joint's ``(T, C_e)`` features into one vector, so ``S_k`` is one ``(J, J)`` graph per sample
    whose rows (receivers) sum to 1 over the senders. ``A_k`` is :func:`~poselift_core.graph.spatial_partition`,
    ``P_k`` a learnable ``(J, J)`` offset initialised to 1e-6, ``W_k`` a linear map ``C_in -> C_out`` with bias.
    ``down`` is the identity when ``C_in = C_out``, else linear + BN. The BN's gamma starts at 1e-6, so a fresh
    unit is ``ReLU(down(x))``. ``W_k`` is applied after the aggregation, as in the original; the three biases
    are summed once since the rows of ``G_k`` need not sum to 1.

    Narrow inputs (``C_in + 1 < C_e``: the ``2 -> C`` expansion unit) take a cheaper but identical route:
    with ``x~ = [x, 1]`` and ``M_k = [W_phi_k | b_phi_k]^T [W_theta_k | b_theta_k]`` (``(C_in+1)^2``), the logits
    are ``sum_t x~_w(t)^T M_k x~_v(t)``, so the ``C_e``-channel embeddings are never formed; and the three
    ``W_k`` act as one map on the stacked aggregates ``[G_0 x, G_1 x, G_2 x]``.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        partition: ``(K, J, J)`` fixed graphs, row = receiver (registered as buffer ``A``).
        dropout: dropout after the BN (default 0.1, the original's constant).

    Shapes: ``(B, J, T, C_in) -> (B, J, T, C_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, partition: torch.Tensor, dropout: float = GRAPH_DROPOUT):
        super().__init__()
        K, J, _ = partition.shape
        self.in_channels, self.out_channels, self.num_subsets = in_channels, out_channels, K
        self.embed_channels = max(out_channels // 4, 1)
        self.narrow = in_channels + 1 < self.embed_channels
        self.dropout = dropout
        self.register_buffer("A", partition.clone())
        self.P = nn.Parameter(torch.empty(K, J, J))
        # theta_0..theta_{K-1}, phi_0..phi_{K-1} stacked in one map: one GEMM instead of 2K small ones
        self.embed = nn.Linear(in_channels, 2 * K * self.embed_channels)
        self.weight = nn.Parameter(torch.empty(K, out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(K, out_channels))
        self.bn = nn.BatchNorm1d(out_channels)
        self.down = None
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Linear(in_channels, out_channels), nn.BatchNorm1d(out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The original's init: 1x1 convs Kaiming-normal (fan-out), W_k normal std sqrt(2/(C_out C_in K))."""
        nn.init.constant_(self.P, P_INIT)
        # Kaiming fan-out of one C_in -> C_e conv is std sqrt(2 / C_e), not that of the stacked (2 K C_e) map
        nn.init.normal_(self.embed.weight, 0.0, math.sqrt(2.0 / self.embed_channels))
        nn.init.zeros_(self.embed.bias)
        nn.init.normal_(self.weight, 0.0, math.sqrt(2.0 / (self.out_channels * self.in_channels * self.num_subsets)))
        nn.init.zeros_(self.bias)
        self.bn.reset_parameters()
        nn.init.constant_(self.bn.weight, 1e-6)
        if self.down is not None:
            nn.init.kaiming_normal_(self.down[0].weight, mode="fan_out")
            nn.init.zeros_(self.down[0].bias)
            self.down[1].reset_parameters()

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """``phi~_k theta~_k^T`` (unscaled), ``(K*B, J recv, J send)``, for input ``(B, J, T, C_in)``."""
        B, J, T, C = x.shape
        K, E = self.num_subsets, self.embed_channels
        if self.narrow:
            w = torch.cat([self.embed.weight, self.embed.bias[:, None]], dim=1).view(2, K, E, C + 1)
            M = w[1].transpose(1, 2) @ w[0]                                    # (K, C+1, C+1)
            xt = F.pad(x, (0, 1), value=1.0).view(1, B * J * T, C + 1)       # x~ = [x, 1]
            left = (xt @ M).view(K * B, J, T * (C + 1))                        # x~^T M_k
            right = xt.view(1, B, J, T * (C + 1)).expand(K, B, J, -1).reshape(K * B, J, -1)
            return torch.bmm(left, right.transpose(1, 2))
        emb = self.embed(x).view(B, J, T, 2, K, E)
        theta, phi = emb.permute(3, 4, 0, 1, 2, 5).reshape(2, K * B, J, T * E).unbind(0)  # (K*B, J, T*C_e)
        return torch.bmm(phi, theta.transpose(1, 2))

    def _graphs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``G_k`` and ``S_k``, both ``(K, B, J, J)``, for input ``(B, J, T, C_in)``."""
        B, J, T, _ = x.shape
        logits = self._logits(x) / (self.embed_channels * T)
        S = logits.softmax(dim=-1).view(self.num_subsets, B, J, J)            # normalised over senders
        G = S + (self.A + self.P).unsqueeze(1)
        return G, S

    def adaptive_graph(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(G, S)``, each ``(B, K, J, J)``: the graph used for input ``x`` and its data-dependent part."""
        G, S = self._graphs(x)
        return G.transpose(0, 1), S.transpose(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, J, T, C = x.shape
        K = self.num_subsets
        G, _ = self._graphs(x)                                                  # (K, B, J, J)
        xf = x.reshape(B, J, T * C)
        if self.narrow:  # one map on [G_0 x, ..., G_{K-1} x]: (B, J, T, K*C_in) is small here
            agg = torch.stack([torch.bmm(G[k], xf).view(B, J, T, C) for k in range(K)], dim=3)
            w = self.weight.transpose(0, 1).reshape(self.out_channels, K * C)
            y = pointwise(agg.view(B, J, T, K * C), w, self.bias.sum(0))
        else:  # K GEMMs accumulated in place
            y = None
            for k in range(K):
                agg = torch.bmm(G[k], xf).view(B * J * T, C)                    # G_k x, (B*J*T, C_in)
                if y is None:
                    y = torch.addmm(self.bias.sum(0), agg, self.weight[k].t())  # W_k (G_k x) + sum_k b_k
                else:
                    y = y.addmm_(agg, self.weight[k].t())                       # in place: no copy of y
        y = dropout(_bn_last(self.bn, y), self.dropout, self.training).view(B, J, T, -1)
        res = x if self.down is None else _bn_last(self.down[1], pointwise(x, self.down[0].weight, self.down[0].bias))
        return F.relu(y + res)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, subsets={self.num_subsets}, "
                f"joints={self.A.shape[-1]}, embed={self.embed_channels}, dropout={self.dropout}")


class TemporalConv(nn.Module):
    """Temporal unit (``unit_tcn``): Conv over frames with kernel ``(9, 1)``, zero padding 4, stride ``s``, then BN.

    Each joint is convolved separately along time with weights shared by all joints. The ``Conv2d`` keeps
    the original's parameter shape ``(C_out, C_in, 9, 1)``; its transposed ``(1, 9)`` kernel runs on
    ``(B, C, J, T)``, the channels-last view of our ``(B, J, T, C)`` layout, so neither input nor output is
    copied (oneDNN keeps the channels-last format). That view is as fast as the original's NCHW conv; the
    view ``(B*J, C, T, 1)`` would be about 2x slower in the backward pass.

    Shapes: ``(B, J, T, C_in) -> (B, J, T_out, C_out)``, ``T_out = floor((T - 1) / s) + 1``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = TEMPORAL_KERNEL):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, (kernel_size, 1), stride=(stride, 1),
                              padding=((kernel_size - 1) // 2, 0))
        self.bn = nn.BatchNorm1d(out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out")
        nn.init.zeros_(self.conv.bias)
        self.bn.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, J, T, C) is the channels-last memory of the image batch (B, C, J, T): convolving it with the
        # transposed (1, 9) kernel is the same per-joint temporal conv, without any copy
        conv = self.conv
        h = F.conv2d(x.permute(0, 3, 1, 2), conv.weight.transpose(2, 3), conv.bias,
                     stride=(1, conv.stride[0]), padding=(0, conv.padding[0]))  # (B, C_out, J, T_out)
        return _bn_last(self.bn, h.permute(0, 2, 3, 1))                       # (B, J, T_out, C_out)


class GCNTemporalBlock(nn.Module):
    """``ReLU(tcn_s(gcn(x)) + r(x))`` (``TCN_GCN_unit``), ``r`` = identity, none, or a strided 1x1 map + BN.

    Shapes: ``(B, J, T, C_in) -> (B, J, T_out, C_out)``.
    """

    def __init__(self, in_channels: int, out_channels: int, partition: torch.Tensor, stride: int = 1,
                 residual: bool = True):
        super().__init__()
        self.stride = stride
        self.gcn = AdaptiveGraphConv(in_channels, out_channels, partition)
        self.tcn = TemporalConv(out_channels, out_channels, stride=stride)
        if not residual:
            self.residual_mode, self.residual = "none", None
        elif in_channels == out_channels and stride == 1:
            self.residual_mode, self.residual = "identity", None
        else:  # the original's unit_tcn with kernel 1: a strided 1x1 conv + BN
            self.residual_mode = "linear"
            self.residual = nn.Sequential(nn.Linear(in_channels, out_channels), nn.BatchNorm1d(out_channels))
            nn.init.kaiming_normal_(self.residual[0].weight, mode="fan_out")
            nn.init.zeros_(self.residual[0].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual_mode == "identity":
            y = y + x
        elif self.residual_mode == "linear":
            lin = self.residual[0]
            y = y + _bn_last(self.residual[1], pointwise(x[:, :, :: self.stride], lin.weight, lin.bias))
        return F.relu(y)


class JointwiseLinear(nn.Module):
    """One ``C -> D`` linear map per joint (the paper's unshared individually connected layer).

    Shapes: ``(B, J, C) -> (B, J, D)``; weight ``(J, C, D)``, bias ``(J, D)``.
    """

    def __init__(self, num_joints: int, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_joints, in_features, out_features))
        self.bias = nn.Parameter(torch.empty(num_joints, out_features))
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default init, per joint
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bjc,jcd->bjd", x, self.weight) + self.bias


@dataclass
class GLAGCNConfig:
    """GLA-GCN hyper-parameters (defaults: the released Human3.6M model, 243 frames, 1,348,856 parameters)."""

    skeleton: str = "h36m17"
    channels: int = 96
    # one stage per width: a stride-1 unit then a unit with stride f; receptive field = prod(filter_widths)
    filter_widths: tuple[int, ...] = (3, 3, 3, 3, 3)
    dropout: float = 0.1           # after every stage unit (the original CLI default)
    readout: Literal["shared", "individual"] = "shared"  # released code shares one C -> 3 map by all joints

    def __post_init__(self) -> None:
        self.filter_widths = tuple(int(f) for f in self.filter_widths)  # lists from JSON checkpoints
        # channels >= 4: the attention embeddings are channels / 4 wide
        check_config(self, "GLAGCNConfig", ranges={"channels": (4, None), "dropout": (0, 1)})
        if not self.filter_widths or any(f < 1 or f % 2 == 0 for f in self.filter_widths):
            raise ValueError(f"GLAGCNConfig.filter_widths must be non-empty odd positive ints, "
                             f"got {self.filter_widths}")

    @property
    def receptive_field(self) -> int:
        return math.prod(self.filter_widths)


def filter_widths_for(receptive_field: int) -> tuple[int, ...]:
    """Stage widths for a receptive field ``3^n`` (27 -> (3, 3, 3)); other values raise ``ValueError``."""
    n, widths = int(receptive_field), []
    if n != receptive_field or n < 3:
        raise ValueError(f"GLA-GCN receptive_field={receptive_field!r} must be a power of 3 >= 3 (27, 81, 243)")
    while n % 3 == 0:
        n //= 3
        widths.append(3)
    if n != 1:
        raise ValueError(f"GLA-GCN receptive_field={receptive_field} is not a power of 3 (27, 81, 243); "
                         "pass filter_widths=(...) for other odd products")
    return tuple(widths)


class GLAGCN(nn.Module):
    """GLA-GCN lifting network (``S_AGCN`` of the released code ``bruceyo/GLA-GCN``).

    1. data BN over the ``2J`` joint-major input channels (``j0x, j0y, j1x, ...``);
    2. expansion unit ``GCNTemporalBlock(2 -> C)`` with a linear + BN residual;
    3. per stage ``f``: ``r = x[:, :, f//2 :: f]`` (centre frame of every stride window),
       ``x = Drop(block(x))`` (stride 1, identity residual), ``x = Drop(block_f(x))`` (stride ``f``, no residual),
       ``x = r + x`` -- time shrinks by ``f`` per stage down to one frame;
    4. read-out: mean over the remaining frame(s), then ``C -> 3`` per joint (shared or individual).

    Shapes: ``forward``: ``(B, T, J, 2) -> (B, 1, J, 3)`` with ``T = receptive_field``;
    ``lift_sequence``: ``(B, N, J, 2) -> (B, N, J, 3)``.
    """

    def __init__(self, config: GLAGCNConfig | None = None, skeleton: Skeleton | None = None):
        super().__init__()
        config = config or GLAGCNConfig()
        sk = get_skeleton(config.skeleton if skeleton is None else skeleton)
        self.config = replace(config, skeleton=sk.name)
        self.skeleton = sk
        self.receptive_field = config.receptive_field
        J, C = sk.num_joints, config.channels
        A = spatial_partition(sk)
        self.data_bn = nn.BatchNorm1d(2 * J)
        self.expand = GCNTemporalBlock(2, C, A)
        blocks = []
        for f in config.filter_widths:
            blocks += [GCNTemporalBlock(C, C, A), GCNTemporalBlock(C, C, A, stride=f, residual=False)]
        self.blocks = nn.ModuleList(blocks)
        self.readout = nn.Linear(C, 3) if config.readout == "shared" else JointwiseLinear(J, C, 3)

    # ------------------------------------------------------------------ forward passes
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        J, T = self.skeleton.num_joints, self.receptive_field
        if x.dim() != 4 or x.shape[1:] != (T, J, 2):
            raise ValueError(f"GLAGCN expects input (B, T={T}, J={J}, 2) with T = its receptive field, "
                             f"got {tuple(x.shape)}; use lift_sequence() for whole sequences")
        B = x.shape[0]
        h = self.data_bn(x.reshape(B * T, J * 2)).view(B, T, J, 2)            # BN1d over joint-major channels
        h = h.transpose(1, 2).contiguous()                                     # (B, J, T, 2)
        h = self.expand(h)                                                     # (B, J, T, C)
        p = self.config.dropout
        for s, f in enumerate(self.config.filter_widths):
            res = h[:, :, f // 2:: f]                                          # (B, J, T/f, C)
            h = dropout(self.blocks[2 * s](h), p, self.training)
            h = dropout(self.blocks[2 * s + 1](h), p, self.training)          # (B, J, T/f, C)
            h = res + h
        return self.readout(h.mean(dim=2)).unsqueeze(1)                        # (B, 1, J, 3)

    def lift_sequence(self, x: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """Lift every frame of whole sequences, each from its own centred window (edge-padded ends).

        The sequence is padded by repeating its first / last frame ``rf // 2`` times, the ``N`` windows are
        strided views of it, and ``chunk`` windows at a time (default about 8192 frames' worth) go through
        :meth:`forward`; the result equals ``forward`` on each window. Use eval mode (in train mode the
        BNs would take statistics per chunk).

        Unlike VideoPose3D, a dilated whole-sequence pass that shares work between neighbouring windows is
        *not* exact here, for two reasons: the temporal convolutions zero-pad at each window's border, and
        the adaptive graph ``S_k`` of every unit depends on all frames of the window, so every intermediate
        feature is window-specific.

        Shapes: ``(B, N, J, 2) -> (B, N, J, 3)``.
        """
        J, rf = self.skeleton.num_joints, self.receptive_field
        if x.dim() != 4 or x.shape[2:] != (J, 2):
            raise ValueError(f"lift_sequence expects (B, N, J={J}, 2), got {tuple(x.shape)}")
        B, N, pad = x.shape[0], x.shape[1], rf // 2
        if N == 0:
            raise ValueError("lift_sequence got an empty sequence (N = 0 frames)")
        xp = torch.cat([x[:, :1].expand(B, pad, J, 2), x, x[:, -1:].expand(B, pad, J, 2)], dim=1)
        windows = xp.unfold(1, rf, 1).permute(0, 1, 4, 2, 3)                   # (B, N, rf, J, 2), a view
        per_call = max(1, (chunk or max(1, 8192 // rf)) // B)                   # windows per sequence per call
        out = [self(windows[:, n:n + per_call].reshape(-1, rf, J, 2)).view(B, -1, J, 3)
               for n in range(0, N, per_call)]
        return torch.cat(out, dim=1)

    # ------------------------------------------------------------------ training hooks
    def scheduled_batchnorms(self) -> list[nn.BatchNorm1d]:
        """BNs whose momentum follows the schedule: data BN and every unit's graph and temporal BN.

        As in the original's ``set_bn_momentum``, the expansion unit's ``down`` and residual BNs keep 0.1.
        """
        bns = [self.data_bn]
        for block in [self.expand, *self.blocks]:
            bns += [block.gcn.bn, block.tcn.bn]
        return bns

    def on_train_step(self, epoch_progress: float, total_epochs: int) -> None:
        """BN momentum ``0.1 * exp(-e / E * ln 100)`` (0.1 -> 0.001), ``e`` = completed epochs.

        The original (after VideoPose3D) changes the momentum once per epoch, so ``e = floor(epoch_progress)``.
        """
        if total_epochs <= 0:
            raise ValueError(f"on_train_step: total_epochs must be positive, got {total_epochs}")
        e = math.floor(epoch_progress)
        momentum = BN_MOMENTUM_START * math.exp(-e / total_epochs * math.log(BN_MOMENTUM_START / BN_MOMENTUM_END))
        for bn in self.scheduled_batchnorms():
            bn.momentum = momentum


def build_glagcn(skeleton: "Skeleton | str | int | None" = None, receptive_field: int | None = None,
                 **overrides: Any) -> GLAGCN:
    """Build GLA-GCN; defaults to the released H36M model (243 frames). ``receptive_field=3^n`` picks
    ``filter_widths=(3,) * n``; other keys are :class:`GLAGCNConfig` fields (unknown keys raise ``ValueError``)."""
    check_keys(GLAGCNConfig, overrides, "glagcn", extra=("receptive_field",))
    if receptive_field is not None:
        if "filter_widths" not in overrides:
            overrides["filter_widths"] = filter_widths_for(receptive_field)
        elif math.prod(overrides["filter_widths"]) != receptive_field:
            raise ValueError(f"glagcn: filter_widths={tuple(overrides['filter_widths'])} disagree with "
                             f"receptive_field={receptive_field}")
    sk = get_skeleton("h36m17" if skeleton is None else skeleton)
    return GLAGCN(GLAGCNConfig(skeleton=sk.name, **overrides), skeleton=sk)
