"""Human3.6M in the VideoPose3D file format: readers, a writer, and :class:`PoseDataset`.

File family of VideoPose3D (Pavllo et al., CVPR 2019, `facebookresearch/VideoPose3D`): ``np.savez_compressed``
archives whose entries are Python dicts pickled into 0-d object arrays.

* ``data_3d_<name>.npz``: ``positions_3d`` = ``subject -> action -> (N, 32 | 17, 3)`` world metres, and
  optionally ``cameras`` = ``subject -> [camera dict]`` (files converted from other mocap; see
  :func:`cameras_to_dict`). Without it, the built-in :data:`~poselift_core.camera.H36M_CAMERAS` apply.
* ``data_2d_<name>_<keypoints>.npz``: ``positions_2d`` = ``subject -> action -> [(N, J, 2) pixels per
  camera]`` and ``metadata`` = ``{'num_joints', 'keypoints_symmetry', ['layout_name', 'fps', 'splits']}``.

A :class:`PoseDataset` holds the world poses and the (cropped, checked) pixels; camera-space targets and
normalised inputs are computed on request, per sequence, with vectorised NumPy. Explained in the book,
chapter 2 ("The VideoPose3D file format").
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from .._bundled_path import bundled_path
from ..batching import PoseTensors
from ..camera import H36M_CAMERAS, Camera, normalize_screen_coordinates, world_to_camera
from ..skeleton import H36M_16, H36M_17, H36M_32_TO_17, Skeleton, get_skeleton

__all__ = [
    "H36M_ACTIONS", "H36M_SUBJECTS", "H36M_TRAIN_SUBJECTS", "H36M_TEST_SUBJECTS", "H36M_SKIPPED",
    "H36M_DRIFT_SEQUENCES", "SH_MPII_TO_H36M16", "DataError", "PoseSequence", "PoseDataset",
    "canonical_action", "read_positions_3d", "read_positions_2d", "save_videopose3d",
    "cameras_to_dict", "cameras_from_dict", "load_videopose3d", "load_h36m", "load_sample",
    "sample_paths", "sample_splits",
]

#: The 15 canonical actions in the column order of published result tables (e.g. Pavllo et al., CVPR 2019, Table 1).
H36M_ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
                "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether")
H36M_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS = ("S9", "S11")
#: (subject, action) pairs dropped everywhere: one S11 Directions video is corrupted (VideoPose3D's files omit it).
H36M_SKIPPED = (("S11", "Directions"),)
#: S9 sequences whose 3D drifts away from the video (`OSVAI/GridConv` drops them for detected 2D); all four cameras.
H36M_DRIFT_SEQUENCES = (("S9", "Greeting"), ("S9", "SittingDown 1"), ("S9", "Waiting 1"))
#: Stacked-Hourglass (MPII order) -> 16-joint H36M order: new joint i takes SH joint [i] (as in `garyzhao/SemGCN`).
SH_MPII_TO_H36M16 = (6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10)
_NOSE = 9  # 17-joint index of Neck/Nose, dropped by the 16-joint SemGCN variant

_REPO_ROOT = Path(__file__).resolve().parents[2]  # tests repoint it; bundled_path falls back to the installed copy
_SAMPLE_FILES = ("data_3d_sample.npz", "data_2d_sample_gt.npz")
_BUILD_SAMPLE = "python -m poselift_core.data build-sample"


class DataError(ValueError):
    """A data file is malformed or inconsistent; the message names the file, key and shape."""


def canonical_action(key: str) -> str:
    """Canonical action of a file key: the text before the first space.

    ``"Directions 1" -> "Directions"``, ``"SittingDown 2" -> "SittingDown"``, HumanEva
    ``"Walking 1 chunk0" -> "Walking"``. Compare canonical names for equality, never by prefix
    (``"Sitting"`` is a prefix of ``"SittingDown"``, which VideoPose3D's action filter matches).
    """
    return key.split(" ", 1)[0]


# --------------------------------------------------------------------------- reading and writing
def _open_npz(path: "str | Path"):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such data file: {path}")
    try:
        npz = np.load(path, allow_pickle=True)  # the format pickles dicts into 0-d object arrays
    except (zipfile.BadZipFile, pickle.UnpicklingError, ValueError, OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable .npz archive ({type(e).__name__})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DataError(f"{path} is not a .npz archive (it holds a single {type(npz).__name__})")
    return npz


def _read_dict(npz, key: str, path: "str | Path", required: bool = True) -> "dict | None":
    if key not in npz.files:
        if not required:
            return None
        raise DataError(f"{path} has no key {key!r}; keys present: {sorted(npz.files)}")
    value = npz[key]
    value = value.item() if value.dtype == object and value.ndim == 0 else value
    if not isinstance(value, dict):
        raise DataError(f"{path}: key {key!r} should hold a dict (0-d object array), got {type(value).__name__}")
    return value


def read_positions_3d(path: "str | Path") -> tuple[dict, "dict[str, list[Camera]] | None"]:
    """``(positions_3d, cameras or None)`` of a 3D file, arrays as stored (no joint reduction)."""
    with _open_npz(path) as npz:
        positions = _read_dict(npz, "positions_3d", path)
        cams = _read_dict(npz, "cameras", path, required=False)
    return positions, (None if cams is None else cameras_from_dict(cams))


def read_positions_2d(path: "str | Path") -> tuple[dict, dict]:
    """``(positions_2d, metadata)`` of a 2D file, pixels as stored (no cropping)."""
    with _open_npz(path) as npz:
        positions = _read_dict(npz, "positions_2d", path)
        metadata = _read_dict(npz, "metadata", path)
    return positions, metadata


def cameras_to_dict(cameras: Mapping[str, Sequence[Camera]]) -> dict[str, list[dict]]:
    """``subject -> [Camera]`` to the plain dicts stored under a 3D file's ``cameras`` key (metres)."""
    return {s: [c.to_dict() if isinstance(c, Camera) else Camera.from_dict(c).to_dict() for c in cams]
            for s, cams in cameras.items()}


def cameras_from_dict(d: Mapping[str, Sequence[dict]]) -> dict[str, list[Camera]]:
    """Inverse of :func:`cameras_to_dict`."""
    return {s: [c if isinstance(c, Camera) else Camera.from_dict(c) for c in cams] for s, cams in d.items()}


def _npz_path(path: "str | Path") -> Path:
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save_videopose3d(path_3d: "str | Path | None", path_2d: "str | Path | None", positions_3d: Mapping | None,
                     positions_2d: Mapping | None, metadata: Mapping | None = None,
                     cameras: "Mapping[str, Sequence[Camera]] | None" = None) -> tuple["Path | None", "Path | None"]:
    """Write a 3D and/or a 2D file in exactly the VideoPose3D layout (either path may be ``None``).

    Args:
        positions_3d: ``subject -> action -> (N, J, 3)`` world metres (stored float32).
        positions_2d: ``subject -> action -> [(N, J2, 2)]`` pixels, one array per camera.
        metadata: 2D metadata; ``num_joints`` is filled from the arrays and ``keypoints_symmetry`` from the
            built-in skeleton of that size when absent. Optional keys: ``layout_name``, ``fps``, ``splits``.
        cameras: stored under the 3D file's ``cameras`` key (``subject -> [Camera]``).
    Returns:
        the written paths (``.npz`` appended when missing).
    """
    out_3d = out_2d = None
    if path_3d is not None:
        p3 = {str(s): {str(a): _checked(np.asarray(x, np.float32), 3, f"positions_3d[{s!r}][{a!r}]")
                       for a, x in acts.items()} for s, acts in positions_3d.items()}
        payload = {"positions_3d": p3}
        if cameras is not None:
            payload["cameras"] = cameras_to_dict(cameras)
        out_3d = _npz_path(path_3d)
        out_3d.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out_3d, **payload)
    if path_2d is not None:
        p2 = {str(s): {str(a): [_checked(np.asarray(x, np.float32), 2, f"positions_2d[{s!r}][{a!r}][{c}]")
                                for c, x in enumerate(views)] for a, views in acts.items()}
              for s, acts in positions_2d.items()}
        meta = dict(metadata or {})
        shapes = {v.shape[1] for acts in p2.values() for views in acts.values() for v in views}
        if len(shapes) > 1:
            raise DataError(f"2D arrays have different joint counts {sorted(shapes)}")
        if "num_joints" not in meta and shapes:
            meta["num_joints"] = shapes.pop()
        if "keypoints_symmetry" not in meta:
            sk = get_skeleton(int(meta["num_joints"]))
            meta["keypoints_symmetry"] = [list(sk.left), list(sk.right)]
        meta["keypoints_symmetry"] = [[int(j) for j in side] for side in meta["keypoints_symmetry"]]
        out_2d = _npz_path(path_2d)
        out_2d.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out_2d, positions_2d=p2, metadata=meta)
    return out_3d, out_2d


