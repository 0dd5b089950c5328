"""Results side by side: the runs of this book, the numbers the papers report, model sizes and speed.

Three sources meet in the results chapter (chapter 6, "Results"), and this module keeps them apart:

- **runs**: one row format, :class:`RunRow` (model, recipe, data, window, MPJPE and P-MPJPE in mm, size,
  speed, ...). The chapters' ``results_<name>.json`` files are lists of rows and the trainer's and evaluator's
  ``<run>/results.json`` carry the run's row under ``"row"``; :func:`write_rows` / :func:`results_file_text`
  write them, :func:`read_rows` / :func:`load_run_results` read them (and older files without the marker);
- **papers**: :data:`PAPER_RESULTS`, Human3.6M Protocol #1 / #2 numbers as reported (papers and the
  authors' READMEs), each with its source and how far it was checked;
- **sizes and speed**: :data:`REFERENCE_SIZES`, the parameter counts and CPU train-step throughputs measured on
  the original implementations (``tamasino52/Any-GCN``, ``ZhimingZo/Modulated-GCN``, ``bruceyo/GLA-GCN``,
  ``OSVAI/GridConv``), next to :func:`parameter_rows` and :func:`train_step_throughput` for this library.

A run's numbers are only comparable with a paper row when the data and recipe match (Human3.6M, the same 2D
input, the full recipe); :func:`data_label` and :func:`comparability_note` say which data produced which row.
Rows are plain dicts; :mod:`poselift_core.tables` renders them (no dataframe library needed).
"""
from __future__ import annotations

import json
import math
import statistics
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch

__all__ = [
    "PaperResult",
    "PAPER_RESULTS",
    "ReferenceSize",
    "REFERENCE_SIZES",
    "DATA_NAMES",
    "keypoints_label",
    "data_label",
    "ROW_FORMAT",
    "RunRow",
    "run_row",
    "write_rows",
    "results_file_text",
    "read_rows",
    "normalize_run",
    "load_runs",
    "load_run_results",
    "paper_match",
    "side_by_side",
    "comparability_note",
    "parameter_rows",
    "train_step_throughput",
    "speed_rows",
    "reference_size",
    "GLAGCN_REFERENCE_BY_FRAMES",
    "paper_rows",
    "RUN_COLUMNS",
    "PAPER_COLUMNS",
    "SIZE_COLUMNS",
    "SPEED_COLUMNS",
]


# --------------------------------------------------------------------------- what the papers report
@dataclass(frozen=True)
class PaperResult:
    """One published Human3.6M result (S9 + S11, all frames and cameras unless ``note`` says otherwise).

    Attributes:
        method: the method as the paper names it.
        model: the ``poselift_core`` model that implements it (``build_model`` name), or ``None``.
        keypoints: 2D input: ``"gt"`` (ground truth), ``"cpn"`` (CPN detections), ``"hrnet"``.
        frames: input frames per prediction (1 = single-frame).
        mpjpe, p_mpjpe: Protocol #1 / #2 in mm (``None`` = not reported).
        params: size as the source reports it (``"4.22M"``), or ``None``.
        source: where the number was read.
        status: ``"README"`` (the authors' repository states it), ``"paper"`` (the paper's own table),
            ``"third-party"`` (a paper value quoted in another repository or issue), ``"unverified"`` or
            ``"disputed"``.
        note: anything that changes the comparison.
    """

    method: str
    model: str | None
    keypoints: str
    frames: int
    mpjpe: float | None
    p_mpjpe: float | None
    params: str | None
    source: str
    status: str
    note: str = ""


