"""The multi-view check of single-view lifting on a real capture (``data/demo_capture``).

Each of the four views of pose2sim's ``Demo_SinglePerson`` is lifted on its own, from its MediaPipe
detections, by the pipeline of :mod:`poselift_core.lift`, and scored against the 3D the four views triangulate
together (a reference no lifter and no training data took part in). The reference is rotated into each
camera and both poses are root-centred, so MPJPE measures the pose in that camera's axes and P-MPJPE (per-frame
similarity alignment) the pose's shape.

Next to each view's numbers:

* ``mean pose``: the mean training pose of the open benchmark (the mean of its train split's root-relative
  camera-space poses, the library's usual baseline). Averaged over cameras all round the subject, its left
  and right joints collapse towards the body's midline, so it is a weak baseline even after Procrustes.
* ``clip average``: the reference's own average pose over the clip, in the camera's axes (for P-MPJPE:
  aligned per frame): an oracle that knows the answer, and a hard bar, because the person barely changes pose.
* ``triangulation error``: the reference's median reprojection error in that view, pixels.

:func:`ablation` lifts every view with the pipeline's steps switched on one after the other and reports what
each gains. Run ``python -m poselift_core lift --check-demo`` (or ``python -m poselift_core.demo_check``).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ._bundled_path import bundled_path
from .lift import LiftOptions, lift_keypoints, load_lifter

__all__ = ["DEMO_DIR", "DemoView", "load_demo", "mean_training_pose", "view_metrics", "check_demo", "ablation",
           "ABLATION_STEPS", "format_table", "main"]

DEMO_DIR = bundled_path("demo_capture")  # data/demo_capture of a checkout, the packaged copy after an install


@dataclass
class DemoView:
    """One camera of the demo capture: its detections and the reference in its axes.

    Attributes:
        name: ``"cam01"``. camera: :class:`poselift_core.multiview.MultiViewCamera`.
        keypoints: ``(frames, 33, 3)`` BlazePose pixels + visibility. image_size: ``(width, height)``.
        reference: ``(frames, 17, 3)`` triangulated Human3.6M-17 joints in this camera's axes, root-centred, metres.
        reprojection_px: median reprojection error of the reference in this view (pixels).
    """

    name: str
    camera: object
    keypoints: np.ndarray
    image_size: tuple[int, int]
    reference: np.ndarray
    reprojection_px: float


def load_demo(root: "str | Path | None" = None) -> list[DemoView]:
    """The four views of ``data/demo_capture`` (detections, calibration, reference)."""
    from .keypoints import read_keypoints
    from .multiview import load_calibration

    root = Path(root) if root is not None else DEMO_DIR
    cams = load_calibration(root / "calibration.json")
    with np.load(root / "reference.npz") as z:
        ref = z["joints_h36m17"].astype(np.float64)
        err = np.where(z["used"], z["reprojection_error"], np.nan)
    views = []
    for v, cam in enumerate(cams):
        kf = read_keypoints(root / "detections" / f"{cam.name}.npz")
        X = cam.world_to_camera(ref)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = float(np.nanmedian(err[v]))
        views.append(DemoView(cam.name, cam, kf.keypoints, kf.image_size, X - X[:, :1], med))
    return views


def mean_training_pose() -> np.ndarray:
    """``(17, 3)`` metres: the mean of the open benchmark's train-split root-relative poses."""
    from .recipes import get_recipe
    from .sources import load_data

    train, _, _ = load_data(get_recipe("gcn-modulated-gt", joints=17), "open")
    return train.y3d.mean(0).double().numpy()


