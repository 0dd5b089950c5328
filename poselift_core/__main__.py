"""Command line: ``python -m poselift_core {list-recipes, train, evaluate, bench, lift, detect}``.

Examples::

    python -m poselift_core list-recipes
    python -m poselift_core train --recipe gcn-vanilla-gt --profile quick --data sample --out runs/vanilla
    python -m poselift_core train --recipe gcn-vanilla-gt --profile quick --data sample --out runs/vanilla --resume
    python -m poselift_core evaluate --checkpoint runs/vanilla/checkpoint.pt --data sample --out runs/vanilla-eval \\
        --save-predictions
    torchrun --nproc_per_node 2 -m poselift_core train --recipe gcn-modulated-cpn --data h36m \\
        --data-dir data/h36m --out runs/mod
    python -m poselift_core lift keypoints.npz --layout coco17 --out runs/my_clip
    python -m poselift_core detect clip.mp4 --out keypoints.npz

Error contract: bad input (unknown names, missing or corrupt files, bad checkpoints, a setting that would be
ignored, a folder that already holds results, a full disk, a diverging loss) prints one line on stderr and exits
with status 2, never a traceback; set ``POSELIFT_DEBUG=1`` to get the traceback instead. torch is imported only
when a command needs it, and ``OMP_WAIT_POLICY=PASSIVE`` is set (if unset) before it is: busy-waiting OpenMP
threads slow small models badly on shared CPUs.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read once, when torch initialises OpenMP

import argparse  # noqa: E402
import errno  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Sequence  # noqa: E402

EXAMPLES = {
    "train": """examples:
  python -m poselift_core train --recipe gcn-vanilla-gt --profile quick --data sample --out runs/vanilla
  python -m poselift_core train --recipe gcn-vanilla-gt --profile quick --data sample --out runs/vanilla --resume
  python -m poselift_core train --recipe glagcn-h36m-gt-27 --data h36m --data-dir data/h36m --out runs/gla \\
      --set lr=5e-3 'model_overrides={"channels": 64}'""",
    "evaluate": """examples:
  python -m poselift_core evaluate --checkpoint runs/vanilla/checkpoint.pt --data sample --out runs/eval \\
      --save-predictions
  python -m poselift_core evaluate --pretrained NAME --data h36m --data-dir data/h36m --out runs/eval-h36m""",
    "lift": """examples:
  python -m poselift_core lift keypoints.npz --layout coco17 --out runs/clip      # keypoints with image_size
  python -m poselift_core lift clip.mp4 --out runs/clip --focal 1500             # video: needs the [video] extra
  python -m poselift_core lift openpose_json/ --layout body25 --out runs/clip --image-size 1920 1080
  python -m poselift_core lift --check-demo                                       # the multi-view check""",
}


# ------------------------------------------------------------------------------------------ parsing helpers
class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr and exit status 2 (the error contract)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {' '.join(message.split())} (see --help)\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after every option's help; descriptions and examples keep their line breaks."""


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def error_line(e: BaseException) -> str | None:
    """The one-line message for a user error, or ``None`` for a bug (which keeps its traceback).

    User errors: ``ValueError`` (``CheckpointError``, ``DataError`` and ``MocapError`` are ValueErrors),
    ``OSError`` (missing files, a full disk, no permission, an existing output) and a diverging loss.
    """
    if isinstance(e, OSError) and not isinstance(e, (FileNotFoundError, NotADirectoryError, FileExistsError)) \
            and type(e).__name__ != "OutputWriteError":
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        if e.errno == errno.ENOSPC:
            return f"no space left on the device{where}"
        return f"{e.strerror or e}{where}" if e.strerror else " ".join(str(e).split())
    if isinstance(e, (ValueError, OSError)) or type(e).__name__ == "NonFiniteLossError":
        return " ".join(str(e).split()) or type(e).__name__
    return None


def _data_sources() -> tuple[str, ...]:
    from .sources import DATA_SOURCES   # the one list of data sources (imports torch)
    return tuple(DATA_SOURCES)