PAPER_RESULTS: tuple[PaperResult, ...] = (
    # Family A: weight-sharing GCNs (Liu et al., ECCV 2020) and Modulated GCN (Zou & Tang, ICCV 2021), single
    # frame, 16 joints on GT 2D
    PaperResult("SemGCN", "semgcn", "gt", 1, 42.14, 33.53, "0.27M", "README garyzhao/SemGCN", "README",
                "50 epochs"),
    PaperResult("SemGCN + non-local", "semgcn", "gt", 1, 40.78, 31.46, "0.43M", "README garyzhao/SemGCN",
                "README", "build_model('semgcn', non_local=True); 30 epochs"),
    PaperResult("Liu et al. 2020, best (decoupled pre-aggregation)", "dc_preagg", "gt", 1, 37.83, 30.09, "4.22M",
                "paper, as tabulated in README nies14/Spatio-Temporal-MLP-Graph", "third-party"),
    PaperResult("Liu et al. 2020, best (decoupled pre-aggregation)", "dc_preagg", "cpn", 1, 52.4, 41.2, None,
                "paper, as tabulated in README zaedulislam/GS-Net", "third-party"),
    PaperResult("Modulated GCN", "modulated", "gt", 1, 37.43, 29.73, "0.29M",
                "paper, as tabulated in README nies14/Spatio-Temporal-MLP-Graph", "third-party"),
    PaperResult("Modulated GCN, released GT checkpoint", "modulated", "gt", 1, 38.25, 30.06, "0.29M",
                "README ZhimingZo/Modulated-GCN", "README", "50 epochs"),
    PaperResult("Modulated GCN + post-refinement", "modulated", "cpn", 1, 49.4, 39.1, None,
                "P1: paper Table 5 (ZhimingZo/Modulated-GCN#1); P2: README zaedulislam/GS-Net", "third-party",
                "384 channels + non-local; the post-refinement uses the GT root depth at test time"),
    # Family B: GLA-GCN (Yu et al., ICCV 2023), 17 joints
    PaperResult("GLA-GCN, T = 243", "glagcn", "gt", 243, 21.0, None, None,
                "paper, quoted in bruceyo/GLA-GCN#11", "disputed",
                "marked * in the paper (intermediate 3D sequence reconstruction); a user could not reproduce it "
                "with the released checkpoint"),
    PaperResult("GLA-GCN, T = 243", "glagcn", "cpn", 243, 44.4, 34.8, None, "paper", "unverified"),
    # Family C: GridConv (README of OSVAI/GridConv): 2 D-GridConv blocks, 256 channels, 5x5 grid, 100 epochs, 17 joints
    PaperResult("D-GridConv, handcrafted SGT", "dgridconv", "gt", 1, 37.15, 28.32, None,
                "README OSVAI/GridConv", "README"),
    PaperResult("D-GridConv, learnable SGT", "dgridconv_autogrids", "gt", 1, 36.39, 28.29, None,
                "README OSVAI/GridConv", "README"),
    PaperResult("D-GridConv, handcrafted SGT", "dgridconv", "hrnet", 1, 47.93, 37.85, None,
                "README OSVAI/GridConv", "README", "S9 drift sequences excluded"),
    PaperResult("D-GridConv, learnable SGT", "dgridconv_autogrids", "hrnet", 1, 47.56, 37.43, None,
                "README OSVAI/GridConv", "README", "S9 drift sequences excluded"),
    # Context: VideoPose3D's temporal convolutions (Pavllo et al., CVPR 2019); not implemented in poselift_core
    PaperResult("VideoPose3D, T = 243", None, "cpn", 243, 46.8, 36.5, None,
                "Pavllo et al., CVPR 2019", "paper", "Mask R-CNN person boxes"),
    PaperResult("VideoPose3D, T = 243", None, "gt", 243, 37.2, 27.2, None, "Pavllo et al., CVPR 2019", "paper"),
    PaperResult("VideoPose3D, T = 27", None, "cpn", 27, 48.8, 38.0, None,
                "Pavllo et al., CVPR 2019", "paper", "ground-truth person boxes"),
)


