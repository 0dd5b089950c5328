"""The trainer: one recipe, one split of whole-dataset tensors on the device, index batches, no DataLoader.

Read top-down: :class:`RunConfig` (paths and hardware; the data come from
:func:`poselift_core.sources.load_data`), :class:`Trainer` (model, optimiser, the loop, checkpoints,
results) and :func:`train`, the one-call entry point used by notebooks and the CLI::

    from poselift_core.recipes import get_recipe
    from poselift_core.train import RunConfig, train
    results = train(RunConfig(get_recipe("gcn-vanilla-gt", profile="quick"), data="sample", out="runs/vanilla"))

A run is deterministic for a given seed on a given device (torch, NumPy and Python RNGs seeded; batch order
from an explicit ``torch.Generator``), and ``resume=True`` continues a killed run from ``out/checkpoint.pt`` to
the same weights an uninterrupted run reaches (every RNG state and the epoch's batch order are restored, also
mid-epoch with ``checkpoint_every``). Under ``torchrun`` it trains with DistributedDataParallel: every rank
draws the same global batch and takes its own slice. Explained in the book, chapter 6 ("Training").
"""
from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from . import __version__
from .batching import PoseTensors, iterate_minibatches, make_batch, num_batches
from .checkpoint import (FORMAT_VERSION, CheckpointError, capture_rng, model_config_dict, read_checkpoint,
                         restore_rng, save_checkpoint, seed_everything)
