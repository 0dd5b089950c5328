"""Vendor the book's JavaScript into _vendor/ so the HTML renders with no CDN (pages work offline).

See the book's page "Running the notebooks", section "How the book is built".

    python tools/vendor_js.py [--out _vendor]

- plotly.min.js from the installed plotly package (its package_data), so the page and the kernel agree on versions;
- require.js and the widget manager's embed-amd.js (+ its font files) from npm tarballs (`npm pack`);
- MathJax 3: es5/tex-chtml.js with the CHTML fonts, and the TeX extensions, menu and a11y components it loads on
  demand (the speech engine `sre/` is left out: it only loads when a reader turns speech on).

Nothing here is committed (_vendor/ is git-ignored). A stamp file records the versions: a second run with the same
versions downloads nothing, so `make book` pays the ~3 s download once per machine. The project's own glue scripts
(tools/js/*.js) are copied on every run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

NPM_PACKAGES = {"requirejs": "2.3.7", "@jupyter-widgets/html-manager": "1.0.6", "mathjax": "3.2.2"}
# (package, path inside the tarball's package/ folder, destination under _vendor/); folders are copied whole.
FILES = [
    ("requirejs", "require.js", "require.js"),
    ("@jupyter-widgets/html-manager", "dist/embed-amd.js", "jupyter-widgets/embed-amd.js"),
    ("mathjax", "es5/tex-chtml.js", "mathjax/tex-chtml.js"),
    ("mathjax", "es5/output/chtml/fonts/woff-v2", "mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax", "es5/input/tex/extensions", "mathjax/input/tex/extensions"),
    ("mathjax", "es5/ui", "mathjax/ui"),
    ("mathjax", "es5/a11y", "mathjax/a11y"),
]
FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")  # embed-amd.js refers to these by hashed name
STAMP = "VERSIONS.json"
GLUE = Path(__file__).resolve().parent / "js"


def plotly_js() -> tuple[Path, str]:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.exists():
        raise FileNotFoundError(f"{path} missing: the installed plotly {plotly.__version__} ships no plotly.min.js")
    return path, plotly.__version__


def npm_pack(workdir: Path) -> dict[str, Path]:
    """Download each npm tarball with `npm pack` and unpack it; returns {package: unpacked package/ folder}."""
    if shutil.which("npm") is None:
        raise SystemExit("vendor_js: npm not found (Debian: apt-get install -y npm)")
    specs = [f"{name}@{version}" for name, version in NPM_PACKAGES.items()]
    out = subprocess.run(["npm", "pack", "--json", *specs], cwd=workdir, check=True, capture_output=True, text=True)
    unpacked = {}
    for info in json.loads(out.stdout):
        dest = workdir / info["name"].replace("/", "__")
        with tarfile.open(workdir / info["filename"]) as tar:
            tar.extractall(dest, filter="data")
        unpacked[info["name"]] = dest / "package"
    return unpacked


def copy_glue(out: Path) -> None:
    for script in GLUE.glob("*.js"):
        shutil.copy2(script, out / script.name)


def vendor(out: Path) -> None:
    plotly_path, plotly_version = plotly_js()
    versions = {**NPM_PACKAGES, "plotly.py": plotly_version}
    stamp = out / STAMP
    if stamp.exists() and json.loads(stamp.read_text()) == versions:
        copy_glue(out)
        print(f"vendor_js: {out} is up to date")
        return
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        pkgs = npm_pack(Path(tmp))
        for name, src, dst in FILES:
            src_path, dst_path = pkgs[name] / src, out / dst
            dst_path.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src_path.is_dir() else shutil.copy2)(src_path, dst_path)
        dist = pkgs["@jupyter-widgets/html-manager"] / "dist"
        for font in dist.iterdir():
            if font.suffix in FONT_SUFFIXES:
                shutil.copy2(font, out / "jupyter-widgets" / font.name)
    shutil.copy2(plotly_path, out / "plotly.min.js")
    copy_glue(out)
    stamp.write_text(json.dumps(versions, indent=2) + "\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"vendor_js: {out} ready ({size / 1e6:.1f} MB): {versions}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("_vendor"))
    vendor(parser.parse_args().out)
