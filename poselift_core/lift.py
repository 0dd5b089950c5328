"""Lift your own clip: detector keypoints (or a video) in, root-relative 3D joints and an HTML viewer out.

The lifters of this library were trained on ground-truth 2D projected through the Human3.6M cameras. A phone
video and a 2D detector differ from that in four ways, and the pipeline undoes what can be undone at
inference time, in this order (:func:`prepare_keypoints`)::

    detector keypoints (frames, J, 3) pixels + confidence, any supported layout
      1. to_h36m          joint set -> Human3.6M-17 (derived pelvis, spine, thorax, head top)
      2. swap repair      left/right labels made continuous over time (detectors swap them when the person
                          turns; a lifter cannot recover from a swapped pair)
      3. gap filling      missing or low-confidence joints interpolated over time (and flagged)
      4. re-imaging       pixels -> camera rays with the intrinsics (undistorted when the lens model is
                          known; ``--focal`` when only the focal length is known; otherwise the stated default
                          :data:`DEFAULT_FOCAL_FRACTION` of the image diagonal) -> the pixels a training camera
                          with the same optical centre would have seen, normalised as in training
      5. standardise      the clip scaled about its median root so that the person's median 2D size is the
                          training data's (a person 3 m away looks bigger than one 5 m away; the lifter only
                          saw the latter), and moved so that its median root sits where the training roots do
    -> (frames, 17, 2) model input -> lifter -> (frames, 17, 3) metres, root-relative, camera axes

Steps 4 and 5 are a pinhole re-imaging: they change the focal length, principal point and (step 5, to first
order) the camera's distance and aim, never the camera's axes, so the output stays in the input camera's axes
(x right, y down, z forward). The default model is the single-frame pretrained open-benchmark lifter
(``modgcn-open``, the better one on real detections, see :func:`choose_model`); ``--model auto`` uses the temporal
``glagcn27-open`` when the clip has at least its receptive field of frames.

What each step gains on a real capture is measured by :mod:`poselift_core.demo_check` (the book's chapter
"Lifting your own video").
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .camera import normalize_screen_coordinates
from .data.h36m import H36M_CAMERAS
from .keypoints import (DEFAULT_MIN_CONFIDENCE, KeypointError, fill_missing, get_layout, read_keypoints,
                        repair_left_right_swaps, to_h36m)
from .skeleton import H36M_17

__all__ = [
    "VIDEO_SUFFIXES", "DEFAULT_FOCAL_FRACTION", "TRAIN_FOCAL_NORM", "TRAIN_CENTRE_NORM", "TRAIN_SIZE_2D",
    "TRAIN_ROOT_2D", "LiftOptions", "Prepared", "LiftResult", "default_focal", "intrinsics_matrix",
    "reimage_to_training_camera", "aim_at_training_root", "pose_size_2d", "standardise_clip", "prepare_keypoints", "choose_model",
    "load_lifter", "lift_normalized", "lift_keypoints", "lift", "detect_keypoints", "write_html", "OUTPUT_FILES",
]

#: File endings read as videos (everything else is read as keypoints).
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
#: What :func:`lift` writes into its output folder.
OUTPUT_FILES = ("poses_3d.npz", "poses_3d.json", "index.html", "plotly.min.js")

# ----------------------------------------------------------------------------------- the training cameras
# The open benchmark (and Human3.6M) are filmed by the four Human3.6M cameras: 1000 px wide, fx about 1146 px,
# principal point near the centre. In normalised screen coordinates (x_n = 2u/w - 1) their focal length is
# 2 fx / w and their principal point is normalize(c). The mean over the four cameras is the virtual camera that
# re-imaging maps a clip into (the cameras differ by under 0.4 % in focal length and 12 px in centre).
_H36M = H36M_CAMERAS["S1"]
#: Normalised focal length of the training cameras, ``mean(2 fx / w)`` (about 2.29).
TRAIN_FOCAL_NORM = float(np.mean([(c.focal[0] + c.focal[1]) / c.res_w for c in _H36M]))
#: Normalised principal point of the training cameras, ``(2,)``.
TRAIN_CENTRE_NORM = np.mean([normalize_screen_coordinates(np.array(c.center), c.res_w, c.res_h) for c in _H36M],
                            axis=0)
#: Default focal length of a camera whose intrinsics are unknown, as a fraction of the image diagonal: the
#: training cameras' own (``fx / sqrt(w^2 + h^2)`` = 1146 / 1414), i.e. the assumption that the video was
#: filmed with the training cameras' field of view. Phone main cameras (26-28 mm equivalent) are 0.6-0.8.
DEFAULT_FOCAL_FRACTION = float(np.mean([(c.focal[0] + c.focal[1]) / 2 / np.hypot(c.res_w, c.res_h) for c in _H36M]))
#: Median 2D size (:func:`pose_size_2d`, normalised screen units) of the open benchmark's training split, and
#: median root position ``(2,)`` - measured by ``tests/test_lift.py`` from the data (to 1 %).
TRAIN_SIZE_2D = 1.032
TRAIN_ROOT_2D = np.array([0.109, -0.291])


# ----------------------------------------------------------------------------------- options and results
@dataclass
class LiftOptions:
    """Which pipeline steps run, and the camera knowledge available.

    Attributes:
        swap_repair: step 2 (:func:`poselift_core.keypoints.repair_left_right_swaps`).
        fill: step 3 (:func:`poselift_core.keypoints.fill_missing`); without it a missing joint stops the run.
        min_confidence: joints below it count as missing in step 3.
        reimage: step 4; without it the pixels are normalised by the image width alone (what a lifter fed raw
            detections sees).
        standardise: step 5's scale (the person's median 2D size made the training data's).
        aim: step 5's turn (:func:`aim_at_training_root`; needs ``reimage``; without it, ``standardise`` moves the
            2D root to the training median instead).
        focal: focal length in pixels (``--focal``); None: :data:`DEFAULT_FOCAL_FRACTION` of the diagonal.
        K: ``(3, 3)`` intrinsic matrix in pixels (wins over ``focal``); ``dist``: OpenCV ``(k1, k2, p1, p2, k3)``
            (undistorted during re-imaging when given).
        flip: test-time flip averaging (the clip and its mirror image lifted, the mirrored result mirrored back
            and the two averaged), on by default: it removes part of the left/right bias a lifter has on
            detections unlike its training 2D.
    """

    swap_repair: bool = True
    fill: bool = True
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    reimage: bool = True
    standardise: bool = True
    aim: bool = True
    focal: "float | None" = None
    K: "np.ndarray | None" = None
    dist: "np.ndarray | None" = None
    flip: bool = True


@dataclass
class Prepared:
    """Output of :func:`prepare_keypoints`.

    Attributes:
        x2d: ``(frames, 17, 2)`` float32 model input (normalised screen coordinates of the virtual camera).
        keypoints_2d: ``(frames, 17, 3)`` pixels + confidence in Human3.6M-17 order after swap repair and gap
            filling (what the model's input was made from, in the video's own pixels).
        swapped: ``(frames, 2)`` bool, arms / legs relabelled. filled: ``(frames, 17)`` bool, interpolated.
        steps: one line per step applied, saying what it did.
        focal: focal length used (pixels) or None when not re-imaged; ``focal_source`` says where it came from.
        rotation: ``(3, 3)`` turn of the virtual camera (``X_virtual = R X_camera``); the lifter's output is
            brought back to the input camera's axes with ``R^T``.
    """

    x2d: np.ndarray
    keypoints_2d: np.ndarray
    swapped: np.ndarray
    filled: np.ndarray
    steps: list[str]
    focal: "float | None" = None
    focal_source: str = ""
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))


@dataclass
class LiftResult:
    """Output of :func:`lift_keypoints` / :func:`lift`: ``poses_3d (frames, 17, 3)`` metres, root-relative,
    camera axes; the :class:`Prepared` input; the model name; lifting time and frames per second."""

    poses_3d: np.ndarray
    prepared: Prepared
    model: str
    seconds: float
    image_size: tuple[int, int]
    fps: "float | None" = None
    files: list[Path] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return len(self.poses_3d) / max(self.seconds, 1e-9)


# ----------------------------------------------------------------------------------- camera normalisation
def default_focal(image_size: Sequence[float]) -> float:
    """Focal length in pixels assumed when the intrinsics are unknown: :data:`DEFAULT_FOCAL_FRACTION` x diagonal."""
    return DEFAULT_FOCAL_FRACTION * float(np.hypot(*image_size[:2]))


def intrinsics_matrix(image_size: Sequence[float], focal: "float | None" = None) -> np.ndarray:
    """``(3, 3)`` pinhole intrinsics: square pixels, principal point at the image centre, ``focal`` in pixels
    (default :func:`default_focal`)."""
    w, h = float(image_size[0]), float(image_size[1])
    f = default_focal((w, h)) if focal is None else float(focal)
    return np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])


def _rays(uv: np.ndarray, K: np.ndarray, dist: "np.ndarray | None") -> np.ndarray:
    """Pixels ``(..., 2)`` -> undistorted normalised camera coordinates ``(X/Z, Y/Z)``."""
    if dist is not None and np.any(np.asarray(dist) != 0):
        from .multiview import MultiViewCamera, undistort_points
        cam = MultiViewCamera("input", K, np.asarray(dist, dtype=np.float64), np.eye(3), np.zeros(3), (1, 1))
        return undistort_points(uv, cam)
    return (uv - K[:2, 2]) / K[[0, 1], [0, 1]]


def reimage_to_training_camera(uv: np.ndarray, K: np.ndarray, dist: "np.ndarray | None" = None) -> np.ndarray:
    """Pixels of a camera ``K`` (``(..., 2)``) -> normalised screen coordinates of the training camera.

    Each pixel becomes its ray ``(X/Z, Y/Z)`` (undistorted if ``dist`` is given), and the ray the pixel a camera
    with the training cameras' focal length and principal point (same centre, same axes) would record, in the
    normalised units of training: ``x_n = TRAIN_FOCAL_NORM * X/Z + TRAIN_CENTRE_NORM``. A portrait phone frame
    thus becomes part of the wide landscape-like field of the training cameras, with the person at the size a
    training camera would have seen at the same distance. The training cameras' own lens distortion (2D of
    the open benchmark includes it) is ignored: about 1 % at the person's usual distance from the image centre.
    """
    rays = _rays(np.asarray(uv, dtype=np.float64), np.asarray(K, dtype=np.float64), dist)
    return rays * TRAIN_FOCAL_NORM + TRAIN_CENTRE_NORM


def pose_size_2d(x: np.ndarray) -> np.ndarray:
    """2D size of Human3.6M-17 poses ``(..., 17, 2)`` -> ``(...)``: the summed length of the bones of the
    trunk and legs (pelvis-hips-knees-ankles, pelvis-spine-thorax-nose-head). Arms are left out: they move the
    most and are the joints detectors lose first."""
    sk = H36M_17
    arms = set(sk.left[-3:]) | set(sk.right[-3:])
    edges = np.array([(c, p) for c, p in sk.edges if c not in arms])
    return np.linalg.norm(x[..., edges[:, 0], :] - x[..., edges[:, 1], :], axis=-1).sum(-1)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation ``(3, 3)`` taking direction ``a (3,)`` to direction ``b (3,)`` (Rodrigues)."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    vx = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def aim_at_training_root(rays: np.ndarray, root: np.ndarray = TRAIN_ROOT_2D) -> tuple[np.ndarray, np.ndarray]:
    """Turn the camera so that the clip's median root ray points where the training data's median root is seen.

    Args:
        rays: ``(frames, 17, 2)`` undistorted normalised camera coordinates ``(X/Z, Y/Z)``.
        root: median root of the training 2D, normalised screen coordinates of the training camera.
    Returns:
        ``(rays', R)``: the rays of a camera turned about its centre by ``R`` (``X' = R X``), and ``R``. The
        lifter's output is then in the turned camera's axes; ``R^T`` brings it back. Unlike a 2D shift of the
        image, this is exact under a pinhole camera: the person keeps the perspective of the real viewpoint.
    """
    target = np.append((np.asarray(root) - TRAIN_CENTRE_NORM) / TRAIN_FOCAL_NORM, 1.0)
    R = _rotation_between(np.append(np.median(rays[:, 0], axis=0), 1.0), target)
    X = np.concatenate([rays, np.ones(rays.shape[:-1] + (1,))], -1) @ R.T
    return X[..., :2] / X[..., 2:3], R


def standardise_clip(x: np.ndarray, size: float = TRAIN_SIZE_2D,
                     root: "np.ndarray | None" = TRAIN_ROOT_2D) -> tuple[np.ndarray, float, np.ndarray]:
    """Scale (and optionally move) a clip ``(frames, 17, 2)`` (normalised coordinates) to the training data's
    statistics.

    One scale and one shift for the whole clip, so motion towards the camera (the figure growing) and across
    the image survive: ``x' = s (x - m) + r`` with ``m`` the clip's median root, ``s = size / median size``
    (:func:`pose_size_2d`) and ``r = root`` (``None``: keep ``m``). Under a pinhole camera the scale is, to
    first order, moving the camera along its axis to the training distance.

    Returns ``(x', s, shift)`` where ``shift = r - s m`` (``x' = s x + shift``).
    """
    m = np.median(x[:, 0], axis=0)
    s = float(size / max(float(np.median(pose_size_2d(x))), 1e-9))
    r = m if root is None else np.asarray(root, dtype=np.float64)
    return (s * (x - m) + r), s, r - s * m


def prepare_keypoints(keypoints: np.ndarray, layout: str, image_size: Sequence[float],
                      options: "LiftOptions | None" = None, source: "str | Path | None" = None) -> Prepared:
    """Steps 1-5 of the module docstring: detector keypoints ``(frames, J, 2 | 3)`` pixels -> model input.

    Raises:
        KeypointError: wrong shape for the layout, a joint never detected (with ``fill``), no frames.
    """
    o = options or LiftOptions()
    kp = to_h36m(keypoints, layout, source=source)
    if kp.ndim != 3 or len(kp) == 0:
        raise KeypointError(f"{source or 'keypoints'}: need (frames>0, joints, 2 or 3) keypoints, got "
                            f"{tuple(np.shape(keypoints))}")
    if kp.shape[-1] == 2:      # no confidences: every finite joint counts as seen
        kp = np.concatenate([kp, np.isfinite(kp).all(-1, keepdims=True).astype(kp.dtype)], -1)
    T = len(kp)
    steps = [f"layout {get_layout(layout).name} -> Human3.6M-17 ({T} frames)"]
    swapped = np.zeros((T, 2), dtype=bool)
    if o.swap_repair:
        kp, swapped = repair_left_right_swaps(kp)
        steps.append(f"left/right swap repair: arms relabelled in {int(swapped[:, 0].sum())} frames, legs in "
                     f"{int(swapped[:, 1].sum())}")
    filled = np.zeros((T, 17), dtype=bool)
    if o.fill:
        kp, filled = fill_missing(kp, o.min_confidence, joint_names=H36M_17.names, source=source)
        steps.append(f"gap filling: {int(filled.sum())} joint positions of {filled.size} below confidence "
                     f"{o.min_confidence} or missing, interpolated over time")
    elif not np.isfinite(kp[..., :2]).all():
        raise KeypointError(f"{source or 'keypoints'}: missing joints (NaN) and gap filling is off")
    w, h = float(image_size[0]), float(image_size[1])
    focal, focal_source, rotation = None, "", np.eye(3)
    if o.reimage:
        if o.K is not None:
            K = np.asarray(o.K, dtype=np.float64)
            focal, focal_source = float(K[0, 0]), "calibration (K" + (", distortion)" if o.dist is not None else ")")
        else:
            focal = float(o.focal) if o.focal is not None else default_focal((w, h))
            focal_source = "--focal" if o.focal is not None else (
                f"default: {DEFAULT_FOCAL_FRACTION:.3f} x image diagonal (the training cameras' field of view)")
            K = intrinsics_matrix((w, h), focal)
        rays = _rays(kp[..., :2].astype(np.float64), K, o.dist if o.K is not None else None)
        steps.append(f"re-imaging: focal {focal:.0f} px ({focal_source}) -> the training cameras' focal "
                     f"length ({TRAIN_FOCAL_NORM:.3f} normalised)")
        if o.aim:
            rays, rotation = aim_at_training_root(rays)
            angle = np.degrees(np.arccos(np.clip((np.trace(rotation) - 1) / 2, -1, 1)))
            steps.append(f"aim: virtual camera turned by {angle:.1f} deg so the median root is seen where the "
                         "training roots are (output turned back)")
        x = rays * TRAIN_FOCAL_NORM + TRAIN_CENTRE_NORM
    else:
        x = normalize_screen_coordinates(kp[..., :2].astype(np.float64), w, h)
        steps.append(f"screen normalisation by the image width ({w:.0f} px), no re-imaging")
    if o.standardise:
        aimed = o.reimage and o.aim
        x, s, _ = standardise_clip(x, root=None if aimed else TRAIN_ROOT_2D)
        steps.append(f"standardise: clip scaled by {s:.3f} about its median root" +
                     ("" if aimed else ", root moved to the training median"))
    if o.flip:
        steps.append("test-time flip averaging")
    return Prepared(x.astype(np.float32), kp.astype(np.float32), swapped, filled, steps, focal, focal_source,
                    rotation)


# ----------------------------------------------------------------------------------- models
_TEMPORAL_DEFAULT = "glagcn27-open"
_SINGLE_DEFAULT = "modgcn-open"


def choose_model(frames: int, name: "str | None" = None) -> str:
    """The model to use: ``name`` if given; ``"auto"``: the temporal pretrained model when its weights exist and
    the clip has at least 27 frames (its receptive field), else the single-frame one; ``None``: ``modgcn-open``.

    The single-frame model is the default because it is the better one on real detections: on the four views of
    the multi-view check (``python -m poselift_core lift --check-demo``) it scores 74-80 mm P-MPJPE against
    95-110 mm for ``glagcn27-open``, which was trained on clean ground-truth 2D sequences and meets the
    detector's frame-to-frame jitter for the first time.
    """
    if name == "auto":
        from .pretrained import available
        return _TEMPORAL_DEFAULT if _TEMPORAL_DEFAULT in available() and frames >= 27 else _SINGLE_DEFAULT
    return name if name is not None else _SINGLE_DEFAULT


def load_lifter(name: str, device: str = "cpu"):
    """A pretrained model by name, or a checkpoint file by path; eval mode. Raises ``ValueError`` naming both."""
    from .pretrained import PRETRAINED, load
    if name in PRETRAINED:
        return load(name, device)
    path = Path(name)
    if path.suffix == ".pt" or path.exists():
        from .checkpoint import load_model
        return load_model(path).to(device).eval()
    raise ValueError(f"--model {name!r}: neither a pretrained model ({', '.join(PRETRAINED)}) nor a checkpoint file")


def lift_normalized(model, x2d: np.ndarray, flip: bool = False, batch_size: int = 1024) -> np.ndarray:
    """Run a lifter over a clip: ``x2d (frames, 17, 2)`` -> ``(frames, 17, 3)`` metres, root-relative.

    Temporal models (``receptive_field > 1``) get a centred window per frame, edge-padded at the clip's ends
    (the first and last frames repeated, as VideoPose3D evaluates). ``flip``: test-time flip averaging.
    """
    import torch

    from .batching import predict_with_flip

    x = torch.as_tensor(np.asarray(x2d, dtype=np.float32))
    T, rf = x.shape[0], int(getattr(model, "receptive_field", 1))
    device = next(model.parameters()).device
    sk = H36M_17
    fn = model if not flip else (lambda b: predict_with_flip(model, b, sk, sk.left, sk.right))
    out = []
    with torch.no_grad():
        for a in range(0, T, batch_size):
            frames = torch.arange(a, min(a + batch_size, T))
            if rf > 1:
                idx = (frames[:, None] + torch.arange(rf)[None] - rf // 2).clamp(0, T - 1)   # (B, rf)
                batch = x[idx]
            else:
                batch = x[frames]
            y = fn(batch.to(device))
            out.append(y.reshape(len(frames), sk.num_joints, 3).cpu())
    y = torch.cat(out).numpy().astype(np.float64)
    return (y - y[:, :1]).astype(np.float32)      # root-relative by construction, also for models that are not


def lift_keypoints(keypoints: np.ndarray, layout: str, image_size: Sequence[float], *,
                   options: "LiftOptions | None" = None, model: "str | None" = None, lifter=None,
                   source: "str | Path | None" = None) -> LiftResult:
    """:func:`prepare_keypoints` then the lifter: detector keypoints -> :class:`LiftResult`.

    ``lifter`` (an nn.Module) skips loading ``model`` (useful when lifting many clips).
    """
    o = options or LiftOptions()
    prep = prepare_keypoints(keypoints, layout, image_size, o, source)
    name = choose_model(len(prep.x2d), model)
    net = lifter if lifter is not None else load_lifter(name)
    t0 = time.perf_counter()
    poses = lift_normalized(net, prep.x2d, flip=o.flip) @ prep.rotation.astype(np.float32)   # R^T per row
    seconds = time.perf_counter() - t0
    rf = int(getattr(net, "receptive_field", 1))
    kind = f"temporal, {rf} frames" if rf > 1 else "single-frame"
    from .models.ensemble import MeanEnsemble
    runs = len(net.members) if isinstance(net, MeanEnsemble) else 1
    prep.steps.append(f"lifted with {name} ({kind}" + (f", average of {runs} training runs)" if runs > 1 else ")"))
    return LiftResult(poses, prep, name, seconds, (int(image_size[0]), int(image_size[1])))


# ----------------------------------------------------------------------------------- video (optional extra)
_VIDEO_PYTHON_ENV = "POSELIFT_VIDEO_PYTHON"
_REPO_ROOT = Path(__file__).resolve().parents[1]
_EXTRA_HINT = 'pip install "poselift-core[video]"'


def _video_python() -> "str | None":
    """An interpreter that can import mediapipe and cv2: this one; else ``$POSELIFT_VIDEO_PYTHON`` when set (set
    it empty to allow only this one); else the repository's ``.venv-video`` (MediaPipe 0.10.21 needs numpy<2,
    so it often lives in a virtualenv of its own)."""
    import importlib.util
    if importlib.util.find_spec("mediapipe") is not None and importlib.util.find_spec("cv2") is not None:
        return sys.executable
    chosen = os.environ.get(_VIDEO_PYTHON_ENV)
    cands = [chosen] if chosen is not None else [str(_REPO_ROOT / ".venv-video" / "bin" / "python")]
    return next((c for c in cands if c and Path(c).is_file()), None)


def _run_video_python(code: str, *args: str) -> None:
    """Run ``code`` (which writes a one-line error into the file ``sys.argv[-1]`` and exits 3 on failure) in the
    video interpreter; its progress output goes straight to this process's stderr."""
    python = _video_python()
    if python is None:
        raise ValueError(f"reading videos needs MediaPipe and OpenCV: {_EXTRA_HINT} (or set {_VIDEO_PYTHON_ENV} "
                         "to a Python that has them)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as tmp:
        err = Path(tmp) / "error.txt"
        res = subprocess.run([python, "-c", code, *args, str(err)], env=env)
        if res.returncode != 0:
            msg = err.read_text().strip() if err.is_file() else f"the video interpreter {python} exited with " \
                f"status {res.returncode}"
            raise ValueError(" ".join(msg.split()))


_DETECT = """import sys
try:
    from poselift_core.video import detect_video
    detect_video(sys.argv[1], sys.argv[2], progress=True)
except Exception as e:
    open(sys.argv[-1], "w").write(f"{sys.argv[1]}: {e}")
    sys.exit(3)
"""

_FRAMES = """import sys
try:
    import cv2
    path, out, step, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    cap = cv2.VideoCapture(path)
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            h, w = frame.shape[:2]
            if h > height:
                frame = cv2.resize(frame, (round(w * height / h), height), interpolation=cv2.INTER_AREA)
            cv2.imwrite(f"{out}/{i:06d}.jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 70])
        i += 1
except Exception as e:
    open(sys.argv[-1], "w").write(f"{sys.argv[1]}: {e}")
    sys.exit(3)
"""


def detect_keypoints(video: "str | Path", out_npz: "str | Path") -> Path:
    """MediaPipe Pose over a video (:func:`poselift_core.video.detect_video`) -> ``out_npz``; in this process
    when MediaPipe imports here, else in the video interpreter (:func:`_video_python`)."""
    video, out_npz = Path(video), Path(out_npz)
    if not video.is_file():
        raise FileNotFoundError(f"{video}: no such video file")
    _run_video_python(_DETECT, str(video), str(out_npz))
    return out_npz


def _video_frames(video: Path, frames: Sequence[int], height: int = 360) -> "dict[int, str]":
    """Downsampled JPEG frames of ``video`` as ``data:`` URIs, for the frame indices given (every one of a
    regular stride is decoded; OpenCV decodes sequentially anyway)."""
    frames = list(frames)
    step = frames[1] - frames[0] if len(frames) > 1 else 1
    with tempfile.TemporaryDirectory() as tmp:
        _run_video_python(_FRAMES, str(video), tmp, str(step), str(height))
        out = {}
        for i in frames:
            p = Path(tmp) / f"{i:06d}.jpg"
            if p.is_file():
                out[i] = "data:image/jpeg;base64," + base64.b64encode(p.read_bytes()).decode("ascii")
    return out


# ----------------------------------------------------------------------------------- HTML page
def _segments(P: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bones of poses ``(N, J, D)`` as NaN-separated child-parent segments: ``(N, 3 * bones, D)``."""
    seg = np.full((len(P), len(edges), 3, P.shape[-1]), np.nan)
    seg[:, :, 0], seg[:, :, 1] = P[:, edges[:, 0]], P[:, edges[:, 1]]
    return seg.reshape(len(P), -1, P.shape[-1])


_FRAME_FROM_HASH = """
<script>
// index.html#frame=N opens the page at frame N (for links and screenshots).
window.addEventListener('load', function () {
  var m = /frame=(\\d+)/.exec(window.location.hash);
  var gd = document.getElementsByClassName('plotly-graph-div')[0];
  if (m && gd) { Plotly.animate(gd, [m[1]], {mode: 'immediate', frame: {duration: 0, redraw: true},
                                             transition: {duration: 0}}); }
});
</script>
"""


def write_html(path: "str | Path", poses_3d: np.ndarray, keypoints_2d: np.ndarray, image_size: Sequence[int],
               *, images: "dict[int, str] | None" = None, fps: float = 10.0, title: str = "",
               max_frames: int = 150) -> Path:
    """An offline page: the 2D skeleton (on the video frames when ``images`` are given, else on a blank canvas
    of the image size) next to the 3D skeleton (drag to rotate), one frame slider and a play button driving
    both. plotly.js is written next to the page (``plotly.min.js``), so it opens without a network.

    Args:
        poses_3d: ``(frames, 17, 3)`` metres, camera axes (shown with y up, z into the screen as depth).
        keypoints_2d: ``(frames, 17, 2 | 3)`` pixels of the video.
        images: frame index -> ``data:`` URI (:func:`_video_frames`).
        max_frames: at most this many frames are shown (a regular stride over the clip), to keep the page small.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .plotting import SIDE_COLORS, bone_sides

    path = Path(path)
    T = len(poses_3d)
    shown = np.arange(0, T, max(1, -(-T // max_frames)))
    w, h = int(image_size[0]), int(image_size[1])
    sk = H36M_17
    edges, sides = np.array(sk.edges), np.array(bone_sides(sk))
    P3 = np.asarray(poses_3d, dtype=np.float64)[shown]
    P3 = np.stack([P3[..., 0], P3[..., 2], -P3[..., 1]], -1)     # camera (x right, y down, z fwd) -> z up
    P2 = np.asarray(keypoints_2d, dtype=np.float64)[shown, :, :2]
    groups = [("left", edges[sides == "left"]), ("right", edges[sides == "right"]),
              ("centre", edges[sides == "centre"])]
    seg2 = [_segments(P2, e) for _, e in groups] + [P2]
    seg3 = [_segments(P3, e) for _, e in groups] + [P3]

    fig = make_subplots(rows=1, cols=2, column_widths=[0.45, 0.55], horizontal_spacing=0.02,
                        specs=[[{"type": "xy"}, {"type": "scene"}]],
                        subplot_titles=("2D keypoints (model input)", "3D lifted (drag to rotate)"))
    for (side, _), pts in zip(groups, seg2[:3]):
        fig.add_trace(go.Scatter(x=pts[0, :, 0], y=pts[0, :, 1], mode="lines", name=f"{side}",
                                 line=dict(color=SIDE_COLORS[side], width=3), hoverinfo="skip",
                                 legendgroup=side), 1, 1)
    fig.add_trace(go.Scatter(x=P2[0, :, 0], y=P2[0, :, 1], mode="markers", name="joints", text=list(sk.names),
                             hoverinfo="text", marker=dict(color="white", size=5, line=dict(color="black", width=1))),
                  1, 1)
    for (side, _), pts in zip(groups, seg3[:3]):
        fig.add_trace(go.Scatter3d(x=pts[0, :, 0], y=pts[0, :, 1], z=pts[0, :, 2], mode="lines", showlegend=False,
                                   line=dict(color=SIDE_COLORS[side], width=6), hoverinfo="skip",
                                   legendgroup=side))
    fig.add_trace(go.Scatter3d(x=P3[0, :, 0], y=P3[0, :, 1], z=P3[0, :, 2], mode="markers", showlegend=False,
                               text=list(sk.names), hoverinfo="text", marker=dict(size=3, color="black")))
    centre = (np.nanmax(P3, axis=(0, 1)) + np.nanmin(P3, axis=(0, 1))) / 2
    half = max(float(np.nanmax(np.ptp(P3.reshape(-1, 3), axis=0))) / 2, 0.5) * 1.05
    fig.update_layout(
        title=dict(text=title, y=0.98), height=660, margin=dict(l=10, r=10, t=90, b=10),
        legend=dict(orientation="h", x=0.0, y=1.13),
        xaxis=dict(range=[0, w], showgrid=False, zeroline=False, constrain="domain"),
        yaxis=dict(range=[h, 0], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1),
        plot_bgcolor="#f4f4f4",
        scene=dict(aspectmode="cube", camera=dict(eye=dict(x=1.3, y=-1.6, z=0.5), up=dict(x=0, y=0, z=1)),
                   **{f"{a}axis": dict(range=[c - half, c + half], title=t)
                      for a, c, t in zip("xyz", centre, ("x (m)", "depth z (m)", "up -y (m)"))}))
    images = images or {}

    def image_layout(i: int) -> list:
        src = images.get(int(shown[i]))
        return [dict(source=src, xref="x", yref="y", x=0, y=0, sizex=w, sizey=h, sizing="stretch",
                     layer="below", xanchor="left", yanchor="top")] if src else []

    fig.update_layout(images=image_layout(0))
    c2 = [np.round(s, 1).transpose(2, 0, 1).tolist() for s in seg2]
    c3 = [np.round(s, 4).transpose(2, 0, 1).tolist() for s in seg3]
    frames = []
    for i in range(len(shown)):
        data = [dict(type="scatter", x=c[0][i], y=c[1][i]) for c in c2]
        data += [dict(type="scatter3d", x=c[0][i], y=c[1][i], z=c[2][i]) for c in c3]
        frame = dict(name=str(i), data=data, traces=list(range(8)))
        if images:
            frame["layout"] = dict(images=image_layout(i))
        frames.append(frame)
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    play = dict(frame=dict(duration=1000.0 / fps, redraw=True), fromcurrent=True, transition=dict(duration=0))
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=0.0, xanchor="left", yanchor="top",
                          pad=dict(t=40, r=10), showactive=False,
                          buttons=[dict(label="Play", method="animate", args=[None, play]),
                                   dict(label="Pause", method="animate", args=[[None], still])])],
        sliders=[dict(active=0, x=0.1, len=0.9, y=0.0, yanchor="top", pad=dict(t=30),
                      currentvalue=dict(prefix="video frame ", visible=True, font=dict(size=12, color="#444")),
                      font=dict(color="rgba(0,0,0,0)") if len(shown) > 30 else {},
                      steps=[dict(method="animate", label=str(int(shown[i])), args=[[str(i)], still])
                             for i in range(len(shown))])])
    fig = go.Figure(fig.to_dict() | {"frames": frames}, _validate=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs="directory", full_html=True, auto_play=False,
                   post_script=None, config={"displaylogo": False})
    html = path.read_text()
    path.write_text(html.replace("</body>", _FRAME_FROM_HASH + "</body>"))
    return path


# ----------------------------------------------------------------------------------- the whole pipeline
def _json_poses(result: LiftResult, source: str, layout: str) -> dict:
    return {
        "source": source, "layout": layout, "model": result.model, "frames": int(len(result.poses_3d)),
        "fps": result.fps, "image_size": list(result.image_size), "units": "metres",
        "axes": "camera: x right, y down, z forward; root-relative (joint 0, the pelvis, at the origin)",
        "joint_names": list(H36M_17.names), "steps": result.prepared.steps,
        "focal_px": result.prepared.focal, "focal_source": result.prepared.focal_source,
        "lifter_frames_per_second": round(result.frames_per_second, 1),
        "poses_3d": np.round(result.poses_3d.astype(np.float64), 4).tolist(),
    }


def lift(input_path: "str | Path", out_dir: "str | Path", *, model: "str | None" = None,
         layout: "str | None" = None, focal: "float | None" = None, overwrite: bool = False,
         options: "LiftOptions | None" = None, html: bool = True, image_size: "Sequence[float] | None" = None
         ) -> LiftResult:
    """Keypoints file or video -> ``out_dir/poses_3d.npz``, ``poses_3d.json``, ``index.html`` (+ plotly.min.js).

    ``poses_3d.npz`` holds ``poses_3d`` ``(frames, 17, 3)`` float32 metres (root-relative, camera axes),
    ``keypoints_2d`` ``(frames, 17, 3)`` the Human3.6M-17 pixels + confidence the model's input was made from,
    ``x2d`` ``(frames, 17, 2)`` the normalised model input, ``image_size`` ``(2,)``, ``model``, ``steps``,
    ``joint_names``, ``swapped`` ``(frames, 2)`` and ``filled`` ``(frames, 17)``.

    Raises:
        FileExistsError: ``out_dir`` already holds ``poses_3d.npz`` and ``overwrite`` is False.
        KeypointError / ValueError: one line naming the file and what is wrong with it.
    """
    from .checkpoint import refuse_overwrite

    src, out = Path(input_path), Path(out_dir)
    refuse_overwrite(out, OUTPUT_FILES[:3], overwrite)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or folder")
    o = options or LiftOptions(focal=focal)
    if focal is not None:
        o.focal = focal
    video = src if src.suffix.lower() in VIDEO_SUFFIXES else None
    fps = None
    with tempfile.TemporaryDirectory() as tmp:
        kp_path = detect_keypoints(video, Path(tmp) / "keypoints.npz") if video else src
        kf = read_keypoints(kp_path, layout, image_size=image_size)
        if video is not None:
            with np.load(kp_path) as z:
                fps = float(z["fps"]) if "fps" in z.files else None
                out.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(kp_path, out / "keypoints_2d_detected.npz")
    if kf.image_size is None:
        raise KeypointError(f"{src}: the image size is needed to normalise the keypoints: store 'image_size' "
                            "(width, height) in the file")
    result = lift_keypoints(kf.keypoints, kf.layout, kf.image_size, options=o, model=model, source=src)
    result.fps = fps
    out.mkdir(parents=True, exist_ok=True)
    prep = result.prepared
    np.savez_compressed(out / "poses_3d.npz", poses_3d=result.poses_3d, keypoints_2d=prep.keypoints_2d,
                        x2d=prep.x2d, image_size=np.array(result.image_size, np.int64),
                        model=np.array(result.model), steps=np.array(prep.steps),
                        joint_names=np.array(H36M_17.names), swapped=prep.swapped, filled=prep.filled,
                        layout=np.array(kf.layout), source=np.array(str(src)))
    (out / "poses_3d.json").write_text(json.dumps(_json_poses(result, str(src), kf.layout)) + "\n")
    result.files = [out / "poses_3d.npz", out / "poses_3d.json"]
    if html:
        T = len(result.poses_3d)
        shown = np.arange(0, T, max(1, -(-T // 150)))
        images = _video_frames(video, shown) if video is not None else None
        page = write_html(out / "index.html", result.poses_3d, prep.keypoints_2d, result.image_size,
                          images=images, fps=min(fps or 10.0, 30.0) / max(1, shown[1] - shown[0] if T > 1 else 1),
                          title=f"{src.name}: {result.model}, {T} frames")
        result.files += [page, out / "plotly.min.js"]
    return result
