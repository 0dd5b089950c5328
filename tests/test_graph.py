"""Tests for poselift_core.graph: the bone adjacency against a construction from the parent list, its
normalisations from their definitions, the topological rank's invariants and ST-GCN's spatial partition."""
from __future__ import annotations

import pytest
import torch

from poselift_core.graph import adjacency_matrix, normalize_adjacency, spatial_partition, topological_rank
from poselift_core.skeleton import H36M_16, H36M_17, HUMANEVA_15, Skeleton


def permute_skeleton(sk: Skeleton, order: list[int]) -> Skeleton:
    """The same skeleton with joint ``order[k]`` stored at index ``k``."""
    new = {old: k for k, old in enumerate(order)}
    return Skeleton(name=sk.name + "-perm", names=tuple(sk.names[o] for o in order),
                    parents=tuple(-1 if sk.parents[o] < 0 else new[sk.parents[o]] for o in order),
                    left=tuple(new[l] for l in sk.left), right=tuple(new[r] for r in sk.right))


SHUFFLED = permute_skeleton(H36M_17, [5, 3, 0, 16, 8, 1, 2, 4, 6, 7, 9, 10, 11, 12, 13, 14, 15])
TREES = [H36M_16, H36M_17, HUMANEVA_15, SHUFFLED]


# --------------------------------------------------------------------------- adjacency
@pytest.mark.parametrize("sk", TREES, ids=lambda sk: sk.name)
def test_adjacency_joins_every_joint_to_its_parent_both_ways(sk):
    J = sk.num_joints
    expected = torch.zeros(J, J)
    for i in range(J):
        for j in range(J):
            expected[i, j] = float(sk.parents[i] == j or sk.parents[j] == i)
    A = adjacency_matrix(sk)
    assert torch.equal(A, expected)
    assert torch.equal(adjacency_matrix(list(sk.parents)), A)  # the parent list alone is enough
    assert int(A.sum()) == 2 * (J - 1)                         # a tree has J - 1 bones
    assert adjacency_matrix(sk, dtype=torch.float64).dtype == torch.float64


def test_normalisations_follow_their_definitions():
    A = adjacency_matrix(H36M_17, dtype=torch.float64)
    J = A.shape[0]
    for i in range(J):
        deg = float(A[i].sum())
        row, diag1, none = (normalize_adjacency(A, n)[i] for n in ("row", "diag1", "none"))
        for j in range(J):
            connected = float(A[i, j] == 1 or i == j)
            assert row[j] == pytest.approx(connected / (deg + 1))    # D^-1 (A + I)
            assert diag1[j] == pytest.approx(1.0 if i == j else float(A[i, j]) / deg)
            assert none[j] == connected
    with pytest.raises(ValueError, match="'sym'"):
        normalize_adjacency(A, "sym")


def test_graphs_permute_with_the_joints():
    order = [5, 3, 0, 16, 8, 1, 2, 4, 6, 7, 9, 10, 11, 12, 13, 14, 15]
    assert torch.equal(adjacency_matrix(SHUFFLED), adjacency_matrix(H36M_17)[order][:, order])
    assert torch.equal(spatial_partition(SHUFFLED), spatial_partition(H36M_17)[:, order][:, :, order])


# --------------------------------------------------------------------------- topological rank
def test_topological_rank_puts_parents_first():
    sk = permute_skeleton(H36M_17, [5, 3, 0, 16, 8, 1, 2, 4, 6, 7, 9, 10, 11, 12, 13, 14, 15])
    rank = topological_rank(sk.parents)
    assert sorted(rank) == list(range(17))
    assert all(rank[p] < rank[j] for j, p in enumerate(sk.parents) if p >= 0)
    assert topological_rank(H36M_17.parents) == list(range(17))


@pytest.mark.parametrize("sk", TREES, ids=lambda sk: sk.name)
def test_topological_rank_is_a_parents_first_permutation_with_the_root_first(sk):
    rank = topological_rank(sk)
    assert sorted(rank) == list(range(sk.num_joints))
    assert rank[sk.root] == 0
    assert all(rank[p] < rank[j] for j, p in enumerate(sk.parents) if p >= 0)


# --------------------------------------------------------------------------- spatial partition
@pytest.mark.parametrize("sk", TREES, ids=lambda sk: sk.name)
def test_partition_rows_are_self_parent_and_mean_of_children(sk):
    A = spatial_partition(sk)
    J = sk.num_joints
    assert A.shape == (3, J, J)
    assert torch.equal(A[0], torch.eye(J))
    for i in range(J):
        parent_row = torch.zeros(J)
        if sk.parents[i] >= 0:
            parent_row[sk.parents[i]] = 1.0
        children_row = torch.zeros(J)
        for c in sk.children[i]:
            children_row[c] = 1.0 / len(sk.children[i])
        assert torch.equal(A[1, i], parent_row), i
        torch.testing.assert_close(A[2, i], children_row)
    # the three subsets together cover exactly the bones and the self-loops
    assert torch.equal((A != 0).any(0), adjacency_matrix(sk) + torch.eye(J) != 0)


def test_partition_known_values_on_h36m17():
    A = spatial_partition(H36M_17)
    hip, thorax, neck, lsho, rsho, spine = 0, 8, 9, 11, 14, 7
    assert torch.equal(A[0], torch.eye(17))
    assert A[1, hip].sum() == 0                         # the root receives nothing from its (absent) parent
    assert A[1, lsho, thorax] == 1 and A[1, lsho].sum() == 1
    expected_row = torch.zeros(17)
    expected_row[[neck, lsho, rsho]] = 1 / 3            # Thorax receives the mean of its 3 children
    torch.testing.assert_close(A[2, thorax], expected_row)
    torch.testing.assert_close(A[2, hip, [1, 4, 7]], torch.full((3,), 1 / 3))
    assert A[2, spine, thorax] == 1
    # every non-leaf row of the outward graph is a mean; inward rows (non-root) are one-hot
    leaves = [j for j in range(17) if not H36M_17.children[j]]
    torch.testing.assert_close(A[2].sum(1)[[j for j in range(17) if j not in leaves]], torch.ones(17 - len(leaves)))
    assert A[1].sum(1).tolist() == [0.0] + [1.0] * 16


def test_humaneva_partition_is_a_consistent_rootward_split():
    """Quirk 7: the released HumanEva edge list mixes directions; ours is built from parents."""
    A = spatial_partition(HUMANEVA_15)
    for c, p in HUMANEVA_15.edges:
        assert A[1, c, p] == 1 and A[1, p, c] == 0
        assert A[2, p, c] == 1 / len(HUMANEVA_15.children[p]) and A[2, c, p] == 0
