"""Motion-capture file readers: Acclaim ASF/AMC (CMU) and BVH, to
:class:`~poselift_core.conversion.kinematics.KinematicClip`.

Units: CMU lengths (ASF ``length``, AMC root translations and the CMU BVH files) are inches times
``:units length`` (0.45), so metres = value / 0.45 * 0.0254. :func:`read_bvh` infers the unit of other BVH
files from the rest-pose size (metres, CMU units, centimetres or millimetres) unless told. Malformed files
raise :class:`~poselift_core.conversion.kinematics.MocapError` naming the file and line. Explained in the book,
chapter 2 ("The open benchmark, and converting CMU motion capture").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .kinematics import KinematicClip, MocapError, _err, euler_to_matrix, forward_kinematics

__all__ = ["INCH", "CMU_LENGTH_SCALE", "AsfBone", "AsfSkeleton", "read_asf", "read_amc", "read_bvh", "find_asf",
           "load_clip"]

INCH = 0.0254
#: Metres per length unit of the CMU files (``:units length 0.45``).
CMU_LENGTH_SCALE = INCH / 0.45


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

    def word() -> tuple[str, int]:
        nonlocal pos
        if pos >= len(tokens):
            raise _err(path, motion_line, "the hierarchy ends early")
        pos += 1
        return tokens[pos - 1]

    def number() -> float:
        tok, ln = word()
        try:
            return float(tok)
        except ValueError:
            raise _err(path, ln, f"expected a number, got {tok!r}") from None

    def joint(parent: int, name: str) -> None:
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
                tok, cl = word()
                m = re.fullmatch(r"([XYZ])(position|rotation)", tok, flags=re.I)
                if m is None:
                    raise _err(path, cl, f"unknown channel {tok!r} of joint {name!r}")
                channels.append((j, m.group(2).lower(), "xyz".index(m.group(1).lower())))
        while pos < len(tokens) and tokens[pos][0] != "}":
            tok, cl = word()
            if tok.upper() == "JOINT":
                joint(j, word()[0])
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
    joint(-1, word()[0])
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
    if dt <= 0 or n_frames < 1:
        raise _err(path, header["frame time"][1], f"need Frames >= 1 and Frame Time > 0, got {n_frames}, {dt}")
    C = len(channels)
    data_lines = rest[body_start:body_start + n_frames]
    try:
        data = np.array(" ".join(data_lines).split(), dtype=np.float64)
    except ValueError:
        data = None
    if data is None or data.size != n_frames * C:
        first_data_line = motion_line + body_start + 1
        for i, l in enumerate(data_lines):
            vals = l.split()
            if len(vals) != C:
                raise _err(path, first_data_line + i,
                           f"frame {i} has {len(vals)} values, the hierarchy declares {C} channels")
            try:
                [float(v) for v in vals]
            except ValueError:
                raise _err(path, first_data_line + i, f"frame {i} has a non-numeric value") from None
        raise _err(path, first_data_line + len(data_lines), f"file ends after {len(data_lines)} of {n_frames} frames")
    data = data.reshape(n_frames, C)[:max_frames]
    N, K = len(data), len(names)

    if length_scale is None:
        identity = np.broadcast_to(np.eye(3), (1, K, 3, 3))
        rest_pos = forward_kinematics(parents, offsets_np, identity, np.zeros((1, 3)))[0]
        extent = float((rest_pos.max(0) - rest_pos.min(0)).max())
        unit = next((u for u in _BVH_UNITS if u[2][0] <= extent < u[2][1]), None)
        if unit is None:
            raise _err(path, None, f"cannot infer the length unit from the rest-pose size {extent:g}; "
                                   f"pass length_scale (metres per file unit)")
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


def find_asf(amc: Path) -> Path:
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
        skeleton = find_asf(path)
    if not isinstance(skeleton, AsfSkeleton):
        skeleton = read_asf(skeleton, length_scale=length_scale)
    return read_amc(path, skeleton, fps=120.0 if fps is None else fps, max_frames=max_frames)
