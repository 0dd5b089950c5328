"""Pretrained lifters trained on the open benchmark, shipped in ``data/pretrained/``.

One model per family, each trained on a CPU by one deterministic command (fixed seed and thread count)::

    python -m poselift_core.pretrained build modgcn-open      # or: build --all

which writes ``data/pretrained/<name>.pt`` (the weights in float16, the model's name and configuration, the
recipe and the provenance: command, commit, data hash, training time, machine) and ``<name>.json`` (the same
provenance and the test scores, readable without torch). A spec with ``members > 1`` trains that many runs with
seeds ``0, 1, ...`` and ships the average of their predictions (``modgcn-open``: three runs, see
:class:`~poselift_core.models.ensemble.MeanEnsemble`); finished runs are kept until the file is written, so an
interrupted build resumes with the next one. The ``.pt`` file holds only tensors and plain
containers, so ``torch.load(path, weights_only=True)`` reads it and nothing in it can run code.

>>> from poselift_core import pretrained
>>> pretrained.available()
['modgcn-open', 'dgridconv-open', 'glagcn27-open']
>>> model = pretrained.load("modgcn-open")      # nn.Module in eval mode
>>> pose3d = model(x2d)                          # x2d: (B, 17, 2) normalised screen coordinates -> (B, 17, 3) m

Inputs are the normalised screen coordinates of chapter 2, "Normalising the 2D input" (pixels mapped
so that the image width spans [-1, 1]); outputs are root-relative camera-space joints in metres. GLA-GCN takes
a window ``(B, T, 17, 2)`` of ``T = model.receptive_field`` frames and returns the centre frame ``(B, 1, 17, 3)``.
The widths are reduced where a CPU cannot train the paper size in minutes (each spec says so).
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch
import torch.nn as nn

from ._bundled_path import bundled_path

if TYPE_CHECKING:
    from .recipes import Recipe
    from .train import Trainer

__all__ = ["PretrainedSpec", "PRETRAINED", "VIDEO_AUGMENTATION", "available", "checkpoint_path", "info", "load",
           "build", "train_stage", "train_member", "score", "cpu_name",
           "rescore"]

PRETRAINED_DIR = bundled_path("pretrained")  # data/pretrained of a checkout, the packaged copy after an install
FORMAT_VERSION = 1
THREADS = 2  # thread count changes floating-point sums: fixed so the command reproduces the weights


@dataclass(frozen=True)
class PretrainedSpec:
    """How one shipped model is trained: a named recipe of :mod:`poselift_core.recipes` plus overrides.

    ``finetune``: recipe overrides (on top of ``overrides``) of a second stage that continues from the first
    stage's weights with a fresh optimiser; empty: one stage. ``members``: how many runs of the whole recipe,
    with seeds ``0 .. members-1``, are trained; more than one ships their average
    (:class:`~poselift_core.models.ensemble.MeanEnsemble`).
    """

    recipe: str
    overrides: dict[str, Any] = field(default_factory=dict)
    family: str = ""
    note: str = ""
    finetune: dict[str, Any] = field(default_factory=dict)
    members: int = 1


#: The view augmentation of the video lifter's second stage (:class:`poselift_core.augmentation.ViewAugmentation`):
#: bones +-15 %, derived joints 3 cm, camera 0.6-1.5x as far, focal 0.8-1.25x, 2D noise up to 0.015 (7.5 px per
#: 1000). Chosen on the demo capture over +-10 % / 2 cm / 0.01 and over twice the steps (chapter 7 gives the table).
VIDEO_AUGMENTATION = {"bone_scale": 0.15, "joint_offset": 0.03, "depth": (0.6, 1.5), "focal": (0.8, 1.25),
                      "noise_2d": 0.015}

PRETRAINED: dict[str, PretrainedSpec] = {
    "modgcn-open": PretrainedSpec(
        recipe="gcn-modulated-gt", family="GCN (modulated)",
        overrides={"joints": 17, "epochs": 6, "max_steps_per_epoch": 1000, "batch_size": 64,
                   "schedule": "cosine", "eval_max_frames": None},
        note="paper width (128 channels, 4 residual blocks); 17 joints so that it lifts detector keypoints "
             "mapped to H36M-17; 6,000 steps of 64 with a cosine decay instead of the paper's 50 epochs, then "
             "1,500 steps of view augmentation (other proportions, joint definitions, camera distances and focal "
             "lengths, 2D noise) so that it lifts other people's videos (chapter 7); three such runs (seeds 0, 1, "
             "2) whose predictions are averaged, because on real detections one run differs from the next by "
             "more than the augmentation gains",
        finetune={"augment": VIDEO_AUGMENTATION, "lr": 2e-4, "epochs": 15, "max_steps_per_epoch": 100,
                  "schedule": "cosine", "loss": "mpjpe", "grad_clip": None},
        members=3),
    "dgridconv-open": PretrainedSpec(
        recipe="gridconv-gt", family="GridConv (D-GridConv)",
        overrides={"model_overrides": {"hidden": 128}, "epochs": 4, "max_steps_per_epoch": 400,
                   "batch_size": 64, "eval_max_frames": None},
        note="reduced width: 128 hidden channels instead of 256 (a quarter of the parameters) so that a CPU "
             "trains it in minutes; 1,600 steps of 64"),
    "glagcn27-open": PretrainedSpec(
        recipe="glagcn-h36m-gt-27", family="GLA-GCN (27 frames)",
        overrides={"model_overrides": {"channels": 48}, "epochs": 4, "max_steps_per_epoch": 400,
                   "batch_size": 16, "eval_max_frames": None},
        note="reduced width: 48 channels instead of 96 (a quarter of the parameters); 27-frame receptive field; "
             "1,600 steps of 16 windows"),
}


def available() -> list[str]:
    """Names of the pretrained models whose weights are present."""
    return [n for n in PRETRAINED if checkpoint_path(n, must_exist=False).is_file()]


def checkpoint_path(name: str, must_exist: bool = True) -> Path:
    """``data/pretrained/<name>.pt``; an unknown name (or missing file) raises ``ValueError`` naming the known."""
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; known: {', '.join(PRETRAINED)}")
    path = PRETRAINED_DIR / f"{name}.pt"
    if must_exist and not path.is_file():
        raise ValueError(f"pretrained weights {path} are missing; make them with "
                         f"`python -m poselift_core.pretrained build {name}`")
    return path


def info(name: str) -> dict[str, Any]:
    """Provenance and test scores of a pretrained model (its ``.json`` file)."""
    return json.loads(checkpoint_path(name).with_suffix(".json").read_text())


def load(name: str, device: "str | torch.device" = "cpu") -> nn.Module:
    """The pretrained model ``name`` in eval mode, float32, on ``device``."""
    from .checkpoint import load_model

    return load_model(checkpoint_path(name)).to(device)


# ------------------------------------------------------------------------------------------ training
def _plain(value: Any) -> Any:
    """JSON/weights_only-safe copy: tuples become lists, everything else unchanged."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def train_stage(recipe: Recipe, data_dir: str | None = None, progress: bool = True,
                start: dict[str, torch.Tensor] | None = None) -> tuple[Trainer, dict[str, Any]]:
    """Train ``recipe`` on the open benchmark on the CPU with :data:`THREADS` threads, from ``start`` (a model
    state dict, e.g. the previous stage's; None: the recipe's initialisation). Returns the trainer and its results."""
    from .train import RunConfig, Trainer

    torch.set_num_threads(THREADS)
    trainer = Trainer(RunConfig(recipe, data="open", data_dir=data_dir, device="cpu", progress=progress))
    if start is not None:
        trainer.model.load_state_dict(start)
    return trainer, trainer.fit()


