"""Motion capture to the VideoPose3D format: ASF/AMC and BVH readers, forward kinematics, H36M-17 mapping.

Pipeline (explained in the book chapter "Data, cameras and normalisation", section on converting mocap):

1. read a clip into a :class:`KinematicClip`: joint tree, rest offsets in metres, one local rotation per
   joint and frame, root trajectory (:func:`read_asf` + :func:`read_amc`, :func:`read_bvh`);
2. forward kinematics, vectorised over frames: ``G_k = G_parent(k) R_k`` and
   ``p_k = p_parent(k) + G_parent(k) o_k`` (:func:`forward_kinematics`);
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

Shoulders are the upper-arm joints, not the clavicles, as in H36M (data.md 3.1: the clavicle joints are
removed). The "halfway" points are fixed points on one rigid bone, so they keep constant bone lengths.

Units: CMU lengths (ASF ``length``, root translations, and the CMU BVH files) are inches times
``:units length`` (0.45), so metres = value / 0.45 * 0.0254. :func:`read_bvh` infers the unit of other BVH
files from the rest-pose size (metres, CMU units, centimetres or millimetres) unless told.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..camera import H36M_CAMERAS, Camera, project_to_image, quaternion_to_matrix, world_to_camera
from ..skeleton import H36M_17

__all__ = [
    "MocapError", "KinematicClip", "AsfBone", "AsfSkeleton", "read_asf", "read_amc", "read_bvh", "load_clip",
    "euler_to_matrix", "forward_kinematics", "H36M17_CANDIDATES", "h36m17_mapping", "to_h36m17",
    "yup_to_zup", "resample", "resample_times", "to_h36m_world", "project_views", "h36m_metadata",
    "convert_mocap", "convert_mocap_cli", "CMU_LENGTH_SCALE",
]

INCH = 0.0254
#: Metres per length unit of the CMU files (``:units length 0.45``).
CMU_LENGTH_SCALE = INCH / 0.45


class MocapError(ValueError):
    """A malformed motion file; the message starts with ``path:line:``."""


def _err(path: Any, line: "int | None", msg: str) -> MocapError:
    return MocapError(f"{path}:{line}: {msg}" if line is not None else f"{path}: {msg}")


# --------------------------------------------------------------------------- rotations and FK
def _axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation by ``angle`` (radians, any shape) about x, y or z: ``(...) -> (..., 3, 3)``."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    rows = {"x": ((o, z, z), (z, c, -s), (z, s, c)),
            "y": ((c, z, s), (z, o, z), (-s, z, c)),
            "z": ((c, -s, z), (s, c, z), (z, z, o))}[axis]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_to_matrix(angles: np.ndarray, axes: str) -> np.ndarray:
    """``R = R_{axes[0]}(a_0) @ R_{axes[1]}(a_1) @ ...`` (intrinsic rotations in listed order).

    Args:
        angles: ``(..., len(axes))`` radians.
        axes: e.g. ``"zyx"``; BVH ``CHANNELS ... Zrotation Yrotation Xrotation`` means ``"zyx"``.
    Returns:
        ``(..., 3, 3)``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    R = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for i, ax in enumerate(axes.lower()):
        R = R @ _axis_rotation(ax, angles[..., i])
    return R


