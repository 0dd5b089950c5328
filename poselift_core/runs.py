"""Train a named recipe from a notebook and record the result: the glue chapters 3-6 of the book share.

    trainer, results, path = train_and_save("gcn-vanilla-gt", "runs", profile="quick", data="sample")
    # trains, prints summary_line(results), writes runs/results_vanilla.json

:func:`train_and_save` is what a chapter calls for each model it trains: :func:`train_recipe`, then
:func:`summary_line` and :func:`save_run`, with the book's checkpoint rule (the full profile keeps a checkpoint in
``out_dir/<recipe>`` and resumes from it after a disconnect; the quick profile keeps none). :func:`train_recipe`
is :class:`~poselift_core.train.Trainer` with the notebook parameters (profile, data, device, epochs, seed)
applied to the recipe; it returns the trainer too, so a chapter can look inside the trained model.
:func:`result_row` is the run's :class:`~poselift_core.results.RunRow`, the one row format of the library
(model, recipe, data, profile, window, MPJPE and P-MPJPE in mm, parameters, training time and throughput); :func:`mean_pose_baseline` scores the trivial predictor every
model must beat (both live in :mod:`poselift_core.evaluate` and are re-exported here). Nothing is overwritten
silently: ``train_recipe(checkpoint_dir=...)`` and :func:`save_run` refuse to replace existing results unless
``overwrite=True`` (a resumed run replaces the row of that same run); ``train_recipe(..., resume=True)``
continues a killed run from ``checkpoint_dir``. The training loop itself is described on the book's page "Using
the library from the command line" (section "Training").
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .batching import PoseTensors
from .evaluate import MeanPose, mean_pose_baseline

if TYPE_CHECKING:
    from .train import Trainer

__all__ = ["train_and_save", "train_recipe", "result_row", "save_run", "summary_line", "MeanPose",
           "mean_pose_baseline"]

#: Row keys that name one run: a resumed run may replace a saved row only when all of them are equal.
SAME_RUN_KEYS = ("model", "recipe", "data_source", "keypoints", "profile", "seed", "recipe_config")


def train_recipe(name: str, profile: str = "quick", data: str = "sample", data_dir: str | None = None,
                 device: str = "auto", epochs: int | None = None, seed: int = 0,
                 checkpoint_dir: str | Path | None = None,
                 splits: tuple[PoseTensors, PoseTensors, dict] | None = None, resume: bool = False,
                 overwrite: bool = False, allow_changes: bool = False, progress: bool | str | None = None,
                 **overrides: Any):
    """Train recipe ``name`` in ``profile`` and return ``(trainer, results)``.

    Args:
        epochs: ``None`` keeps the recipe's epochs; otherwise replaces them.
        seed: the recipe's seed (weights, batch order, dropout).
        checkpoint_dir: folder for ``checkpoint.pt`` and the trainer's ``results.json``/``results.md``;
            ``None`` writes nothing (the quick profile in the book).
        splits: ``(train, test, info)`` from :func:`poselift_core.sources.load_data`, to load the data once
            for several recipes; ``None`` loads them for this recipe.
        resume: continue the run in ``checkpoint_dir`` from its ``checkpoint.pt`` (same settings, or
            ``allow_changes=True``: the changes are recorded in the results under ``resumes``).
        overwrite: replace the results and checkpoint already in ``checkpoint_dir`` (otherwise refused).
        progress: what the run prints (:class:`~poselift_core.train.RunConfig`): ``True`` a progress bar (a
            notebook bar in Jupyter and Colab) and one line per epoch, ``"epochs"`` the per-epoch lines only, once
            the run has lasted a few seconds (a short run stays silent, so the static book is not filled with
            lines), ``False`` nothing. ``None``: ``True`` in the ``"full"`` profile (hours: the reader must see it
            move), else ``"epochs"``. ``checkpoint_dir/train.log`` gets every line whatever this says.
        overrides: further :class:`~poselift_core.recipes.Recipe` fields (validated); ``model_overrides`` is
            merged into the recipe's own (a key set here replaces only that key).
    """
    from .recipes import get_recipe
    from .train import RunConfig, Trainer

    if epochs is not None:
        overrides["epochs"] = int(epochs)
    if isinstance(overrides.get("model_overrides"), dict):
        base = get_recipe(name, profile=profile).model_overrides
        overrides["model_overrides"] = {**base, **overrides["model_overrides"]}
    recipe = get_recipe(name, profile=profile, seed=int(seed), **overrides)
    if progress is None:
        progress = True if profile == "full" else "epochs"
    run = RunConfig(recipe, data=data, data_dir=data_dir, device=device, progress=progress,
                    out=None if checkpoint_dir is None else str(checkpoint_dir), resume=resume,
                    overwrite=overwrite, allow_changes=allow_changes)
    train_set, test_set, info = splits if splits is not None else (None, None, None)
    trainer = Trainer(run, train_set, test_set, info)
    results = trainer.fit()
    return trainer, results


def train_and_save(name: str, out_dir: str | Path, profile: str = "quick", data: str = "open",
                   data_dir: str | None = None, device: str = "auto", epochs: int | None = None, seed: int = 0,
                   splits: tuple[PoseTensors, PoseTensors, dict] | None = None, checkpoint: bool | None = None,
                   save_as: str | None = None, **kwargs: Any) -> tuple["Trainer", dict[str, Any], Path]:
    """Train recipe ``name`` with a chapter's parameters, print its :func:`summary_line`, save its row.

    The one call behind every trained model of chapters 3-6 (their parameters cell supplies ``out_dir``,
    ``profile``, ``data``, ``data_dir``, ``device``, ``epochs`` and ``seed``).

    Args:
        out_dir: the row goes to ``out_dir/results_<save_as or model>.json`` (:func:`save_run`).
        splits: ``(train, test, info)`` from :func:`poselift_core.sources.load_data`, loaded once per chapter.
        checkpoint: keep ``checkpoint.pt``, ``results.json``, ``results.md`` and ``train.log`` in
            ``out_dir/<name>``; ``None``: only in the ``"full"`` profile (hours per run: a killed run, e.g. a Colab
            disconnect, resumes from its last checkpoint when the chapter runs again). With a checkpoint, an
            existing ``checkpoint.pt`` there is resumed, except in the ``"quick"`` profile, which starts afresh.
        save_as: the results file's name (default: the model's name).
        kwargs: passed to :func:`train_recipe` (``progress``, ``model_overrides``, recipe fields such as
            ``batch_size`` or ``max_steps_per_epoch``).

    Returns:
        ``(trainer, results, path)``: the :class:`~poselift_core.train.Trainer`, whose ``model`` is the trained
        network, already in ``eval()`` mode; the trainer's results dict (``mpjpe``, ``p_mpjpe`` in mm, ``steps``,
        ``per_action``, ``step_history``, ...); the path of the saved results file.

    A quick run replaces the results (and checkpoint) of its own earlier run: it takes minutes, and re-running a
    chapter must not stop at its own files. A full-profile run never replaces another run's files
    (:func:`save_run`, :func:`train_recipe`).
    """
    quick = profile == "quick"
    keep = (profile == "full") if checkpoint is None else bool(checkpoint)
    ckpt = Path(out_dir) / name if keep else None
    resume = ckpt is not None and not quick and (ckpt / "checkpoint.pt").is_file()
    trainer, results = train_recipe(name, profile, data, data_dir, device, epochs, seed, checkpoint_dir=ckpt,
                                    splits=splits, resume=resume, overwrite=quick, **kwargs)
    trainer.model.eval()
    print(summary_line(results), flush=True)
    path = save_run(results, data, out_dir, name=save_as, overwrite=quick)
    return trainer, results, path


def result_row(results: dict[str, Any], data: str) -> dict[str, Any]:
    """The row a chapter saves for one trained model: :class:`~poselift_core.results.RunRow` as a dict.

    ``data`` is the notebook's data name (``"sample"``, ``"h36m"``, ...; the row's ``data_source``, its label
    in ``data``). ``train_samples_per_s`` is the trainer's own figure when it reports one (samples over the
    optimiser steps' time), else ``steps x batch / train_time_s`` (older results).
    """
    from .results import RunRow

    return RunRow.from_results(results, data=data).as_dict()


def save_run(results: dict[str, Any], data: str, out_dir: str | Path, name: str | None = None,
             overwrite: bool = False) -> Path:
    """Write ``out_dir/results_<name>.json`` (default name: the model), one :class:`~poselift_core.results.RunRow`.

    An existing file of that name is refused (:class:`~poselift_core.checkpoint.OutputExistsError`, naming
    it) unless ``overwrite`` -- or unless ``results`` come from a resumed run (``results["resumes"]``) and the
    file holds the row of that same run (model, recipe, data, keypoints, profile, seed and recipe settings all
    equal): the continuation of a run replaces its earlier row, saying so. That is what a chapter re-run after a
    Colab disconnect does, whose runs resume from their checkpoints.
    """
    from .reproduce import save_results
    from .results import RunRow, read_rows

    name = name or results["model"]
    row = RunRow.from_results(results, data=data, source=name)
    path = Path(out_dir) / f"results_{name}.json"
    if not overwrite and results.get("resumes") and path.is_file():
        try:
            old = read_rows(path, source=name)
        except (OSError, ValueError):
            old = []          # unreadable: leave the refusal to save_results
        if len(old) == 1 and all(getattr(old[0], k) == getattr(row, k) for k in SAME_RUN_KEYS):
            print(f"{path}: replacing the row of the same run, now resumed from its checkpoint", flush=True)
            overwrite = True
    return save_results(name, row, out_dir, overwrite=overwrite)


def summary_line(results: dict[str, Any]) -> str:
    """One line: model, recipe, steps, time and both errors."""
    def mm(v: Any) -> str:
        return "n/a" if v is None else f"{v:.1f} mm"

    return (f"{results['model']:<12} ({results.get('recipe')}): {results.get('steps')} steps in "
            f"{results.get('train_time_s', float('nan')):.0f} s, MPJPE {mm(results.get('mpjpe'))}, "
            f"P-MPJPE {mm(results.get('p_mpjpe'))}")
