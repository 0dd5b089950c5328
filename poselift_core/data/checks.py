"""Sanity checks for a loaded dataset: the usual quick checklist for a new Human3.6M loader, as numbers.

Run it on your own Human3.6M (or converted mocap) files before training: a wrong joint order, a camera table
from another code base, millimetres instead of metres or a 16/17-joint mix-up each break one of these checks.
Explained in the book, chapter 2 ("Plugging in your own Human3.6M files").
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..camera import project_to_image
from .videopose3d import PoseDataset

__all__ = ["bone_lengths", "sanity_checks"]


def bone_lengths(poses: np.ndarray, parents: Sequence[int]) -> np.ndarray:
    """Length of every bone ``(child, parent)`` with ``parent >= 0`` in joint order: ``(..., J, 3) -> (..., J - 1)``."""
    child = np.array([j for j, p in enumerate(parents) if p >= 0])
    parent = np.array([parents[j] for j in child])
    return np.linalg.norm(poses[..., child, :] - poses[..., parent, :], axis=-1)


def sanity_checks(ds: PoseDataset, subjects: Sequence[str] | None = None, max_sequences: int | None = 40,
                  exact_2d: bool = True) -> list[dict[str, Any]]:
    """Checks on (up to ``max_sequences``, spread evenly) (subject, action, camera) sequences of ``ds``.

    Returns rows ``{"check", "value", "expected", "ok"}``:

    - root depth in camera space (all depths must be positive; Human3.6M: about 4.5-6.7 m);
    - re-projection error of the 3D through the camera model against the stored 2D (``exact_2d``: the 2D are
      projections, as in the GT files, so < 0.1 px; detections are only reported, ``ok`` is ``None``);
    - normalised 2D range (about [-1, 1]; joints just outside the image exceed it slightly);
    - left/right symmetry of the limb bones (thigh, shin, upper arm, forearm) (Human3.6M: identical lengths; CMU fits each side, up to ~5 %);
    - rigidity: the largest standard deviation of a limb bone's length over time (mocap bones are rigid);
    - length of the longest limb bone (a thigh or shin, ~0.4-0.45 m: catches millimetres vs metres).
    """
    triples = ds.select(subjects)
    if max_sequences is not None and len(triples) > max_sequences:
        triples = [triples[i] for i in np.linspace(0, len(triples) - 1, max_sequences).round().astype(int)]
    sk = ds.skeleton
    bones = list(sk.edges)  # (child, parent) in the order of bone_lengths
    side = {**{j: "L" for j in sk.left}, **{j: "R" for j in sk.right}}
    # limb bones: both ends on the same side (thigh, shin, upper arm, forearm). Only these are rigid in every
    # file: a 17-joint "bone" such as Hip-Spine or Thorax-Shoulder spans a removed mocap joint that may rotate.
    limbs = [i for i, (c, p) in enumerate(bones) if side.get(c) is not None and side.get(c) == side.get(p)]
    mirror = {**dict(zip(sk.left, sk.right)), **dict(zip(sk.right, sk.left))}
    limb_bones = [bones[i] for i in limbs]
    pairs = np.array([(k, limb_bones.index((mirror[c], mirror[p]))) for k, (c, p) in enumerate(limb_bones)
                      if side[c] == "L" and (mirror[c], mirror[p]) in limb_bones]).reshape(-1, 2)  # left, right
    depth_min, depth_max, reproj, norm_max, asym, wobble, longest = np.inf, -np.inf, 0.0, 0.0, 0.0, 0.0, 0.0
    seen_world = set()
    for s, a, c in triples:
        seq = ds.sequence(s, a, c)
        depth = seq.camera_abs[..., 2]
        depth_min, depth_max = min(depth_min, float(depth.min())), max(depth_max, float(depth.max()))
        if len(seq.pixels[0]) == sk.num_joints:  # 2D on the 3D joints: compare the projection joint by joint
            uv = project_to_image(seq.camera_abs.astype(np.float64), seq.camera)
            reproj = max(reproj, float(np.abs(uv - seq.pixels).max()))
        norm_max = max(norm_max, float(np.abs(seq.x2d).max()))
        if (s, a) not in seen_world:  # bone lengths are camera-independent: once per (subject, action)
            seen_world.add((s, a))
            L = bone_lengths(seq.world, sk.parents)[:, limbs]               # (N, limb bones)
            med = np.median(L, axis=0)
            if len(pairs):
                li, ri = pairs.T
                asym = max(asym, float(np.max(np.abs(med[li] - med[ri]) / med[ri])))
            wobble = max(wobble, float(L.std(axis=0).max()))
            longest = max(longest, float(med.max()))
    return [
        {"check": "root depth (m)", "value": f"{depth_min:.2f} .. {depth_max:.2f}", "expected": "> 0 (H36M 4.5-6.7)",
         "ok": depth_min > 0},
        {"check": "re-projection error (px)", "value": f"{reproj:.2g}",
         "expected": "< 0.1" if exact_2d else "detector error", "ok": reproj < 0.1 if exact_2d else None},
        {"check": "largest normalised 2D coordinate", "value": f"{norm_max:.3f}", "expected": "about 1", "ok": norm_max < 1.2},
        {"check": "left/right limb asymmetry", "value": f"{100 * asym:.1f} %", "expected": "0 % H36M, < 8 % mocap",
         "ok": asym < 0.08},
        {"check": "limb length std over time (mm)", "value": f"{1000 * wobble:.2f}", "expected": "< 5",
         "ok": wobble < 0.005},
        {"check": "longest limb bone (m)", "value": f"{longest:.3f}", "expected": "0.35 .. 0.5", "ok": 0.35 < longest < 0.5},
        {"check": "sequences checked", "value": str(len(triples)), "expected": "", "ok": None},
    ]
