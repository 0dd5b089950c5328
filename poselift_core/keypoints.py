"""2D keypoints from off-the-shelf detectors: readers, layout adapters to Human3.6M-17, gap filling,
screen normalisation and left/right swap repair.

The lifting models take 2D joints in the 17-joint Human3.6M order (:data:`poselift_core.skeleton.H36M_17`),
normalised to the screen like the ground-truth 2D they were trained on. A detector gives a different joint
set (COCO-17, MediaPipe's BlazePose-33, OpenPose BODY_25), in pixels, with a confidence per joint, with
gaps, and now and then with its left and right limbs exchanged. The pipeline this module provides::

    kf = read_keypoints("clip_openpose/")               # KeypointFile: (frames, 25, 3) pixels + confidence
    kp = to_h36m(kf.keypoints, kf.layout)                # (frames, 17, 3) in Human3.6M order
    kp, swapped = repair_left_right_swaps(kp)            # consistent left/right labels over time
    kp, filled = fill_missing(kp, min_confidence=0.3)    # gaps and low-confidence joints interpolated
    x = normalize_to_screen(kp[..., :2], kf.image_size)  # (frames, 17, 2), x in [-1, 1]

Arrays are ``(frames, joints, channels)``: channels 0 and 1 are pixel ``x`` (right) and ``y`` (down); an
optional channel 2 is the detector's confidence (OpenPose's score, COCO-results' keypoint score, MediaPipe's
``visibility``). Readers mark a joint that was not detected as ``(nan, nan, 0)``.

Layouts (:data:`LAYOUTS`)
-------------------------
``coco17``
    MMPose, RTMPose, Detectron2, YOLO-pose and VideoPose3D's ``detectron_pt_coco``: 0 nose, 1-2 eyes,
    3-4 ears, 5-6 shoulders, 7-8 elbows, 9-10 wrists, 11-12 hips, 13-14 knees, 15-16 ankles (left before
    right; "left" is the person's left).
``blazepose33``
    MediaPipe Pose: the 17 COCO joints under the same names plus inner/outer eye corners, mouth corners,
    pinky/index/thumb tips, heels and foot tips.
``body25``
    OpenPose BODY_25: the 17 COCO joints plus ``Neck``, ``MidHip`` and six foot points (right before left).
``h36m17``
    Already in the Human3.6M-17 order (identity).

How each Human3.6M-17 joint is made
-----------------------------------
Every detector above has the 17 COCO joints, so one recipe, written on the COCO names, serves all three.
Derived joints are affine combinations (weights sum to 1), so translating or scaling the image moves them
with the body; their confidence is the minimum of their sources' confidences (a mid-point is no better
than the worse of its two ends).

=============  ==========================================  ===============================================
H36M-17 joint  made from (COCO names)                      why
=============  ==========================================  ===============================================
0 Hip          (left_hip + right_hip) / 2                  H36M's pelvis (mocap ``Hips``) lies on the line
                                                           between the hip joints, midway at rest.
1-3 right leg  right_hip, right_knee, right_ankle          direct (RHip, RKnee, RFoot); H36M's "Foot" is
                                                           the ankle joint.
4-6 left leg   left_hip, left_knee, left_ankle             direct (LHip, LKnee, LFoot).
7 Spine        (pelvis + thorax) / 2, i.e. the mean of     H36M's spine (mocap ``Spine1``) sits about half
               both hips and both shoulders                way up the trunk (pelvis-spine and spine-thorax
                                                           are each about 0.25 m).
8 Thorax       (left_shoulder + right_shoulder) / 2        H36M's thorax (mocap ``Neck``) is the root of
                                                           the clavicles, a few cm below the mid-shoulder
                                                           point; the detectors have no closer landmark.
9 Neck/Nose    nose                                        H36M's joint (mocap ``Head``) lies on the head's
                                                           axis about 0.11 m above the thorax, level with
                                                           the nose; the nose is the nearest landmark.
10 Head        ears + 0.5 (ears - thorax), where ears =    H36M's head joint is the head-top end site. The
               (left_ear + right_ear) / 2: weights 0.75    mid-ear point is the centre of the skull at eye
               per ear, -0.25 per shoulder                 height from any viewpoint; the vertex is about
                                                           half the ear-to-shoulder height above it, along
                                                           the neck's direction. The shoulders give that
                                                           direction a long, stable baseline; face points
                                                           (eye to nose, 4-5 cm) would amplify their noise
                                                           and point forward in profile views.
11-13 l. arm   left_shoulder, left_elbow, left_wrist       direct (LShoulder, LElbow, LWrist).
14-16 r. arm   right_shoulder, right_elbow, right_wrist    direct (RShoulder, RElbow, RWrist).
=============  ==========================================  ===============================================

Other 3D joint sets
-------------------
:func:`to_skeleton` makes the same joints for the other skeletons of :mod:`poselift_core.skeleton`, so that
detections next to ground-truth 3D of another joint set load as a training pair (VideoPose3D's HumanEva-I file
``data_2d_humaneva15_detectron_pt_coco.npz`` holds COCO-17 next to 15-joint 3D):

* ``h36m16`` (the SemGCN family): the table above without Neck/Nose.
* ``humaneva15`` (HumanEva-I, Sigal et al., IJCV 2010): every joint is made as the Human3.6M-17 joint of the
  same place on the body. ``Pelvis`` = Hip (the mid-hip point: HumanEva's pelvis, like Human3.6M's, lies between
  the hip joints), ``Thorax`` = Thorax (the mid-shoulder point: HumanEva's thorax is the top of the torso
  between the shoulders), ``Head`` = Head (the head top from the ears and shoulders: HumanEva's head joint is the
  far end of the head segment), ``LAnkle`` / ``RAnkle`` = LFoot / RFoot (the ankles), and the shoulders,
  elbows, wrists, hips and knees directly.

OpenPose's own ``Neck`` and ``MidHip`` are not used: OpenPose trained them as the mid-points of the
shoulders and of the hips, so recomputing them from those joints gives the same point and makes the three
adapters agree exactly on the same person. The remaining gap between these definitions and the mocap
joints (thorax, neck/nose, head top especially) is part of why detected 2D lifts worse than ground-truth
2D; the book's chapter "Lifting your own video" discusses it.
"""
from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, Union

import numpy as np

from .camera import normalize_screen_coordinates
from .skeleton import H36M_16, H36M_17, HUMANEVA_15, Skeleton

