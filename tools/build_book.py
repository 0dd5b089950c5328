"""Build the HTML book: execute the notebooks of _toc.yml with papermill, then Jupyter Book 1 with warnings as errors.

    python tools/build_book.py [--kernel poselift] [--timeout 600] [--skip-execute]

1. Stage ``_build/src/``: ``_config.yml``, ``_toc.yml``, ``book/``, the non-notebook files of ``notebooks/`` and the
   vendored JavaScript ``_vendor/`` (tools/vendor_js.py), at the same relative paths as in the repository, so the
   Colab launch buttons point at the source notebooks.
2. Execute every notebook listed in ``_toc.yml`` with papermill into ``_build/src/notebooks/`` (kernel working
   directory: the repository root; parameters ``profile=quick data=open out_dir=_build/runs``, ``_build/runs`` emptied first; a time limit per
   cell; ``POSELIFT_BOOK_BUILD=1`` so :func:`poselift_core.plotting.setup_notebook_plotting` emits static plotly
   HTML). Any failed notebook stops the build: Jupyter Book with execution off would render its traceback silently.
   Wall times go to ``_build/notebook_times.json``.
3. Hide papermill's injected-parameters cell (it would show ``out_dir = "_build/runs"`` on the page): the executed
   copies get the ``remove-cell`` tag on it. The chapter's own ``parameters`` cell stays visible.
4. ``jupyter-book config sphinx`` + ``sphinx-build -W -n --keep-going`` into ``_build/html``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from poselift_core.plotting import BOOK_BUILD_ENV  # noqa: E402
from poselift_core.reproduce import book_notebooks, run_notebooks, write_results_table  # noqa: E402

BUILD = ROOT / "_build"
STAGE = BUILD / "src"
HTML = BUILD / "html"


def stage(keep_executed: bool) -> None:
    """Fresh staging folder; keeps the executed notebooks when ``keep_executed`` (``--skip-execute``)."""
    vendor = ROOT / "_vendor"
    if not (vendor / "VERSIONS.json").exists():
        raise SystemExit(f"{vendor} is missing or incomplete: run `python tools/vendor_js.py` (make book does)")
    for item in list(STAGE.iterdir()) if STAGE.exists() else []:
        if keep_executed and item.name == "notebooks":
            continue
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    STAGE.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, STAGE / name)
    shutil.copytree(ROOT / "book", STAGE / "book")
    shutil.copytree(vendor, STAGE / "_vendor")
    # figures or data files that notebooks reference by relative path
    shutil.copytree(ROOT / "notebooks", STAGE / "notebooks", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__"))


def failed_cells(notebook: Path) -> str | None:
    """papermill's own record of a failure, as a second check on its exit status."""
    meta = json.loads(notebook.read_text()).get("metadata", {}).get("papermill", {})
    return "exception recorded in metadata.papermill" if meta.get("exception") else None


def hide_injected_parameters(notebook: Path) -> int:
    """Tag papermill's ``injected-parameters`` cell(s) of an executed notebook ``remove-cell`` (myst-nb then leaves
    them out of the page, input and output). Idempotent; returns how many cells it tagged."""
    nb = json.loads(notebook.read_text())
    tagged = 0
    for cell in nb.get("cells", []):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
            tagged += 1
    if tagged:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return tagged


def execute(notebooks: list[Path], kernel: str | None, timeout: float) -> None:
    os.environ[BOOK_BUILD_ENV] = "1"  # inherited by the kernels papermill starts
    runs = BUILD / "runs"
    if runs.exists():   # this build's own results only: chapter 6 reads what chapters 3-5 write now
        shutil.rmtree(runs)
    params = {"profile": "quick", "data": "open", "out_dir": runs.relative_to(ROOT).as_posix()}
    report = run_notebooks(notebooks, STAGE, params, kernel=kernel, timeout=timeout, cwd=ROOT,
                           times_file=BUILD / "notebook_times.json")
    for key, r in report.items():
        if r["ok"]:
            r["error"] = failed_cells(STAGE / key)
            r["ok"] = r["error"] is None
    failed = [k for k, r in report.items() if not r["ok"]]
    total = sum(r["seconds"] for r in report.values())
    print(f"executed {len(report)} notebooks in {total:.1f} s (times: {BUILD / 'notebook_times.json'})")
    if runs.exists():
        write_results_table(runs)
    if failed:
        raise SystemExit(f"notebooks failed: {failed}; the executed copies with tracebacks are in {STAGE}")


def build_html() -> None:
    for path in (HTML, BUILD / "doctrees"):
        shutil.rmtree(path, ignore_errors=True)
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "jupyter-book"), "config", "sphinx", str(STAGE)], check=True,
                   stdout=subprocess.DEVNULL)
    with open(STAGE / "conf.py", "a") as conf:
        # sphinx-thebe 0.3.1 writes its inline config twice on every page (a JavaScript SyntaxError); the book has
        # no thebe button (its code would come from a CDN anyway), so the extension goes.
        conf.write('\nextensions = [e for e in extensions if e != "sphinx_thebe"]\n')
    subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "-n", "--keep-going", "-q",
                    "-d", str(BUILD / "doctrees"), str(STAGE), str(HTML)], check=True)


def check_pages(notebooks: list[Path]) -> None:
    missing = [p for p in [HTML / "index.html"] + [HTML / nb.relative_to(ROOT).with_suffix(".html")
                                                   for nb in notebooks] if not p.exists()]
    if missing:
        raise SystemExit(f"pages missing after the build: {[str(p) for p in missing]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default=None, help="Jupyter kernel for papermill (make book: poselift)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds allowed per cell (default 600)")
    parser.add_argument("--skip-execute", action="store_true",
                        help="reuse the executed notebooks of the previous build (prose-only changes)")
    args = parser.parse_args()
    start = time.perf_counter()
    notebooks = book_notebooks(ROOT)
    stage(keep_executed=args.skip_execute)
    if args.skip_execute:
        missing = [nb for nb in notebooks if not (STAGE / nb.relative_to(ROOT)).exists()]
        if missing:
            raise SystemExit(f"--skip-execute: no executed copy of {[str(m) for m in missing]}")
    else:
        execute(notebooks, args.kernel, args.timeout)
    for nb in notebooks:
        hide_injected_parameters(STAGE / nb.relative_to(ROOT))
    t_html = time.perf_counter()
    build_html()
    check_pages(notebooks)
    print(f"book built in {time.perf_counter() - start:.1f} s (HTML {time.perf_counter() - t_html:.1f} s): "
          f"{HTML / 'index.html'}")


if __name__ == "__main__":
    main()
