"""View augmentation: identity reproduces the ground-truth batch; each factor changes what it says and nothing else."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift_core.augmentation import DERIVED_JOINTS, ViewAugmentation, ancestor_matrix, augmented_batch
from poselift_core.batching import make_batch
from poselift_core.camera import project_normalized
from poselift_core.skeleton import H36M_17
from poselift_core.sources import load_dataset


@pytest.fixture(scope="module")
def tensors():
    # the open benchmark's smaller test subject: real poses, four distorting Human3.6M cameras
    return load_dataset("open", joints=17).tensors("131")


def _idx(tensors, n=64, seed=0):
    # both halves of make_batch's index space: plain and mirrored samples
    return torch.randint(0, 2 * tensors.num_frames, (n,), generator=torch.Generator().manual_seed(seed))


def test_identity_reproduces_ground_truth_batch(tensors):
    idx = _idx(tensors)
    assert (idx >= tensors.num_frames).any() and (idx < tensors.num_frames).any()
    x0, y0 = make_batch(tensors, idx)
    # a depth range that is not exactly (1, 1) forces the re-projection path with factors equal to 1
    x1, y1 = augmented_batch(tensors, idx, ViewAugmentation(depth=(1.0, 1.0 + 1e-9)))
    torch.testing.assert_close(x1, x0, atol=2e-6, rtol=0)
    torch.testing.assert_close(y1, y0)
    x2, y2 = augmented_batch(tensors, idx, ViewAugmentation(bone_scale=0.3, noise_2d=0.1, p=0.0))
    torch.testing.assert_close(x2, x0, atol=2e-6, rtol=0)
    torch.testing.assert_close(y2, y0)


def test_ancestor_matrix_rebuilds_joints_from_bones():
    sk = H36M_17
    y = torch.randn(5, sk.num_joints, 3, dtype=torch.float64)
    y = y - y[:, :1]
    bones = y - y[:, [max(p, 0) for p in sk.parents]]
    # independent: walk every joint's chain to the root and sum its bones
    expected = torch.zeros_like(y)
    for j in range(sk.num_joints):
        k = j
        while sk.parents[k] >= 0:
            expected[:, j] += bones[:, k]
            k = sk.parents[k]
    M = ancestor_matrix(sk).double()
    torch.testing.assert_close(torch.einsum("jk,bkc->bjc", M, bones), expected)
    torch.testing.assert_close(expected, y)


def test_bone_scale_keeps_directions_and_bounds_lengths(tensors):
    idx, a = _idx(tensors), 0.2
    _, y0 = make_batch(tensors, idx)
    _, y1 = augmented_batch(tensors, idx, ViewAugmentation(bone_scale=a), torch.Generator().manual_seed(1))
    par = [max(p, 0) for p in tensors.skeleton.parents]
    b0, b1 = (y0 - y0[:, par])[:, 1:].double(), (y1 - y1[:, par])[:, 1:].double()
    ratio = b1.norm(dim=-1) / b0.norm(dim=-1)
    assert ratio.min() >= 1 - a - 1e-5 and ratio.max() <= 1 + a + 1e-5
    assert ratio.std() > 0.02                                       # the bones really changed, independently
    cos = (b0 * b1).sum(-1) / (b0.norm(dim=-1) * b1.norm(dim=-1))
    assert cos.min() > 1 - 1e-6


def test_joint_offsets_move_only_derived_joints(tensors):
    idx = _idx(tensors)
    _, y0 = make_batch(tensors, idx)
    _, y1 = augmented_batch(tensors, idx, ViewAugmentation(joint_offset=0.05), torch.Generator().manual_seed(2))
    assert y1[:, 0].abs().max() == 0                                  # root-centred again
    # relative to the pelvis offset, only the derived joints move
    derived = [tensors.skeleton.names.index(n) for n in DERIVED_JOINTS]
    shift = (y1 - y0) - (y1 - y0)[:, 1:2]                             # RHip is not derived: its motion = -pelvis offset
    others = [j for j in range(tensors.skeleton.num_joints) if j not in derived]
    assert shift[:, others].abs().max() < 1e-6
    assert shift[:, derived[1:]].norm(dim=-1).mean() > 0.03


def test_depth_keeps_root_pixel_and_focal_scales_about_centre(tensors):
    idx = _idx(tensors)
    x0, y0 = make_batch(tensors, idx)
    x1, y1 = augmented_batch(tensors, idx, ViewAugmentation(depth=(1.5, 1.5)))
    torch.testing.assert_close(y1, y0)
    torch.testing.assert_close(x1[:, 0], x0[:, 0], atol=2e-6, rtol=0)   # root slides along its viewing ray
    size0 = (x0 - x0[:, :1]).norm(dim=-1).mean(-1)
    size1 = (x1 - x1[:, :1]).norm(dim=-1).mean(-1)
    ratio = (size1 / size0).numpy()
    assert np.all((ratio > 1 / 1.5 * 0.9) & (ratio < 1 / 1.5 * 1.1))    # farther -> smaller, about 1/k
    # focal: distortion acts before the focal length, so pixels move away from the principal point by k exactly
    x2, _ = augmented_batch(tensors, idx, ViewAugmentation(focal=(1.25, 1.25)))
    F = tensors.num_frames
    flipped = idx >= F
    frames = idx - F * flipped
    c = tensors.intrinsics[tensors.frame_seq[frames]][:, 2:4].clone()
    c[:, 0] = torch.where(flipped, -c[:, 0], c[:, 0])
    torch.testing.assert_close(x2 - c[:, None], 1.25 * (x0 - c[:, None]), atol=5e-6, rtol=0)


def test_noise_is_bounded_and_leaves_targets(tensors):
    idx = _idx(tensors, n=256)
    x0, y0 = make_batch(tensors, idx)
    x1, y1 = augmented_batch(tensors, idx, ViewAugmentation(noise_2d=0.01), torch.Generator().manual_seed(3))
    torch.testing.assert_close(y1, y0)
    d = (x1 - x0)
    assert 0.001 < float(d.std()) < 0.01                                # per-sample sigma ~ U(0, 0.01)


def test_projection_of_augmented_pose_is_the_input(tensors):
    """Input and target stay consistent: the 2D is the augmented 3D seen by the augmented camera."""
    idx = torch.arange(8)                                               # plain samples
    aug = ViewAugmentation(bone_scale=0.1, joint_offset=0.02, depth=(0.7, 0.7), focal=(0.9, 0.9))
    x, y = augmented_batch(tensors, idx, aug, torch.Generator().manual_seed(4))
    cam = tensors.intrinsics[tensors.frame_seq[idx]].clone()
    cam[:, :2] *= 0.9
    expected = project_normalized(y + 0.7 * tensors.root[idx][:, None], cam[:, None])
    torch.testing.assert_close(x, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kwargs", [dict(depth=(0.0, 1.0)), dict(focal=(1.2, 0.8)), dict(bone_scale=1.0),
                                    dict(noise_2d=-1.0), dict(p=1.5)])
def test_bad_ranges_are_refused(kwargs):
    with pytest.raises(ValueError, match="augment"):
        ViewAugmentation(**kwargs)
