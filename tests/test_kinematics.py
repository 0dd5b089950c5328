"""Kinematic trees (poselift_core.conversion.kinematics): Euler rotations and forward kinematics against rotations
written out by hand and an independent per-joint loop."""
import math

import numpy as np
import pytest

from poselift_core.conversion.kinematics import KinematicClip, euler_to_matrix, forward_kinematics


def rx(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def ry(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def rz(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_euler_to_matrix_composes_in_listed_order():
    a = np.deg2rad([30.0, -50.0, 70.0])
    R = euler_to_matrix(a, "zxy")
    Rz, Rx, Ry = (euler_to_matrix(np.array([v]), ax) for v, ax in zip(a, "zxy"))
    np.testing.assert_allclose(R, Rz @ Rx @ Ry, atol=1e-12)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(euler_to_matrix(np.array([np.pi / 2]), "z") @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_forward_kinematics_chain_of_right_angles():
    # three unit bones along x, each joint turning +90 deg about z: a square's corners
    parents = [-1, 0, 1, 2]
    offsets = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]], float)
    R = np.broadcast_to(euler_to_matrix(np.array([np.pi / 2]), "z"), (2, 4, 3, 3)).copy()
    R[1] = np.eye(3)
    P = forward_kinematics(parents, offsets, R, np.zeros((2, 3)))
    np.testing.assert_allclose(P[0], [[0, 0, 0], [0, 1, 0], [-1, 1, 0], [-1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(P[1], [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], atol=1e-12)


def test_euler_to_matrix_equals_rotations_typed_out():
    rng = np.random.default_rng(1)
    angles = rng.uniform(-np.pi, np.pi, size=(5, 3))
    one_axis = {"x": rx, "y": ry, "z": rz}
    for axes in ("xyz", "zyx", "zxy", "yzx", "xzy"):
        R = euler_to_matrix(angles, axes)                               # (5, 3, 3), vectorised
        for i in range(5):
            ref = one_axis[axes[0]](angles[i, 0]) @ one_axis[axes[1]](angles[i, 1]) @ one_axis[axes[2]](angles[i, 2])
            np.testing.assert_allclose(R[i], ref, atol=1e-12)
    assert euler_to_matrix(np.zeros((2, 4, 2)), "xz").shape == (2, 4, 3, 3)


def test_forward_kinematics_two_bone_chain_by_hand():
    # root turned 90 deg about z, the middle joint 90 deg about x: bone 2 (0, 1, 0) becomes (0, 0, 1) in the
    # middle joint's parent frame, which the root's turn leaves unchanged; bone 1 (1, 0, 0) becomes (0, 1, 0)
    R = np.stack([rz(np.pi / 2), rx(np.pi / 2), np.eye(3)])[None]
    offsets = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float)
    P = forward_kinematics([-1, 0, 1], offsets, R, np.array([[5.0, 6.0, 7.0]]))
    np.testing.assert_allclose(P[0], [[5, 6, 7], [5, 7, 7], [5, 7, 8]], atol=1e-12)


def test_forward_kinematics_matches_a_per_joint_loop():
    # a branching tree, per-frame offsets (animated translations), random rotations: scalar reference loop
    rng = np.random.default_rng(2)
    parents = [-1, 0, 1, 1, 0, 4, 2]
    N, K = 4, len(parents)
    R = euler_to_matrix(rng.uniform(-np.pi, np.pi, size=(N, K, 3)), "zxy")
    offsets = rng.normal(size=(N, K, 3))
    root = rng.normal(size=(N, 3))
    P = forward_kinematics(parents, offsets, R, root)
    for n in range(N):
        G, p = {}, {}
        for k, q in enumerate(parents):
            if q < 0:
                G[k], p[k] = R[n, k], root[n]
            else:
                G[k] = G[q] @ R[n, k]
                p[k] = p[q] + G[q] @ offsets[n, k]
            np.testing.assert_allclose(P[n, k], p[k], atol=1e-12)
    clip = KinematicClip([f"j{k}" for k in range(K)], np.array(parents), offsets, R, root, fps=25.0)
    np.testing.assert_array_equal(clip.positions(), P)
    np.testing.assert_allclose(clip.frame_times(), np.arange(N) / 25.0)


def test_forward_kinematics_rejects_bad_trees():
    R = np.broadcast_to(np.eye(3), (1, 3, 3, 3))
    with pytest.raises(ValueError, match=r"parents must list joint 0 as the only root"):
        forward_kinematics([-1, 2, 0], np.zeros((3, 3)), R, np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"rotations \(1, 3, 3, 3\) do not match 2 joints"):
        forward_kinematics([-1, 0], np.zeros((2, 3)), R, np.zeros((1, 3)))
