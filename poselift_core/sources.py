"""Where the trainer's data come from: the open benchmark, the bundled sample, Human3.6M, HumanEva-I or a folder of mocap files.

:func:`load_data` turns a data source and a recipe into the train and test
:class:`~poselift_core.batching.PoseTensors`. Mocap folders (ASF/AMC, BVH; e.g. the CMU database) are converted
once with :func:`poselift_core.conversion.mocap.convert_mocap` into ``<folder>/.poselift_cache`` (or a user cache
folder when that is read-only) and reused while the source files are unchanged. Explained in the book,
chapter 2 ("Loading a dataset").
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch

from .batching import PoseTensors

if TYPE_CHECKING:
    from .data import PoseDataset
from .recipes import Recipe

DATA_SOURCES = ("open", "sample", "h36m", "humaneva", "cmu")
CMU_TRAIN_SUBJECTS = ("01", "02", "11")
CMU_TEST_SUBJECTS = ("03", "131")
MOCAP_SUFFIXES = (".asf", ".amc", ".bvh")
_CACHE_VERSION = 1


def load_data(recipe: Recipe, data: str = "open", data_dir: "str | None" = None,
              device: "torch.device | str" = "cpu", train_subjects: Sequence[str] | None = None,
              test_subjects: Sequence[str] | None = None,
              need_train: bool = True) -> tuple[PoseTensors | None, PoseTensors, dict[str, Any]]:
    """Train and test splits of ``data`` as PoseTensors on ``device``, plus a description for results.

    The recipe's keypoints, actions and drift exclusion apply to the benchmark it was written for; the bundled
    sample and mocap conversions only have ground-truth 2D in the H36M-17 layout (16 joints on request), so
    there a detector recipe runs on GT 2D (the description's ``note`` says so) and a HumanEva recipe on H36M-17.
    ``need_train=False`` skips the train split (evaluation).
    """
    if data not in DATA_SOURCES:
        raise ValueError(f"unknown data {data!r}; use one of {DATA_SOURCES}")
    native = data == recipe.dataset
    keypoints = recipe.keypoints if data in ("h36m", "humaneva") else "gt"
    joints = recipe.joints if (native or recipe.joints in (16, 17)) else 17
    actions = recipe.actions if native else None
    train_s: Any = list(train_subjects) if train_subjects else "train"
    test_s: Any = list(test_subjects) if test_subjects else "test"
    ds = load_dataset(data, data_dir, keypoints=keypoints, joints=joints)
    if data == "cmu":
        train_s = list(train_subjects or CMU_TRAIN_SUBJECTS)
        test_s = list(test_subjects or CMU_TEST_SUBJECTS)
        missing = sorted(set(train_s + test_s) - set(ds.subjects()))
        if missing:
            raise ValueError(f"mocap folder {data_dir} has no subject(s) {missing}; found {ds.subjects()} "
                             "(choose with --train-subjects / --test-subjects)")
    train = ds.tensors(train_s, actions=actions, device=device) if need_train else None
    test = ds.tensors(test_s, actions=actions, device=device, exclude_drift=recipe.exclude_drift)
    info = {"source": data, "dir": data_dir, "keypoints": keypoints, "joints": test.skeleton.num_joints,
            "skeleton": test.skeleton.name, "train_subjects": sorted(set(train.subjects)) if train else None,
            "test_subjects": sorted(set(test.subjects)), "actions": list(actions) if actions else None,
            "exclude_drift": recipe.exclude_drift, "train_frames": train.num_frames if train else None,
            "test_frames": test.num_frames}
    if keypoints != recipe.keypoints:
        info["note"] = f"recipe keypoints {recipe.keypoints!r} are not available for data {data!r}; GT 2D used"
    return train, test, info


def load_dataset(data: str = "open", data_dir: "str | None" = None, keypoints: str = "gt",
                 joints: int = 17) -> "PoseDataset":
    """The whole :class:`~poselift_core.data.PoseDataset` of a data source (the dispatch the trainer uses).

    ``"open"``: the open benchmark (``data_dir`` None: the shipped one); ``"sample"``: the small bundled sample;
    ``"h36m"`` / ``"humaneva"``: VideoPose3D files in ``data_dir`` with 2D ``keypoints``; ``"cmu"``: a folder of
    ASF/AMC/BVH files, converted once. ``joints``: 17, or 16 (Nose dropped) where the source allows it.
    """
    from .data import load_h36m, load_videopose3d, sample_paths

    if data not in DATA_SOURCES:
        raise ValueError(f"unknown data {data!r}; use one of {DATA_SOURCES}")
    if data == "open":
        from .data.open_benchmark import load_open
        return load_open(data_dir, joints=joints if joints in (16, 17) else 17)
    if data == "sample":
        return load_videopose3d(*sample_paths(data_dir), joints=joints, name="sample")
    if data == "h36m":
        return load_h36m(_need_dir(data, data_dir), keypoints=keypoints, joints=joints)
    if data == "humaneva":
        from .data import load_humaneva
        return load_humaneva(_need_dir(data, data_dir), keypoints=keypoints)
    p3, p2 = convert_mocap_cached(_need_dir(data, data_dir))
    return load_videopose3d(p3, p2, joints=joints, name="cmu")


def dataset_files(data: str = "open", data_dir: "str | None" = None, keypoints: str = "gt",
                  export_dir: "str | None" = None) -> tuple[Path, Path]:
    """The VideoPose3D file pair ``(3D, 2D)`` behind a data source, for reading the format by hand.

    The open benchmark stores its 3D in int16 millimetres and projects the 2D at load time, so its pair is
    exported (float32 metres and pixels) into ``export_dir`` (default: a new temporary folder).
    """
    from .data import sample_paths
    from .data.videopose3d import require_data_files

    if data == "open":
        import tempfile

        from .data.open_benchmark import export_videopose3d
        out = export_dir if export_dir is not None else tempfile.mkdtemp(prefix="poselift_open_")
        return export_videopose3d(out, data_dir)
    if data == "sample":
        return sample_paths(data_dir)
    if data == "h36m":
        return require_data_files(_need_dir(data, data_dir), "h36m", keypoints, "h36m")
    if data == "humaneva":
        return require_data_files(_need_dir(data, data_dir), "humaneva15", keypoints, "humaneva")
    if data == "cmu":
        return convert_mocap_cached(_need_dir(data, data_dir))
    raise ValueError(f"unknown data {data!r}; use one of {DATA_SOURCES}")


def _need_dir(data: str, data_dir: "str | None") -> Path:
    if data_dir is None:
        raise ValueError(f"data {data!r} needs a data folder (data_dir / --data-dir)")
    path = Path(data_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"data folder {path} does not exist")
    return path


# ------------------------------------------------------------------------------------------ mocap cache
def _fingerprint(files: list[Path], root: Path) -> str:
    """Hash of the source files' names, sizes and modification times, and of the converter settings."""
    h = hashlib.sha256(f"v{_CACHE_VERSION} fps=50 camera=S1".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _cache_dir(root: Path) -> Path:
    """``root/.poselift_cache`` when writable, else a per-folder directory under the user cache."""
    preferred = root / ".poselift_cache"
    try:
        preferred.mkdir(exist_ok=True)
        probe = preferred / ".write_test"
        probe.touch()
        probe.unlink()
        return preferred
    except OSError:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "poselift"
        tag = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
        return base / tag


def convert_mocap_cached(root: "str | Path") -> tuple[Path, Path]:
    """VideoPose3D files for every ASF/AMC/BVH file under ``root``, converted once (subject = file prefix).

    The one place the training path reaches the conversion package, and only for this data source.
    """
    from .conversion.mocap import convert_mocap

    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MOCAP_SUFFIXES
                   and ".poselift_cache" not in p.parts)
    if not any(p.suffix.lower() in (".amc", ".bvh") for p in files):
        raise FileNotFoundError(f"no .amc or .bvh motion files under {root}")
    cache = _cache_dir(root)
    stamp = cache / "source.json"
    key = _fingerprint(files, root)
    p3, p2 = cache / "data_3d_cmu.npz", cache / "data_2d_cmu_gt.npz"
    if p3.is_file() and p2.is_file() and stamp.is_file():
        try:
            if json.loads(stamp.read_text()).get("fingerprint") == key:
                return p3, p2
        except (OSError, json.JSONDecodeError):
            pass
    cache.mkdir(parents=True, exist_ok=True)
    # folders, not files, so each AMC finds the .asf next to it
    inputs = sorted({p.parent for p in files if p.suffix.lower() in (".amc", ".bvh")})
    p3, p2 = convert_mocap(inputs, cache, camera_subject="S1", fps=50.0, name="cmu")
    stamp.write_text(json.dumps({"fingerprint": key, "files": [str(f.relative_to(root)) for f in files]}, indent=1))
    return Path(p3), Path(p2)