def forward_kinematics(parents: Sequence[int], offsets: np.ndarray, rotations: np.ndarray,
                       root_positions: np.ndarray) -> np.ndarray:
    """Global joint positions of a kinematic tree, vectorised over frames.

    ``G_0 = R_0``, ``p_0 = root``; for every other joint ``k`` with parent ``q``:
    ``G_k = G_q R_k`` and ``p_k = p_q + G_q o_k`` (book chapter "Data, cameras and normalisation").

    Args:
        parents: ``(K,)`` parent index per joint, ``-1`` for joint 0 only, ``parents[k] < k``.
        offsets: ``(K, 3)`` or ``(N, K, 3)`` position of each joint in its parent's frame (metres).
        rotations: ``(N, K, 3, 3)`` local rotation of each joint.
        root_positions: ``(N, 3)`` position of joint 0.
    Returns:
        ``(N, K, 3)``.
    """
    parents = [int(p) for p in parents]
    R = np.asarray(rotations, dtype=np.float64)
    N, K = R.shape[:2]
    if len(parents) != K or R.shape[2:] != (3, 3):
        raise ValueError(f"rotations {R.shape} do not match {len(parents)} joints; expected (N, K, 3, 3)")
    if parents[0] != -1 or any(not 0 <= p < k for k, p in enumerate(parents) if k > 0):
        raise ValueError(f"parents must list joint 0 as the only root and every parent before its child: {parents}")
    off = np.broadcast_to(np.asarray(offsets, dtype=np.float64), (N, K, 3))
    G = np.empty((N, K, 3, 3))
    P = np.empty((N, K, 3))
    G[:, 0], P[:, 0] = R[:, 0], root_positions
    for k in range(1, K):  # loop over the ~30 joints of the tree; every step is vectorised over frames
        q = parents[k]
        G[:, k] = G[:, q] @ R[:, k]
        P[:, k] = P[:, q] + np.einsum("nij,nj->ni", G[:, q], off[:, k])
    return P


@dataclass
class KinematicClip:
    """A motion clip ready for forward kinematics; ``N`` frames, ``K`` joints.

    Attributes:
        names: joint names; joint 0 is the root.
        parents: ``(K,)`` parent indices, ``parents[k] < k``.
        offsets: ``(K, 3)`` (or ``(N, K, 3)`` with animated translations) metres, in the parent's frame.
        rotations: ``(N, K, 3, 3)`` local rotations (identity for end sites).
        root_positions: ``(N, 3)`` metres, source axes (Y up for CMU, BVH and DeepMimic).
        fps: frames per second; ``times`` (``(N,)`` seconds) when frames are not evenly spaced.
        source: file the clip came from (used in messages and metadata).
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    rotations: np.ndarray
    root_positions: np.ndarray
    fps: float
    source: str = ""
    times: "np.ndarray | None" = None
    info: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.rotations.shape[0]

    def positions(self) -> np.ndarray:
        """Global joint positions ``(N, K, 3)`` in metres (source axes)."""
        return forward_kinematics(self.parents, self.offsets, self.rotations, self.root_positions)

    def frame_times(self) -> np.ndarray:
        return self.times if self.times is not None else np.arange(self.num_frames) / self.fps


# --------------------------------------------------------------------------- ASF
@dataclass
class AsfBone:
    """One ``:bonedata`` entry; ``direction`` is a unit vector in the global rest frame."""

    name: str
    direction: np.ndarray
    length: float          # file units
    axis: np.ndarray       # (3,) angles in the file's angle unit
    axis_order: str        # e.g. "xyz": rotate about x first (C = Rz Ry Rx)
    dof: tuple[str, ...]   # subset of rx ry rz in AMC value order
    line: int


@dataclass
class AsfSkeleton:
    """A parsed ASF file. ``length_scale`` is metres per file length unit."""

    path: str
    length_scale: float
    angle_scale: float                 # radians per file angle unit
    root_order: tuple[str, ...]        # AMC channel order of the root, e.g. ("tx", ..., "rz")
    root_axis: str                     # root rotation order, "xyz" = Rz Ry Rx
    bones: dict[str, AsfBone]
    parent: dict[str, str]             # bone -> parent bone or "root"
    order: list[str]                   # bones, every parent before its children

    def tree(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(names, parents, offsets)`` of the joint tree: root, bone starts, leaf-bone ends."""
        children = {b: [] for b in ["root", *self.order]}
        for b in self.order:
            children[self.parent[b]].append(b)
        names = ["root", *self.order] + [f"{b}_end" for b in self.order if not children[b]]
        index = {n: i for i, n in enumerate(names)}
        parents = np.full(len(names), -1)
        offsets = np.zeros((len(names), 3))
        for b in self.order:
            p = self.parent[b]
            parents[index[b]] = index[p]
            if p != "root":  # a bone starts where its parent bone ends; children of the root start at it
                bp = self.bones[p]
                offsets[index[b]] = bp.length * bp.direction * self.length_scale
            if not children[b]:
                bone = self.bones[b]
                parents[index[f"{b}_end"]] = index[b]
                offsets[index[f"{b}_end"]] = bone.length * bone.direction * self.length_scale
        return names, parents, offsets


