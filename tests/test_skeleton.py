import torch
import pytest

from poselift_core.skeleton import (H36M_16, H36M_17, H36M_32, H36M_32_TO_17, HUMANEVA_15, Skeleton,
                                    flip_index, get_skeleton)


def test_h36m17_is_the_reduced_mocap_skeleton_with_shoulders_on_thorax():
    removed = sorted(set(range(32)) - set(H36M_32_TO_17))
    reduced = H36M_32.remove_joints(removed)
    parents = list(reduced.parents)
    # Human3.6M/VideoPose3D: after reduction both shoulders are re-attached to the Thorax (index 8)
    parents[11] = parents[14] = 8
    assert tuple(parents) == H36M_17.parents
    assert reduced.left == H36M_17.left and reduced.right == H36M_17.right


def test_h36m16_is_h36m17_without_nose():
    reduced = H36M_17.remove_joints([9])
    assert reduced.parents == H36M_16.parents
    assert reduced.left == H36M_16.left and reduced.right == H36M_16.right
    assert reduced.names == H36M_16.names


@pytest.mark.parametrize("sk", [H36M_17, H36M_16, HUMANEVA_15])
def test_flip_permutation_is_an_involution_swapping_names(sk):
    perm = sk.flip_permutation
    assert [perm[p] for p in perm] == list(range(sk.num_joints))
    for j, p in enumerate(perm):
        a, b = sk.names[j], sk.names[p]
        if j == p:
            assert j not in sk.left and j not in sk.right
        else:  # partners differ only in their side prefix
            assert a[1:].lower() == b[1:].lower() and {a[0], b[0]} == {"L", "R"}


def test_flip_index_of_any_layout_swaps_exactly_the_given_pairs():
    # a 2D layout may pair its joints differently from the skeleton: here joints 0<->3 and 4<->1, 2 unpaired
    assert flip_index((0, 4), (3, 1), 5) == [3, 4, 2, 0, 1]
    assert flip_index((), (), 3) == [0, 1, 2]
    assert flip_index(H36M_17.left, H36M_17.right, 17) == H36M_17.flip_permutation
    with pytest.raises(ValueError, match="left has 2 joints but right has 1"):
        flip_index((0, 1), (2,), 3)
    for bad in ((5,), (-1,)):
        with pytest.raises(ValueError, match=r"out of range for 5 joints"):
            flip_index((0,), bad, 5)


def test_row_normalised_adjacency_known_values():
    A = H36M_16.adjacency("row")
    # root row: {0, 1, 4, 7} each 1/4 (SemGCN's D^-1 (A + I)); thorax has 4 neighbours -> 1/5; leaves 1/2
    expected_root = torch.zeros(16)
    expected_root[[0, 1, 4, 7]] = 0.25
    torch.testing.assert_close(A[0], expected_root)
    assert A[8, 8].item() == pytest.approx(0.2)
    assert A[3, 3].item() == pytest.approx(0.5)
    torch.testing.assert_close(A.sum(1), torch.ones(16))
    assert (A > 0).sum().item() - 16 == 30  # 15 bones, both directions


def test_diag1_adjacency_known_root_row():
    A = H36M_16.adjacency("diag1")
    expected = torch.zeros(16)
    expected[0] = 1
    expected[[1, 4, 7]] = 1 / 3
    torch.testing.assert_close(A[0], expected)


def test_bad_skeletons_and_lookups_fail_clearly():
    with pytest.raises(ValueError, match="2 parents for 3 joint names"):
        Skeleton("x", ("a", "b", "c"), (-1, 0), (), ())
    with pytest.raises(ValueError, match="exactly one root"):
        Skeleton("x", ("a", "b"), (-1, -1), (), ())
    with pytest.raises(ValueError, match="unknown skeleton"):
        get_skeleton("h36m99")
    assert get_skeleton(17) is H36M_17 and get_skeleton("h36m16") is H36M_16
    with pytest.raises(KeyError, match="no joint 'Tail'"):
        H36M_17.index("Tail")
