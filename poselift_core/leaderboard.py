"""The committed open-benchmark table: every model of the book trained under one budget rule on the open data.

    python -m poselift_core.leaderboard --out data/results      # about 40 minutes on a 2-core CPU

Budget rule: **equal training samples**. Every model sees the same number of training poses (``STEPS`` steps of
``BATCH`` samples; for GLA-GCN a sample is one 27-frame window around its target frame), with its own recipe's
optimiser, learning rate, loss and augmentation, at seed 0 on the CPU with :data:`THREADS` threads, and is then
scored on **every** test camera-frame of the open benchmark (CMU subjects 03 and 131). Equal samples rather than
equal minutes keeps the table independent of the machine it ran on; the training time of each row is stored too.
This is far below the papers' budgets (tens of epochs on Human3.6M): the table ranks models after a short, equal
amount of training on open data, and says nothing about their Human3.6M accuracy.

The output ``open_benchmark_table.json`` holds the rows (model, recipe, parameters, MPJPE and P-MPJPE per action
and per frame, per test subject, mean-pose baseline, training time) and the provenance: command, git commit, data
content hash, wall time, machine, torch version. ``open_benchmark_table.md`` is the same table as Markdown.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from ._bundled_path import bundled_path
from .models.gcn import GCN_VARIANTS

__all__ = ["BoardEntry", "BOARD", "STEPS", "BATCH", "THREADS", "train_entry", "run_board", "read_board",
           "board_rows", "board_markdown", "mean_pose_text", "TABLE_FILE"]

STEPS = 400
BATCH = 64
THREADS = 2
TABLE_FILE = "open_benchmark_table.json"


@dataclass(frozen=True)
class BoardEntry:
    """One row: a label, the recipe it trains and the overrides that make it fit the rule."""

    label: str
    recipe: str
    family: str
    overrides: dict[str, Any] = field(default_factory=dict)


BOARD: list[BoardEntry] = (
    [BoardEntry("SemGCN" if v == "semgcn" else v, f"gcn-{v}-gt", "GCN weight sharing") for v in GCN_VARIANTS]
    + [BoardEntry("GLA-GCN (27 frames)", "glagcn-h36m-gt-27", "GLA-GCN"),
       BoardEntry("GridConv (static)", "gridconv-static-gt", "GridConv"),
       BoardEntry("D-GridConv", "gridconv-gt", "GridConv"),
       BoardEntry("D-GridConv + AutoGrids", "gridconv-autogrids-gt", "GridConv")])


def train_entry(entry: BoardEntry, splits: dict, steps: int = STEPS, batch: int = BATCH,
                progress: bool = False) -> dict[str, Any]:
    """Train one entry under the rule and return its row (scores on every test frame)."""
    from .models import count_parameters
    from .recipes import get_recipe
    from .train import RunConfig, Trainer

    recipe = get_recipe(entry.recipe, profile="full", seed=0, epochs=1, max_steps_per_epoch=steps, batch_size=batch,
                        eval_max_frames=None, **entry.overrides)
    key = recipe.joints
    if key not in splits:
        from .sources import load_data
        splits[key] = load_data(recipe, "open", None, "cpu")
    train_set, test_set, info = splits[key]
    trainer = Trainer(RunConfig(recipe, data="open", device="cpu", progress=progress), train_set, test_set, info)
    t0 = time.time()
    res = trainer.fit()
    keys = ("mpjpe", "p_mpjpe", "mpjpe_frames", "p_mpjpe_frames", "mean_pose_mpjpe", "mean_pose_mpjpe_frames",
            "frames", "train_time_s", "eval_time_s", "samples_seen")
    row = {"model": entry.label, "family": entry.family, "recipe": entry.recipe, "joints": recipe.joints,
           "parameters": count_parameters(trainer.model), "steps": res.get("steps"), "batch_size": batch,
           "wall_time_s": round(time.time() - t0, 1), **{k: res.get(k) for k in keys}}
    row["per_subject"] = {s: {k: v for k, v in d.items() if k in ("mpjpe", "p_mpjpe", "mpjpe_frames", "frames",
                                                                   "mean_pose_mpjpe")}
                          for s, d in (res.get("per_subject") or {}).items()}
    return row


def run_board(out_dir: "str | Path", names: "Sequence[str] | None" = None, steps: int = STEPS,
              batch: int = BATCH) -> Path:
    """Train every entry (or those labelled ``names``) and write the table files; returns the JSON path."""
    from .data.open_benchmark import read_open_mm
    from .pretrained import cpu_name
    from .train import git_commit

    torch.set_num_threads(THREADS)
    entries = [e for e in BOARD if names is None or e.label in names]
    splits: dict = {}
    rows = []
    t0 = time.time()
    for e in entries:
        print(f"[{len(rows) + 1}/{len(entries)}] {e.label} ({e.recipe})", flush=True)
        rows.append(train_entry(e, splits, steps, batch))
        r = rows[-1]
        print(f"    MPJPE {r['mpjpe']:.1f} mm, P-MPJPE {r['p_mpjpe']:.1f} mm, mean pose {r['mean_pose_mpjpe']:.1f} mm, "
              f"train {r['train_time_s']:.0f} s", flush=True)
    _, meta, _ = read_open_mm()
    doc = {
        "title": "Open benchmark: every model of the book after the same number of training samples",
        "rule": f"equal training samples: {steps} steps x batch {batch} = {steps * batch:,} samples per model, "
                "each with its own recipe's optimiser, learning rate, loss and augmentation; seed 0; scored on every "
                "test camera-frame (CMU 03 and 131, four cameras); open-data results, not Human3.6M",
        "averages": "mpjpe / p_mpjpe: mean over actions (clips) of each clip's frame mean; *_frames: mean over frames",
        "command": "python -m poselift_core.leaderboard" + ("" if names is None else " --only " +
                                                           " ".join(repr(n) for n in names))
                   + (f" --steps {steps}" if steps != STEPS else "") + (f" --batch {batch}" if batch != BATCH else ""),
        "git_commit": git_commit(), "data": "open", "data_content_sha256": meta.get("content_sha256"),
        "wall_time_s": round(time.time() - t0, 1), "threads": THREADS,
        "machine": f"{platform.machine()} {cpu_name() or platform.processor() or 'unknown CPU'}",
        "torch": str(torch.__version__),
        "date": time.strftime("%Y-%m-%d"), "rows": rows,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / TABLE_FILE
    path.write_text(json.dumps(doc, indent=1) + "\n")
    path.with_suffix(".md").write_text(board_markdown(doc))
    return path


def read_board(path: "str | Path | None" = None) -> dict[str, Any]:
    """The committed table (``data/results/open_benchmark_table.json`` by default)."""
    p = Path(path) if path is not None else bundled_path("results", TABLE_FILE)
    if not p.is_file():
        raise FileNotFoundError(f"no open-benchmark table at {p}; make it with `python -m poselift_core.leaderboard`")
    return json.loads(p.read_text())


def board_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows for :func:`poselift_core.tables.html_table`: per-subject MPJPE as columns ``mpjpe_<subject>``,
    sorted by MPJPE, with the ratio to the mean training pose."""
    out = []
    for r in sorted(doc["rows"], key=lambda r: r["mpjpe"]):
        row = {k: v for k, v in r.items() if k != "per_subject"}
        row["ratio"] = r["mpjpe"] / r["mean_pose_mpjpe"] if r.get("mean_pose_mpjpe") else None
        for s, d in r.get("per_subject", {}).items():
            row[f"mpjpe_{s}"] = d.get("mpjpe")
        out.append(row)
    return out


