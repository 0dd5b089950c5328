"""Build the open benchmark ``data/open/data_3d_open.npz`` from real motion capture that may be redistributed.

Sources (provenance, licences and credit lines in ``data/open/README.md``):

* the CMU Graphics Lab Motion Capture Database: subjects 01, 02, 03, 11 (ASF/AMC, 120 Hz) and 131 (BVH,
  120 Hz, lengths in the same inch-based unit as the ASF files), read from a local copy of the database;
* the DeepMimic clips (Peng et al. 2018) shipped in the ``pybullet`` 3.2.7 wheel, the same that the bundled
  sample uses (:mod:`poselift_core.conversion.build_sample`), downloaded with ``pip download`` and sha256-checked.

Every clip goes through :func:`poselift_core.conversion.mocap.to_h36m_world` (forward kinematics, H36M-17 joints,
Z up, horizontal recentring, 50 Hz) and is rounded to int16 millimetres. The build is deterministic; after
writing, it recomputes :func:`~poselift_core.data.open_benchmark.content_hash` and, with ``expect``, stops
unless the hash equals the committed one — so ``python -m poselift_core.data build-open --check`` proves that
the shipped file is what the command makes.
"""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..data.h36m import H36M_CAMERAS
from ..data.open_benchmark import (OPEN_CAMERA_SUBJECT, OPEN_TEST_SUBJECTS, OPEN_TRAIN_SUBJECTS, content_hash,
                                   open_path, read_open_mm)
from ..data.videopose3d import cameras_to_dict
from .build_sample import DEEPMIMIC_MOTIONS, DEEPMIMIC_URDF, PACKAGES, download_packages, package_file, read_deepmimic
from .kinematics import MocapError
from .mocap import to_h36m_world
from .mocap_files import CMU_LENGTH_SCALE, load_clip, read_asf

__all__ = ["CMU_CLIPS", "DEEPMIMIC_CLIPS", "CREDIT_CMU", "build_open_arrays", "build_open",
           "build_open_cli"]

CREDIT_CMU = ("The data used in this project was obtained from mocap.cs.cmu.edu. The database was created with "
              "funding from NSF EIA-0196217.")
#: subject -> (folder under the CMU root, file suffix); every trial in the folder is used.
CMU_CLIPS = {"01": ("asfamc/01", ".amc"), "02": ("asfamc/02", ".amc"), "03": ("asfamc/03", ".amc"),
             "11": ("asfamc/11", ".amc"), "131": ("bvh", ".bvh")}
#: DeepMimic action -> motion file in the pybullet wheel (all 21 of them; CMU 01_01 comes from the CMU copy).
DEEPMIMIC_CLIPS = {name: DEEPMIMIC_MOTIONS + f"humanoid3d_{stem}.txt" for name, stem in (
    ("Backflip", "backflip"), ("Cartwheel", "cartwheel"), ("Crawl", "crawl"), ("Dance 1", "dance_a"),
    ("Dance 2", "dance_b"), ("GetUp 1", "getup_facedown"), ("GetUp 2", "getup_faceup"), ("Jump", "jump"),
    ("Kick", "kick"), ("Punch", "punch"), ("Roll", "roll"), ("Run", "run"), ("Spin", "spin"),
    ("SpinKick", "spinkick"), ("Walk", "walk"))}
_FPS = 50.0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cmu_files(cmu_root: Path) -> dict[str, list[Path]]:
    out = {}
    for subject, (folder, suffix) in CMU_CLIPS.items():
        files = sorted((cmu_root / folder).glob(f"{subject}_*{suffix}"))
        if not files:
            raise FileNotFoundError(f"no {subject}_*{suffix} files in {cmu_root / folder} (CMU subject {subject})")
        out[subject] = files
    return out


