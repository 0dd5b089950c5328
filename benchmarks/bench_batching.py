"""How fast can training batches be cut from whole-dataset tensors? Windows per second of `make_batch`.

Builds a Human3.6M-sized synthetic training split (1.56M frames, 17 joints, 600 sequences; the real one has
1,559,752 camera-frames) as one PoseTensors, then times `make_batch` (window gather with edge padding and
flip doubling) at batch 512 for receptive fields 1, 27 and 243 on the CPU and, when available, on CUDA.
For scale, the same batch is also cut by a per-sample Python loop (pad, slice, flip one window at a time,
as dataset-style loaders do), on a few batches only.

    python benchmarks/bench_batching.py                # defaults, < 1 min on CPU
    python benchmarks/bench_batching.py --frames 200000 --repeats 10 --threads 2
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from poselift_core.batching import PoseTensors, flip_doubled_x2d, flip_keypoints_2d, flip_pose_3d, make_batch
from poselift_core.skeleton import H36M_17


def synthetic_split(num_frames: int, num_sequences: int, seed: int = 0) -> PoseTensors:
    """Random data with the shapes and sequence structure of the Human3.6M training split."""
    g = torch.Generator().manual_seed(seed)
    # uneven sequence lengths, like the real ones (about 1,000 to 6,000 frames)
    weights = torch.rand(num_sequences, generator=g) + 0.3
    length = (weights / weights.sum() * num_frames).long().clamp_min(1)
    length[-1] += num_frames - int(length.sum())
    start = torch.cumsum(length, 0) - length
    J = H36M_17.num_joints
    return PoseTensors(
        x2d=torch.rand(num_frames, J, 2, generator=g) * 2 - 1,
        y3d=torch.rand(num_frames, J, 3, generator=g) - 0.5,
        root=torch.rand(num_frames, 3, generator=g),
        frame_seq=torch.repeat_interleave(torch.arange(num_sequences), length),
        seq_start=start,
        seq_length=length,
        intrinsics=torch.rand(num_sequences, 9, generator=g),
        subjects=["S1"] * num_sequences,
        actions=["Walking"] * num_sequences,
        cameras=[0] * num_sequences,
        skeleton=H36M_17,
        keypoints_left=H36M_17.left,
        keypoints_right=H36M_17.right,
    )


def loop_batch(pt: PoseTensors, idx: torch.Tensor, receptive_field: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference point: one window at a time in Python (what the vectorised make_batch replaces)."""
    F, half = pt.num_frames, receptive_field // 2
    xs, ys = [], []
    for i in idx.tolist():
        f, flipped = (i - F, True) if i >= F else (i, False)
        s = int(pt.frame_seq[f])
        a, n = int(pt.seq_start[s]), int(pt.seq_length[s])
        lo, hi = f - half, f + half + 1
        w = pt.x2d[max(lo, a) : min(hi, a + n)]
        w = torch.cat([w[:1].expand(max(a - lo, 0), -1, -1), w, w[-1:].expand(max(hi - a - n, 0), -1, -1)])
        y = pt.y3d[f]
        if flipped:
            w, y = flip_keypoints_2d(w, pt.keypoints_left, pt.keypoints_right), flip_pose_3d(y, pt.skeleton)
        xs.append(w)
        ys.append(y)
    return torch.stack(xs), torch.stack(ys)


def time_batches(fn, batches: list[torch.Tensor], device: torch.device, warmup: int = 2) -> float:
    """Median seconds per call of ``fn(idx)`` over ``batches``."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for idx in batches[:warmup]:
        fn(idx)
    times = []
    for idx in batches:
        sync()
        t0 = time.perf_counter()
        fn(idx)
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_560_000)
    parser.add_argument("--sequences", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--receptive-fields", type=int, nargs="+", default=[1, 27, 243])
    parser.add_argument("--repeats", type=int, default=20, help="timed batches per setting (median reported)")
    parser.add_argument("--loop-repeats", type=int, default=3, help="batches for the per-sample loop (0: skip)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--no-cuda", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    cpu_split = synthetic_split(args.frames, args.sequences)
    print(f"synthetic split: {cpu_split.num_frames:,} frames, {cpu_split.num_sequences} sequences, "
          f"17 joints (built in {time.perf_counter() - t0:.1f} s); batch {args.batch_size}, "
          f"{torch.get_num_threads()} CPU threads, median of {args.repeats}")

    devices = [torch.device("cpu")]
    if torch.cuda.is_available() and not args.no_cuda:
        devices.append(torch.device("cuda"))

    g = torch.Generator().manual_seed(1)
    # flip doubling as in training: indices over 0 .. 2F-1, half of them flipped
    batches = [torch.randint(0, 2 * args.frames, (args.batch_size,), generator=g) for _ in range(args.repeats)]

    rows = []
    for device in devices:
        split = cpu_split if device.type == "cpu" else cpu_split.to(device)
        dev_batches = [b.to(device) for b in batches]
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        t0 = time.perf_counter()
        flip_doubled_x2d(split)            # one-off: the mirrored copy make_batch cuts flipped windows from
        if device.type == "cuda":
            torch.cuda.synchronize()
        print(f"{name}: mirrored copy of x2d built once in {time.perf_counter() - t0:.2f} s")
        for rf in args.receptive_fields:
            sec = time_batches(lambda idx: make_batch(split, idx, receptive_field=rf), dev_batches, device)
            rows.append((name, "make_batch", rf, sec))
            if device.type == "cpu" and args.loop_repeats > 0:
                sec_loop = time_batches(lambda idx: loop_batch(split, idx, rf), batches[: args.loop_repeats],
                                        device, warmup=1)
                rows.append((name, "per-sample loop", rf, sec_loop))

    print()
    print("| device | method | receptive field | ms / batch | windows / s | speed-up vs loop |")
    print("|---|---|---:|---:|---:|---:|")
    loop_time = {(d, rf): s for d, m, rf, s in rows if m == "per-sample loop"}
    for dev, method, rf, sec in rows:
        ratio = loop_time.get((dev, rf))
        speedup = f"{ratio / sec:.0f}x" if ratio and method == "make_batch" else ""
        print(f"| {dev} | {method} | {rf} | {1000 * sec:.2f} | {args.batch_size / sec:,.0f} | {speedup} |")


if __name__ == "__main__":
    main()