# --------------------------------------------------------------------------- sizes of the original code
@dataclass(frozen=True)
class ReferenceSize:
    """Size and CPU speed of a model's original implementation at its default configuration.

    ``parameters``: measured ``sum(p.numel())`` of the original code (``None`` where only a reported size
    exists, then in ``reported``). ``samples_per_s``: median train-step throughput (forward + backward of the
    mean squared output, batch 256, 2 CPU threads; chapter 6, "Training speed"), ``None`` if not measured.
    """

    parameters: int | None
    samples_per_s: float | None
    source: str
    reported: str | None = None
    note: str = ""


_ANYGCN = "tamasino52/Any-GCN, 16 joints, width 128, 4 blocks"
REFERENCE_SIZES: dict[str, ReferenceSize] = {
    "vanilla": ReferenceSize(135_171, 3643, _ANYGCN),
    "dc_vanilla": ReferenceSize(266_883, 2587, _ANYGCN),
    "preagg": ReferenceSize(2_110_851, 2115, _ANYGCN),
    "dc_preagg": ReferenceSize(4_218_243, 1384, _ANYGCN, "4.22M"),
    "postagg": ReferenceSize(2_110_851, 2840, _ANYGCN, note="crashes as released; speed with the one-line fix"),
    "dc_postagg": ReferenceSize(4_218_243, 1665, _ANYGCN),
    "convst": ReferenceSize(398_595, 2116, _ANYGCN),
    "nosharing": ReferenceSize(33_721_731, 414, _ANYGCN,
                               note="all J^2 weight blocks stored, only the 46 on edges are used (~6.06M)"),
    "modulated": ReferenceSize(287_923, 1859, _ANYGCN, "0.29M"),
    "semgcn": ReferenceSize(None, None, "README garyzhao/SemGCN", "0.27M"),
    "glagcn": ReferenceSize(1_348_856, 3.5, "bruceyo/GLA-GCN, T = 243, 96 channels"),
    "gridconv": ReferenceSize(4_746_752, None, "OSVAI/GridConv, static",
                              note="crashes as released; count after the padding fix"),
    "dgridconv": ReferenceSize(4_790_406, 87.6, "OSVAI/GridConv, handcrafted SGT"),
    "dgridconv_autogrids": ReferenceSize(4_790_831, 88.0, "OSVAI/GridConv, AutoGrids"),
}


#: GLA-GCN at other window lengths (96 channels; bruceyo/GLA-GCN): frames -> reference size and speed.
GLAGCN_REFERENCE_BY_FRAMES: dict[int, ReferenceSize] = {
    243: REFERENCE_SIZES["glagcn"],
    81: ReferenceSize(1_096_466, 17.3, "bruceyo/GLA-GCN, T = 81, 96 channels"),
    27: ReferenceSize(844_076, 69.3, "bruceyo/GLA-GCN, T = 27, 96 channels"),
}


def reference_size(model: str, frames: int = 1) -> ReferenceSize | None:
    """The :class:`ReferenceSize` of a model (GLA-GCN: of its window length ``frames``), or ``None``."""
    if model == "glagcn":
        return GLAGCN_REFERENCE_BY_FRAMES.get(frames)
    return REFERENCE_SIZES.get(model)


# --------------------------------------------------------------------------- the runs of this book
DATA_NAMES = {"sample": "bundled sample", "open": "open benchmark", "h36m": "Human3.6M", "humaneva": "HumanEva-I",
              "cmu": "CMU mocap"}
_KEYPOINT_NAMES = {"gt": "GT", "cpn": "CPN", "cpn_ft_h36m_dbb": "CPN", "hrnet": "HRNet",
                   "detectron_ft_h36m": "Detectron", "sh_ft_h36m": "SH"}


def keypoints_label(keypoints: str | None) -> str:
    """``"gt"`` -> ``"GT 2D"``, ``"cpn_ft_h36m_dbb"`` -> ``"CPN 2D"``; unknown names pass through."""
    if not keypoints:
        return "2D ?"
    return f"{_KEYPOINT_NAMES.get(keypoints, keypoints)} 2D"


def _keypoint_family(keypoints: str | None) -> str | None:
    """The paper table's coarse input name: ``gt``, ``cpn`` or ``hrnet``."""
    if keypoints is None:
        return None
    return "cpn" if keypoints.startswith("cpn") else keypoints