def _procrustes(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    from .metrics import procrustes_align
    return np.asarray(procrustes_align(np.ascontiguousarray(pred), np.ascontiguousarray(target)))


def view_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MPJPE and P-MPJPE in millimetres of ``pred`` vs ``target`` ``(frames, 17, 3)`` over frames whose
    reference is complete; computed here from the joint distances (and :func:`procrustes_align`)."""
    ok = np.isfinite(target).all((1, 2))
    p, t = np.asarray(pred, np.float64)[ok], target[ok]
    p = np.broadcast_to(p, t.shape) if p.shape != t.shape else p
    mp = float(np.linalg.norm(p - t, axis=-1).mean() * 1000)
    pa = float(np.linalg.norm(_procrustes(p, t) - t, axis=-1).mean() * 1000)
    return {"mpjpe": mp, "p_mpjpe": pa, "frames": int(ok.sum())}


@dataclass
class CheckResult:
    """Per-view rows (dicts with the table's columns), the predictions ``name -> (frames, 17, 3)`` and timing."""

    rows: list[dict]
    predictions: dict[str, np.ndarray]
    references: dict[str, np.ndarray]
    frames_per_second: float
    model: str
    options: dict = field(default_factory=dict)


def check_demo(root: "str | Path | None" = None, model: "str | None" = None, calibrated: bool = True,
               mean_pose: "np.ndarray | None" = None, options: "LiftOptions | None" = None,
               lifter=None) -> CheckResult:
    """Lift every view and score it (the module docstring's columns).

    Args:
        model: a pretrained name or checkpoint path (None: the pipeline's default for the clip's length).
        lifter: an ``nn.Module`` in eval mode to use instead of loading ``model`` (e.g. one just trained).
        calibrated: give the pipeline each camera's calibrated intrinsics and distortion (``False``: the stated
            default focal length, as for a clip of unknown camera).
        mean_pose: ``(17, 3)`` mean training pose (default: :func:`mean_training_pose`).
        options: pipeline options (``K``/``dist`` are set per view when ``calibrated``).
    """
    views = load_demo(root)
    mean_pose = mean_training_pose() if mean_pose is None else np.asarray(mean_pose, np.float64)
    rows, preds, refs, seconds, frames, used = [], {}, {}, 0.0, 0, ""
    lifters: dict = {}
    for view in views:
        o = LiftOptions(**{k: getattr(options, k) for k in LiftOptions.__dataclass_fields__}) if options \
            else LiftOptions()
        if calibrated:
            o.K, o.dist = view.camera.K, view.camera.dist
        from .lift import choose_model
        name = choose_model(len(view.keypoints), model) if lifter is None else "lifter"
        if name not in lifters:
            lifters[name] = lifter if lifter is not None else load_lifter(name)
        res = lift_keypoints(view.keypoints, "blazepose33", view.image_size, options=o, model=name,
                             lifter=lifters[name])
        used, seconds, frames = res.model, seconds + res.seconds, frames + len(res.poses_3d)
        m = view_metrics(res.poses_3d, view.reference)
        mean = view_metrics(np.broadcast_to(mean_pose, view.reference.shape), view.reference)
        avg = view_metrics(np.broadcast_to(np.nanmean(view.reference, axis=0), view.reference.shape), view.reference)
        rows.append({"view": view.name, "p_mpjpe": m["p_mpjpe"], "mpjpe": m["mpjpe"],
                     "mean_pose_p_mpjpe": mean["p_mpjpe"], "mean_pose_mpjpe": mean["mpjpe"],
                     "clip_average_p_mpjpe": avg["p_mpjpe"], "clip_average_mpjpe": avg["mpjpe"],
                     "triangulation_px": view.reprojection_px, "frames": m["frames"]})
        preds[view.name], refs[view.name] = res.poses_3d, view.reference
    return CheckResult(rows, preds, refs, frames / max(seconds, 1e-9), used)


#: The ablation: (label, options) with the pipeline's steps switched on one after the other. ``"K"`` in
#: the options means "this view's calibrated intrinsics and distortion".
ABLATION_STEPS: tuple[tuple[str, dict], ...] = (
    ("raw: width normalisation only", dict(swap_repair=False, reimage=False, standardise=False, aim=False,
                                           flip=False)),
    ("+ swap repair", dict(reimage=False, standardise=False, aim=False, flip=False)),
    ("+ re-imaging, default focal", dict(standardise=False, aim=False, flip=False)),
    ("+ re-imaging, calibrated K (--focal)", dict(standardise=False, aim=False, flip=False, K=True)),
    ("+ standardise scale", dict(aim=False, flip=False, K=True)),
    ("+ aim at the training root", dict(flip=False, K=True)),
    ("+ flip averaging (all steps, calibrated)", dict(K=True)),
    ("all steps, default focal (unknown camera)", dict()),
)


def ablation(root: "str | Path | None" = None, model: "str | None" = None) -> list[dict]:
    """P-MPJPE and MPJPE (mm) per view for each row of :data:`ABLATION_STEPS`: ``[{"step", view: (p, m)}]``."""
    views = load_demo(root)
    from .lift import choose_model
    name = choose_model(len(views[0].keypoints), model)
    net = load_lifter(name)
    out = []
    for label, kw in ABLATION_STEPS:
        row = {"step": label}
        for view in views:
            args = {k: v for k, v in kw.items() if k != "K"}
            if kw.get("K"):
                args.update(K=view.camera.K, dist=view.camera.dist)
            res = lift_keypoints(view.keypoints, "blazepose33", view.image_size, options=LiftOptions(**args),
                                 lifter=net)
            m = view_metrics(res.poses_3d, view.reference)
            row[view.name] = (m["p_mpjpe"], m["mpjpe"])
        out.append(row)
    return out


def format_table(rows: Sequence[dict]) -> str:
    """Markdown table of :func:`check_demo` rows."""
    head = ("| view | P-MPJPE (mm) | MPJPE (mm) | mean pose P-MPJPE / MPJPE | clip average (oracle) P-MPJPE / "
            "MPJPE | triangulation error (px) |\n|---|---|---|---|---|---|")
    lines = [f"| {r['view']} | {r['p_mpjpe']:.1f} | {r['mpjpe']:.1f} | {r['mean_pose_p_mpjpe']:.1f} / "
             f"{r['mean_pose_mpjpe']:.1f} | {r['clip_average_p_mpjpe']:.1f} / {r['clip_average_mpjpe']:.1f} | "
             f"{r['triangulation_px']:.1f} |" for r in rows]
    return "\n".join([head] + lines)


def format_ablation(rows: Sequence[dict]) -> str:
    """Markdown table of :func:`ablation` rows: P-MPJPE / MPJPE per view."""
    views = [k for k in rows[0] if k != "step"]
    head = "| step | " + " | ".join(f"{v} P-MPJPE / MPJPE" for v in views) + " |\n|---|" + "---|" * len(views)
    lines = ["| " + r["step"] + " | " + " | ".join(f"{r[v][0]:.0f} / {r[v][1]:.0f}" for v in views) + " |"
             for r in rows]
    return "\n".join([head] + lines)


def main(argv: "Sequence[str] | None" = None, model: "str | None" = None, root: "str | None" = None) -> int:
    """Print the per-view table and the ablation (``--no-ablation`` skips it)."""
    p = argparse.ArgumentParser(prog="python -m poselift_core.demo_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=model, help="pretrained model name or checkpoint (default: as lift)")
    p.add_argument("--root", default=root, help="demo capture folder (default: data/demo_capture)")
    p.add_argument("--no-ablation", action="store_true", help="only the per-view table")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    res = check_demo(args.root, args.model)
    print(f"model {res.model}; every view lifted on its own, calibrated intrinsics; lifter "
          f"{res.frames_per_second:.0f} frames/s on this machine")
    print(format_table(res.rows))
    if not args.no_ablation:
        print()
        print(format_ablation(ablation(args.root, args.model)))
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
