"""HumanEva-I (Sigal et al., IJCV 2010) in the VideoPose3D file format, the secondary lifting benchmark.

Files: ``data_3d_humaneva15.npz`` (subjects ``Train/S1..S3`` and ``Validate/S1..S3``, actions such as
``"Walking 1 chunk0"``, ``(N, 15, 3)`` world metres) and ``data_2d_humaneva15_<keypoints>.npz`` (3 colour
cameras C1..C3, 640x480 pixels, 60 Hz). Protocol: train on ``Train/*``, test on ``Validate/*``, report
P-MPJPE per subject for Walking, Jog and Box (as Pavllo et al., CVPR 2019), which the papers write "Walk", "Jog"
and "Box": those short names are accepted wherever actions are selected (:data:`HUMANEVA_ACTION_ALIASES`). The
file format is explained in the book, chapter 2 ("The VideoPose3D file format").

2D detections may come in another joint set than the 15-joint 3D: VideoPose3D's
``data_2d_humaneva15_detectron_pt_coco.npz`` holds COCO-17 keypoints (metadata ``layout_name`` ``'coco'``).
They are mapped onto the 15 joints when the pair loads (pelvis = mid-hip, thorax = mid-shoulder, head top from
the ears and shoulders; the table is in :mod:`poselift_core.keypoints`), and a 2D file whose joints cannot be
mapped is refused then, with a message naming both joint sets.

The extrinsics are HumanEva's calibration (quaternion w x y z, centre in millimetres, S3 reuses S1's).
**The intrinsics are an approximate pinhole** (``f = 710 px``, ``c = (285, 218)`` px, no distortion), in the
middle of the range a pinhole fit to the GT 2D gives (f 670-750, c (270-300, 205-230)); they are not
official. The GT 2D comes from the HumanEva toolbox, so only the normalised camera vector (used by
re-projection losses) depends on them; normalising the 2D uses the exact image size.
"""
from __future__ import annotations

from pathlib import Path

from ..camera import Camera
from ..skeleton import HUMANEVA_15
from .videopose3d import PoseDataset, load_file_pair, require_data_files

__all__ = [
    "HUMANEVA_ACTIONS", "HUMANEVA_EVAL_ACTIONS", "HUMANEVA_TRAIN_SUBJECTS", "HUMANEVA_TEST_SUBJECTS",
    "HUMANEVA_CAMERA_NAMES", "HUMANEVA_CAMERAS", "HUMANEVA_FRAME_OFFSETS", "HUMANEVA_TRIAL1_RANGES",
    "HUMANEVA_FPS", "HUMANEVA_ACTION_ALIASES", "humaneva_cameras_for", "humaneva_conventions", "load_humaneva",
]

HUMANEVA_ACTIONS = ("Walking", "Jog", "Gestures", "ThrowCatch", "Box")
#: Actions of the usual results table (the papers' "Walk", "Jog", "Box").
HUMANEVA_EVAL_ACTIONS = ("Walking", "Jog", "Box")
#: The protocol's short action names -> the files' names ("Jog" and "Box" are the same in both).
HUMANEVA_ACTION_ALIASES = {"Walk": "Walking", "Jog": "Jog", "Box": "Box"}
HUMANEVA_TRAIN_SUBJECTS = ("Train/S1", "Train/S2", "Train/S3")
HUMANEVA_TEST_SUBJECTS = ("Validate/S1", "Validate/S2", "Validate/S3")
HUMANEVA_CAMERA_NAMES = ("C1", "C2", "C3")
HUMANEVA_FPS = 60.0
HUMANEVA_RESOLUTION = (640, 480)
#: Approximate pinhole intrinsics (see the module docstring): focal and principal point, pixels.
HUMANEVA_APPROX_FOCAL = (710.0, 710.0)
HUMANEVA_APPROX_CENTER = (285.0, 218.0)

# subject -> 3 x (qw, qx, qy, qz, tx, ty, tz), centre in millimetres (the calibration VideoPose3D uses)
_HUMANEVA_EXTRINSICS_MM = {
    "S1": [(0.424207, -0.4983646, -0.5802981, 0.4847012, 4062.227, 663.2477, 1528.397),
           (0.6503354, -0.7481602, -0.0919284, 0.0941766, 844.8131, -3805.2092, 1504.9929),
           (0.0664734, -0.0690535, 0.7416416, -0.6639132, -797.67377, 3916.3174, 1433.6602)],
    "S2": [(0.4214752, -0.4961493, -0.5838273, 0.4851187, 4112.9121, 626.4929, 1545.2988),
           (0.6501393, -0.7476588, -0.0954617, 0.0959808, 923.574, -3877.9243, 1504.5518),
           (0.0699353, -0.0712403, 0.7421637, -0.662742, -781.4915, 3838.8853, 1444.9929)],
    "S3": [(0.424207, -0.4983646, -0.5802981, 0.4847012, 4062.2271, 663.2477, 1528.397),
           (0.6503354, -0.7481602, -0.0919284, 0.0941766, 844.8131, -3805.2092, 1504.9929),
           (0.0664734, -0.0690535, 0.7416416, -0.6639132, -797.6738, 3916.3174, 1433.6602)],
}