def _add_data_args(p: argparse.ArgumentParser, required: bool, evaluate: bool = False) -> None:
    sources = ", ".join(_data_sources())
    p.add_argument("--data", required=required, metavar="SOURCE",
                   help=f"data source: one of {sources}" + (" (default: the checkpoint's)" if evaluate else ""))
    p.add_argument("--data-dir", help="folder with the data files (sample: default the bundled one; cmu: ASF/AMC/BVH)")
    p.add_argument("--keypoints", help="2D keypoints file suffix: gt, cpn_ft_h36m_dbb, hrnet, ... (default: the "
                                       "recipe's; an explicit choice the data cannot provide is an error)")
    p.add_argument("--train-subjects", nargs="+", metavar="S",
                   help="train split's subjects" + (" (evaluate: for the mean-pose baseline when the checkpoint "
                                                    "stores none)" if evaluate else "") + " (default: the data's)")
    p.add_argument("--test-subjects", nargs="+", metavar="S", help="test split's subjects (default: the data's)")
    _add_device_args(p)


def _add_device_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N, gpu, mps")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's choice)")


def _add_speed_args(p: argparse.ArgumentParser) -> None:
    """Options of the training step that train and bench share."""
    p.add_argument("--amp", choices=["bf16"], help="bfloat16 autocast (default: off)")
    p.add_argument("--compile", action="store_true", help="torch.compile the training step")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m poselift_core", description=__doc__.split("\n\n")[0],
                           epilog=__doc__.split("\n\n")[1] + "\n" + __doc__.split("\n\n")[2],
                           formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list-recipes", help="list the training recipes", formatter_class=HelpFormatter,
                       description="List the training recipes with their main settings.")
    p.add_argument("--profile", default="full", choices=("quick", "full"), help="profile whose values are shown")
    p.add_argument("--json", action="store_true", help="print the recipes as JSON")

    p = sub.add_parser("train", help="train a recipe; writes OUT/checkpoint.pt, results.json, results.md, train.log",
                       formatter_class=HelpFormatter, epilog=EXAMPLES["train"],
                       description="Train a recipe. Refuses an OUT that already holds results or a checkpoint "
                                   "(--resume continues it, --overwrite replaces it).")
    p.add_argument("--recipe", required=True, help="recipe name (see list-recipes)")
    p.add_argument("--profile", default="full", choices=("quick", "full"),
                   help="full (paper recipe) or quick (minutes on a CPU)")
    _add_data_args(p, required=True)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, help="random seed (default: the recipe's)")
    p.add_argument("--epochs", type=positive_int, help="epochs (default: the recipe's)")
    p.add_argument("--batch-size", type=positive_int, help="training batch size (default: the recipe's)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt (same settings)")
    p.add_argument("--allow-changes", action="store_true",
                   help="with --resume: continue although settings differ from the checkpoint's (recorded in "
                        "results.json under 'resumes')")
    p.add_argument("--overwrite", action="store_true", help="replace the results and checkpoint already in OUT")
    p.add_argument("--checkpoint-every", type=non_negative_int, default=0,
                   help="also checkpoint every N optimiser steps (0: only after each epoch)")
    _add_speed_args(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars or per-epoch lines")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="override recipe fields, values as JSON; model_overrides is merged into the recipe's "
                        "(e.g. --set lr=5e-4 'model_overrides={\"hidden\": 64}')")

    p = sub.add_parser("evaluate", help="evaluate a checkpoint; writes OUT/results.json, results.md "
                                        "[, predictions.npz]",
                       formatter_class=HelpFormatter, epilog=EXAMPLES["evaluate"],
                       description="Evaluate a checkpoint or a pretrained model on the test split. By default it "
                                   "scores the frames the recipe's end-of-training evaluation scores.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="checkpoint file (a training checkpoint or a weights-only model file)")
    src.add_argument("--pretrained", metavar="NAME", help="published weights, by name (poselift_core.pretrained)")
    _add_data_args(p, required=False, evaluate=True)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace the results already in OUT")
    p.add_argument("--save-predictions", action="store_true",
                   help="also write OUT/predictions.npz: pred, target (N, J, 3) float32 mm, root-relative camera "
                        "coordinates; subject, action, camera, frame (N,) - exactly the scored frames")
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="test-time flip averaging (default: as the checkpoint's recipe)")
    frames = p.add_mutually_exclusive_group()
    frames.add_argument("--max-frames", type=positive_int,
                        help="score at most this many frames, a centred run per sequence (default: the recipe's "
                             "eval_max_frames, as at the end of training)")
    frames.add_argument("--all-frames", action="store_true", help="score every test frame")
    p.add_argument("--batch-size", type=positive_int, help="frames (windows) per forward pass (default: the recipe's)")

    p = sub.add_parser("lift", help="2D keypoints or a video -> OUT/poses_3d.npz, poses_3d.json, index.html",
                       formatter_class=HelpFormatter, epilog=EXAMPLES["lift"],
                       description="Lift a clip to 3D: keypoints in the Human3.6M-17 order after swap repair, gap "
                                   "filling and re-imaging to the training cameras (poselift_core.lift), then a "
                                   "pretrained lifter. poses_3d is (frames, 17, 3) metres, root-relative, camera "
                                   "axes. --check-demo instead scores single-view lifting on data/demo_capture.")
    p.add_argument("input", nargs="?", metavar="INPUT",
                   help="video (needs the [video] extra) or keypoints: .npz (keypoints + image_size, MediaPipe "
                        "landmarks, VideoPose3D custom), COCO-results/MediaPipe .json, OpenPose JSON folder")
    p.add_argument("--out", help="output folder")
    p.add_argument("--model", help="pretrained model name or checkpoint file (default: modgcn-open, the better one on "
                                   "real detections; auto: glagcn27-open when the clip has >= 27 frames)")
    p.add_argument("--layout", help="keypoint layout: coco17, blazepose33, body25, h36m17 (default: the file's)")
    p.add_argument("--focal", type=positive_float, help="focal length in pixels (default: 0.81 x the image "
                                                        "diagonal, the training cameras' field of view)")
    p.add_argument("--image-size", type=positive_int, nargs=2, metavar=("W", "H"),
                   help="image width and height in pixels, for files that do not store them")
    p.add_argument("--no-flip", action="store_true", help="no test-time flip averaging")
    p.add_argument("--overwrite", action="store_true", help="replace the results already in OUT")
    p.add_argument("--check-demo", action="store_true",
                   help="lift every view of data/demo_capture and print the per-view table and the ablation")

    p = sub.add_parser("detect", help="MediaPipe Pose over a video -> keypoints .npz (needs the [video] extra)",
                       formatter_class=HelpFormatter,
                       description='Detect BlazePose-33 keypoints in every frame of a video. Needs '
                                   '`pip install "poselift-core[video]"` (MediaPipe 0.10.21, numpy<2).')
    p.add_argument("video", metavar="VIDEO", help="video file")
    p.add_argument("--out", required=True, help="output .npz (keypoints, image_size, fps, layout)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")

    p = sub.add_parser("bench", help="epoch-time benchmark (benchmarks/bench_epoch.py, else a trainer-step probe)",
                       formatter_class=HelpFormatter)
    p.add_argument("--models", nargs="+", help="model names (default: the benchmark's list)")
    p.add_argument("--steps", type=positive_int, default=20, help="timed steps per configuration")
    _add_device_args(p)
    _add_speed_args(p)
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
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value        # a bare string such as adam
    return out