__all__ = [
    "KeypointError",
    "KeypointLayout",
    "KeypointFile",
    "LAYOUTS",
    "LIMB_PAIRS",
    "DEFAULT_MIN_CONFIDENCE",
    "HEAD_TOP_EXTENT",
    "ADAPTED_SKELETONS",
    "get_layout",
    "to_h36m",
    "to_skeleton",
    "fill_missing",
    "normalize_to_screen",
    "repair_left_right_swaps",
    "read_keypoints",
    "read_openpose_folder",
    "read_coco_results",
    "read_mediapipe",
    "read_keypoints_npz",
]

PathLike = Union[str, Path]

#: Confidence below which :func:`fill_missing` treats a joint as missing by default (detector scores and
#: MediaPipe's visibility are in [0, 1]; 0.3 drops guesses while keeping partly occluded joints).
DEFAULT_MIN_CONFIDENCE = 0.3


class KeypointError(ValueError):
    """Keypoints or a keypoint file are malformed; the one-line message names the file, key or shape."""


# --------------------------------------------------------------------------- layouts
_COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
           "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
           "right_knee", "left_ankle", "right_ankle")

_BLAZEPOSE33 = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
                "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
                "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
                "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip",
                "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
                "right_heel", "left_foot_index", "right_foot_index")

_BODY25 = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
           "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe",
           "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")

# BODY_25 name of each COCO joint (BlazePose uses the COCO names themselves).
_BODY25_AS_COCO = {"nose": "Nose", "left_eye": "LEye", "right_eye": "REye", "left_ear": "LEar",
                   "right_ear": "REar", "left_shoulder": "LShoulder", "right_shoulder": "RShoulder",
                   "left_elbow": "LElbow", "right_elbow": "RElbow", "left_wrist": "LWrist",
                   "right_wrist": "RWrist", "left_hip": "LHip", "right_hip": "RHip", "left_knee": "LKnee",
                   "right_knee": "RKnee", "left_ankle": "LAnkle", "right_ankle": "RAnkle"}

#: Fraction of the shoulder-to-ear height added above the ears to reach the head top (module docstring).
HEAD_TOP_EXTENT = 0.5

# The table of the module docstring: H36M-17 joint -> {COCO joint: weight}. Weights of a joint sum to 1.
_H36M_FROM_COCO: dict[str, dict[str, float]] = {
    "Hip": {"left_hip": 0.5, "right_hip": 0.5},
    "RHip": {"right_hip": 1.0},
    "RKnee": {"right_knee": 1.0},
    "RFoot": {"right_ankle": 1.0},
    "LHip": {"left_hip": 1.0},
    "LKnee": {"left_knee": 1.0},
    "LFoot": {"left_ankle": 1.0},
    "Spine": {"left_hip": 0.25, "right_hip": 0.25, "left_shoulder": 0.25, "right_shoulder": 0.25},
    "Thorax": {"left_shoulder": 0.5, "right_shoulder": 0.5},
    "Neck/Nose": {"nose": 1.0},
    "Head": {"left_ear": (1 + HEAD_TOP_EXTENT) / 2, "right_ear": (1 + HEAD_TOP_EXTENT) / 2,
             "left_shoulder": -HEAD_TOP_EXTENT / 2, "right_shoulder": -HEAD_TOP_EXTENT / 2},
    "LShoulder": {"left_shoulder": 1.0},
    "LElbow": {"left_elbow": 1.0},
    "LWrist": {"left_wrist": 1.0},
    "RShoulder": {"right_shoulder": 1.0},
    "RElbow": {"right_elbow": 1.0},
    "RWrist": {"right_wrist": 1.0},
}


#: Skeleton name -> {its joint: the Human3.6M-17 joint made the same way} (module docstring, "Other 3D joint
#: sets"). A target joint takes the recipe row of its Human3.6M-17 counterpart.
_AS_H36M17: dict[str, dict[str, str]] = {
    "h36m17": {n: n for n in H36M_17.names},
    "h36m16": {n: n for n in H36M_16.names},
    "humaneva15": {"Pelvis": "Hip", "Thorax": "Thorax", "LShoulder": "LShoulder", "LElbow": "LElbow",
                   "LWrist": "LWrist", "RShoulder": "RShoulder", "RElbow": "RElbow", "RWrist": "RWrist",
                   "LHip": "LHip", "LKnee": "LKnee", "LAnkle": "LFoot", "RHip": "RHip", "RKnee": "RKnee",
                   "RAnkle": "RFoot", "Head": "Head"},
}
#: The 3D joint sets :func:`to_skeleton` maps detector keypoints onto.
ADAPTED_SKELETONS: dict[str, Skeleton] = {s.name: s for s in (H36M_17, H36M_16, HUMANEVA_15)}


@dataclass(frozen=True)
class KeypointLayout:
    """A detector's joint set.

    Attributes:
        name: key in :data:`LAYOUTS` (``"coco17"``).
        names: joint names in index order.
        description: which detectors write it.
        recipe: per Human3.6M-17 joint (in :data:`H36M_17` order), ``((joint name, weight), ...)`` of this
            layout's joints whose weighted sum makes it (the table in the module docstring).
    """

    name: str
    names: tuple[str, ...]
    description: str
    recipe: tuple[tuple[tuple[str, float], ...], ...]

    @property
    def num_joints(self) -> int:
        return len(self.names)


def _layout_from_coco_names(name: str, names: tuple[str, ...], description: str,
                            coco_to_own: Mapping[str, str]) -> KeypointLayout:
    recipe = tuple(tuple((coco_to_own[c], w) for c, w in _H36M_FROM_COCO[j].items()) for j in H36M_17.names)
    return KeypointLayout(name, names, description, recipe)


LAYOUTS: dict[str, KeypointLayout] = {
    "coco17": _layout_from_coco_names(
        "coco17", _COCO17, "COCO-17: MMPose, RTMPose, Detectron2, YOLO-pose, VideoPose3D detectron_pt_coco",
        {c: c for c in _COCO17}),
    "blazepose33": _layout_from_coco_names(
        "blazepose33", _BLAZEPOSE33, "BlazePose-33: MediaPipe Pose", {c: c for c in _COCO17}),
    "body25": _layout_from_coco_names("body25", _BODY25, "OpenPose BODY_25", _BODY25_AS_COCO),
    "h36m17": KeypointLayout("h36m17", H36M_17.names, "Human3.6M-17 (the models' order)",
                             tuple(((n, 1.0),) for n in H36M_17.names)),
}

#: Left/right limb pairs of the Human3.6M-17 order that :func:`repair_left_right_swaps` can exchange:
#: name -> (left joints, right joints), paired element-wise.
LIMB_PAIRS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "arms": ((11, 12, 13), (14, 15, 16)),
    "legs": ((4, 5, 6), (1, 2, 3)),
}