def _checked(x: np.ndarray, last: int, what: str) -> np.ndarray:
    if x.ndim != 3 or x.shape[-1] != last:
        raise DataError(f"{what} has shape {x.shape}; expected (N, J, {last})")
    return x


def _first_bad_frame(x: np.ndarray) -> "int | None":
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


# --------------------------------------------------------------------------- the dataset
@dataclass
class PoseSequence:
    """One (subject, action, camera) sequence. Arrays are float32 NumPy, ``N`` frames.

    Attributes:
        pixels: ``(N, J2, 2)`` 2D keypoints in pixels (cropped to the mocap length).
        x2d: ``(N, J2, 2)`` normalised screen coordinates (chapter 2, "Normalising the 2D input").
        world: ``(N, J, 3)`` world coordinates, metres.
        camera_abs: ``(N, J, 3)`` camera-space joints, metres (absolute).
        y3d: ``(N, J, 3)`` camera-space, root-relative (root row 0).
        root: ``(N, 3)`` camera-space root position.
    """

    subject: str
    action: str
    camera_index: int
    camera: Camera
    pixels: np.ndarray
    x2d: np.ndarray
    world: np.ndarray
    camera_abs: np.ndarray
    y3d: np.ndarray
    root: np.ndarray
    fps: float

    @property
    def num_frames(self) -> int:
        return len(self.world)


