import numpy as np
import pytest
import torch

from poselift_core.batching import (PoseTensors, flip_intrinsics, flip_keypoints_2d, flip_pose_3d,
                                    gather_windows, iterate_minibatches, make_batch, num_batches,
                                    padded_sequence, predict_with_flip, sequence_windows, window_indices)
from poselift_core.skeleton import H36M_16, H36M_17

LENGTHS = [1, 2, 5, 13, 30, 4]                           # several shorter than the receptive fields used


def make_tensors(lengths=LENGTHS, skeleton=H36M_17, seed=0) -> PoseTensors:
    g = torch.Generator().manual_seed(seed)
    F, S, J = sum(lengths), len(lengths), skeleton.num_joints
    length = torch.tensor(lengths)
    start = torch.cumsum(length, 0) - length
    y3d = 0.3 * torch.randn(F, J, 3, generator=g)
    y3d[:, 0] = 0
    return PoseTensors(
        x2d=torch.rand(F, J, 2, generator=g) * 2 - 1,
        y3d=y3d,
        root=torch.randn(F, 3, generator=g) + torch.tensor([0.0, 0.0, 5.0]),
        frame_seq=torch.repeat_interleave(torch.arange(S), length),
        seq_start=start,
        seq_length=length,
        intrinsics=torch.randn(S, 9, generator=g),
        subjects=["S1"] * S,
        actions=[f"Walking {s}" for s in range(S)],
        cameras=list(range(S)),
        skeleton=skeleton,
        keypoints_left=skeleton.left,
        keypoints_right=skeleton.right,
    )


def window_reference(frames, lengths, T, causal=False):
    """Slow reference: explicit loops over frames and window positions."""
    starts = np.cumsum([0] + lengths[:-1])
    out = []
    for f in frames.tolist():
        s = max(k for k, a in enumerate(starts) if a <= f)
        a, b = starts[s], starts[s] + lengths[s] - 1
        centre_offset = T - 1 if causal else T // 2
        row = []
        for t in range(T):
            g = f - centre_offset + t
            row.append(min(max(g, a), b))
        out.append(row)
    return torch.tensor(out)


# --------------------------------------------------------------------------- windows
@pytest.mark.parametrize("T", [1, 3, 9, 27])
@pytest.mark.parametrize("causal", [False, True])
def test_window_indices_match_loop_reference(T, causal):
    pt = make_tensors()
    frames = torch.arange(pt.num_frames)
    idx = window_indices(frames, pt, T, causal=causal)
    assert torch.equal(idx, window_reference(frames, LENGTHS, T, causal))
    # the (frame_seq, seq_start, seq_length) triple works as well as the dataclass
    assert torch.equal(idx, window_indices(frames, (pt.frame_seq, pt.seq_start, pt.seq_length), T, causal=causal))