def _member_cache(out: Path, name: str, seed: int) -> Path:
    return out / f".{name}-members" / f"seed{seed}.pt"


def train_member(spec: PretrainedSpec, seed: int, data_dir: "str | None" = None, progress: bool = True,
                 cache: "Path | None" = None, data_sha: "str | None" = None) -> tuple[nn.Module, list[dict]]:
    """One run of ``spec``'s recipe (both stages) with ``seed``: ``(model in eval mode, per-stage records)``.

    ``cache``: a file where the finished run is kept (written atomically) and taken from next time when its
    recipe and data hash are the same, so an interrupted multi-member build loses at most the member in
    progress; the stages of a run taken from it are marked ``reused`` (their times are the original run's).
    """
    from .checkpoint import model_config_dict, read_checkpoint, save_checkpoint
    from .models import build_model
    from .recipes import get_recipe

    recipe = get_recipe(spec.recipe, profile="full", seed=seed, **spec.overrides)
    plan = _plain({"recipe": asdict(recipe), "finetune": spec.finetune, "data_content_sha256": data_sha})
    if cache is not None and cache.is_file():
        kept = read_checkpoint(cache)
        if kept.get("plan") == plan:
            model = build_model(kept["model_name"], **kept["model_config"])
            model.load_state_dict(kept["model"])
            if progress:
                print(f"seed {seed}: finished run taken from {cache}", file=sys.stderr)
            return model.eval(), [dict(st, reused=True) for st in kept["stages"]]
    trainer, results = train_stage(recipe, data_dir, progress)
    stages = [{"seed": seed, "steps": results.get("steps"), "train_time_s": results.get("train_time_s")}]
    if spec.finetune:
        trainer, results = train_stage(recipe.replace(**spec.finetune), data_dir, progress,
                                       start=trainer.model.state_dict())
        stages.append({"seed": seed, "steps": results.get("steps"), "train_time_s": results.get("train_time_s"),
                       "overrides": _plain(spec.finetune)})
    model = trainer.model.eval()
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint({"format_version": FORMAT_VERSION, "plan": plan, "stages": stages,
                         "model_name": recipe.model, "model_config": _plain(model_config_dict(model)),
                         "model": model.state_dict()}, cache)
    return model, stages


