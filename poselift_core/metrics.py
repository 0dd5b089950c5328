"""Evaluation metrics for 3D pose lifting: MPJPE (Protocols #1-#3), velocity error, PCK/AUC, per-action tables.

Every metric takes ``pred`` and ``target`` of the same shape ``(..., J, 3)`` (root-relative joints; any leading
dims: frames, batch, windows) and returns a 0-d tensor in the input's units (metres in, metres out: multiply by
1000 for the millimetres papers report). ``reduction="none"`` returns one value per pose, shape ``(...)``, which is
what per-action tables need. NumPy arrays are accepted too; the answer then comes back as a Python float (0-d) or
a NumPy array. There is one implementation, on tensors; the conversion happens only at the boundary.

The definitions follow VideoPose3D (Pavllo et al., CVPR 2019, `facebookresearch/VideoPose3D`; PCK/AUC: Mehta et
al., 3DV 2017, MPI-INF-3DHP) and are explained in the book, chapter 1 ("How lifting is scored").
"""
from __future__ import annotations

import functools
import re
from typing import Callable, Literal, Mapping, Sequence

import numpy as np
import torch

__all__ = [
    "joint_errors",
    "mpjpe",
    "procrustes_align",
    "p_mpjpe",
    "scale_align",
    "n_mpjpe",
    "mpjve",
    "per_joint_error",
    "pck",
    "auc",
    "per_action_table",
    "format_action_table",
]

Reduction = Literal["mean", "none"]

# Keeps a collapsed pose (all joints on one point, zero Frobenius norm) finite in the Procrustes and scale fits.
_EPS = 1e-12


# --------------------------------------------------------------------------- helpers
def _numpy_boundary(fn: Callable) -> Callable:
    """Let a tensor metric accept NumPy arrays: convert in, and give a float / ndarray back."""

    @functools.wraps(fn)
    def wrapper(pred, target, *args, **kwargs):
        from_numpy = isinstance(pred, np.ndarray) or isinstance(target, np.ndarray)
        if from_numpy:
            pred, target = torch.as_tensor(pred), torch.as_tensor(target)
        out = fn(pred, target, *args, **kwargs)
        if not from_numpy:
            return out
        out = out.detach().cpu()
        return out.item() if out.ndim == 0 else out.numpy()

    return wrapper


def _check_pair(pred: torch.Tensor, target: torch.Tensor, metric: str, min_frames: int = 0) -> None:
    if pred.shape != target.shape:
        raise ValueError(f"{metric}: pred has shape {tuple(pred.shape)} but target has {tuple(target.shape)}; "
                         "both must be (..., J, 3)")
    if pred.ndim < 2 + (min_frames > 0):
        raise ValueError(f"{metric}: expected poses of shape (..., J, 3), got {tuple(pred.shape)}")
    if min_frames and pred.shape[-3] < min_frames:
        raise ValueError(f"{metric}: needs at least {min_frames} frames on dim -3, got shape {tuple(pred.shape)}")


def _reduce(per_pose: torch.Tensor, reduction: Reduction, dtype: torch.dtype) -> torch.Tensor:
    if reduction == "none":
        return per_pose.to(dtype)
    if reduction == "mean":
        # accumulate in float64: a test split has ~10^6 poses
        return per_pose.to(torch.float64).mean().to(dtype)
    raise ValueError(f"unknown reduction {reduction!r}; use 'mean' or 'none'")


def _float_dtype(t: torch.Tensor) -> torch.dtype:
    return t.dtype if t.is_floating_point() else torch.get_default_dtype()