def test_windows_repeat_boundary_frames_and_stay_in_their_sequence():
    pt = make_tensors()
    T = 9
    frames = torch.arange(pt.num_frames)
    idx = window_indices(frames, pt, T)
    assert (pt.frame_seq[idx] == pt.frame_seq[frames, None]).all()
    assert torch.equal(idx[:, T // 2], frames)            # the centre is the frame itself
    s = 4                                                 # a 30-frame sequence
    a, n = int(pt.seq_start[s]), int(pt.seq_length[s])
    assert idx[a].tolist() == [a] * 5 + [a + 1, a + 2, a + 3, a + 4]
    assert idx[a + n - 1].tolist() == [a + n - 5 + k for k in range(5)] + [a + n - 1] * 4
    w = gather_windows(pt.x2d, idx[a : a + 1])[0]         # the first frame's data is repeated
    assert torch.equal(w[:5], pt.x2d[a].expand(5, -1, -1))


def test_window_indices_reject_bad_arguments():
    pt = make_tensors()
    with pytest.raises(ValueError, match="odd"):
        window_indices(torch.arange(3), pt, 4)
    with pytest.raises(ValueError, match="pad"):
        window_indices(torch.arange(3), pt, 3, pad="zero")


def test_gather_windows_matches_loop():
    pt = make_tensors()
    idx = window_indices(torch.tensor([0, 7, 20, 54]), pt, 5)
    got = gather_windows(pt.y3d, idx)
    for b in range(idx.shape[0]):
        for t in range(idx.shape[1]):
            assert torch.equal(got[b, t], pt.y3d[idx[b, t]])


def test_sequence_windows_and_padded_sequence_agree():
    pt = make_tensors()
    for s in range(pt.num_sequences):
        for T in (1, 9):
            win = sequence_windows(pt, s, T)                          # (N, T, J, 2)
            padded = padded_sequence(pt.x2d, pt, s, T)                # (N + T - 1, J, 2)
            slid = padded.unfold(0, T, 1).permute(0, 3, 1, 2)         # sliding windows of the padded sequence
            assert win.shape == (int(pt.seq_length[s]), T, 17, 2)
            assert torch.equal(win, slid)


# --------------------------------------------------------------------------- flips
def project_normalized(X: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Human3.6M distortion model in normalised screen units, written out for the test."""
    fx, fy, cx, cy, k1, k2, k3, p1, p2 = k.unbind(-1)
    x, y = (X[..., 0] / X[..., 2]).clamp(-1, 1), (X[..., 1] / X[..., 2]).clamp(-1, 1)
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    tan = p1 * x + p2 * y
    xd, yd = x * (radial + tan) + p1 * r2, y * (radial + tan) + p2 * r2
    return torch.stack([fx * xd + cx, fy * yd + cy], dim=-1)


def test_flip_twice_is_identity():
    pt = make_tensors()
    assert torch.equal(flip_keypoints_2d(flip_keypoints_2d(pt.x2d, pt.keypoints_left, pt.keypoints_right),
                                         pt.keypoints_left, pt.keypoints_right), pt.x2d)
    assert torch.equal(flip_pose_3d(flip_pose_3d(pt.y3d, pt.skeleton), pt.skeleton), pt.y3d)
    assert torch.equal(flip_intrinsics(flip_intrinsics(pt.intrinsics)), pt.intrinsics)
    assert not torch.equal(flip_pose_3d(pt.y3d, pt.skeleton), pt.y3d)


def test_flip_swaps_named_joints():
    y = torch.arange(17 * 3, dtype=torch.float32).reshape(17, 3)
    f = flip_pose_3d(y, H36M_17)
    l, r = H36M_17.index("LWrist"), H36M_17.index("RWrist")
    assert f[l].tolist() == [-y[r, 0].item(), y[r, 1].item(), y[r, 2].item()]
    assert f[0].tolist() == [-0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="joints"):
        flip_pose_3d(torch.zeros(5, 16, 3), H36M_17)


def test_flipped_2d_and_3d_stay_consistent_under_projection():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(50, 17, 3, generator=g, dtype=torch.float64) * 0.4
    X[..., 2] += 5.0                                      # camera space, in front of the camera
    k = torch.tensor([2.29, 2.29, 0.025, 0.03, -0.2, 0.24, -0.003, -0.001, -0.0014], dtype=torch.float64)
    x2d = project_normalized(X, k)
    flipped_3d = flip_pose_3d(X, H36M_17)
    reprojected = project_normalized(flipped_3d, flip_intrinsics(k))
    torch.testing.assert_close(reprojected, flip_keypoints_2d(x2d, H36M_17.left, H36M_17.right),
                               atol=1e-12, rtol=0)
    # without the intrinsics flip (cx, p1) the mirrored 3D does not project onto the mirrored 2D
    assert not torch.allclose(project_normalized(flipped_3d, k),
                              flip_keypoints_2d(x2d, H36M_17.left, H36M_17.right), atol=1e-4)


def test_predict_with_flip():
    sk = H36M_17
    x = make_tensors().x2d[:20]

    def equivariant(x2d):                                 # f(flip2d(x)) == flip3d(f(x))
        z = x2d[..., 1:] ** 2 + (x2d**2).sum((-2, -1), keepdim=True).unsqueeze(-1)[..., 0]
        return torch.cat([2 * x2d[..., :1], x2d[..., 1:], z], dim=-1)

    torch.testing.assert_close(predict_with_flip(equivariant, x, sk, sk.left, sk.right), equivariant(x))

    def skewed(x2d):                                      # not equivariant: averaging changes it
        return torch.cat([x2d + 0.1, x2d[..., :1] * 3], dim=-1)

    expected = np.empty((20, 17, 3), dtype=np.float32)
    xn = x.numpy()
    perm = list(range(17))
    for a, b in zip(sk.left, sk.right):
        perm[a], perm[b] = b, a
    for i in range(20):
        direct = skewed(x[i : i + 1])[0].numpy()
        xf = xn[i][perm] * np.array([-1, 1], dtype=np.float32)
        pf = skewed(torch.from_numpy(xf)[None])[0].numpy()[perm] * np.array([-1, 1, 1], dtype=np.float32)
        expected[i] = (direct + pf) / 2
    got = predict_with_flip(skewed, x, sk, sk.left, sk.right)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(got, skewed(x))


# --------------------------------------------------------------------------- batches
@pytest.mark.parametrize("T", [1, 9])
def test_make_batch_doubling_flips_2d_and_3d_together(T):
    pt = make_tensors()
    F = pt.num_frames
    idx = torch.tensor([0, 3, 17, F - 1, F + 0, F + 3, F + 17, 2 * F - 1])
    x, y = make_batch(pt, idx, receptive_field=T)
    frames = idx % F
    if T == 1:
        plain_x = pt.x2d[frames]
        assert x.shape == (8, 17, 2)
    else:
        plain_x = gather_windows(pt.x2d, window_indices(frames, pt, T))
        assert x.shape == (8, T, 17, 2)
    plain_y = pt.y3d[frames]
    torch.testing.assert_close(x[:4], plain_x[:4], rtol=0, atol=0)
    torch.testing.assert_close(y[:4], plain_y[:4], rtol=0, atol=0)
    torch.testing.assert_close(x[4:], flip_keypoints_2d(plain_x[4:], pt.keypoints_left, pt.keypoints_right))
    torch.testing.assert_close(y[4:], flip_pose_3d(plain_y[4:], pt.skeleton))
    # an explicit flip mask gives the same batch, and xors with the doubling
    flags = idx >= F
    x2, y2 = make_batch(pt, frames, receptive_field=T, flip=flags)
    assert torch.equal(x2, x) and torch.equal(y2, y)
    x3, _ = make_batch(pt, idx, receptive_field=T, flip=flags)
    assert torch.equal(x3, make_batch(pt, frames, receptive_field=T)[0])


def test_make_batch_with_a_2d_layout_different_from_the_skeleton():
    pt = make_tensors(skeleton=H36M_16)
    pt.keypoints_left, pt.keypoints_right = (1,), (2,)   # e.g. a detector's own symmetry
    x, y = make_batch(pt, torch.tensor([pt.num_frames + 5]))
    torch.testing.assert_close(x, flip_keypoints_2d(pt.x2d[5:6], (1,), (2,)))
    torch.testing.assert_close(y, flip_pose_3d(pt.y3d[5:6], H36M_16))


def test_mirrored_copy_is_rebuilt_when_the_layout_changes():
    pt = make_tensors()
    first = make_batch(pt, torch.tensor([pt.num_frames + 5]))[0]
    pt.keypoints_left, pt.keypoints_right = (1,), (2,)
    second = make_batch(pt, torch.tensor([pt.num_frames + 5]))[0]
    torch.testing.assert_close(first, flip_keypoints_2d(pt.x2d[5:6], H36M_17.left, H36M_17.right))
    torch.testing.assert_close(second, flip_keypoints_2d(pt.x2d[5:6], (1,), (2,)))


def test_minibatches_are_a_reproducible_permutation():
    n, bs = 103, 10
    a = list(iterate_minibatches(n, bs, generator=torch.Generator().manual_seed(7)))
    b = list(iterate_minibatches(n, bs, generator=torch.Generator().manual_seed(7)))
    c = list(iterate_minibatches(n, bs, generator=torch.Generator().manual_seed(8)))
    assert len(a) == num_batches(n, bs) == 11 and a[-1].numel() == 3
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))
    assert torch.equal(torch.cat(a).sort().values, torch.arange(n))
    dropped = list(iterate_minibatches(n, bs, generator=torch.Generator().manual_seed(7), drop_last=True))
    assert len(dropped) == num_batches(n, bs, drop_last=True) == 10
    ordered = list(iterate_minibatches(n, bs, shuffle=False))
    assert torch.equal(torch.cat(ordered), torch.arange(n))


def test_minibatches_resume_mid_epoch():
    gen = torch.Generator().manual_seed(3)
    list(iterate_minibatches(50, 8, generator=gen))       # epoch 0
    state = gen.get_state()                               # what a checkpoint stores at the start of epoch 1
    full = list(iterate_minibatches(50, 8, generator=gen))
    next_epoch = list(iterate_minibatches(50, 8, generator=gen))
    gen2 = torch.Generator()
    gen2.set_state(state)
    resumed = list(iterate_minibatches(50, 8, generator=gen2, start_batch=4))
    assert len(resumed) == len(full) - 4
    assert all(torch.equal(x, y) for x, y in zip(resumed, full[4:]))
    # the generator then continues exactly as in the uninterrupted run
    assert all(torch.equal(x, y) for x, y in zip(iterate_minibatches(50, 8, generator=gen2), next_epoch))
    with pytest.raises(ValueError, match="start_batch"):
        iterate_minibatches(50, 8, start_batch=99)


def test_random_move_rotates_in_the_image_plane_and_scales_x_y_only():
    from poselift_core.batching import random_move_targets

    g = torch.Generator().manual_seed(0)
    y = torch.randn(400, 17, 3, dtype=torch.float64)
    out = random_move_targets(y, generator=g)
    torch.testing.assert_close(out[..., 2], y[..., 2])                        # depth untouched
    # per sample: |xy| scaled by one factor of {0.95, 1, 1.05}, angle between xy vectors one of {-5, 0, 5} degrees
    ratio = out[..., :2].norm(dim=-1) / y[..., :2].norm(dim=-1)               # (B, J)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), atol=1e-9)
    factors = set(round(float(v), 6) for v in ratio[:, 0])
    assert factors == {0.95, 1.0, 1.05}
    cross = y[..., 0] * out[..., 1] - y[..., 1] * out[..., 0]
    dot = (y[..., :2] * out[..., :2]).sum(-1)
    angles = torch.rad2deg(torch.atan2(cross, dot))
    assert set(round(float(a), 4) for a in angles[:, 0]) == {-5.0, 0.0, 5.0}
    assert torch.allclose(angles, angles[:, :1].expand_as(angles), atol=1e-6)


def test_recipes_leave_random_move_off_and_the_trainer_applies_it_only_when_asked():
    from poselift_core.recipes import get_recipe, list_recipes

    assert not any(get_recipe(n).random_move for n in list_recipes())
    assert get_recipe("glagcn-h36m-gt-27", random_move=True).random_move
