"""A re-implementation of the *released* Any-GCN computational layout, used only as a speed and correctness anchor.

Written by us from ``tamasino52/Any-GCN``: batch-first ``(B, J, C)`` tensors, the per-variant einsum/matmul forms
(``einsum('bjc,jcd->bjd')`` for per-joint weights, ``torch.matmul(A, H)`` broadcast over the batch, the
``B x J x J x C_out`` tensor of no-sharing), masks multiplied into the adjacency at every call, and
``BatchNorm1d`` on the ``(B, C, J)`` transpose. Bugs are fixed only where they would stop the comparison
(post-agg uses ``W[0]``; no-sharing reads row ``i`` as the receiver), so the cost is the released one.

:func:`copy_into` loads a :class:`ReferenceGCN`'s weights into a :class:`poselift_core.models.gcn.GCNLifter`
of the same variant, so ``benchmarks/bench_models.py --reference`` can check both compute the same function
before timing them in the same run.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from poselift_core.graph import topological_rank
from poselift_core.models.gcn import GCNLifter
from poselift_core.skeleton import get_skeleton

_STACK = {"vanilla": 1, "dc_vanilla": 2, "convst": 3, "modulated": 2, "semgcn": 2}  # shared weights
_PER_JOINT = {"preagg": 1, "dc_preagg": 2, "postagg": 1, "dc_postagg": 2}


class RefGraphConv(nn.Module):
    def __init__(self, variant: str, c_in: int, c_out: int, adj: torch.Tensor, parents) -> None:
        super().__init__()
        J = adj.shape[0]
        self.variant, self.adj = variant, adj  # a plain attribute, as released
        if variant in _STACK:
            self.W = nn.Parameter(torch.randn(_STACK[variant], c_in, c_out) * 0.1)
        elif variant in _PER_JOINT:
            self.W = nn.Parameter(torch.randn(_PER_JOINT[variant], J, c_in, c_out) * 0.05)
        else:
            self.W = nn.Parameter(torch.randn(J, J, c_in, c_out) * 0.05)
        if variant == "modulated":
            self.M = nn.Parameter(torch.ones(J, c_out))
            self.Q = nn.Parameter(torch.full((J, J), 1e-6))
        if variant == "semgcn":
            self.mask = adj > 0
            self.e = nn.Parameter(torch.ones(int(self.mask.sum())))
        rank = torch.tensor(topological_rank(parents))
        self.lower = (rank[None, :] < rank[:, None]).float()  # = strict lower triangle on H36M orders
        self.upper = (rank[None, :] > rank[:, None]).float()
        self.bias = nn.Parameter(torch.zeros(c_out).uniform_(-0.1, 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, J, C_in) -> (B, J, C_out)
        v, A, W = self.variant, self.adj, self.W
        E = torch.eye(A.shape[0])
        if v == "semgcn":
            logits = torch.full_like(A, -9e15)
            logits[self.mask] = self.e
            A = F.softmax(logits, dim=1)
        if v == "modulated":
            A = A + self.Q
            A = (A.T + A) / 2
        if v == "vanilla":
            out = torch.matmul(A, torch.matmul(x, W[0]))
        elif v in ("dc_vanilla", "semgcn"):
            out = torch.matmul(A * E, torch.matmul(x, W[0])) + torch.matmul(A * (1 - E), torch.matmul(x, W[1]))
        elif v == "modulated":
            h0, h1 = torch.matmul(x, W[0]), torch.matmul(x, W[1])
            out = torch.matmul(A * E, self.M * h0) + torch.matmul(A * (1 - E), self.M * h1)
        elif v == "convst":
            out = (torch.matmul(A * E, torch.matmul(x, W[0])) + torch.matmul(A * self.lower, torch.matmul(x, W[1]))
                   + torch.matmul(A * self.upper, torch.matmul(x, W[2])))
        elif v == "preagg":
            out = torch.matmul(A, torch.einsum("bjc,jcd->bjd", x, W[0]))
        elif v == "dc_preagg":
            out = (torch.matmul(A * E, torch.einsum("bjc,jcd->bjd", x, W[0]))
                   + torch.matmul(A * (1 - E), torch.einsum("bjc,jcd->bjd", x, W[1])))
        elif v == "postagg":
            out = torch.einsum("bjc,jcd->bjd", torch.matmul(A, x), W[0])
        elif v == "dc_postagg":
            out = (torch.einsum("bjc,jcd->bjd", torch.matmul(A * E, x), W[0])
                   + torch.einsum("bjc,jcd->bjd", torch.matmul(A * (1 - E), x), W[1]))
        else:  # nosharing: materialise every (receiver, sender) message, then weight them by A
            h = torch.einsum("bjc,ijcd->bijd", x, W)  # (B, J, J, C_out)
            out = torch.einsum("ij,bijd->bid", A, h)
        return out + self.bias


class ReferenceGCN(nn.Module):
    """Any-GCN's residual network in its released layout (no experts, no non-local)."""

    def __init__(self, variant: str, skeleton="h36m16", hidden: int = 128, num_blocks: int = 4,
                 adjacency: str | None = None) -> None:
        super().__init__()
        sk = get_skeleton(skeleton)
        adj = sk.adjacency(adjacency or ("diag1" if variant == "modulated" else "row"))

        def g(ci, co):
            return RefGraphConv(variant, ci, co, adj, sk.parents)
        self.gconvs = nn.ModuleList([g(2, hidden)] + [g(hidden, hidden) for _ in range(2 * num_blocks)])
        self.bns = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in self.gconvs)
        self.out = g(hidden, 3)

    def _unit(self, k: int, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bns[k](self.gconvs[k](x).transpose(1, 2)).transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._unit(0, x)
        for k in range(1, len(self.gconvs), 2):
            x = x + self._unit(k + 1, self._unit(k, x))
        return self.out(x)


@torch.no_grad()
def copy_into(ref: ReferenceGCN, model: GCNLifter) -> None:
    """Load ``ref``'s weights into ``model`` (same variant and size, no experts / non-local)."""
    units = [model.input] + [u for block in model.blocks for u in block] + [model.output]
    bns = [u.bn for u in units[:-1]]
    for r, u in zip(list(ref.gconvs) + [ref.out], units):
        layer, W = u.gconv, r.W
        if r.variant == "vanilla" or r.variant in ("preagg", "postagg"):
            layer.weight.copy_(W[0])
        elif r.variant == "nosharing":
            receiver, sender = layer.edge_index
            layer.weight.copy_(W[receiver, sender].view_as(layer.weight))
        else:
            layer.weight.copy_(W)
        layer.bias.copy_(r.bias)
        if r.variant == "modulated":
            layer.modulation.copy_(r.M)
            layer.adj_offset.copy_(r.Q)
        if r.variant == "semgcn":
            layer.edge_logits.copy_(r.e)
    for rb, b in zip(ref.bns, bns):
        b.load_state_dict(rb.state_dict())