def _recipe_from_args(args: argparse.Namespace):
    """The recipe with --set and the flags applied; ``model_overrides`` merged into the recipe's own."""
    from .recipes import get_recipe

    base = get_recipe(args.recipe, args.profile)       # validates the name and profile first
    overrides = _parse_set(args.set)
    if "model_overrides" in overrides:
        if not isinstance(overrides["model_overrides"], dict):
            raise ValueError(f"--set model_overrides expects a JSON object, got {overrides['model_overrides']!r}")
        overrides["model_overrides"] = {**base.model_overrides, **overrides["model_overrides"]}
    for key, value in (("seed", args.seed), ("epochs", args.epochs), ("batch_size", args.batch_size),
                       ("keypoints", args.keypoints)):
        if value is not None:
            overrides[key] = value
    return base.replace(**overrides) if overrides else base, overrides


def _check_ignored(recipe, data: str, explicit: dict[str, Any]) -> None:
    """Settings given explicitly that ``load_data`` would not apply to ``data`` are errors, not silent no-ops."""
    native = data == recipe.dataset
    if "actions" in explicit and explicit["actions"] is not None and not native:
        raise ValueError(f"--set actions applies only to the recipe's dataset {recipe.dataset!r}; data {data!r} "
                         "would ignore it")
    if "joints" in explicit and not native and recipe.joints not in (16, 17):
        raise ValueError(f"--set joints={recipe.joints} is not available for data {data!r} (16 or 17 joints)")


