"""The trainer: one recipe, one split of whole-dataset tensors on the device, index batches, no DataLoader.

Read top-down: :class:`RunConfig` (paths and hardware; the data come from
:func:`poselift_core.sources.load_data`), :class:`Trainer` (model, optimiser, the loop, checkpoints,
results) and :func:`train`, the one-call entry point used by notebooks and the CLI::

    from poselift_core.recipes import get_recipe
    from poselift_core.train import RunConfig, train
    results = train(RunConfig(get_recipe("gcn-vanilla-gt", profile="quick"), data="sample", out="runs/vanilla"))

Determinism: the same seed, device and thread count (``torch.get_num_threads()``) give identical results,
bit for bit on a CPU (torch, NumPy and Python RNGs seeded; batch order from an explicit ``torch.Generator``); on
a GPU some CUDA kernels are nondeterministic unless ``torch.use_deterministic_algorithms(True)``. A different
thread count or DDP world size sums floating-point numbers in another order, so weights and scores differ after
training (measured on this project's runs: about 8 mm of MPJPE between thread counts, 2 mm between one and two
DDP processes). ``resume=True`` continues a killed run from ``out/checkpoint.pt`` to
the same weights an uninterrupted run reaches (every RNG state and the epoch's batch order are restored, also
mid-epoch with ``checkpoint_every``). Nothing is overwritten silently: a run into a folder that already holds
results or a checkpoint refuses unless ``overwrite=True``, and ``resume=True`` with settings that differ from
the checkpoint's refuses, naming every differing key, unless ``allow_changes=True`` (the change is recorded in
``results.json`` under ``resumes``). Every log line also goes to ``out/train.log``; what reaches the screen is
``RunConfig.progress``'s choice (a progress bar that is a widget in Jupyter and Colab, per-epoch lines). Besides one ``history``
entry per epoch, a recipe with ``log_every`` / ``eval_every_steps`` records the mean training loss of every N
steps and small in-epoch evaluations in ``step_history`` (plain numbers, kept in checkpoints and results).
Under ``torchrun`` it trains with DistributedDataParallel: every rank draws the same global batch and takes its own slice. Explained on the book's
page "Using the library from the command line" (section "Training").
"""
from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from . import __version__
from .augmentation import ViewAugmentation, augmented_batch
from .batching import PoseTensors, iterate_minibatches, make_batch, num_batches, random_move_targets
from .checkpoint import (FORMAT_VERSION, RESULT_FILES, CheckpointError, capture_rng, is_resumable,
                         model_config_dict, read_checkpoint, refuse_overwrite, restore_rng, save_checkpoint,
                         seed_everything, write_failed, write_text_atomic)
from .device import keep_freed_cpu_memory, resolve_device
from .distributed import DistInfo, barrier, convert_sync_batchnorm, init_from_env, shutdown
from .evaluate import evaluate, frames_description, mean_training_pose, results_markdown
from .optim import build_optimizer, lr_at, pose_loss, set_lr
from .recipes import Recipe
from .sources import DATA_SOURCES, load_data


