"""Tests for poselift_core.models.gcn: every layer against an explicit per-joint loop of its formula,
weight sharing seen through perturbations, the reference parameter counts (chapter 6, "Model sizes") and the network."""
from __future__ import annotations

from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from poselift_core.models import count_parameters
from poselift_core.models.gcn import (
    GRAPH_CONVS, MODEL_BUILDERS, ConditionalAdjacency, ConvStyleGraphConv, DecoupledPostAggGraphConv,
    DecoupledPreAggGraphConv, DecoupledVanillaGraphConv, GaussianNonLocal, GCNConfig, GCNLifter, GraphNonLocal,
    ModulatedGraphConv, NoSharingGraphConv, PostAggGraphConv, PreAggGraphConv, SemGraphConv, VanillaGraphConv,
    topological_rank)
from poselift_core.skeleton import H36M_16, H36M_17, Skeleton

DT = torch.float64


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These tensors are tiny: one thread avoids OpenMP barrier stalls on a shared, loaded CI machine
    (measured: 10 forwards of a width-16 model took 16 s with 2 busy-waiting threads, 0.1 s with one)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# A tiny tree: 0 -> 1 -> 2, 0 -> 3 -> 4, 0 -> 5 (parents precede children, like the Human3.6M orders)
TINY = Skeleton(name="tiny6", names=tuple("abcdef"), parents=(-1, 0, 1, 0, 3, 0), left=(1, 2), right=(3, 4),
                nonlocal_groups=((0, 5), (1, 2), (3, 4)))
J, B, CI, CO = 6, 3, 3, 4
BONE = TINY.adjacency("none") != 0  # pattern of A + I


def make_layer(variant: str, c_in: int = CI, c_out: int = CO, skeleton: Skeleton = TINY, adj=None, **kw):
    adj = skeleton.adjacency("row") if adj is None else adj
    cls = GRAPH_CONVS[variant]
    if cls is ConvStyleGraphConv:
        layer = cls(c_in, c_out, adj, skeleton.parents)
    else:
        layer = cls(c_in, c_out, adj, **kw)
    layer = layer.to(DT)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # random values everywhere, so that no term can hide behind an init constant
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=DT))
    return layer


