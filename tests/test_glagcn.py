"""Tests for poselift_core.models.glagcn (GLA-GCN, Yu et al., ICCV 2023; bruceyo/GLA-GCN)."""
import dataclasses
import math
import sys
from pathlib import Path

import pytest
import torch

from poselift_core.graph import spatial_partition
from poselift_core.models import MODEL_BUILDERS
from poselift_core.models.glagcn import (
    AdaptiveGraphConv,
    GLAGCNConfig,
    build_glagcn,
    dropout,
    filter_widths_for,
)
from poselift_core.skeleton import H36M_17, Skeleton

torch.set_num_threads(1)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Move every BN and the learnable graph away from their (near-degenerate) initial values, so that the
    graph branch of every unit contributes (its BN gamma starts at 1e-6) and eval-mode BNs are not identities."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            if isinstance(m, AdaptiveGraphConv):
                m.P.copy_(torch.rand(m.P.shape, generator=g) * 0.2)
    return model


# ----------------------------------------------------------------------------- sizes (bruceyo/GLA-GCN)
@pytest.mark.parametrize("skeleton, rf, expected", [
    ("h36m17", 243, 1_348_856),
    ("h36m17", 81, 1_096_466),
    ("h36m17", 27, 844_076),
    ("humaneva15", 27, 842_724),
])
def test_parameter_counts_match_the_released_models(skeleton, rf, expected):
    model = build_glagcn(skeleton, receptive_field=rf)
    assert n_params(model) == expected
    assert model.receptive_field == rf


def test_default_builder_is_the_243_frame_h36m_model_and_config_rebuilds_it():
    model = MODEL_BUILDERS["glagcn"]()
    assert model.receptive_field == 243 and model.config.filter_widths == (3, 3, 3, 3, 3)
    assert model.config.skeleton == "h36m17"
    rebuilt = build_glagcn(**dataclasses.asdict(build_glagcn(receptive_field=27, readout="individual").config))
    assert rebuilt.config == GLAGCNConfig(filter_widths=(3, 3, 3), readout="individual")
    # the unshared read-out adds (J - 1) more C -> 3 maps
    assert n_params(rebuilt) == 844_076 + 16 * (96 * 3 + 3)


def test_receptive_field_factorisation_and_errors():
    assert filter_widths_for(81) == (3, 3, 3, 3)
    assert build_glagcn(filter_widths=(5, 3)).receptive_field == 15
    assert build_glagcn(receptive_field=15, filter_widths=(5, 3)).config.filter_widths == (5, 3)
    for bad in (45, 1, 0, 100):
        with pytest.raises(ValueError, match=str(bad)):
            filter_widths_for(bad)
    with pytest.raises(ValueError, match="widht"):
        build_glagcn(widht=3)
    with pytest.raises(ValueError, match="filter_widths"):
        build_glagcn(filter_widths=(3, 4))
    with pytest.raises(ValueError, match="disagree"):
        build_glagcn(receptive_field=27, filter_widths=(3, 3, 3, 3))


def test_forward_rejects_a_window_of_the_wrong_length_naming_the_expected_T():
    model = build_glagcn(receptive_field=27).eval()
    with pytest.raises(ValueError, match="T=27"):
        model(torch.randn(2, 30, 17, 2))


# ----------------------------------------------------------------------------- graphs from the parents
def permuted_skeleton(sk: Skeleton, perm: list[int]) -> Skeleton:
    """Joint ``new`` of the result is joint ``perm[new]`` of ``sk``."""
    inv = {old: new for new, old in enumerate(perm)}
    return Skeleton(name=f"{sk.name}-perm", names=tuple(sk.names[o] for o in perm),
                    parents=tuple(-1 if sk.parents[o] < 0 else inv[sk.parents[o]] for o in perm),
                    left=tuple(inv[j] for j in sk.left), right=tuple(inv[j] for j in sk.right))