#: progress="epochs": a run prints nothing before it has lasted this many seconds (the book's short runs stay
#: quiet), then every line, and one line per HEARTBEAT_S inside a long epoch.
QUIET_S = 10.0
HEARTBEAT_S = 60.0


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the last good checkpoint is left untouched."""


@dataclass
class RunConfig:
    """Where and how to run a :class:`~poselift_core.recipes.Recipe`.

    ``data``: ``"sample"`` (bundled, or ``data_dir``), ``"h36m"`` / ``"humaneva"`` (VideoPose3D files in
    ``data_dir``) or ``"cmu"`` (ASF/AMC/BVH files in ``data_dir``, converted once into
    ``data_dir/.poselift_cache``). ``out``: folder for ``checkpoint.pt``, ``results.json``, ``results.md``
    (``None``: write nothing). ``checkpoint_every``: also checkpoint every N steps inside an epoch.
    ``overwrite``: allow replacing the results and checkpoint already in ``out``. ``allow_changes``: let
    ``resume`` continue with settings that differ from the checkpoint's (recorded in the results).
    ``progress``: ``True`` draws a progress bar per epoch (``tqdm.auto``: a notebook bar in Jupyter and Colab, text
    in a terminal, redrawn every 30 s when stderr is a file) and prints every log line; ``"epochs"`` prints the log
    lines (one per epoch, flushed) without a bar once the run has lasted ``QUIET_S`` seconds, the lines held until
    then coming first, plus one line a minute inside a long epoch: short runs stay silent, long ones are never
    silent; ``False`` prints nothing. ``out/train.log`` gets every line in each case.
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
    progress: bool | str = True           # True | "epochs" | False
    overwrite: bool = False
    allow_changes: bool = False

    def __post_init__(self) -> None:
        if self.data not in DATA_SOURCES:
            raise ValueError(f"unknown data {self.data!r}; use one of {DATA_SOURCES}")
        if self.progress not in (True, False, "epochs"):
            raise ValueError(f"progress must be True, False or 'epochs', got {self.progress!r}")
        if self.amp not in (None, "bf16"):
            raise ValueError(f"unknown amp {self.amp!r}; use None or 'bf16'")
        if self.resume and self.out is None:
            raise ValueError("resume=True needs an output folder (out=...) holding checkpoint.pt")
        if isinstance(self.checkpoint_every, bool) or not isinstance(self.checkpoint_every, int) \
                or self.checkpoint_every < 0:
            raise ValueError(f"checkpoint_every must be an integer >= 0 (0: only after each epoch), "
                             f"got {self.checkpoint_every!r}")
        for key in ("train_subjects", "test_subjects"):
            value = getattr(self, key)
            if value is not None:
                if isinstance(value, str) or not len(value):
                    raise ValueError(f"{key} must be a non-empty sequence of subject names, got {value!r}")
                setattr(self, key, tuple(str(v) for v in value))
        if self.train_subjects and self.test_subjects:
            shared = sorted(set(self.train_subjects) & set(self.test_subjects))
            if shared:
                raise ValueError(f"train and test subjects overlap ({', '.join(shared)}): the test split must hold "
                                 "out subjects never seen in training")


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
        self._resume_from = check_output_folder(run)      # before any data is loaded: fail fast
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
            check_splits(data_info)
        self.train_set, self.test_set = train_set.to(device), test_set.to(device)
        self.data_info = data_info or {"source": "tensors", "train_frames": train_set.num_frames,
                                       "test_frames": test_set.num_frames, "joints": train_set.skeleton.num_joints,
                                       "skeleton": train_set.skeleton.name}

        model = build_model(self.recipe.model, skeleton=train_set.skeleton, **self.recipe.model_overrides)
        self.model = model.to(device)                    # the plain module: hooks, evaluation, checkpoints
        # the trivial baseline of every evaluation; stored in the checkpoint so `evaluate` can score it later
        self.mean_pose = mean_training_pose(self.train_set)                   # (J, 3) metres
        self.receptive_field = int(getattr(model, "receptive_field", 1))
        if self.recipe.loss == "grid_mse" and not getattr(model, "loss_on_grid", False):
            raise ValueError(f"recipe {self.recipe.name!r}: loss 'grid_mse' needs a model with loss_on_grid=True, "
                             f"{self.recipe.model!r} has none")
        self.augmentation = ViewAugmentation(**self.recipe.augment) if self.recipe.augment else None
        if self.augmentation is not None and self.augmentation.active and self.receptive_field > 1:
            raise ValueError(f"recipe {self.recipe.name!r}: augment needs a single-frame model, {self.recipe.model!r} "
                             f"sees {self.receptive_field} frames")
        if self.augmentation is not None and self.augmentation.active and run.data in ("h36m", "humaneva") \
                and self.recipe.keypoints != "gt":
            raise ValueError(f"recipe {self.recipe.name!r}: augment re-projects the 3D, which would replace the "
                             f"{self.recipe.keypoints!r} detections by ground-truth 2D; use it with keypoints='gt'")
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
        # progress="epochs": lines held until the run has lasted QUIET_S; when the run started, last printed
        self._held: list[str] = []
        self._t_start = self._shown_at = time.perf_counter()
        # every recipe.log_every steps {step, epoch (fractional), loss, lr}; every eval_every_steps steps
        # {step, epoch, mpjpe, p_mpjpe, frames}
        self.step_history: list[dict[str, Any]] = []
        self.log_window = [0.0, 0]     # (sum, count) of the losses since the last step_history loss entry
        self._epoch_eval_s = 0.0       # in-epoch evaluation time of the current epoch (not training time)
        self.train_time_s = 0.0        # wall time of the training epochs, evaluation excluded
        self.eval_time_s = 0.0         # wall time of the evaluations
        self.loop_time_s = 0.0         # wall time of the optimiser steps alone (throughput)
        self.samples_seen = 0          # training samples (flipped copies included) over all optimiser steps
        self.resumes: list[dict[str, Any]] = []    # one entry per resume: where, and which settings changed
        self.last_eval: dict[str, Any] | None = None
        if run.resume:
            self.load_checkpoint(self.checkpoint_path, self._resume_from)
        elif self.dist.enabled:
            torch.manual_seed(self.recipe.seed + 7919 * self.dist.rank)  # distinct dropout masks per rank

    # ---------------------------------------------------------------------------------- paths, logging
    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.run.out is None else Path(self.run.out) / "checkpoint.pt"

    @property
    def log_path(self) -> Path | None:
        return None if self.run.out is None else Path(self.run.out) / "train.log"

    def log(self, msg: str, quiet: bool = False) -> None:
        """Show ``msg`` as ``run.progress`` says and append it to ``out/train.log`` (always; rank 0 only).

        ``quiet``: a detail line (the quick profile's in-epoch scores) that the ``"epochs"`` mode keeps out of the
        notebook; it still goes to the bar's output in ``progress=True`` mode and to the log file.
        """
        if not self.dist.is_main:
            return
        if self.run.progress is True:
            from tqdm.auto import tqdm
            tqdm.write(msg)            # above the bar, which it would otherwise break in a terminal
            sys.stdout.flush()         # papermill and Colab show the line now, not when the cell ends
        elif self.run.progress == "epochs" and not quiet:
            self._held.append(msg)
            self._show_held()
        if self.log_path is not None:
            try:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                with open(self.log_path, "a") as f:
                    f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {msg}\n")
            except OSError as e:
                raise write_failed(self.log_path, e) from None

    def _show_held(self, force: bool = False) -> None:
        """``progress="epochs"``: print the held lines once the run has lasted ``QUIET_S`` seconds."""
        now = time.perf_counter()
        if self._held and (force or now - self._t_start >= QUIET_S):
            print("\n".join(self._held), flush=True)
            self._held.clear()
            self._shown_at = now

    def _heartbeat(self, epoch: int, done: int, n_batches: int) -> None:
        """``progress="epochs"``: one line per ``HEARTBEAT_S`` inside a long epoch, so no run is silent for long."""
        if self.run.progress != "epochs" or not self.dist.is_main:
            return
        now = time.perf_counter()
        if now - self._shown_at >= HEARTBEAT_S:
            self._show_held(force=True)
            print(f"epoch {epoch + 1}/{self.recipe.epochs}: {done}/{n_batches} steps ({now - self._t_start:.0f} s)",
                  flush=True)
            self._shown_at = now

    # ---------------------------------------------------------------------------------- the loop
    def fit(self) -> dict[str, Any]:
        """Train the remaining epochs, evaluating and checkpointing after each; return the results dict."""
        r = self.recipe
        self._t_start = self._shown_at = time.perf_counter()
        self.log(f"{'resuming' if self.run.resume else 'training'} {r.name} ({r.profile}) on "
                 f"{self.data_info.get('source')}, device {self.device}" + (
                     f"; writing {self.run.out}/checkpoint.pt, results.json, results.md, train.log"
                     if self.run.out is not None else ""))
        note = self.shortened_epochs()
        if note:
            self.log(note["note"], quiet=True)   # in train.log and results.json; the bar mode shows it too
        for epoch in range(self.epoch, r.epochs):
            t0 = time.perf_counter()
            loss = self.train_epoch(epoch)
            # training only: evaluation, also inside the epoch, is timed apart
            self.train_time_s += time.perf_counter() - t0 - self._epoch_eval_s
            scored = (epoch + 1) % r.eval_every == 0 or epoch + 1 == r.epochs
            ev = self.evaluate() if scored else {"mpjpe": None, "p_mpjpe": None}
            self.epoch, self.batch_in_epoch, self.epoch_loss = epoch + 1, 0, [0.0, 0]
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
        # a notebook bar is a widget; a text bar into a file (nohup, a batch job) is redrawn only every 30 s
        widget = any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__)
        bar = tqdm(total=n_batches, initial=start, desc=f"epoch {epoch + 1}/{r.epochs}", leave=False,
                   disable=not (self.run.progress is True and self.dist.is_main), dynamic_ncols=True,
                   mininterval=0.1 if widget or sys.stderr.isatty() else 30.0)
        check_every = 1 if self.device.type == "cpu" else 25    # a host sync per step costs GPU throughput
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)   # this rank's share of the losses
        window = torch.zeros((), dtype=torch.float64, device=self.device)     # same, since the last loss entry
        seen = window_n = 0
        scored = (epoch + 1) % r.eval_every == 0 or epoch + 1 == r.epochs     # fit() evaluates after this epoch
        self._epoch_eval_s = 0.0
        t_loop = time.perf_counter()
        for k in range(start, n_batches):
            idx = next(batches)
            step_loss = self.train_step(idx, epoch + k / n_batches).detach().double()
            loss_sum += step_loss
            seen += 1
            if r.log_every:
                window += step_loss
                window_n += 1
            due = self._checkpoint_due()
            progress = epoch + (k + 1) / n_batches                             # fractional epochs done
            if r.log_every and self.step % r.log_every == 0:
                # one host sync every log_every steps; the window may span a checkpoint or an epoch boundary
                total = self.log_window[0] + self._global_loss(window)
                self._check_finite(total, epoch, k)
                self.step_history.append({"step": self.step, "epoch": round(progress, 6),
                                          "loss": total / (self.log_window[1] + window_n),
                                          "lr": lr_at(r, epoch, self.step - 1)})
                self.log_window, window_n = [0.0, 0], 0
                window.zero_()
            if r.eval_every_steps and self.step % r.eval_every_steps == 0 and not (scored and k == n_batches - 1):
                self.evaluate_in_epoch(progress)          # (the epoch's last step: fit() scores it anyway)
            if seen % check_every == 0 or k == n_batches - 1 or due:
                running = self._global_loss(loss_sum)                 # same points on every rank
                self._check_finite(running, epoch, k)
                bar.set_postfix(loss=f"{(self.epoch_loss[0] + running) / (self.epoch_loss[1] + seen):.5f}",
                                lr=f"{lr_at(r, epoch, self.step - 1):.2e}", refresh=False)
            bar.update(1)
            self._heartbeat(epoch, k + 1, n_batches)
            if due:
                self.epoch_loss = [self.epoch_loss[0] + running, self.epoch_loss[1] + seen]
                loss_sum.zero_()
                seen = 0
                window_n = self._fold_log_window(window, window_n)   # the checkpoint holds the open window
                self.batch_in_epoch = k + 1
                self.save_checkpoint()
        bar.close()
        self.loop_time_s += time.perf_counter() - t_loop - self._epoch_eval_s
        self._fold_log_window(window, window_n)                       # carried into the next epoch
        total = self.epoch_loss[0] + (self._global_loss(loss_sum) if seen else 0.0)
        return total / max(self.epoch_loss[1] + seen, 1)

    def _fold_log_window(self, window: torch.Tensor, count: int) -> int:
        """Move the open loss window (this rank's tensor sum of ``count`` steps) into ``self.log_window`` (plain
        floats, global over ranks, saved in checkpoints); returns the new count, 0. Every rank calls it at the
        same points. Sums of float32 losses in float64 are exact, so folding at a checkpoint changes no digit."""
        if count:
            self.log_window = [self.log_window[0] + self._global_loss(window), self.log_window[1] + count]
            window.zero_()
        return 0

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
        if self.augmentation is not None:
            x2d, y3d = augmented_batch(self.train_set, idx, self.augmentation)   # other bodies and cameras
        else:
            x2d, y3d = make_batch(self.train_set, idx, self.receptive_field)
        if r.random_move:
            y3d = random_move_targets(y3d)
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
        self.samples_seen += n_global
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
        t0 = time.perf_counter()
        self.last_eval = evaluate(self.model, self.test_set, tta=r.tta, batch_size=r.eval_batch_size,
                                  max_frames=r.eval_max_frames, mean_pose=self.mean_pose)
        self.eval_time_s += time.perf_counter() - t0
        return self.last_eval

    def evaluate_in_epoch(self, progress: float) -> None:
        """Score ``recipe.eval_steps_max_frames`` test frames in the middle of an epoch and append
        ``{step, epoch, mpjpe, p_mpjpe, frames}`` to ``step_history`` (rank 0). Consumes no random numbers and
        leaves the model in training mode, so the run's weights are those of a run without it."""
        if not self.dist.is_main:
            return
        r = self.recipe
        t0 = time.perf_counter()
        ev = evaluate(self.model, self.test_set, tta=r.tta, batch_size=r.eval_batch_size,
                      max_frames=r.eval_steps_max_frames or r.eval_max_frames, mean_pose=self.mean_pose)
        took = time.perf_counter() - t0
        self.eval_time_s += took
        self._epoch_eval_s += took
        self.step_history.append({"step": self.step, "epoch": round(progress, 6), "mpjpe": float(ev["mpjpe"]),
                                  "p_mpjpe": float(ev["p_mpjpe"]), "frames": int(ev["frames"])})
        self.log(quiet=True, msg=f"step {self.step} (epoch {progress:.2f})  MPJPE {ev['mpjpe']:.2f} mm  P-MPJPE {ev['p_mpjpe']:.2f} mm "
                 f"on {int(ev['frames']):,} test frames")

    def shortened_epochs(self) -> dict[str, Any] | None:
        """``None``, or what ``max_steps_per_epoch`` does to schedules measured in epochs when it cuts an epoch short.

        An "epoch" of the run is then ``steps`` instead of ``full_steps`` batches, and everything the recipe or the
        model times in epochs (the learning-rate schedule in epochs, GridConv's temperature annealing, GLA-GCN's
        BatchNorm momentum) advances per shortened epoch: e.g. GridConv's temperature goes from 30 to 27.1 in two
        epochs of 100 steps instead of 30 to 29.5 over the same 200 steps of full epochs. Said, not hidden.
        """
        r = self.recipe
        if self.train_set is None or not r.max_steps_per_epoch:
            return None
        full = num_batches(self.train_set.num_frames * (2 if r.flip_aug else 1), r.batch_size)
        if r.max_steps_per_epoch >= full:
            return None
        return {"steps": int(r.max_steps_per_epoch), "full_steps": int(full),
                "note": (f"epochs shortened to {r.max_steps_per_epoch} of {full} steps (max_steps_per_epoch): "
                         "schedules measured in epochs (learning rate per epoch, GridConv temperature, GLA-GCN "
                         "BatchNorm momentum) advance per shortened epoch")}

    def results(self) -> dict[str, Any]:
        """Everything a results file holds: the recipe, the data, the last evaluation (both averages, per
        action and per subject, and ``mean_pose_mpjpe``, the mean training pose scored on the same frames: a
        model that does not beat it learnt nothing from the 2D), timings and provenance."""
        from .models import count_parameters

        ev = self.last_eval or {}
        r = self.recipe
        return {
            "recipe": r.name, "profile": r.profile, "model": r.model, "model_config": model_config_dict(self.model),
            "parameters": count_parameters(self.model), "seed": r.seed, "epochs": self.epoch, "steps": self.step,
            "data": self.data_info, **ev, "frames_scored": frames_description(self.test_set, r.eval_max_frames),
            "mean_pose_source": "mean root-relative pose of this run's training split",
            "history": self.history, "step_history": self.step_history,
            "shortened_epochs": self.shortened_epochs(),
            "train_time_s": round(self.train_time_s, 3),
            "eval_time_s": round(self.eval_time_s, 3), "samples_seen": self.samples_seen,
            "train_samples_per_s": round(self.samples_seen / self.loop_time_s, 1) if self.loop_time_s else None,
            "resumes": self.resumes,
            "git_commit": git_commit(), "poselift_version": __version__, "device": str(self.device),
            "amp": self.run.amp, "compile": self.run.compile, "world_size": self.dist.world_size,
            "recipe_config": dataclasses.asdict(r),
            "checkpoint": str(self.checkpoint_path) if self.checkpoint_path else None,
        }

    def write_results(self, results: dict[str, Any]) -> None:
        if self.run.out is None or not self.dist.is_main:
            return
        out = Path(self.run.out)     # the folder was checked when the run started: these files are its own
        from .results import results_file_text    # everything, plus the run's row as the chapters store it

        write_text_atomic(out / "results.json", results_file_text(results))
        write_text_atomic(out / "results.md", results_markdown(results))
        self.log(f"MPJPE {results['mpjpe']:.2f} mm, P-MPJPE {results['p_mpjpe']:.2f} mm (per-action averages); "
                 f"frame averages {results.get('mpjpe_frames', float('nan')):.2f} / "
                 f"{results.get('p_mpjpe_frames', float('nan')):.2f} mm -> {out / 'results.json'}")

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
            "step_history": self.step_history, "log_window": list(self.log_window),
            "train_time_s": self.train_time_s, "eval_time_s": self.eval_time_s, "loop_time_s": self.loop_time_s,
            "samples_seen": self.samples_seen, "resumes": self.resumes,
            "recipe": dataclasses.asdict(self.recipe),
            "run_config": {k: v for k, v in dataclasses.asdict(self.run).items() if k != "recipe"},
            "data": self.data_info, "mean_pose": self.mean_pose.detach().cpu(),
            "provenance": {"git_commit": git_commit(), "poselift_version": __version__,
                           "torch": str(torch.__version__)},
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

    def load_checkpoint(self, path: Path | None, ckpt: dict[str, Any] | None = None) -> None:
        """Restore a run from ``path`` (model, optimiser, counters, every RNG state); ``ckpt``: already read."""
        if ckpt is None:
            ckpt = read_checkpoint(path, map_location="cpu")   # RNG states must stay CPU tensors
            check_resumable(ckpt, path, self.recipe)
        mine = model_config_dict(self.model)
        same = json.dumps(ckpt["model_config"], sort_keys=True, default=str) == json.dumps(mine, sort_keys=True,
                                                                                            default=str)
        if not same:
            raise CheckpointError(f"checkpoint {path}: model config {ckpt['model_config']} differs from this "
                                  f"run's {mine}")
        changes = check_changes(ckpt, path, self.run)
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.epoch, self.step, self.batch_in_epoch = ckpt["epoch"], ckpt["step"], ckpt["batch_in_epoch"]
        self.epoch_loss = list(ckpt["epoch_loss"])
        self.history, self.train_time_s = list(ckpt["history"]), float(ckpt["train_time_s"])
        self.step_history = list(ckpt.get("step_history", []))    # absent in checkpoints without step logging
        self.log_window = list(ckpt.get("log_window", [0.0, 0]))
        self.loop_time_s = float(ckpt.get("loop_time_s", 0.0))
        self.eval_time_s = float(ckpt.get("eval_time_s", 0.0))
        self.samples_seen = int(ckpt.get("samples_seen", self.step * self.recipe.batch_size))
        self.resumes = list(ckpt.get("resumes", [])) + [
            {"epoch": self.epoch, "step": self.step, "batch_in_epoch": self.batch_in_epoch,
             "changes": {k: {"checkpoint": old, "now": new} for k, (old, new) in changes.items()}}]
        if "mean_pose" in ckpt:       # the training split's mean, as the run started with it
            self.mean_pose = ckpt["mean_pose"].to(self.device, torch.float32)
        rng = ckpt["rng"]
        restore_rng(rng)
        self.generator.set_state(rng["batch_generator"])
        self.epoch_gen_state = rng["epoch_generator"]