def _check_keypoints(keypoints: str | None, data: str, data_dir: str | None) -> None:
    """An explicit ``--keypoints`` whose 2D file is missing names the ones that exist (no silent GT fallback)."""
    if not keypoints or data not in ("h36m", "humaneva") or not data_dir or not Path(data_dir).is_dir():
        return
    name = "h36m" if data == "h36m" else "humaneva15"
    if not (Path(data_dir) / f"data_2d_{name}_{keypoints}.npz").is_file():
        found = sorted(p.name[len(f"data_2d_{name}_"):-4] for p in Path(data_dir).glob(f"data_2d_{name}_*.npz"))
        raise ValueError(f"--keypoints {keypoints!r}: no file data_2d_{name}_{keypoints}.npz in {data_dir}; "
                         f"available: {', '.join(found) or 'none'}")


def _check_provided_keypoints(keypoints: str | None, data: str, info: dict[str, Any]) -> None:
    if keypoints and info.get("keypoints") != keypoints:
        raise ValueError(f"--keypoints {keypoints!r} is not available for data {data!r}, which provides "
                         f"{info.get('keypoints')!r} 2D keypoints only")


def _load_data(recipe, data: str, data_dir: str | None, train_subjects, test_subjects, need_train: bool = True):
    """:func:`poselift_core.sources.load_data` on the CPU; a corrupt member of a data file becomes one
    ``DataError`` naming the file and the member."""
    from .data import DataError
    from .sources import load_data

    try:
        return load_data(recipe, data, data_dir, "cpu", train_subjects, test_subjects, need_train=need_train)
    except (DataError, FileNotFoundError, NotADirectoryError):
        raise
    except Exception:
        from .data.videopose3d import find_corrupt_npz
        found = find_corrupt_npz(_npz_candidates(data, data_dir))
        if found:
            raise DataError(found) from None
        raise


def _npz_candidates(data: str, data_dir: str | None) -> list[Path]:
    from .data import sample_paths

    folders = [Path(data_dir)] if data_dir else []
    if data == "sample" and not data_dir:
        folders.append(sample_paths()[0].parent)
    files = []
    for folder in folders:
        files += sorted(folder.glob("*.npz")) + sorted((folder / ".poselift_cache").glob("*.npz"))
    return files


def cmd_train(args: argparse.Namespace) -> int:
    if args.allow_changes and not args.resume:
        raise ValueError("--allow-changes only applies with --resume")
    if args.overwrite and args.resume:
        raise ValueError("--overwrite has no effect with --resume (a resumed run continues its own files)")
    recipe, explicit = _recipe_from_args(args)     # validates names, keys and types first
    _check_ignored(recipe, args.data, explicit)
    _check_keypoints(args.keypoints, args.data, args.data_dir)

    from .device import resolve_device
    from .train import RunConfig, Trainer, check_output_folder, check_splits
    from .distributed import shutdown

    resolve_device(args.device)                   # a missing GPU fails before any data is read
    run = RunConfig(recipe, data=args.data, data_dir=args.data_dir, out=args.out, device=args.device, amp=args.amp,
                    compile=args.compile, resume=args.resume, checkpoint_every=args.checkpoint_every,
                    train_subjects=tuple(args.train_subjects) if args.train_subjects else None,
                    test_subjects=tuple(args.test_subjects) if args.test_subjects else None,
                    progress=not args.no_progress, overwrite=args.overwrite, allow_changes=args.allow_changes)
    check_output_folder(run)                      # existing results, nothing to resume, changed settings
    train_set, test_set, info = _load_data(recipe, args.data, args.data_dir, run.train_subjects, run.test_subjects)
    _check_provided_keypoints(args.keypoints, args.data, info)
    check_splits(info)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    out = Path(args.out)
    if main_rank:
        print(f"{'resuming' if args.resume else 'training'} {recipe.name} ({recipe.profile}) on {args.data}: writing "
              f"{out / 'checkpoint.pt'}, {out / 'results.json'}, {out / 'results.md'}, log {out / 'train.log'}")
    try:
        results = Trainer(run, train_set, test_set, info).fit()
    finally:
        shutdown()
    if main_rank:
        print(_score_line(results) + f" -> {out / 'results.json'}")
    return 0


