"""Size and speed of every registered model at its default size, next to the originals' measured numbers.

For each model in ``poselift_core.models.available()`` (GLA-GCN at 27 and 243 frames via ``receptive_field``):

- parameters (``count_parameters``);
- training throughput, samples/s: one step = ``zero_grad`` + forward + backward of the mean squared output
  (no optimiser step), batch 256, median of 9 timed steps after 2 warm-up steps (GLA-GCN: 1 warm-up, 3 timed;
  on CPU the 243-frame model runs a smaller batch, printed in the table), as the originals were measured (chapter 6,
  "Training speed");
- inference latency for one sample (eval mode, median);
- FLOPs of one training step (``torch.utils.flop_counter.FlopCounterMode``: matmuls and convolutions only)
  and the achieved GFLOP/s, next to a plain 2048 x 2048 fp32 matmul's GFLOP/s measured in the same run,
  so a model's efficiency can be read independently of how loaded the machine is;
- the original implementation's samples/s (table below), the ratio ours / original, and the GFLOP/s (as % of
  the matmul) that the issue's target (2x the original; 1x for D-GridConv) would need with this model's FLOPs:
  a target above ~70% of the matmul is out of reach for a step that also runs BatchNorm, ReLU and dropout
  passes over memory. Those anchors were
  measured on a lightly loaded 2-thread CPU; on a busy machine compare ``--reference`` instead: it times a
  re-implementation of the released Any-GCN layout (benchmarks/reference_gcn.py, checked to compute the same
  function) interleaved step by step with ours, and reports the median per-step ratio.

The process first calls :func:`poselift_core.device.keep_freed_cpu_memory` (as the trainer does on CPU), so glibc
keeps freed blocks instead of faulting in fresh pages every step; ``--system-malloc`` times the default
allocator instead. Models that fail to build or run are skipped with a message. All models take < 10 minutes on a quiet 2-core CPU.
On a loaded machine, multi-thread CPU timings collapse from OpenMP barrier waits (measured 100x slower for
small models); run with ``OMP_WAIT_POLICY=PASSIVE`` or ``--threads 1`` there. ``--amp bf16`` on a CPU without
native bf16 (AVX2 only) is much slower than fp32; it is meant for CUDA.

    python benchmarks/bench_models.py                       # all models, CPU, 2 threads
    python benchmarks/bench_models.py --models vanilla,dc_preagg --reference
    python benchmarks/bench_models.py --quick               # fewer steps, smaller GLA-GCN-243 batch
    python benchmarks/bench_models.py --device cuda --compile --amp bf16
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from poselift_core.models import available, build_model, count_parameters
from poselift_core.skeleton import get_skeleton
from poselift_core.device import keep_freed_cpu_memory

# Train-step samples/s of the original implementations, measured on their released code (2 threads, batch 256,
# lightly loaded host). Keys: (model name, receptive field or None). postagg: with the one-line fix.
ORIGINAL_SAMPLES_PER_S: dict[tuple[str, int | None], float] = {
    ("vanilla", None): 3643, ("dc_vanilla", None): 2587, ("preagg", None): 2115, ("dc_preagg", None): 1384,
    ("postagg", None): 2840, ("dc_postagg", None): 1665, ("convst", None): 2116, ("nosharing", None): 414,
    ("modulated", None): 1859,  # Any-GCN's modulated (ModGCN-GT original: 1,617)
    ("glagcn", 27): 69.3, ("glagcn", 81): 17.3, ("glagcn", 243): 3.5,
    ("dgridconv", None): 87.6, ("dgridconv_autogrids", None): 88.0,
}
TEMPORAL_FRAMES = (27, 243)
TARGET_RATIO = {"dgridconv": 1.0, "dgridconv_autogrids": 1.0}  # issue #3: D-GridConv 1x, everything else 2x


@dataclass
class Case:
    name: str
    overrides: dict = field(default_factory=dict)
    batch: int = 256
    warmup: int = 2
    steps: int = 9

    @property
    def label(self) -> str:
        return self.name + (f"-{self.overrides['receptive_field']}" if "receptive_field" in self.overrides else "")


def model_names(requested: str | None) -> list[str]:
    """The requested names (comma-separated), or every registered one."""
    if requested:
        return [n.strip() for n in requested.split(",") if n.strip()]
    return available()


def make_cases(names: list[str], quick: bool, device: str) -> list[Case]:
    steps, warmup = (3, 1) if quick else (9, 2)
    cases = []
    for name in names:
        try:
            model = build_model(name)
        except Exception as exc:  # noqa: BLE001
            print(f"skip {name}: does not build ({type(exc).__name__}: {exc})")
            continue
        if getattr(model, "receptive_field", 1) > 1:  # temporal (GLA-GCN): 1 warm-up, 3 timed, per window length
            for frames in TEMPORAL_FRAMES:
                batch = 256 if frames <= 27 or device != "cpu" else (4 if quick else 16)
                cases.append(Case(name, {"receptive_field": frames}, batch, 1, 3))
        else:
            cases.append(Case(name, {}, 256, warmup, steps))
    return cases


def make_input(model: nn.Module, batch: int, device: str) -> torch.Tensor:
    skeleton = getattr(model, "skeleton", None) or get_skeleton(model.config.skeleton)
    J, T = skeleton.num_joints, getattr(model, "receptive_field", 1)
    shape = (batch, J, 2) if T == 1 else (batch, T, J, 2)
    return torch.rand(shape, device=device) * 2 - 1  # normalised image coordinates


def autocast(device: str, amp: str | None):
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device, dtype={"bf16": torch.bfloat16, "fp16": torch.float16}[amp])


def train_step(model: nn.Module, x: torch.Tensor, amp: str | None) -> None:
    model.zero_grad(set_to_none=True)
    with autocast(x.device.type, amp):
        y = model(x)
    y.float().square().mean().backward()


def timed(fn: Callable[[], None], device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def matmul_gflops(device: str, n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    return 2 * n ** 3 / statistics.median(timed(lambda: a @ b, device) for _ in range(repeats)) / 1e9


def train_flops(model: nn.Module, x: torch.Tensor, amp: str | None) -> int:
    with FlopCounterMode(display=False) as counter:
        train_step(model, x, amp)
    return counter.get_total_flops()


def inference_latency_ms(model: nn.Module, x1: torch.Tensor, amp: str | None, repeats: int) -> float:
    model.eval()
    try:
        with torch.inference_mode(), autocast(x1.device.type, amp):
            for _ in range(2):
                model(x1)
            times = [timed(lambda: model(x1), x1.device.type) for _ in range(repeats)]
    finally:
        model.train()
    return statistics.median(times) * 1e3


def reference_ratio(case: Case, model: nn.Module, x: torch.Tensor, amp: str | None, device: str) -> str:
    """Median per-step time ratio reference layout / ours, steps interleaved (robust to machine load)."""
    from poselift_core.models.gcn import GCN_VARIANTS

    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    reference_gcn = importlib.import_module("reference_gcn")
    if case.name not in GCN_VARIANTS or case.overrides:
        return "—"
    ref = reference_gcn.ReferenceGCN(case.name).to(device)
    eager = build_model(case.name).to(device)
    reference_gcn.copy_into(ref, eager)
    ref.eval()
    eager.eval()
    with torch.no_grad():
        if not torch.allclose(ref(x[:8]), eager(x[:8]), rtol=1e-3, atol=1e-4):
            return "MISMATCH"
    ref.train()
    for _ in range(case.warmup):
        train_step(ref, x, amp)
        train_step(model, x, amp)
    ratios = [timed(lambda: train_step(ref, x, amp), device) / timed(lambda: train_step(model, x, amp), device)
              for _ in range(case.steps)]
    return f"{statistics.median(ratios):.2f}×"


def run_case(case: Case, args: argparse.Namespace, peak: float) -> dict | None:
    device, amp = args.device, args.amp
    try:
        torch.manual_seed(0)
        model = build_model(case.name, **case.overrides).to(device)
        x = make_input(model, case.batch, device)
        params = count_parameters(model)
        flops = train_flops(model, x, amp)  # on the eager model; compiling does not change the work
        runner = torch.compile(model) if args.compile else model
        for _ in range(case.warmup):
            train_step(runner, x, amp)
        times = [timed(lambda: train_step(runner, x, amp), device) for _ in range(case.steps)]
        latency = inference_latency_ms(runner, x[:1], amp, repeats=5 if args.quick else 20)
        ref = reference_ratio(case, runner, x, amp, device) if args.reference else None
    except Exception as exc:  # noqa: BLE001 - report and go on with the other models
        print(f"skip {case.label}: {type(exc).__name__}: {exc}")
        return None
    median = statistics.median(times)
    frames = case.overrides.get("receptive_field", getattr(model, "receptive_field", 1))
    original = ORIGINAL_SAMPLES_PER_S.get((case.name, frames if frames > 1 else None))
    row = {
        "model": case.label, "params": f"{params:,}", "batch": case.batch,
        "samples/s": f"{case.batch / median:,.1f}", "best": f"{case.batch / min(times):,.1f}",
        "original": "—" if original is None else f"{original:,}",
        "ratio": "—" if original is None else f"{case.batch / median / original:.2f}×",
        "latency 1 sample (ms)": f"{latency:.2f}",
        "GFLOP/step": f"{flops / 1e9:.2f}",
        "GFLOP/s": f"{flops / median / 1e9:.1f}", "% of matmul": f"{100 * flops / median / 1e9 / peak:.0f}%",
        "target needs": "—" if original is None else
        f"{100 * TARGET_RATIO.get(case.name, 2.0) * original * flops / case.batch / 1e9 / peak:.0f}% of matmul",
    }
    if ref is not None:
        row["vs reference layout (same run)"] = ref
    print(f"  {case.label}: {row['samples/s']} samples/s (batch {case.batch}), {row['GFLOP/s']} GFLOP/s", flush=True)
    return row


def markdown_table(rows: list[dict]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r.get(k, "")) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help="comma-separated names (default: all registered)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2, as the anchors)")
    parser.add_argument("--compile", action="store_true", help="time torch.compile(model)")
    parser.add_argument("--amp", choices=["bf16", "fp16"], help="autocast dtype")
    parser.add_argument("--quick", action="store_true", help="1 warm-up + 3 timed steps; GLA-GCN-243 at batch 4")
    parser.add_argument("--system-malloc", action="store_true",
                        help="leave glibc's malloc as it is (default: keep freed memory, as the trainer does)")
    parser.add_argument("--reference", action="store_true",
                        help="also time the released Any-GCN layout (reference_gcn.py) interleaved with ours")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device available")
    torch.set_num_threads(args.threads)
    kept = False if args.system_malloc else keep_freed_cpu_memory()

    peak = matmul_gflops(args.device)
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__} on {name}; load average {os.getloadavg()[0]:.1f}; "
          f"2048x2048 fp32 matmul: {peak:.1f} GFLOP/s; compile={args.compile} amp={args.amp}; "
          f"malloc keeps freed memory: {kept}", flush=True)
    if args.device == "cpu" and os.getloadavg()[0] > (os.cpu_count() or 1):
        print(f"warning: load average {os.getloadavg()[0]:.1f} exceeds the {os.cpu_count()} CPUs; multi-thread "
              "timings suffer from OpenMP contention (set OMP_WAIT_POLICY=PASSIVE or use --threads 1; "
              "--reference gives same-run ratios)")
    rows = []
    for case in make_cases(model_names(args.models), args.quick, args.device):
        row = run_case(case, args, peak)
        if row is not None:
            rows.append(row)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}; matmul now {matmul_gflops(args.device):.1f} GFLOP/s\n")
    print(markdown_table(rows) if rows else "no model ran")


if __name__ == "__main__":
    main()
