"""Command line: ``python -m poselift_core {list-recipes, train, evaluate, bench}``.

Examples::

    python -m poselift_core list-recipes
    python -m poselift_core train --recipe gcn-vanilla-gt --profile quick --data sample --out runs/vanilla
    python -m poselift_core train --recipe gcn-vanilla-gt --profile quick --data sample --out runs/vanilla --resume
    python -m poselift_core evaluate --checkpoint runs/vanilla/checkpoint.pt --data sample --out runs/vanilla-eval
    torchrun --nproc_per_node 2 -m poselift_core train --recipe gcn-modulated-cpn --data h36m \
        --data-dir data/h36m --out runs/mod

Imports are lazy (torch loads only when a command needs it), so ``list-recipes`` and ``--help`` are instant.
User errors (unknown names, missing files, bad checkpoints, a diverging loss) print one line on stderr and exit
with status 2; set ``POSELIFT_DEBUG=1`` to get the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

DATA_CHOICES = ("sample", "h36m", "humaneva", "cmu")


def _add_data_args(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--data", required=required, help=f"data source: one of {', '.join(DATA_CHOICES)}")
    p.add_argument("--data-dir", help="folder with the data files (sample: default the bundled one; cmu: ASF/AMC/BVH)")
    p.add_argument("--keypoints", help="2D keypoints file suffix: gt, cpn_ft_h36m_dbb, hrnet, ... (default: recipe's)")
    p.add_argument("--train-subjects", nargs="+", help="override the train split's subjects")
    p.add_argument("--test-subjects", nargs="+", help="override the test split's subjects")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or per-epoch lines")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m poselift_core", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list-recipes", help="list the training recipes")
    p.add_argument("--profile", default="full", help="quick or full (shown values)")
    p.add_argument("--json", action="store_true", help="print the recipes as JSON")

    p = sub.add_parser("train", help="train a recipe; writes OUT/checkpoint.pt, OUT/results.json, OUT/results.md")
    p.add_argument("--recipe", required=True, help="recipe name (see list-recipes)")
    p.add_argument("--profile", default="full", help="full (paper recipe) or quick (minutes on a CPU)")
    _add_data_args(p, required=True)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N steps")
    p.add_argument("--amp", choices=["bf16"], help="bfloat16 autocast")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override recipe fields, values as JSON "
                        "(e.g. --set lr=5e-4 'model_overrides={\"hidden\": 64}')")

    p = sub.add_parser("evaluate", help="evaluate a checkpoint; writes OUT/results.json and OUT/results.md")
    p.add_argument("--checkpoint", required=True)
    _add_data_args(p, required=False)
    p.add_argument("--out", required=True)
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="test-time flip averaging (default: as the checkpoint's recipe)")
    p.add_argument("--max-frames", type=int, help="score at most this many frames (centred runs per sequence)")
    p.add_argument("--batch-size", type=int, help="frames (windows) per forward pass (default: the recipe's)")

    p = sub.add_parser("bench", help="epoch-time benchmark (benchmarks/bench_epoch.py, else a trainer-step probe)")
    p.add_argument("--models", nargs="+", help="model names (default: the benchmark's list)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    p.add_argument("--device", default="auto")
    p.add_argument("--amp", choices=["bf16"])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    return parser


# ------------------------------------------------------------------------------------------ commands
def cmd_list_recipes(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .recipes import get_recipe, list_recipes

    names = list_recipes()
    if args.json:
        print(json.dumps({n: asdict(get_recipe(n, args.profile)) for n in names}, indent=2))
        return 0
    width = max(map(len, names))
    for n in names:
        r = get_recipe(n, args.profile)
        print(f"{n:<{width}}  model={r.model:<20} {r.keypoints:<16} J={r.joints:<3} batch={r.batch_size:<5} "
              f"epochs={r.epochs:<4} {r.optimizer} lr={r.lr:g} {r.schedule} loss={r.loss}")
    return 0


def _parse_set(items: Sequence[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value        # a bare string such as adam
    return out


def cmd_train(args: argparse.Namespace) -> int:
    from .recipes import get_recipe

    overrides = _parse_set(args.set)
    for key, value in (("seed", args.seed), ("epochs", args.epochs), ("batch_size", args.batch_size),
                       ("keypoints", args.keypoints)):
        if value is not None:
            overrides[key] = value
    recipe = get_recipe(args.recipe, args.profile, **overrides)   # validates names, keys and types first

    from .train import RunConfig, train

    run = RunConfig(recipe, data=args.data, data_dir=args.data_dir, out=args.out, device=args.device, amp=args.amp,
                    compile=args.compile, resume=args.resume, checkpoint_every=args.checkpoint_every,
                    train_subjects=tuple(args.train_subjects) if args.train_subjects else None,
                    test_subjects=tuple(args.test_subjects) if args.test_subjects else None,
                    progress=not args.no_progress)
    if not args.resume and (Path(args.out) / "checkpoint.pt").exists():
        raise ValueError(f"{Path(args.out) / 'checkpoint.pt'} exists; pass --resume to continue it or choose "
                         "another --out")
    results = train(run)
    if results.get("world_size", 1) == 1 or int(os.environ.get("RANK", "0")) == 0:
        print(f"MPJPE {results['mpjpe']:.2f} mm  P-MPJPE {results['p_mpjpe']:.2f} mm  "
              f"-> {Path(args.out) / 'results.json'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from .checkpoint import model_from_checkpoint, read_checkpoint
    from .evaluate import evaluate, results_markdown
    from .recipes import Recipe
    from .sources import load_data
    from .train import git_commit, resolve_device

    ckpt = read_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt, args.checkpoint)
    recipe = Recipe(**ckpt["recipe"])
    if args.keypoints:
        recipe = recipe.replace(keypoints=args.keypoints)
    saved = ckpt.get("run_config", {})
    data = args.data or saved.get("data", "sample")
    same_source = data == saved.get("data")        # default to the training run's folder and test subjects
    data_dir = args.data_dir or (saved.get("data_dir") if same_source else None)
    test_subjects = args.test_subjects or (saved.get("test_subjects") if same_source else None)
    device = resolve_device(args.device)
    _, test, info = load_data(recipe, data, data_dir, device, None, test_subjects, need_train=False)
    model_skeleton = ckpt["model_config"].get("skeleton")
    if model_skeleton is not None and test.skeleton.name != model_skeleton:
        raise ValueError(f"checkpoint {args.checkpoint} has a {model_skeleton} model but data {data!r} gives "
                         f"{test.skeleton.name} poses")
    model = model.to(device)
    tta = recipe.tta if args.tta is None else args.tta
    ev = evaluate(model, test, tta=tta, batch_size=args.batch_size or recipe.eval_batch_size,
                  max_frames=args.max_frames)
    from .models import count_parameters
    results = {"recipe": recipe.name, "checkpoint": str(args.checkpoint), "model": ckpt["model_name"],
               "model_config": ckpt["model_config"], "parameters": count_parameters(model), "seed": recipe.seed,
               "epochs": ckpt["epoch"], "data": info, **ev, "git_commit": git_commit(), "device": str(device),
               "torch": torch.__version__}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "results.md").write_text(results_markdown(results))
    print(f"MPJPE {ev['mpjpe']:.2f} mm  P-MPJPE {ev['p_mpjpe']:.2f} mm  -> {out / 'results.json'}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_epoch.py"
    if script.is_file():
        spec = importlib.util.spec_from_file_location("poselift_bench_epoch", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main(models=args.models, steps=args.steps, device=args.device, amp=args.amp, compile=args.compile)
        return 0
    _probe(args)   # installed without the repository's benchmarks/ folder
    return 0


def _probe(args: argparse.Namespace) -> None:
    """Steps/s of the trainer's real step for a few models on small synthetic H36M-format data."""
    import tempfile
    import time

    from .data import load_videopose3d
    from .data.fixtures import make_fake_h36m
    from .recipes import get_recipe
    from .train import RunConfig, Trainer

    with tempfile.TemporaryDirectory() as tmp:
        ds = load_videopose3d(*make_fake_h36m(tmp, subjects=("S1", "S9"), frames=256), joints=17,
                              splits={"train": ["S1"], "test": ["S9"]})
        train_set, test_set = ds.tensors("train"), ds.tensors("test")
    for model in args.models or ["vanilla", "modulated"]:
        recipe = get_recipe("gcn-vanilla-gt").replace(model=model, joints=17)
        trainer = Trainer(RunConfig(recipe, device=args.device, amp=args.amp, compile=args.compile, progress=False),
                          train_set, test_set)
        idx = torch_randint(train_set.num_frames, recipe.batch_size)
        trainer.train_step(idx, 0.0)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step(idx, 0.0)
        rate = args.steps / (time.perf_counter() - t0)
        print(f"{model:<12} batch {recipe.batch_size}: {rate:.1f} steps/s, {rate * recipe.batch_size:.0f} samples/s")


def torch_randint(high: int, n: int):
    import torch
    return torch.randint(high, (n,), generator=torch.Generator().manual_seed(0))


COMMANDS = {"list-recipes": cmd_list_recipes, "train": cmd_train, "evaluate": cmd_evaluate, "bench": cmd_bench}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "data", None) is not None and args.data not in DATA_CHOICES:
        print(f"error: unknown data {args.data!r}; use one of {', '.join(DATA_CHOICES)}", file=sys.stderr)
        return 2
    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)   # on a shared CPU, fewer threads than cores avoids oversubscription
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:          # output piped into `head`
        return 0
    except Exception as e:  # noqa: BLE001 - user errors become one line; set POSELIFT_DEBUG=1 for the traceback
        if os.environ.get("POSELIFT_DEBUG") or not _is_user_error(e):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2


def _is_user_error(e: BaseException) -> bool:
    # CheckpointError, DataError and MocapError are ValueErrors; no import here, so no torch just to fail
    if isinstance(e, (ValueError, FileNotFoundError, NotADirectoryError)):
        return True
    return type(e).__name__ == "NonFiniteLossError"


if __name__ == "__main__":
    sys.exit(main())