def random_adjacency(per_sample: bool, pattern_only: bool, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.rand((B, J, J) if per_sample else (J, J), generator=g, dtype=DT) + 0.1  # asymmetric
    return A * BONE if pattern_only else A


def loop_reference(variant: str, layer, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """The layer's formula written out joint by joint (Liu et al., ECCV 2020), ``A`` per sample ``(B, J, J)``."""
    W, b = layer.weight, layer.bias
    out = torch.zeros(x.shape[0], J, layer.out_channels, dtype=DT)
    for s in range(x.shape[0]):
        As = A[s]
        if variant == "modulated":
            Aq = As + layer.adj_offset
            As = 0.5 * (Aq + Aq.T)
        for i in range(J):
            acc = b.clone()
            if variant == "postagg":
                acc += sum(As[i, j] * x[s, j] for j in range(J)) @ W[i]
            elif variant == "dc_postagg":
                acc += (As[i, i] * x[s, i]) @ W[0, i] + sum(As[i, j] * x[s, j] for j in range(J) if j != i) @ W[1, i]
            else:
                for j in range(J):
                    if variant == "vanilla":
                        msg = x[s, j] @ W
                    elif variant in ("dc_vanilla", "semgcn"):
                        msg = x[s, j] @ W[0 if i == j else 1]
                    elif variant == "preagg":
                        msg = x[s, j] @ W[j]
                    elif variant == "dc_preagg":
                        msg = x[s, j] @ (W[0, i] if i == j else W[1, j])
                    elif variant == "convst":  # the reference's split on a parents-first order: lower = parent side
                        msg = x[s, j] @ W[0 if i == j else (1 if j < i else 2)]
                    elif variant == "nosharing":
                        if layer.dense_weights:
                            msg = x[s, j] @ W[i, j]
                        else:
                            pairs = [tuple(e) for e in layer.edge_index.t().tolist()]
                            if (i, j) not in pairs:
                                continue  # no weight block for this pair (documented)
                            msg = x[s, j] @ W[pairs.index((i, j))]
                    elif variant == "modulated":
                        msg = layer.modulation[j] * (x[s, j] @ W[0 if i == j else 1])
                    acc = acc + As[i, j] * msg
            out[s, i] = acc
    return out


def semgcn_softmax_loop(layer: SemGraphConv) -> torch.Tensor:
    S = torch.zeros(J, J, dtype=DT)
    pattern = [(i, j) for i in range(J) for j in range(J) if BONE[i, j]]
    logits = dict(zip(pattern, layer.edge_logits))
    for i in range(J):
        den = sum(torch.exp(logits[i, k]) for k in range(J) if BONE[i, k])
        for j in range(J):
            if BONE[i, j]:
                S[i, j] = torch.exp(logits[i, j]) / den
    return S


VARIANTS = list(GRAPH_CONVS)


# --------------------------------------------------------------------------- layer formulas
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("adj_kind", ["shared", "per_sample", "dense_per_sample"])
def test_layer_matches_loop_formula(variant, adj_kind):
    layer = make_layer(variant)
    x = torch.randn(B, J, CI, dtype=DT)
    A = random_adjacency(per_sample=adj_kind != "shared", pattern_only=adj_kind != "dense_per_sample")
    out = layer(x, A)
    A_loop = A if A.dim() == 3 else A.expand(B, J, J)
    torch.testing.assert_close(out, loop_reference(variant, layer, x, A_loop))


@pytest.mark.parametrize("variant", VARIANTS)
def test_layer_default_adjacency_is_its_own(variant):
    layer = make_layer(variant)
    x = torch.randn(B, J, CI, dtype=DT)
    own = semgcn_softmax_loop(layer) if variant == "semgcn" else TINY.adjacency("row").to(DT)
    torch.testing.assert_close(layer(x), loop_reference(variant, layer, x, own.expand(B, J, J)))


def test_nosharing_dense_weights_reach_every_pair():
    layer = make_layer("nosharing", dense_weights=True)
    assert layer.weight.shape == (J, J, CI, CO)
    x = torch.randn(B, J, CI, dtype=DT)
    A = random_adjacency(per_sample=True, pattern_only=False)
    torch.testing.assert_close(layer(x, A), loop_reference("nosharing", layer, x, A))
    sparse = make_layer("nosharing")
    assert sparse.weight.shape == (int(BONE.sum()), CI, CO)


def test_semgcn_edge_weights_start_as_row_normalised_adjacency():
    layer = SemGraphConv(CI, CO, TINY.adjacency("row")).to(DT)  # reference init: logits = 1
    torch.testing.assert_close(layer.adjacency(), TINY.adjacency("row").to(DT))
    assert layer.edge_logits.numel() == int(BONE.sum())


# --------------------------------------------------------------------------- weight sharing
def changed_joints(layer, x, perturb) -> set[int]:
    before = layer(x)
    with torch.no_grad():
        perturb(layer)
    diff = (layer(x) - before).abs().amax(dim=(0, 2))
    return {i for i in range(J) if diff[i] > 1e-9}


NEIGHBOURS = [{j for j in range(J) if BONE[i, j]} for i in range(J)]  # includes i itself


@pytest.mark.parametrize("variant, index, expected", [
    ("vanilla", (0, 0), set(range(J))),
    ("preagg", (1,), NEIGHBOURS[1]),  # sender 1 reaches the receivers adjacent to it
    ("preagg", (5,), NEIGHBOURS[5]),
    ("postagg", (3,), {3}),  # receiver 3 only
    ("dc_preagg", (0, 4), {4}),  # self weight of joint 4
    ("dc_preagg", (1, 3), NEIGHBOURS[3] - {3}),  # neighbour weight of sender 3
    ("dc_postagg", (0, 2), {2}),
    ("dc_postagg", (1, 2), {2}),
    ("convst", (1,), {i for i in range(J) if TINY.parents[i] >= 0}),  # parent weight: every non-root joint
    ("convst", (2,), {p for p in TINY.parents if p >= 0}),  # children weight: every joint with children
])
def test_perturbing_a_weight_block_changes_only_its_receivers(variant, index, expected):
    layer = make_layer(variant)
    x = torch.randn(B, J, CI, dtype=DT)
    assert changed_joints(layer, x, lambda m: m.weight[index].add_(0.5)) == expected


@pytest.mark.parametrize("dense", [False, True])
def test_nosharing_block_ij_only_changes_receiver_i(dense):
    layer = make_layer("nosharing", dense_weights=dense)
    x = torch.randn(B, J, CI, dtype=DT)
    for i, j in [(1, 0), (0, 3), (4, 4)]:
        if dense:
            block = (i, j)
        else:
            block = ([tuple(e) for e in layer.edge_index.t().tolist()].index((i, j)),)
        assert changed_joints(layer, x, lambda m: m.weight[block].add_(0.5)) == {i}


@pytest.mark.parametrize("variant, plain", [
    ("dc_vanilla", "vanilla"), ("dc_preagg", "preagg"), ("dc_postagg", "postagg")])
@pytest.mark.parametrize("zeroed", [0, 1])
def test_decoupled_terms_separate(variant, plain, zeroed):
    """Zeroing the self (neighbour) weight leaves exactly the undecoupled layer on the off-diagonal
    (diagonal) part of the adjacency, using the remaining weight."""
    A = random_adjacency(per_sample=False, pattern_only=True)
    eye = torch.eye(J, dtype=DT)
    layer = make_layer(variant, adj=A)
    with torch.no_grad():
        layer.weight[zeroed].zero_()
    kept = 1 - zeroed
    other = make_layer(plain, adj=A * eye if kept == 0 else A * (1 - eye))
    with torch.no_grad():
        other.weight.copy_(layer.weight[kept])
        other.bias.copy_(layer.bias)
    x = torch.randn(B, J, CI, dtype=DT)
    torch.testing.assert_close(layer(x), other(x))


# --------------------------------------------------------------------------- conv-style partition
def permute_skeleton(sk: Skeleton, order: list[int]) -> Skeleton:
    """The same skeleton with joint ``order[k]`` stored at index ``k``."""
    new = {old: k for k, old in enumerate(order)}
    return Skeleton(name=sk.name + "-perm", names=tuple(sk.names[o] for o in order),
                    parents=tuple(-1 if sk.parents[o] < 0 else new[sk.parents[o]] for o in order),
                    left=tuple(new[l] for l in sk.left), right=tuple(new[r] for r in sk.right))


@pytest.mark.parametrize("sk", [H36M_16, H36M_17])
def test_convstyle_masks_equal_triangles_on_h36m_orders(sk):
    layer = ConvStyleGraphConv(2, 2, sk.adjacency(), sk.parents)
    n = sk.num_joints
    ones = torch.ones(n, n)
    torch.testing.assert_close(layer.parent_mask, torch.tril(ones, -1))
    torch.testing.assert_close(layer.child_mask, torch.triu(ones, 1))


def test_convstyle_follows_parents_under_a_permuted_joint_order():
    order = list(reversed(range(16)))  # children now come before their parents
    sk = permute_skeleton(H36M_16, order)
    layer = ConvStyleGraphConv(3, 4, sk.adjacency(), sk.parents).to(DT)
    bones = sk.adjacency("none") != 0
    is_parent = torch.zeros(16, 16, dtype=torch.bool)
    for i, p in enumerate(sk.parents):
        if p >= 0:
            is_parent[i, p] = True
    assert torch.equal(layer.parent_mask.bool() & bones, is_parent)
    assert torch.equal(layer.child_mask.bool() & bones, is_parent.T)
    assert not torch.equal(layer.parent_mask.bool() & bones, torch.ones(16, 16).tril(-1).bool() & bones)
    # equivariance: same weights on the original order give the permuted output
    base = ConvStyleGraphConv(3, 4, H36M_16.adjacency(), H36M_16.parents).to(DT)
    base.load_state_dict({k: v for k, v in layer.state_dict().items() if k in ("weight", "bias")}, strict=False)
    x = torch.randn(B, 16, 3, dtype=DT)
    torch.testing.assert_close(layer(x[:, order]), base(x)[:, order])


def test_topological_rank_puts_parents_first():
    sk = permute_skeleton(H36M_17, [5, 3, 0, 16, 8, 1, 2, 4, 6, 7, 9, 10, 11, 12, 13, 14, 15])
    rank = topological_rank(sk.parents)
    assert sorted(rank) == list(range(17))
    assert all(rank[p] < rank[j] for j, p in enumerate(sk.parents) if p >= 0)
    assert topological_rank(H36M_17.parents) == list(range(17))


# --------------------------------------------------------------------------- modulated
def test_modulated_offset_creates_symmetric_edges():
    layer = make_layer("modulated")
    with torch.no_grad():
        layer.adj_offset.zero_()
    x = torch.randn(B, J, CI, dtype=DT)
    x_moved_5, x_moved_2 = x.clone(), x.clone()
    x_moved_5[:, 5] += 1.0
    x_moved_2[:, 2] += 1.0
    # joints 2 and 5 are not adjacent: moving x_5 does not reach joint 2 ...
    assert torch.allclose(layer(x)[:, 2], layer(x_moved_5)[:, 2])
    zero_q = make_layer("modulated")
    zero_q.load_state_dict(layer.state_dict())
    with torch.no_grad():
        layer.adj_offset[2, 5] = 0.3  # ... until Q adds the pair, which the symmetrisation makes two-way
    assert not torch.allclose(layer(x)[:, 2], layer(x_moved_5)[:, 2])
    assert not torch.allclose(layer(x)[:, 5], layer(x_moved_2)[:, 5])
    # Q[2, 5] = 0.3 enters as 0.15 in both directions on top of (A + A^T) / 2
    A = TINY.adjacency("row").to(DT)
    A_sym = 0.5 * (A + A.T)
    A_sym[2, 5] += 0.15
    A_sym[5, 2] += 0.15
    torch.testing.assert_close(layer(x), loop_reference("modulated", zero_q, x, A_sym.expand(B, J, J)))


def test_modulated_default_network_uses_diag1_adjacency():
    m = MODEL_BUILDERS["modulated"](hidden=8, num_blocks=1)
    assert m.config.adjacency == "diag1"
    torch.testing.assert_close(m.input.gconv.adj, H36M_16.adjacency("diag1"))


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("variant", VARIANTS)
def test_layer_gradcheck(variant):
    layer = make_layer(variant, c_in=2, c_out=3)
    params = {k: v.detach().clone().requires_grad_() for k, v in layer.named_parameters()}
    x = torch.randn(2, J, 2, dtype=DT, requires_grad=True)
    # SemGCN's learned edge weights only act when no adjacency is passed
    A = None if variant == "semgcn" else (torch.rand(2, J, J, dtype=DT) * BONE).requires_grad_()
    names = list(params)

    def f(x, A, *ps):
        return functional_call(layer, dict(zip(names, ps)), (x, A))
    assert torch.autograd.gradcheck(f, (x, A, *params.values()), fast_mode=True)


def test_nonlocal_and_router_gradcheck():
    nl = GraphNonLocal(2, TINY.nonlocal_groups).to(DT)
    router = ConditionalAdjacency(2, J, 2).to(DT).eval()  # eval: no dropout, deterministic
    with torch.no_grad():
        nl.bn.weight.uniform_(0.5, 1.5)
        nl.bn.bias.normal_()
    x = torch.randn(J, 2, 2, dtype=DT, requires_grad=True)
    base = torch.rand(J, J, dtype=DT)
    assert torch.autograd.gradcheck(nl, (x,))
    assert torch.autograd.gradcheck(lambda x: router(x, base), (x,))


# --------------------------------------------------------------------------- network parts
def test_nonlocal_block_matches_loop_formula():
    C, Bn = 6, 4
    nl = GraphNonLocal(C, TINY.nonlocal_groups).to(DT)
    x = torch.randn(J, Bn, C, dtype=DT)
    torch.testing.assert_close(nl(x), x)  # BN gamma = beta = 0: identity at initialisation
    with torch.no_grad():
        nl.bn.weight.uniform_(0.5, 1.5)
        nl.bn.bias.normal_()
    groups = TINY.nonlocal_groups
    w = nl.pair_weight
    y = torch.zeros(Bn, J, C // 2, dtype=DT)
    for s in range(Bn):
        th = [nl.theta(x[i, s]) for i in range(J)]
        ph = [torch.stack([nl.phi(x[j, s]) for j in g]).amax(0) for g in groups]
        gg = [torch.stack([nl.g(x[j, s]) for j in g]).amax(0) for g in groups]
        for i in range(J):
            for k in range(len(groups)):
                f = torch.relu(w @ torch.cat([th[i], ph[k]]))
                y[s, i] += f / len(groups) * gg[k]
    z = nl.out(y)  # (B, J, C); BN over the (B, C, J) layout as SemGCN does
    z = F.batch_norm(z.transpose(1, 2), None, None, nl.bn.weight, nl.bn.bias, training=True).transpose(1, 2)
    torch.testing.assert_close(nl(x), x + z.transpose(0, 1))


def test_gaussian_nonlocal_block_matches_loop_formula():
    C, Bn = 4, 3
    nl = GaussianNonLocal(C).to(DT)
    x = torch.randn(J, Bn, C, dtype=DT)
    torch.testing.assert_close(nl(x), x)  # identity at initialisation
    with torch.no_grad():
        nl.bn.weight.uniform_(0.5, 1.5)
        nl.bn.bias.normal_()
    y = torch.zeros(Bn, J, C // 2, dtype=DT)
    for s in range(Bn):
        for i in range(J):
            scores = torch.stack([nl.theta(x[i, s]) @ nl.phi(x[j, s]) for j in range(J)])
            weights = torch.exp(scores) / torch.exp(scores).sum()
            y[s, i] = sum(weights[j] * nl.g(x[j, s]) for j in range(J))
    z = F.batch_norm(nl.out(y).transpose(1, 2), None, None, nl.bn.weight, nl.bn.bias, training=True)
    torch.testing.assert_close(nl(x), x + z.permute(2, 0, 1))


@pytest.mark.parametrize("reg_type", ["add", "mul", "no_skeleton"])
def test_conditional_adjacency_formula(reg_type):
    router = ConditionalAdjacency(4, J, 3, reg_type).to(DT).eval()
    x = torch.randn(J, 2, 4, dtype=DT)
    base = torch.rand(J, J, dtype=DT)
    out = router(x, base)
    for s in range(2):
        r = torch.sigmoid(router.gate(x[:, s].mean(0)))
        Ac = sum(r[e] * router.experts[e] for e in range(3))
        A = {"add": base + Ac, "mul": base * Ac, "no_skeleton": Ac}[reg_type]
        torch.testing.assert_close(out[s], 0.5 * (A + A.T))


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_uses_the_conditional_adjacency(variant):
    """Any-GCN quirk 2: pre/post-agg ignored the per-sample adjacency. Changing an expert must change the output."""
    torch.manual_seed(0)
    m = MODEL_BUILDERS[variant](hidden=8, num_blocks=1, num_experts=2).eval()
    x = torch.randn(4, 16, 2)
    before = m(x)
    with torch.no_grad():
        m.output.router.experts.add_(0.5)
    assert not torch.allclose(before, m(x))


def test_network_equals_composition_of_public_layers():
    """The joints-first network path (BN on the flat (J*B, C) view) equals the batch-first public layers with
    BatchNorm1d on the (B, C, J) transpose, as in the reference."""
    torch.manual_seed(0)
    m = MODEL_BUILDERS["dc_preagg"](hidden=8, num_blocks=2, non_local=True, gaussian_non_local=True)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm1d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_()
    x = torch.randn(5, 16, 2)

    def unit(u, h):
        h = u.gconv(h)
        if u.bn is None:
            return h
        h = F.batch_norm(h.transpose(1, 2), None, None, u.bn.weight, u.bn.bias, training=True)
        return torch.relu(h).transpose(1, 2)

    def nonlocal_(nl, h):
        return nl(h.transpose(0, 1)).transpose(0, 1)

    h = nonlocal_(m.input_nonlocal, unit(m.input, x))
    for block, nl in zip(m.blocks, m.block_nonlocals):
        h = nonlocal_(nl, h + unit(block[1], unit(block[0], h)))
    h = nonlocal_(m.output_nonlocal, h)
    torch.testing.assert_close(m(x), unit(m.output, h), rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- counts (tamasino52/Any-GCN)
REFERENCE_COUNTS = {
    "vanilla": 135_171, "dc_vanilla": 266_883, "preagg": 2_110_851, "dc_preagg": 4_218_243,
    "postagg": 2_110_851, "dc_postagg": 4_218_243, "convst": 398_595, "modulated": 287_923,
}


@pytest.mark.parametrize("variant", list(REFERENCE_COUNTS))
def test_parameter_counts_equal_reference(variant):
    assert count_parameters(MODEL_BUILDERS[variant]()) == REFERENCE_COUNTS[variant]


def test_modgcn_benchmark_network_count():
    # ModGCN-benchmark original: width 384, 17 joints, embedded-Gaussian block of 296,640 -> 2,731,840
    m = MODEL_BUILDERS["modulated"](skeleton="h36m17", hidden=384, dropout=0.2, modulation_init="xavier",
                                    gaussian_non_local=True)
    assert count_parameters(m.output_nonlocal) == 296_640
    assert count_parameters(m) == 2_731_840


def test_nosharing_counts_dense_reference_and_sparse_blocks():
    # reference: J^2 blocks (33,721,731); default: only the nnz(A) = 46 live blocks (deliberate, see docstring)
    assert count_parameters(MODEL_BUILDERS["nosharing"](dense_weights=True)) == 33_721_731
    nnz = int((H36M_16.adjacency() != 0).sum())
    assert nnz == 46
    sparse = count_parameters(MODEL_BUILDERS["nosharing"]())
    dead_blocks = (16 * 16 - nnz) * (2 * 128 + 8 * 128 * 128 + 128 * 3)
    assert sparse == 33_721_731 - dead_blocks == 6_062_211


def test_semgcn_count_is_the_reported_027M():
    # per layer 2*Ci*Co + nnz + Co; SemGCN README: 0.27M (0.43M with non-local)
    n = count_parameters(MODEL_BUILDERS["semgcn"]())
    assert n == 267_343 and round(n / 1e6, 2) == 0.27
    assert round(count_parameters(MODEL_BUILDERS["semgcn"](non_local=True)) / 1e6, 2) == 0.43


@pytest.mark.parametrize("variant, extra", [("vanilla", 155_961), ("modulated", 308_713), ("dc_preagg", 4_239_033)])
def test_experts_add_20790(variant, extra):
    assert count_parameters(MODEL_BUILDERS[variant](num_experts=6)) == extra


@pytest.mark.parametrize("variant, extra", [("vanilla", 302_531), ("modulated", 455_283)])
def test_non_local_adds_167360(variant, extra):
    assert count_parameters(MODEL_BUILDERS[variant](non_local=True)) == extra


# --------------------------------------------------------------------------- registry and network contract
@pytest.mark.parametrize("variant", VARIANTS)
def test_registry_round_trip(variant):
    torch.manual_seed(0)
    m = MODEL_BUILDERS[variant](hidden=8, num_blocks=1, num_experts=2, non_local=True, gaussian_non_local=True)
    m2 = MODEL_BUILDERS[variant](**asdict(m.config))
    assert m2.config == m.config
    assert count_parameters(m2) == count_parameters(m)
    assert list(m2.state_dict()) == list(m.state_dict())
    m2.load_state_dict(m.state_dict())
    x = torch.randn(3, 16, 2)
    torch.testing.assert_close(m.eval()(x), m2.eval()(x))


def test_build_model_round_trip_through_package_registry():
    pytest.importorskip("poselift_core.models.glagcn")
    pytest.importorskip("poselift_core.models.gridconv")
    from poselift_core.models import build_model
    m = build_model("convst", hidden=8)
    assert count_parameters(build_model("convst", **asdict(m.config))) == count_parameters(m)


def test_eval_forward_is_deterministic_and_per_sample():
    torch.manual_seed(0)
    m = MODEL_BUILDERS["modulated"](hidden=16, num_blocks=2, num_experts=3, non_local=True, dropout=0.2)
    x = torch.randn(8, 16, 2)
    m.train()
    for _ in range(3):  # populate running statistics
        m(x)
    m.eval()
    y = m(x)
    assert y.shape == (8, 16, 3) and m.receptive_field == 1
    torch.testing.assert_close(m(x), y, rtol=0, atol=0)
    torch.testing.assert_close(m(x[:2]), y[:2])  # no batch statistics leak into eval outputs
    m.train()
    assert not torch.allclose(m(x), m(x))  # dropout active in training


def test_adjacency_is_a_buffer_that_moves_with_the_model():
    m = MODEL_BUILDERS["vanilla"](hidden=4, num_blocks=1).double()
    assert "input.gconv.adj" in m.state_dict()
    assert m.input.gconv.adj.dtype == torch.float64
    assert not any(n.endswith(".adj") for n, _ in m.named_parameters())


def test_bad_inputs_raise_clear_errors():
    m = MODEL_BUILDERS["vanilla"](hidden=4, num_blocks=1)
    with pytest.raises(ValueError, match=r"\(B, J=16, 2\)"):
        m(torch.randn(2, 17, 2))
    with pytest.raises(ValueError, match=r"\(B, J=16, 2\)"):
        m(torch.randn(2, 1, 16, 2))
    with pytest.raises(ValueError, match="hiden"):
        MODEL_BUILDERS["vanilla"](hiden=4)
    with pytest.raises(ValueError, match="variant"):
        MODEL_BUILDERS["vanilla"](variant="preagg")
    with pytest.raises(ValueError, match="adjacency"):
        GCNConfig(adjacency="sym")
    with pytest.raises(TypeError, match="hidden"):
        GCNConfig(hidden=12.5)
    with pytest.raises(ValueError, match="h36m17"):
        MODEL_BUILDERS["vanilla"](skeleton="h36m17", non_local=True)
    layer = VanillaGraphConv(3, 4, TINY.adjacency())
    with pytest.raises(ValueError, match=r"\(J, J\) or \(B, J, J\)"):
        layer(torch.randn(2, J, 3), torch.rand(3, J, J))


def test_registry_names_build_their_layer_on_any_skeleton():
    for name, cls in GRAPH_CONVS.items():
        m = MODEL_BUILDERS[name](skeleton=17, hidden=4, num_blocks=1)
        layers = [m.input.gconv, m.blocks[0][0].gconv, m.blocks[0][1].gconv, m.output.gconv]
        assert all(type(layer) is cls and layer.num_joints == 17 for layer in layers)
        assert m.config.skeleton == "h36m17"
    assert repr(make_layer("nosharing")).startswith("NoSharingGraphConv(3, 4, num_joints=6, pairs=16)")


def test_torch_compile_matches_eager_forward_and_backward():
    torch.manual_seed(0)
    m = MODEL_BUILDERS["dc_preagg"](hidden=8, num_blocks=1)
    x = torch.randn(4, 16, 2)
    compiled = torch.compile(m, backend="aot_eager")  # graph capture + AOT autograd, no C++ toolchain needed
    results = []
    for model in (m, compiled):
        m.zero_grad()
        y = model(x)
        y.square().mean().backward()
        results.append([y.detach()] + [p.grad.clone() for p in m.parameters()])
    for eager, traced in zip(*results):
        torch.testing.assert_close(traced, eager)


@pytest.mark.slow  # about a minute on 2 shared cores: inductor compiles C++ for forward and backward
def test_torch_compile_inductor_train_step():
    torch.manual_seed(0)
    m = MODEL_BUILDERS["vanilla"](hidden=8, num_blocks=1)
    x = torch.randn(4, 16, 2)
    compiled = torch.compile(m)
    loss = compiled(x).square().mean()
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
