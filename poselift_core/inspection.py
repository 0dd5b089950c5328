"""Looking at what a trained lifter predicts: chosen test frames, per-joint error, and its worst case.

The chapters use these to show a model working (its predicted skeleton over the ground truth, with
:func:`poselift_core.plotting.plot_prediction_3d`) and failing, with the numbers that say why:

- :func:`predict_frames`: the model's root-relative 3D for any set of flat frame indices (temporal models get
  their windows, edge-padded inside each sequence as in training);
- :func:`pick_clip`: evenly spaced frames of one test sequence, to play back;
- :func:`worst_frame` / :func:`nearest_training_distance`: the scored frame with the largest error, and how far
  each pose lies from everything in the training set (root-relative MPJPE to the nearest training pose). A
  failure on a pose far from every training pose is a gap in the data, not in the network.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .batching import PoseTensors, gather_windows, window_indices
from .metrics import joint_errors

__all__ = ["predict_frames", "pick_clip", "frame_label", "nearest_training_distance", "FailureCase", "worst_frame",
           "PredictionReport", "prediction_report"]


@torch.no_grad()
def predict_frames(model: torch.nn.Module, tensors: PoseTensors, frames: torch.Tensor,
                   batch_size: int = 1024) -> torch.Tensor:
    """``(K, J, 3)`` root-relative predictions (metres, camera axes) of the flat frames ``frames`` ``(K,)``.

    A model with ``receptive_field`` T > 1 sees the T-frame window centred on each frame; its centre output is
    kept. The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    rf = int(getattr(model, "receptive_field", 1))
    frames = frames.to(tensors.device)
    out = []
    for idx in frames.split(batch_size):
        x = gather_windows(tensors.x2d, window_indices(idx, tensors, rf)) if rf > 1 else tensors.x2d[idx]
        y = model(x)
        out.append(y[:, y.shape[1] // 2] if y.ndim == 4 else y)              # (B, T_out, J, 3) -> centre
    model.train(was_training)
    pred = torch.cat(out).float()
    root = tensors.skeleton.root
    return pred - pred[:, root:root + 1]


def pick_clip(tensors: PoseTensors, subject: str, action: "str | None" = None, camera: int = 0,
              num_frames: int = 40, stride: int = 5) -> torch.Tensor:
    """``(K,)`` flat indices: every ``stride``-th frame of the middle of one (subject, action, camera) sequence.

    ``action=None`` picks the subject's longest sequence in that camera.
    """
    cands = [s for s in range(tensors.num_sequences) if tensors.subjects[s] == subject
             and tensors.cameras[s] == camera and (action is None or tensors.actions[s] == action)]
    if not cands:
        raise ValueError(f"no test sequence of subject {subject!r}, action {action!r}, camera {camera}; "
                         f"subjects {sorted(set(tensors.subjects))}")
    s = max(cands, key=lambda k: int(tensors.seq_length[k]))
    start, length = int(tensors.seq_start[s]), int(tensors.seq_length[s])
    span = min(length, num_frames * stride)
    first = start + (length - span) // 2
    return torch.arange(first, first + span, stride, device=tensors.device)[:num_frames]


def frame_label(tensors: PoseTensors, frame: int, error_mm: "float | None" = None) -> str:
    """``"subject 03, 03_04, camera 2, frame 812 (16.2 s): 61 mm"`` for one flat frame index."""
    s = int(tensors.frame_seq[frame])
    local = frame - int(tensors.seq_start[s])
    text = (f"subject {tensors.subjects[s]}, {tensors.actions[s]}, camera {tensors.cameras[s]}, frame {local} "
            f"({local / tensors.fps:.1f} s)")
    return text if error_mm is None else f"{text}: {error_mm:.0f} mm"


@torch.no_grad()
def nearest_training_distance(poses: torch.Tensor, train: PoseTensors, max_train: int = 20000,
                              chunk: int = 256) -> torch.Tensor:
    """``(K,)`` millimetres: MPJPE from each root-relative pose ``(K, J, 3)`` to its nearest training pose.

    Training poses are camera-space, so a pose seen from another side counts as different; every
    ``F // max_train``-th training frame is searched (consecutive frames at 50 Hz are nearly equal).
    """
    step = max(1, train.num_frames // max_train)
    bank = train.y3d[::step].to(poses.device, torch.float32).transpose(0, 1).contiguous()   # (J, M, 3)
    best = []
    for p in poses.float().split(chunk):
        # per-joint distance matrices (J, k, M) summed over joints: MPJPE to every bank pose without a (k, M, J, 3)
        d = torch.cdist(p.transpose(0, 1).contiguous(), bank, compute_mode="donot_use_mm_for_euclid_dist")
        best.append(d.mean(0).min(dim=1).values)
    return torch.cat(best) * 1000.0


@dataclass
class FailureCase:
    """The worst scored frame and what sets it apart."""

    frame: int                     # flat index into the test tensors
    error_mm: float                # its MPJPE
    label: str                     # frame_label(...)
    worst_joints: list[str]        # the three joints with the largest error, largest first
    nearest_train_mm: float        # distance of its true pose to the nearest training pose
    typical_nearest_train_mm: float  # the median of that distance over the scored frames
    median_error_mm: float         # the median MPJPE over the scored frames

    def sentence(self) -> str:
        """One sentence on why it fails, from the numbers (not a template that always says the same)."""
        far = self.nearest_train_mm > 1.5 * self.typical_nearest_train_mm
        why = (f"its true pose is {self.nearest_train_mm:.0f} mm from the closest training pose, against a median "
               f"of {self.typical_nearest_train_mm:.0f} mm for the test frames: nothing like it was in the training "
               "data, so the network falls back on poses it knows"
               if far else
               f"yet its true pose is only {self.nearest_train_mm:.0f} mm from a training pose (median "
               f"{self.typical_nearest_train_mm:.0f} mm): the 2D input is ambiguous here (depth of the limbs), "
               "not unseen")
        ratio = (f", {self.error_mm / self.median_error_mm:.1f}x the median frame" if self.median_error_mm > 0
                 else "")
        return (f"The worst frame ({self.label}) is {self.error_mm:.0f} mm off{ratio}; most of the error is in the "
                f"{', '.join(self.worst_joints)}; {why}.")


def worst_frame(pred: torch.Tensor, target: torch.Tensor, frames: torch.Tensor, tensors: PoseTensors,
                train: PoseTensors, typical_of: int = 500) -> FailureCase:
    """The :class:`FailureCase` among scored frames ``frames`` ``(K,)`` with predictions/targets ``(K, J, 3)``.

    The typical distance to the training poses is the median over ``typical_of`` evenly spaced scored frames.
    """
    per_joint = joint_errors(pred, target) * 1000.0                           # (K, J) mm
    per_frame = per_joint.mean(-1)
    k = int(per_frame.argmax())
    some = torch.linspace(0, len(target) - 1, min(typical_of, len(target))).round().long().to(target.device)
    near = nearest_training_distance(torch.cat([target[k:k + 1], target[some]]), train)
    names = tensors.skeleton.names
    order = per_joint[k].argsort(descending=True)[:3].tolist()
    return FailureCase(frame=int(frames[k]), error_mm=float(per_frame[k]),
                       label=frame_label(tensors, int(frames[k])), worst_joints=[names[j] for j in order],
                       nearest_train_mm=float(near[0]), typical_nearest_train_mm=float(near[1:].median()),
                       median_error_mm=float(per_frame.median()))


@dataclass
class PredictionReport:
    """What a chapter shows of a trained model: a played-back clip, the per-joint error, the worst frame.

    ``clip_*``: ``(K, J, 3)`` metres of the chosen clip; ``scored_frames`` ``(M,)``: the frames behind the
    per-joint errors ``(J,)`` mm (model and mean training pose) and the failure case.
    """

    clip_frames: torch.Tensor
    clip_pred: torch.Tensor
    clip_target: torch.Tensor
    clip_labels: list[str]
    scored_frames: torch.Tensor
    per_joint_mm: torch.Tensor
    mean_pose_per_joint_mm: torch.Tensor
    mpjpe_mm: float
    mean_pose_mpjpe_mm: float
    failure: FailureCase
    failure_pred: torch.Tensor
    failure_target: torch.Tensor
    skeleton_name: str

    def clip_figure(self, title: str = "prediction (colours) over the ground truth (grey)"):
        from .plotting import plot_prediction_3d
        return plot_prediction_3d(self.clip_pred, self.clip_target, self.skeleton_name, fps=10.0,
                                  labels=self.clip_labels, title=title)

    def failure_figure(self):
        from .plotting import plot_prediction_3d
        return plot_prediction_3d(self.failure_pred, self.failure_target, self.skeleton_name,
                                  title=f"worst frame: {self.failure.label}, {self.failure.error_mm:.0f} mm",
                                  height=440)

    def joint_figure(self, title: str | None = None):
        from .plotting import plot_per_joint_error
        return plot_per_joint_error(self.per_joint_mm, self.skeleton_name, baseline_mm=self.mean_pose_per_joint_mm,
                                    title=title or f"mean error per joint over {len(self.scored_frames):,} test frames")

    def summary(self) -> str:
        return (f"{len(self.scored_frames):,} test frames scored: MPJPE {self.mpjpe_mm:.1f} mm, mean training pose "
                f"{self.mean_pose_mpjpe_mm:.1f} mm ({self.mpjpe_mm / self.mean_pose_mpjpe_mm:.2f}x)")


def prediction_report(model: torch.nn.Module, test: PoseTensors, train: PoseTensors, subject: str,
                      action: "str | None" = None, camera: int = 1, num_frames: int = 40, stride: int = 5,
                      max_scored: int = 4000) -> PredictionReport:
    """Predict a clip of ``subject`` (see :func:`pick_clip`) and every ``F // max_scored``-th test frame; find
    the worst of the latter. The mean training pose is taken from ``train``."""
    from .evaluate import mean_training_pose
    from .metrics import per_joint_error

    clip = pick_clip(test, subject, action, camera, num_frames, stride)
    clip_pred = predict_frames(model, test, clip)
    clip_target = test.y3d[clip].float()
    clip_err = joint_errors(clip_pred, clip_target).mean(-1) * 1000.0
    labels = [frame_label(test, int(f), float(e)) for f, e in zip(clip, clip_err)]
    step = max(1, test.num_frames // max_scored)
    scored = torch.arange(0, test.num_frames, step, device=test.device)
    pred = predict_frames(model, test, scored)
    target = test.y3d[scored].float()
    mean_pose = mean_training_pose(train).to(target.device)
    per_joint = per_joint_error(pred, target) * 1000.0
    base_joint = per_joint_error(mean_pose.expand_as(target), target) * 1000.0
    case = worst_frame(pred, target, scored, test, train)
    k = int((scored == case.frame).nonzero()[0])
    return PredictionReport(clip, clip_pred.cpu(), clip_target.cpu(), labels, scored.cpu(), per_joint.cpu(),
                            base_joint.cpu(), float(per_joint.mean()), float(base_joint.mean()), case,
                            pred[k].cpu(), target[k].cpu(), test.skeleton.name)