def build(name: str, out_dir: "str | Path | None" = None, data_dir: "str | None" = None,
          progress: bool = True) -> Path:
    """Train pretrained model ``name`` on the open benchmark (CPU, seeds ``0 .. members-1``, :data:`THREADS`
    threads) and write ``<out_dir>/<name>.pt`` and ``.json`` (default ``data/pretrained/``); returns the ``.pt``
    path. Finished members are kept in ``<out_dir>/.<name>-members/`` until the model is written."""
    import shutil

    from .checkpoint import model_config_dict, save_checkpoint
    from .data.open_benchmark import read_open_mm
    from .models import count_parameters
    from .models.ensemble import MeanEnsemble
    from .recipes import get_recipe
    from .train import git_commit

    spec = PRETRAINED[name] if name in PRETRAINED else None
    if spec is None:
        raise ValueError(f"unknown pretrained model {name!r}; known: {', '.join(PRETRAINED)}")
    out = Path(out_dir) if out_dir is not None else PRETRAINED_DIR
    _, meta, _ = read_open_mm(data_dir)
    data_sha = meta.get("content_sha256")
    t0 = time.time()
    models, stages = [], []
    for seed in range(spec.members):
        cache = _member_cache(out, name, seed) if spec.members > 1 else None
        model, member_stages = train_member(spec, seed, data_dir, progress, cache, data_sha)
        models.append(model)
        stages += member_stages
    wall = time.time() - t0
    recipe = get_recipe(spec.recipe, profile="full", seed=0, **spec.overrides)
    if spec.finetune:
        recipe = recipe.replace(**spec.finetune)
    model = models[0] if spec.members == 1 else MeanEnsemble(models).eval()
    provenance = {
        "name": name, "family": spec.family, "note": spec.note, "recipe": spec.recipe,
        "overrides": _plain(spec.overrides),
        "command": f"python -m poselift_core.pretrained build {name}",
        "git_commit": git_commit(), "data": "open", "data_content_sha256": data_sha,
        "train_time_s": round(sum(st["train_time_s"] or 0 for st in stages), 1), "wall_time_s": round(wall, 1),
        "threads": THREADS, "stages": stages,
        "machine": f"{platform.machine()} {platform.processor() or ''} {cpu_name()}".strip(),
        "torch": str(torch.__version__), "python": platform.python_version(), "seed": recipe.seed,
        "members": spec.members, "seeds": list(range(spec.members)),
        "parameters": count_parameters(model), "steps": sum(st["steps"] or 0 for st in stages),
        "storage": "float16 weights (float32 in memory after load)",
    }
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    ckpt = {"format_version": FORMAT_VERSION, "model_name": recipe.model,
            "model_config": _plain(model_config_dict(model)), "model": state,
            "recipe": _plain(asdict(recipe)), "run_config": {"data": "open"}, "provenance": _plain(provenance)}
    if spec.members > 1:
        ckpt["ensemble_size"] = spec.members
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.pt"
    save_checkpoint(ckpt, path)
    path.with_suffix(".json").write_text(json.dumps(provenance, indent=1, default=str) + "\n")
    rescore(name, out, data_dir)       # the JSON's scores are those of the shipped float16 weights
    shutil.rmtree(out / f".{name}-members", ignore_errors=True)
    return path