def check_output_folder(run: RunConfig) -> dict[str, Any] | None:
    """Checks before a run loads any data; returns the checkpoint to resume from (``None`` for a new run).

    A new run refuses a folder that already holds results or a checkpoint (unless ``run.overwrite``); a
    resumed run needs ``out/checkpoint.pt`` (a run killed before its first checkpoint has none, and says so),
    a training checkpoint of the recipe's model, and the same settings (unless ``run.allow_changes``).
    """
    if run.out is None:
        return None
    out = Path(run.out)
    if not run.resume:
        refuse_overwrite(out, RESULT_FILES, run.overwrite,
                         flag="--resume to continue it, or --overwrite (library: overwrite=True)")
        return None
    if not out.is_dir():
        raise CheckpointError(f"nothing to resume: output folder {out} does not exist")
    path = out / "checkpoint.pt"
    if not path.exists():
        partial = sorted(p.name for p in out.glob(".checkpoint.pt.*.tmp"))
        raise CheckpointError(
            f"nothing to resume in {out}: no checkpoint.pt — the run stopped before its first checkpoint "
            "(written after each epoch, or every checkpoint_every steps)"
            + (f"; an unfinished write {partial[0]} was left" if partial else "")
            + "; start it again without resume")
    ckpt = read_checkpoint(path, map_location="cpu")         # RNG states must stay CPU tensors
    check_resumable(ckpt, path, run.recipe)
    check_changes(ckpt, path, run)
    return ckpt