def _score_line(r: dict[str, Any]) -> str:
    def mm(key: str) -> str:
        return "n/a" if r.get(key) is None else f"{r[key]:.2f} mm"

    return (f"MPJPE {mm('mpjpe')}  P-MPJPE {mm('p_mpjpe')} (per-action averages, as the papers print); "
            f"frame averages MPJPE {mm('mpjpe_frames')}  P-MPJPE {mm('p_mpjpe_frames')}; "
            f"mean training pose MPJPE {mm('mean_pose_mpjpe')}; {r.get('frames')} frames")


def _resolve_pretrained(name: str) -> Path:
    try:
        from .pretrained import checkpoint_path
    except ImportError as e:
        raise ValueError(f"--pretrained {name!r}: published weights are not available in this installation "
                         f"({e})") from None
    return Path(checkpoint_path(name))


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from .checkpoint import RESULT_FILES, CheckpointError, model_from_checkpoint, read_checkpoint, refuse_overwrite
    from .evaluate import AVERAGES, evaluate, frames_description, mean_training_pose, write_results
    from .models import count_parameters
    from .recipes import Recipe
    from .device import resolve_device
    from .train import check_splits, git_commit

    refuse_overwrite(args.out, RESULT_FILES, args.overwrite)     # before any work
    device = resolve_device(args.device)
    path = _resolve_pretrained(args.pretrained) if args.pretrained else Path(args.checkpoint)
    ckpt = read_checkpoint(path)
    model = model_from_checkpoint(ckpt, path)
    if "recipe" not in ckpt:
        raise CheckpointError(f"checkpoint {path} has no 'recipe' entry: evaluate needs it for the 2D keypoints, "
                              "joints and test-time settings")
    try:
        recipe = Recipe(**ckpt["recipe"])
    except TypeError as e:
        raise CheckpointError(f"checkpoint {path}: its recipe does not fit this poselift ({e})") from None
    if args.keypoints:
        recipe = recipe.replace(keypoints=args.keypoints)
    saved = ckpt.get("run_config") or {}
    data = args.data or saved.get("data", "sample")
    if data not in _data_sources():
        raise ValueError(f"unknown data {data!r}; use one of {', '.join(_data_sources())}")
    same_source = data == saved.get("data")        # default to the training run's folder and subjects
    data_dir = args.data_dir or (saved.get("data_dir") if same_source else None)
    test_subjects = args.test_subjects or (saved.get("test_subjects") if same_source else None)
    _check_keypoints(args.keypoints, data, data_dir)
    stored_pose = ckpt.get("mean_pose")
    use_stored = torch.is_tensor(stored_pose) and not args.train_subjects
    train_subjects = args.train_subjects or (saved.get("train_subjects") if same_source else None)
    train, test, info = _load_data(recipe, data, data_dir, train_subjects, test_subjects, need_train=not use_stored)
    _check_provided_keypoints(args.keypoints, data, info)
    if train is not None:
        check_splits(info)
    model_skeleton = ckpt["model_config"].get("skeleton")
    if model_skeleton is not None and test.skeleton.name != model_skeleton:
        raise ValueError(f"checkpoint {path} has a {model_skeleton} model but data {data!r} gives "
                         f"{test.skeleton.name} poses")
    if use_stored and tuple(stored_pose.shape) != (test.skeleton.num_joints, 3):
        raise CheckpointError(f"checkpoint {path}: stored mean pose has shape {tuple(stored_pose.shape)}, the data "
                              f"have {test.skeleton.num_joints} joints")
    if use_stored:
        mean_pose = stored_pose.float()
        pose_source = "stored in the checkpoint: mean pose of the training run's train split"
    else:
        mean_pose = mean_training_pose(train)
        pose_source = f"computed from the train split of {data!r} (subjects {', '.join(info['train_subjects'])})"
    test = test.to(device)
    model = model.to(device)
    tta = recipe.tta if args.tta is None else args.tta
    if args.all_frames:
        max_frames, why = None, "--all-frames"
    elif args.max_frames is not None:
        max_frames, why = args.max_frames, "--max-frames"
    else:
        max_frames = recipe.eval_max_frames
        why = (f"the recipe's end-of-training evaluation (eval_max_frames={max_frames}; --all-frames scores all)"
               if max_frames else "the recipe's end-of-training evaluation scores every frame")
    scored = frames_description(test, max_frames)
    print(f"scoring {scored}: {why}; tta={tta}")
    ev = evaluate(model, test, tta=tta, batch_size=args.batch_size or recipe.eval_batch_size, max_frames=max_frames,
                  mean_pose=mean_pose.to(device), return_predictions=args.save_predictions)
    predictions = ev.pop("predictions", None)
    results = {"recipe": recipe.name, "checkpoint": str(path), "pretrained": args.pretrained,
               "model": ckpt["model_name"], "model_config": ckpt["model_config"],
               "parameters": count_parameters(model), "seed": recipe.seed, "epochs": ckpt.get("epoch"),
               "data": info, **ev, "frames_scored": scored, "frames_why": why, "averages": AVERAGES,
               "mean_pose_source": pose_source, "provenance": ckpt.get("provenance"), "git_commit": git_commit(),
               "device": str(device), "torch": str(torch.__version__)}
    written = write_results(args.out, results, predictions, overwrite=args.overwrite)
    print(_score_line(results) + " -> " + ", ".join(map(str, written)))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import importlib.util

    from .device import resolve_device

    resolve_device(args.device)
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