def get_layout(layout: "str | KeypointLayout") -> KeypointLayout:
    """Look a layout up by name (``"coco17"``, ``"blazepose33"``, ``"body25"``, ``"h36m17"``) or pass one through."""
    if isinstance(layout, KeypointLayout):
        return layout
    try:
        return LAYOUTS[str(layout).lower()]
    except KeyError:
        raise KeypointError(f"unknown keypoint layout {layout!r}; use one of {sorted(LAYOUTS)}") from None


@lru_cache(maxsize=None)
def _gather_table(layout: KeypointLayout, skeleton: str = "h36m17") -> tuple[np.ndarray, np.ndarray]:
    """``(index (J, K), weight (J, K))``: target joint ``j`` = ``sum_k weight[j, k] * x[index[j, k]]``.

    ``J`` is the joint count of ``skeleton`` (a key of :data:`ADAPTED_SKELETONS`); each target joint takes the
    recipe row of its Human3.6M-17 counterpart. Rows shorter than ``K`` are padded with their own first source
    at weight 0, so a padded slot never brings in another joint's NaN (``0 * nan`` is ``nan``) and never
    lowers the minimum confidence.
    """
    by_name = dict(zip(H36M_17.names, layout.recipe))
    rows = [by_name[_AS_H36M17[skeleton][n]] for n in ADAPTED_SKELETONS[skeleton].names]
    K = max(len(r) for r in rows)
    index = np.zeros((len(rows), K), dtype=np.intp)
    weight = np.zeros((len(rows), K), dtype=np.float64)
    for j, row in enumerate(rows):
        src = [layout.names.index(n) for n, _ in row]  # recipes are written on the layout's own names
        index[j] = src + [src[0]] * (K - len(src))
        weight[j, :len(row)] = [w for _, w in row]
    return index, weight


def _where(source: "PathLike | None") -> str:
    return f"{source}: " if source is not None else ""


def _float_array(x: Any, what: str, source: "PathLike | None") -> np.ndarray:
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:  # ragged nested lists
        raise KeypointError(f"{_where(source)}{what} is not a rectangular array ({e})") from None
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise KeypointError(f"{_where(source)}{what} has dtype {a.dtype}; expected numbers, shape {a.shape}")
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


# --------------------------------------------------------------------------- adapters
def to_h36m(keypoints: np.ndarray, layout: "str | KeypointLayout", *, points: bool = False,
            source: "PathLike | None" = None) -> np.ndarray:
    """Detector keypoints to the Human3.6M-17 order (module docstring table): :func:`to_skeleton` onto
    ``"h36m17"``; ``(..., J, C) -> (..., 17, C)``."""
    return to_skeleton(keypoints, layout, H36M_17, points=points, source=source)


def to_skeleton(keypoints: np.ndarray, layout: "str | KeypointLayout", skeleton: "str | Skeleton", *,
                points: bool = False, source: "PathLike | None" = None) -> np.ndarray:
    """Detector keypoints onto the joints of a 3D skeleton: Human3.6M-17, Human3.6M-16 or HumanEva-15.

    Args:
        keypoints: ``(..., J, 2)`` pixels or ``(..., J, 3)`` pixels + confidence, usually ``(frames, J, C)``;
            ``J`` must be the layout's joint count.
        layout: a name in :data:`LAYOUTS` or a :class:`KeypointLayout`.
        skeleton: a name in :data:`ADAPTED_SKELETONS` or one of those skeletons.
        points: True when every channel is a coordinate (``(..., J, 3)`` 3D points triangulated in the
            detector's layout): all channels then take the weighted sums and none is a confidence.
        source: the file the keypoints came from, named in errors.

    Returns:
        ``(..., J_skeleton, C)``, the input's float dtype. Derived joints are weighted sums of their sources, their
        confidence the minimum of the sources'; a NaN source makes the derived joint NaN.

    Raises:
        KeypointError: the joint count or channel count does not fit the layout, or no mapping reaches
        ``skeleton``.
    """
    lay = get_layout(layout)
    target = skeleton.name if isinstance(skeleton, Skeleton) else str(skeleton)
    if target not in ADAPTED_SKELETONS:
        raise KeypointError(f"{_where(source)}no mapping from layout {lay.name!r} to skeleton {target!r}; "
                            f"mapped skeletons: {sorted(ADAPTED_SKELETONS)}")
    kp = _float_array(keypoints, "keypoints", source)
    if kp.ndim < 2 or kp.shape[-2] != lay.num_joints or (kp.shape[-1] not in (2, 3) and not points):
        raise KeypointError(f"{_where(source)}layout {lay.name!r} needs keypoints of shape (frames, "
                            f"{lay.num_joints}, 2 or 3), got {tuple(kp.shape)}")
    index, weight = _gather_table(lay, target)
    gathered = kp[..., index, :]                                      # (..., J_skeleton, K, C)
    n_coords = kp.shape[-1] if points else 2
    coords = (gathered[..., :n_coords] * weight[..., None].astype(kp.dtype)).sum(-2)
    if n_coords == kp.shape[-1]:
        return coords
    return np.concatenate([coords, gathered[..., 2].min(-1, keepdims=True)], axis=-1)


