"""Epoch time of the real training step on Human3.6M-sized tensors, per model, with and without bf16 / compile.

The training split is synthetic but has the real shapes and value ranges: 1,560,000 frames in 600 sequences,
2D in [-1, 1], root-relative 3D within ±1 m (root row 0), 16 joints for the GCN family and 17 otherwise.
Each configuration builds a :class:`poselift_core.train.Trainer` for the model's full recipe (its batch size,
loss, optimiser, flip doubling) and times ``Trainer.train_step`` — the same code that trains — after a warm-up.
Printed: the measured steps/s (median over timing chunks) and the projected epoch time
``batches_per_epoch / steps_per_s`` (an epoch = 1.56M samples, ×2 with flip doubling).

On a CPU a whole epoch takes hours, so only ``--steps`` steps are timed and the epoch time is extrapolated;
GLA-GCN-243 is timed at a reduced batch there (the projection then assumes per-sample cost is batch-independent,
which underestimates what a GPU gains from large batches). Targets on one H100 (not checked here, only printed):
D-GridConv ≤ 15 s/epoch, each GCN variant ≤ 5 s, GLA-GCN-243 ≤ 10 min.

    python benchmarks/bench_epoch.py                          # all models, fp32 (+ bf16/compile on CUDA)
    python benchmarks/bench_epoch.py --models vanilla dgridconv --steps 50 --amp bf16
    python -m poselift_core bench --models vanilla            # the same through the CLI
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Sequence

import torch

from poselift_core.batching import PoseTensors, iterate_minibatches, num_batches
from poselift_core.models.gcn import GCN_VARIANTS
from poselift_core.recipes import get_recipe
from poselift_core.skeleton import get_skeleton
from poselift_core.device import resolve_device
from poselift_core.train import RunConfig, Trainer

H36M_TRAIN_FRAMES = 1_560_000
# model name -> recipe whose batch size, loss and optimiser are timed
BENCH_RECIPES = {
    **{v: f"gcn-{v}-gt" for v in GCN_VARIANTS},
    "dgridconv": "gridconv-gt",
    "glagcn": "glagcn-h36m-gt-243",
}
TARGETS_H100_S = {"dgridconv": 15.0, "glagcn": 600.0,
                  **{v: 5.0 for v in BENCH_RECIPES if v not in ("dgridconv", "glagcn")}}
CPU_BATCH_CAP = {"glagcn": 8}     # a 512-window GLA-GCN-243 step takes minutes on a CPU


def synthetic_split(num_frames: int, joints: int, num_sequences: int = 600, device: "str | torch.device" = "cpu",
                    seed: int = 0) -> PoseTensors:
    """Random poses with Human3.6M shapes and ranges: uneven sequences, 2D in [-1, 1], 3D in ±1 m, root 0."""
    g = torch.Generator().manual_seed(seed)
    sk = get_skeleton(joints)
    w = torch.rand(num_sequences, generator=g) + 0.3
    length = (w / w.sum() * num_frames).long().clamp_min(1)
    length[-1] += num_frames - int(length.sum())
    start = torch.cumsum(length, 0) - length
    y3d = torch.rand(num_frames, sk.num_joints, 3, generator=g) * 2 - 1
    y3d[:, sk.root] = 0
    return PoseTensors(
        x2d=torch.rand(num_frames, sk.num_joints, 2, generator=g) * 2 - 1, y3d=y3d,
        root=torch.rand(num_frames, 3, generator=g) + torch.tensor([0.0, 0.0, 4.0]),
        frame_seq=torch.repeat_interleave(torch.arange(num_sequences), length), seq_start=start, seq_length=length,
        intrinsics=torch.rand(num_sequences, 9, generator=g), subjects=["S1"] * num_sequences,
        actions=["Walking"] * num_sequences, cameras=[0] * num_sequences, skeleton=sk,
        keypoints_left=sk.left, keypoints_right=sk.right).to(device)


def time_model(model: str, train_set: PoseTensors, test_set: PoseTensors, device: torch.device, steps: int,
               amp: str | None, compile: bool, warmup: int = 3, chunk: int = 5) -> dict:
    """Median steps/s of the real training step and the projected epoch time (seconds)."""
    recipe = get_recipe(BENCH_RECIPES.get(model, "gcn-vanilla-gt"))
    if model not in BENCH_RECIPES:
        recipe = recipe.replace(model=model)
    if device.type == "cpu" and model in CPU_BATCH_CAP:
        recipe = recipe.replace(batch_size=min(recipe.batch_size, CPU_BATCH_CAP[model]))
    trainer = Trainer(RunConfig(recipe, device=str(device), amp=amp, compile=compile, progress=False),
                      train_set, test_set)
    n_items = train_set.num_frames * (2 if recipe.flip_aug else 1)
    batches = iterate_minibatches(n_items, recipe.batch_size, generator=torch.Generator().manual_seed(0),
                                  device=device)
    trainer.model.train()

    def run(n: int) -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            trainer.train_step(next(batches), 0.0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    run(warmup)
    rates = [chunk / run(chunk) for _ in range(max(1, steps // chunk))]
    rate = statistics.median(rates)
    full_recipe = get_recipe(BENCH_RECIPES.get(model, "gcn-vanilla-gt"))
    epoch_batches = num_batches(H36M_TRAIN_FRAMES * (2 if recipe.flip_aug else 1), full_recipe.batch_size)
    per_sample_s = 1.0 / (rate * recipe.batch_size)
    return {"model": model, "batch": recipe.batch_size, "steps_per_s": rate, "samples_per_s": rate * recipe.batch_size,
            "epoch_s": per_sample_s * epoch_batches * full_recipe.batch_size, "epoch_batches": epoch_batches,
            "amp": amp, "compile": compile}


def main(models: Sequence[str] | None = None, steps: int = 20, device: str = "auto", amp: str | None = None,
         compile: bool = False, frames: int = H36M_TRAIN_FRAMES, threads: int | None = None) -> list[dict]:
    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    models = list(models or BENCH_RECIPES)
    if dev.type == "cuda" and amp is None and not compile:
        configs = [(None, False), ("bf16", False), (None, True), ("bf16", True)]
    else:
        configs = [(amp, compile)]
    print(f"device {dev}, {frames:,} training frames, {steps} timed steps per configuration, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'model':<12} {'amp':<5} {'compile':<8} {'batch':>6} {'steps/s':>9} {'samples/s':>11} "
          f"{'epoch (s)':>11} {'H100 target':>12}")
    splits = {}
    rows = []
    for m in models:
        joints = get_recipe(BENCH_RECIPES.get(m, "gcn-vanilla-gt")).joints
        if joints not in splits:
            splits[joints] = (synthetic_split(frames, joints, device=dev), synthetic_split(2000, joints, 8, dev, 1))
        for a, c in configs:
            r = time_model(m, *splits[joints], dev, steps, a, c)
            rows.append(r)
            print(f"{m:<12} {str(a):<5} {str(c):<8} {r['batch']:>6} {r['steps_per_s']:>9.2f} "
                  f"{r['samples_per_s']:>11.0f} {r['epoch_s']:>11.1f} {TARGETS_H100_S.get(m, float('nan')):>12.0f}",
                  flush=True)
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", choices=["bf16"])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--frames", type=int, default=H36M_TRAIN_FRAMES)
    p.add_argument("--threads", type=int)
    a = p.parse_args()
    main(a.models, a.steps, a.device, a.amp, a.compile, a.frames, a.threads)