def cmd_lift(args: argparse.Namespace) -> int:
    if args.check_demo:
        if args.input or args.out:
            raise ValueError("--check-demo takes no INPUT or --out: it lifts data/demo_capture and prints tables")
        from .demo_check import main as demo_main
        return demo_main([] if args.model is None else ["--model", args.model])
    if not args.input or not args.out:
        raise ValueError("lift needs INPUT and --out DIR (or --check-demo)")
    from .keypoints import get_layout
    from .lift import LiftOptions, lift

    if args.layout is not None:
        get_layout(args.layout)                 # an unknown name fails before any work
    res = lift(args.input, args.out, model=args.model, layout=args.layout, overwrite=args.overwrite,
               options=LiftOptions(focal=args.focal, flip=not args.no_flip), image_size=args.image_size)
    for step in res.prepared.steps:
        print(f"  {step}")
    print(f"lifted {len(res.poses_3d)} frames with {res.model} ({res.frames_per_second:.0f} frames/s) -> "
          + ", ".join(map(str, res.files)))
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from .lift import _video_python, detect_keypoints

    out = Path(args.out)
    if out.suffix != ".npz":
        raise ValueError(f"--out {out}: the keypoints are written as .npz; name the file *.npz")
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} already exists; pass --overwrite to replace it")
    if _video_python() is None:
        raise ValueError('detect needs MediaPipe, which is not installed: pip install "poselift-core[video]" '
                         "(MediaPipe 0.10.21 pins numpy<2; use a virtualenv of its own, or set "
                         "POSELIFT_VIDEO_PYTHON to its python)")
    detect_keypoints(args.video, out)
    print(f"wrote {out}")
    return 0


COMMANDS = {"list-recipes": cmd_list_recipes, "train": cmd_train, "evaluate": cmd_evaluate, "bench": cmd_bench,
            "lift": cmd_lift, "detect": cmd_detect}


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None,
            run: Callable[[argparse.Namespace], "int | None"],
            describe: Callable[[BaseException], "str | None"] = error_line) -> int:
    """Parse ``argv`` and call ``run(args)`` under the error contract of the module docstring.

    Returns argparse's status for ``--help`` (0) or a usage error (2, printed on one line by
    :class:`OneLineParser`), ``run``'s status (``None`` counts as 0), 130 on Ctrl-C and 0 when the output pipe
    closes. An exception that ``describe`` turns into a line prints ``error: <line>`` and returns 2; one it
    returns ``None`` for (a bug) keeps its traceback, as does every exception under ``POSELIFT_DEBUG=1``.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:            # --help (0) or a usage error (2, already printed on one line)
        return int(e.code or 0)
    try:
        return run(args) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:          # output piped into `head`
        return 0
    except Exception as e:  # noqa: BLE001 - user errors become one line; set POSELIFT_DEBUG=1 for the traceback
        message = describe(e)
        if os.environ.get("POSELIFT_DEBUG") or message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


def _run_command(args: argparse.Namespace) -> int:
    if getattr(args, "data", None) is not None and args.data not in _data_sources():
        raise ValueError(f"unknown data {args.data!r}; use one of {', '.join(_data_sources())}")
    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)   # on a shared CPU, fewer threads than cores avoids oversubscription
    return COMMANDS[args.command](args)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv, _run_command)


if __name__ == "__main__":
    sys.exit(main())