# --------------------------------------------------------------------------- gaps
def fill_missing(keypoints: np.ndarray, min_confidence: float = DEFAULT_MIN_CONFIDENCE, *,
                 joint_names: "Sequence[str] | None" = None,
                 source: "PathLike | None" = None) -> tuple[np.ndarray, np.ndarray]:
    """Fill missing and low-confidence joints by linear interpolation over time, per joint.

    A joint is missing in a frame when its x or y is not finite, when it is ``(0, 0, 0)`` (how OpenPose
    writes an undetected joint) or when its confidence (channel 2, if present) is below ``min_confidence``
    or NaN. Its x and y are interpolated linearly between the nearest valid frames of the same joint
    (``np.interp`` per column, computed for all joints at once); before the first and after the last valid
    frame the nearest valid value is held. The confidence channel is left as it was (NaN becomes 0), so
    downstream code still sees that a filled joint was not observed.

    Args:
        keypoints: ``(frames, J, 2)`` or ``(frames, J, 3)``.
        min_confidence: confidence threshold (ignored for 2-channel input).
        joint_names: names used in the error for a joint never seen (default: indices).
        source: the file the keypoints came from, named in errors.

    Returns:
        ``(filled, mask)``: ``filled`` has the input's shape and float dtype, ``mask (frames, J)`` bool is
        True where a joint was filled.

    Raises:
        KeypointError: wrong shape, or a joint has no valid frame at all (nothing to interpolate from).
    """
    kp = _float_array(keypoints, "keypoints", source)
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3) or kp.shape[0] == 0:
        raise KeypointError(f"{_where(source)}fill_missing needs keypoints of shape (frames>0, joints, 2 or 3), "
                            f"got {tuple(kp.shape)}")
    out = kp.copy()
    xy = kp[..., :2].astype(np.float64)
    missing = ~np.isfinite(xy).all(-1)
    if kp.shape[-1] == 3:
        conf = kp[..., 2]
        # `~(conf >= t)` is also True for a NaN confidence.
        missing |= ~(conf >= min_confidence) | ((xy == 0).all(-1) & (conf == 0))
        out[..., 2] = np.nan_to_num(conf, nan=0.0)
    T, J = missing.shape
    never = np.flatnonzero(missing.all(0))
    if never.size:
        names = [joint_names[j] if joint_names is not None else j for j in never]
        raise KeypointError(f"{_where(source)}joint(s) {names} have no frame with finite x, y and confidence >= "
                            f"{min_confidence} among {T} frames (keypoints shape {tuple(kp.shape)}); lower "
                            "min_confidence or drop the joint")
    if not missing.any():
        return out, missing
    # Nearest valid frame at or before / at or after each frame, per joint (running max / min of indices).
    t = np.arange(T)[:, None]
    before = np.maximum.accumulate(np.where(missing, -1, t), axis=0)
    after = np.minimum.accumulate(np.where(missing, T, t)[::-1], axis=0)[::-1]
    lo = np.where(before < 0, after, before)   # no valid frame before: hold the first valid value
    hi = np.where(after >= T, lo, after)        # none after: hold the last one
    cols = np.arange(J)[None, :]
    x_lo, x_hi = xy[lo, cols], xy[hi, cols]                            # (T, J, 2)
    span = np.maximum(hi - lo, 1)[..., None]
    # np.interp's own form, slope * (t - lo) + value at lo, so the two agree to rounding.
    interp = (x_hi - x_lo) / span * (t - lo)[..., None] + x_lo
    out[..., :2] = np.where(missing[..., None], interp, xy).astype(out.dtype)
    return out, missing


# --------------------------------------------------------------------------- normalisation
def _image_size(image_size: Any, source: "PathLike | None", what: str = "image_size") -> tuple[int, int]:
    try:
        w, h = (float(v) for v in np.asarray(image_size, dtype=np.float64).reshape(-1))
    except (TypeError, ValueError):
        shape = np.shape(image_size) if not isinstance(image_size, (str, bytes)) else repr(image_size)
        raise KeypointError(f"{_where(source)}{what} must be (width, height), got {image_size!r} "
                            f"(shape {shape})") from None
    if not (np.isfinite(w) and np.isfinite(h) and w > 0 and h > 0):
        raise KeypointError(f"{_where(source)}{what} must be two positive numbers (width, height), got {(w, h)}")
    return int(round(w)), int(round(h))


def normalize_to_screen(keypoints_xy: np.ndarray, image_size: "Sequence[float]", *,
                        source: "PathLike | None" = None) -> np.ndarray:
    """Pixels to the screen normalisation of VideoPose3D and its successors.

    ``x_n = 2u/w - 1`` (so x spans [-1, 1] across the image) and ``y_n = 2v/w - h/w`` (y scaled by the same
    factor, keeping the aspect ratio), via :func:`poselift_core.camera.normalize_screen_coordinates`.

    Args:
        keypoints_xy: ``(..., 2)`` pixels, or ``(..., 3)`` whose channel 2 (confidence) is passed through.
        image_size: ``(width, height)`` in pixels.

    Returns:
        The same shape and float dtype.
    """
    kp = _float_array(keypoints_xy, "keypoints", source)
    if kp.ndim < 1 or kp.shape[-1] not in (2, 3):
        raise KeypointError(f"{_where(source)}normalize_to_screen needs (..., 2) or (..., 3) keypoints, "
                            f"got {tuple(kp.shape)}")
    w, h = _image_size(image_size, source)
    xy = normalize_screen_coordinates(kp[..., :2], w, h)
    return xy if kp.shape[-1] == 2 else np.concatenate([xy, kp[..., 2:]], axis=-1)


