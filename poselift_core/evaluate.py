"""Evaluation: predict every test frame (vectorised, in bounded chunks), score Protocols #1 and #2 in mm,
and tabulate per action (paper-style unweighted average) and per subject.

Single-frame models run on batches of frames. Temporal models (``receptive_field > 1``) lift whole sequences
with ``model.lift_sequence`` when they have one and every frame is scored (a model may share work between
neighbouring windows there); long sequences are cut into blocks with ``receptive_field // 2`` frames of context
on each side, so the result is exactly the whole-sequence one while memory stays bounded. Otherwise (no
``lift_sequence``, or a ``max_frames`` subset) the edge-padded window of each scored frame is gathered,
``batch_size`` windows at a time. Both paths give the same numbers (tests/test_train.py).
Explained in the book, chapter 7 ("Evaluation").
"""
from __future__ import annotations

import functools
import inspect
import json
from typing import Any, Callable, Sequence

import torch

from .batching import PoseTensors, gather_windows, predict_with_flip, window_indices
from .metrics import format_action_table, mpjpe, p_mpjpe, per_action_table

# GridConv's 12 S9 sequences whose 3D ground truth drifts from the video (data.md 9.3): (subject, action key).
DRIFT_SEQUENCES = (("S9", "Greeting"), ("S9", "SittingDown 1"), ("S9", "Waiting 1"))


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
    (data.md 7). The model is put in eval mode and restored afterwards.
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


def evaluate(model: torch.nn.Module, tensors: PoseTensors, tta: bool = False, batch_size: int = 4096,
             max_frames: int | None = None) -> dict[str, Any]:
    """Protocol #1 (MPJPE) and #2 (P-MPJPE) in millimetres with per-action and per-subject tables.

    ``mpjpe``/``p_mpjpe`` are the paper-style numbers: the unweighted mean over actions of each action's
    frame-weighted mean (data.md 6). ``*_frames`` are the plain means over all scored frames.
    """
    frames, pred = predict(model, tensors, tta=tta, batch_size=batch_size, max_frames=max_frames)
    return score(pred, tensors.y3d.index_select(0, frames).float(), tensors, frames) | {"tta": tta}


def score(pred: torch.Tensor, target: torch.Tensor, tensors: PoseTensors, frames: torch.Tensor) -> dict[str, Any]:
    """Scores of predictions ``(N, J, 3)`` against targets (metres) for the flat frames ``frames`` of ``tensors``."""
    e1 = mpjpe(pred, target, reduction="none") * 1000.0                     # (N,) mm
    e2 = p_mpjpe(pred, target, reduction="none") * 1000.0
    seq = tensors.frame_seq.index_select(0, frames).cpu()
    t1 = per_action_table(e1, tensors.actions, tensors.subjects, frame_seq=seq)
    t2 = per_action_table(e2, tensors.actions, tensors.subjects, frame_seq=seq)
    return {
        "mpjpe": t1["All"]["Average"],
        "p_mpjpe": t2["All"]["Average"],
        "mpjpe_frames": e1.double().mean().item(),
        "p_mpjpe_frames": e2.double().mean().item(),
        "frames": int(frames.numel()),
        "per_action": {"mpjpe": t1["All"], "p_mpjpe": t2["All"]},
        "per_subject": {"mpjpe": {s: t for s, t in t1.items() if s != "All"},
                        "p_mpjpe": {s: t for s, t in t2.items() if s != "All"}},
    }


def drop_sequences(tensors: PoseTensors, exclude: Sequence[tuple[str, str]] = DRIFT_SEQUENCES) -> PoseTensors:
    """A copy of ``tensors`` without the sequences whose ``(subject, action key)`` is in ``exclude``
    (default: the S9 drift sequences, all cameras). For loaders that cannot exclude them themselves."""
    keep = [s for s in range(tensors.num_sequences)
            if (tensors.subjects[s], tensors.actions[s]) not in set(exclude)]
    return select_sequences(tensors, keep)


def select_sequences(tensors: PoseTensors, keep: Sequence[int]) -> PoseTensors:
    """A :class:`PoseTensors` with only the sequences ``keep`` (re-indexed, frames contiguous again)."""
    from dataclasses import replace

    dev = tensors.device
    keep_t = torch.as_tensor(list(keep), dtype=torch.long, device=dev)
    lengths = tensors.seq_length.index_select(0, keep_t)
    starts = tensors.seq_start.index_select(0, keep_t)
    frames = torch.cat([torch.arange(int(a), int(a) + int(n), device=dev) for a, n in zip(starts, lengths)]) \
        if len(keep) else torch.zeros(0, dtype=torch.long, device=dev)
    new_start = torch.cumsum(lengths, 0) - lengths
    return replace(
        tensors, x2d=tensors.x2d[frames], y3d=tensors.y3d[frames], root=tensors.root[frames],
        frame_seq=torch.repeat_interleave(torch.arange(len(keep), device=dev), lengths),
        seq_start=new_start, seq_length=lengths, intrinsics=tensors.intrinsics.index_select(0, keep_t),
        subjects=[tensors.subjects[s] for s in keep], actions=[tensors.actions[s] for s in keep],
        cameras=[tensors.cameras[s] for s in keep])


# ------------------------------------------------------------------------------------------ reports
def results_markdown(results: dict[str, Any]) -> str:
    """A Markdown report: headline numbers, then the per-action table (P1, P2) and per-subject tables."""
    ev = results.get("evaluation", results)
    head = [f"# {results.get('recipe', 'evaluation')}", ""]
    facts = [("model", results.get("model")), ("parameters", results.get("parameters")),
             ("data", json.dumps(results["data"]) if "data" in results else None),
             ("epochs", results.get("epochs")), ("seed", results.get("seed")), ("tta", ev.get("tta")),
             ("frames scored", ev.get("frames")), ("train time (s)", results.get("train_time_s")),
             ("git commit", results.get("git_commit"))]
    head += ["| | |", "|---|---|"]
    head += [f"| MPJPE (P1, mm, action average) | {ev['mpjpe']:.2f} |",
             f"| P-MPJPE (P2, mm, action average) | {ev['p_mpjpe']:.2f} |"]
    head += [f"| {k} | {v} |" for k, v in facts if v is not None]
    body = ["", "## Per action (mm)", "",
            format_action_table({"MPJPE (P1)": ev["per_action"]["mpjpe"],
                                 "P-MPJPE (P2)": ev["per_action"]["p_mpjpe"]}), "",
            "## Per subject (mm)", ""]
    rows = {}
    for s, t in ev["per_subject"]["mpjpe"].items():
        rows[f"{s} P1"] = t
        rows[f"{s} P2"] = ev["per_subject"]["p_mpjpe"][s]
    body.append(format_action_table(rows))
    hist = results.get("history")
    if hist:
        body += ["", "## History", "", "| epoch | loss | MPJPE (mm) | P-MPJPE (mm) | lr |", "|---|---:|---:|---:|---:|"]
        mm = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731 - epochs that were not scored
        body += [f"| {h['epoch']} | {h['loss']:.5f} | {mm(h['mpjpe'])} | {mm(h['p_mpjpe'])} | {h['lr']:.3g} |"
                 for h in hist]
    return "\n".join(head + body) + "\n"
