"""Motion capture to the VideoPose3D format: ASF/AMC and BVH readers, forward kinematics, H36M-17 mapping.

Pipeline (explained in the book, chapter 2 ("The open benchmark, and converting CMU motion capture")):

1. read a clip into a :class:`KinematicClip`: joint tree, rest offsets in metres, one local rotation per
   joint and frame, root trajectory (:mod:`~poselift_core.conversion.mocap_files`: ``read_asf`` + ``read_amc``,
   ``read_bvh``);
2. forward kinematics, vectorised over frames: ``G_k = G_parent(k) R_k`` and
   ``p_k = p_parent(k) + G_parent(k) o_k`` (:func:`~poselift_core.conversion.kinematics.forward_kinematics`);
3. pick / interpolate the 17 H36M joints (:func:`to_h36m17`, table below);
4. Y-up to Z-up (H36M world), recentre the clip's mean root on the floor origin, resample to 50 Hz
   (:func:`to_h36m_world`, :func:`resample`);
5. project through the four Human3.6M cameras of one subject and write ``data_3d_<name>.npz`` /
   ``data_2d_<name>_gt.npz`` (:func:`convert_mocap`).

Joint mapping (names compared case-insensitively, first candidate present wins; ASF joints are bone *starts*,
``<name>_end`` is the end point of a leaf bone / a BVH ``End Site``):

===========  =================  ==============================================  ======================
H36M-17      CMU ASF/AMC        BVH (CMU 131 names, then common alternatives)   DeepMimic humanoid
===========  =================  ==============================================  ======================
0 Hip        root               root joint (Hips)                               root
1 RHip       rfemur             RightHip, RightUpLeg, RightThigh                right_hip
2 RKnee      rtibia             RightKnee, RightLeg, RightShin                  right_knee
3 RFoot      rfoot (ankle)      RightAnkle, RightFoot                           right_ankle
4-6          lfemur ltibia      LeftHip/LeftUpLeg, LeftKnee/LeftLeg,            left_hip left_knee
             lfoot              LeftAnkle/LeftFoot                              left_ankle
7 Spine      halfway along the chain Hip -> Thorax, measured by bone length (CMU ASF: middle of the
             upperback bone; CMU BVH: Chest; DeepMimic: 6 mm below the chest joint)
8 Thorax     lowerneck          lowerneck, Neck (neck base)                     neck
9 Neck/Nose  halfway along the chain Thorax -> Head (CMU ASF: middle of the upperneck bone)
10 Head      head_end           Head's End Site, HeadTop_End                    head_end (top of the
                                                                                head sphere)
11 LShoulder lhumerus           LeftArm, LeftUpArm, LeftShoulder                left_shoulder
12 LElbow    lradius            LeftElbow, LeftForeArm                          left_elbow
13 LWrist    lwrist             LeftWrist, LeftHand                             left_wrist
14-16        rhumerus rradius   right counterparts                              right_shoulder ...
             rwrist
===========  =================  ==============================================  ======================

Shoulders are the upper-arm joints, not the clavicles, as in H36M (chapter 2, "Skeletons": the clavicle joints are
removed). Each "halfway" point is a fixed point of one bone, but its distances to the pelvis or thorax span
spine joints, so those four H36M bones vary by a few millimetres over a clip (std under 3 mm on CMU).

The readers live in :mod:`~poselift_core.conversion.mocap_files` and the kinematics in
:mod:`~poselift_core.conversion.kinematics`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..camera import Camera
from ..data.h36m import H36M_CAMERAS
from ..data.open_benchmark import project_open
from ..data.videopose3d import save_videopose3d
from ..skeleton import H36M_17
from .kinematics import KinematicClip, MocapError
from .mocap_files import AsfSkeleton, find_asf, load_clip, read_asf

__all__ = [
    "H36M17_CANDIDATES", "h36m17_mapping", "to_h36m17", "yup_to_zup", "resample", "resample_times",
    "to_h36m_world", "project_views", "h36m_metadata", "convert_mocap", "convert_mocap_cli",
]


# --------------------------------------------------------------------------- H36M-17 mapping
#: Candidate source names per H36M-17 joint (see the module docstring). ``None`` entries are derived.
H36M17_CANDIDATES: dict[str, "tuple[str, ...] | None"] = {
    "Hip": None,  # the root joint
    "RHip": ("rfemur", "RightHip", "RightUpLeg", "RightThigh", "right_hip", "RThigh"),
    "RKnee": ("rtibia", "RightKnee", "RightLeg", "RightShin", "right_knee", "RShin"),
    "RFoot": ("rfoot", "RightAnkle", "RightFoot", "right_ankle"),
    "LHip": ("lfemur", "LeftHip", "LeftUpLeg", "LeftThigh", "left_hip", "LThigh"),
    "LKnee": ("ltibia", "LeftKnee", "LeftLeg", "LeftShin", "left_knee", "LShin"),
    "LFoot": ("lfoot", "LeftAnkle", "LeftFoot", "left_ankle"),
    "Spine": None,  # halfway along Hip -> Thorax
    "Thorax": ("lowerneck", "Neck", "neck"),
    "Neck/Nose": None,  # halfway along Thorax -> Head
    "Head": ("head_end", "HeadTop_End", "HeadEnd", "head_top", "headtop"),
    "LShoulder": ("lhumerus", "LeftArm", "LeftUpArm", "LeftShoulder", "left_shoulder"),
    "LElbow": ("lradius", "LeftElbow", "LeftForeArm", "LeftLowArm", "left_elbow"),
    "LWrist": ("lwrist", "LeftWrist", "LeftHand", "left_wrist"),
    "RShoulder": ("rhumerus", "RightArm", "RightUpArm", "RightShoulder", "right_shoulder"),
    "RElbow": ("rradius", "RightElbow", "RightForeArm", "RightLowArm", "right_elbow"),
    "RWrist": ("rwrist", "RightWrist", "RightHand", "right_wrist"),
}


def _key(name: str) -> str:
    return name.rsplit(":", 1)[-1].lower()  # drop namespaces such as "mixamorig:"


def h36m17_mapping(names: Sequence[str], source: str = "") -> dict[str, int]:
    """Source joint index of each directly mapped H36M-17 joint (``Hip`` = joint 0)."""
    index = {}
    for i, n in enumerate(names):
        index.setdefault(_key(n), i)
    out = {"Hip": 0}
    for j, cands in H36M17_CANDIDATES.items():
        if cands is None:
            continue
        hit = next((index[_key(c)] for c in cands if _key(c) in index), None)
        if hit is None:
            raise MocapError(f"{source}: no joint for H36M {j!r}; looked for {list(cands)} among {list(names)}")
        out[j] = hit
    return out


def _chain_point(P: np.ndarray, parents: Sequence[int], start: int, end: int, fraction: float,
                 source: str) -> np.ndarray:
    """The point ``fraction`` of the way from ``start`` to its descendant ``end`` along the bones, ``(N, 3)``."""
    chain = [end]
    while chain[-1] != start:
        if chain[-1] <= 0 and start != 0:
            raise MocapError(f"{source}: joint {start} is not an ancestor of joint {end}")
        chain.append(int(parents[chain[-1]]))
    chain = chain[::-1]
    seg = np.linalg.norm(P[:, chain[1:]] - P[:, chain[:-1]], axis=-1).mean(0)  # constant under FK
    target = fraction * seg.sum()
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    s = int(np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(seg) - 1))
    t = 0.0 if seg[s] == 0 else (target - cum[s]) / seg[s]
    return (1 - t) * P[:, chain[s]] + t * P[:, chain[s + 1]]


def to_h36m17(positions: np.ndarray, names: Sequence[str], parents: Sequence[int], source: str = "") -> np.ndarray:
    """Select / derive the 17 H36M joints, ``(N, K, 3) -> (N, 17, 3)`` (mapping table in the module docstring)."""
    P = np.asarray(positions, dtype=np.float64)
    m = h36m17_mapping(names, source)
    out = np.empty((P.shape[0], 17, 3))
    for j, name in enumerate(H36M_17.names):
        if name in m:
            out[:, j] = P[:, m[name]]
    out[:, H36M_17.index("Spine")] = _chain_point(P, parents, m["Hip"], m["Thorax"], 0.5, source)
    out[:, H36M_17.index("Neck/Nose")] = _chain_point(P, parents, m["Thorax"], m["Head"], 0.5, source)
    return out


# --------------------------------------------------------------------------- world frame and time
def yup_to_zup(X: np.ndarray) -> np.ndarray:
    """``(x, y, z)`` Y-up to H36M's Z-up world ``(x, -z, y)``.

    A proper rotation (+90 deg about x), so the subject's left stays left.
    """
    X = np.asarray(X)
    return np.stack([X[..., 0], -X[..., 2], X[..., 1]], axis=-1)


def resample_times(positions: np.ndarray, times: np.ndarray, dst_fps: float) -> np.ndarray:
    """Linear interpolation of ``(N, ...)`` samples taken at increasing ``times`` onto ``t = k / dst_fps``.

    Output frames cover ``[times[0], times[-1]]``: ``floor((times[-1] - times[0]) dst_fps) + 1`` of them.
    """
    X = np.asarray(positions, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64) - times[0]
    if len(t) != len(X) or np.any(np.diff(t) <= 0):
        raise ValueError(f"times must be strictly increasing, one per frame ({len(t)} times, {len(X)} frames)")
    n_out = int(np.floor(t[-1] * dst_fps + 1e-9)) + 1
    t_out = np.arange(n_out) / dst_fps
    i = np.clip(np.searchsorted(t, t_out, side="right") - 1, 0, max(len(t) - 2, 0))
    if len(t) == 1:
        return X[:1].copy()
    w = ((t_out - t[i]) / (t[i + 1] - t[i])).reshape(-1, *([1] * (X.ndim - 1)))
    return (1 - w) * X[i] + w * X[i + 1]


def resample(positions: np.ndarray, src_fps: float, dst_fps: float) -> np.ndarray:
    """Resample evenly spaced frames ``(N, ...)`` from ``src_fps`` to ``dst_fps`` by linear interpolation."""
    X = np.asarray(positions, dtype=np.float64)
    return resample_times(X, np.arange(len(X)) / float(src_fps), dst_fps)


def to_h36m_world(clip: KinematicClip, fps: float = 50.0) -> np.ndarray:
    """FK, H36M-17 mapping, Y-up -> Z-up, horizontal recentring, resampling: ``(M, 17, 3)`` float64 metres.

    Recentring subtracts the clip's mean root ``x, y`` so the subject stays inside the H36M camera ring; the
    height is kept (the CMU and DeepMimic floors are at 0, as H36M's).
    """
    X = resample_times(yup_to_zup(to_h36m17(clip.positions(), clip.names, clip.parents, clip.source)),
                       clip.frame_times(), fps)
    X[..., :2] -= X[:, 0, :2].mean(0)
    return X


def project_views(world: np.ndarray, cameras: Sequence[Camera]) -> list[np.ndarray]:
    """Pixels ``[(N, J, 2) float32]`` of world points ``(N, J, 3)`` in each camera (H36M distortion model); the
    same projection the open benchmark applies when it loads."""
    return project_open(world, cameras)


def h36m_metadata(splits: dict, fps: float, source: str) -> dict:
    """2D-file metadata of an H36M-17 layout file (as VideoPose3D's 2D files) plus ``fps``, ``splits``, ``source``."""
    return {"num_joints": 17, "keypoints_symmetry": [list(H36M_17.left), list(H36M_17.right)],
            "layout_name": "h36m", "fps": fps, "splits": {k: list(v) for k, v in splits.items()}, "source": source}


# --------------------------------------------------------------------------- conversion
def _expand_inputs(inputs: Iterable["str | Path"]) -> tuple[list[Path], "Path | None"]:
    files, asf = [], None
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.suffix.lower() in (".amc", ".bvh")))
        elif p.suffix.lower() == ".asf":
            asf = p
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no such motion file or folder: {p}")
    if not files:
        raise MocapError(f"no .amc or .bvh files among {list(map(str, inputs))}")
    return files, asf


