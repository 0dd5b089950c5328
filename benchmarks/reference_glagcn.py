"""A faithful re-implementation of the *released* GLA-GCN layout, used only as a speed and correctness anchor.

It reproduces the computational layout of ``bruceyo/GLA-GCN`` as written by us:
channels-first ``(B, C, T, V)`` tensors, one 1x1 ``Conv2d`` per subset for theta, phi and W, the right
multiplication ``x @ G`` with a column-receiver graph, a Python loop over the three subsets, a kernel-(9, 1)
``Conv2d`` for the temporal unit and a Python loop over joints for the read-out. The two harness fixes the
original needs today (no ``.cuda()``, out-of-place dropout) are applied, nothing else is optimised.

:func:`copy_into` loads the weights of a :class:`ReferenceGLAGCN` into a :class:`poselift_core.models.glagcn.GLAGCN`
so that ``benchmarks/bench_glagcn.py`` can check that both compute the same function before timing them.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from poselift_core.skeleton import get_skeleton


def column_receiver_partition(skeleton) -> torch.Tensor:
    """The original's ``(3, V, V)`` graph with column ``w`` = receiver (``out[w] = sum_v x[v] A[v, w]``)."""
    sk = get_skeleton(skeleton)
    V = sk.num_joints
    A = torch.zeros(3, V, V)
    A[0] = torch.eye(V)
    n_children = [len(c) for c in sk.children]
    for c, p in sk.edges:
        A[1, p, c] = 1.0                    # child receives its parent (column-normalised: one entry)
        A[2, c, p] = 1.0 / n_children[p]    # parent receives the mean of its children
    return A


