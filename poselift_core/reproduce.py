"""Run the book's notebooks as a batch with papermill and collect their results into one table.

    python -m poselift_core.reproduce --profile full --data h36m --data-dir DIR --out runs/ [--notebooks 03,04]

Notebook conventions (book/reproduce.md), which ``make book`` relies on too:

- the first code cell is tagged ``parameters`` and defines ``profile`` ("quick" | "full"), ``data`` ("open" |
  "sample" | "h36m" | ...), ``data_dir``, ``device`` ("auto" | "cpu" | "cuda") and ``out_dir`` (default ``"runs"``); papermill
  overrides them in a cell it inserts after that one;
- a notebook that measures models calls :func:`save_results` (``<out_dir>/results_<name>.json``: rows in the
  one format of :class:`poselift_core.results.RunRow`, with ``model``, ``data``, ``mpjpe``, ``p_mpjpe`` in mm,
  ``parameters``, ...); this module gathers every such file into ``<out_dir>/results.md`` and ``results.json``.

On Colab, :func:`colab_out_dir` moves a notebook's ``out_dir`` onto Google Drive, so results and checkpoints
survive a disconnect.

papermill is imported only when notebooks are executed, so ``--help`` and the helpers work without it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

__all__ = [
    "in_colab",
    "DRIVE_MOUNT",
    "colab_out_dir",
    "resolve_device",
    "book_notebooks",
    "select_notebooks",
    "execute_notebook",
    "run_notebooks",
    "save_results",
    "collect_results",
    "results_markdown",
    "write_results_table",
    "main",
]

RESULT_COLUMNS = ("model", "data", "mpjpe", "p_mpjpe", "parameters")


# --------------------------------------------------------------------------- environment helpers for notebooks
def in_colab() -> bool:
    """True inside Google Colab (its kernel has imported ``google.colab``)."""
    return "google.colab" in sys.modules


#: Where Colab mounts Google Drive; the book's folder on Drive is ``<DRIVE_MOUNT>/MyDrive/poselift``.
DRIVE_MOUNT = "/content/drive"


def colab_out_dir(out_dir: str = "runs", use_drive: bool = True, mountpoint: str = DRIVE_MOUNT) -> str:
    """The folder a notebook should write its results and checkpoints to: on Google Drive when on Colab.

    On Colab with ``use_drive``, mounts Google Drive at ``mountpoint`` (Colab asks for permission once) and
    returns ``<mountpoint>/MyDrive/poselift/<out_dir>`` for a relative ``out_dir`` (an absolute one is kept: the
    caller chose it). Files there outlive the runtime, so after a disconnect a full-profile chapter run again
    resumes from its checkpoints and chapter 6 collects what chapters 3-5 wrote. It also creates
    ``<mountpoint>/MyDrive/poselift/h36m`` and says to put the Human3.6M ``.npz`` files there (then
    ``data="h36m"``, ``data_dir`` that folder). Elsewhere, or with ``use_drive=False``, returns ``out_dir``
    unchanged and mounts nothing (on Colab the files then live in the runtime and vanish with it); so does a
    refused or failed mount, after saying so.
    """
    if not (in_colab() and use_drive):
        return out_dir
    root = Path(mountpoint) / "MyDrive" / "poselift"
    if not (Path(mountpoint) / "MyDrive").is_dir():          # mounted already when a cell runs twice
        from google.colab import drive

        try:
            drive.mount(str(mountpoint))
        except Exception as exc:   # permission refused, timed out: the chapter still runs, in the runtime
            print(f"Google Drive not mounted ({type(exc).__name__}: {exc}); results and checkpoints stay in "
                  f"{out_dir} inside this runtime and are lost when it disconnects.", flush=True)
            return out_dir
    target = Path(out_dir) if os.path.isabs(out_dir) else root / out_dir
    target.mkdir(parents=True, exist_ok=True)
    (root / "h36m").mkdir(parents=True, exist_ok=True)
    on_drive = target.resolve().is_relative_to(Path(mountpoint).resolve())
    print(f"Results and checkpoints go to {target}" + (": on Google Drive, so after a disconnect the chapter run "
          "again resumes its full-profile runs." if on_drive else " (not on Google Drive: lost with the runtime).")
          + f" Human3.6M: put data_3d_h36m.npz and data_2d_h36m_<keypoints>.npz "
          f"in {root / 'h36m'} and set data = \"h36m\", data_dir = \"{root / 'h36m'}\".", flush=True)
    return str(target)


def resolve_device(device: str = "auto") -> str:
    """:func:`poselift_core.device.resolve_device` as a string (``"cuda"``, ``"mps"``, ``"cpu"``, ``"cuda:1"``).

    Explicit names are checked (``"gpu"`` means ``"cuda"``; a device this machine lacks raises ``ValueError``).
    On Colab without a GPU it says how to switch the runtime, the step readers most often forget.
    """
    from .device import resolve_device as resolve

    resolved = str(resolve(device))
    if device == "auto" and resolved == "cpu" and in_colab():
        print("No GPU in this Colab runtime: Runtime > Change runtime type > GPU (T4), then re-run. "
              "The quick profile also runs on the CPU.")
    return resolved


# --------------------------------------------------------------------------- which notebooks
def _toc_files(node: Any) -> Iterable[str]:
    """Every ``file:`` entry of a Jupyter Book ``_toc.yml`` (root, parts, chapters, sections), in order."""
    if isinstance(node, Mapping):
        if "root" in node:
            yield str(node["root"])
        if "file" in node:
            yield str(node["file"])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                yield from _toc_files(child)
    elif isinstance(node, list):
        for child in node:
            yield from _toc_files(child)


def book_notebooks(root: str | Path = ".") -> list[Path]:
    """The notebooks of the book in reading order: the ``.ipynb`` entries of ``root/_toc.yml``.

    Without a ``_toc.yml``: ``root/notebooks/*.ipynb`` sorted by name. An entry that is neither a notebook nor a
    markdown page raises ``FileNotFoundError`` naming it, so a TOC typo fails the build instead of dropping a chapter.
    """
    root = Path(root)
    toc = root / "_toc.yml"
    if not toc.exists():
        return sorted((root / "notebooks").glob("*.ipynb"))
    import yaml  # a papermill and jupyter-book dependency; not needed for --help

    notebooks = []
    for entry in _toc_files(yaml.safe_load(toc.read_text())):
        path = root / entry
        candidates = [path] if path.suffix else [path.with_suffix(".ipynb"), path.with_suffix(".md")]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise FileNotFoundError(f"{toc}: entry {entry!r} matches no file ({', '.join(map(str, candidates))})")
        if found.suffix == ".ipynb":
            notebooks.append(found)
    return notebooks


def select_notebooks(notebooks: Sequence[Path], spec: str | None) -> list[Path]:
    """Filter by a comma list of stems or stem prefixes (``"03,04"`` or ``"04_glagcn"``); ``None`` keeps all."""
    if not spec:
        return list(notebooks)
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    chosen = [nb for nb in notebooks if any(nb.stem == w or nb.stem.startswith(w) for w in wanted)]
    unknown = [w for w in wanted if not any(nb.stem.startswith(w) for nb in notebooks)]
    if unknown:
        raise ValueError(f"--notebooks {unknown} match none of {[nb.stem for nb in notebooks]}")
    return chosen


# --------------------------------------------------------------------------- execution
def execute_notebook(src: str | Path, dst: str | Path, parameters: Mapping[str, Any], kernel: str | None = None,
                     timeout: float | None = None, cwd: str | Path | None = None) -> float:
    """Execute ``src`` into ``dst`` with papermill, injecting ``parameters``; returns the wall time in seconds.

    Raises papermill's ``PapermillExecutionError`` on a failed cell (``dst`` still holds the traceback).
    ``timeout`` bounds every cell, so a stalled kernel fails instead of hanging the build.
    """
    import papermill

    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(str(src), str(dst), parameters=dict(parameters), kernel_name=kernel,
                               execution_timeout=timeout, cwd=None if cwd is None else str(cwd),
                               progress_bar=False)
    return time.perf_counter() - start


def run_notebooks(notebooks: Sequence[Path], out_dir: str | Path, parameters: Mapping[str, Any],
                  kernel: str | None = None, timeout: float | None = None, cwd: str | Path | None = None,
                  times_file: str | Path | None = None, log: Callable[[str], None] = print) -> dict[str, dict]:
    """Execute each notebook into ``out_dir/<its path relative to cwd>``; keep going after a failure.

    The kernel runs in ``cwd`` (the repository root, so relative data paths work). Returns ``{source path relative
    to cwd: {"seconds": float, "ok": bool, "error": str | None}}``, also written as JSON to ``times_file`` when
    given. The caller decides what a failure means (the book build exits non-zero).
    """
    report: dict[str, dict] = {}
    for nb in notebooks:
        key = Path(os.path.relpath(nb, cwd)).as_posix() if cwd is not None else Path(nb).name
        key = Path(nb).name if key.startswith("../") else key  # never write outside out_dir
        start = time.perf_counter()
        try:
            seconds, error = execute_notebook(nb, Path(out_dir) / key, parameters, kernel, timeout, cwd), None
        except Exception as exc:  # papermill's execution error, a timeout, a dead kernel: report, go on
            seconds, error = time.perf_counter() - start, f"{type(exc).__name__}: {str(exc).strip()[-2000:]}"
        report[key] = {"seconds": round(seconds, 2), "ok": error is None, "error": error}
        log(f"{'ok  ' if error is None else 'FAIL'} {key:45s} {seconds:7.1f} s")
        if error:
            log(error)
    if times_file is not None:
        Path(times_file).parent.mkdir(parents=True, exist_ok=True)
        Path(times_file).write_text(json.dumps(report, indent=2) + "\n")
    return report


# --------------------------------------------------------------------------- results
def save_results(name: str, rows: Any, out_dir: str | Path = "runs", overwrite: bool = False) -> Path:
    """Write a notebook's results to ``out_dir/results_<name>.json`` (atomically); returns the path.

    ``rows``: one or a list of :class:`~poselift_core.results.RunRow`, row dicts (each needs ``model`` and
    ``data``) or whole results dicts of the trainer; all are written as rows by
    :func:`poselift_core.results.write_rows`, with ``source`` = ``name`` where they name none. An existing file
    of that name is refused (``FileExistsError`` naming it) unless ``overwrite``.
    """
    from .results import RunRow, run_row, write_rows

    rows = [rows] if isinstance(rows, (Mapping, RunRow)) else list(rows)
    for i, row in enumerate(rows):
        missing = [] if isinstance(row, RunRow) else [k for k in ("model", "data") if k not in row]
        if missing:
            raise ValueError(f"save_results({name!r}): row {i} lacks {missing}: {row}")
    return write_rows(Path(out_dir) / f"results_{name}.json", [run_row(r, source=name) for r in rows], overwrite)


def collect_results(out_dir: str | Path) -> list[dict]:
    """Every row of ``out_dir`` as :func:`poselift_core.results.load_run_results` reads it (the
    ``results_*.json`` files sorted by name, each row's ``source`` its file's name; else the runs' own
    ``*/results.json``)."""
    from .results import load_run_results

    return load_run_results(out_dir)


def _fmt(value: Any, column: str) -> str:
    if value is None:
        return "–"
    if column == "parameters":
        return f"{value / 1e6:.2f} M"
    return f"{value:.1f}" if isinstance(value, (int, float)) else str(value)


def results_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A markdown table: model, data, MPJPE (mm), P-MPJPE (mm), parameters, source notebook."""
    header = "| model | data | MPJPE (mm) | P-MPJPE (mm) | params | source |\n|---|---|---:|---:|---:|---|\n"
    lines = [f"| {' | '.join(_fmt(r.get(c), c) for c in RESULT_COLUMNS)} | {r.get('source', '')} |" for r in rows]
    return header + "\n".join(lines) + ("\n" if lines else "")