def mean_pose_text(rows: Sequence[dict[str, Any]]) -> str:
    """``"187.8 mm MPJPE (16-joint rows), 184.0 mm MPJPE (17-joint rows)"``: the baseline per joint set of the rows."""
    base = {r["joints"]: r["mean_pose_mpjpe"] for r in rows}
    return ", ".join(f"{v:.1f} mm MPJPE ({j}-joint rows)" for j, v in sorted(base.items()))


def board_markdown(doc: dict[str, Any]) -> str:
    rows = board_rows(doc)
    subjects = sorted({k[6:] for r in rows for k in r if k.startswith("mpjpe_") and k != "mpjpe_frames"})
    head = ["model", "parameters", "MPJPE (mm)", "P-MPJPE (mm)", "MPJPE, frames (mm)"] + \
        [f"MPJPE {s} (mm)" for s in subjects] + ["/ mean pose", "train (s)"]
    lines = [f"# {doc['title']}", "", f"Rule: {doc['rule']}.", f"Averages: {doc['averages']}.", "",
             f"Command: `{doc['command']}`; commit {doc['git_commit']}; data sha256 {doc['data_content_sha256']}; "
             f"{doc['wall_time_s']:.0f} s on {doc['machine']} ({doc['threads']} threads, torch {doc['torch']}), "
             f"{doc['date']}.", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"], f"{r['parameters']:,}", f"{r['mpjpe']:.1f}", f"{r['p_mpjpe']:.1f}",
                 f"{r['mpjpe_frames']:.1f}"] + [f"{r.get(f'mpjpe_{s}', float('nan')):.1f}" for s in subjects] + \
            [f"{r['ratio']:.2f}", f"{r['train_time_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Mean training pose on the same frames: {mean_pose_text(rows)}."]
    return "\n".join(lines) + "\n"


def main(argv: "Sequence[str] | None" = None) -> int:
    p = argparse.ArgumentParser(prog="python -m poselift_core.leaderboard",
                                description="Train every model of the book on the open benchmark under one budget "
                                            "rule (equal training samples) and write the committed table.")
    p.add_argument("--out", default=str(bundled_path("results")), help="output folder (default: data/results)")
    p.add_argument("--only", nargs="*", default=None, metavar="LABEL", help="train only these rows (labels)")
    p.add_argument("--steps", type=int, default=STEPS, help=f"training steps per model (default {STEPS})")
    p.add_argument("--batch", type=int, default=BATCH, help=f"batch size (default {BATCH})")
    args = p.parse_args(argv)
    labels = [e.label for e in BOARD]
    bad = [n for n in args.only or [] if n not in labels]
    if bad or args.steps < 1 or args.batch < 1:
        print(f"error: unknown row(s) {bad}; rows: {labels}" if bad else "error: --steps and --batch must be >= 1",
              file=sys.stderr)
        return 2
    path = run_board(args.out, args.only, args.steps, args.batch)
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