# --------------------------------------------------------------------------- left/right swaps
def repair_left_right_swaps(keypoints_h36m: np.ndarray, *, dims: int = 2,
                            swap_penalty: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Undo detector frames whose left and right arms (or legs) are exchanged.

    Per limb pair (:data:`LIMB_PAIRS`: arms = shoulder, elbow, wrist; legs = hip, knee, ankle) each frame
    has two states: keep the detector's labels or exchange left and right. Moving from one frame to the
    next costs the distance travelled by the six joints under the two frames' chosen labellings, summed
    over joints (a joint missing in either frame adds nothing). Exchanging a frame's labels costs
    ``swap_penalty`` times the limb pair's median left-right separation (so the detector's labels are
    kept when continuity cannot tell, and the labelling most frames agree with wins). The labelling of the
    whole clip with the least total cost is found by dynamic programming over the two states (Viterbi).

    Choosing each frame greedily against the previous, already repaired frame would let one ambiguous
    frame (a wrist over the other wrist, legs crossing in a side view) flip the labels of the entire rest
    of the clip; the per-frame penalty makes such a flip cost as much as its length, so only real
    swaps, which break continuity at both ends by about the limb separation, are undone: swapped runs
    shorter than about ``4 / swap_penalty`` frames (2 / swap_penalty at a clip's ends).

    Args:
        keypoints_h36m: ``(frames, 17, C)`` in the Human3.6M-17 order; channels ``[:dims]`` are coordinates
            (``dims=2`` for pixels + confidence, 3 for 3D), other channels move with their joint.
        dims: how many leading channels measure distance.
        swap_penalty: cost of exchanging one frame's labels, relative to the limb separation.

    Returns:
        ``(fixed, swapped)``: ``fixed`` like the input with the chosen labels; ``swapped (frames, 2)`` bool,
        columns in :data:`LIMB_PAIRS` order (arms, legs), True where that frame's pair was exchanged.
    """
    kp = _float_array(keypoints_h36m, "keypoints", None)
    if kp.ndim != 3 or kp.shape[1] != H36M_17.num_joints or not 1 <= dims <= kp.shape[2]:
        raise KeypointError(f"repair_left_right_swaps needs (frames, 17, C>={dims}) keypoints in the "
                            f"Human3.6M-17 order, got {tuple(kp.shape)}")
    T = kp.shape[0]
    left = np.array([l for l, _ in LIMB_PAIRS.values()])     # (2 pairs, 3 joints)
    right = np.array([r for _, r in LIMB_PAIRS.values()])
    P = kp[..., :dims].astype(np.float64)
    L, R = P[:, left], P[:, right]                            # (T, 2, 3, dims)

    def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:     # summed joint distances, (.., 2 pairs)
        return np.nan_to_num(np.linalg.norm(a - b, axis=-1), nan=0.0).sum(-1)

    if T == 0:
        return kp.copy(), np.zeros((0, len(LIMB_PAIRS)), dtype=bool)
    stay = dist(L[1:], L[:-1]) + dist(R[1:], R[:-1])          # (T-1, 2): both frames labelled alike
    cross = dist(L[1:], R[:-1]) + dist(R[1:], L[:-1])         # one of the two frames exchanged
    sep = dist(L, R)                                          # (T, 2); 0 where the limbs were not seen
    separation = np.array([np.median(s[s > 0]) if (s > 0).any() else 0.0 for s in sep.T])  # 2 pairs
    penalty = swap_penalty * separation                       # (2,)

    state = np.stack([_viterbi_keep_or_swap(stay[:, p], cross[:, p], float(penalty[p]))
                      for p in range(len(LIMB_PAIRS))], axis=-1)
    fixed = kp.copy()
    for p, (l, r) in enumerate(LIMB_PAIRS.values()):
        rows = np.flatnonzero(state[:, p])
        fixed[np.ix_(rows, l + r)] = kp[np.ix_(rows, r + l)]
    return fixed, state


def _viterbi_keep_or_swap(stay: np.ndarray, cross: np.ndarray, penalty: float) -> np.ndarray:
    """Least-cost keep (0) / swap (1) labelling of ``T`` frames, ``(T,)`` bool.

    ``stay[t]`` / ``cross[t]`` (``(T-1,)``) cost the move from frame ``t`` to ``t+1`` when both frames get
    the same / different labels; a swapped frame costs ``penalty``. The recursion is sequential in time, so
    it runs over Python floats (NumPy calls on 2-element arrays were 8x slower overall); every distance was
    computed beforehand, vectorised. Ties keep the detector's labels.
    """
    T = len(stay) + 1
    back = bytearray(2 * (T - 1))                  # back[2t + s]: state at t on the best path into s at t+1
    keep, swap = 0.0, penalty
    for t, (a, b) in enumerate(zip(stay.tolist(), cross.tolist())):
        k_from_swap, s_from_keep = swap + b, keep + b
        back[2 * t] = k_from_swap < keep + a
        back[2 * t + 1] = swap + a < s_from_keep
        keep, swap = min(keep + a, k_from_swap), min(s_from_keep, swap + a) + penalty
    state = np.zeros(T, dtype=bool)
    s = int(swap < keep)
    for t in range(T - 1, 0, -1):
        state[t] = s
        s = back[2 * (t - 1) + s]
    state[0] = s
    return state


# --------------------------------------------------------------------------- files
@dataclass
class KeypointFile:
    """Keypoints read from a detector's output.

    Attributes:
        keypoints: ``(frames, J, 3)`` float32: pixel x, pixel y, confidence; undetected joints are
            ``(nan, nan, 0)``.
        layout: a key of :data:`LAYOUTS`.
        image_size: ``(width, height)`` in pixels, or None when the file does not say.
        source: the file or folder read.
        frame_ids: per frame, the file's own frame label (OpenPose file stem, COCO ``image_id``), or None.
    """

    keypoints: np.ndarray
    layout: str
    image_size: "tuple[int, int] | None"
    source: Path
    frame_ids: "list | None" = None

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    def to_h36m(self) -> np.ndarray:
        """:func:`to_h36m` of these keypoints, ``(frames, 17, 3)``."""
        return to_h36m(self.keypoints, self.layout, source=self.source)


def _natural_key(text: str) -> list:
    """Sort key that orders ``frame_2`` before ``frame_10``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _with_confidence(kp: np.ndarray) -> np.ndarray:
    """``(F, J, 2 | 3)`` -> ``(F, J, 3)`` float32; undetected joints become ``(nan, nan, 0)``.

    Without a confidence channel a finite joint gets confidence 1. OpenPose's and COCO's ``(0, 0, 0)``
    and any non-finite coordinate mark a joint as not detected.
    """
    kp = np.asarray(kp, dtype=np.float64)
    conf = np.isfinite(kp[..., :2]).all(-1).astype(np.float64) if kp.shape[-1] == 2 else kp[..., 2]
    out = np.concatenate([kp[..., :2], np.nan_to_num(conf, nan=0.0)[..., None]], axis=-1)
    undetected = ~np.isfinite(kp[..., :2]).all(-1) | ((kp[..., :2] == 0).all(-1) & (out[..., 2] == 0))
    out[undetected] = (np.nan, np.nan, 0.0)
    return out.astype(np.float32)


def _check_layout(layout: "str | None", default: str, num_joints: int, path: Path, what: str) -> str:
    """The layout to use: the caller's, else ``default``; its joint count must be ``num_joints``."""
    lay = get_layout(layout if layout is not None else default)
    if lay.num_joints != num_joints:
        raise KeypointError(f"{path}: {what} has {num_joints} joints but layout {lay.name!r} has "
                            f"{lay.num_joints}")
    return lay.name


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise KeypointError(f"{path}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except UnicodeDecodeError:
        raise KeypointError(f"{path}: not a text JSON file") from None


def _openpose_people(data: Any, path: Path, num_joints: "int | None") -> np.ndarray:
    """``(people, J, 3)`` of one OpenPose frame file."""
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise KeypointError(f"{path}: expected an OpenPose frame with a 'people' list; found {keys}")
    people = []
    for i, person in enumerate(data["people"]):
        flat = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not isinstance(flat, list):
            raise KeypointError(f"{path}: people[{i}] has no 'pose_keypoints_2d' list")
        if len(flat) == 0:
            continue
        if len(flat) % 3 or (num_joints is not None and len(flat) != 3 * num_joints):
            want = f"{num_joints} x 3 = {3 * num_joints}" if num_joints else "a multiple of 3"
            raise KeypointError(f"{path}: people[{i}].pose_keypoints_2d has {len(flat)} values, expected {want}")
        people.append(_float_array(flat, f"people[{i}].pose_keypoints_2d", path).reshape(-1, 3))
    if len({p.shape for p in people}) > 1:
        raise KeypointError(f"{path}: people have different joint counts {[p.shape[0] for p in people]}")
    return np.stack(people) if people else np.zeros((0, num_joints or 0, 3))


def _pick_person(people: np.ndarray, previous: "np.ndarray | None", person: str) -> np.ndarray:
    """One ``(J, 3)`` person (undetected joints NaN) of ``people (P, J, 3)`` in the same convention."""
    if person == "track" and previous is not None:
        d = np.linalg.norm(people[..., :2] - previous[None, :, :2], axis=-1)        # (P, J), NaN if unseen
        seen = np.isfinite(d).sum(-1)
        if seen.max() > 0:
            mean_d = np.where(seen > 0, np.nansum(d, -1) / np.maximum(seen, 1), np.inf)
            return people[int(np.argmin(mean_d))]
    return people[int(np.argmax(people[..., 2].mean(-1)))]


def read_openpose_folder(path: PathLike, layout: "str | None" = None, *,
                         person: Literal["track", "confident"] = "track",
                         image_size: "Sequence[float] | None" = None) -> KeypointFile:
    """An OpenPose ``--write_json`` folder: one ``*_keypoints.json`` per frame, ordered by name.

    Each file has ``people[i].pose_keypoints_2d`` = flat ``[x, y, c] * 25`` (BODY_25), ``(0, 0, 0)`` for an
    undetected joint. One person per frame: ``person="confident"`` takes the highest mean confidence in every
    frame; ``"track"`` (default) does so in the first frame with anyone in it, then takes the person closest
    (mean distance over joints seen in both) to the last one taken, so a passer-by does not steal the
    track. A frame with nobody gives ``(nan, nan, 0)`` joints. A single ``*_keypoints.json`` file reads as a
    one-frame clip.

    Args:
        path: the folder (or one frame file).
        layout: defaults to ``"body25"``; must match the joint count of the files.
        person: person selection, above.
        image_size: ``(width, height)``, which OpenPose's JSON does not record.
    """
    path = Path(path)
    files = (sorted(path.glob("*_keypoints.json"), key=lambda p: _natural_key(p.name))
             if path.is_dir() else [path])
    if not files:
        raise KeypointError(f"{path}: no OpenPose '*_keypoints.json' files in this folder")
    if person not in ("track", "confident"):
        raise KeypointError(f"{path}: person must be 'track' or 'confident', got {person!r}")
    num_joints = get_layout(layout).num_joints if layout is not None else None
    frames: list[np.ndarray | None] = []
    previous = None
    for f in files:
        people = _openpose_people(_load_json(f), f, num_joints)
        if num_joints is None and len(people):
            num_joints = people.shape[1]
            _check_layout(layout, "body25", num_joints, f, "people[0].pose_keypoints_2d")
        if len(people) == 0:
            frames.append(None)
            continue
        chosen = _pick_person(_with_confidence(people), previous, person)
        frames.append(chosen)
        previous = chosen
    if num_joints is None:
        num_joints = get_layout("body25").num_joints  # nobody in any frame: an all-missing BODY_25 clip
    kp = np.stack([f if f is not None else np.tile(np.float32([np.nan, np.nan, 0]), (num_joints, 1))
                   for f in frames]).astype(np.float32)
    name = _check_layout(layout, "body25", num_joints, path, "the OpenPose output")
    return KeypointFile(kp, name, _image_size(image_size, path) if image_size is not None else None, path,
                        [f.name[: -len("_keypoints.json")] if f.name.endswith("_keypoints.json") else f.stem
                         for f in files])


def read_coco_results(path: PathLike, layout: "str | None" = None, *,
                      image_size: "Sequence[float] | None" = None, data: Any = None) -> KeypointFile:
    """A COCO keypoint results JSON: a list of ``{"image_id", "category_id", "keypoints", "score"}``.

    ``keypoints`` is flat ``[x, y, v] * J`` (``v`` a score for detector output). One person per image: the
    entry with the highest ``score`` (the mean keypoint score when ``score`` is absent). Entries with a
    ``category_id`` other than 1 (person) are ignored. Frames are the distinct ``image_id`` values in
    natural order (``frame_ids`` keeps them); images without any detection do not appear in such files.

    Args:
        layout: defaults to ``"coco17"``; ``J`` must match it.
        image_size: ``(width, height)``; results files do not record it.
        data: the already parsed JSON (used by :func:`read_keypoints`).
    """
    path = Path(path)
    entries = _load_json(path) if data is None else data
    if not isinstance(entries, list):
        raise KeypointError(f"{path}: a COCO results file is a JSON list of detections, found "
                            f"{type(entries).__name__}")
    lay = get_layout(layout if layout is not None else "coco17")
    best: dict[Any, tuple[float, np.ndarray]] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "image_id" not in e or "keypoints" not in e:
            keys = sorted(e) if isinstance(e, dict) else type(e).__name__
            raise KeypointError(f"{path}: entry {i} needs 'image_id' and 'keypoints'; found {keys}")
        if e.get("category_id", 1) != 1:
            continue
        flat = _float_array(e["keypoints"], f"entry {i} 'keypoints'", path).reshape(-1)
        if flat.size != 3 * lay.num_joints:
            raise KeypointError(f"{path}: entry {i} 'keypoints' has {flat.size} values, layout {lay.name!r} "
                                f"needs {lay.num_joints} x 3 = {3 * lay.num_joints}")
        kp = flat.reshape(lay.num_joints, 3)
        score = float(e["score"]) if e.get("score") is not None else float(kp[:, 2].mean())
        image_id = e["image_id"]
        if image_id not in best or score > best[image_id][0]:
            best[image_id] = (score, kp)
    if not best:
        raise KeypointError(f"{path}: no person detections (category_id 1) among {len(entries)} entries")
    ids = sorted(best, key=lambda k: (0, k, []) if isinstance(k, (int, float)) else (1, 0, _natural_key(str(k))))
    kp = _with_confidence(np.stack([best[k][1] for k in ids]))
    return KeypointFile(kp, lay.name, _image_size(image_size, path) if image_size is not None else None,
                        path, ids)


def _mediapipe_frame(frame: Any, path: Path, i: int) -> np.ndarray:
    """One MediaPipe frame (``None``/``[]``, 33 dicts or 33 lists) -> ``(33, 3)`` normalised x, y, visibility."""
    if frame is None or (isinstance(frame, (list, tuple)) and len(frame) == 0):
        return np.tile([np.nan, np.nan, 0.0], (33, 1))
    if isinstance(frame, dict) and "landmark" in frame:      # MessageToDict of a NormalizedLandmarkList
        frame = frame["landmark"]
    if not isinstance(frame, (list, tuple)):
        raise KeypointError(f"{path}: landmarks[{i}] must be a list of landmarks or null, "
                            f"found {type(frame).__name__}")
    if all(isinstance(lm, dict) for lm in frame):
        try:
            rows = [(lm["x"], lm["y"], lm.get("visibility", 1.0)) for lm in frame]
        except KeyError as e:
            raise KeypointError(f"{path}: landmarks[{i}] has a landmark without {e.args[0]!r}") from None
        a = np.asarray(rows, dtype=np.float64)
    else:
        a = _float_array(frame, f"landmarks[{i}]", path)
        if a.ndim != 2 or a.shape[1] not in (2, 3, 4):
            raise KeypointError(f"{path}: landmarks[{i}] has shape {a.shape}; expected (33, 2 | 3 | 4)")
        a = _mediapipe_channels(a)
    if a.shape[0] != 33:
        raise KeypointError(f"{path}: landmarks[{i}] has {a.shape[0]} landmarks; BlazePose has 33")
    return a


def _mediapipe_channels(a: np.ndarray) -> np.ndarray:
    """Last axis 4 (x, y, z, visibility), 3 (x, y, visibility) or 2 (x, y) -> (x, y, visibility)."""
    if a.shape[-1] == 4:
        return a[..., [0, 1, 3]]
    if a.shape[-1] == 2:
        return np.concatenate([a, np.isfinite(a).all(-1, keepdims=True).astype(a.dtype)], -1)
    return a


def _size_from(mapping: Mapping, path: Path) -> "tuple[int, int] | None":
    if "image_size" in mapping:
        return _image_size(mapping["image_size"], path, "'image_size'")
    if "image_width" in mapping and "image_height" in mapping:
        return _image_size((mapping["image_width"], mapping["image_height"]), path, "'image_width'/'image_height'")
    return None


def read_mediapipe(path: PathLike, layout: "str | None" = None, *,
                   image_size: "Sequence[float] | None" = None, data: Any = None) -> KeypointFile:
    """MediaPipe Pose landmarks saved as ``.npz`` or ``.json`` (normalised to [0, 1] by image width/height).

    * ``.npz``: ``landmarks`` ``(frames, 33, 4)`` = x, y, z, visibility as MediaPipe gives them (or
      ``(frames, 33, 3)`` = x, y, visibility; ``(frames, 33, 2)``), NaN for frames without a person, and
      ``image_size`` = (width, height) (or ``image_width`` and ``image_height``).
    * ``.json``: ``{"image_size": [w, h], "landmarks": [frame, ...]}`` where a frame is ``null``/``[]``
      (no person), a list of 33 ``{"x", "y", "z", "visibility"}`` dicts (``MessageToDict`` of
      ``results.pose_landmarks`` also works) or a list of 33 lists as in the ``.npz``. A bare list of
      frames is accepted too.

    x and y are converted to pixels (``x * width``, ``y * height``); visibility becomes the confidence.

    Args:
        layout: defaults to ``"blazepose33"``, the only layout with 33 joints.
        image_size: ``(width, height)``, required when the file does not record it; overrides the file's.
    """
    path = Path(path)
    if path.suffix.lower() == ".npz":
        with _open_npz(path) as z:
            if "landmarks" not in z:
                raise KeypointError(f"{path}: no 'landmarks' array; keys: {sorted(z.files)}")
            arr = _float_array(z["landmarks"], "'landmarks'", path)
            file_size = _size_from({k: z[k] for k in ("image_size", "image_width", "image_height") if k in z},
                                   path)
        if arr.ndim != 3 or arr.shape[1] != 33 or arr.shape[2] not in (2, 3, 4):
            raise KeypointError(f"{path}: 'landmarks' has shape {tuple(arr.shape)}; expected (frames, 33, 4) "
                                "= x, y, z, visibility (or (frames, 33, 3) / (frames, 33, 2))")
        norm = _mediapipe_channels(arr.astype(np.float64))
    else:
        data = _load_json(path) if data is None else data
        if isinstance(data, dict):
            key = "landmarks" if "landmarks" in data else "frames" if "frames" in data else None
            if key is None or not isinstance(data[key], list):
                raise KeypointError(f"{path}: expected a 'landmarks' list of frames; keys: {sorted(data)}")
            file_size, frames = _size_from(data, path), data[key]
        elif isinstance(data, list):
            file_size, frames = None, data
        else:
            raise KeypointError(f"{path}: expected MediaPipe landmarks, found {type(data).__name__}")
        if not frames:
            raise KeypointError(f"{path}: 'landmarks' has no frames")
        norm = np.stack([_mediapipe_frame(f, path, i) for i, f in enumerate(frames)])
    size = _image_size(image_size, path) if image_size is not None else file_size
    if size is None:
        raise KeypointError(f"{path}: MediaPipe landmarks are normalised to [0, 1]; the image size is needed to "
                            "convert them to pixels: store 'image_size' (width, height) or pass image_size")
    pixels = norm.copy()
    pixels[..., 0] *= size[0]
    pixels[..., 1] *= size[1]
    name = _check_layout(layout, "blazepose33", 33, path, "'landmarks'")
    return KeypointFile(_with_confidence(pixels), name, size, path)


class _open_npz:
    """``np.load`` of an ``.npz`` without pickles, as a context manager with file-named errors."""

    def __init__(self, path: Path, allow_pickle: bool = False):
        self.path, self.allow_pickle = path, allow_pickle

    def __enter__(self) -> Any:
        try:
            self.z = np.load(self.path, allow_pickle=self.allow_pickle)
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise KeypointError(f"{self.path}: cannot read as .npz ({e})") from None
        if not hasattr(self.z, "files"):
            raise KeypointError(f"{self.path}: a .npy array, not an .npz archive of named arrays")
        return self.z

    def __exit__(self, *exc: Any) -> None:
        self.z.close()


def _layout_from_file(value: Any) -> str:
    text = str(np.asarray(value).reshape(-1)[0]) if np.size(value) else ""
    return {"coco": "coco17", "h36m": "h36m17"}.get(text.lower(), text.lower())


def read_keypoints_npz(path: PathLike, layout: "str | None" = None, *,
                       image_size: "Sequence[float] | None" = None, video: "str | None" = None) -> KeypointFile:
    """A plain ``.npz`` of pixel keypoints, or VideoPose3D's ``data_2d_custom_*.npz``.

    * Plain: ``keypoints`` ``(frames, J, 2 | 3)`` pixels (+ confidence), optional ``image_size`` (width,
      height) and optional ``layout`` (a :data:`LAYOUTS` name). The caller's ``layout`` wins over none in
      the file; the two must agree when both are given. NaN or ``(0, 0, 0)`` marks an undetected joint.
    * VideoPose3D custom: ``positions_2d[video]["custom"][0]`` ``(frames, 17, 2)`` and ``metadata`` with
      ``layout_name`` and ``video_metadata[video]`` = ``{"w", "h"}``; ``video`` picks one when the file holds
      several. These files store Python dicts, so they are unpickled: read only files you trust.
    """
    path = Path(path)
    with _open_npz(path) as z:
        keys = sorted(z.files)
        if "keypoints" not in keys:
            if "positions_2d" in keys:
                return _read_videopose3d_custom(path, layout, image_size, video)
            raise KeypointError(f"{path}: no 'keypoints' array (frames, joints, 2 or 3); keys: {keys}")
        kp = _float_array(z["keypoints"], "'keypoints'", path)
        file_size = _size_from({k: z[k] for k in ("image_size", "image_width", "image_height") if k in z}, path)
        file_layout = _layout_from_file(z["layout"]) if "layout" in z else None
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3):
        raise KeypointError(f"{path}: 'keypoints' has shape {tuple(kp.shape)}; expected (frames, joints, 2 or 3)")
    if layout is not None and file_layout is not None and get_layout(layout).name != get_layout(file_layout).name:
        raise KeypointError(f"{path}: the file says layout {file_layout!r} but {layout!r} was given")
    chosen = layout if layout is not None else file_layout
    if chosen is None:
        raise KeypointError(f"{path}: 'keypoints' has shape {tuple(kp.shape)} and the file names no layout; "
                            f"give one of {sorted(LAYOUTS)}")
    name = _check_layout(chosen, chosen, kp.shape[1], path, f"'keypoints' of shape {tuple(kp.shape)}")
    size = _image_size(image_size, path) if image_size is not None else file_size
    return KeypointFile(_with_confidence(kp), name, size, path)


def _read_videopose3d_custom(path: Path, layout: "str | None", image_size: Any, video: "str | None") -> KeypointFile:
    with _open_npz(path, allow_pickle=True) as z:
        try:
            positions = z["positions_2d"].item()
            metadata = z["metadata"].item() if "metadata" in z.files else {}
        except (ValueError, AttributeError):
            raise KeypointError(f"{path}: 'positions_2d' is not a pickled dict of videos "
                                f"(shape {z['positions_2d'].shape})") from None
    if not isinstance(positions, dict) or not positions:
        raise KeypointError(f"{path}: 'positions_2d' holds no videos")
    if video is None:
        if len(positions) > 1:
            raise KeypointError(f"{path}: 'positions_2d' holds {len(positions)} videos {sorted(positions)}; "
                                "choose one with video=")
        video = next(iter(positions))
    if video not in positions:
        raise KeypointError(f"{path}: no video {video!r} in 'positions_2d'; videos: {sorted(positions)}")
    try:
        kp = _float_array(positions[video]["custom"][0], f"positions_2d[{video!r}]['custom'][0]", path)
    except (KeyError, IndexError, TypeError):
        raise KeypointError(f"{path}: positions_2d[{video!r}] lacks a 'custom' list of arrays") from None
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3):
        raise KeypointError(f"{path}: positions_2d[{video!r}]['custom'][0] has shape {tuple(kp.shape)}; "
                            "expected (frames, joints, 2)")
    file_layout = _layout_from_file(metadata.get("layout_name", "coco")) if isinstance(metadata, dict) else "coco17"
    name = _check_layout(layout if layout is not None else file_layout, file_layout, kp.shape[1], path,
                         f"positions_2d[{video!r}]['custom'][0] of shape {tuple(kp.shape)}")
    size = None
    vm = metadata.get("video_metadata", {}).get(video) if isinstance(metadata, dict) else None
    if image_size is not None:
        size = _image_size(image_size, path)
    elif isinstance(vm, dict) and "w" in vm and "h" in vm:
        size = _image_size((vm["w"], vm["h"]), path, f"video_metadata[{video!r}]")
    return KeypointFile(_with_confidence(kp), name, size, path)


