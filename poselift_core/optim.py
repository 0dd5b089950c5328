"""Losses, optimisers (incl. Ranger = RAdam + Lookahead) and learning-rate schedules of the recipes.

The schedule is a pure function of (epoch, step), like nanoGPT's ``get_lr(it)``: the trainer sets the rate
before every step, so resuming needs no scheduler object. Explained on the book's
page "Using the library from the command line" (section "Recipes").
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch
import torch.nn.functional as F

from .metrics import mpjpe
from .recipes import Recipe


# ------------------------------------------------------------------------------------------ losses
def pose_loss(kind: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Training loss between predicted and target poses ``(..., J, 3)`` in metres (a scalar).

    ``mse``: mean squared error over all coordinates; ``mse_l1``: ``0.9·MSE + 0.1·L1`` (Any-GCN, ModGCN-GT);
    ``mpjpe``: mean Euclidean joint distance, :func:`~poselift_core.metrics.mpjpe` (GLA-GCN);
    ``mpjpe_l1``: ``0.99·MPJPE + 0.01·L1`` (ModGCN-benchmark);
    ``grid_mse``: MSE on whatever tensors are given (the trainer passes GridConv's 5×5 grids).
    """
    if kind in ("mse", "grid_mse"):
        return F.mse_loss(pred, target)
    if kind == "mse_l1":
        return 0.9 * F.mse_loss(pred, target) + 0.1 * F.l1_loss(pred, target)
    # per-pose errors averaged in the input's dtype: reduction="mean" would accumulate in float64, which a
    # training step does not need (and MPS lacks); every pose has J joints, so this is the mean over all joints
    error = mpjpe(pred, target, reduction="none").mean()
    if kind == "mpjpe":
        return error
    if kind == "mpjpe_l1":
        return 0.99 * error + 0.01 * F.l1_loss(pred, target)
    raise ValueError(f"unknown loss {kind!r}")


# ------------------------------------------------------------------------------------------ optimisers
class Lookahead:
    """Lookahead (Zhang et al., NeurIPS 2019) around any optimiser: every ``k`` fast steps, move the slow
    weights ``φ ← φ + α(θ − φ)`` and reset the fast weights ``θ ← φ``.

    Ranger = Lookahead(RAdam), α = 0.5, k = 6 in GLA-GCN (``bruceyo/GLA-GCN``). ``param_groups`` is the inner
    optimiser's, so setting ``group["lr"]`` works as usual; ``state_dict`` holds the inner state, the slow
    weights and the step counter, so a resumed run continues exactly.
    """

    def __init__(self, inner: torch.optim.Optimizer, alpha: float = 0.5, k: int = 6) -> None:
        if not 0.0 <= alpha <= 1.0 or k < 1:
            raise ValueError(f"Lookahead needs 0 <= alpha <= 1 and k >= 1, got alpha={alpha}, k={k}")
        self.inner, self.alpha, self.k = inner, alpha, k
        self.fast_steps = 0
        self.slow = [[p.detach().clone() for p in g["params"]] for g in inner.param_groups]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.inner.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        self.inner.step()
        self.fast_steps += 1
        if self.fast_steps % self.k == 0:
            for group, slow in zip(self.inner.param_groups, self.slow):
                fast = list(group["params"])
                torch._foreach_lerp_(slow, fast, self.alpha)  # φ ← φ + α(θ − φ)
                torch._foreach_copy_(fast, slow)              # θ ← φ

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "slow": self.slow, "fast_steps": self.fast_steps,
                "alpha": self.alpha, "k": self.k}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self.fast_steps = state["fast_steps"]
        for mine, saved in zip(self.slow, state["slow"]):
            for m, s in zip(mine, saved):
                m.copy_(s)


def build_optimizer(recipe: Recipe, params: Iterable[torch.nn.Parameter]) -> "torch.optim.Optimizer | Lookahead":
    """The recipe's optimiser over ``params``: ``adam``, ``amsgrad`` (Adam with AMSGrad), ``adamw`` (weight decay
    1e-3 unless the recipe sets one: Any-GCN's option), ``ranger`` or ``sgd`` (momentum 0.9; not used by the
    papers, handy where Adam's per-parameter normalisation would magnify rounding noise, e.g. comparing runs)."""
    params = list(params)
    # one fused kernel per step instead of a few per parameter tensor; CUDA only
    fused = {"fused": True} if params and all(p.is_cuda for p in params) else {}
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=0.9, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay, **fused)
    if recipe.optimizer == "amsgrad":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay, amsgrad=True, **fused)
    if recipe.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay or 1e-3, **fused)
    if recipe.optimizer == "ranger":
        radam = torch.optim.RAdam(params, lr=recipe.lr, betas=(0.95, 0.999), eps=1e-5,
                                  weight_decay=recipe.weight_decay)
        return Lookahead(radam, alpha=0.5, k=6)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


# ------------------------------------------------------------------------------------------ schedules
def lr_at(recipe: Recipe, epoch: int, step: int) -> float:
    """Learning rate for the optimiser step taken at 0-based ``epoch`` and global ``step`` (formulas in
    :class:`~poselift_core.recipes.Recipe`)."""
    lr0 = recipe.lr
    if recipe.schedule == "constant":
        return lr0
    if recipe.schedule == "exp_staircase":
        return lr0 * recipe.decay ** (step // recipe.decay_every)
    if recipe.schedule == "step_epochs":
        return lr0 * recipe.decay ** (epoch // recipe.decay_every)
    if recipe.schedule == "cosine":
        return recipe.eta_min + (lr0 - recipe.eta_min) * (1 + math.cos(math.pi * epoch / recipe.epochs)) / 2
    if recipe.schedule == "gridconv_step":
        return lr0 * recipe.decay ** math.ceil(epoch / recipe.decay_every)
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


def set_lr(optimizer: "torch.optim.Optimizer | Lookahead", lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
