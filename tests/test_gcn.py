"""Tests for poselift_core.models.gcn: the network parts against per-joint loops of their formulas, the reference
parameter counts (chapter 6, "Model sizes"), the registry and the network contract. The graph convolutions
themselves are tested in test_graph_conv.py."""
from __future__ import annotations

from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F

from poselift_core.models import MODEL_BUILDERS, count_parameters
from poselift_core.models.gcn import GCN_VARIANTS, ConditionalAdjacency, GaussianNonLocal, GCNConfig, GraphNonLocal
from poselift_core.models.graph_conv import GRAPH_CONVS
from poselift_core.skeleton import H36M_16, Skeleton

DT = torch.float64


# A tiny tree: 0 -> 1 -> 2, 0 -> 3 -> 4, 0 -> 5 (parents precede children, like the Human3.6M orders)
TINY = Skeleton(name="tiny6", names=tuple("abcdef"), parents=(-1, 0, 1, 0, 3, 0), left=(1, 2), right=(3, 4),
                nonlocal_groups=((0, 5), (1, 2), (3, 4)))
J = 6
VARIANTS = list(GCN_VARIANTS)


def test_modulated_default_network_uses_diag1_adjacency():
    m = MODEL_BUILDERS["modulated"](hidden=8, num_blocks=1)
    assert m.config.adjacency == "diag1"
    torch.testing.assert_close(m.input.gconv.adj, H36M_16.adjacency("diag1"))


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


def test_registry_names_build_their_layer_on_any_skeleton():
    for name, cls in GRAPH_CONVS.items():
        m = MODEL_BUILDERS[name](skeleton=17, hidden=4, num_blocks=1)
        layers = [m.input.gconv, m.blocks[0][0].gconv, m.blocks[0][1].gconv, m.output.gconv]
        assert all(type(layer) is cls and layer.num_joints == 17 for layer in layers)
        assert m.config.skeleton == "h36m17"


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
