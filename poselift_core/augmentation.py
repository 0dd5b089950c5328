"""Training-time view augmentation: other bodies, other cameras and a noisier detector, made from the training data.

A lifter trained on ground-truth 2D of a few cameras learns those cameras, the training subjects' proportions
and a noise-free joint definition. Detector keypoints of someone else's video differ in all three, so the lifter
meets inputs it never saw (chapter 7, "Lifting your own video"). :class:`ViewAugmentation` changes each training
sample *before* its 2D is made, so input and target stay consistent:

1. **Proportions** (``bone_scale``): every bone ``b_j = y_j - y_parent(j)`` of the root-relative 3D pose is
   scaled by its own factor ``s_j ~ U(1 - a, 1 + a)``; the joints are rebuilt from the root outwards,
   ``y' = M (s * b)``, with ``M[j, k] = 1`` where bone ``k`` lies on the path from the root to joint ``j``.
2. **Joint definitions** (``joint_offset``): the joints a detector does not see but a mapping derives (pelvis,
   spine, thorax, neck/nose, head; :data:`DERIVED_JOINTS`) move by ``N(0, sigma^2)`` metres per axis; the pose is
   then root-centred again.
3. **Camera** (``depth``, ``focal``): the root moves along its viewing ray by a factor ``k_d ~ U(depth)`` (the
   person nearer or farther, so perspective grows or fades) and the focal length changes by ``k_f ~ U(focal)``.
4. The 2D input is the projection of the new 3D through the new camera (:func:`project_normalized`), with the
   sample's own lens distortion, so a sample with all factors at 1 reproduces its ground-truth 2D exactly.
5. **Detector noise** (``noise_2d``): Gaussian noise of a per-sample standard deviation ``U(0, noise_2d)`` in
   normalised screen units (0.01 is 5 pixels of a 1000-pixel-wide image) is added to the 2D.

Each sample is augmented with probability ``p`` and left as it is otherwise. Only single-frame models take
these samples: a temporal window would need one draw per window, which the trainer does not do.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from .batching import PoseTensors, flip_intrinsics, make_batch
from .camera import project_normalized
from .config import check_config
from .skeleton import Skeleton

__all__ = ["DERIVED_JOINTS", "ViewAugmentation", "ancestor_matrix", "augmented_batch"]

#: Joint names whose position a keypoint mapping derives rather than detects (chapter 7): they get the offsets.
DERIVED_JOINTS = ("Hip", "Spine", "Thorax", "Neck/Nose", "Head")


@dataclass(frozen=True)
class ViewAugmentation:
    """Ranges of the augmentation (module docstring); the defaults change nothing.

    Attributes:
        bone_scale: half-width ``a`` of the bone-length factors ``U(1 - a, 1 + a)``.
        joint_offset: standard deviation (metres, per axis) of the derived joints' offsets.
        depth: range of the camera-distance factor ``k_d`` (``(1, 1)``: off).
        focal: range of the focal-length factor ``k_f`` (``(1, 1)``: off).
        noise_2d: largest per-sample standard deviation of the 2D noise, normalised screen units.
        p: probability that a sample is augmented.
    """

    bone_scale: float = 0.0
    joint_offset: float = 0.0
    depth: tuple[float, float] = (1.0, 1.0)
    focal: tuple[float, float] = (1.0, 1.0)
    noise_2d: float = 0.0
    p: float = 1.0

    def __post_init__(self) -> None:
        for key in ("depth", "focal"):           # JSON (a recipe in a checkpoint) gives lists
            object.__setattr__(self, key, tuple(float(v) for v in getattr(self, key)))
        check_config(self, "augment", ranges={"bone_scale": (0.0, 1.0), "joint_offset": (0.0, None),
                                              "noise_2d": (0.0, None), "p": (0.0, None)})
        for key in ("depth", "focal"):
            value = getattr(self, key)
            if len(value) != 2 or not 0 < value[0] <= value[1]:
                raise ValueError(f"augment: {key}={value!r} must be (low, high) with 0 < low <= high")
        if self.p > 1:
            raise ValueError(f"augment: p={self.p!r} must be <= 1")

    @property
    def active(self) -> bool:
        return self.p > 0 and (self.bone_scale > 0 or self.joint_offset > 0 or self.noise_2d > 0
                               or self.depth != (1.0, 1.0) or self.focal != (1.0, 1.0))


def ancestor_matrix(skeleton: Skeleton, device: "torch.device | str" = "cpu") -> torch.Tensor:
    """``(J, J)`` matrix ``M`` with ``M[j, k] = 1`` when bone ``k`` (joint ``k`` to its parent) lies on the path
    from the root to joint ``j``: root-relative joints from bone vectors, ``y = M b``."""
    return _ancestor_matrix(tuple(skeleton.parents), torch.device(device))


@functools.lru_cache(maxsize=16)
def _ancestor_matrix(parents: tuple[int, ...], device: torch.device) -> torch.Tensor:
    # cached: the trainer asks for it every batch
    J = len(parents)
    par = torch.tensor(parents)
    has_parent = par >= 0
    step = torch.zeros(J, J)                     # step[j, parent(j)] = 1
    step[torch.arange(J)[has_parent], par[has_parent]] = 1.0
    M, reach = torch.eye(J), torch.eye(J)
    for _ in range(J):                           # one generation of ancestors per pass (tree depth <= J)
        reach = reach @ step
        if not reach.any():
            break
        M = M + reach
    M[:, ~has_parent] = 0.0                      # the root has no bone
    return M.to(device)


def _uniform(lo: float, hi: float, n: int, generator: "torch.Generator | None", device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=generator, device=device)


def augmented_batch(tensors: PoseTensors, idx: torch.Tensor, aug: ViewAugmentation,
                    generator: "torch.Generator | None" = None) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`make_batch` for single-frame models, the samples changed by ``aug`` (module docstring).

    ``idx`` ``(B,)`` uses make_batch's index space (``idx >= F``: the mirrored copy); a mirrored sample is
    augmented in the mirrored camera (:func:`flip_intrinsics`). Returns ``x2d (B, J, 2)`` normalised screen
    coordinates and ``y3d (B, J, 3)`` root-relative metres. The 2D layout must be the skeleton's (ground-truth 2D).
    """
    F = tensors.num_frames
    if tensors.x2d.shape[-2] != tensors.y3d.shape[-2]:
        raise ValueError(f"augment: needs 2D in the 3D skeleton's layout, got {tensors.x2d.shape[-2]} 2D and "
                         f"{tensors.y3d.shape[-2]} 3D joints")
    x2d, y3d = make_batch(tensors, idx)
    if not aug.active:
        return x2d, y3d
    device, dtype = y3d.device, y3d.dtype
    idx = idx.to(device)
    flipped = idx >= F
    frames = idx - F * flipped
    B, J = y3d.shape[:2]
    on = (torch.rand(B, generator=generator, device=device) < aug.p).to(dtype)          # (B,)

    root = tensors.root[frames].clone()                                                  # (B, 3)
    root[:, 0] = torch.where(flipped, -root[:, 0], root[:, 0])
    cam = tensors.intrinsics[tensors.frame_seq[frames]]                                  # (B, 9)
    cam = torch.where(flipped[:, None], flip_intrinsics(cam), cam)

    y = y3d
    if aug.bone_scale > 0:
        parents = torch.tensor(tensors.skeleton.parents, device=device).clamp(min=0)
        bones = y - y[:, parents]                                                        # root row: 0
        s = 1 + aug.bone_scale * (2 * torch.rand(B, J, 1, generator=generator, device=device) - 1)
        s = 1 + (s - 1) * on[:, None, None]
        y = torch.einsum("jk,bkc->bjc", ancestor_matrix(tensors.skeleton, device).to(dtype), bones * s)
    if aug.joint_offset > 0:
        names = tensors.skeleton.names
        derived = torch.tensor([names.index(n) for n in DERIVED_JOINTS if n in names], device=device)
        offset = torch.zeros_like(y)
        offset[:, derived] = aug.joint_offset * torch.randn(B, len(derived), 3, generator=generator,
                                                           device=device, dtype=dtype)
        y = y + offset * on[:, None, None]
        y = y - y[:, :1]
    k_depth = 1 + (_uniform(*aug.depth, B, generator, device) - 1) * on
    k_focal = 1 + (_uniform(*aug.focal, B, generator, device) - 1) * on
    cam = torch.cat([cam[:, :2] * k_focal[:, None], cam[:, 2:]], dim=-1)
    x = project_normalized(y + (root * k_depth[:, None])[:, None], cam[:, None])       # (B, J, 2)
    if aug.noise_2d > 0:
        sigma = aug.noise_2d * torch.rand(B, 1, 1, generator=generator, device=device) * on[:, None, None]
        x = x + sigma * torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype)
    return x.to(x2d.dtype), y
