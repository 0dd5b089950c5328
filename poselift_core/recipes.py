"""Training recipes: the papers' settings as data, one named :class:`Recipe` per published model.

A recipe says *what* to train (model and overrides, which 2D keypoints and joints, optimiser, schedule,
loss, augmentation); :class:`~poselift_core.train.RunConfig` says *where* (data folder, output folder,
device). Every value comes from the released code of the paper (`tamasino52/Any-GCN`, `garyzhao/SemGCN`,
`ZhimingZo/Modulated-GCN`, `bruceyo/GLA-GCN`, `OSVAI/GridConv`) and the comment beside a recipe says which
script it follows. Two profiles:

- ``"full"``: the paper recipe, unchanged (GPU-scale: 1.56M Human3.6M poses per epoch).
- ``"quick"``: the same model, optimiser and loss for a few hundred steps with a small batch, so that a CPU
  finishes in minutes on the bundled sample (the smoke test of the book and CI). Step-based decays
  (25k/100k steps) do not trigger in so few steps; that is intended: quick checks the pipeline, not accuracy.
  It also logs the training loss every few steps and scores a few hundred test frames a few times per epoch
  (``log_every``, ``eval_every_steps``), so that its training curves show a trend rather than two points.

Explained on the book's page "Using the library from the command line" (section "Recipes").
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .augmentation import ViewAugmentation
from .config import check_config, check_keys
from .models.gcn import GCN_VARIANTS

PROFILES = ("quick", "full")
OPTIMIZERS = ("adam", "amsgrad", "adamw", "ranger", "sgd")
SCHEDULES = ("constant", "exp_staircase", "step_epochs", "cosine", "gridconv_step")
LOSSES = ("mse", "mse_l1", "mpjpe", "mpjpe_l1", "grid_mse")


@dataclass
class Recipe:
    """Everything that defines a training run apart from paths and hardware.

    Schedules (``lr₀`` = ``lr``; ``e`` = 0-based epoch, ``s`` = global step):

    - ``exp_staircase``: ``lr₀ · decay^⌊s / decay_every⌋`` per iteration (SemGCN family);
    - ``step_epochs``: ``lr₀ · decay^⌊e / decay_every⌋`` (ModGCN-benchmark: ×0.9 every 4 epochs);
    - ``cosine``: ``η_min + (lr₀ − η_min)(1 + cos(π e / epochs)) / 2`` per epoch (GLA-GCN);
    - ``gridconv_step``: ``lr₀ · decay^⌈e / decay_every⌉`` — GridConv steps its ``StepLR(γ)`` after every epoch
      whose 0-based index is a multiple of ``decay_every`` (`OSVAI/GridConv`, src/main.py).

    Losses: ``mse``; ``mse_l1`` = 0.9·MSE + 0.1·L1; ``mpjpe``; ``mpjpe_l1`` = 0.99·MPJPE + 0.01·L1;
    ``grid_mse`` = MSE between ``model.forward_grid(x)`` and ``model.target_grid(y)`` (handcrafted GridConv).
    """

    name: str
    model: str
    model_overrides: dict[str, Any] = field(default_factory=dict)
    # data
    dataset: str = "h36m"                 # benchmark the recipe was written for: "h36m" | "humaneva"
    keypoints: str = "gt"                 # 2D source: "gt", "cpn_ft_h36m_dbb", "hrnet", ...
    joints: int = 17                      # 16 for the SemGCN family on GT 2D (Nose removed), 15 HumanEva
    actions: tuple[str, ...] | None = None  # canonical actions to train and test on (None = all)
    exclude_drift: bool = False           # drop the 12 S9 drift sequences from the test set (detected 2D)
    # optimisation
    batch_size: int = 256
    epochs: int = 50
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "exp_staircase"
    decay: float = 0.96
    decay_every: int = 25_000             # steps for exp_staircase, epochs for step_epochs / gridconv_step
    eta_min: float = 0.0
    loss: str = "mse_l1"
    grad_clip: float | None = 1.0         # max global L2 norm; None = no clipping
    flip_aug: bool = False                # VideoPose3D doubling: every sample also appears mirrored
    random_move: bool = False             # GLA-GCN's released target-only perturbation (label noise), off by default
    augment: dict[str, Any] = field(default_factory=dict)  # ViewAugmentation ranges (single-frame models); {}: off
    tta: bool = False                     # test-time flip averaging
    seed: int = 0
    # budget (the quick profile sets these)
    max_steps_per_epoch: int | None = None
    eval_every: int = 1                   # evaluate after every N-th epoch (and always after the last)
    eval_batch_size: int = 4096
    eval_max_frames: int | None = None    # evaluate every k-th test frame so at most this many are scored
    # curves inside an epoch (the quick profile sets these, so that a two-epoch run still shows a trend)
    log_every: int = 0                    # record the mean training loss of every N optimiser steps (0: off)
    eval_every_steps: int = 0             # also score the test split every N steps (0: only after epochs)
    eval_steps_max_frames: int | None = None  # frames those in-epoch evaluations score (None: eval_max_frames)
    profile: str = "full"
    notes: str = ""

    def __post_init__(self) -> None:
        at_least_one = (1, None)
        check_config(self, f"recipe {self.name!r}",
                     choices={"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "loss": LOSSES, "profile": PROFILES},
                     ranges={"batch_size": at_least_one, "epochs": at_least_one, "decay_every": at_least_one,
                             "eval_every": at_least_one, "eval_batch_size": at_least_one,
                             "log_every": (0, None), "eval_every_steps": (0, None),  # 0: off
                             "eval_steps_max_frames": at_least_one})
        if self.actions is not None:
            self.actions = tuple(self.actions)
        if self.augment:
            check_keys(ViewAugmentation, self.augment, f"recipe {self.name!r}: augment")
            ViewAugmentation(**self.augment)     # ranges checked now, not at the first training step

    def replace(self, **overrides: Any) -> "Recipe":
        """A copy with some fields changed; unknown keys and wrong types raise ``ValueError`` naming them."""
        check_keys(Recipe, overrides, f"recipe {self.name!r}")
        return dataclasses.replace(self, **overrides)


# --------------------------------------------------------------------------------------- the recipes
# Any-GCN main_gcn.py (`tamasino52/Any-GCN`): Liu et al.'s own recipe could not be checked; Any-GCN's coded one is the
# closest and decays as often as the same-lab ModGCN-GT script (≈12 times in 50 epochs, final lr ≈ 0.61e-3).
_ANYGCN = dict(dataset="h36m", keypoints="gt", joints=16, batch_size=256, epochs=50, optimizer="adam", lr=1e-3,
               schedule="exp_staircase", decay=0.96, decay_every=25_000, loss="mse_l1", grad_clip=1.0)
# ModGCN-GT main_gcn.py: SemGCN defaults with 50 epochs and the 0.9·MSE + 0.1·L1 loss.
_MODGCN_GT = dict(_ANYGCN, batch_size=64, decay_every=100_000)
# SemGCN main_gcn.py: batch 64, 100k-step decay, plain MSE; 50 epochs as in its README results table.
_SEMGCN = dict(_ANYGCN, batch_size=64, decay_every=100_000, loss="mse")
# GLA-GCN run_s-agcn.py with the README's "train from scratch" flags -da -tta (`bruceyo/GLA-GCN`).
_GLAGCN = dict(dataset="h36m", keypoints="gt", joints=17, batch_size=512, epochs=80, optimizer="ranger", lr=0.01,
               schedule="cosine", eta_min=1e-5, loss="mpjpe", grad_clip=None, flip_aug=True, tta=True,
               eval_batch_size=512)   # windows per forward pass: 512 x 243 frames of activations fit a GPU
# GridConv src/main.py after the Dec-2023 lr-decay fix; README models trained 100 epochs (`OSVAI/GridConv`).
_GRIDCONV = dict(dataset="h36m", keypoints="gt", joints=17, batch_size=200, epochs=100, optimizer="adam", lr=1e-3,
                 schedule="gridconv_step", decay=0.96, decay_every=10, loss="grid_mse", grad_clip=None,
                 eval_batch_size=1000)


def _gcn_model(variant: str) -> str:
    return variant  # the GCN registry names models by their layer variant


def _full_recipes() -> dict[str, Recipe]:
    r: dict[str, Recipe] = {}
    for v in GCN_VARIANTS:
        base = _SEMGCN if v == "semgcn" else _MODGCN_GT if v == "modulated" else _ANYGCN
        src = {"semgcn": "SemGCN main_gcn.py", "modulated": "ModGCN-GT main_gcn.py"}.get(v, "Any-GCN main_gcn.py")
        r[f"gcn-{v}-gt"] = Recipe(name=f"gcn-{v}-gt", model=_gcn_model(v), notes=f"{src}, GT 2D, 16 joints", **base)
    # Any-GCN packages the modulated layer with its generic settings: the row-normalised adjacency D^-1(A+I),
    # batch 256, decay every 25k steps, 0.9 MSE + 0.1 L1 (Zou & Tang's own GT script, gcn-modulated-gt, uses the
    # diag1 adjacency and batch 64).
    r["gcn-modulated-anygcn-gt"] = Recipe(name="gcn-modulated-anygcn-gt", model=_gcn_model("modulated"),
                                          model_overrides={"adjacency": "row"},
                                          notes="Any-GCN main_gcn.py configuration of the modulated GCN: row-normalised "
                                                "adjacency, batch 256, GT 2D, 16 joints", **_ANYGCN)
    r["gcn-modulated-cpn"] = Recipe(
        name="gcn-modulated-cpn", model=_gcn_model("modulated"),
        model_overrides={"hidden": 384, "dropout": 0.2, "modulation_init": "xavier",
                         "gaussian_non_local": True},
        dataset="h36m", keypoints="cpn_ft_h36m_dbb", joints=17, batch_size=256, epochs=30,
        optimizer="amsgrad", lr=5e-3, schedule="step_epochs", decay=0.9, decay_every=4,
        loss="mpjpe_l1", grad_clip=None, flip_aug=True, tta=True,
        notes="ModGCN-benchmark main_graph.py + opt1.py (without the post-refine stage)")
    for rf, kp in ((243, "gt"), (243, "cpn_ft_h36m_dbb"), (27, "gt")):
        tag = "gt" if kp == "gt" else "cpn"
        name = f"glagcn-h36m-{tag}-{rf}"
        r[name] = Recipe(name=name, model="glagcn", model_overrides={"receptive_field": rf},
                         **dict(_GLAGCN, keypoints=kp), notes="GLA-GCN run_s-agcn.py -da -tta")
    r["glagcn-humaneva-gt-27"] = Recipe(
        name="glagcn-humaneva-gt-27", model="glagcn", model_overrides={"receptive_field": 27},
        **dict(_GLAGCN, dataset="humaneva", joints=15, batch_size=1024, actions=("Walking", "Jog", "Box")),
        notes="GLA-GCN README HumanEva-I command (-arc 3,3,3, batch 1024, Walk/Jog/Box, -da -tta); "
              "epochs: the script default 80")
    r["gridconv-gt"] = Recipe(name="gridconv-gt", model="dgridconv", model_overrides={"padding": ("c", "r")},
                              **_GRIDCONV, notes="GridConv D-GridConv, handcrafted SGT, pads (c,r), GT 2D")
    r["gridconv-static-gt"] = Recipe(name="gridconv-static-gt", model="gridconv", **_GRIDCONV,
                                     notes="static GridConv (both branches padded by 1), handcrafted SGT")
    r["gridconv-autogrids-gt"] = Recipe(name="gridconv-autogrids-gt", model="dgridconv_autogrids",
                                        **dict(_GRIDCONV, loss="mse"),
                                        notes="D-GridConv + learnable SGT; loss on the 17 joints")
    r["gridconv-hrnet"] = Recipe(name="gridconv-hrnet", model="dgridconv", model_overrides={"padding": ("c", "z")},
                                 **dict(_GRIDCONV, keypoints="hrnet", exclude_drift=True),
                                 notes="D-GridConv, handcrafted SGT, pads (c,z), HRNet 2D, S9 drift excluded")
    return r


# Quick profile: (batch size, steps per epoch, frames scored) per model family, two epochs, sized from measured
# CPU throughputs so that each recipe trains in about a minute on two cores and, on the open benchmark, ends clearly
# below the mean training pose. Temporal models and GridConv are scored once, after the last epoch (a 243-frame
# window costs about 100x a single-frame pose). GLA-GCN gets many small steps: RAdam's variance rectification keeps
# its first hundred or so steps small.
_QUICK_BUDGET = {"gcn": (64, 150, 2000), "gridconv": (64, 100, 2000),
                 "glagcn-27": (16, 300, 500), "glagcn-81": (4, 100, 300), "glagcn-243": (2, 50, 200)}
#: Curves of the quick profile: (log_every, eval_every_steps, eval_steps_max_frames) per family. The loss is
#: logged about 15 times per epoch (free: a CPU step reads its loss anyway); the in-epoch evaluations score a few
#: hundred frames (measured on two cores: 0.2 s for a GCN at 500 frames, 0.6 s for the quick GridConv and 2 s for
#: the quick 27-frame GLA-GCN with flip averaging at 200 frames), so they add a few seconds to a run. The 81- and
#: 243-frame models log the loss only: their windows cost 3x and 9x as much to evaluate.
_QUICK_CURVES = {"gcn": (10, 50, 500), "gridconv": (10, 25, 200), "glagcn-27": (20, 100, 200),
                 "glagcn-81": (10, 0, None), "glagcn-243": (5, 0, None)}
#: Widths the quick profile trains at (a quarter of GridConv's parameters, half of GLA-GCN's), so that a CPU gets
#: through enough steps; the chapters state it. The full profile keeps the papers' widths.
_QUICK_WIDTH = {"gridconv": {"hidden": 128}, "glagcn-27": {"channels": 48}}


def _quick(recipe: Recipe) -> Recipe:
    if recipe.model in GCN_VARIANTS:
        key = "gcn"
    elif recipe.model == "glagcn":
        key = f"glagcn-{recipe.model_overrides.get('receptive_field', 243)}"
    else:
        key = "gridconv"
    batch, steps, frames = _QUICK_BUDGET[key]
    log_every, eval_every_steps, eval_steps_frames = _QUICK_CURVES[key]
    return recipe.replace(batch_size=batch, epochs=2, max_steps_per_epoch=steps, eval_max_frames=frames,
                          log_every=log_every, eval_every_steps=eval_every_steps,
                          eval_steps_max_frames=eval_steps_frames,
                          eval_every=1 if key == "gcn" else 2,
                          eval_batch_size=256 if key.startswith("glagcn") else 1024,
                          model_overrides={**_QUICK_WIDTH.get(key, {}), **recipe.model_overrides},
                          profile="quick")


def list_recipes() -> list[str]:
    """Names accepted by :func:`get_recipe`."""
    return list(_full_recipes())


def get_recipe(name: str, profile: str = "full", **overrides: Any) -> Recipe:
    """The named recipe in the given profile, with ``overrides`` applied (validated) on top.

    ``model_overrides`` are merged into the recipe's own (``{"channels": 48}`` on ``glagcn-h36m-gt-27`` keeps its
    ``receptive_field=27``); to drop one of the recipe's keys, build the :class:`Recipe` by hand.
    Raises ``ValueError`` for an unknown name (listing the known ones), profile, key or value type.
    """
    recipes = _full_recipes()
    if name not in recipes:
        raise ValueError(f"unknown recipe {name!r}; available: {', '.join(recipes)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; use one of {PROFILES}")
    recipe = recipes[name]
    if profile == "quick":
        recipe = _quick(recipe)
    if isinstance(overrides.get("model_overrides"), dict):
        overrides["model_overrides"] = {**recipe.model_overrides, **overrides["model_overrides"]}
    return recipe.replace(**overrides) if overrides else recipe