def score(name: str, path: "str | Path | None" = None, data_dir: "str | None" = None,
          device: "str | torch.device" = "cpu") -> dict[str, Any]:
    """Scores of the shipped weights on every test camera-frame of the open benchmark: ``mpjpe``/``p_mpjpe``
    (per action, as the papers average), ``*_frames`` (per frame), the mean training pose on the same frames
    and ``per_subject``; test-time flip averaging as the model's recipe says. For an average of runs also
    ``members``: each run's ``mpjpe``, ``p_mpjpe`` and ``mpjpe_frames`` with its ``seed``."""
    from .checkpoint import model_from_checkpoint, read_checkpoint
    from .evaluate import evaluate, mean_training_pose
    from .models.ensemble import MeanEnsemble
    from .recipes import Recipe
    from .sources import load_data

    path = Path(path) if path is not None else checkpoint_path(name)
    ckpt = read_checkpoint(path)
    model = model_from_checkpoint(ckpt, path).to(device).eval()
    recipe = Recipe(**ckpt["recipe"])
    train, test, _ = load_data(recipe, "open", data_dir, device, need_train="mean_pose" not in ckpt)
    mean_pose = ckpt["mean_pose"].to(device) if "mean_pose" in ckpt else mean_training_pose(train)
    res = evaluate(model, test, tta=recipe.tta, batch_size=recipe.eval_batch_size, mean_pose=mean_pose)
    keep = ("mpjpe", "p_mpjpe", "mpjpe_frames", "p_mpjpe_frames", "mean_pose_mpjpe", "mean_pose_mpjpe_frames",
            "per_subject", "frames", "tta")
    out = {k: res[k] for k in keep if k in res}
    if isinstance(model, MeanEnsemble):          # each run on its own, to show what averaging them gains
        out["members"] = []
        seeds = (ckpt.get("provenance") or {}).get("seeds") or list(range(len(model.members)))
        for seed, member in zip(seeds, model.members):
            r = evaluate(member, test, tta=recipe.tta, batch_size=recipe.eval_batch_size)
            out["members"].append({"seed": seed, **{k: r[k] for k in ("mpjpe", "p_mpjpe", "mpjpe_frames")}})
    return out


def rescore(name: str, out_dir: "str | Path | None" = None, data_dir: "str | None" = None) -> dict[str, Any]:
    """Recompute :func:`score` for the file in ``out_dir`` (default ``data/pretrained``), store the mean training
    pose in the ``.pt`` when it lacks one, and write the scores into the ``.json``."""
    from .checkpoint import save_checkpoint
    from .evaluate import mean_training_pose
    from .recipes import get_recipe
    from .sources import load_data

    out = Path(out_dir) if out_dir is not None else PRETRAINED_DIR
    path = out / f"{name}.pt"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if "mean_pose" not in ckpt:
        spec = PRETRAINED[name]
        train, _, _ = load_data(get_recipe(spec.recipe, **spec.overrides), "open", data_dir, "cpu")
        ckpt["mean_pose"] = mean_training_pose(train)
        save_checkpoint(ckpt, path)
    scores = score(name, path, data_dir)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["test"] = _plain(scores)
    meta["test_note"] = ("every test camera-frame of the open benchmark (CMU 03 and 131, 4 cameras), float16 weights "
                         "as shipped; mpjpe/p_mpjpe: mean over clips, *_frames: mean over frames")
    meta_path.write_text(json.dumps(meta, indent=1, default=str) + "\n")
    return scores


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), for provenance records; ``""`` when unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def main(argv: "Sequence[str] | None" = None) -> int:
    p = argparse.ArgumentParser(prog="python -m poselift_core.pretrained",
                                description="List or (re)train the pretrained open-benchmark models.")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the pretrained models and their test scores")
    b = sub.add_parser("build", help="train pretrained model(s) on the open benchmark (CPU, deterministic)")
    b.add_argument("names", nargs="*", help=f"models to train (default with --all: {', '.join(PRETRAINED)})")
    b.add_argument("--all", action="store_true", help="train every pretrained model")
    b.add_argument("--out", default=None, help="output folder (default: data/pretrained of the repository)")
    r = sub.add_parser("rescore", help="score shipped weights on every open test frame and update their .json")
    r.add_argument("names", nargs="+", help="models to score")
    args = p.parse_args(argv)
    if args.cmd == "rescore":
        for n in args.names:
            t = rescore(n)
            print(f"{n}: MPJPE {t['mpjpe']:.1f} mm, P-MPJPE {t['p_mpjpe']:.1f} mm, mean pose {t['mean_pose_mpjpe']:.1f} mm")
        return 0
    if args.cmd == "list":
        for n in PRETRAINED:
            if n in available():
                t = info(n)["test"]
                print(f"{n:<16} MPJPE {t['mpjpe']:.1f} mm  P-MPJPE {t['p_mpjpe']:.1f} mm  ({PRETRAINED[n].family})")
            else:
                print(f"{n:<16} (not built)")
        return 0
    names = list(PRETRAINED) if args.all else args.names
    if not names:
        p.error("name a model or pass --all")
    for n in names:
        if n not in PRETRAINED:
            print(f"error: unknown pretrained model {n!r}; known: {', '.join(PRETRAINED)}", file=sys.stderr)
            return 2
    for n in names:
        path = build(n, args.out)
        t = json.loads(path.with_suffix(".json").read_text())
        print(f"wrote {path}: MPJPE {t['test'].get('mpjpe', float('nan')):.1f} mm, {t['wall_time_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