def write_results_table(out_dir: str | Path) -> list[dict]:
    """Collect the rows of ``out_dir`` (:func:`collect_results`) into ``out_dir/results.md`` and
    ``out_dir/results.json`` (a list of row dicts)."""
    rows = collect_results(out_dir)
    Path(out_dir, "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    Path(out_dir, "results.md").write_text(results_markdown(rows))
    return rows


# --------------------------------------------------------------------------- command line
def main(argv: Sequence[str] | None = None) -> int:
    from .sources import DATA_SOURCES

    p = argparse.ArgumentParser(prog="python -m poselift_core.reproduce",
                                description="Execute the book's notebooks with papermill and collect their results "
                                            "into OUT/results.md and OUT/results.json.")
    p.add_argument("--profile", default="full", choices=("quick", "full"),
                   help="recipe profile passed to every notebook (default: full)")
    p.add_argument("--data", default="h36m", choices=DATA_SOURCES,
                   help="dataset: open (the bundled open benchmark), sample, h36m, humaneva or cmu (default: h36m)")
    p.add_argument("--data-dir", default=None, help="folder with the data files (for --data h36m, humaneva, cmu)")
    p.add_argument("--out", default="runs", help="folder for executed notebooks and results (default: runs)")
    p.add_argument("--notebooks", default=None, help="comma list of notebook stems or prefixes, e.g. 03,04")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--kernel", default=None, help="Jupyter kernel name (default: each notebook's own)")
    p.add_argument("--timeout", type=float, default=None, help="seconds allowed per cell (default: none)")
    p.add_argument("--book-dir", default=".", help="folder holding _toc.yml and notebooks/ (default: .)")
    args = p.parse_args(argv)

    root = Path(args.book_dir).resolve()
    out = Path(args.out).resolve()
    notebooks = select_notebooks(book_notebooks(root), args.notebooks)
    params: dict[str, Any] = {"profile": args.profile, "data": args.data, "device": args.device, "out_dir": str(out)}
    if args.data_dir is not None:
        params["data_dir"] = str(Path(args.data_dir).resolve())
    report = run_notebooks(notebooks, out, params, args.kernel, args.timeout,
                           cwd=root, times_file=out / "notebook_times.json") if notebooks else {}
    rows = write_results_table(out)
    print(f"{len(rows)} result rows -> {out / 'results.md'}")
    failed = [name for name, r in report.items() if not r["ok"]]
    if failed:
        print(f"failed notebooks: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