#: ``subject -> [Camera C1, C2, C3]`` (approximate intrinsics, see the module docstring).
HUMANEVA_CAMERAS: dict[str, list[Camera]] = {
    subject: [Camera(id=name, res_w=HUMANEVA_RESOLUTION[0], res_h=HUMANEVA_RESOLUTION[1],
                     focal=HUMANEVA_APPROX_FOCAL, center=HUMANEVA_APPROX_CENTER,
                     orientation=e[:4], translation=tuple(v / 1000.0 for v in e[4:]))  # mm -> m
              for name, e in zip(HUMANEVA_CAMERA_NAMES, table)]
    for subject, table in _HUMANEVA_EXTRINSICS_MM.items()
}

#: First video frames to skip per camera (C1, C2, C3) so video and mocap align, trial 1 (as in VideoPose3D).
HUMANEVA_FRAME_OFFSETS: dict[str, dict[str, tuple[int, int, int]]] = {
    "S1": {"Walking": (82, 81, 82), "Jog": (51, 51, 50), "ThrowCatch": (61, 61, 60),
           "Gestures": (45, 45, 44), "Box": (57, 57, 56)},
    "S2": {"Walking": (115, 115, 114), "Jog": (100, 100, 99), "ThrowCatch": (127, 127, 127),
           "Gestures": (122, 122, 121), "Box": (119, 119, 117)},
    "S3": {"Walking": (80, 80, 80), "Jog": (65, 65, 65), "ThrowCatch": (79, 79, 79),
           "Gestures": (83, 83, 82), "Box": (1, 1, 1)},
}

#: Mocap frame ranges ``[start, end)`` of trial 1's official Train and Validate parts (HumanEva-I).
HUMANEVA_TRIAL1_RANGES: dict[str, dict[str, dict[str, tuple[int, int]]]] = {
    "Train": {
        "S1": {"Walking": (590, 1203), "Jog": (367, 740), "ThrowCatch": (473, 945), "Gestures": (395, 801),
               "Box": (385, 789)},
        "S2": {"Walking": (438, 876), "Jog": (398, 795), "ThrowCatch": (550, 1128), "Gestures": (500, 901),
               "Box": (382, 734)},
        "S3": {"Walking": (448, 939), "Jog": (401, 842), "ThrowCatch": (493, 1027), "Gestures": (533, 1102),
               "Box": (512, 1021)},
    },
    "Validate": {
        "S1": {"Walking": (5, 590), "Jog": (5, 367), "ThrowCatch": (5, 473), "Gestures": (5, 395), "Box": (5, 385)},
        "S2": {"Walking": (5, 438), "Jog": (5, 398), "ThrowCatch": (5, 550), "Gestures": (5, 500), "Box": (5, 382)},
        "S3": {"Walking": (5, 448), "Jog": (5, 401), "ThrowCatch": (5, 493), "Gestures": (5, 533), "Box": (5, 512)},
    },
}


def humaneva_cameras_for(subjects) -> dict[str, list[Camera]]:
    """Cameras keyed by file subject names: ``"Train/S1"`` and ``"Validate/S1"`` both use S1's calibration."""
    out = {}
    for s in subjects:
        base = s.split("/")[-1]
        if base in HUMANEVA_CAMERAS:
            out[s] = HUMANEVA_CAMERAS[base]
    return out


def load_humaneva(data_dir: "str | Path", keypoints: str = "gt") -> PoseDataset:
    """HumanEva-I from ``data_dir/data_3d_humaneva15.npz`` and ``data_dir/data_2d_humaneva15_<keypoints>.npz``.

    Returns a :class:`PoseDataset` on the 15-joint skeleton at 60 fps with splits ``train`` = ``Train/S1..S3``
    and ``test`` = ``Validate/S1..S3``. Select the usual table with
    ``ds.tensors('test', actions=HUMANEVA_EVAL_ACTIONS)`` or ``actions=("Walk", "Jog", "Box")`` (canonical
    action = text before the first space, so ``"Walking 1 chunk0"`` counts as ``"Walking"``). COCO-17 2D
    (``keypoints="detectron_pt_coco"``) is mapped onto the 15 joints. ``Unlabeled/...`` 2D subjects are kept in
    ``ds.unlabeled_2d``.
    """
    p3, p2 = require_data_files(data_dir, "humaneva15", keypoints, "load_humaneva")
    return load_file_pair(p3, p2, **humaneva_conventions(), name=f"humaneva15-{keypoints}")


def humaneva_conventions() -> dict:
    """Keyword arguments of :func:`~poselift_core.data.videopose3d.load_file_pair` for VideoPose3D's HumanEva-I
    files (which store no cameras): skeleton, cameras, frame rate, splits and the action aliases."""
    return {"joints": HUMANEVA_15, "cameras": humaneva_cameras_for(HUMANEVA_TRAIN_SUBJECTS + HUMANEVA_TEST_SUBJECTS),
            "fps": HUMANEVA_FPS, "action_aliases": HUMANEVA_ACTION_ALIASES,
            "splits": {"train": list(HUMANEVA_TRAIN_SUBJECTS), "test": list(HUMANEVA_TEST_SUBJECTS)}}