class PoseDataset:
    """World poses, per-camera 2D keypoints and cameras of one dataset, checked for consistency.

    Args:
        positions_3d: ``subject -> action -> (N, J, 3)`` world metres, already on ``skeleton``'s joints.
        positions_2d: ``subject -> action -> [(N2 >= N, J2, 2)]`` pixels per camera; longer arrays are cropped
            to the mocap length (as VideoPose3D does). Subjects/actions without 3D are kept as unlabeled 2D.
        cameras: ``subject -> [Camera]``, one per 2D view.
        skeleton: 3D joint layout.
        keypoints_left, keypoints_right: symmetry of the 2D layout.
        fps, splits (``{'train': [...], 'test': [...]}``), drift_sequences ((subject, action) pairs removed by
            ``exclude_drift=True``), metadata (the 2D file's), sources (file names used in error messages).
    """

    def __init__(self, positions_3d: Mapping, positions_2d: Mapping, cameras: Mapping[str, Sequence[Camera]],
                 skeleton: Skeleton, keypoints_left: Sequence[int], keypoints_right: Sequence[int], *,
                 fps: float = 50.0, splits: "Mapping[str, Sequence[str]] | None" = None,
                 drift_sequences: Iterable[tuple[str, str]] = (), metadata: "Mapping | None" = None,
                 sources: tuple[str, str] = ("positions_3d", "positions_2d"), name: str = "") -> None:
        self.skeleton = skeleton
        self.keypoints_left, self.keypoints_right = tuple(keypoints_left), tuple(keypoints_right)
        self.fps = float(fps)
        self.splits = {k: list(v) for k, v in (splits or {}).items()}
        self.drift_sequences = frozenset(tuple(p) for p in drift_sequences)
        self.metadata = dict(metadata or {})
        self.name = name
        src3, src2 = sources
        self._world: dict[str, dict[str, np.ndarray]] = {}
        self._pixels: dict[str, dict[str, list[np.ndarray]]] = {}
        self._cameras: dict[str, list[Camera]] = {}
        self.unlabeled_2d: dict[str, dict[str, list[np.ndarray]]] = {}

        missing = [(s, a) for s, acts in positions_3d.items() for a in acts
                   if s not in positions_2d or a not in positions_2d[s]]
        if missing:
            raise DataError(f"{src2} lacks 2D for {len(missing)} (subject, action) pairs of {src3}, e.g. "
                            f"{missing[:5]}; 2D subjects: {sorted(positions_2d)}, 3D subjects: {sorted(positions_3d)}")
        for s, acts in positions_3d.items():
            if s not in cameras:
                raise DataError(f"no cameras for subject {s!r} of {src3}; cameras known for {sorted(cameras)}")
            cams = list(cameras[s])
            self._world[s], self._pixels[s], self._cameras[s] = {}, {}, cams
            for a, X in acts.items():
                X = np.asarray(X, dtype=np.float32)
                if X.ndim != 3 or X.shape[1:] != (skeleton.num_joints, 3):
                    raise DataError(f"{src3}: subject {s!r} action {a!r} has shape {X.shape}; expected "
                                    f"(N, {skeleton.num_joints}, 3) for skeleton {skeleton.name}")
                bad = _first_bad_frame(X)
                if bad is not None:
                    raise DataError(f"{src3}: subject {s!r} action {a!r} has NaN/inf 3D at frame {bad}")
                views = positions_2d[s][a]
                if len(views) != len(cams):
                    raise DataError(f"{src2}: subject {s!r} action {a!r} has {len(views)} camera views but "
                                    f"{len(cams)} cameras are known for {s!r}")
                self._world[s][a] = X
                self._pixels[s][a] = [self._check_2d(np.asarray(v, np.float32), len(X), s, a, c, src2)
                                      for c, v in enumerate(views)]
        for s, acts in positions_2d.items():
            extra = {a: list(v) for a, v in acts.items() if s not in positions_3d or a not in positions_3d[s]}
            if extra:
                self.unlabeled_2d[s] = extra

    @staticmethod
    def _check_2d(v: np.ndarray, n3d: int, s: str, a: str, c: int, src: str) -> np.ndarray:
        if v.ndim != 3 or v.shape[-1] != 2:
            raise DataError(f"{src}: subject {s!r} action {a!r} camera {c} has shape {v.shape}; expected (N, J, 2)")
        if len(v) < n3d:
            raise DataError(f"{src}: subject {s!r} action {a!r} camera {c} has {len(v)} 2D frames, fewer than "
                            f"the {n3d} 3D frames (2D may be longer and is cropped, never shorter)")
        v = v[:n3d]  # detections can run past the mocap: drop the trailing frames, as VideoPose3D does
        bad = _first_bad_frame(v)
        if bad is not None:
            raise DataError(f"{src}: subject {s!r} action {a!r} camera {c} has NaN/inf keypoints at frame {bad}")
        return v

    # ------------------------------------------------------------------ lookup
    def subjects(self) -> list[str]:
        return list(self._world)

    def actions(self, subject: "str | None" = None) -> list[str]:
        """Raw action keys of one subject (file order), or of all subjects (first-seen order)."""
        if subject is None:
            return list(dict.fromkeys(a for acts in self._world.values() for a in acts))
        return list(self._subject(subject))

    def canonical_actions(self, subjects: "Sequence[str] | None" = None) -> list[str]:
        keys = [a for s in (subjects or self.subjects()) for a in self._subject(s)]
        return list(dict.fromkeys(canonical_action(a) for a in keys))

    def cameras(self, subject: str) -> list[Camera]:
        self._subject(subject)
        return list(self._cameras[subject])

    def unlabeled_subjects(self) -> list[str]:
        """Subjects that have 2D sequences without 3D (e.g. S2, S3, S4 in the CPN file)."""
        return list(self.unlabeled_2d)

    def world(self, subject: str, action: str) -> np.ndarray:
        """``(N, J, 3)`` world-space joints, metres."""
        return self._action(subject, action)

    def _subject(self, subject: str) -> dict[str, np.ndarray]:
        try:
            return self._world[subject]
        except KeyError:
            raise DataError(f"unknown subject {subject!r}; available: {self.subjects()}") from None

    def _action(self, subject: str, action: str) -> np.ndarray:
        acts = self._subject(subject)
        if action not in acts:
            raise DataError(f"subject {subject!r} has no action {action!r}; available: {list(acts)}")
        return acts[action]

    def _camera_index(self, subject: str, camera: "int | str") -> int:
        cams = self.cameras(subject)
        ids = [c.id for c in cams]
        if isinstance(camera, str) and camera in ids:
            return ids.index(camera)
        if isinstance(camera, (int, np.integer)) and 0 <= camera < len(cams):
            return int(camera)
        raise DataError(f"subject {subject!r} has no camera {camera!r}; indices 0..{len(cams) - 1}, ids {ids}")

    def sequence(self, subject: str, action: str, camera: "int | str") -> PoseSequence:
        """Pixels, normalised 2D and camera-space 3D of one (subject, action, camera)."""
        world = self._action(subject, action)
        c = self._camera_index(subject, camera)
        cam = self._cameras[subject][c]
        pixels = self._pixels[subject][action][c]
        camera_abs = world_to_camera(world.astype(np.float64), cam).astype(np.float32)
        root = camera_abs[:, self.skeleton.root].copy()
        return PoseSequence(subject=subject, action=action, camera_index=c, camera=cam, pixels=pixels,
                            x2d=normalize_screen_coordinates(pixels, cam.res_w, cam.res_h), world=world,
                            camera_abs=camera_abs, y3d=camera_abs - root[:, None], root=root, fps=self.fps)

    # ------------------------------------------------------------------ selection and tensors
    def resolve_subjects(self, subjects: "str | Sequence[str] | None") -> list[str]:
        """``None`` = all; a split name (``'train'``/``'test'`` from :attr:`splits`); a subject; or a list."""
        if subjects is None:
            return self.subjects()
        if isinstance(subjects, str):
            subjects = self.splits[subjects] if subjects in self.splits else [subjects]
        unknown = [s for s in subjects if s not in self._world]
        if unknown:
            raise DataError(f"unknown subject(s) {unknown}; available: {self.subjects()}"
                            + (f"; splits: {self.splits}" if self.splits else ""))
        return list(subjects)

    def select(self, subjects: "str | Sequence[str] | None" = None, actions: "str | Sequence[str] | None" = None,
               exclude_drift: bool = False, cameras: "Sequence[int] | None" = None) -> list[tuple[str, str, int]]:
        """``(subject, action, camera)`` triples in subject, file-action, camera order.

        ``actions`` entries are canonical names (``"Sitting"`` selects ``Sitting``, ``Sitting 1``, ... but not
        ``SittingDown``) or exact keys (``"Sitting 1"``).
        """
        subjects = self.resolve_subjects(subjects)
        wanted = None
        if actions is not None:
            wanted = {actions} if isinstance(actions, str) else set(actions)
            keys = {a for s in subjects for a in self._world[s]}
            known = keys | {canonical_action(a) for a in keys}
            unknown = sorted(wanted - known)
            if unknown:
                raise DataError(f"unknown action(s) {unknown} for subjects {subjects}; "
                                f"available: {self.canonical_actions(subjects)}")
        out = []
        for s in subjects:
            n_cams = len(self._cameras[s])
            cams = range(n_cams) if cameras is None else [self._camera_index(s, c) for c in cameras]
            for a in self._world[s]:
                if wanted is not None and a not in wanted and canonical_action(a) not in wanted:
                    continue
                if exclude_drift and (s, a) in self.drift_sequences:
                    continue
                out.extend((s, a, c) for c in cams)
        return out

    def tensors(self, subjects: "str | Sequence[str] | None", actions: "str | Sequence[str] | None" = None,
                device: "torch.device | str" = "cpu", exclude_drift: bool = False,
                cameras: "Sequence[int] | None" = None, dtype: torch.dtype = torch.float32) -> PoseTensors:
        """Concatenate the selected sequences into a :class:`~poselift_core.batching.PoseTensors`.

        One sequence per (subject, action, camera), see :meth:`select`; ``y3d`` root-relative metres with the
        root row 0, ``root`` the absolute camera-space root, ``x2d`` normalised with each camera's own size.
        """
        triples = self.select(subjects, actions, exclude_drift, cameras)
        if not triples:
            raise DataError(f"no sequences selected (subjects={subjects!r}, actions={actions!r}, "
                            f"exclude_drift={exclude_drift})")
        x2d, y3d, root, intr = [], [], [], []
        for s, a, c in triples:  # one vectorised transform per sequence; no per-frame Python
            seq = self.sequence(s, a, c)
            x2d.append(seq.x2d)
            y3d.append(seq.y3d)
            root.append(seq.root)
            intr.append(seq.camera.intrinsics_normalized(torch.float64).numpy())
        lengths = np.array([len(v) for v in y3d], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])

        def t(x: np.ndarray, dt: torch.dtype = dtype) -> torch.Tensor:
            return torch.from_numpy(x).to(device=device, dtype=dt)

        return PoseTensors(
            x2d=t(np.concatenate(x2d)), y3d=t(np.concatenate(y3d)), root=t(np.concatenate(root)),
            frame_seq=t(np.repeat(np.arange(len(triples)), lengths), torch.long),
            seq_start=t(starts, torch.long), seq_length=t(lengths, torch.long), intrinsics=t(np.stack(intr)),
            subjects=[s for s, _, _ in triples], actions=[a for _, a, _ in triples],
            cameras=[c for _, _, c in triples], skeleton=self.skeleton,
            keypoints_left=self.keypoints_left, keypoints_right=self.keypoints_right, fps=self.fps)

    def __repr__(self) -> str:
        n_seq = sum(len(a) for a in self._world.values())
        n2 = next((v[0].shape[1] for acts in self._pixels.values() for v in acts.values()), 0)
        return (f"PoseDataset({self.name!r}: {len(self._world)} subjects, {n_seq} actions, skeleton "
                f"{self.skeleton.name}, 2D {n2} joints, {self.fps:g} fps)")


