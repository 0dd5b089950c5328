"""GridConv: 3D pose lifting by convolution on a 5x5 semantic grid (Kang et al., AAAI 2023).

Paper: "3D Human Pose Lifting with Grid Convolution", https://arxiv.org/abs/2302.08760.
Explained in the book, chapter 5 ("GridConv: lifting on a semantic grid"). The pipeline is

    joints (B, 17, 2) --SGT--> grid (B, 2, 5, 5) --grid convolutions--> grid (B, 3, 5, 5) --SGT^-1--> joints (B, 17, 3)

Parts, smallest first:

- the handcrafted Semantic Grid Transformation (SGT) as two explicit matrices built from a table of joint
  names (``sgt_matrix`` (25, 17), ``inverse_sgt_matrix`` (17, 25));
- ``LearnableSGT`` ("AutoGrids"): cell-by-joint logits turned into a one-hot assignment, trained with a
  straight-through or Gumbel-softmax estimator;
- ``GridConv2d``: two 3x3 convolutions with different border handling, summed;
- ``DynamicGridConv2d`` (D-GridConv): the same with an input-dependent weight per kernel tap and output cell;
- ``GridConvConfig`` and ``GridLifter``: the residual network; ``build_gridconv`` for the registry.

Fixed relative to the reference code (``OSVAI/GridConv``): both branches pad by exactly 1; the learnable SGT gets
gradients in training mode; the hard assignment always has 17 columns; the attention temperature is a buffer
saved in ``state_dict``; nothing calls ``.cuda()``.

Grid tensors are ``(B, C, H, W)`` with ``H = W = 5``; cell ``p = row * 5 + col``. Inside the convolutions the
features are handled channels-last, ``(B, P, C)`` with ``P = H * W``, so one GEMM does all the work.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import check_config, check_keys
from ..skeleton import H36M_17, Skeleton, get_skeleton

__all__ = [
    "SGT_TABLE", "SGT_PRIORS", "GRID_SHAPE", "sgt_matrix", "inverse_sgt_matrix", "joints_to_grid",
    "grid_to_joints", "LearnableSGT", "tap_index", "GridConv2d", "DynamicGridConv2d",
    "temperature_schedule", "GridConvConfig", "GridLifter", "build_gridconv",
]

GRID_SHAPE = (5, 5)

# --------------------------------------------------------------------------- handcrafted SGT
# GridConv's handcrafted grid (Kang et al., AAAI 2023; `OSVAI/GridConv`, src/tool/util.py).
# Rows top to bottom; columns are the five chains hanging from the spine row:
# right leg, right arm, neck/head, left arm, left leg (image-left is the subject's right side).
# A tuple is a cell holding the mean of several joints (only the centre cell, Thorax-Nose midpoint).
SGT_TABLE: tuple[tuple[str | tuple[str, ...], ...], ...] = (
    ("Spine", "Spine",     "Spine",                 "Spine",     "Spine"),
    ("Hip",   "Thorax",    "Thorax",                "Thorax",    "Hip"),
    ("RHip",  "RShoulder", ("Thorax", "Neck/Nose"), "LShoulder", "LHip"),
    ("RKnee", "RElbow",    "Neck/Nose",             "LElbow",    "LKnee"),
    ("RFoot", "RWrist",    "Head",                  "LWrist",    "LFoot"),
)


def sgt_matrix(dtype: torch.dtype = torch.float32, table: Sequence[Sequence[str | Sequence[str]]] = SGT_TABLE,
               skeleton: Skeleton = H36M_17) -> torch.Tensor:
    """The handcrafted SGT ``phi`` as a matrix ``S`` of shape ``(25, 17)``: ``grid = S @ joints``.

    Row ``p`` (cell ``(p // 5, p % 5)``) averages the joints listed in ``SGT_TABLE``: one-hot for a
    single joint, ``1/2, 1/2`` for the Thorax-Nose centre cell. Joint order is H36M-17 (chapter 2, "Skeletons").
    Another ``table`` of joint names of ``skeleton`` (rows of cells, a cell a name or a sequence of names to
    average) gives its own ``(cells, J)`` matrix, row-major over the cells.
    """
    cells = [(cell,) if isinstance(cell, str) else tuple(cell) for row in table for cell in row]
    S = torch.zeros(len(cells), skeleton.num_joints, dtype=dtype)
    for p, names in enumerate(cells):
        for name in names:
            S[p, skeleton.index(name)] += 1.0 / len(names)
    return S


def inverse_sgt_matrix(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``phi^-1`` as a matrix ``(17, 25)``: ``joints = S_inv @ grid``.

    Each joint is the mean of the cells holding that joint alone: Spine = mean of row 0, Hip = mean of
    cells (1,0), (1,4), Thorax = mean of (1,1), (1,2), (1,3), every other joint its single cell. The mixed
    centre cell (2,2) is discarded. Hence ``S_inv @ S = I`` (tested).
    """
    pure = (sgt_matrix(torch.float64) == 1).to(torch.float64).T  # (17, 25): cells holding joint j only
    return (pure / pure.sum(1, keepdim=True)).to(dtype)


_SGT_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def _sgt_pair(like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dtype = like.dtype if like.is_floating_point() else torch.float32
    key = (dtype, like.device)
    if key not in _SGT_CACHE:  # tiny constants: build once per dtype and device
        with torch.inference_mode(False):  # normal tensors even if first built under inference_mode
            _SGT_CACHE[key] = (sgt_matrix().to(like.device, dtype), inverse_sgt_matrix().to(like.device, dtype))
    return _SGT_CACHE[key]


def _check_joints(x: torch.Tensor, channels: int | None, who: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[1] != H36M_17.num_joints or (
            channels is not None and x.shape[2] != channels):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        want = f"(B, 17, {channels})" if channels is not None else "(B, 17, C)"
        raise ValueError(f"{who} expects joints of shape {want} in H36M-17 order "
                         f"({', '.join(H36M_17.names)}); got {shape}")


def _to_grid(S: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(P, J) x (B, J, C) -> (B, C, 5, 5)``, one matmul."""
    return torch.matmul(S, x).transpose(1, 2).reshape(x.shape[0], x.shape[2], *GRID_SHAPE)


def joints_to_grid(x: torch.Tensor) -> torch.Tensor:
    """Handcrafted SGT: joints ``(B, 17, C)`` -> grid ``(B, C, 5, 5)``, ``grid = S x`` (Kang et al., AAAI 2023)."""
    _check_joints(x, None, "joints_to_grid")
    return _to_grid(_sgt_pair(x)[0], x)


def grid_to_joints(g: torch.Tensor) -> torch.Tensor:
    """Inverse SGT: grid ``(B, C, 5, 5)`` -> joints ``(B, 17, C)``, ``joints = S_inv grid``."""
    if g.dim() != 4 or tuple(g.shape[2:]) != GRID_SHAPE:
        raise ValueError(f"grid_to_joints expects a grid of shape (B, C, 5, 5); got {tuple(g.shape)}")
    return torch.matmul(_sgt_pair(g)[1], g.flatten(2).transpose(1, 2))


# --------------------------------------------------------------------------- learnable SGT (AutoGrids)
# Initial layouts as joint indices per cell (`OSVAI/GridConv`). "standard" is the handcrafted chain layout
# mirrored (left chains in columns 0-1), with the Nose in both (2,2) and (3,2) and no averaged cell.
# "learnt_type3" assigns no cell to joint 0 (Hip): that joint is then predicted as zeros, which is harmless
# for root-relative targets whose root row is 0.
SGT_PRIORS: dict[str, tuple[tuple[int, ...], ...] | None] = {
    "standard":     ((7, 7, 7, 7, 7), (0, 8, 8, 8, 0), (4, 11, 9, 14, 1), (5, 12, 9, 15, 2), (6, 13, 10, 16, 3)),
    "learnt_type1": ((7, 4, 7, 1, 0), (0, 8, 8, 8, 0), (4, 11, 9, 14, 1), (5, 12, 9, 15, 2), (6, 13, 10, 16, 3)),
    "learnt_type2": ((0, 15, 7, 1, 0), (1, 14, 8, 7, 0), (4, 0, 9, 13, 1), (2, 6, 11, 10, 2), (5, 12, 14, 16, 3)),
    "learnt_type3": ((9, 7, 7, 10, 7), (13, 8, 10, 15, 16), (9, 12, 7, 14, 1), (4, 5, 7, 3, 11), (7, 6, 9, 2, 14)),
    "random_prob":  None,  # softmax of uniform noise over the joints of each cell
}


class LearnableSGT(nn.Module):
    """AutoGrids: a learnable cell-to-joint assignment ``S`` (25, 17) from logits ``L`` (Kang et al., AAAI 2023).

    - evaluation (``self.training`` False): ``S = onehot(argmax_j L[p, j], 17)``, hard, no gradient;
    - training, straight-through: ``S = onehot(argmax L) + L - sg(L)``: the forward pass uses the hard
      one-hot, the backward pass treats ``S`` as ``L`` (identity Jacobian, no softmax in the path);
    - training, ``gumbel=True``: ``S = softmax((L + g) / tau_g)`` with Gumbel noise ``g`` (soft rows summing to 1).

    Grid in: ``S x``. Joints out: ``(S^T Y) / (S^T 1 + 1e-8)``, the mean over the cells assigned to each joint.
    A joint no cell picks comes out as zeros; :attr:`unassigned_joints` names such joints.

    Args:
        prior: initial logits, a key of ``SGT_PRIORS`` (default ``"standard"``); table priors are one-hot 0/1.
        gumbel: use the Gumbel-softmax relaxation in training instead of straight-through (default False).
        gumbel_temperature: ``tau_g`` (default 1.0).
    """

    def __init__(self, prior: str = "standard", gumbel: bool = False, gumbel_temperature: float = 1.0):
        super().__init__()
        if prior not in SGT_PRIORS:
            raise ValueError(f"LearnableSGT: unknown prior {prior!r}; choose one of {list(SGT_PRIORS)}")
        self.prior, self.gumbel, self.gumbel_temperature = prior, gumbel, gumbel_temperature
        self.logits = nn.Parameter(torch.empty(25, H36M_17.num_joints))  # (P, J)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        table = SGT_PRIORS[self.prior]
        with torch.no_grad():
            if table is None:
                self.logits.copy_(torch.rand_like(self.logits).softmax(-1))
            else:
                self.logits.copy_(F.one_hot(torch.tensor(table).flatten(), H36M_17.num_joints))

    def hard_assignment(self) -> torch.Tensor:
        """``onehot(argmax_j L)`` with all 17 columns, ``(25, 17)``, no gradient."""
        return F.one_hot(self.logits.detach().argmax(-1), self.logits.shape[1]).to(self.logits.dtype)

    def assignment(self) -> torch.Tensor:
        """``S`` (25, 17) for the current mode (see class docstring)."""
        if not self.training:
            return self.hard_assignment()
        if self.gumbel:
            return F.gumbel_softmax(self.logits, tau=self.gumbel_temperature, hard=False, dim=-1)
        return self.hard_assignment() + (self.logits - self.logits.detach())  # straight-through, exactly hard

    @property
    def unassigned_joints(self) -> list[str]:
        """Names of the joints no cell picks under the hard assignment (they are predicted as zeros)."""
        counts = self.hard_assignment().sum(0)
        return [H36M_17.names[j] for j in torch.nonzero(counts == 0).flatten().tolist()]

    @staticmethod
    def to_grid(S: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(25, 17)``, joints ``(B, 17, C)`` -> grid ``(B, C, 5, 5)``."""
        return _to_grid(S, x)

    @staticmethod
    def to_joints(S: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """``(25, 17)``, grid ``(B, C, 5, 5)`` -> joints ``(B, 17, C)`` = ``(S^T Y) / (S^T 1 + 1e-8)``."""
        joints = torch.matmul(S.T, g.flatten(2).transpose(1, 2))  # (B, J, C)
        return joints / (S.sum(0) + 1e-8).unsqueeze(-1)

    def extra_repr(self) -> str:
        return f"prior={self.prior!r}, gumbel={self.gumbel}, cells=25, joints={self.logits.shape[1]}"


# --------------------------------------------------------------------------- grid convolutions
PADDING_MODES = {"c": "circular", "z": "zeros", "r": "replicate"}


def _padding_mode(mode: str, who: str) -> str:
    full = PADDING_MODES.get(mode, mode)
    if full not in PADDING_MODES.values():
        raise ValueError(f"{who}: unknown padding mode {mode!r}; use 'c'/'circular', 'z'/'zeros' "
                         f"or 'r'/'replicate'")
    return full


def tap_index(grid_shape: tuple[int, int], mode: str) -> torch.Tensor:
    """Which cell each 3x3 tap reads once the grid is padded by 1: ``(P, 9)`` long, ``P = H * W``.

    Entry ``[p, k]`` is the cell read by tap ``k = 3 * (dy + 1) + (dx + 1)`` of output cell ``p``:
    ``circular`` wraps rows and columns around (the "donut"), ``replicate`` clamps to the border, ``zeros``
    points at the extra index ``P`` that stands for a zero row (the "tablet"). Gathering with this table is
    the same as ``F.pad`` followed by a 3x3 unfold, without materialising the padded grid.
    """
    H, W = grid_shape
    mode = _padding_mode(mode, "tap_index")
    r = torch.arange(H).view(H, 1, 1, 1) + torch.arange(-1, 2).view(1, 1, 3, 1)  # (H, 1, 3, 1)
    c = torch.arange(W).view(1, W, 1, 1) + torch.arange(-1, 2).view(1, 1, 1, 3)  # (1, W, 1, 3)
    r, c = torch.broadcast_tensors(r, c)  # (H, W, 3, 3)
    if mode == "circular":
        r, c = r % H, c % W
    elif mode == "replicate":
        r, c = r.clamp(0, H - 1), c.clamp(0, W - 1)
    inside = (r >= 0) & (r < H) & (c >= 0) & (c < W)
    index = torch.where(inside, r.clamp(0, H - 1) * W + c.clamp(0, W - 1), H * W)
    return index.reshape(H * W, 9)


class _TwoBranchGrid(nn.Module):
    """Shared part of the static and dynamic layers: weights of two 3x3 branches and the tap gather."""

    def __init__(self, in_channels: int, out_channels: int, padding: Sequence[str], bias: bool,
                 grid_shape: tuple[int, int]):
        super().__init__()
        name = type(self).__name__
        if len(padding) != 2:
            raise ValueError(f"{name}: padding must name two modes (one per branch), got {padding!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding = tuple(_padding_mode(m, name) for m in padding)
        self.grid_shape = tuple(grid_shape)
        # weight[:, b] is branch b's ordinary conv kernel (C_out, C_in, 3, 3)
        self.weight = nn.Parameter(torch.empty(out_channels, 2, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.empty(2, out_channels)) if bias else None
        index = torch.stack([tap_index(self.grid_shape, m) for m in self.padding], -1)  # (P, 9, 2)
        self.register_buffer("index", index, persistent=False)

    def reset_parameters(self) -> None:
        # PyTorch's own Conv2d init, branch by branch: Kaiming-uniform a=sqrt(5), bias U(+-1/sqrt(fan_in))
        for b in range(2):
            nn.init.kaiming_uniform_(self.weight[:, b], a=math.sqrt(5))
        if self.bias is not None:
            nn.init.uniform_(self.bias, -1 / math.sqrt(9 * self.in_channels), 1 / math.sqrt(9 * self.in_channels))

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != self.grid_shape:
            raise ValueError(f"{type(self).__name__} expects (B, {self.in_channels}, "
                             f"{self.grid_shape[0]}, {self.grid_shape[1]}); got {tuple(x.shape)}")

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Grid ``(B, C, H, W)`` -> both branches' 3x3 patches ``(B, P, 9, 2, C)`` (tap, branch, channel)."""
        B, C = x.shape[:2]
        x = x.flatten(2).transpose(1, 2)  # (B, P, C)
        x = torch.cat([x, x.new_zeros(B, 1, C)], 1)  # (B, P + 1, C): the last row is the zero padding
        return x[:, self.index]  # (B, P, 9, 2, C)

    def gemm_weight(self) -> torch.Tensor:
        """``[W_1, W_2]`` as ``(C_out, 9 * 2 * C_in)`` in the patches' (tap, branch, channel) order."""
        return self.weight.permute(0, 3, 4, 1, 2).reshape(self.out_channels, -1)

    def _gemm(self, U: torch.Tensor) -> torch.Tensor:
        """Patches ``(B, P, 9, 2, C)`` -> output grid ``(B, C_out, H, W)`` (channels-last in memory)."""
        B = U.shape[0]
        bias = None if self.bias is None else self.bias.sum(0)  # beta_1 + beta_2
        y = F.linear(U.reshape(B * U.shape[1], -1), self.gemm_weight(), bias)  # (B*P, C_out)
        return y.view(B, *self.grid_shape, self.out_channels).permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, padding={self.padding}, "
                f"bias={self.bias is not None}")


class GridConv2d(_TwoBranchGrid):
    r"""Static grid convolution (Kang et al., AAAI 2023): two 3x3 convolutions on the same grid, summed.

    .. math::
        Y = W_1 * \mathrm{pad}_{m_1}(X) + W_2 * \mathrm{pad}_{m_2}(X) + \beta_1 + \beta_2

    Both branches pad by exactly 1, so the output keeps the grid shape (the reference padded its circular
    branch by 2 and does not run on current PyTorch, quirk 1). Computed as one GEMM over gathered patches.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        padding: border modes of the two branches, each ``'c'`` circular, ``'z'`` zeros or ``'r'`` replicate
            (default ``('c', 'z')``, the reference's "donut" + "tablet").
        bias: learn ``beta_1, beta_2`` (default True).
        grid_shape: ``(H, W)`` (default ``(5, 5)``).

    Shapes: ``(B, C_in, H, W) -> (B, C_out, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, padding: Sequence[str] = ("c", "z"),
                 bias: bool = True, grid_shape: tuple[int, int] = GRID_SHAPE):
        super().__init__(in_channels, out_channels, padding, bias, grid_shape)
        self.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return self._gemm(self.patches(x))


def temperature_schedule(epoch_progress: float, start: float = 30.0, anneal_epochs: float = 10.0) -> float:
    """D-GridConv attention temperature: linear from ``start`` to 1 over the first ``anneal_epochs``, then 1.

    ``tau = 1 + (start - 1) * (1 - e / anneal_epochs)`` for ``e < anneal_epochs`` (``e`` = 0-based epoch plus
    the fraction of the epoch done), as the reference (``OSVAI/GridConv``) sets it every iteration.
    """
    if epoch_progress >= anneal_epochs:
        return 1.0
    return 1.0 + (start - 1.0) * (1.0 - epoch_progress / anneal_epochs)


class DynamicGridConv2d(_TwoBranchGrid):
    r"""Dynamic grid convolution, D-GridConv (Kang et al., AAAI 2023).

    An attention map ``a`` (one weight per kernel tap ``k`` and output cell ``p``) is computed from the
    layer's own input and shared by both branches and all channels:

    .. math::
        s = \mathrm{GAP}(X), \quad h = \mathrm{ReLU}(\mathrm{BN}(W_a s)), \quad
        a = \sigma\big((W_p h + b_p) / \tau\big) \in \mathbb{R}^{9 \times H \times W}

        Y[o, p] = \sum_{b=1}^{2} \Big( \sum_{c, k} W_b[o, c, k]\, a[k, p]\, U_b[c, k, p] + \beta_b[o] \Big)

    where ``U_b`` are the 3x3 patches of ``X`` padded by 1 with branch ``b``'s mode. The effective kernel
    ``W_b * a[:, p]`` depends on the input and on the cell. Computed as: gather the patches of both branches
    ``(B, P, 9, 2, C)``, scale by ``a``, one GEMM against ``[W_1, W_2]`` (``K = 18 C_in``).

    ``tau`` is a buffer (saved in ``state_dict``), ``temperature`` at construction (default 30), changed by
    :meth:`set_temperature`; the network anneals it with :func:`temperature_schedule`.

    Args:
        in_channels, out_channels: ``C_in``, ``C_out``.
        padding: border modes of the two branches (default ``('c', 'r')``).
        bias: learn ``beta_1, beta_2`` (default True).
        temperature: initial ``tau`` (default 30.0).
        grid_shape: ``(H, W)`` (default ``(5, 5)``).

    Shapes: ``(B, C_in, H, W) -> (B, C_out, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, padding: Sequence[str] = ("c", "r"),
                 bias: bool = True, temperature: float = 30.0, grid_shape: tuple[int, int] = GRID_SHAPE):
        super().__init__(in_channels, out_channels, padding, bias, grid_shape)
        hidden = max(in_channels // 16, 16)  # d, as in the released D-GridConv
        P = self.grid_shape[0] * self.grid_shape[1]
        self.attn_reduce = nn.Linear(in_channels, hidden, bias=False)  # W_a, a 1x1 conv on the pooled input
        self.attn_norm = nn.BatchNorm1d(hidden)
        self.attn_expand = nn.Linear(hidden, 9 * P)  # W_p, b_p
        self.register_buffer("temperature", torch.tensor(float(temperature)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        super().reset_parameters()
        for lin in (self.attn_reduce, self.attn_expand):  # as the reference's 1x1 convs
            nn.init.kaiming_normal_(lin.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.attn_expand.bias)
        self.attn_norm.reset_parameters()

    def set_temperature(self, value: float) -> None:
        self.temperature.fill_(float(value))

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        """``a`` as ``(B, P, 9)``."""
        h = F.relu(self.attn_norm(self.attn_reduce(x.mean(dim=(2, 3)))))  # (B, d)
        a = torch.sigmoid(self.attn_expand(h) / self.temperature)  # (B, 9 * P), tap-major
        return a.view(x.shape[0], 9, -1).transpose(1, 2)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map ``a`` ``(B, 9, H, W)`` for input ``x`` ``(B, C_in, H, W)``."""
        self._check(x)
        return self._attention(x).transpose(1, 2).reshape(x.shape[0], 9, *self.grid_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        U = self.patches(x) * self._attention(x)[..., None, None]  # (B, P, 9, 2, C)
        return self._gemm(U)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", temperature={self.temperature.item():g}"


# --------------------------------------------------------------------------- the network
@dataclass
class GridConvConfig:
    """Configuration of :class:`GridLifter`; defaults are the released D-GridConv (``OSVAI/GridConv``)."""

    skeleton: str = "h36m17"  # the semantic grid is defined for H36M-17 only
    hidden: int = 256
    num_blocks: int = 2
    dropout: float = 0.25  # Dropout2d: zeroes whole channels
    dynamic: bool = True  # D-GridConv layers; False = static GridConv
    padding: tuple[str, str] = ("c", "r")  # (c, r) for GT 2D input, (c, z) for detections [README]
    sgt: str = "handcrafted"  # or "learnable" (AutoGrids)
    sgt_prior: str = "standard"  # initial layout of the learnable SGT, a key of SGT_PRIORS
    gumbel: bool = False  # learnable SGT: Gumbel-softmax instead of straight-through in training
    gumbel_temperature: float = 1.0
    temperature: float = 30.0  # D-GridConv attention temperature at construction
    anneal_epochs: float = 10.0  # epochs of the linear temperature -> 1 annealing

    def __post_init__(self) -> None:
        self.skeleton = get_skeleton(self.skeleton).name
        if self.skeleton != H36M_17.name:
            raise ValueError(f"GridConvConfig: the semantic grid needs the 17-joint H36M skeleton 'h36m17', "
                             f"got {self.skeleton!r}")
        if len(self.padding) != 2:
            raise ValueError(f"GridConvConfig: padding needs two modes, got {self.padding!r}")
        short = {full: key for key, full in PADDING_MODES.items()}
        self.padding = tuple(short[_padding_mode(m, "GridConvConfig")] for m in self.padding)
        check_config(self, "GridConvConfig", choices={"sgt": ("handcrafted", "learnable"), "sgt_prior": SGT_PRIORS},
                     ranges={"hidden": (1, None), "num_blocks": (0, None), "dropout": (0, 1)})


class GridLifter(nn.Module):
    """GridConv lifting network (Kang et al., AAAI 2023): SGT, grid convolutions, inverse SGT.

    ``B x 2 x 5 x 5 -> conv(2 -> C, bias) -> BN -> ReLU -> Dropout2d``, then ``num_blocks`` residual blocks
    ``x + Drop(ReLU(BN(conv(Drop(ReLU(BN(conv(x))))))))``, then ``conv(C -> 3, no bias)``; ``conv`` is
    :class:`DynamicGridConv2d` or :class:`GridConv2d`.

    Handcrafted SGT: ``loss_on_grid = True``: the reference trains with the MSE between
    :meth:`forward_grid` and :meth:`target_grid`, which weights each joint by the number of cells holding it
    (Spine x5, Thorax x3 plus half the centre cell, Hip x2, Nose x1 plus half the centre cell, others x1).
    Learnable SGT: ``loss_on_grid = False``, the loss is taken on the joints :meth:`forward` returns.

    Shapes: :meth:`forward` ``(B, 17, 2) -> (B, 17, 3)`` (also ``(B, 1, 17, 2) -> (B, 1, 17, 3)``).
    """

    receptive_field = 1

    def __init__(self, config: GridConvConfig | None = None):
        super().__init__()
        self.config = cfg = config or GridConvConfig()
        C = cfg.hidden

        def conv(c_in: int, c_out: int, bias: bool = True) -> nn.Module:
            if cfg.dynamic:
                return DynamicGridConv2d(c_in, c_out, cfg.padding, bias, cfg.temperature)
            return GridConv2d(c_in, c_out, cfg.padding, bias)

        def stage(c_in: int) -> nn.Sequential:
            return nn.Sequential(conv(c_in, C), nn.BatchNorm2d(C), nn.ReLU(), nn.Dropout2d(cfg.dropout))

        self.stem = stage(2)
        self.blocks = nn.ModuleList(nn.Sequential(stage(C), stage(C)) for _ in range(cfg.num_blocks))
        self.head = conv(C, 3, bias=False)
        self.loss_on_grid = cfg.sgt == "handcrafted"
        if self.loss_on_grid:
            self.sgt = None
            self.register_buffer("sgt_matrix", sgt_matrix(), persistent=False)
            self.register_buffer("inverse_sgt_matrix", inverse_sgt_matrix(), persistent=False)
        else:
            self.sgt = LearnableSGT(cfg.sgt_prior, cfg.gumbel, cfg.gumbel_temperature)

    # ---- temperature of the dynamic layers
    def set_temperature(self, value: float) -> None:
        for m in self.modules():
            if isinstance(m, DynamicGridConv2d):
                m.set_temperature(value)

    def on_train_step(self, epoch_progress: float, total_epochs: int) -> None:
        """Trainer hook: anneal the attention temperature (as ``OSVAI/GridConv``); nothing to do for static layers."""
        if self.config.dynamic:
            self.set_temperature(temperature_schedule(epoch_progress, self.config.temperature,
                                                      self.config.anneal_epochs))

    # ---- grid level
    def grid_network(self, g: torch.Tensor) -> torch.Tensor:
        """Grid ``(B, 2, 5, 5)`` -> grid ``(B, 3, 5, 5)``."""
        h = self.stem(g)  # (B, C, 5, 5)
        for block in self.blocks:
            h = h + block(h)
        return self.head(h)

    def _check_input(self, x: torch.Tensor, channels: int) -> None:
        _check_joints(x, channels, f"GridLifter ({'learnable' if self.sgt else 'handcrafted'} SGT)")

    def _assignment(self) -> torch.Tensor:
        return self.sgt_matrix if self.sgt is None else self.sgt.assignment()

    def forward_grid(self, x2d: torch.Tensor) -> torch.Tensor:
        """2D joints ``(B, 17, 2)`` -> predicted grid ``(B, 3, 5, 5)`` (before the inverse SGT)."""
        self._check_input(x2d, 2)
        return self.grid_network(_to_grid(self._assignment(), x2d))

    def target_grid(self, y3d: torch.Tensor) -> torch.Tensor:
        """3D joints ``(B, 17, 3)`` -> the grid the network should output, ``(B, 3, 5, 5)``."""
        self._check_input(y3d, 3)
        S = self.sgt_matrix if self.sgt is None else self.sgt.hard_assignment()
        return _to_grid(S.to(y3d.dtype), y3d)

    def forward(self, x2d: torch.Tensor) -> torch.Tensor:
        if x2d.dim() == 4 and x2d.shape[1] == 1:  # a one-frame window from a temporal loader
            return self.forward(x2d[:, 0]).unsqueeze(1)
        self._check_input(x2d, 2)
        S = self._assignment()  # one assignment for both directions (matters for Gumbel sampling)
        y = self.grid_network(_to_grid(S, x2d))  # (B, 3, 5, 5)
        if self.sgt is None:
            return torch.matmul(self.inverse_sgt_matrix, y.flatten(2).transpose(1, 2))  # (B, 17, 3)
        return self.sgt.to_joints(S, y)


# --------------------------------------------------------------------------- registry
def build_gridconv(skeleton: "str | int | Skeleton | None" = None, **overrides) -> GridLifter:
    """A :class:`GridLifter` from the :class:`GridConvConfig` defaults (the released D-GridConv) and ``overrides``
    (config fields; unknown keys raise ``ValueError``). The grid needs ``skeleton`` H36M-17 (the default)."""
    check_keys(GridConvConfig, overrides, "GridConv")
    if skeleton is not None:
        overrides["skeleton"] = skeleton if isinstance(skeleton, str) else get_skeleton(skeleton).name
    return GridLifter(GridConvConfig(**overrides))