def read_keypoints(path: PathLike, layout: "str | None" = None, *,
                   image_size: "Sequence[float] | None" = None,
                   person: Literal["track", "confident"] = "track",
                   video: "str | None" = None) -> KeypointFile:
    """Read detector output, whichever of the supported forms ``path`` is.

    * a folder: OpenPose ``*_keypoints.json`` files (:func:`read_openpose_folder`);
    * ``.json``: a list of detections with ``keypoints`` -> COCO results (:func:`read_coco_results`); an
      object with ``people`` -> one OpenPose frame; an object with ``landmarks`` (or a list of frames) ->
      MediaPipe (:func:`read_mediapipe`);
    * ``.npz``: ``landmarks`` -> MediaPipe; ``keypoints`` -> plain keypoints with the caller's layout;
      ``positions_2d`` -> VideoPose3D custom (:func:`read_keypoints_npz`).

    Args:
        layout: one of :data:`LAYOUTS`; required for a plain ``.npz`` that names none, otherwise checked
            against the file's joint count.
        image_size: ``(width, height)`` in pixels: needed for MediaPipe files that do not store it,
            recorded in the result for the others.
        person: OpenPose person selection (see :func:`read_openpose_folder`).
        video: which video of a VideoPose3D custom file.

    Raises:
        KeypointError: one line naming the file and the key or shape at fault.
    """
    path = Path(path)
    if path.is_dir():
        return read_openpose_folder(path, layout, person=person, image_size=image_size)
    if not path.exists():
        raise KeypointError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with _open_npz(path) as z:
            keys = set(z.files)
        if "landmarks" in keys:
            return read_mediapipe(path, layout, image_size=image_size)
        return read_keypoints_npz(path, layout, image_size=image_size, video=video)
    if suffix == ".json":
        data = _load_json(path)
        if isinstance(data, dict) and "people" in data:
            return read_openpose_folder(path, layout, person=person, image_size=image_size)
        if isinstance(data, list):
            first = next((e for e in data if e is not None and e != []), None)
            if isinstance(first, dict) and "keypoints" in first:
                return read_coco_results(path, layout, image_size=image_size, data=data)
            if first is None and not data:
                raise KeypointError(f"{path}: empty JSON list: no detections")
        if isinstance(data, (dict, list)):
            if isinstance(data, dict) and "landmarks" not in data and "frames" not in data:
                raise KeypointError(f"{path}: unrecognised keypoint JSON with keys {sorted(data)}; expected "
                                    "OpenPose ('people'), COCO results (a list with 'keypoints') or MediaPipe "
                                    "('landmarks')")
            return read_mediapipe(path, layout, image_size=image_size, data=data)
        raise KeypointError(f"{path}: unrecognised keypoint JSON ({type(data).__name__})")
    raise KeypointError(f"{path}: unsupported keypoint file type {suffix or '(none)'!r}; use an OpenPose folder, "
                        ".json (COCO results, MediaPipe) or .npz")