def convert_mocap(inputs: Sequence["str | Path"], out_dir: "str | Path", subject: "str | None" = None,
                  camera_subject: str = "S1", fps: float = 50.0, name: str = "mocap",
                  test_subjects: Sequence[str] = (), length_scale: "float | None" = None,
                  max_frames: "int | None" = None) -> tuple[Path, Path]:
    """Convert ASF/AMC and BVH files to ``out_dir/data_3d_<name>.npz`` and ``data_2d_<name>_gt.npz``.

    Args:
        inputs: ``.amc``/``.bvh`` files or folders (searched recursively); an ``.asf`` in the list is the
            skeleton of every AMC, otherwise each AMC uses the single ``.asf`` next to it.
        subject: subject key for every clip; default the file-name prefix before ``_`` (CMU ``02_01`` -> ``02``).
        camera_subject: whose four H36M cameras film every clip (stored in the 3D file's ``cameras`` key).
        fps: output frame rate. Action keys are the file stems.
        test_subjects: subjects listed under ``splits['test']`` in the metadata (the rest are ``train``).
    Returns:
        the two written paths.
    """
    files, asf = _expand_inputs(inputs)
    cams = H36M_CAMERAS[camera_subject]
    skeletons: dict[Path, AsfSkeleton] = {}
    pos3: dict[str, dict[str, np.ndarray]] = {}
    pos2: dict[str, dict[str, list[np.ndarray]]] = {}
    for f in files:
        skel = None
        if f.suffix.lower() == ".amc":
            key = asf or find_asf(f)
            if key not in skeletons:
                skeletons[key] = read_asf(key, length_scale=length_scale)
            skel = skeletons[key]
        clip = load_clip(f, skeleton=skel, length_scale=length_scale, max_frames=max_frames)
        world = to_h36m_world(clip, fps).astype(np.float32)
        s = subject if subject is not None else f.stem.split("_", 1)[0]
        if f.stem in pos3.get(s, {}):
            raise MocapError(f"{f}: action {f.stem!r} of subject {s!r} appears twice in the inputs")
        pos3.setdefault(s, {})[f.stem] = world
        pos2.setdefault(s, {})[f.stem] = project_views(world, cams)
    subjects = list(pos3)
    splits = {"train": [s for s in subjects if s not in test_subjects],
              "test": [s for s in subjects if s in test_subjects]}
    out = Path(out_dir)
    meta = h36m_metadata(splits, fps, f"converted from {len(files)} mocap files with poselift_core.conversion.mocap; "
                                      f"cameras of H36M {camera_subject}")
    p3, p2 = save_videopose3d(out / f"data_3d_{name}.npz", out / f"data_2d_{name}_gt.npz", pos3, pos2, meta,
                              cameras={s: cams for s in subjects})
    return p3, p2


def convert_mocap_cli(args: Any) -> tuple[Path, Path]:
    """Entry point of ``python -m poselift_core.data convert-mocap`` (``args`` from argparse).

    Reads ``args.inputs``, ``args.out`` and optionally ``subject``, ``camera_subject``, ``fps``, ``name``,
    ``test_subjects``, ``scale`` (metres per file unit), ``max_frames``.
    """
    get = lambda k, d=None: getattr(args, k, d) if getattr(args, k, None) is not None else d  # noqa: E731
    p3, p2 = convert_mocap(args.inputs, get("out", get("out_dir", ".")), subject=get("subject"),
                           camera_subject=get("camera_subject", "S1"), fps=float(get("fps", 50.0)),
                           name=get("name", "mocap"), test_subjects=tuple(get("test_subjects", ()) or ()),
                           length_scale=get("scale"), max_frames=get("max_frames"))
    print(f"wrote {p3} and {p2}")
    return p3, p2