class RefGraphUnit(nn.Module):
    def __init__(self, c_in: int, c_out: int, A: torch.Tensor):
        super().__init__()
        self.c_e = c_out // 4
        self.register_buffer("A", A)
        self.PA = nn.Parameter(torch.full_like(A, 1e-6))
        self.conv_a = nn.ModuleList(nn.Conv2d(c_in, self.c_e, 1) for _ in range(3))
        self.conv_b = nn.ModuleList(nn.Conv2d(c_in, self.c_e, 1) for _ in range(3))
        self.conv_d = nn.ModuleList(nn.Conv2d(c_in, c_out, 1) for _ in range(3))
        self.down = None
        if c_in != c_out:
            self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out))
        self.bn = nn.BatchNorm2d(c_out)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                nn.init.zeros_(m.bias)
        for conv in self.conv_d:
            nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / (c_out * c_in * 3)))
        nn.init.constant_(self.bn.weight, 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, T, V = x.shape
        A = self.A + self.PA
        y = 0
        for k in range(3):
            send = self.conv_a[k](x).permute(0, 3, 1, 2).reshape(N, V, self.c_e * T)
            recv = self.conv_b[k](x).reshape(N, self.c_e * T, V)
            S = torch.softmax(send @ recv / (self.c_e * T), dim=-2)     # normalised over senders (rows)
            agg = (x.reshape(N, C * T, V) @ (S + A[k])).reshape(N, C, T, V)
            y = y + self.conv_d[k](agg)
        y = F.dropout(self.bn(y), 0.1, self.training)
        return F.relu(y + (x if self.down is None else self.down(x)))


class RefTemporalUnit(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int = 9, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, (kernel, 1), padding=((kernel - 1) // 2, 0), stride=(stride, 1))
        self.bn = nn.BatchNorm2d(c_out)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class RefBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, A: torch.Tensor, stride: int = 1, residual: bool = True):
        super().__init__()
        self.gcn1 = RefGraphUnit(c_in, c_out, A)
        self.tcn1 = RefTemporalUnit(c_out, c_out, stride=stride)
        self.mode = "none" if not residual else ("identity" if c_in == c_out and stride == 1 else "conv")
        if self.mode == "conv":
            self.residual = RefTemporalUnit(c_in, c_out, kernel=1, stride=stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn1(self.gcn1(x))
        if self.mode == "identity":
            y = y + x
        elif self.mode == "conv":
            y = y + self.residual(x)
        return F.relu(y)


class ReferenceGLAGCN(nn.Module):
    """``(B, T, V, 2) -> (B, 1, V, 3)`` in the original's layout (see the module docstring)."""

    def __init__(self, skeleton="h36m17", channels: int = 96, filter_widths=(3, 3, 3, 3, 3), dropout: float = 0.1):
        super().__init__()
        A = column_receiver_partition(skeleton)
        V = A.shape[-1]
        self.filter_widths = tuple(filter_widths)
        self.receptive_field = math.prod(self.filter_widths)
        self.dropout = dropout
        self.data_bn = nn.BatchNorm1d(2 * V)
        self.expand_gcn = RefBlock(2, channels, A)
        blocks = []
        for f in self.filter_widths:
            blocks += [RefBlock(channels, channels, A), RefBlock(channels, channels, A, stride=f, residual=False)]
        self.layers_tcngcn = nn.ModuleList(blocks)
        self.fc = nn.Conv1d(channels, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, V, _ = x.shape
        x = self.data_bn(x.reshape(B, T, 2 * V).permute(0, 2, 1))             # (B, 2V, T)
        x = x.reshape(B, V, 2, T).permute(0, 2, 3, 1).contiguous()            # (B, 2, T, V)
        x = self.expand_gcn(x)
        for i, f in enumerate(self.filter_widths):
            res = x[:, :, f // 2::f, :]
            x = F.dropout(self.layers_tcngcn[2 * i](x), self.dropout, self.training)
            x = F.dropout(self.layers_tcngcn[2 * i + 1](x), self.dropout, self.training)
            x = res + x
        out = x.new_zeros(B, 3, V)
        for v in range(V):                                                     # the original's per-joint loop
            out[:, :, v] = self.fc(x[:, :, :, v].mean(2, keepdim=True))[:, :, 0]
        return out.permute(0, 2, 1).reshape(B, 1, V, 3)


@torch.no_grad()
def copy_into(ref: ReferenceGLAGCN, model) -> None:
    """Copy the reference weights into a poselift ``GLAGCN`` (shared read-out).

    Graph tensors are transposed (column receiver -> row receiver); 1x1 convs become linear maps;
    the three theta / phi convs are stacked into one embedding map in the order theta_0..2, phi_0..2.
    """
    def unit(dst, src_block):
        g, dg = src_block.gcn1, dst.gcn
        dg.P.copy_(g.PA.transpose(1, 2))
        w = [c.weight[:, :, 0, 0] for c in list(g.conv_a) + list(g.conv_b)]
        b = [c.bias for c in list(g.conv_a) + list(g.conv_b)]
        dg.embed.weight.copy_(torch.cat(w)), dg.embed.bias.copy_(torch.cat(b))
        dg.weight.copy_(torch.stack([c.weight[:, :, 0, 0] for c in g.conv_d]))
        dg.bias.copy_(torch.stack([c.bias for c in g.conv_d]))
        dg.bn.load_state_dict(g.bn.state_dict())
        if g.down is not None:
            dg.down[0].weight.copy_(g.down[0].weight[:, :, 0, 0]), dg.down[0].bias.copy_(g.down[0].bias)
            dg.down[1].load_state_dict(g.down[1].state_dict())
        t, dt = src_block.tcn1, dst.tcn
        dt.conv.weight.copy_(t.conv.weight), dt.conv.bias.copy_(t.conv.bias)
        dt.bn.load_state_dict(t.bn.state_dict())
        if src_block.mode == "conv":
            r, dr = src_block.residual, dst.residual
            dr[0].weight.copy_(r.conv.weight[:, :, 0, 0]), dr[0].bias.copy_(r.conv.bias)
            dr[1].load_state_dict(r.bn.state_dict())

    model.data_bn.load_state_dict(ref.data_bn.state_dict())
    unit(model.expand, ref.expand_gcn)
    for dst, src in zip(model.blocks, ref.layers_tcngcn):
        unit(dst, src)
    model.readout.weight.copy_(ref.fc.weight[:, :, 0]), model.readout.bias.copy_(ref.fc.bias)