def _floats(tokens: Sequence[str], n: int, path: Any, line: int, what: str) -> np.ndarray:
    if len(tokens) < n:
        raise _err(path, line, f"{what} needs {n} numbers, got {len(tokens)}: {' '.join(tokens)!r}")
    try:
        return np.array([float(t) for t in tokens[:n]])
    except ValueError:
        raise _err(path, line, f"{what}: expected numbers, got {' '.join(tokens[:n])!r}") from None


def read_asf(path: "str | Path", length_scale: "float | None" = None) -> AsfSkeleton:
    """Parse an Acclaim skeleton file.

    Args:
        length_scale: metres per file length unit; default the CMU convention
            ``0.0254 / (:units length)`` (inches divided by the unit multiplier).
    """
    path = Path(path)
    lines = path.read_text(errors="replace").splitlines()
    section = None
    units = {"length": 1.0, "angle": "deg"}
    root_order, root_axis = ("tx", "ty", "tz", "rx", "ry", "rz"), "xyz"
    bones: dict[str, AsfBone] = {}
    hierarchy: list[tuple[int, list[str]]] = []
    current: "dict | None" = None
    for ln, raw in enumerate(lines, start=1):
        tok = raw.split("#", 1)[0].split()
        if not tok:
            continue
        if tok[0].startswith(":"):
            section, tok = tok[0][1:].lower(), tok[1:]
            if not tok:
                continue
        key = tok[0].lower()
        if section == "units" and len(tok) >= 2:
            units[key] = tok[1] if key == "angle" else float(_floats(tok[1:], 1, path, ln, f"units {key}")[0])
        elif section == "root":
            if key == "order":
                root_order = tuple(t.lower() for t in tok[1:])
            elif key == "axis" and len(tok) >= 2:
                root_axis = tok[1].lower()
            # ``position`` is ignored: AMC root translations are absolute (CMU writes zeros here anyway)
            elif key == "orientation" and np.any(_floats(tok[1:], 3, path, ln, "root orientation") != 0):
                raise _err(path, ln, "a non-zero root orientation is not supported")
        elif section == "bonedata":
            if key == "begin":
                current = {"line": ln, "dof": ()}
            elif key == "end":
                if current is None or "name" not in current:
                    raise _err(path, ln, "bone block without a name")
                for req in ("direction", "length"):
                    if req not in current:
                        raise _err(path, current["line"], f"bone {current['name']!r} has no {req}")
                axis, order = current.get("axis", (np.zeros(3), "xyz"))
                d = current["direction"]
                norm = np.linalg.norm(d)
                bones[current["name"]] = AsfBone(current["name"], d / norm if norm > 0 else d, current["length"],
                                                 axis, order, current["dof"], current["line"])
                current = None
            elif current is None:
                raise _err(path, ln, f"{tok[0]!r} outside a begin/end bone block")
            elif key == "name":
                current["name"] = tok[1]
            elif key == "direction":
                current["direction"] = _floats(tok[1:], 3, path, ln, "direction")
            elif key == "length":
                current["length"] = float(_floats(tok[1:], 1, path, ln, "length")[0])
            elif key == "axis":
                current["axis"] = (_floats(tok[1:], 3, path, ln, "axis"), tok[4].lower() if len(tok) > 4 else "xyz")
            elif key == "dof":
                dof = tuple(t.lower() for t in tok[1:])
                bad = [d for d in dof if d not in ("rx", "ry", "rz")]
                if bad:
                    raise _err(path, ln, f"dof {bad} not supported (only rotations rx ry rz)")
                current["dof"] = dof
        elif section == "hierarchy" and key not in ("begin", "end"):
            hierarchy.append((ln, tok))
    if not bones:
        raise _err(path, None, "no :bonedata found; is this an ASF file?")
    parent: dict[str, str] = {}
    for ln, tok in hierarchy:
        for name in tok:
            if name != "root" and name not in bones:
                raise _err(path, ln, f"hierarchy names unknown bone {name!r}")
        for child in tok[1:]:
            parent[child] = tok[0]
    order, frontier = [], ["root"]
    while frontier:  # breadth-first from the root so every parent precedes its children
        nxt = []
        for p in frontier:
            for ln, tok in hierarchy:
                if tok[0] == p:
                    for c in tok[1:]:
                        if c in order or c == "root":
                            raise _err(path, ln, f"bone {c!r} appears twice in the hierarchy (a cycle?)")
                        order.append(c)
                        nxt.append(c)
        frontier = nxt
    missing = [b for b in bones if b not in parent]
    if missing:
        raise _err(path, bones[missing[0]].line, f"bones {missing} are not attached in :hierarchy")
    angle_scale = np.pi / 180 if str(units["angle"]).lower().startswith("deg") else 1.0
    scale = INCH / float(units["length"]) if length_scale is None else float(length_scale)
    for b in bones.values():
        b.axis = b.axis * angle_scale
    return AsfSkeleton(str(path), scale, angle_scale, root_order, root_axis, bones, parent, order)