def build_open_arrays(cmu_root: "str | Path", cache_dir: "str | Path | None" = None,
                      subjects: "tuple[str, ...] | None" = None) -> tuple[dict, dict]:
    """``(positions_mm, sources)``: int16 world millimetres per subject and action, and each clip's source.

    ``subjects`` restricts the build (tests rebuild one CMU subject and compare it with the shipped file);
    ``"DeepMimic"`` among them needs the pybullet wheel (downloaded into ``cache_dir``).
    """
    cmu_root = Path(cmu_root)
    wanted = tuple(subjects) if subjects is not None else tuple(CMU_CLIPS) + ("DeepMimic",)
    pos: dict[str, dict[str, np.ndarray]] = {}
    sources: dict[str, str] = {}
    files = _cmu_files(cmu_root)
    for subject, paths in files.items():
        if subject not in wanted:
            continue
        skeleton = None
        if CMU_CLIPS[subject][1] == ".amc":
            skeleton = read_asf(cmu_root / CMU_CLIPS[subject][0] / f"{subject}.asf")
        for f in paths:
            clip = load_clip(f, skeleton=skeleton, length_scale=None if skeleton else CMU_LENGTH_SCALE)
            world = to_h36m_world(clip, _FPS)
            pos.setdefault(subject, {})[f.stem] = np.round(world * 1000.0).astype(np.int16)
            sources[f"{subject}/{f.stem}"] = f"CMU mocap {f.name} (sha256 {_sha256(f)[:16]})"
    if "DeepMimic" in wanted:
        cache = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "poselift_sample_cache"
        archives = download_packages(cache)
        urdf = package_file(archives, "pybullet", DEEPMIMIC_URDF)
        for action, inner in DEEPMIMIC_CLIPS.items():
            clip = read_deepmimic(package_file(archives, "pybullet", inner), urdf, _FPS, f"pybullet=={PACKAGES['pybullet'][0]}:{inner}")
            world = to_h36m_world(clip, _FPS)
            pos.setdefault("DeepMimic", {})[action] = np.round(world * 1000.0).astype(np.int16)
            sources[f"DeepMimic/{action}"] = clip.source
    if np.abs(np.concatenate([x.reshape(-1) for acts in pos.values() for x in acts.values()])).max() >= 32767:
        raise MocapError("a clip leaves the int16 millimetre range (+-32.7 m)")
    return pos, sources


def build_open(cmu_root: "str | Path", out: "str | Path | None" = None, cache_dir: "str | Path | None" = None,
               expect: "str | None" = None) -> tuple[Path, str]:
    """Build the whole open benchmark into ``out`` (default ``data/open/``); returns ``(path, content_sha256)``.

    With ``expect`` (a content hash), nothing is written unless the rebuilt arrays hash to it.
    """
    pos, sources = build_open_arrays(cmu_root, cache_dir)
    digest = content_hash(pos)
    if expect is not None and digest != expect:
        raise MocapError(f"rebuilt open benchmark has content sha256 {digest}, expected {expect}: the sources "
                         "differ from those it was built from")
    cams = H36M_CAMERAS[OPEN_CAMERA_SUBJECT]
    frames = {s: int(sum(len(x) for x in acts.values())) for s, acts in pos.items()}
    meta: dict[str, Any] = {
        "fps": _FPS, "units": "int16 millimetres, world, Z up", "skeleton": "h36m17", "num_joints": 17,
        "splits": {"train": list(OPEN_TRAIN_SUBJECTS), "test": list(OPEN_TEST_SUBJECTS)},
        "camera_subject": OPEN_CAMERA_SUBJECT, "frames_per_subject": frames, "clips": sources,
        "credit": [CREDIT_CMU, "DeepMimic motion clips: Peng et al., DeepMimic (SIGGRAPH 2018), as shipped in the "
                   "pybullet 3.2.7 wheel (zlib licence)."],
        "rebuild": "python -m poselift_core.data build-open --cmu PATH/TO/cmu", "content_sha256": digest,
    }
    path = open_path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, positions_3d_mm=pos, metadata=meta, cameras=cameras_to_dict({s: cams for s in pos}))
    tmp.replace(path)
    return path, digest


def build_open_cli(args: Any) -> Path:
    """``python -m poselift_core.data build-open --cmu DIR [--out DIR] [--cache DIR] [--check]``."""
    shipped = None
    if getattr(args, "check", False):
        _, meta, _ = read_open_mm(None)
        shipped = meta["content_sha256"]
    out = getattr(args, "out", None)
    if shipped is not None and out is None:
        out = Path(tempfile.mkdtemp(prefix="poselift_open_"))  # --check never touches the shipped file
    path, digest = build_open(args.cmu, out, getattr(args, "cache", None), expect=shipped)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, content sha256 {digest})")
    if shipped is not None:
        print("matches the shipped data/open/data_3d_open.npz")
    return path