# --------------------------------------------------------------------------- Protocol #1
@_numpy_boundary
def joint_errors(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per joint, ``||P_j - G_j||``: ``(..., J, 3) -> (..., J)``."""
    _check_pair(pred, target, "joint_errors")
    return torch.linalg.vector_norm(pred - target, dim=-1)


@_numpy_boundary
def mpjpe(pred: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """Protocol #1, mean per-joint position error: ``mean_j ||P_j - G_j||`` averaged over poses.

    Args:
        pred, target: ``(..., J, 3)`` root-relative poses (the root row is part of the mean, as in
            VideoPose3D / GLA-GCN / GridConv; drop it beforehand to average over J-1 joints).
        reduction: ``"mean"`` -> 0-d; ``"none"`` -> ``(...)`` one error per pose.
    """
    _check_pair(pred, target, "mpjpe")
    return _reduce(joint_errors(pred, target).mean(-1), reduction, _float_dtype(pred))


# --------------------------------------------------------------------------- Protocol #2
@_numpy_boundary
def procrustes_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Similarity transform ``s R P + t`` of every predicted pose that best matches its target (least squares).

    Orthogonal Procrustes on centred poses scaled to unit Frobenius norm (for conditioning): with
    ``M = P0^T G0 = U S V^T`` the optimal rotation for row-vector poses is ``R = U V^T`` and the optimal scale
    (in normalised units) is ``trace(S)``. Reflections are forbidden: where ``det(U V^T) < 0`` the sign of the
    last singular vector and of the last singular value is flipped. Batched over all leading dims, computed in
    float64, returned in ``pred``'s dtype. A collapsed prediction (all joints on one point) maps onto the
    target's centroid; a collapsed target gives the target back.

    Shapes: ``(..., J, D) -> (..., J, D)``.
    """
    _check_pair(pred, target, "procrustes_align")
    return _procrustes64(pred, target).to(_float_dtype(pred))


def _procrustes64(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    P, G = pred.to(torch.float64), target.to(torch.float64)
    mu_p, mu_g = P.mean(-2, keepdim=True), G.mean(-2, keepdim=True)     # (..., 1, D)
    P0, G0 = P - mu_p, G - mu_g
    norm_p = torch.linalg.vector_norm(P0, dim=(-2, -1), keepdim=True)   # (..., 1, 1)
    norm_g = torch.linalg.vector_norm(G0, dim=(-2, -1), keepdim=True)
    P0 = P0 / norm_p.clamp_min(_EPS)
    G0 = G0 / norm_g.clamp_min(_EPS)
    U, S, Vh = torch.linalg.svd(P0.transpose(-1, -2) @ G0)              # (..., D, D), (..., D), (..., D, D)
    # forbid reflections: det(U V^T) = -1 means the best orthogonal map mirrors the pose
    sign = torch.where(torch.linalg.det(U @ Vh) < 0, -1.0, 1.0).to(torch.float64)   # (...,)
    U = torch.cat([U[..., :-1], U[..., -1:] * sign[..., None, None]], dim=-1)
    S = torch.cat([S[..., :-1], S[..., -1:] * sign[..., None]], dim=-1)
    R = U @ Vh
    scale = S.sum(-1)[..., None, None]                                  # optimal s for unit-norm poses
    return scale * norm_g * (P0 @ R) + mu_g


@_numpy_boundary
def p_mpjpe(pred: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """Protocol #2 (PA-MPJPE): MPJPE after the per-pose similarity alignment of :func:`procrustes_align`.

    Always ``<=`` :func:`mpjpe` of the same pose (the identity is one of the transforms searched) and
    invariant to any rotation, uniform scale and translation of ``pred``. Computed in float64.
    """
    _check_pair(pred, target, "p_mpjpe")
    aligned = _procrustes64(pred, target)
    per_pose = torch.linalg.vector_norm(aligned - target.to(torch.float64), dim=-1).mean(-1)
    return _reduce(per_pose, reduction, _float_dtype(pred))


# --------------------------------------------------------------------------- Protocol #3
@_numpy_boundary
def scale_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pose least-squares scale ``s P`` with ``s = sum(P * G) / sum(P * P)`` over joints and coordinates.

    No centring (the poses are root-relative already), as in VideoPose3D's N-MPJPE. Shapes ``(..., J, 3)``.
    """
    _check_pair(pred, target, "scale_align")
    P, G = pred.to(torch.float64), target.to(torch.float64)
    s = (P * G).sum((-2, -1), keepdim=True) / (P * P).sum((-2, -1), keepdim=True).clamp_min(_EPS)
    return (s * P).to(_float_dtype(pred))


@_numpy_boundary
def n_mpjpe(pred: torch.Tensor, target: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """Protocol #3 (N-MPJPE): MPJPE after the per-pose optimal scale of :func:`scale_align`."""
    _check_pair(pred, target, "n_mpjpe")
    per_pose = mpjpe(scale_align(pred.to(torch.float64), target.to(torch.float64)), target.to(torch.float64),
                     reduction="none")
    return _reduce(per_pose, reduction, _float_dtype(pred))


# --------------------------------------------------------------------------- velocity
@_numpy_boundary
def mpjve(
    pred: torch.Tensor,
    target: torch.Tensor,
    reduction: Reduction = "mean",
    sequence: "torch.Tensor | np.ndarray | None" = None,
) -> torch.Tensor:
    """Mean per-joint velocity error: ``mean_t,j ||(P_{t+1} - P_t) - (G_{t+1} - G_t)||`` (units per frame).

    Args:
        pred, target: ``(..., T, J, 3)``, frames on dim -3 (one sequence, or a batch of equally long ones).
        reduction: ``"mean"`` -> 0-d; ``"none"`` -> ``(..., T-1)``, one error per frame transition.
        sequence: optional ``(T,)`` sequence id per frame, for flat arrays that concatenate several sequences
            (``PoseTensors.frame_seq``): transitions between two sequences are dropped.
    """
    _check_pair(pred, target, "mpjve", min_frames=2)
    vel_err = torch.diff(pred, dim=-3) - torch.diff(target, dim=-3)      # (..., T-1, J, 3)
    per_step = torch.linalg.vector_norm(vel_err, dim=-1).mean(-1)       # (..., T-1)
    if sequence is not None:
        sequence = torch.as_tensor(sequence, device=per_step.device)
        if sequence.shape != (pred.shape[-3],):
            raise ValueError(f"mpjve: sequence must have shape ({pred.shape[-3]},), got {tuple(sequence.shape)}")
        per_step = per_step[..., sequence[1:] == sequence[:-1]]
    return _reduce(per_step, reduction, _float_dtype(pred))


# --------------------------------------------------------------------------- per joint, PCK, AUC
@_numpy_boundary
def per_joint_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean error of each joint over all poses: ``(..., J, 3) -> (J,)``.

    Align first for a Protocol #2 breakdown: ``per_joint_error(procrustes_align(pred, target), target)``.
    """
    _check_pair(pred, target, "per_joint_error")
    err = joint_errors(pred, target)                                    # (..., J)
    return err.reshape(-1, err.shape[-1]).to(torch.float64).mean(0).to(_float_dtype(pred))


@_numpy_boundary
def pck(pred: torch.Tensor, target: torch.Tensor, threshold: float = 0.150,
        reduction: Reduction = "mean") -> torch.Tensor:
    """Percentage of correct keypoints: ``100 * mean_j [||P_j - G_j|| < threshold]`` (MPI-INF-3DHP, Mehta et al. 2017).

    Args:
        threshold: in the input's units: 0.150 for metres (the default, 150 mm), 150 for millimetres.
            The comparison is strict, as in the official MPI-INF-3DHP script.
        reduction: ``"mean"`` over all joints of all poses; ``"none"`` -> ``(...)`` per pose.
    """
    _check_pair(pred, target, "pck")
    correct = (joint_errors(pred, target) < threshold).to(torch.float64).mean(-1)
    return _reduce(100.0 * correct, reduction, _float_dtype(pred))


@_numpy_boundary
def auc(pred: torch.Tensor, target: torch.Tensor, max_threshold: float = 0.150, step: float = 0.005,
        reduction: Reduction = "mean") -> torch.Tensor:
    """Area under the PCK curve: mean of :func:`pck` over thresholds ``0, step, ..., max_threshold``, in percent.

    The defaults (metres) are the MPI-INF-3DHP convention 0, 5, ..., 150 mm (31 thresholds); pass
    ``max_threshold=150, step=5`` for millimetre inputs.
    """
    _check_pair(pred, target, "auc")
    num = int(round(max_threshold / step)) + 1
    err = joint_errors(pred, target)                                    # (..., J)
    # a loop over the 31 thresholds, not over poses: memory stays O(poses x joints)
    total = sum((err < k * step).to(torch.float64).mean(-1) for k in range(num))
    return _reduce(100.0 * total / num, reduction, _float_dtype(pred))


# --------------------------------------------------------------------------- per-action tables
def _action_sort_key(name: str) -> str:
    # Case-insensitive alphabetical order reproduces the usual Human3.6M column order
    # (Directions ... Sitting, SittingDown, ... WalkDog, Walking, WalkTogether).
    return name.lower()


def _natural_key(name: str) -> list:
    """``"S9"`` before ``"S11"``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _codes(labels: Sequence[str], frame_seq: "torch.Tensor | None", num_frames: int,
           canonical: Callable[[str], str], sort_key: Callable) -> tuple[list[str], torch.Tensor]:
    """Integer code per frame for string labels given per frame (or per sequence with ``frame_seq``)."""
    uniq, inverse = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
    names = sorted({canonical(u) for u in uniq}, key=sort_key)
    code_of_uniq = torch.tensor([names.index(canonical(u)) for u in uniq], dtype=torch.long)
    codes = code_of_uniq[torch.as_tensor(inverse.reshape(-1), dtype=torch.long)]
    if frame_seq is not None:
        codes = codes[torch.as_tensor(frame_seq, dtype=torch.long).cpu()]
    if codes.shape != (num_frames,):
        what = "frame_seq" if frame_seq is not None else "labels"
        raise ValueError(f"per_action_table: {what} give {codes.numel()} frames but errors has {num_frames}")
    return names, codes


def per_action_table(
    errors: "torch.Tensor | np.ndarray",
    actions: Sequence[str],
    subjects: "Sequence[str] | None" = None,
    frame_seq: "torch.Tensor | np.ndarray | None" = None,
    action_of: "Callable[[str], str] | None" = None,
) -> dict:
    """Frame-weighted mean error per action and the paper-style unweighted ``"Average"``.

    Args:
        errors: ``(N,)`` one error per frame (``mpjpe(..., reduction="none")``), any units.
        actions: action labels, one per frame, or one per sequence when ``frame_seq`` is given.
        subjects: optional subject labels in the same layout as ``actions``; adds a per-subject breakdown.
        frame_seq: optional ``(N,)`` sequence index per frame (``PoseTensors.frame_seq``).
        action_of: maps a label to the action it is averaged under, compared for equality; pass
            :func:`poselift_core.data.canonical_action` for raw file keys (``"Directions 1"`` and
            ``"Directions 2"`` -> ``"Directions"``, while ``Sitting`` and ``SittingDown`` stay apart).
            Default: every distinct label is an action of its own.

    Returns:
        ``{action: mean, ..., "Average": mean over actions}`` in Human3.6M column order (floats). With
        ``subjects``: ``{subject: such a table, ..., "All": the table over every subject}``.
    """
    err = torch.as_tensor(errors).detach().to(torch.float64).cpu().reshape(-1)
    names, codes = _codes(actions, frame_seq, err.numel(), action_of or str, _action_sort_key)

    def table(mask: "torch.Tensor | None") -> dict[str, float]:
        c, e = (codes, err) if mask is None else (codes[mask], err[mask])
        sums = torch.bincount(c, weights=e, minlength=len(names))
        counts = torch.bincount(c, minlength=len(names))
        out = {n: (sums[k] / counts[k]).item() for k, n in enumerate(names) if counts[k] > 0}
        out["Average"] = float(np.mean(list(out.values()))) if out else float("nan")
        return out

    if subjects is None:
        return table(None)
    subject_names, subject_codes = _codes(subjects, frame_seq, err.numel(), str, _natural_key)
    result = {s: table(subject_codes == k) for k, s in enumerate(subject_names)}
    result["All"] = table(None)
    return result


def format_action_table(
    tables: Mapping[str, Mapping[str, float]],
    actions: "Sequence[str] | None" = None,
    digits: int = 1,
    average_label: str = "Avg",
) -> str:
    """Markdown table: one row per entry of ``tables`` (protocols or models), one column per action, then Avg.

    Args:
        tables: ``{row name: per_action_table(...)}``; values already in the units to print (e.g. mm).
        actions: column order; default every action found, in Human3.6M order. A missing value prints ``-``.
    """
    if actions is None:
        found = {a for t in tables.values() for a in t if a != "Average"}
        actions = sorted(found, key=_action_sort_key)
    columns = list(actions) + ["Average"]

    def cell(t: Mapping[str, float], a: str) -> str:
        return f"{t[a]:.{digits}f}" if a in t else "-"

    header = "| | " + " | ".join(list(actions) + [average_label]) + " |"
    rule = "|---|" + "---:|" * len(columns)
    rows = [f"| {name} | " + " | ".join(cell(t, a) for a in columns) + " |" for name, t in tables.items()]
    return "\n".join([header, rule, *rows])