# --------------------------------------------------------------------------- AMC
def _amc_layout(skeleton: AsfSkeleton) -> dict[str, int]:
    counts = {"root": len(skeleton.root_order)}
    counts.update({b: len(bone.dof) for b, bone in skeleton.bones.items()})
    return counts


def _parse_amc_fast(lines: list[str], start: int, counts: dict[str, int]) -> "dict[str, np.ndarray] | None":
    """All frames list the same bones in the same order: one reshape; ``None`` when that fails."""
    names, i = [], start + 1
    while i < len(lines) and lines[i].split() and not lines[i].split()[0].isdigit():
        names.append(lines[i].split()[0])
        i += 1
    if any(n not in counts for n in names):
        return None
    T = 1 + sum(1 + counts[n] for n in names)
    tokens = np.array(" ".join(lines[start:]).split())
    if len(tokens) % T:
        return None
    tokens = tokens.reshape(-1, T)
    cols, out = 1, {}
    try:
        frames = tokens[:, 0].astype(np.int64)
        for n in names:
            if not np.all(tokens[:, cols] == n):
                return None
            out[n] = tokens[:, cols + 1: cols + 1 + counts[n]].astype(np.float64)
            cols += 1 + counts[n]
    except ValueError:
        return None
    if len(frames) > 1 and not np.all(np.diff(frames) == 1):
        return None
    return out


def _parse_amc_slow(lines: list[str], start: int, counts: dict[str, int], path: Any) -> dict[str, np.ndarray]:
    """Line-by-line parser: accepts any bone order per frame and reports the first bad line."""
    frames: list[dict[str, list[float]]] = []
    prev = None
    for ln in range(start, len(lines)):
        tok = lines[ln].split()
        if not tok:
            continue
        if tok[0].isdigit() and len(tok) == 1:
            if prev is not None and int(tok[0]) != prev + 1:
                raise _err(path, ln + 1, f"frame {tok[0]} follows frame {prev}; frames must be consecutive")
            prev = int(tok[0])
            frames.append({})
            continue
        name = tok[0]
        if name not in counts:
            raise _err(path, ln + 1, f"unknown bone {name!r} (not in the ASF skeleton)")
        if len(tok) - 1 != counts[name]:
            raise _err(path, ln + 1, f"bone {name!r} has {len(tok) - 1} values, the ASF declares {counts[name]}")
        if not frames:
            raise _err(path, ln + 1, "bone values before the first frame number")
        frames[-1][name] = [float(v) for v in _floats(tok[1:], counts[name], path, ln + 1, name)]
    if not frames:
        raise _err(path, None, "no frames")
    names = list(frames[0])
    for f, fr in enumerate(frames):
        if set(fr) != set(names):
            raise _err(path, None, f"frame {f + 1} lists bones {sorted(fr)}, frame 1 lists {sorted(names)}")
    return {n: np.array([fr[n] for fr in frames]).reshape(len(frames), counts[n]) for n in names}