# --------------------------------------------------------------------------- joint layouts
def _reduce_3d(X: np.ndarray, skeleton: Skeleton, s: str, a: str, src: str) -> np.ndarray:
    """Bring a stored 3D array onto ``skeleton``: 32 -> 17 (-> 16) for Human3.6M, else as stored."""
    J = X.shape[1] if X.ndim == 3 else None
    if skeleton in (H36M_17, H36M_16):
        if J == 32:
            X = X[:, list(H36M_32_TO_17)]
            J = 17
        if J == 17 and skeleton is H36M_16:
            X, J = np.delete(X, _NOSE, axis=1), 16
    if X.ndim != 3 or X.shape[1:] != (skeleton.num_joints, 3):
        allowed = {17: "32 or 17", 16: "32, 17 or 16"}.get(skeleton.num_joints, str(skeleton.num_joints)) \
            if skeleton in (H36M_17, H36M_16) else str(skeleton.num_joints)
        raise DataError(f"{src}: subject {s!r} action {a!r} has shape {X.shape}; expected (N, {allowed}, 3) "
                        f"for skeleton {skeleton.name}")
    return X


def _adapt_2d(positions_2d: dict, metadata: dict, skeleton: Skeleton, src: str) -> tuple[dict, tuple, tuple]:
    """Check the 2D joint count against the metadata and map it onto the requested H36M joint set.

    Returns ``(positions_2d, keypoints_left, keypoints_right)``.
    """
    shapes = {}
    for s, acts in positions_2d.items():
        for a, views in acts.items():
            for c, v in enumerate(views):
                shape = np.shape(v)
                if len(shape) != 3 or shape[-1] != 2:
                    raise DataError(f"{src}: subject {s!r} action {a!r} camera {c} has shape {shape}; "
                                    f"expected (N, J, 2)")
                shapes.setdefault(shape[1], (s, a, c, shape))
    declared = metadata.get("num_joints")
    if len(shapes) > 1 or (declared is not None and shapes and set(shapes) != {int(declared)}):
        examples = "; ".join(f"subject {s!r} action {a!r} camera {c}: {sh}" for s, a, c, sh in shapes.values())
        raise DataError(f"{src}: 2D joint counts disagree (metadata num_joints={declared}; {examples})")
    J2 = next(iter(shapes)) if shapes else int(declared or skeleton.num_joints)
    layout = metadata.get("layout_name")
    symmetry = metadata.get("keypoints_symmetry")
    index = None  # joint selection applied to every 2D array
    if skeleton is H36M_17 and J2 != 17:
        hint = "; load it with joints=16" if J2 == 16 else ""
        raise DataError(f"{src} has {J2}-joint 2D keypoints (layout {layout!r}) but the 17-joint skeleton was "
                        f"requested{hint}")
    if skeleton is H36M_16:
        if J2 == 16 and layout == "mpii":
            index = list(SH_MPII_TO_H36M16)
        elif J2 == 17 and layout in (None, "h36m"):
            index = [j for j in range(17) if j != _NOSE]
        elif J2 != 16 or layout not in (None, "h36m", "h36m16"):
            raise DataError(f"{src} has {J2}-joint 2D keypoints in layout {layout!r}, which cannot be mapped to "
                            f"the 16-joint H36M skeleton; use joints=17")
        symmetry = [H36M_16.left, H36M_16.right]
    if index is not None:
        positions_2d = {s: {a: [np.asarray(v)[:, index] for v in views] for a, views in acts.items()}
                        for s, acts in positions_2d.items()}
    if symmetry is None:
        if J2 != skeleton.num_joints:
            raise DataError(f"{src}: metadata has no keypoints_symmetry for its {J2}-joint layout")
        symmetry = [skeleton.left, skeleton.right]
    left, right = (tuple(int(j) for j in side) for side in symmetry)
    return positions_2d, left, right


