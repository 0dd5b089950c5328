"""Weight-block index matrices, read off the layers by differentiation, against Liu et al.'s formulas (ECCV 2020)."""
import pytest
import torch
import torch.nn as nn

from poselift_core.models import build_model
from poselift_core.models.sharing import num_weight_blocks, weight_block_ids, weight_sharing_matrix
from poselift_core.skeleton import H36M_16, Skeleton


def _expected(variant: str, sk: Skeleton) -> torch.Tensor:
    """The block id of every (receiver i, sender j) pair written from each variant's formula."""
    J = sk.num_joints
    i = torch.arange(J).view(J, 1).expand(J, J)
    j = torch.arange(J).view(1, J).expand(J, J)
    self_loop = i == j
    parents = torch.tensor(sk.parents)
    rule = {
        "vanilla": torch.zeros(J, J, dtype=torch.long),
        "dc_vanilla": torch.where(self_loop, 0, 1),
        "preagg": j,
        "postagg": i,
        "dc_preagg": torch.where(self_loop, j, J + j),
        "modulated": torch.where(self_loop, j, J + j),  # (W_0|W_1 block, modulation row of the sender)
        "dc_postagg": torch.where(self_loop, i, J + i),
        "convst": torch.where(self_loop, 0, torch.where(parents[i] == j, 1, 2)),
    }[variant]
    connected = sk.adjacency("none") != 0
    return torch.where(connected, rule, -1)


@pytest.mark.parametrize("variant", ["vanilla", "dc_vanilla", "preagg", "postagg", "dc_preagg", "dc_postagg",
                                     "convst", "modulated"])
def test_block_ids_match_the_formulas(variant):
    torch.testing.assert_close(weight_sharing_matrix(variant), _expected(variant, H36M_16), rtol=0, atol=0)


def test_nosharing_gives_every_connected_pair_its_own_block():
    M = weight_sharing_matrix("nosharing")
    nnz = int((H36M_16.adjacency("none") != 0).sum())  # 46: 15 bones both ways + 16 self-loops
    assert num_weight_blocks(M) == nnz == 46
    assert ((M >= 0) == (H36M_16.adjacency("none") != 0)).all()


def test_semgcn_shares_like_decoupled_vanilla():
    torch.testing.assert_close(weight_sharing_matrix("semgcn"), _expected("dc_vanilla", H36M_16), rtol=0, atol=0)


def test_convstyle_follows_parents_not_index_order():
    # joint 1's parent has a larger index (2): an index-order split would call 2 a child of 1
    sk = Skeleton("tiny", ("root", "a", "b", "c"), (-1, 2, 0, 2), left=(), right=())
    M = weight_sharing_matrix("convst", skeleton=sk)
    assert M[1, 2] == 1 and M[2, 1] == 2  # sender 2 is joint 1's parent; joint 1 is 2's child
    torch.testing.assert_close(M, _expected("convst", sk), rtol=0, atol=0)


class _MixedBlocks(nn.Module):
    """Every message uses W_0 + W_1: not a single block per pair."""

    in_channels, out_channels = 2, 3

    def __init__(self):
        super().__init__()
        self.register_buffer("adj", H36M_16.adjacency("row"))
        self.weight = nn.Parameter(torch.randn(2, 2, 3))

    def adjacency(self):
        return self.adj

    def forward(self, x):
        return self.adj @ (x @ self.weight[0] + x @ self.weight[1])


def test_a_pair_using_two_blocks_is_rejected():
    with pytest.raises(ValueError, match="uses 2 blocks of 'weight'"):
        weight_block_ids(_MixedBlocks())


def test_layer_without_stacked_weights_is_rejected():
    layer = build_model("vanilla", hidden=3).input.gconv
    layer.weight = nn.Parameter(torch.randn(5, 7))  # neither (C_in, C_out) nor (..., C_out)
    with pytest.raises(ValueError, match="has no parameter shaped"):
        weight_block_ids(layer)
