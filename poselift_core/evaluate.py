"""Evaluation: predict every test frame (vectorised, in bounded chunks), score Protocols #1 and #2 in mm,
and tabulate per action (paper-style unweighted average) and per subject.

Single-frame models run on batches of frames. Temporal models (``receptive_field > 1``) lift whole sequences
with ``model.lift_sequence`` when they have one and every frame is scored (a model may share work between
neighbouring windows there); long sequences are cut into blocks with ``receptive_field // 2`` frames of context
on each side, so the result is exactly the whole-sequence one while memory stays bounded. Otherwise (no
``lift_sequence``, or a ``max_frames`` subset) the edge-padded window of each scored frame is gathered,
``batch_size`` windows at a time. Both paths give the same numbers (tests/test_train.py).
Explained in the book, chapter 4 ("Evaluation with and without flip averaging") and chapter 5
("Per-action evaluation"); the command line is on the page "Using the library from the command line"
(section "Evaluating a checkpoint").
"""
from __future__ import annotations

import functools
import inspect
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .batching import PoseTensors, gather_windows, predict_with_flip, window_indices
from .data import canonical_action
from .metrics import format_action_table, mpjpe, p_mpjpe, per_action_table


def frame_blocks(tensors: PoseTensors, max_frames: int | None = None,
                 block: int | None = None) -> list[tuple[int, int, int]]:
    """``(seq, start, stop)`` flat-frame ranges covering the frames to score.

    ``max_frames``: keep a centred run of ``ceil(max_frames / S)`` frames of every sequence (the quick
    profile's small evaluation; every action stays represented). ``block``: cut runs longer than this.
    """
    starts, lengths = tensors.seq_start.tolist(), tensors.seq_length.tolist()
    per_seq = None if max_frames is None else max(1, -(-max_frames // max(1, len(starts))))
    out = []
    for s, (a, n) in enumerate(zip(starts, lengths)):
        if per_seq is not None and n > per_seq:
            a, n = a + (n - per_seq) // 2, per_seq
        step = block or n or 1
        out.extend((s, b, min(b + step, a + n)) for b in range(a, a + n, step))
    return out


@torch.no_grad()
def predict(model: torch.nn.Module, tensors: PoseTensors, tta: bool = False, batch_size: int = 4096,
            max_frames: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """3D predictions for the test frames, root row zeroed.

    Returns ``(frames (N,) long, pred (N, J, 3))``: the flat indices scored (all frames unless
    ``max_frames``) and the model's root-relative poses for them, metres. ``tta``: flip averaging
    (chapter 2, "Flip augmentation"). The model is put in eval mode and restored afterwards.
    """
    was_training = model.training
    model.eval()
    rf = int(getattr(model, "receptive_field", 1))
    sk, kl, kr = tensors.skeleton, tensors.keypoints_left, tensors.keypoints_right

    def run(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return predict_with_flip(fn, x, sk, kl, kr) if tta else fn(x)

    frames, preds = [], []
    # lift_sequence also predicts the rf//2 context frames each side of a block: worth it for whole sequences,
    # wasteful for the short runs of a max_frames evaluation, where the window path scores only what is asked
    if rf > 1 and hasattr(model, "lift_sequence") and max_frames is None:
        # whole sequences, in blocks with rf//2 frames of real context each side (edge padding only at the ends)
        h = rf // 2
        lift = model.lift_sequence
        if "chunk" in inspect.signature(lift).parameters:      # GLA-GCN: windows per forward call
            lift = functools.partial(lift, chunk=batch_size)
        for s, a, b in frame_blocks(tensors, max_frames, block=max(batch_size, 8 * rf)):
            first = int(tensors.seq_start[s])
            last = first + int(tensors.seq_length[s])
            lo, hi = max(first, a - h), min(last, b + h)
            x = tensors.x2d[lo:hi].unsqueeze(0)                          # (1, N + context, J2, 2)
            y = run(lift, x)[0, a - lo: b - lo]                          # (N, J, 3)
            frames.append(torch.arange(a, b, device=tensors.device))
            preds.append(y)
    else:
        sel = torch.cat([torch.arange(a, b) for _, a, b in frame_blocks(tensors, max_frames)]).to(tensors.device)
        for idx in sel.split(batch_size):
            if rf > 1:
                x = gather_windows(tensors.x2d, window_indices(idx, tensors, rf))   # (B, T, J2, 2)
            else:
                x = tensors.x2d.index_select(0, idx)                               # (B, J2, 2)
            y = run(model, x)
            if y.ndim == 4:                                                        # (B, T_out, J, 3)
                y = y[:, y.shape[1] // 2]
            frames.append(idx)
            preds.append(y)
    model.train(was_training)
    pred = torch.cat(preds).float()
    root = sk.root
    return torch.cat(frames), pred - pred[:, root:root + 1]


#: How the two averages of :func:`score` are formed (written into results files, printed by the CLI).
AVERAGES = ("mpjpe / p_mpjpe: mean over actions of each action's frame-weighted mean (the papers' 'Average'); "
            "*_frames: mean over every scored frame")


def evaluate(model: torch.nn.Module, tensors: PoseTensors, tta: bool = False, batch_size: int = 4096,
             max_frames: int | None = None, mean_pose: torch.Tensor | None = None,
             return_predictions: bool = False) -> dict[str, Any]:
    """Protocol #1 (MPJPE) and #2 (P-MPJPE) in millimetres with per-action and per-subject tables.

    ``mpjpe``/``p_mpjpe`` are the paper-style numbers: the unweighted mean over actions of each action's
    frame-weighted mean (as VideoPose3D reports it). ``*_frames`` are the plain means over all scored frames.
    ``mean_pose``: ``(J, 3)`` root-relative metres (the mean training pose); adds ``mean_pose_mpjpe`` (and
    ``mean_pose_mpjpe_frames``), the trivial baseline's error on the same frames. ``return_predictions``:
    also return ``"predictions"`` (:func:`prediction_arrays`) under that key.
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 (or None for every frame), got {max_frames}")
    frames, pred = predict(model, tensors, tta=tta, batch_size=batch_size, max_frames=max_frames)
    target = tensors.y3d.index_select(0, frames).float()
    out = score(pred, target, tensors, frames, mean_pose=mean_pose) | {"tta": tta}
    if return_predictions:
        out["predictions"] = prediction_arrays(pred, target, tensors, frames)
    return out


def _two_averages(e: torch.Tensor, actions: list, seq: torch.Tensor) -> tuple[float, float]:
    """(per-action average, frame average) of per-frame errors ``e`` (N,)."""
    return per_action_table(e, actions, frame_seq=seq, action_of=canonical_action)["Average"], e.double().mean().item()


def score(pred: torch.Tensor, target: torch.Tensor, tensors: PoseTensors, frames: torch.Tensor,
          mean_pose: torch.Tensor | None = None) -> dict[str, Any]:
    """Scores of predictions ``(N, J, 3)`` against targets (metres) for the flat frames ``frames`` of ``tensors``.

    Returns ``mpjpe``, ``p_mpjpe`` (per-action averages), ``mpjpe_frames``, ``p_mpjpe_frames`` (frame
    averages), ``frames``, ``per_action`` ({"mpjpe": table, "p_mpjpe": table}), ``per_subject``
    ({subject: the same headline fields}) and ``per_subject_action`` ({"mpjpe": {subject: table}, ...}), all mm;
    with ``mean_pose`` also ``mean_pose_mpjpe`` / ``mean_pose_mpjpe_frames`` (overall and per subject).
    """
    e1 = mpjpe(pred, target, reduction="none") * 1000.0                     # (N,) mm
    e2 = p_mpjpe(pred, target, reduction="none") * 1000.0
    seq = tensors.frame_seq.index_select(0, frames).cpu()
    t1 = per_action_table(e1, tensors.actions, tensors.subjects, frame_seq=seq, action_of=canonical_action)
    t2 = per_action_table(e2, tensors.actions, tensors.subjects, frame_seq=seq, action_of=canonical_action)
    e0 = None
    if mean_pose is not None:
        base = mean_pose.to(target.device, target.dtype).expand_as(target)
        e0 = mpjpe(base - base[:, tensors.skeleton.root:tensors.skeleton.root + 1], target, reduction="none") * 1000.0
    subj = torch.as_tensor(_subject_codes(tensors), dtype=torch.long)[seq]       # (N,) subject index

    def fields(mask: torch.Tensor | None) -> dict[str, Any]:
        pick = (lambda e: e) if mask is None else (lambda e: e[mask.to(e.device)])
        s = seq if mask is None else seq[mask]
        out = {}
        out["mpjpe"], out["mpjpe_frames"] = _two_averages(pick(e1).cpu(), tensors.actions, s)
        out["p_mpjpe"], out["p_mpjpe_frames"] = _two_averages(pick(e2).cpu(), tensors.actions, s)
        if e0 is not None:
            out["mean_pose_mpjpe"], out["mean_pose_mpjpe_frames"] = _two_averages(pick(e0).cpu(), tensors.actions, s)
        out["frames"] = int(s.numel())
        return out

    names = list(dict.fromkeys(tensors.subjects))
    result = fields(None)
    result.update({
        "per_action": {"mpjpe": t1["All"], "p_mpjpe": t2["All"]},
        "per_subject": {name: fields(subj == k) for k, name in enumerate(names) if bool((subj == k).any())},
        "per_subject_action": {"mpjpe": {s: t for s, t in t1.items() if s != "All"},
                               "p_mpjpe": {s: t for s, t in t2.items() if s != "All"}},
        "averages": AVERAGES,
    })
    return result


def _subject_codes(tensors: PoseTensors) -> list[int]:
    """Per-sequence index of the sequence's subject in first-seen order."""
    names = list(dict.fromkeys(tensors.subjects))
    return [names.index(s) for s in tensors.subjects]


def prediction_arrays(pred: torch.Tensor, target: torch.Tensor, tensors: PoseTensors,
                      frames: torch.Tensor) -> dict[str, np.ndarray]:
    """The scored frames as arrays anyone can re-score: ``pred``, ``target`` ``(N, J, 3)`` float32 millimetres,
    root-relative in camera coordinates; ``subject``, ``action`` (raw key, e.g. ``"Walking 1"``), ``camera``
    (N,) labels; ``frame`` (N,) int64 index of the frame within its sequence."""
    seq = tensors.frame_seq.index_select(0, frames)
    cams = [tensors.cameras[s] for s in seq.tolist()]
    seq_list = seq.tolist()
    return {
        "pred": (pred.detach().float() * 1000.0).cpu().numpy().astype(np.float32),
        "target": (target.detach().float() * 1000.0).cpu().numpy().astype(np.float32),
        "subject": np.asarray([tensors.subjects[s] for s in seq_list], dtype=str),
        "action": np.asarray([tensors.actions[s] for s in seq_list], dtype=str),
        "camera": np.asarray(cams, dtype=np.int64 if all(isinstance(c, int) for c in cams) else str),
        "frame": (frames - tensors.seq_start.index_select(0, seq)).cpu().numpy().astype(np.int64),
    }


def save_predictions(path: "str | os.PathLike", arrays: dict[str, np.ndarray]) -> Path:
    """Write :func:`prediction_arrays` to ``path`` (``.npz`` without pickled objects: ``np.load`` needs no
    ``allow_pickle``); written through a temporary file, errors name ``path``."""
    from .checkpoint import write_failed

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    except OSError as e:
        if tmp.exists():
            tmp.unlink()
        raise write_failed(path, e) from None
    return path


def frames_description(tensors: PoseTensors, max_frames: int | None) -> str:
    """Which frames :func:`predict` scores, in words (for logs and results files)."""
    if max_frames is None:
        return f"every frame of the {tensors.num_sequences} test sequences"
    per_seq = max(1, -(-max_frames // max(1, tensors.num_sequences)))
    return (f"a centred run of at most {per_seq} frames of each of the {tensors.num_sequences} test sequences "
            f"(max_frames={max_frames})")


class MeanPose(torch.nn.Module):
    """The trivial baseline: one fixed pose (the mean training pose) whatever the input (chapter 3).

    Shapes: ``(B, J2, 2)`` or ``(B, T, J2, 2)`` -> ``(B, J, 3)``; ``pose`` is ``(J, 3)``.
    """

    receptive_field = 1

    def __init__(self, pose: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("pose", pose.detach().clone())

    def forward(self, x2d: torch.Tensor) -> torch.Tensor:
        return self.pose.expand(x2d.shape[0], -1, -1)


def mean_training_pose(train_set: PoseTensors) -> torch.Tensor:
    """``(J, 3)`` mean root-relative pose of a split, metres (float32, on the split's device)."""
    return train_set.y3d.float().mean(0)


def mean_pose_baseline(train_set: PoseTensors, test_set: PoseTensors, max_frames: int | None = None) -> dict[str, Any]:
    """:func:`evaluate` of :class:`MeanPose` with the mean root-relative training pose.

    A lifting model that does not beat this has learnt nothing from the 2D keypoints. ``max_frames`` as in the
    recipe (the quick profile scores a subset of the test frames).
    """
    model = MeanPose(mean_training_pose(train_set)).to(test_set.device)
    return evaluate(model, test_set, max_frames=max_frames)


# ------------------------------------------------------------------------------------------ reports
def results_markdown(results: dict[str, Any]) -> str:
    """A Markdown report: headline numbers, then the per-action table (P1, P2) and per-subject tables."""
    ev = results.get("evaluation", results)
    head = [f"# {results.get('recipe', 'evaluation')}", ""]
    facts = [("model", results.get("model")), ("parameters", results.get("parameters")),
             ("data", json.dumps(results["data"]) if "data" in results else None),
             ("epochs", results.get("epochs")), ("seed", results.get("seed")), ("tta", ev.get("tta")),
             ("frames scored", ev.get("frames")), ("which frames", ev.get("frames_scored")),
             ("train time (s)", results.get("train_time_s")), ("git commit", results.get("git_commit"))]
    mm = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731 - epochs that were not scored
    head += ["| | |", "|---|---|"]
    head += [f"| MPJPE (P1, mm, action average) | {mm(ev['mpjpe'])} |",
             f"| P-MPJPE (P2, mm, action average) | {mm(ev['p_mpjpe'])} |"]
    for key, label in (("mpjpe_frames", "MPJPE (P1, mm, frame average)"),
                       ("p_mpjpe_frames", "P-MPJPE (P2, mm, frame average)"),
                       ("mean_pose_mpjpe", "mean training pose MPJPE (mm, action average)")):
        if ev.get(key) is not None:
            head.append(f"| {label} | {mm(ev[key])} |")
    head += [f"| {k} | {v} |" for k, v in facts if v is not None]
    body = ["", "## Per action (mm)", "",
            format_action_table({"MPJPE (P1)": ev["per_action"]["mpjpe"],
                                 "P-MPJPE (P2)": ev["per_action"]["p_mpjpe"]}), ""]
    subjects = ev.get("per_subject") or {}
    if subjects:
        cols = [c for c in ("mpjpe", "p_mpjpe", "mpjpe_frames", "p_mpjpe_frames", "mean_pose_mpjpe", "frames")
                if all(c in v for v in subjects.values())]
        body += ["## Per subject (mm)", "", "| subject | " + " | ".join(cols) + " |",
                 "|---|" + "---:|" * len(cols)]
        body += [f"| {s} | " + " | ".join(str(v[c]) if c == "frames" else mm(v[c]) for c in cols) + " |"
                 for s, v in subjects.items()]
    by_action = ev.get("per_subject_action")
    if by_action:
        rows = {}
        for s, t in by_action["mpjpe"].items():
            rows[f"{s} P1"] = t
            rows[f"{s} P2"] = by_action["p_mpjpe"][s]
        body += ["", "## Per subject and action (mm)", "", format_action_table(rows)]
    hist = results.get("history")
    if hist:
        body += ["", "## History", "", "| epoch | loss | MPJPE (mm) | P-MPJPE (mm) | lr |", "|---|---:|---:|---:|---:|"]
        body += [f"| {h['epoch']} | {h['loss']:.5f} | {mm(h['mpjpe'])} | {mm(h['p_mpjpe'])} | {h['lr']:.3g} |"
                 for h in hist]
    return "\n".join(head + body) + "\n"


def write_results(out: "str | os.PathLike", results: dict[str, Any], predictions: dict[str, np.ndarray] | None = None,
                  overwrite: bool = False) -> list[Path]:
    """Write ``out/results.json`` (``results`` with its :class:`~poselift_core.results.RunRow` under ``"row"``)
    and ``out/results.md`` (and ``out/predictions.npz`` when ``predictions``).

    Refuses (:class:`~poselift_core.checkpoint.OutputExistsError`, naming the file) when ``out`` already holds
    results, predictions or a checkpoint, unless ``overwrite``. Returns the paths written.
    """
    from .checkpoint import RESULT_FILES, refuse_overwrite, write_text_atomic
    from .results import results_file_text     # the results plus, under "row", the run's RunRow

    out = Path(out)
    refuse_overwrite(out, RESULT_FILES, overwrite)
    written = [write_text_atomic(out / "results.json", results_file_text(results)),
               write_text_atomic(out / "results.md", results_markdown(results))]
    if predictions is not None:
        written.append(save_predictions(out / "predictions.npz", predictions))
    return written