def data_label(data: Any) -> str:
    """Short description of the data a run used: ``"bundled sample, GT 2D"``, ``"Human3.6M, CPN 2D"``.

    ``data`` is a name (``"sample"``) or the trainer's description dict (keys ``source``, ``keypoints``).
    """
    if isinstance(data, Mapping):
        name = DATA_NAMES.get(str(data.get("source")), str(data.get("source", "?")))
        return f"{name}, {keypoints_label(data.get('keypoints'))}"
    return DATA_NAMES.get(str(data), str(data))


def _number(value: Any, kind: type = float) -> "float | int | None":
    """``kind(value)`` (``float`` or ``int``), or ``None`` when ``value`` is missing or not a number."""
    try:
        return None if value is None else kind(value)
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples -> lists, numpy/torch scalars -> numbers, paths -> text), so a row
    compares equal to the same row read from disk."""
    def default(v: Any) -> Any:
        try:
            return float(v)
        except (TypeError, ValueError):
            return str(v)

    return json.loads(json.dumps(value, default=default))


#: The marker of a row written by :meth:`RunRow.to_json`; rows without it are read as older shapes.
ROW_FORMAT = "poselift-run-row/1"


@dataclass(frozen=True)
class RunRow:
    """One trained (or evaluated) model's numbers: the single row format of this library on disk.

    A chapter's ``results_<name>.json`` is a JSON list of these rows (:func:`write_rows`, behind
    :func:`poselift_core.runs.save_run` and :func:`poselift_core.reproduce.save_results`); the trainer's and the
    evaluator's ``results.json`` hold the same row under the key ``"row"`` next to everything else they record
    (:func:`results_file_text`). :func:`read_rows` reads both files, and older files without the marker.

    Attributes:
        model: ``build_model`` name. recipe: recipe name (``None`` for an evaluation without one).
        data: label, ``"bundled sample, GT 2D"`` (from ``data_source`` and ``keypoints``).
        data_source: data name, ``"sample"``, ``"open"``, ``"h36m"``, ... keypoints: 2D input name.
        profile: ``"quick"`` / ``"full"``. frames: input window (receptive field; 1 = single frame).
        test_frames: test frames scored. mpjpe, p_mpjpe: Protocol #1 / #2 in mm, action averages;
            ``mpjpe_frames``, ``p_mpjpe_frames`` the frame averages; ``mean_pose_mpjpe`` the mean training pose
            on the same frames. tta: flip averaging at test time.
        parameters: trainable parameters. train_samples_per_s: training throughput. train_time_s: seconds.
        epochs, steps, seed, device: how it was trained. per_action: MPJPE per action (mm).
        recipe_config: the recipe's fields (a resumed run replaces only a row whose settings are equal).
        source: the file (chapter name or run folder) the row was read from.
    """

    model: str
    recipe: str | None = None
    data: str = "?"
    data_source: str | None = None
    keypoints: str | None = None
    profile: str | None = None
    frames: int = 1
    test_frames: int | None = None
    mpjpe: float | None = None
    p_mpjpe: float | None = None
    mpjpe_frames: float | None = None
    p_mpjpe_frames: float | None = None
    mean_pose_mpjpe: float | None = None
    tta: bool | None = None
    parameters: int | None = None
    train_samples_per_s: float | None = None
    train_time_s: float | None = None
    epochs: int | None = None
    steps: int | None = None
    seed: int | None = None
    device: str | None = None
    per_action: dict[str, float] | None = None
    recipe_config: dict[str, Any] | None = None
    source: str = ""

    @classmethod
    def from_results(cls, results: Mapping[str, Any], data: str | None = None, source: str = "") -> "RunRow":
        """The row of a results dict: the trainer's (:meth:`poselift_core.train.Trainer.results`), the
        evaluator's, or a row of an older shape (``params``, ``receptive_field``, ``samples_per_s``).

        ``data``: the data name, when the caller knows it (a notebook's ``data``); else ``results["data"]``
        (the trainer's description dict or a name). Raises ``ValueError`` naming ``source`` without ``model``.
        """
        if "model" not in results:
            raise ValueError(f"result row from {source or 'input'} has no 'model' key: {sorted(results)}")
        info = results.get("data")
        if data is None:
            data = results.get("data_source") or (info.get("source") if isinstance(info, Mapping) else info)
        keypoints = results.get("keypoints") or (info.get("keypoints") if isinstance(info, Mapping) else None)
        recipe_cfg = results.get("recipe_config") or {}
        config = results.get("model_config") or {}
        widths = config.get("filter_widths")  # GLA-GCN: the window is the product of the temporal filter widths
        frames = (results.get("receptive_field") or config.get("receptive_field")
                  or (recipe_cfg.get("model_overrides") or {}).get("receptive_field")
                  or (math.prod(widths) if widths else 1))
        recipe = results.get("recipe")
        speed = _number(results.get("train_samples_per_s") or results.get("samples_per_s"))
        steps, batch, took = results.get("steps"), recipe_cfg.get("batch_size"), _number(results.get("train_time_s"))
        if speed is None and steps and batch and took:
            speed = steps * batch / took      # older results without the trainer's own sample count
        per_action = results.get("per_action")
        if isinstance(per_action, Mapping) and isinstance(per_action.get("mpjpe"), Mapping):
            per_action = per_action["mpjpe"]  # the trainer keeps both protocols; the row keeps MPJPE
        # an older chapter row said "frames" for the test frames next to "receptive_field"; the trainer's
        # results say "frames" for the test frames too
        scored = results.get("test_frames", results.get("frames") if "receptive_field" in results or config
                             else None)
        data_source = None if data is None else str(data)
        label = (data_label(data_source) if data_source else "?") + (f", {keypoints_label(keypoints)}" if keypoints
                                                                     else "")
        return cls(
            model=str(results["model"]), recipe=recipe.get("name") if isinstance(recipe, Mapping) else recipe,
            data=label, data_source=data_source, keypoints=keypoints, profile=results.get("profile"),
            frames=int(frames), test_frames=_number(scored, int), mpjpe=_number(results.get("mpjpe")),
            p_mpjpe=_number(results.get("p_mpjpe")), mpjpe_frames=_number(results.get("mpjpe_frames")),
            p_mpjpe_frames=_number(results.get("p_mpjpe_frames")),
            mean_pose_mpjpe=_number(results.get("mean_pose_mpjpe")), tta=results.get("tta"),
            parameters=_number(results.get("parameters", results.get("params")), int),
            train_samples_per_s=speed, train_time_s=took, epochs=_number(results.get("epochs"), int),
            steps=_number(steps, int), seed=_number(results.get("seed"), int),
            device=None if results.get("device") is None else str(results["device"]),
            per_action=_plain(dict(per_action)) if isinstance(per_action, Mapping) else None,
            recipe_config=_plain(dict(recipe_cfg)) if recipe_cfg else None,
            source=str(results.get("source") or source))

    @classmethod
    def from_json(cls, row: Mapping[str, Any], source: str = "") -> "RunRow":
        """Parse a stored row. A row with the :data:`ROW_FORMAT` marker must have exactly this class's keys
        (``ValueError`` naming ``source`` and the keys at fault); one without it is an older shape and goes
        through :meth:`from_results`. ``source`` fills an empty ``source``."""
        if row.get("format") != ROW_FORMAT:
            return cls.from_results(row, source=source)
        names = {f.name for f in fields(cls)}
        keys = set(row) - {"format"}
        if keys - names or "model" not in keys:
            raise ValueError(f"result row from {source or 'input'} ({ROW_FORMAT}): unknown keys "
                             f"{sorted(keys - names)}, missing {sorted({'model'} - keys)}")
        return cls(**{**{k: row[k] for k in keys}, "source": row.get("source") or source})

    def to_json(self) -> dict[str, Any]:
        """The row as written to disk: the :data:`ROW_FORMAT` marker, then every field (JSON values)."""
        return {"format": ROW_FORMAT, **_plain(asdict(self))}

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (what :func:`load_run_results` returns)."""
        return asdict(self)


def run_row(results: Mapping[str, Any] | RunRow, data: str | None = None, source: str = "") -> RunRow:
    """A :class:`RunRow` from a row (kept, ``source`` filled when empty), a stored row or any results dict."""
    if isinstance(results, RunRow):
        return results if results.source or not source else replace(results, source=source)
    if results.get("format") == ROW_FORMAT and data is None:
        return RunRow.from_json(results, source)
    return RunRow.from_results(results, data=data, source=source)


def write_rows(path: str | Path, rows: Iterable[RunRow], overwrite: bool = False) -> Path:
    """The one writer of rows: ``path`` (a chapter's ``results_<name>.json``) as a JSON list of
    :meth:`RunRow.to_json`, atomically. An existing file is refused
    (:class:`~poselift_core.checkpoint.OutputExistsError` naming it) unless ``overwrite``."""
    from .checkpoint import refuse_overwrite, write_text_atomic

    path = Path(path)
    refuse_overwrite(path.parent, [path.name], overwrite, flag="overwrite=True")
    return write_text_atomic(path, json.dumps([r.to_json() for r in rows], indent=2) + "\n")


def results_file_text(results: Mapping[str, Any]) -> str:
    """The text of a trainer's or evaluator's ``results.json``: everything in ``results`` plus, under
    ``"row"``, its :class:`RunRow` (:meth:`RunRow.to_json`, as in a chapter's file). Results without a
    ``model`` (a bare :func:`~poselift_core.evaluate.evaluate` dict) get no row."""
    doc = dict(results)
    if "model" in results:
        doc["row"] = RunRow.from_results(results).to_json()
    return json.dumps(doc, indent=2, default=str) + "\n"


def read_rows(path: str | Path, source: str = "") -> list[RunRow]:
    """The one reader: the rows of a chapter's ``results_<name>.json`` (a list, or one object) or of a run's
    ``results.json`` (its ``"row"``; older files without it are converted from their results). Errors name
    ``path``. ``source`` fills the rows' empty ``source``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("row"), dict):
        data = data["row"]
    rows = [data] if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: expected a JSON object or a list of objects")
    try:
        return [RunRow.from_json(r, source=source) for r in rows]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def normalize_run(row: Mapping[str, Any], source: str = "") -> dict[str, Any]:
    """One result row with the :class:`RunRow` keys, whatever wrote it (a chapter, the trainer, an older
    version); ``source`` is the file it came from. Missing values are ``None``."""
    return run_row(row, source=source).as_dict()


def load_runs(out_dir: str | Path) -> list[RunRow]:
    """Every :class:`RunRow` in ``out_dir``; ``[]`` if there is none (a missing ``out_dir`` too).

    Reads ``out_dir/results_*.json`` (one file per chapter or model, sorted by name, ``source`` = the name
    after ``results_``). When there is no such file it falls back to the trainer's own
    ``out_dir/*/results.json`` (``source`` = the run folder).
    """
    out = Path(out_dir)
    files = sorted(out.glob("results_*.json")) or sorted(out.glob("*/results.json"))
    rows = []
    for path in files:
        name = path.stem[len("results_"):] if path.stem.startswith("results_") else path.parent.name
        rows.extend(read_rows(path, source=name))
    return rows


def load_run_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """:func:`load_runs` as plain dicts (the :class:`RunRow` keys), for tables and plots."""
    return [r.as_dict() for r in load_runs(out_dir)]


# --------------------------------------------------------------------------- runs next to papers
def paper_match(model: str, keypoints: str | None = "gt", frames: int = 1,
                papers: Sequence[PaperResult] = PAPER_RESULTS) -> PaperResult | None:
    """The paper row for a model, 2D input and window length; the first listed wins, ``None`` if none."""
    kp = _keypoint_family(keypoints or "gt")
    for p in papers:
        if p.model == model and p.keypoints == kp and p.frames == frames:
            return p
    return None


def side_by_side(runs: Iterable[Mapping[str, Any]],
                 papers: Sequence[PaperResult] = PAPER_RESULTS) -> list[dict[str, Any]]:
    """Each normalised run with the matching paper row's ``paper_mpjpe``, ``paper_p_mpjpe``, ``paper_status`` and
    ``paper_source`` (``None`` where the paper reports no such model, input and window)."""
    out = []
    for r in runs:
        p = paper_match(r["model"], r.get("keypoints"), r.get("frames") or 1, papers)
        out.append({**r, "paper_mpjpe": p.mpjpe if p else None, "paper_p_mpjpe": p.p_mpjpe if p else None,
                    "paper_status": p.status if p else None, "paper_source": p.source if p else None})
    return out


def comparability_note(runs: Iterable[Mapping[str, Any]]) -> str:
    """One sentence per kind of run that a paper row cannot be compared with (other data or quick recipe)."""
    groups: dict[tuple[str, str], int] = {}
    for r in runs:
        src, profile = r.get("data_source"), r.get("profile") or "?"
        if src != "h36m" or profile != "full":
            key = ("the bundled sample" if src == "sample" else DATA_NAMES.get(str(src), str(src)), profile)
            groups[key] = groups.get(key, 0) + 1
    lines = [f"Rows measured on {name} ({profile} profile; {n} row{'s' * (n != 1)}) are not comparable with the "
             f"paper rows (Human3.6M, full recipe)." for (name, profile), n in groups.items()]
    return " ".join(lines) if lines else ("All rows were measured on Human3.6M with the full recipes; compare them "
                                          "with the paper rows of the same 2D input.")


# --------------------------------------------------------------------------- sizes and speed of this library
def parameter_rows(names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Measured parameter count of every model at its default configuration next to the reference count.

    Returns rows with ``model``, ``parameters`` (``count_parameters(build_model(name))``), ``reference``
    (:data:`REFERENCE_SIZES` count or ``None``), ``ratio`` (``parameters / reference``), ``reported`` and
    ``note``.
    """
    from .models import available, build_model, count_parameters

    rows = []
    for name in names or available():
        model = build_model(name)
        ref = reference_size(name, int(getattr(model, "receptive_field", 1)))
        n = count_parameters(model)
        rows.append({"model": name, "parameters": n, "reference": ref.parameters if ref else None,
                     "ratio": n / ref.parameters if ref and ref.parameters else None,
                     "reported": ref.reported if ref else None, "note": ref.note if ref else ""})
    return rows


def train_step_throughput(model: torch.nn.Module, batch_size: int, steps: int = 3, warmup: int = 1,
                          device: str | torch.device = "cpu", seed: int = 0) -> float:
    """Median training-step throughput in samples/s, measured as the reference anchors were (chapter 6,
    "Training speed").

    One step: train mode, forward of a random normalised 2D batch ``(B, [T,] J, 2)`` (``T`` =
    ``model.receptive_field``, ``J`` from ``model.config.skeleton``), backward of the mean squared output,
    ``zero_grad``; no optimiser step. ``warmup`` untimed steps come first. On a CPU, glibc is first told to
    keep freed memory, as the trainer does (:func:`~poselift_core.device.keep_freed_cpu_memory`). Absolute
    values depend on the machine and its load: compare models measured in the same run.
    """
    from .skeleton import get_skeleton
    from .device import keep_freed_cpu_memory

    device = torch.device(device)
    if device.type == "cpu":
        keep_freed_cpu_memory()
    J = get_skeleton(model.config.skeleton).num_joints
    T = int(getattr(model, "receptive_field", 1))
    shape = (batch_size, J, 2) if T == 1 else (batch_size, T, J, 2)
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(shape, generator=g) * 2 - 1).to(device)
    model = model.to(device).train()

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).square().mean().backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    times = []
    for _ in range(max(1, steps)):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return batch_size / statistics.median(times)


def speed_rows(names: Sequence[str], batch_sizes: Mapping[str, int] | int = 64,
               overrides: Mapping[str, Mapping[str, Any]] | None = None, steps: int = 3, warmup: int = 1,
               device: str | torch.device = "cpu", baseline: str = "vanilla") -> list[dict[str, Any]]:
    """:func:`train_step_throughput` of each model next to the reference throughput of the original code.

    Args:
        names: models to build (``build_model(name, **overrides.get(name, {}))``).
        batch_sizes: one batch size, or ``{name: batch}`` (default 64 for names not listed).
        baseline: the model both columns are divided by (``relative``, ``reference_relative``), so that this
            machine and the reference machine can be compared as ratios.
    Returns rows with ``model``, ``frames``, ``batch``, ``samples_per_s``, ``relative``,
    ``reference_samples_per_s`` and ``reference_relative`` (``None`` where unknown).
    """
    from .models import build_model

    overrides = overrides or {}
    rows = []
    for name in names:
        model = build_model(name, **overrides.get(name, {}))
        frames = int(getattr(model, "receptive_field", 1))
        batch = batch_sizes if isinstance(batch_sizes, int) else batch_sizes.get(name, 64)
        ref = reference_size(name, frames)
        rows.append({"model": name, "frames": frames, "batch": batch,
                     "samples_per_s": train_step_throughput(model, batch, steps, warmup, device),
                     "reference_samples_per_s": ref.samples_per_s if ref else None})
    base = next((r for r in rows if r["model"] == baseline), None)
    for r in rows:
        r["relative"] = r["samples_per_s"] / base["samples_per_s"] if base else None
        ref_base = base["reference_samples_per_s"] if base else None
        ref = r["reference_samples_per_s"]
        r["reference_relative"] = ref / ref_base if ref and ref_base else None
    return rows


# --------------------------------------------------------------------------- display
# Columns (key, header, format) of the results chapter's tables, for poselift_core.tables.html_table.
RUN_COLUMNS = [("model", "model", None), ("data", "data", None),
               ("profile", "profile", None), ("frames", "frames", "d"), ("mpjpe", "MPJPE", ".1f"),
               ("p_mpjpe", "P-MPJPE", ".1f"), ("paper_mpjpe", "paper MPJPE", "num"),
               ("paper_p_mpjpe", "paper P-MPJPE", "num"), ("paper_status", "paper status", None),
               ("parameters", "params", "M"), ("train_samples_per_s", "samples/s", "rate")]
PAPER_COLUMNS = [("method", "method", None), ("input", "2D input", None),
                 ("frames", "frames", "d"), ("mpjpe", "MPJPE", "num"), ("p_mpjpe", "P-MPJPE", "num"),
                 ("params", "params", None), ("status", "status", None), ("source", "source", None),
                 ("note", "note", None)]
SIZE_COLUMNS = [("model", "model", None), ("parameters", "this library", "count"),
                ("reference", "original code", "count"), ("ratio", "ratio", ".3f"), ("reported", "paper", None),
                ("note", "note", None)]
SPEED_COLUMNS = [("model", "model", None), ("frames", "frames", "d"), ("batch", "batch", "d"),
                 ("samples_per_s", "samples/s", "rate"), ("relative", "relative to vanilla", ".3f"),
                 ("reference_samples_per_s", "original code, samples/s", "rate"),
                 ("reference_relative", "original, relative", ".3f")]


def paper_rows(papers: Sequence[PaperResult] = PAPER_RESULTS) -> list[dict[str, Any]]:
    """:data:`PAPER_RESULTS` as dicts with display labels (for :func:`poselift_core.tables.html_table`)."""
    return [{**asdict(p), "input": keypoints_label(p.keypoints), "poselift": p.model or "(not implemented)"}
            for p in papers]
