"""Batch reproduction (papermill) and the notebook conventions the book build relies on."""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from poselift_core import reproduce as R
from poselift_core.results import load_run_results

ROOT = Path(__file__).resolve().parents[1]
PARAMETER_NAMES = {"profile", "data", "data_dir", "device", "out_dir"}


def _notebook(path: Path, parameters: str, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec for this very interpreter, found through JUPYTER_PATH (whatever else is installed)."""
    spec = tmp_path / "jupyter" / "kernels" / "poselift-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "poselift test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "poselift-test"


def test_help_works_without_papermill_or_yaml():
    code = ("import sys; sys.modules['papermill'] = None; sys.modules['yaml'] = None\n"
            "from poselift_core.reproduce import main; main(['--help'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "--data-dir" in out.stdout and "--notebooks" in out.stdout


def test_book_notebooks_follow_the_toc_and_reject_unknown_entries(tmp_path):
    (tmp_path / "intro.md").write_text("# intro\n")
    for name in ("02_b", "01_a", "03_c"):
        _notebook(tmp_path / "notebooks" / f"{name}.ipynb", "profile = 'quick'", "pass")
    toc = {"format": "jb-book", "root": "intro", "parts": [
        {"caption": "x", "chapters": [{"file": "notebooks/02_b"}, {"file": "notebooks/01_a",
                                                                  "sections": [{"file": "notebooks/03_c"}]}]}]}
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    assert [p.stem for p in R.book_notebooks(tmp_path)] == ["02_b", "01_a", "03_c"]  # TOC order, pages skipped
    toc["parts"][0]["chapters"].append({"file": "notebooks/04_missing"})
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    with pytest.raises(FileNotFoundError, match="04_missing"):
        R.book_notebooks(tmp_path)
    (tmp_path / "_toc.yml").unlink()  # no TOC: every notebook, sorted
    assert [p.stem for p in R.book_notebooks(tmp_path)] == ["01_a", "02_b", "03_c"]


def test_select_notebooks_by_prefix():
    nbs = [Path(f"notebooks/{n}.ipynb") for n in ("01_introduction", "03_gcn_weight_sharing", "04_glagcn")]
    assert R.select_notebooks(nbs, "03,04") == nbs[1:]
    assert R.select_notebooks(nbs, "04_glagcn") == nbs[2:]
    assert R.select_notebooks(nbs, None) == nbs
    with pytest.raises(ValueError, match="07"):
        R.select_notebooks(nbs, "01,07")


def test_results_are_saved_collected_and_tabulated(tmp_path):
    R.save_results("gcn", [{"model": "semgcn", "data": "h36m", "mpjpe": 51.26, "p_mpjpe": 40.04,
                            "params": 433_000, "keypoints": "cpn"}], tmp_path)
    R.save_results("gridconv", {"model": "gridconv", "data": "sample", "mpjpe": 47.0}, tmp_path)
    rows = R.write_results_table(tmp_path)
    assert [(r["source"], r["model"]) for r in rows] == [("gcn", "semgcn"), ("gridconv", "gridconv")]
    assert rows[0]["keypoints"] == "cpn" and rows[0]["parameters"] == 433_000  # older key names, read as the row's
    assert rows == load_run_results(tmp_path)    # one reader for the table and the results chapter
    assert json.loads((tmp_path / "results.json").read_text()) == rows
    md = (tmp_path / "results.md").read_text().splitlines()
    assert md[2] == "| semgcn | Human3.6M, CPN 2D | 51.3 | 40.0 | 0.43 M | gcn |"
    assert md[3] == "| gridconv | bundled sample | 47.0 | – | – | gridconv |"
    with pytest.raises(ValueError, match="lacks"):
        R.save_results("bad", {"mpjpe": 1.0}, tmp_path)


def test_reproduce_runs_toc_notebooks_with_parameters_and_collects_results(tmp_path, kernel):
    book = tmp_path / "book"
    params = 'profile = "full"\ndata = "h36m"\ndata_dir = "data/h36m"\ndevice = "auto"\nout_dir = "runs"\n'
    _notebook(book / "notebooks" / "01_tiny.ipynb", params,
              "import json, os\nos.makedirs(out_dir, exist_ok=True)\n"
              "row = {'model': 'tiny-' + profile, 'data': data, 'mpjpe': 12.5, 'p_mpjpe': 10.0, 'params': 1e6,\n"
              "       'device': device}\n"
              "json.dump([row], open(os.path.join(out_dir, 'results_tiny.json'), 'w'))\n"
              "open(os.path.join(out_dir, 'cwd.txt'), 'w').write(os.getcwd())")
    _notebook(book / "notebooks" / "02_broken.ipynb", params, "raise RuntimeError('deliberate failure')")
    (book / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "notebooks/01_tiny",
                                                   "chapters": [{"file": "notebooks/02_broken"}]}))
    out = tmp_path / "runs"
    rc = R.main(["--profile", "quick", "--data", "sample", "--device", "cpu", "--out", str(out),
                 "--book-dir", str(book), "--kernel", kernel, "--timeout", "60"])
    assert rc == 1  # the broken notebook fails the run, after the other one ran
    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == 1
    assert {k: rows[0][k] for k in ("source", "model", "data_source", "mpjpe", "p_mpjpe", "parameters", "device")} \
        == {"source": "tiny", "model": "tiny-quick", "data_source": "sample", "mpjpe": 12.5, "p_mpjpe": 10.0,
            "parameters": 1_000_000, "device": "cpu"}
    assert Path((out / "cwd.txt").read_text()) == book.resolve()  # kernels run in the book's root
    assert "| tiny-quick | bundled sample | 12.5 | 10.0 | 1.00 M | tiny |" in (out / "results.md").read_text()
    times = json.loads((out / "notebook_times.json").read_text())
    assert times["notebooks/01_tiny.ipynb"]["ok"] and times["notebooks/01_tiny.ipynb"]["seconds"] > 0
    assert not times["notebooks/02_broken.ipynb"]["ok"]
    assert "deliberate failure" in times["notebooks/02_broken.ipynb"]["error"]
    executed = nbformat.read(out / "notebooks" / "01_tiny.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert 'profile = "quick"' in injected[0].source


def test_resolve_device(monkeypatch, capsys):
    import torch

    assert R.resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert R.resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA"):
            R.resolve_device("cuda")
        monkeypatch.setitem(sys.modules, "google.colab", object())
        assert R.in_colab() and R.resolve_device("auto") == "cpu"
        assert "Change runtime type" in capsys.readouterr().out


def _fake_colab(monkeypatch, mount):
    """A stand-in ``google.colab`` package whose ``drive.mount`` is ``mount``; ``in_colab()`` is then true."""
    import types

    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mount)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    if "google" not in sys.modules:
        monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setattr(sys.modules["google"], "colab", colab, raising=False)


def test_colab_out_dir_mounts_drive_once_and_points_into_it(tmp_path, monkeypatch, capsys):
    calls = []

    def mount(path):          # what Colab's mount leaves behind: <mountpoint>/MyDrive
        calls.append(path)
        (Path(path) / "MyDrive").mkdir(parents=True)

    assert R.colab_out_dir("runs", mountpoint=str(tmp_path)) == "runs"     # not on Colab: unchanged, no mount
    _fake_colab(monkeypatch, mount)
    drive_dir = tmp_path / "MyDrive" / "poselift"
    assert R.colab_out_dir("runs", mountpoint=str(tmp_path)) == str(drive_dir / "runs")
    assert calls == [str(tmp_path)]
    assert (drive_dir / "runs").is_dir() and (drive_dir / "h36m").is_dir()
    out = capsys.readouterr().out
    assert str(drive_dir / "h36m") in out and "resumes" in out
    # a second cell run (or chapter 6 after chapter 5) finds Drive mounted and keeps an absolute folder
    assert R.colab_out_dir(str(tmp_path / "mine"), mountpoint=str(tmp_path)) == str(tmp_path / "mine")
    assert calls == [str(tmp_path)]
    assert R.colab_out_dir("runs", use_drive=False, mountpoint=str(tmp_path)) == "runs"


def test_colab_out_dir_keeps_the_runtime_folder_when_the_mount_is_refused(tmp_path, monkeypatch, capsys):
    def refuse(path):
        raise ValueError("mount failed")

    _fake_colab(monkeypatch, refuse)
    assert R.colab_out_dir("runs", mountpoint=str(tmp_path)) == "runs"
    assert "not mounted (ValueError: mount failed)" in capsys.readouterr().out
    assert not (tmp_path / "MyDrive").exists()


def test_book_colab_cells_send_runs_to_drive_and_resume():
    """Chapters that save or collect results move out_dir to Drive, on Colab only; those that keep checkpoints
    resume a full-profile run that left one."""
    checked = 0
    for path in _book_notebooks():
        code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        source = "\n".join(code)
        for cell in (s for s in code if "train_recipe(" in s and "checkpoint_dir=" in s):
            assert "resume=" in cell, f"{path.name}: a checkpointed train_recipe call without resume="
        if any(f"{f}(" in source for f in ("train_and_save", "save_run", "save_results", "load_run_results")):
            checked += 1
            # only inside the Colab branch: elsewhere out_dir stays what papermill or the reader set
            head, _, branch = code[1].partition('if "google.colab" in sys.modules:')
            assert "colab_out_dir(out_dir" in branch and "colab_out_dir" not in head, path.name
    assert checked >= 4        # chapters 3, 4 and 5 save results, chapter 6 collects them


# --------------------------------------------------------------------------- the book's own notebooks
def _book_notebooks() -> list[Path]:
    return R.book_notebooks(ROOT)


@pytest.mark.parametrize("path", _book_notebooks(), ids=lambda p: p.stem)
def test_book_notebook_conventions(path):
    """What make book, reproduce and Colab rely on (book/reproduce.md)."""
    from papermill.translators import PythonTranslator

    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged 'parameters'"
    names = {p.name for p in PythonTranslator.inspect(code[0])}  # papermill must parse every line
    assert PARAMETER_NAMES <= names, f"parameters cell lacks {PARAMETER_NAMES - names}"
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks without outputs"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    source = "\n".join(c.source for c in code)
    repo_url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert f'REPO_URL = "{repo_url}"' in source and '"google.colab" in sys.modules' in source
    assert "setup_notebook_plotting()" in source