def read_amc(path: "str | Path", skeleton: AsfSkeleton, fps: float = 120.0,
             max_frames: "int | None" = None) -> KinematicClip:
    """Read an Acclaim motion file for ``skeleton`` (CMU: 120 Hz, angles in degrees).

    Root: translation = the ``tx ty tz`` channels times the length scale; rotation = Euler angles applied
    in the root ``axis`` order (``xyz``: ``Rz Ry Rx``). Bone ``b``: local rotation ``C M C^T`` with ``C``
    from the ASF ``axis`` (applied in its order) and ``M = Rz(rz) Ry(ry) Rx(rx)`` from the AMC values,
    missing dofs zero (the CMU viewer's convention). Bones absent from every frame stay at rest.
    """
    path = Path(path)
    lines = path.read_text(errors="replace").splitlines()
    start = next((i for i, l in enumerate(lines) if l.strip().isdigit()), None)
    if start is None:
        raise _err(path, None, "no frame numbers found; is this an AMC file?")
    header = " ".join(lines[:start]).upper()
    angle_scale = 1.0 if ":RADIANS" in header else (np.pi / 180 if ":DEGREES" in header else skeleton.angle_scale)
    counts = _amc_layout(skeleton)
    values = _parse_amc_fast(lines, start, counts) or _parse_amc_slow(lines, start, counts, path)
    if "root" not in values:
        raise _err(path, start + 2, "frames do not list the root")
    N = len(values["root"]) if max_frames is None else min(max_frames, len(values["root"]))
    values = {k: v[:N] for k, v in values.items()}

    names, parents, offsets = skeleton.tree()
    R = np.broadcast_to(np.eye(3), (N, len(names), 3, 3)).copy()
    root = values["root"]
    order = skeleton.root_order
    try:
        root_pos = np.stack([root[:, order.index(c)] for c in ("tx", "ty", "tz")], -1) * skeleton.length_scale
        root_rot = np.stack([root[:, order.index("r" + a)] for a in skeleton.root_axis], -1) * angle_scale
    except ValueError:
        raise _err(skeleton.path, None, f"root order {order} lacks one of tx ty tz rx ry rz") from None
    # "xyz" means rotate about x first, i.e. the matrix product Rz Ry Rx: reverse for euler_to_matrix
    R[:, 0] = euler_to_matrix(root_rot[:, ::-1], skeleton.root_axis[::-1])
    for b in skeleton.order:
        bone = skeleton.bones[b]
        xyz = np.zeros((N, 3))
        if b in values:
            for j, d in enumerate(bone.dof):
                xyz[:, "xyz".index(d[1])] = values[b][:, j] * angle_scale
        C = euler_to_matrix(bone.axis[["xyz".index(a) for a in bone.axis_order]][::-1], bone.axis_order[::-1])
        M = euler_to_matrix(xyz[:, ::-1], "zyx")
        R[:, names.index(b)] = C @ M @ C.T
    return KinematicClip(names, parents, offsets, R, root_pos, float(fps), str(path))


# --------------------------------------------------------------------------- BVH
_BVH_UNITS = (  # (name, metres per unit, plausible rest-pose extent range in file units)
    ("metres", 1.0, (0.5, 3.0)), ("CMU units", CMU_LENGTH_SCALE, (10.0, 60.0)),
    ("centimetres", 0.01, (60.0, 300.0)), ("millimetres", 0.001, (500.0, 3000.0)))


def _bvh_tokens(lines: list[str]) -> tuple[list[tuple[str, int]], int]:
    tokens = []
    for ln, raw in enumerate(lines, start=1):
        if raw.strip().upper().startswith("MOTION"):
            return tokens, ln
        tokens.extend((t, ln) for t in raw.replace("{", " { ").replace("}", " } ").split())
    return tokens, -1


