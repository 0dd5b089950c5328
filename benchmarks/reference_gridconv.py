"""A re-implementation of the *released* D-GridConv computational layout, used only as a speed and correctness anchor.

Written by us from ``OSVAI/GridConv``: NCHW tensors; each branch pads with ``F.pad``, unfolds its 3x3 patches
``(B, C, 9, 25)`` with ``F.unfold``, multiplies them by the attention and contracts them with its own kernel in an
einsum; the two branch outputs are added. The attention is GAP -> 1x1 conv -> BN -> ReLU -> 1x1 conv on
``(B, C, 1, 1)`` maps. The handcrafted SGT is an index gather here (the release applies it in the data loader).

``poselift_core`` computes the same function with one gather of both branches' patches in channels-last order
and one GEMM (``DynamicGridConv2d``). :func:`copy_into` loads a :class:`ReferenceGridConv`'s weights into a
:class:`poselift_core.models.gridconv.GridLifter`, so both can be checked equal before they are timed.

    python benchmarks/reference_gridconv.py [dgridconv|dgridconv_autogrids] [--steps 9]

prints the train-step samples/s of both, steps interleaved, and the median per-step ratio (robust to load).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from poselift_core.models import MODEL_BUILDERS
from poselift_core.models.gridconv import SGT_PRIORS, GridLifter, inverse_sgt_matrix, sgt_matrix

VARIANTS = ("dgridconv", "dgridconv_autogrids")
_PADS = {"dgridconv": ("circular", "replicate"), "dgridconv_autogrids": ("circular", "zeros")}


class RefDGridConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, pads: tuple[str, str], bias: bool) -> None:
        super().__init__()
        d = max(c_in // 16, 16)
        self.pads, self.c_out, self.temperature = pads, c_out, 30.0  # a plain attribute, as released
        self.w = nn.ParameterList(nn.Parameter(torch.randn(c_out, c_in, 3, 3) * 0.05) for _ in range(2))
        self.b = nn.ParameterList(nn.Parameter(torch.zeros(c_out)) for _ in range(2)) if bias else None
        self.attention = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c_in, d, 1, bias=False),
                                       nn.BatchNorm2d(d), nn.ReLU(), nn.Conv2d(d, 225, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, 5, 5) -> (B, C_out, 5, 5)
        B, C = x.shape[:2]
        a = torch.sigmoid(self.attention(x) / self.temperature).view(B, 1, 9, 25)
        out = 0
        for i, mode in enumerate(self.pads):
            xp = F.pad(x, (1, 1, 1, 1), mode="constant" if mode == "zeros" else mode)
            U = F.unfold(xp, 3).view(B, C, 9, 25) * a
            y = torch.einsum("bckp,ock->bop", U, self.w[i].view(self.c_out, C, 9))
            out = out + (y if self.b is None else y + self.b[i].view(1, -1, 1))
        return out.view(B, self.c_out, 5, 5)


class ReferenceGridConv(nn.Module):
    """The released network: (B, 17, 2) -> SGT -> 5 D-GridConv layers (2 residual blocks) -> SGT^-1."""

    def __init__(self, name: str = "dgridconv", hidden: int = 256, num_blocks: int = 2, dropout: float = 0.25):
        super().__init__()
        pads = _PADS[name]
        self.learnable = name == "dgridconv_autogrids"

        def stage(c_in: int) -> nn.Sequential:
            return nn.Sequential(RefDGridConv(c_in, hidden, pads, True), nn.BatchNorm2d(hidden), nn.ReLU(),
                                 nn.Dropout2d(dropout))

        self.stem = stage(2)
        self.blocks = nn.ModuleList(nn.Sequential(stage(hidden), stage(hidden)) for _ in range(num_blocks))
        self.head = RefDGridConv(hidden, 3, pads, False)
        if self.learnable:
            self.logits = nn.Parameter(F.one_hot(torch.tensor(SGT_PRIORS["standard"]).view(1, 25), 17).float())
        else:
            self.cells = sgt_matrix().argmax(1)  # gather indices; the centre cell is the Thorax-Nose mean
            self.register_buffer("inverse", inverse_sgt_matrix())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B = x.shape[0]
        if self.learnable:  # the released training loop takes the hard path (no is_training=True)
            S = F.one_hot(self.logits.argmax(-1), 17).float()  # (1, 25, 17)
            g = torch.matmul(S, x)
        else:
            g = x[:, self.cells].clone()
            g[:, 12] = 0.5 * (x[:, 8] + x[:, 9])
        h = self.stem(g.transpose(1, 2).reshape(B, -1, 5, 5))
        for block in self.blocks:
            h = h + block(h)
        y = self.head(h).flatten(2).transpose(1, 2)  # (B, 25, 3)
        if self.learnable:
            return torch.matmul(S.transpose(1, 2), y) / (S.sum(1).view(1, 17, 1) + 1e-8)
        return torch.matmul(self.inverse, y)


def _copy_conv(rc: RefDGridConv, mc) -> None:
    for i in range(2):
        mc.weight[:, i].copy_(rc.w[i])
        if rc.b is not None:
            mc.bias[i].copy_(rc.b[i])
    _, conv1, bn, _, conv2 = rc.attention
    mc.attn_reduce.weight.copy_(conv1.weight.flatten(1))
    mc.attn_norm.load_state_dict(bn.state_dict())
    mc.attn_expand.weight.copy_(conv2.weight.flatten(1))
    mc.attn_expand.bias.copy_(conv2.bias)
    mc.set_temperature(rc.temperature)


def copy_into(ref: ReferenceGridConv, model: GridLifter) -> None:
    """Load ``ref``'s weights into ``model`` (same variant), so that both compute the same function."""
    stages = [(ref.stem, model.stem)]
    stages += [(rs, ms) for rb, mb in zip(ref.blocks, model.blocks) for rs, ms in zip(rb, mb)]
    with torch.no_grad():
        for r_stage, m_stage in stages:  # (conv, BatchNorm2d, ReLU, Dropout2d)
            _copy_conv(r_stage[0], m_stage[0])
            m_stage[1].load_state_dict(r_stage[1].state_dict())
        _copy_conv(ref.head, model.head)
        if ref.learnable:
            model.sgt.logits.copy_(ref.logits[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="dgridconv", choices=VARIANTS)
    parser.add_argument("--steps", type=int, default=9)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ref, ours = ReferenceGridConv(args.name), MODEL_BUILDERS[args.name]()
    copy_into(ref, ours)
    x = torch.rand(args.batch, 17, 2) * 2 - 1
    ref.eval(), ours.eval()
    with torch.no_grad():
        err = (ref(x[:16]) - ours(x[:16])).abs().max().item()
    print(f"{args.name}: max |reference - ours| = {err:.2e} (eval mode, same weights)")
    ref.train(), ours.train()

    def step(model: nn.Module) -> float:
        model.zero_grad(set_to_none=True)
        start = time.perf_counter()
        model(x).square().mean().backward()
        return time.perf_counter() - start

    for _ in range(2):
        step(ref), step(ours)
    t_ref, t_ours = zip(*[(step(ref), step(ours)) for _ in range(args.steps)])
    ratio = statistics.median(r / o for r, o in zip(t_ref, t_ours))
    print(f"train step, batch {args.batch}, {args.threads} threads, median of {args.steps}:")
    print(f"  reference layout {args.batch / statistics.median(t_ref):8.1f} samples/s")
    print(f"  poselift_core    {args.batch / statistics.median(t_ours):8.1f} samples/s")
    print(f"  per-step ratio reference/ours {ratio:.2f}x")


if __name__ == "__main__":
    main()