def test_model_is_equivariant_to_a_joint_reordering():
    """Graphs come from the parents, not from the index order: permuting the joints and the skeleton
    together permutes the output (P and the data BN's joint-major channels permuted alongside)."""
    torch.manual_seed(0)
    perm = torch.randperm(17).tolist()
    base = randomise(build_glagcn(receptive_field=27, channels=16)).eval()
    other = build_glagcn(permuted_skeleton(H36M_17, perm), receptive_field=27, channels=16).eval()
    state = base.state_dict()
    chan = torch.tensor([[2 * j, 2 * j + 1] for j in perm]).flatten()
    for key, value in state.items():
        if key.endswith(".P"):
            state[key] = value[:, perm][:, :, perm]
        elif key.endswith(".A"):
            state[key] = other.state_dict()[key]       # the permuted model's own graph
        elif key.startswith("data_bn.") and value.dim() == 1:
            state[key] = value[chan]
    other.load_state_dict(state)
    x = torch.randn(3, 27, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(other(x[:, :, perm]), base(x)[:, :, perm], atol=1e-5, rtol=1e-4)
        assert not torch.allclose(base(x[:, :, perm]), base(x)[:, :, perm], atol=1e-3)  # order does matter


# ----------------------------------------------------------------------------- the adaptive graph conv
def reference_adaptive_graph_conv(layer: AdaptiveGraphConv, x: torch.Tensor) -> torch.Tensor:
    """The 2s-AGCN formula written as in the original: channels-first, right multiplication by a
    column-receiver graph (the transpose of ours), one subset at a time. Eval mode."""
    B, J, T, C = x.shape
    K, E = layer.num_subsets, layer.embed_channels
    xc = x.permute(0, 3, 2, 1)                                               # (B, C, T, V)
    w_e, b_e = layer.embed.weight, layer.embed.bias
    y = 0
    def embed(i):  # the i-th C_in -> C_e 1x1 conv of the stacked embedding (theta_0..2, phi_0..2)
        return torch.einsum("bctv,ec->betv", xc, w_e[i * E:(i + 1) * E]) + b_e[i * E:(i + 1) * E, None, None]

    for k in range(K):
        theta, phi = embed(k), embed(K + k)
        logits = torch.einsum("betv,betw->bvw", theta, phi) / (E * T)         # rows v = senders
        G = logits.softmax(dim=1) + layer.A[k].T + layer.P[k].T              # column receiver
        agg = torch.einsum("bctv,bvw->bctw", xc, G)
        y = y + torch.einsum("bctw,oc->botw", agg, layer.weight[k]) + layer.bias[k, :, None, None]
    bn = layer.bn
    y = (y - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None] + bn.eps)
    y = y * bn.weight[:, None, None] + bn.bias[:, None, None]
    res = xc
    if layer.down is not None:
        lin, dbn = layer.down
        res = torch.einsum("bctv,oc->botv", xc, lin.weight) + lin.bias[:, None, None]
        res = (res - dbn.running_mean[:, None, None]) / torch.sqrt(dbn.running_var[:, None, None] + dbn.eps)
        res = res * dbn.weight[:, None, None] + dbn.bias[:, None, None]
    return torch.relu(y + res).permute(0, 3, 2, 1)


@pytest.mark.parametrize("c_in, c_out, narrow", [(8, 8, False), (2, 8, False), (2, 16, True)])
def test_adaptive_graph_conv_matches_the_original_formula(c_in, c_out, narrow):
    """Both routes (embeddings, and the factored bilinear form for narrow inputs) give the 2s-AGCN output."""
    torch.manual_seed(0)
    layer = randomise(AdaptiveGraphConv(c_in, c_out, spatial_partition(H36M_17))).eval()
    assert layer.narrow == narrow
    x = torch.randn(2, 17, 5, c_in)
    torch.testing.assert_close(layer(x), reference_adaptive_graph_conv(layer, x), atol=1e-5, rtol=1e-4)


TINY = Skeleton(name="tiny5", names=("r", "a", "b", "c", "d"), parents=(-1, 0, 1, 0, 3), left=(1,), right=(3,))