# --------------------------------------------------------------------------- loaders
def load_videopose3d(path_3d: "str | Path", path_2d: "str | Path", *, joints: "int | str | Skeleton | None" = None,
                     cameras: "Mapping[str, Sequence[Camera]] | None" = None, fps: "float | None" = None,
                     splits: "Mapping[str, Sequence[str]] | None" = None,
                     skip: Iterable[tuple[str, str]] = H36M_SKIPPED,
                     drift_sequences: Iterable[tuple[str, str]] = H36M_DRIFT_SEQUENCES,
                     name: "str | None" = None) -> PoseDataset:
    """Load a 3D file and a 2D file of the VideoPose3D family into a :class:`PoseDataset`.

    Args:
        joints: 3D skeleton (17 / 16 / ``"humaneva15"`` / a :class:`Skeleton`); default from the 3D file
            (32 or 17 joints -> H36M-17, 16 -> H36M-16, 15 -> HumanEva-15).
        cameras: ``subject -> [Camera]``; default the 3D file's ``cameras`` key, else the Human3.6M table.
        fps, splits: default the 2D metadata's ``fps`` (else 50) and ``splits`` (else none).
        skip: (subject, action) pairs ignored in both files (default: S11 Directions).
        drift_sequences: pairs removed by ``tensors(..., exclude_drift=True)`` (default: the S9 drift list).
    """
    src3, src2 = str(path_3d), str(path_2d)
    pos3, file_cams = read_positions_3d(path_3d)
    pos2, metadata = read_positions_2d(path_2d)
    skip = {tuple(p) for p in skip}
    pos3 = {s: {a: x for a, x in acts.items() if (s, a) not in skip} for s, acts in pos3.items()}
    pos2 = {s: {a: x for a, x in acts.items() if (s, a) not in skip} for s, acts in pos2.items()}
    if joints is None:
        first = next((np.shape(x) for acts in pos3.values() for x in acts.values()), (0, 17, 3))
        joints = {32: 17}.get(first[1], first[1]) if len(first) == 3 else 17
    try:
        skeleton = get_skeleton(joints)
    except ValueError as e:
        raise DataError(f"{src3}: {e}") from None
    pos3 = {s: {a: _reduce_3d(np.asarray(x, np.float32), skeleton, s, a, src3) for a, x in acts.items()}
            for s, acts in pos3.items()}
    pos2, left, right = _adapt_2d(pos2, metadata, skeleton, src2)
    cams = cameras if cameras is not None else (file_cams if file_cams is not None else H36M_CAMERAS)
    return PoseDataset(pos3, pos2, cams, skeleton, left, right,
                       fps=fps if fps is not None else float(metadata.get("fps", 50.0)),
                       splits=splits if splits is not None else metadata.get("splits"),
                       drift_sequences=drift_sequences, metadata=metadata, sources=(src3, src2),
                       name=name if name is not None else Path(path_2d).stem)


