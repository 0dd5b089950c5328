"""The bundled data ships inside the package: a wheel holds every file of data/{open,pretrained,sample,demo_capture,
results} under ``poselift_core/_bundled/``, and ``poselift_core._bundled_path`` finds the repository's copy in a
checkout and the installed copy otherwise."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from poselift_core import _bundled_path as bp

REPO = Path(__file__).resolve().parents[1]
BUNDLED = ("open", "pretrained", "sample", "demo_capture", "results")
IN_CHECKOUT = bp.is_source_checkout(REPO) and bp.REPO_ROOT == REPO


def _repo_data_files() -> list[str]:
    """Every file under the bundled folders of the repository, as ``<folder>/<...>`` (independent of pyproject's
    package-data patterns, so a new subfolder that the patterns miss fails the test)."""
    out = []
    for name in BUNDLED:
        out += [p.relative_to(REPO / "data").as_posix() for p in (REPO / "data" / name).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts]
    return sorted(out)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the project (pip's in-tree build would write build/ into the shared checkout)."""
    if not IN_CHECKOUT:
        pytest.skip("needs the source checkout (pyproject.toml and data/ beside poselift_core)")
    for mod in ("pip", "setuptools"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} is not installed in this environment")
    from importlib.metadata import version  # not `import setuptools`: it clashes with an already imported distutils
    if int(version("setuptools").split(".")[0]) < 64:
        pytest.skip(f"setuptools {version('setuptools')} < 64 (pyproject.toml needs >=64)")
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("poselift_core", "data"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    # --no-build-isolation: use this environment's setuptools, so the build needs no network.
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                        "--no-index", "-q", "-w", str(tmp / "out")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = (tmp / "out").glob("poselift_core-*.whl")
    return whl


def test_wheel_contains_every_bundled_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = _repo_data_files()
    assert len(expected) >= 15  # the open benchmark, 3 weights + json, 2 sample files, demo capture, table
    missing = [f for f in expected if f"poselift_core/_bundled/{f}" not in names]
    assert not missing, f"files of data/ missing from the wheel: {missing}"
    for f in ("open/data_3d_open.npz", "sample/data_3d_sample.npz", "sample/data_2d_sample_gt.npz",
              "demo_capture/calibration.json", "demo_capture/reference.npz", "results/open_benchmark_table.json",
              *(f"pretrained/{m}-open.{ext}" for m in ("modgcn", "glagcn27", "dgridconv") for ext in ("pt", "json")),
              *(f"demo_capture/detections/cam0{i}.npz" for i in range(1, 5))):
        assert f"poselift_core/_bundled/{f}" in names, f
    # the copies are byte-identical to the repository's files
    with zipfile.ZipFile(wheel) as z:
        copied = z.read("poselift_core/_bundled/open/data_3d_open.npz")
    assert copied == (REPO / "data" / "open" / "data_3d_open.npz").read_bytes()
    assert "poselift_core/_bundled_path.py" in names and "poselift_core/data/h36m.py" in names
    # every module of every package, the conversion package included
    modules = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "poselift_core").rglob("*.py")
                     if "__pycache__" not in p.parts and "_bundled" not in p.parts)
    assert "poselift_core/conversion/mocap.py" in modules and "poselift_core/data/videopose3d.py" in modules
    assert [m for m in modules if m not in names] == []


def test_locator_finds_installed_copy(wheel, tmp_path):
    """The wheel's own locator, loaded from an unpacked install (not a checkout), points inside the package."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    spec = importlib.util.spec_from_file_location("_wheel_bundled_path", site / "poselift_core" / "_bundled_path.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert not mod.is_source_checkout(mod.REPO_ROOT)
    p = mod.bundled_path("open", "data_3d_open.npz")
    assert p == site.resolve() / "poselift_core" / "_bundled" / "open" / "data_3d_open.npz" and p.is_file()
    assert (mod.bundled_path("pretrained") / "modgcn-open.pt").is_file()


@pytest.mark.slow
def test_wheel_install_loads_bundled_data(wheel, tmp_path):
    """End to end: with only the unpacked wheel on the path (no checkout, no editable-install hooks), the loaders
    find the open benchmark, the sample and the pretrained weights."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    code = ("import poselift_core, sys\n"
            "assert not any('__editable__' in repr(f) for f in sys.meta_path)\n"
            "from poselift_core.data.open_benchmark import load_open\n"
            "from poselift_core.data import load_sample\n"
            "from poselift_core import pretrained\n"
            "ds = load_open(); s = load_sample(); net = pretrained.load('modgcn-open')\n"
            "print(poselift_core.__file__); print(sorted(ds.subjects())); print(type(net).__name__)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *deps]), "OMP_WAIT_POLICY": "PASSIVE"}
    # -S: no site processing, so the .pth of an editable install cannot put the checkout back on the path
    r = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    first = r.stdout.splitlines()[0]
    assert Path(first).resolve() == (site / "poselift_core" / "__init__.py").resolve()


# ------------------------------------------------------------------ locator in a source checkout (no wheel needed)
@pytest.mark.skipif(not IN_CHECKOUT, reason="poselift_core is not imported from the source checkout")
def test_locator_source_checkout_points_at_repository_data():
    assert bp.bundled_path("open", "data_3d_open.npz") == REPO / "data" / "open" / "data_3d_open.npz"
    assert bp.bundled_path() == REPO / "data"
    from poselift_core import demo_check, leaderboard, pretrained
    from poselift_core.data import open_benchmark, sample
    assert pretrained.PRETRAINED_DIR == REPO / "data" / "pretrained"
    assert demo_check.DEMO_DIR == REPO / "data" / "demo_capture"
    assert open_benchmark.open_path() == REPO / "data" / "open" / open_benchmark.OPEN_FILE
    assert sample.sample_paths()[0] == REPO / "data" / "sample" / "data_3d_sample.npz"
    if (REPO / "data" / "results" / leaderboard.TABLE_FILE).is_file():
        import json
        assert leaderboard.read_board() == json.loads((REPO / "data/results" / leaderboard.TABLE_FILE).read_text())


def test_is_source_checkout_needs_project_layout(tmp_path):
    assert not bp.is_source_checkout(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "poselift_core").mkdir()
    assert not bp.is_source_checkout(tmp_path)  # a site-packages with some project's data/ is not a checkout
    (tmp_path / "pyproject.toml").write_text("")
    assert bp.is_source_checkout(tmp_path)


def test_repo_root_override(tmp_path):
    assert bp.bundled_path("sample", "x.npz", repo_root=tmp_path) == tmp_path / "data" / "sample" / "x.npz"
    # the package's own root is the automatic choice, whatever kind of install this is
    assert bp.bundled_path("sample", repo_root=bp.REPO_ROOT) == bp.bundled_path("sample")
