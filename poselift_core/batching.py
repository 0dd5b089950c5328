"""Whole-dataset tensors and fast batching: single frames, temporal windows, flip augmentation.

A split lives on the device as one :class:`PoseTensors`: every sequence's frames concatenated along
one axis. Batches are index tensors into it; windows are gathered with clamped indices (edge padding),
so no per-sample Python runs in the training loop. Explained in the book, chapter 2 ("Temporal windows").
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace
from typing import Callable, Iterator, Sequence

import torch

from .skeleton import Skeleton, flip_index


@dataclass
class PoseTensors:
    """One split (e.g. train or test) as flat tensors; ``F`` frames in ``S`` sequences.

    A sequence is one (subject, action, camera) triple. Sequences are contiguous in the flat arrays:
    frames ``seq_start[s] : seq_start[s] + seq_length[s]`` belong to sequence ``s``.

    Attributes:
        x2d: ``(F, J2, 2)`` normalised screen coordinates (chapter 2, "Normalising the 2D input").
        y3d: ``(F, J, 3)`` camera-space joints, metres, root-relative (root row is 0).
        root: ``(F, 3)`` absolute camera-space root position, metres.
        frame_seq: ``(F,)`` long, sequence index of every frame.
        seq_start, seq_length: ``(S,)`` long.
        intrinsics: ``(S, 9)`` normalised camera vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``.
        subjects, actions, cameras: per-sequence labels (length ``S``); ``actions`` are raw keys
            such as ``"Directions 1"``.
        skeleton: the 3D joint layout.
        keypoints_left, keypoints_right: symmetry of the 2D layout (may differ from the skeleton's).
        fps: frame rate of the sequences.
    """

    x2d: torch.Tensor
    y3d: torch.Tensor
    root: torch.Tensor
    frame_seq: torch.Tensor
    seq_start: torch.Tensor
    seq_length: torch.Tensor
    intrinsics: torch.Tensor
    subjects: list[str]
    actions: list[str]
    cameras: list[int]
    skeleton: Skeleton
    keypoints_left: tuple[int, ...]
    keypoints_right: tuple[int, ...]
    fps: float = 50.0

    @property
    def num_frames(self) -> int:
        return self.x2d.shape[0]

    @property
    def num_sequences(self) -> int:
        return self.seq_start.shape[0]

    @property
    def device(self) -> torch.device:
        return self.x2d.device

    def to(self, device: "torch.device | str") -> "PoseTensors":
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self)
                 if isinstance(getattr(self, f.name), torch.Tensor)}
        return replace(self, **moved)


# --------------------------------------------------------------------------- temporal windows
SeqInfo = "PoseTensors | tuple[torch.Tensor, torch.Tensor, torch.Tensor]"


def _seq_info(seq_info: SeqInfo) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(frame_seq, seq_start, seq_length)`` from a :class:`PoseTensors` or the triple itself."""
    if isinstance(seq_info, PoseTensors):
        return seq_info.frame_seq, seq_info.seq_start, seq_info.seq_length
    try:
        frame_seq, seq_start, seq_length = seq_info
    except (TypeError, ValueError):
        raise TypeError("expected a PoseTensors or a (frame_seq, seq_start, seq_length) tuple, "
                        f"got {type(seq_info).__name__}") from None
    return frame_seq, seq_start, seq_length


def _window_offsets(receptive_field: int, causal: bool, device: torch.device) -> torch.Tensor:
    """Frame offsets of a window relative to the predicted frame, ``(T,)``."""
    if receptive_field < 1:
        raise ValueError(f"receptive_field must be >= 1, got {receptive_field}")
    if not causal and receptive_field % 2 == 0:
        raise ValueError(f"a centred window needs an odd receptive_field, got {receptive_field}")
    # centred: -T//2 .. T//2 ; causal: the window ends at the predicted frame, -(T-1) .. 0
    first = -(receptive_field - 1) if causal else -(receptive_field // 2)
    return torch.arange(first, first + receptive_field, device=device)


def window_indices(
    frames: torch.Tensor,
    seq_info: SeqInfo,
    receptive_field: int,
    pad: str = "edge",
    causal: bool = False,
) -> torch.Tensor:
    """Absolute frame indices of the window around each frame, clamped to the frame's own sequence.

    Window of frame ``f`` in sequence ``[a, b]``: ``clamp(f + o, a, b)`` for the offsets ``o`` of a centred
    (``-T//2 .. T//2``) or causal (``-(T-1) .. 0``) window. Clamping is "edge" padding: near the ends the
    first/last frame is repeated (VideoPose3D, GLA-GCN), and a window never crosses into another sequence.

    Args:
        frames: ``(B,)`` long, indices into the flat frame axis.
        seq_info: a :class:`PoseTensors` or ``(frame_seq (F,), seq_start (S,), seq_length (S,))``.
        receptive_field: ``T``, odd unless ``causal``.

    Returns:
        ``(B, T)`` long, on ``frames``' device.
    """
    if pad != "edge":
        raise ValueError(f"unknown pad {pad!r}; only 'edge' (repeat the boundary frame) is implemented")
    frame_seq, seq_start, seq_length = _seq_info(seq_info)
    seq = frame_seq[frames]                                             # (B,)
    first = seq_start[seq].unsqueeze(-1)                                # (B, 1)
    last = first + seq_length[seq].unsqueeze(-1) - 1                    # (B, 1)
    idx = frames.unsqueeze(-1) + _window_offsets(receptive_field, causal, frames.device)  # (B, T)
    return torch.minimum(torch.maximum(idx, first), last)


def gather_windows(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Rows of a flat per-frame tensor at window indices: ``x (F, ...)``, ``idx (B, T)`` -> ``(B, T, ...)``."""
    return x.index_select(0, idx.reshape(-1)).reshape(*idx.shape, *x.shape[1:])


def padded_sequence(x: torch.Tensor, seq_info: SeqInfo, seq: int, receptive_field: int,
                    causal: bool = False) -> torch.Tensor:
    """One sequence of a flat tensor, edge-padded for a temporal model run over the whole sequence.

    Returns ``(N + T - 1, ...)``: sliding a window of ``T`` over it gives the window of every one of the
    sequence's ``N`` frames (how temporal convolutions are evaluated on full sequences).
    """
    _, seq_start, seq_length = _seq_info(seq_info)
    a, n = int(seq_start[seq]), int(seq_length[seq])
    offsets = _window_offsets(receptive_field, causal, x.device)
    idx = torch.arange(a + int(offsets[0]), a + n + int(offsets[-1]), device=x.device).clamp(a, a + n - 1)
    return x.index_select(0, idx)


def sequence_windows(tensors: PoseTensors, seq: int, receptive_field: int, causal: bool = False) -> torch.Tensor:
    """2D input windows for every frame of sequence ``seq``: ``(N, T, J2, 2)``.

    Memory grows as N x T (a 5,000-frame sequence at T=243 is about 165 MB in float32); evaluate long
    sequences in chunks of frames with :func:`window_indices`, or use :func:`padded_sequence`.
    """
    a, n = int(tensors.seq_start[seq]), int(tensors.seq_length[seq])
    frames = torch.arange(a, a + n, device=tensors.device)
    return gather_windows(tensors.x2d, window_indices(frames, tensors, receptive_field, causal=causal))


# --------------------------------------------------------------------------- flips
@functools.lru_cache(maxsize=64)
def _flip_index_tensor(left: tuple[int, ...], right: tuple[int, ...], num_joints: int,
                       device: torch.device) -> torch.Tensor:
    # cached so a training loop does not rebuild (and copy to the GPU) the same permutation every batch
    return torch.tensor(flip_index(left, right, num_joints), dtype=torch.long, device=device)


def _negate_x(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([-x[..., :1], x[..., 1:]], dim=-1)


def flip_keypoints_2d(x2d: torch.Tensor, left: Sequence[int], right: Sequence[int]) -> torch.Tensor:
    """Horizontal mirror of normalised 2D keypoints: negate x, then swap the 2D layout's left/right joints.

    Normalised x is 0 at the image centre column (VideoPose3D's normalisation), so negating it mirrors the image.
    Shapes: ``(..., J2, 2) -> (..., J2, 2)``.
    """
    perm = _flip_index_tensor(tuple(left), tuple(right), x2d.shape[-2], x2d.device)
    return _negate_x(x2d.index_select(-2, perm))


def flip_pose_3d(y3d: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """Mirror camera-space poses: negate X, then swap the skeleton's left/right joints.

    Shapes: ``(..., J, 3) -> (..., J, 3)``. (A root trajectory ``(..., 3)`` only needs ``X -> -X``.)
    """
    if y3d.shape[-2] != skeleton.num_joints:
        raise ValueError(f"flip_pose_3d: poses have {y3d.shape[-2]} joints, skeleton {skeleton.name!r} has "
                         f"{skeleton.num_joints}")
    perm = _flip_index_tensor(tuple(skeleton.left), tuple(skeleton.right), skeleton.num_joints, y3d.device)
    return _negate_x(y3d.index_select(-2, perm))


def flip_intrinsics(intrinsics: torch.Tensor) -> torch.Tensor:
    """Mirror the normalised camera 9-vector ``[fx, fy, cx, cy, k1, k2, k3, p1, p2]``: negate ``cx`` and ``p1``.

    With the Human3.6M distortion model, ``x -> -x`` leaves ``r^2`` and the radial term unchanged and keeps
    ``p1 x + p2 y`` only if ``p1 -> -p1``; then ``u -> -u`` exactly (chapter 2,
    "Flip augmentation"). Shapes ``(..., 9)``.
    """
    if intrinsics.shape[-1] != 9:
        raise ValueError(f"flip_intrinsics: expected (..., 9) camera vectors, got {tuple(intrinsics.shape)}")
    sign = torch.ones(9, dtype=intrinsics.dtype, device=intrinsics.device)
    sign[[2, 7]] = -1
    return intrinsics * sign


def predict_with_flip(
    model_fn: Callable[[torch.Tensor], torch.Tensor],
    x2d: torch.Tensor,
    skeleton: Skeleton,
    kp_left: Sequence[int],
    kp_right: Sequence[int],
) -> torch.Tensor:
    """Test-time flip averaging: ``(f(x) + flip3d(f(flip2d(x)))) / 2``.

    The original and mirrored inputs go through ``model_fn`` as one batch of ``2B`` (the model must be in
    eval mode, so samples do not interact). Shapes: ``x2d (B, [T,] J2, 2)`` -> ``(B, [T_out,] J, 3)``.
    """
    B = x2d.shape[0]
    both = model_fn(torch.cat([x2d, flip_keypoints_2d(x2d, kp_left, kp_right)], dim=0))
    return 0.5 * (both[:B] + flip_pose_3d(both[B:], skeleton))


# --------------------------------------------------------------------------- minibatches
def num_batches(num_items: int, batch_size: int, drop_last: bool = False) -> int:
    """Number of batches :func:`iterate_minibatches` yields in one epoch."""
    return num_items // batch_size if drop_last else -(-num_items // batch_size)


def iterate_minibatches(
    num_items: int,
    batch_size: int,
    shuffle: bool = True,
    generator: "torch.Generator | None" = None,
    drop_last: bool = False,
    device: "torch.device | str" = "cpu",
    start_batch: int = 0,
) -> Iterator[torch.Tensor]:
    """One epoch of index batches ``(batch_size,)`` long over ``range(num_items)``.

    The permutation is drawn from ``generator`` when this function is called (not lazily on the first
    ``next``), so the generator's state before the call identifies the epoch. To resume an interrupted
    epoch exactly: restore that state (``generator.set_state``) and pass ``start_batch=k`` to get batches
    ``k, k+1, ...`` of the same permutation. For VideoPose3D-style flip doubling iterate over
    ``2 * num_frames`` items and let :func:`make_batch` flip the indices ``>= num_frames``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if shuffle:
        gen_device = generator.device if generator is not None else torch.device("cpu")
        order = torch.randperm(num_items, generator=generator, device=gen_device).to(device)
    else:
        order = torch.arange(num_items, device=device)
    batches = list(order.split(batch_size))
    if drop_last and batches and batches[-1].numel() < batch_size:
        batches.pop()
    if not 0 <= start_batch <= len(batches):
        raise ValueError(f"start_batch {start_batch} outside an epoch of {len(batches)} batches")
    return iter(batches[start_batch:])


def flip_doubled_x2d(tensors: PoseTensors) -> torch.Tensor:
    """The split's 2D inputs followed by their mirror images: ``(2F, J2, 2)``, row ``F + f`` = flipped frame ``f``.

    Built once per :class:`PoseTensors` (on its device) and cached on it, so that a flipped window is
    gathered exactly like a plain one: permuting joints per batch costs 10-20x more than the gather on
    CPU. The cache doubles the memory of ``x2d`` (about 0.2 GB for the Human3.6M training split) and is
    rebuilt if ``x2d`` or the keypoint symmetry is replaced.
    """
    key = (id(tensors.x2d), tuple(tensors.keypoints_left), tuple(tensors.keypoints_right))
    cached = tensors.__dict__.get("_flip_doubled_x2d")
    if cached is None or cached[0] != key:
        flipped = flip_keypoints_2d(tensors.x2d, tensors.keypoints_left, tensors.keypoints_right)
        cached = (key, torch.cat([tensors.x2d, flipped], dim=0))
        tensors.__dict__["_flip_doubled_x2d"] = cached
    return cached[1]


def random_move_targets(y3d: torch.Tensor, generator: "torch.Generator | None" = None) -> torch.Tensor:
    """GLA-GCN's released target-only perturbation: rotate each 3D target ``(B, J, 3)`` in the image plane (about
    the camera's z axis) by an angle drawn from {-5, 0, +5} degrees and scale its x, y by a factor drawn from
    {0.95, 1, 1.05}; z and the 2D input are left alone.

    The input no longer matches the label, so this is label noise rather than augmentation (the chapter "GLA-GCN:
    lifting from a window of frames" explains); recipes keep it off unless ``random_move=True``.
    """
    B = y3d.shape[0]
    angle = torch.tensor([-5.0, 0.0, 5.0], device=y3d.device)[torch.randint(0, 3, (B,), generator=generator,
                                                                            device=y3d.device)]
    scale = torch.tensor([0.95, 1.0, 1.05], device=y3d.device)[torch.randint(0, 3, (B,), generator=generator,
                                                                            device=y3d.device)]
    c, s = torch.cos(torch.deg2rad(angle)), torch.sin(torch.deg2rad(angle))       # (B,)
    x, y = y3d[..., 0], y3d[..., 1]                                               # (B, J)
    xr = scale[:, None] * (c[:, None] * x - s[:, None] * y)
    yr = scale[:, None] * (s[:, None] * x + c[:, None] * y)
    return torch.stack([xr.to(y3d.dtype), yr.to(y3d.dtype), y3d[..., 2]], dim=-1)


def make_batch(
    tensors: PoseTensors,
    idx: torch.Tensor,
    receptive_field: int = 1,
    flip: "torch.Tensor | None" = None,
    causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets for a batch of frame indices, with optional horizontal flips.

    Index space ``0 .. 2F-1``: ``idx >= F`` means "frame ``idx - F``, flipped" (VideoPose3D's doubling of the
    training set); ``flip`` (``(B,)`` bool) flips further samples (xor with the doubling). A flipped sample has
    its 2D (negate x, swap ``keypoints_left/right``) and 3D (negate X, swap the skeleton's L/R) mirrored
    together. Windows are cut from :func:`flip_doubled_x2d`, so a flipped window costs the same as a plain one.

    Returns:
        ``x2d``: ``(B, J2, 2)`` when ``receptive_field == 1``, else ``(B, T, J2, 2)`` edge-padded windows;
        ``y3d``: ``(B, J, 3)``, the target of the predicted (centre, or last if ``causal``) frame.
    """
    F = tensors.num_frames
    device = tensors.device
    idx = idx.to(device)
    doubled = idx >= F
    frames = idx - F * doubled                                          # (B,)
    flags = doubled if flip is None else doubled ^ flip.to(device)      # (B,) bool
    row_shift = F * flags                                               # rows of the mirrored copy

    x_all = flip_doubled_x2d(tensors)                                   # (2F, J2, 2)
    if receptive_field == 1:
        x2d = x_all.index_select(0, frames + row_shift)                 # (B, J2, 2)
    else:
        win = window_indices(frames, tensors, receptive_field, causal=causal)  # (B, T)
        x2d = gather_windows(x_all, win + row_shift.unsqueeze(-1))      # (B, T, J2, 2)

    # targets are small (B, J, 3): mirror the whole batch and keep the mirrored rows of the flipped samples
    y3d = tensors.y3d.index_select(0, frames)                           # (B, J, 3)
    y3d = torch.where(flags[:, None, None], flip_pose_3d(y3d, tensors.skeleton), y3d)
    return x2d, y3d