def require_data_files(data_dir: "str | Path", dataset: str, keypoints: str, caller: str) -> tuple[Path, Path]:
    """The pair ``data_3d_<dataset>.npz``, ``data_2d_<dataset>_<keypoints>.npz`` in ``data_dir``; a missing file
    raises ``FileNotFoundError`` naming it and the layout ``caller`` expects."""
    data_dir = Path(data_dir)
    p3, p2 = data_dir / f"data_3d_{dataset}.npz", data_dir / f"data_2d_{dataset}_{keypoints}.npz"
    for p in (p3, p2):
        if not p.is_file():
            raise FileNotFoundError(f"no such data file: {p} ({caller} expects data_3d_{dataset}.npz and "
                                    f"data_2d_{dataset}_<keypoints>.npz in {data_dir})")
    return p3, p2


def load_h36m(data_dir: "str | Path", keypoints: str = "gt", joints: int = 17) -> PoseDataset:
    """Human3.6M from ``data_dir/data_3d_h36m.npz`` and ``data_dir/data_2d_h36m_<keypoints>.npz``.

    ``keypoints``: ``'gt'``, ``'cpn_ft_h36m_dbb'``, ``'detectron_ft_h36m'``, ``'sh_ft_h36m'``, ... ;
    ``joints``: 17 (VideoPose3D / GLA-GCN / GridConv) or 16 (SemGCN family, Nose dropped).
    Splits: train S1 S5 S6 S7 S8, test S9 S11.
    """
    p3, p2 = require_data_files(data_dir, "h36m", keypoints, "load_h36m")
    if joints not in (16, 17):
        raise ValueError(f"joints must be 17 or 16 for Human3.6M, got {joints!r}")
    return load_videopose3d(p3, p2, joints=joints, cameras=None,
                            splits={"train": list(H36M_TRAIN_SUBJECTS), "test": list(H36M_TEST_SUBJECTS)},
                            name=f"h36m-{keypoints}-{joints}")