def check_resumable(ckpt: dict[str, Any], path: "Path | str | None", recipe: Recipe) -> None:
    """A training checkpoint (not a weights-only model file) of ``recipe``'s model, else ``CheckpointError``."""
    if not is_resumable(ckpt):
        raise CheckpointError(f"checkpoint {path} is a weights-only model file (no optimiser, counters or RNG "
                              "states): it can be evaluated, not resumed")
    if ckpt["model_name"] != recipe.model:
        raise CheckpointError(f"checkpoint {path} holds model {ckpt['model_name']!r}, but recipe "
                              f"{recipe.name!r} trains {recipe.model!r}")


def check_changes(ckpt: dict[str, Any], path: "Path | str | None", run: RunConfig) -> dict[str, tuple[Any, Any]]:
    """:func:`settings_changes`; refuses them (naming every key) unless ``run.allow_changes``."""
    changes = settings_changes(ckpt, run.recipe, run)
    if changes and not run.allow_changes:
        listed = "; ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changes.items())
        raise CheckpointError(f"checkpoint {path} was written with other settings ({listed}); resume with the "
                              "checkpoint's settings, or pass --allow-changes (library: allow_changes=True) to "
                              "continue with these (the change is recorded in results.json)")
    return changes


def check_splits(info: dict[str, Any]) -> None:
    """Refuse train and test splits that share subjects (``load_data``'s description ``info``)."""
    shared = sorted(set(info.get("train_subjects") or ()) & set(info.get("test_subjects") or ()))
    if shared:
        raise ValueError(f"train and test subjects overlap ({', '.join(map(str, shared))}): the test split must "
                         "hold out subjects never seen in training")