def read_bvh(path: "str | Path", length_scale: "float | None" = None,
             max_frames: "int | None" = None) -> KinematicClip:
    """Read a BVH file (any channel order per joint).

    Rotation channels compose in listed order (``Zrotation Xrotation Yrotation`` gives ``Rz Rx Ry``); position
    channels replace the matching ``OFFSET`` components. ``End Site`` becomes a joint ``<parent>_end``.

    Args:
        length_scale: metres per file unit; default: inferred from the rest pose's largest extent
            (0.5-3 metres, 10-60 CMU units, 60-300 cm, 500-3000 mm), recorded in ``clip.info['unit']``.
    """
    path = Path(path)
    lines = path.read_text(errors="replace").splitlines()
    tokens, motion_line = _bvh_tokens(lines)
    if not tokens or tokens[0][0].upper() != "HIERARCHY":
        raise _err(path, tokens[0][1] if tokens else 1, "expected HIERARCHY at the start of a BVH file")
    if motion_line < 0:
        raise _err(path, len(lines), "no MOTION section")
    names, parents, offsets, channels = [], [], [], []   # channels: (joint, kind, axis)
    pos = 1

    def expect(word: str) -> int:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos][0].upper() != word.upper():
            got = tokens[pos] if pos < len(tokens) else ("end of hierarchy", motion_line)
            raise _err(path, got[1], f"expected {word!r}, got {got[0]!r}")
        pos += 1
        return tokens[pos - 1][1]

    def number() -> float:
        nonlocal pos
        tok, ln = tokens[pos] if pos < len(tokens) else ("end of hierarchy", motion_line)
        try:
            pos += 1
            return float(tok)
        except ValueError:
            raise _err(path, ln, f"expected a number, got {tok!r}") from None

    def joint(parent: int, name: str, ln: int) -> None:
        nonlocal pos
        j = len(names)
        names.append(name)
        parents.append(parent)
        expect("{")
        expect("OFFSET")
        offsets.append([number(), number(), number()])
        if pos < len(tokens) and tokens[pos][0].upper() == "CHANNELS":
            pos += 1
            n = int(number())
            for _ in range(n):
                tok, cl = tokens[pos] if pos < len(tokens) else ("end of hierarchy", motion_line)
                m = re.fullmatch(r"([XYZ])(position|rotation)", tok, flags=re.I)
                if m is None:
                    raise _err(path, cl, f"unknown channel {tok!r} of joint {name!r}")
                channels.append((j, m.group(2).lower(), "xyz".index(m.group(1).lower())))
                pos += 1
        while pos < len(tokens) and tokens[pos][0] != "}":
            tok, cl = tokens[pos]
            pos += 1
            if tok.upper() == "JOINT":
                pos += 1
                joint(j, tokens[pos - 1][0], cl)
            elif tok.upper() == "END":
                expect("Site")
                end_name = f"{name}_end" if f"{name}_end" not in names else f"{name}_end{len(names)}"
                names.append(end_name)
                parents.append(j)
                expect("{")
                expect("OFFSET")
                offsets.append([number(), number(), number()])
                expect("}")
            else:
                raise _err(path, cl, f"unexpected {tok!r} in joint {name!r}")
        expect("}")

    expect("ROOT")
    root_line = tokens[pos][1]
    pos += 1
    joint(-1, tokens[pos - 1][0], root_line)
    offsets_np = np.array(offsets)

    # MOTION block
    rest = lines[motion_line:]
    header = {}
    body_start = None
    for i, raw in enumerate(rest):
        m = re.match(r"\s*(Frames|Frame Time)\s*:\s*(\S+)", raw, flags=re.I)
        if m:
            header[m.group(1).lower()] = (m.group(2), motion_line + i + 1)
            if m.group(1).lower() == "frame time":
                body_start = i + 1
                break
    if "frames" not in header or body_start is None:
        raise _err(path, motion_line, "MOTION needs 'Frames:' and 'Frame Time:' lines")
    try:
        n_frames, dt = int(header["frames"][0]), float(header["frame time"][0])
    except ValueError:
        raise _err(path, header["frames"][1], "bad 'Frames:' or 'Frame Time:' value") from None
    C = len(channels)
    data_lines = [l for l in rest[body_start:body_start + n_frames]]
    try:
        data = np.array(" ".join(data_lines).split(), dtype=np.float64)
    except ValueError:
        data = None
    if data is None or data.size != n_frames * C:
        first_data_line = motion_line + body_start + 1
        for i, l in enumerate(data_lines):
            vals = l.split()
            if len(vals) != C:
                raise _err(path, first_data_line + i, f"frame {i} has {len(vals)} values, the hierarchy declares {C} channels")
            try:
                [float(v) for v in vals]
            except ValueError:
                raise _err(path, first_data_line + i, f"frame {i} has a non-numeric value") from None
        raise _err(path, first_data_line + len(data_lines), f"file ends after {len(data_lines)} of {n_frames} frames")
    data = data.reshape(n_frames, C)[:max_frames]
    N, K = len(data), len(names)

    if length_scale is None:
        rest_pos = forward_kinematics(parents, offsets_np, np.broadcast_to(np.eye(3), (1, K, 3, 3)), np.zeros((1, 3)))[0]
        extent = float((rest_pos.max(0) - rest_pos.min(0)).max())
        unit = next((u for u in _BVH_UNITS if u[2][0] <= extent < u[2][1]), None)
        if unit is None:
            raise _err(path, None, f"cannot infer the length unit from the rest-pose size {extent:g}; pass length_scale")
        unit_name, length_scale = unit[0], unit[1]
    else:
        unit_name = f"{length_scale} m per unit"

    offs = np.broadcast_to(offsets_np, (N, K, 3)).copy()
    R = np.broadcast_to(np.eye(3), (N, K, 3, 3)).copy()
    for j in range(K):  # per joint: compose its rotation channels in listed order
        rot = [(c, ax) for c, (jj, kind, ax) in enumerate(channels) if jj == j and kind == "rotation"]
        if rot:
            axes = "".join("xyz"[ax] for _, ax in rot)
            R[:, j] = euler_to_matrix(np.deg2rad(data[:, [c for c, _ in rot]]), axes)
        for c, (jj, kind, ax) in enumerate(channels):
            if jj == j and kind == "position":
                offs[:, j, ax] = data[:, c]
    fps = 1.0 / dt
    fps = float(round(fps)) if abs(fps - round(fps)) < 1e-3 else fps  # "Frame Time: .0083333" is 120 Hz
    return KinematicClip(names, np.array(parents), offs * length_scale, R, offs[:, 0] * length_scale, fps,
                         str(path), info={"unit": unit_name})