def sample_paths(root: "str | Path | None" = None) -> tuple[Path, Path]:
    """``(3D, 2D)`` paths of the bundled sample (``data/sample/`` of the repository, or the installed copy)."""
    root = Path(root) if root is not None else bundled_path("sample", repo_root=_REPO_ROOT)
    return root / _SAMPLE_FILES[0], root / _SAMPLE_FILES[1]


def _require_sample(root: "str | Path | None") -> tuple[Path, Path]:
    paths = sample_paths(root)
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"bundled sample not found: {p}; rebuild it with `{_BUILD_SAMPLE}`")
    return paths


def load_sample(root: "str | Path | None" = None) -> PoseDataset:
    """The bundled sample (real mocap converted to the VideoPose3D format), splits from its metadata."""
    p3, p2 = _require_sample(root)
    return load_videopose3d(p3, p2, name="sample")


def sample_splits(root: "str | Path | None" = None) -> dict[str, list[str]]:
    """``{'train': [...], 'test': [...]}`` from the sample's 2D metadata key ``splits``."""
    _, p2 = _require_sample(root)
    with _open_npz(p2) as npz:
        meta = _read_dict(npz, "metadata", p2)
    splits = meta.get("splits")
    if not isinstance(splits, dict) or not {"train", "test"} <= set(splits):
        raise DataError(f"{p2}: metadata needs 'splits' = {{'train': [...], 'test': [...]}}, got {splits!r}")
    return {k: list(v) for k, v in splits.items()}


def __getattr__(name: str) -> Any:
    # SAMPLE_TRAIN_SUBJECTS / SAMPLE_TEST_SUBJECTS are read from the sample file on first access (PEP 562),
    # so importing this module never needs the sample to exist.
    if name in ("SAMPLE_TRAIN_SUBJECTS", "SAMPLE_TEST_SUBJECTS"):
        return tuple(sample_splits()["train" if name == "SAMPLE_TRAIN_SUBJECTS" else "test"])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