@pytest.mark.parametrize("c_in, c_out", [(3, 4), (2, 16)])  # embedding route, narrow route
def test_adaptive_graph_conv_gradcheck_float64(c_in, c_out):
    torch.manual_seed(0)
    layer = AdaptiveGraphConv(c_in, c_out, spatial_partition(TINY), dropout=0.0).double().train()
    with torch.no_grad():
        layer.bn.weight.fill_(1.0)                      # make the graph branch visible to the check
        layer.P.uniform_(-0.5, 0.5)
    x = torch.randn(2, 5, 2, c_in, dtype=torch.float64, requires_grad=True)
    names = ["P", "embed.weight", "embed.bias", "weight"]
    params = [dict(layer.named_parameters())[n].detach().clone().requires_grad_() for n in names]

    def f(x, *ps):
        return torch.func.functional_call(layer, dict(zip(names, ps)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5)


def test_adaptive_graph_at_init_is_A_plus_attention_and_attention_rows_sum_to_one():
    torch.manual_seed(0)
    layer = AdaptiveGraphConv(6, 8, spatial_partition(H36M_17))
    G, S = layer.adaptive_graph(torch.randn(4, 17, 9, 6))                    # (B, K, J, J)
    torch.testing.assert_close(S.sum(-1), torch.ones(4, 3, 17))              # softmax over senders
    assert (S > 0).all()
    torch.testing.assert_close(G - S, (layer.A + 1e-6).expand(4, -1, -1, -1))


def test_attention_depends_on_the_data_and_is_scaled_by_CeT():
    torch.manual_seed(0)
    layer = AdaptiveGraphConv(6, 8, spatial_partition(H36M_17))
    x = torch.randn(1, 17, 9, 6)
    _, S = layer.adaptive_graph(x)
    E, T = layer.embed_channels, 9
    emb = layer.embed(x)[0]                                                  # (J, T, 2 K E)
    theta, phi = emb[..., :E], emb[..., 3 * E:4 * E]                          # subset 0
    logits = torch.einsum("wte,vte->wv", phi, theta) / (E * T)
    torch.testing.assert_close(S[0, 0], logits.softmax(-1))
    _, S2 = layer.adaptive_graph(2 * x)
    assert not torch.allclose(S, S2)


def test_same_outputs_and_gradients_as_a_reimplementation_of_the_released_layout():
    """benchmarks/reference_glagcn.py keeps the original's layout (channels-first, column-receiver graphs,
    per-subset 1x1 convs, per-joint read-out loop); with copied weights both give the same function."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from reference_glagcn import ReferenceGLAGCN, copy_into

    torch.manual_seed(0)
    ref = randomise(ReferenceGLAGCN(channels=16, filter_widths=(3, 3))).double().eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if name.endswith("PA"):
                p.uniform_(0.0, 0.2)
    model = build_glagcn(channels=16, filter_widths=(3, 3)).double().eval()
    copy_into(ref, model)
    assert model.expand.gcn.narrow                       # the factored route is the one compared here
    x = torch.randn(3, 9, 17, 2, dtype=torch.float64)
    torch.testing.assert_close(model(x), ref(x))
    (model(x) ** 2).sum().backward()
    (ref(x) ** 2).sum().backward()
    g_ref, g_new = ref.expand_gcn.gcn1, model.expand.gcn
    theta_grads = torch.cat([conv.weight.grad[:, :, 0, 0] for conv in g_ref.conv_a])      # theta_0..2: rows :12
    torch.testing.assert_close(g_new.embed.weight.grad[:12], theta_grads)
    torch.testing.assert_close(g_new.P.grad, g_ref.PA.grad.transpose(1, 2))              # row vs column receiver
    w_ref = ref.layers_tcngcn[1].gcn1.conv_d[2].weight.grad[:, :, 0, 0]
    torch.testing.assert_close(model.blocks[1].gcn.weight.grad[2], w_ref)
    torch.testing.assert_close(model.blocks[2].tcn.conv.weight.grad, ref.layers_tcngcn[2].tcn1.conv.weight.grad)
    torch.testing.assert_close(model.data_bn.weight.grad, ref.data_bn.weight.grad)


# ----------------------------------------------------------------------------- receptive field
def test_every_frame_of_the_window_reaches_the_centre_prediction():
    torch.manual_seed(0)
    model = randomise(build_glagcn(receptive_field=27, channels=16)).eval()
    x = torch.randn(2, 27, 17, 2)
    with torch.no_grad():
        y = model(x)
        for t in (0, 13, 26):
            x2 = x.clone()
            x2[:, t] += 1.0
            assert (model(x2) - y).abs().max() > 1e-4, f"frame {t} does not influence the output"


def test_lift_sequence_equals_forward_on_edge_padded_windows():
    torch.manual_seed(0)
    model = randomise(build_glagcn(receptive_field=27, channels=16)).eval()
    seq = torch.randn(2, 20, 17, 2)
    pad = 13
    padded = torch.cat([seq[:, :1].repeat(1, pad, 1, 1), seq, seq[:, -1:].repeat(1, pad, 1, 1)], dim=1)
    with torch.no_grad():
        lifted = model.lift_sequence(seq, chunk=7)                           # chunks of uneven size
        for n in (0, 5, 19):
            torch.testing.assert_close(lifted[:, n], model(padded[:, n:n + 27])[:, 0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(model.lift_sequence(seq), lifted, atol=1e-5, rtol=1e-4)
    assert lifted.shape == (2, 20, 17, 3)


def test_lift_sequence_receptive_field_is_exactly_rf_frames():
    torch.manual_seed(0)
    model = randomise(build_glagcn(receptive_field=27, channels=16)).eval()
    seq = torch.randn(1, 44, 17, 2)
    target = 22
    with torch.no_grad():
        base = model.lift_sequence(seq)[0, target]
        for frame, inside in ((target - 14, False), (target + 14, False), (target - 13, True), (target + 13, True)):
            seq2 = seq.clone()
            seq2[0, frame] += 1.0
            changed = (model.lift_sequence(seq2)[0, target] - base).abs().max() > 1e-5
            assert changed == inside, f"frame {frame}: changed={bool(changed)}"


# ----------------------------------------------------------------------------- training behaviour
def test_dropout_is_off_in_eval_and_train_mode_backward_works():
    torch.manual_seed(0)
    model = build_glagcn(receptive_field=27, dropout=0.5)
    x = torch.randn(4, 27, 17, 2)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))
    model.train()
    y = model(x)
    (y ** 2).mean().backward()                           # the released in-place dropout fails here
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert not torch.allclose(model(x), model(x))        # stochastic in train mode


def test_fast_dropout_statistics():
    torch.manual_seed(0)
    x = torch.ones(200_000, dtype=torch.float64)
    y = dropout(x, 0.1, True)
    kept = y != 0
    assert abs(kept.double().mean().item() - 0.9) < 0.005
    assert abs(y.mean().item() - 1.0) < 0.01                                  # inverted scaling: unbiased
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / (1 - round(0.1 * 32768) / 32768)))
    assert dropout(x, 0.1, False) is x


def test_bn_momentum_schedule():
    model = build_glagcn(receptive_field=27)
    model.on_train_step(0.5, 80)
    assert model.data_bn.momentum == pytest.approx(0.1)
    model.on_train_step(40.2, 80)                       # halfway: 0.1 * 100^-0.5
    assert model.blocks[3].tcn.bn.momentum == pytest.approx(0.01)
    assert model.expand.gcn.bn.momentum == pytest.approx(0.01)
    assert model.expand.gcn.down[1].momentum == 0.1     # kept at 0.1 as in the original
    assert model.expand.residual[1].momentum == 0.1
    model.on_train_step(79.9, 80)
    assert model.data_bn.momentum == pytest.approx(0.1 * math.exp(-79 / 80 * math.log(100)))


def test_humaneva_model_runs_and_individual_readout_is_per_joint():
    torch.manual_seed(0)
    model = build_glagcn("humaneva15", receptive_field=27, readout="individual").eval()
    x = torch.randn(2, 27, 15, 2)
    with torch.no_grad():
        y = model(x)
        assert y.shape == (2, 1, 15, 3)
        # changing joint 3's read-out weights changes only joint 3's output
        model.readout.weight[3] += 1.0
        y2 = model(x)
    changed = (y2 - y).abs().amax(dim=(0, 1, 3)) > 0
    assert changed.tolist() == [j == 3 for j in range(15)]


def test_traces_as_one_graph_for_torch_compile():
    """No graph breaks in train mode (the fast dropout falls back to F.dropout under compilation)."""
    torch.manual_seed(0)
    model = build_glagcn(filter_widths=(3,), channels=8)
    x = torch.randn(2, 3, 17, 2)
    compiled = torch.compile(model, fullgraph=True, backend="eager")  # dynamo capture only: quick
    compiled.train()
    compiled(x).square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    compiled.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


@pytest.mark.slow  # 15-60 s on 2 shared cores: inductor compiles C++ for the whole 27-frame network
def test_torch_compile_inductor_matches_eager():
    torch._dynamo.reset()
    model = build_glagcn(receptive_field=27).eval()
    x = torch.randn(2, 27, 17, 2)
    compiled = torch.compile(model)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), atol=1e-5, rtol=1e-4)