def _find_asf(amc: Path) -> Path:
    """The skeleton of a CMU-style AMC: the only ``.asf`` in its folder."""
    candidates = sorted(p for p in amc.parent.iterdir() if p.suffix.lower() == ".asf")
    if len(candidates) != 1:
        raise MocapError(f"{amc}: pass the ASF skeleton explicitly ({len(candidates)} .asf files in {amc.parent})")
    return candidates[0]


def load_clip(path: "str | Path", skeleton: "str | Path | AsfSkeleton | None" = None,
              length_scale: "float | None" = None, fps: "float | None" = None,
              max_frames: "int | None" = None) -> KinematicClip:
    """Read a ``.bvh`` or ``.amc`` file; an AMC's skeleton defaults to the only ``.asf`` in its folder."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        return read_bvh(path, length_scale=length_scale, max_frames=max_frames)
    if suffix != ".amc":
        raise MocapError(f"{path}: unsupported motion file type {suffix!r}; expected .amc (with an .asf) or .bvh")
    if skeleton is None:
        skeleton = _find_asf(path)
    if not isinstance(skeleton, AsfSkeleton):
        skeleton = read_asf(skeleton, length_scale=length_scale)
    return read_amc(path, skeleton, fps=120.0 if fps is None else fps, max_frames=max_frames)


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
    """``(x, y, z)`` Y-up to H36M's Z-up world, ``(x, -z, y)``: a proper rotation (+90 deg about x), so left stays left."""
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
    """Pixels ``[(N, J, 2) float32]`` of world points ``(N, J, 3)`` in each camera (H36M distortion model)."""
    X = np.asarray(world, dtype=np.float64)
    return [np.asarray(project_to_image(world_to_camera(X, cam), cam), dtype=np.float32) for cam in cameras]


def h36m_metadata(splits: dict, fps: float, source: str) -> dict:
    """2D-file metadata of an H36M-17 layout file (data.md 2.2) plus ``fps``, ``splits``, ``source``."""
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
    from .h36m import save_videopose3d  # deferred: h36m imports the whole dataset machinery

    files, asf = _expand_inputs(inputs)
    cams = H36M_CAMERAS[camera_subject]
    skeletons: dict[Path, AsfSkeleton] = {}
    pos3: dict[str, dict[str, np.ndarray]] = {}
    pos2: dict[str, dict[str, list[np.ndarray]]] = {}
    for f in files:
        skel = None
        if f.suffix.lower() == ".amc":
            key = asf or _find_asf(f)
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
    meta = h36m_metadata(splits, fps, f"converted from {len(files)} mocap files with poselift_core.data.mocap; "
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