from .distributed import DistInfo, barrier, convert_sync_batchnorm, init_from_env, shutdown
from .evaluate import evaluate, results_markdown
from .optim import build_optimizer, lr_at, pose_loss, set_lr
from .recipes import Recipe
from .sources import DATA_SOURCES, load_data


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is left untouched."""


@dataclass
class RunConfig:
    """Where and how to run a :class:`~poselift_core.recipes.Recipe`.

    ``data``: ``"sample"`` (bundled, or ``data_dir``), ``"h36m"`` / ``"humaneva"`` (VideoPose3D files in
    ``data_dir``) or ``"cmu"`` (ASF/AMC/BVH files in ``data_dir``, converted once into
    ``data_dir/.poselift_cache``). ``out``: folder for ``checkpoint.pt``, ``results.json``, ``results.md``
    (``None``: write nothing). ``checkpoint_every``: also checkpoint every N steps inside an epoch.
    """

    recipe: Recipe
    data: str = "sample"
    data_dir: str | None = None
    out: str | None = None
    device: str = "auto"
    amp: str | None = None                 # None | "bf16"
    compile: bool = False
    resume: bool = False
    checkpoint_every: int = 0
    train_subjects: tuple[str, ...] | None = None
    test_subjects: tuple[str, ...] | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.data not in DATA_SOURCES:
            raise ValueError(f"unknown data {self.data!r}; use one of {DATA_SOURCES}")
        if self.amp not in (None, "bf16"):
            raise ValueError(f"unknown amp {self.amp!r}; use None or 'bf16'")
        if self.resume and self.out is None:
            raise ValueError("resume=True needs an output folder (out=...) holding checkpoint.pt")


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → CUDA if available, else Apple MPS, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch.cuda.is_available() is False")
    return device


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameter numbers in glibc's malloc.h


def keep_freed_cpu_memory() -> bool:
    """Make glibc's ``malloc`` keep freed memory for reuse instead of handing it back to the kernel.

    PyTorch allocates every CPU activation and gradient with plain ``malloc``. glibc serves large blocks
    (from 128 kB, and always from 32 MB) with ``mmap`` and unmaps them on ``free``, and trims the heap top, so
    every training step faults in fresh zeroed pages: measured 3,985 page faults per step for the vanilla GCN
    (batch 256; about 11% of its step time) and 843k for 27-frame GLA-GCN (the step was 1.35x slower). With
    ``mmap`` off and the trim threshold at its maximum, freed blocks stay in the heap and the next step reuses
    them: after the first step the process keeps its peak memory, as the CUDA caching allocator does on a GPU.

    Called by :class:`Trainer` on CPU runs and by the benchmarks; ``POSELIFT_KEEP_CPU_MEMORY=0`` turns it off.
    Returns whether the setting was applied (``False`` off Linux/glibc or when turned off).
    """
    if os.environ.get("POSELIFT_KEEP_CPU_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1)) and bool(mallopt(_M_MMAP_MAX, 0))


# ------------------------------------------------------------------------------------------ the model step
class LossStep(nn.Module):
    """``(x2d, y3d) → scalar loss``: the forward pass and the recipe's loss as one module, so DDP (which
    synchronises gradients only for its own ``forward``) and ``torch.compile`` see the whole step, including
    GridConv's grid-space loss."""

    def __init__(self, model: nn.Module, loss: str) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, x2d: torch.Tensor, y3d: torch.Tensor) -> torch.Tensor:
        if self.loss == "grid_mse":
            pred, target = self.model.forward_grid(x2d), self.model.target_grid(y3d)   # (B, 3, 5, 5)
        else:
            pred, target = self.model(x2d), y3d                                        # (B, [1,] J, 3)
            if pred.ndim == 4:                      # temporal models predict the centre frame, (B, 1, J, 3)
                pred = pred[:, pred.shape[1] // 2]
        return pose_loss(self.loss, pred.float(), target.float())


# ------------------------------------------------------------------------------------------ the trainer
class Trainer:
    """Builds everything a run needs; :meth:`fit` trains, evaluates every epoch, checkpoints and reports.

    ``train_set`` / ``test_set`` may be passed in (notebooks, tests); otherwise :func:`load_data` reads them.
    """

    def __init__(self, run: RunConfig, train_set: PoseTensors | None = None,
                 test_set: PoseTensors | None = None, data_info: dict | None = None) -> None:
        from .models import build_model

        self.run, self.recipe = run, run.recipe
        device = resolve_device(run.device)
        self.dist: DistInfo = init_from_env(device.type)
        if self.dist.enabled and device.type == "cuda":
            device = torch.device("cuda", self.dist.local_rank)
        self.device = device
        if device.type == "cpu":
            keep_freed_cpu_memory()
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True   # as nanoGPT: TF32 matmuls, ~free accuracy-wise
            torch.backends.cudnn.allow_tf32 = True
        seed_everything(self.recipe.seed)

        if train_set is None or test_set is None:
            train_set, test_set, data_info = load_data(run.recipe, run.data, run.data_dir, device,
                                                       run.train_subjects, run.test_subjects)
        self.train_set, self.test_set = train_set.to(device), test_set.to(device)
        self.data_info = data_info or {"source": "tensors", "train_frames": train_set.num_frames,
                                       "test_frames": test_set.num_frames, "joints": train_set.skeleton.num_joints,
                                       "skeleton": train_set.skeleton.name}

        model = build_model(self.recipe.model, skeleton=train_set.skeleton, **self.recipe.model_overrides)
        self.model = model.to(device)                    # the plain module: hooks, evaluation, checkpoints
        self.receptive_field = int(getattr(model, "receptive_field", 1))
        if self.recipe.loss == "grid_mse" and not getattr(model, "loss_on_grid", False):
            raise ValueError(f"recipe {self.recipe.name!r}: loss 'grid_mse' needs a model with loss_on_grid=True, "
                             f"{self.recipe.model!r} has none")
        step: nn.Module = LossStep(self.model, self.recipe.loss)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP
            # per-rank BatchNorm statistics would make the run differ from the single-process one
            convert_sync_batchnorm(self.model, device.type)
            step = DDP(step, device_ids=[device.index] if device.type == "cuda" else None)
        self.step_fn = torch.compile(step) if run.compile else step
        self.optimizer = build_optimizer(self.recipe, self.model.parameters())
        self.generator = torch.Generator().manual_seed(self.recipe.seed)   # batch order only

        # progress counters (all saved in checkpoints)
        self.epoch = 0                 # completed epochs
        self.step = 0                  # optimiser steps taken
        self.batch_in_epoch = 0        # > 0 only when resuming mid-epoch
        self.epoch_gen_state: torch.Tensor | None = None
        self.epoch_loss = [0.0, 0]     # running (sum, count) of the current epoch's losses
        self.history: list[dict[str, Any]] = []
        self.train_time_s = 0.0        # wall time of the epochs, evaluation included
        self.loop_time_s = 0.0         # wall time of the optimiser steps alone (throughput)
        self.last_eval: dict[str, Any] | None = None
        if run.resume:
            self.load_checkpoint(self.checkpoint_path)
        elif self.dist.enabled:
            torch.manual_seed(self.recipe.seed + 7919 * self.dist.rank)  # distinct dropout masks per rank

    # ---------------------------------------------------------------------------------- paths, logging
    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.run.out is None else Path(self.run.out) / "checkpoint.pt"

    def log(self, msg: str) -> None:
        if self.run.progress and self.dist.is_main:
            from tqdm.auto import tqdm
            tqdm.write(msg)

    # ---------------------------------------------------------------------------------- the loop
    def fit(self) -> dict[str, Any]:
        """Train the remaining epochs, evaluating and checkpointing after each; return the results dict."""
        r = self.recipe
        for epoch in range(self.epoch, r.epochs):
            t0 = time.perf_counter()
            loss = self.train_epoch(epoch)
            scored = (epoch + 1) % r.eval_every == 0 or epoch + 1 == r.epochs
            ev = self.evaluate() if scored else {"mpjpe": None, "p_mpjpe": None}
            self.epoch, self.batch_in_epoch, self.epoch_loss = epoch + 1, 0, [0.0, 0]
            self.train_time_s += time.perf_counter() - t0
            self.history.append({"epoch": epoch + 1, "step": self.step, "loss": loss,
                                 "lr": lr_at(r, epoch, max(self.step - 1, 0)), "mpjpe": ev["mpjpe"],
                                 "p_mpjpe": ev["p_mpjpe"], "time_s": self.train_time_s})
            score = f"MPJPE {ev['mpjpe']:.2f} mm  P-MPJPE {ev['p_mpjpe']:.2f} mm  " if scored else ""
            self.log(f"epoch {epoch + 1}/{r.epochs}  loss {loss:.5f}  {score}({self.train_time_s:.1f} s)")
            self.save_checkpoint()
        if self.last_eval is None:          # resumed a finished run: evaluate the restored weights
            self.evaluate()
        results = self.results()
        self.write_results(results)
        return results

    def train_epoch(self, epoch: int) -> float:
        """One epoch (or ``max_steps_per_epoch`` steps) over the training frames, flipped copies included."""
        r, ts = self.recipe, self.train_set
        n_items = ts.num_frames * (2 if r.flip_aug else 1)      # index >= F means "flipped" (make_batch)
        n_batches = num_batches(n_items, r.batch_size)
        if r.max_steps_per_epoch:
            n_batches = min(n_batches, r.max_steps_per_epoch)
        start = self.batch_in_epoch
        if start > 0:          # resuming mid-epoch: replay this epoch's permutation
            self.generator.set_state(self.epoch_gen_state)
        self.epoch_gen_state = self.generator.get_state()
        batches = iterate_minibatches(n_items, r.batch_size, shuffle=True, generator=self.generator,
                                      device=self.device, start_batch=start)
        self.model.train()
        from tqdm.auto import tqdm
        bar = tqdm(total=n_batches, initial=start, desc=f"epoch {epoch + 1}/{r.epochs}", leave=False,
                   disable=not (self.run.progress and self.dist.is_main), dynamic_ncols=True)
        check_every = 1 if self.device.type == "cpu" else 25    # a host sync per step costs GPU throughput
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)   # this rank's share of the losses
        seen = 0
        t_loop = time.perf_counter()
        for k in range(start, n_batches):
            idx = next(batches)
            loss_sum += self.train_step(idx, epoch + k / n_batches).detach().double()
            seen += 1
            due = self._checkpoint_due()
            if seen % check_every == 0 or k == n_batches - 1 or due:
                running = self._global_loss(loss_sum)                 # same points on every rank
                self._check_finite(running, epoch, k)
                bar.set_postfix(loss=f"{(self.epoch_loss[0] + running) / (self.epoch_loss[1] + seen):.5f}",
                                lr=f"{lr_at(r, epoch, self.step - 1):.2e}", refresh=False)
            bar.update(1)
            if due:
                self.epoch_loss = [self.epoch_loss[0] + running, self.epoch_loss[1] + seen]
                loss_sum.zero_()
                seen = 0
                self.batch_in_epoch = k + 1
                self.save_checkpoint()
        bar.close()
        self.loop_time_s += time.perf_counter() - t_loop
        total = self.epoch_loss[0] + (self._global_loss(loss_sum) if seen else 0.0)
        return total / max(self.epoch_loss[1] + seen, 1)

    def _global_loss(self, local: torch.Tensor) -> float:
        """Mean of the ranks' weighted losses = the loss of the global batch (identity in one process)."""
        if self.dist.enabled:
            local = local.clone()
            torch.distributed.all_reduce(local)
            local /= self.dist.world_size
        return local.item()

    def train_step(self, idx: torch.Tensor, epoch_progress: float) -> torch.Tensor:
        """One optimiser step on the global index batch ``idx`` (this rank uses its slice).

        Returns this rank's weighted loss: averaged over ranks it is the loss of the global batch.
        """
        r = self.recipe
        n_global = idx.numel()
        if self.dist.enabled:
            idx = idx.tensor_split(self.dist.world_size)[self.dist.rank]
        hook = getattr(self.model, "on_train_step", None)
        if hook is not None:
            hook(epoch_progress, r.epochs)
        set_lr(self.optimizer, lr_at(r, int(epoch_progress), self.step))
        x2d, y3d = make_batch(self.train_set, idx, self.receptive_field)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.run.amp == "bf16"):
            loss = self.step_fn(x2d, y3d)
        # DDP averages gradients over ranks: weight each rank by its share so uneven slices give the global mean
        scale = idx.numel() * self.dist.world_size / n_global if self.dist.enabled else 1.0
        self.optimizer.zero_grad(set_to_none=True)
        (loss * scale).backward()
        if r.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), r.grad_clip)
        self.optimizer.step()
        self.step += 1
        return loss * scale

    def _checkpoint_due(self) -> bool:
        n = self.run.checkpoint_every
        return bool(n) and self.step % n == 0 and self.checkpoint_path is not None

    def _check_finite(self, loss_sum: float, epoch: int, k: int) -> None:
        if not math.isfinite(loss_sum):
            kept = self.checkpoint_path if self.checkpoint_path and self.checkpoint_path.exists() else None
            raise NonFiniteLossError(
                f"training loss became non-finite ({loss_sum}) in epoch {epoch + 1}, by step {self.step} "
                f"(batch {k + 1}); "
                + (f"the last good checkpoint {kept} was kept" if kept else "no checkpoint written")
                + ". Try a lower learning rate, gradient clipping or amp=None.")

    # ---------------------------------------------------------------------------------- evaluation, results
    def evaluate(self) -> dict[str, Any]:
        """Test-split scores (see :func:`poselift_core.evaluate.evaluate`); rank 0 only under DDP."""
        r = self.recipe
        if not self.dist.is_main:
            self.last_eval = {"mpjpe": float("nan"), "p_mpjpe": float("nan")}
            return self.last_eval
        self.last_eval = evaluate(self.model, self.test_set, tta=r.tta, batch_size=r.eval_batch_size,
                                  max_frames=r.eval_max_frames)
        return self.last_eval

    def results(self) -> dict[str, Any]:
        from .models import count_parameters
        from .runs import mean_pose_baseline

        ev = self.last_eval or {}
        r = self.recipe
        # the trivial predictor on the same test frames: a model that does not beat it learnt nothing from 2D
        baseline = {}
        if self.dist.is_main and ev:
            base = mean_pose_baseline(self.train_set, self.test_set, max_frames=r.eval_max_frames)
            baseline = {"baseline_mean_pose": {"mpjpe": base["mpjpe"], "p_mpjpe": base["p_mpjpe"]}}
        return {
            "recipe": r.name, "profile": r.profile, "model": r.model, "model_config": model_config_dict(self.model),
            "parameters": count_parameters(self.model), "seed": r.seed, "epochs": self.epoch, "steps": self.step,
            "data": self.data_info, **ev, **baseline, "history": self.history, "train_time_s": round(self.train_time_s, 3),
            "train_samples_per_s": round(self.step * r.batch_size / self.loop_time_s, 1) if self.loop_time_s else None,
            "git_commit": git_commit(), "poselift_version": __version__, "device": str(self.device),
            "amp": self.run.amp, "compile": self.run.compile, "world_size": self.dist.world_size,
            "recipe_config": dataclasses.asdict(r),
            "checkpoint": str(self.checkpoint_path) if self.checkpoint_path else None,
        }

    def write_results(self, results: dict[str, Any]) -> None:
        if self.run.out is None or not self.dist.is_main:
            return
        out = Path(self.run.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        (out / "results.md").write_text(results_markdown(results))

    # ---------------------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        rng = capture_rng()
        rng["batch_generator"] = self.generator.get_state()
        rng["epoch_generator"] = self.epoch_gen_state
        return {
            "format_version": FORMAT_VERSION, "poselift_version": __version__,
            "model_name": self.recipe.model, "model_config": model_config_dict(self.model),
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": {"schedule": self.recipe.schedule, "lr": self.optimizer.param_groups[0]["lr"]},
            "epoch": self.epoch, "step": self.step, "batch_in_epoch": self.batch_in_epoch,
            "epoch_loss": list(self.epoch_loss), "rng": rng, "history": self.history,
            "train_time_s": self.train_time_s, "loop_time_s": self.loop_time_s,
            "recipe": dataclasses.asdict(self.recipe),
            "run_config": {k: v for k, v in dataclasses.asdict(self.run).items() if k != "recipe"},
            "data": self.data_info,
        }

    def save_checkpoint(self) -> Path | None:
        """Write ``out/checkpoint.pt`` atomically (rank 0); refuses to save non-finite weights."""
        path = self.checkpoint_path
        if path is None:
            return None
        # every rank checks (the weights are identical), so no rank is left waiting in the barrier
        bad = [n for n, p in self.model.state_dict().items() if p.is_floating_point() and not torch.isfinite(p).all()]
        if bad:
            raise NonFiniteLossError(f"refusing to overwrite {path}: non-finite values in {bad[:5]}")
        if self.dist.is_main:
            save_checkpoint(self.state_dict(), path)
        barrier()          # other ranks wait, so none runs ahead of the file
        return path

    def load_checkpoint(self, path: Path | None) -> None:
        """Restore a run from ``path`` (model, optimiser, counters, every RNG state)."""
        ckpt = read_checkpoint(path, map_location="cpu")   # RNG states must stay CPU tensors
        if ckpt["model_name"] != self.recipe.model:
            raise CheckpointError(f"checkpoint {path} holds model {ckpt['model_name']!r}, but recipe "
                                  f"{self.recipe.name!r} trains {self.recipe.model!r}")
        mine = model_config_dict(self.model)
        same = json.dumps(ckpt["model_config"], sort_keys=True, default=str) == json.dumps(mine, sort_keys=True,
                                                                                            default=str)
        if not same:
            raise CheckpointError(f"checkpoint {path}: model config {ckpt['model_config']} differs from this "
                                  f"run's {mine}")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.epoch, self.step, self.batch_in_epoch = ckpt["epoch"], ckpt["step"], ckpt["batch_in_epoch"]
        self.epoch_loss = list(ckpt["epoch_loss"])
        self.history, self.train_time_s = list(ckpt["history"]), float(ckpt["train_time_s"])
        self.loop_time_s = float(ckpt.get("loop_time_s", 0.0))
        rng = ckpt["rng"]
        restore_rng(rng)
        self.generator.set_state(rng["batch_generator"])
        self.epoch_gen_state = rng["epoch_generator"]


def git_commit() -> str | None:
    """``git rev-parse HEAD`` of the repository holding this package, or ``None``."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def train(run: RunConfig, train_set: PoseTensors | None = None, test_set: PoseTensors | None = None) -> dict[str, Any]:
    """Train ``run.recipe`` and return the results dict (also written to ``run.out`` when set).

    Under ``torchrun`` the process group is created here and destroyed at the end, also after an error.
    """
    try:
        return Trainer(run, train_set, test_set).fit()
    finally:
        shutdown()
