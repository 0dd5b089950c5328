"""The VideoPose3D file format and :class:`PoseDataset`, the dataset every loader returns.

File family of VideoPose3D (Pavllo et al., CVPR 2019, `facebookresearch/VideoPose3D`): ``np.savez_compressed``
archives whose entries are Python dicts pickled into 0-d object arrays.

* ``data_3d_<name>.npz``: ``positions_3d`` = ``subject -> action -> (N, J, 3)`` world metres, and
  optionally ``cameras`` = ``subject -> [camera dict]`` (see :func:`cameras_to_dict`). VideoPose3D's own
  Human3.6M files store no cameras; :func:`poselift_core.data.h36m.load_videopose3d` supplies them.
* ``data_2d_<name>_<keypoints>.npz``: ``positions_2d`` = ``subject -> action -> [(N, J2, 2) pixels per
  camera]`` and ``metadata`` = ``{'num_joints', 'keypoints_symmetry', ['layout_name', 'fps', 'splits']}``.

Action keys are ``"<action>[ <take>...]"`` (``"Directions 1"``, HumanEva's ``"Walking 1 chunk0"``); the text
before the first space is the canonical action (:func:`canonical_action`).

A :class:`PoseDataset` holds the world poses and the (cropped, checked) pixels; camera-space targets and
normalised inputs are computed on request, per sequence, with vectorised NumPy. :func:`load_file_pair` loads any
pair whose cameras are stored or given; its 2D keypoints are brought onto the 3D joints when their layout
differs and a documented mapping exists (COCO-17 detections via :func:`poselift_core.keypoints.to_skeleton`),
and a pair whose joint sets cannot be matched is refused when it loads, naming both layouts. Explained in the
book, chapter 2 ("The VideoPose3D file format").
"""
from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import torch

from ..batching import PoseTensors
from ..camera import Camera, normalize_screen_coordinates, world_to_camera
from ..keypoints import ADAPTED_SKELETONS, LAYOUTS, to_skeleton
from ..skeleton import Skeleton, get_skeleton

__all__ = [
    "DataError", "PoseSequence", "PoseDataset", "canonical_action", "open_npz", "read_dict", "file_kind",
    "read_positions_3d", "read_positions_2d", "save_videopose3d", "cameras_to_dict", "cameras_from_dict",
    "corrupt_member", "find_corrupt_npz", "require_files", "require_data_files", "read_file_pair",
    "stored_joint_count", "resolve_skeleton", "dataset_from_arrays", "load_file_pair",
]


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
def open_npz(path: "str | Path"):
    """The ``.npz`` at ``path``, opened with pickles allowed (the format pickles dicts); one-line errors."""
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


def read_dict(npz, key: str, path: "str | Path", required: bool = True) -> "dict | None":
    """The dict stored under ``key`` of an open ``.npz`` (``None`` when absent and not ``required``)."""
    if key not in npz.files:
        if not required:
            return None
        raise DataError(f"{path} has no key {key!r}; keys present: {sorted(npz.files)}")
    value = npz[key]
    value = value.item() if value.dtype == object and value.ndim == 0 else value
    if not isinstance(value, dict):
        raise DataError(f"{path}: key {key!r} should hold a dict (0-d object array), got {type(value).__name__}")
    return value


def file_kind(npz) -> "str | None":
    """``"3D"`` (``positions_3d``), ``"2D"`` (``positions_2d``) or ``None`` for another archive."""
    return "3D" if "positions_3d" in npz.files else "2D" if "positions_2d" in npz.files else None


def read_positions_3d(path: "str | Path") -> tuple[dict, "dict[str, list[Camera]] | None"]:
    """``(positions_3d, cameras or None)`` of a 3D file, arrays as stored (no joint reduction)."""
    with open_npz(path) as npz:
        positions = read_dict(npz, "positions_3d", path)
        cams = read_dict(npz, "cameras", path, required=False)
    return positions, (None if cams is None else cameras_from_dict(cams))


def read_positions_2d(path: "str | Path") -> tuple[dict, dict]:
    """``(positions_2d, metadata)`` of a 2D file, pixels as stored (no cropping)."""
    with open_npz(path) as npz:
        positions = read_dict(npz, "positions_2d", path)
        metadata = read_dict(npz, "metadata", path)
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