#: Run-config keys compared on resume (paths and hardware — out, device, compile, progress — may change).
RESUME_RUN_KEYS = ("data", "data_dir", "train_subjects", "test_subjects", "amp")


def _plain(value: Any) -> Any:
    """JSON round trip, so tuples and lists (and other equal-looking values) compare equal."""
    return json.loads(json.dumps(value, default=str))


def settings_changes(ckpt: dict[str, Any], recipe: Recipe, run: RunConfig) -> dict[str, tuple[Any, Any]]:
    """``{key: (checkpoint's value, this run's value)}`` for every recipe field and every
    :data:`RESUME_RUN_KEYS` entry of the run config that differs (run-config keys as ``run.<key>``). A recipe
    field the checkpoint predates (such as ``log_every``) counts as its default value there."""
    changes: dict[str, tuple[Any, Any]] = {}
    defaults = {f.name: f.default for f in dataclasses.fields(Recipe) if f.default is not dataclasses.MISSING}
    old_recipe = _plain({**defaults, **(ckpt.get("recipe") or {})}) if ckpt.get("recipe") else {}
    new_recipe = _plain(dataclasses.asdict(recipe))
    for key in sorted(set(old_recipe) | set(new_recipe)):
        if old_recipe.get(key) != new_recipe.get(key):
            changes[key] = (old_recipe.get(key), new_recipe.get(key))
    old_run = _plain(ckpt.get("run_config") or {})
    new_run = _plain({k: getattr(run, k) for k in RESUME_RUN_KEYS})
    for key in RESUME_RUN_KEYS:
        if key in old_run and old_run[key] != new_run[key]:
            changes[f"run.{key}"] = (old_run[key], new_run[key])
    return changes


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