def corrupt_member(path: "str | Path") -> str | None:
    """``None`` when every member of the ``.npz`` at ``path`` decompresses, passes its CRC and parses as an
    array; else one line naming the file and the first bad member. Reads the whole file (for diagnosis)."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        return f"{path} is not a readable .npz archive ({type(e).__name__})"
    with zf:
        for info in zf.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            try:
                raw = zf.read(info)                               # checks the CRC and the compression
                np.lib.format.read_array(io.BytesIO(raw), allow_pickle=True)   # the format pickles dicts
            except Exception as e:  # noqa: BLE001 - zlib, CRC, header, pickle: all mean "this member is bad"
                why = " ".join(str(e).split())[:200] or type(e).__name__
                return f"{path}: member {key!r} is corrupt ({type(e).__name__}: {why}); re-download or rebuild the file"
    return None


def find_corrupt_npz(paths: Iterable["str | Path"]) -> str | None:
    """The :func:`corrupt_member` line of the first damaged file among ``paths``, or ``None``."""
    for path in paths:
        found = corrupt_member(path)
        if found:
            return found
    return None


def require_files(paths: Iterable["str | Path"], hint: str) -> tuple[Path, ...]:
    """``paths`` as ``Path`` objects; the first one that is not a file raises ``FileNotFoundError`` naming it and
    ``hint`` (what the caller expects there, or how to make it)."""
    paths = tuple(Path(p) for p in paths)
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"no such data file: {p} ({hint})")
    return paths


def require_data_files(data_dir: "str | Path", dataset: str, keypoints: str, caller: str) -> tuple[Path, Path]:
    """The pair ``data_3d_<dataset>.npz``, ``data_2d_<dataset>_<keypoints>.npz`` in ``data_dir``; a missing file
    raises ``FileNotFoundError`` naming it and the layout ``caller`` expects."""
    data_dir = Path(data_dir)
    return require_files((data_dir / f"data_3d_{dataset}.npz", data_dir / f"data_2d_{dataset}_{keypoints}.npz"),
                         f"{caller} expects data_3d_{dataset}.npz and data_2d_{dataset}_<keypoints>.npz in {data_dir}")


# --------------------------------------------------------------------------- the dataset
@dataclass
class PoseSequence:
    """One (subject, action, camera) sequence. Arrays are float32 NumPy, ``N`` frames.

    Attributes:
        pixels: ``(N, J, 2)`` 2D keypoints in pixels (cropped to the mocap length).
        x2d: ``(N, J, 2)`` normalised screen coordinates (chapter 2, "Normalising the 2D input").
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
        positions_2d: ``subject -> action -> [(N2 >= N, J, 2)]`` pixels per camera; longer arrays are cropped
            to the mocap length (as VideoPose3D does). Subjects/actions without 3D are kept as unlabeled 2D.
        cameras: ``subject -> [Camera]``, one per 2D view.
        skeleton: 3D joint layout.
        keypoints_left, keypoints_right: symmetry of the 2D layout.
        fps, splits (``{'train': [...], 'test': [...]}``), drift_sequences ((subject, action) pairs removed by
            ``exclude_drift=True``), metadata (the 2D file's), sources (file names used in error messages).
        action_aliases: other names users may type for an action in :meth:`select` / :meth:`tensors`,
            ``alias -> canonical action`` (HumanEva's protocol writes ``"Walk"`` for ``"Walking"``).

    The 2D keypoints must be on the 3D joints (``J2 == J``): loaders map a detector's layout first
    (:func:`dataset_from_arrays`), so a model's input and output joints always correspond.
    """

    def __init__(self, positions_3d: Mapping, positions_2d: Mapping, cameras: Mapping[str, Sequence[Camera]],
                 skeleton: Skeleton, keypoints_left: Sequence[int], keypoints_right: Sequence[int], *,
                 fps: float = 50.0, splits: "Mapping[str, Sequence[str]] | None" = None,
                 drift_sequences: Iterable[tuple[str, str]] = (), metadata: "Mapping | None" = None,
                 sources: tuple[str, str] = ("positions_3d", "positions_2d"), name: str = "",
                 action_aliases: "Mapping[str, str] | None" = None) -> None:
        self.skeleton = skeleton
        self.keypoints_left, self.keypoints_right = tuple(keypoints_left), tuple(keypoints_right)
        self.fps = float(fps)
        self.splits = {k: list(v) for k, v in (splits or {}).items()}
        self.drift_sequences = frozenset(tuple(p) for p in drift_sequences)
        self.metadata = dict(metadata or {})
        self.name = name
        self.action_aliases = dict(action_aliases or {})
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

    def _check_2d(self, v: np.ndarray, n3d: int, s: str, a: str, c: int, src: str) -> np.ndarray:
        if v.ndim != 3 or v.shape[-1] != 2:
            raise DataError(f"{src}: subject {s!r} action {a!r} camera {c} has shape {v.shape}; expected (N, J, 2)")
        if v.shape[1] != self.skeleton.num_joints:
            raise DataError(f"{src}: subject {s!r} action {a!r} camera {c} has {v.shape[1]} 2D joints but the 3D "
                            f"has {self.skeleton.num_joints} ({self.skeleton.name}); map the 2D layout first")
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
        ``SittingDown``), exact keys (``"Sitting 1"``) or aliases from :attr:`action_aliases` (``"Walk"``).
        """
        subjects = self.resolve_subjects(subjects)
        wanted = None
        if actions is not None:
            wanted = {self.action_aliases.get(a, a) for a in ([actions] if isinstance(actions, str) else actions)}
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
#: ``layout_name`` values of 2D metadata that name a detector layout of :data:`poselift_core.keypoints.LAYOUTS`
#: (VideoPose3D writes ``"coco"`` for its Detectron COCO keypoints).
_DETECTOR_LAYOUT_NAMES = {"coco": "coco17", "coco17": "coco17", "blazepose33": "blazepose33", "body25": "body25"}


def _layout_symmetry(layout_name: str) -> list[list[int]]:
    """``[left, right]`` joint indices of a detector layout, paired by name (``left_x`` with ``right_x``)."""
    names = LAYOUTS[layout_name].names
    flat = [n.lower().replace("left_", "l").replace("right_", "r") for n in names]
    pairs = [(i, flat.index("r" + n[1:])) for i, n in enumerate(flat) if n.startswith("l") and "r" + n[1:] in flat]
    return [[i for i, _ in pairs], [j for _, j in pairs]]


def _detector_layout(metadata: Mapping, num_joints_2d: int, skeleton: Skeleton, src: str) -> "str | None":
    """The detector layout (a :data:`~poselift_core.keypoints.LAYOUTS` key) whose mapping brings this 2D file onto
    ``skeleton``, or ``None`` when the 2D is already on the 3D joints.

    The layout comes from the metadata's ``layout_name``; without one, 17 joints next to a 3D skeleton of another
    size are COCO-17 when the stored symmetry (if any) is COCO's (VideoPose3D's HumanEva ``detectron_pt_coco``).
    """
    name = metadata.get("layout_name")
    layout = _DETECTOR_LAYOUT_NAMES.get(str(name).lower()) if name is not None else None
    if layout is None and name is None and num_joints_2d == 17 != skeleton.num_joints:
        symmetry = metadata.get("keypoints_symmetry")
        if symmetry is None or [[int(j) for j in side] for side in symmetry] == _layout_symmetry("coco17"):
            layout = "coco17"
    if layout is None:
        return None
    if num_joints_2d != LAYOUTS[layout].num_joints:
        raise DataError(f"{src}: 2D keypoints have {num_joints_2d} joints but their layout {name!r} "
                        f"({layout}) has {LAYOUTS[layout].num_joints}")
    return layout


def _adapt_2d(positions_2d: dict, metadata: dict, skeleton: Skeleton, src: str) -> tuple[dict, tuple, tuple]:
    """Check the 2D joint count against the metadata and bring the 2D onto ``skeleton``'s joints.

    Returns ``(positions_2d, keypoints_left, keypoints_right)``. A detector layout (COCO-17, ...) is mapped with
    :func:`poselift_core.keypoints.to_skeleton` (derived joints documented there); 2D already on the 3D joints
    is kept; any other pair of joint sets raises :class:`DataError` naming both.
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
    layout = _detector_layout(metadata, J2, skeleton, src)
    if layout is not None and skeleton.name in ADAPTED_SKELETONS:
        # one vectorised gather per view; the mapped 2D carries the 3D skeleton's own symmetry
        mapped = {s: {a: [to_skeleton(np.asarray(v, np.float64), layout, skeleton, source=src).astype(np.float32)
                          for v in views] for a, views in acts.items()} for s, acts in positions_2d.items()}
        return mapped, tuple(skeleton.left), tuple(skeleton.right)
    if J2 != skeleton.num_joints:
        raise DataError(f"{src} has {J2}-joint 2D keypoints (layout {metadata.get('layout_name')!r}) but the 3D has "
                        f"{skeleton.num_joints} joints ({skeleton.name}); no mapping between them")
    symmetry = metadata.get("keypoints_symmetry") or [skeleton.left, skeleton.right]
    left, right = (tuple(int(j) for j in side) for side in symmetry)
    return positions_2d, left, right


# --------------------------------------------------------------------------- loading
def read_file_pair(path_3d: "str | Path", path_2d: "str | Path", skip: Iterable[tuple[str, str]] = ()
                   ) -> tuple[dict, "dict[str, list[Camera]] | None", dict, dict]:
    """``(positions_3d, cameras or None, positions_2d, metadata)`` of a file pair, without the (subject, action)
    pairs in ``skip``; arrays as stored."""
    pos3, cams = read_positions_3d(path_3d)
    pos2, metadata = read_positions_2d(path_2d)
    skip = {tuple(p) for p in skip}
    pos3 = {s: {a: x for a, x in acts.items() if (s, a) not in skip} for s, acts in pos3.items()}
    pos2 = {s: {a: x for a, x in acts.items() if (s, a) not in skip} for s, acts in pos2.items()}
    return pos3, cams, pos2, metadata


def stored_joint_count(positions_3d: Mapping) -> "int | None":
    """Joint count of the first 3D array (``None`` for an empty file or a malformed first array)."""
    first = next((np.shape(x) for acts in positions_3d.values() for x in acts.values()), None)
    return first[1] if first is not None and len(first) == 3 else None


def resolve_skeleton(joints: "int | str | Skeleton", src: "str | Path") -> Skeleton:
    """:func:`~poselift_core.skeleton.get_skeleton` with its error as a :class:`DataError` naming ``src``."""
    try:
        return get_skeleton(joints)
    except ValueError as e:
        raise DataError(f"{src}: {e}") from None


def dataset_from_arrays(positions_3d: Mapping, positions_2d: dict, metadata: dict, skeleton: Skeleton,
                        cameras: "Mapping[str, Sequence[Camera]] | None", sources: tuple[str, str], *,
                        fps: "float | None" = None, splits: "Mapping[str, Sequence[str]] | None" = None,
                        drift_sequences: Iterable[tuple[str, str]] = (), name: "str | None" = None,
                        action_aliases: "Mapping[str, str] | None" = None) -> PoseDataset:
    """A :class:`PoseDataset` from a pair's arrays (3D already on ``skeleton``): the 2D brought onto the 3D joints
    (see :func:`_adapt_2d`), ``fps`` and ``splits`` defaulting to the 2D metadata's (else 50 and none)."""
    src3, src2 = sources
    if cameras is None:
        raise DataError(f"{src3} stores no cameras and none were given (pass cameras=subject -> [Camera]; for "
                        f"Human3.6M's own files use poselift_core.data.load_videopose3d or load_h36m)")
    pos2, left, right = _adapt_2d(positions_2d, metadata, skeleton, src2)
    return PoseDataset(positions_3d, pos2, cameras, skeleton, left, right,
                       fps=fps if fps is not None else float(metadata.get("fps", 50.0)),
                       splits=splits if splits is not None else metadata.get("splits"),
                       drift_sequences=drift_sequences, metadata=metadata, sources=(src3, src2),
                       name=name if name is not None else Path(src2).stem, action_aliases=action_aliases)


def load_file_pair(path_3d: "str | Path", path_2d: "str | Path", *, joints: "int | str | Skeleton | None" = None,
                   cameras: "Mapping[str, Sequence[Camera]] | None" = None, fps: "float | None" = None,
                   splits: "Mapping[str, Sequence[str]] | None" = None, skip: Iterable[tuple[str, str]] = (),
                   drift_sequences: Iterable[tuple[str, str]] = (), name: "str | None" = None,
                   action_aliases: "Mapping[str, str] | None" = None) -> PoseDataset:
    """Load a 3D file and a 2D file of the VideoPose3D family, assuming nothing about the dataset.

    Args:
        joints: 3D skeleton (a name, a joint count or a :class:`Skeleton`); default the 3D file's joint count.
        cameras: ``subject -> [Camera]``; default the 3D file's ``cameras`` key (a :class:`DataError` when it has
            none: Human3.6M's own files load with :func:`poselift_core.data.h36m.load_videopose3d`).
        fps, splits: default the 2D metadata's ``fps`` (else 50) and ``splits`` (else none).
        skip: (subject, action) pairs ignored in both files.
        drift_sequences: pairs removed by ``tensors(..., exclude_drift=True)``.
        action_aliases: ``alias -> action`` accepted by :meth:`PoseDataset.select`.
    """
    pos3, file_cams, pos2, metadata = read_file_pair(path_3d, path_2d, skip)
    skeleton = resolve_skeleton(joints if joints is not None else (stored_joint_count(pos3) or 17), path_3d)
    return dataset_from_arrays(pos3, pos2, metadata, skeleton, cameras if cameras is not None else file_cams,
                               (str(path_3d), str(path_2d)), fps=fps, splits=splits,
                               drift_sequences=drift_sequences, name=name, action_aliases=action_aliases)
