import dataclasses
import time

import pytest
import torch
import torch.nn.functional as F

from poselift_core.models import MODEL_BUILDERS
from poselift_core.models.gridconv import (SGT_PRIORS, DynamicGridConv2d, GridConv2d, GridConvConfig, GridLifter,
                                           LearnableSGT, build_gridconv, grid_to_joints, inverse_sgt_matrix,
                                           joints_to_grid, sgt_matrix, tap_index, temperature_schedule)
from poselift_core.skeleton import H36M_17

# this family's entries of the model registry
GRIDCONV_MODELS = {name: build for name, build in MODEL_BUILDERS.items()
                   if getattr(build, "func", build) is build_gridconv}

# GridConv's handcrafted grid, written here independently as joint indices (H36M-17 order); a pair is an averaged cell
REFERENCE_GRID = [
    [7, 7, 7, 7, 7],
    [0, 8, 8, 8, 0],
    [1, 14, (8, 9), 11, 4],
    [2, 15, 9, 12, 5],
    [3, 16, 10, 13, 6],
]
MODES = ["circular", "zeros", "replicate"]


def small_lifter(**kw) -> GridLifter:
    return GridLifter(GridConvConfig(**{"hidden": 8, "dropout": 0.0, **kw}))


# --------------------------------------------------------------------------- handcrafted SGT
def test_sgt_matrix_matches_reference_table_by_joint_name():
    S = sgt_matrix()
    for r, row in enumerate(REFERENCE_GRID):
        for c, cell in enumerate(row):
            joints = cell if isinstance(cell, tuple) else (cell,)
            expected = torch.zeros(17)
            expected[list(joints)] = 1.0 / len(joints)
            assert torch.equal(S[5 * r + c], expected), (r, c)
    names = {H36M_17.names[j] for j in (1, 14, 11, 4)}  # row 2 outer cells: right side in columns 0-1
    assert names == {"RHip", "RShoulder", "LShoulder", "LHip"}
    assert H36M_17.names[S[10].argmax()] == "RHip" and H36M_17.names[S[14].argmax()] == "LHip"


def test_sgt_places_each_joint_on_its_cells_and_inverse_recovers_the_pose():
    torch.manual_seed(0)
    x = torch.randn(6, 17, 3, dtype=torch.float64)
    g = joints_to_grid(x)  # (B, 3, 5, 5)
    for r, row in enumerate(REFERENCE_GRID):
        for c, cell in enumerate(row):
            joints = list(cell) if isinstance(cell, tuple) else [cell]
            torch.testing.assert_close(g[:, :, r, c], x[:, joints].mean(1))
    torch.testing.assert_close(grid_to_joints(g), x)
    torch.testing.assert_close(inverse_sgt_matrix() @ sgt_matrix(), torch.eye(17))
    # the inverse ignores the mixed centre cell and averages duplicates
    g2 = g.clone()
    g2[:, :, 2, 2] = 1e3
    torch.testing.assert_close(grid_to_joints(g2), x)
    g2[:, :, 0, 0] += 5.0
    torch.testing.assert_close(grid_to_joints(g2)[:, 7], x[:, 7] + 1.0)  # Spine = mean of the 5 cells


def test_grid_multiplicities():
    S = sgt_matrix()
    pure = (S == 1).sum(0)
    counts = {H36M_17.names[j]: int(pure[j]) for j in range(17)}
    assert counts.pop("Spine") == 5 and counts.pop("Thorax") == 3 and counts.pop("Hip") == 2
    assert set(counts.values()) == {1}
    mixed = torch.nonzero(S == 0.5)
    assert mixed[:, 0].tolist() == [12, 12] and mixed[:, 1].tolist() == [8, 9]  # centre = Thorax, Nose
    assert torch.equal(S.sum(1), torch.ones(25))


def test_sgt_functions_reject_other_joint_counts():
    with pytest.raises(ValueError, match="H36M-17"):
        joints_to_grid(torch.randn(2, 16, 2))
    with pytest.raises(ValueError, match=r"\(B, C, 5, 5\)"):
        grid_to_joints(torch.randn(2, 3, 4, 5))


# --------------------------------------------------------------------------- learnable SGT
@pytest.mark.parametrize("prior", [p for p, t in SGT_PRIORS.items() if t is not None])
def test_learnable_sgt_starts_at_its_prior_table(prior):
    sgt = LearnableSGT(prior).eval()
    table = torch.tensor(SGT_PRIORS[prior]).flatten()
    assert torch.equal(sgt.assignment(), F.one_hot(table, 17).float())
    assert torch.equal(sgt.logits.detach(), F.one_hot(table, 17).float())


def test_standard_prior_is_the_mirrored_handcrafted_layout():
    prior = torch.tensor(SGT_PRIORS["standard"])
    mirror = prior.flip(1)  # the prior has the subject's left chains in columns 0-1
    hand = sgt_matrix().argmax(1).view(5, 5)
    hand[2, 2] = 9  # the prior puts the Nose where the handcrafted grid averages Thorax and Nose
    assert torch.equal(mirror, hand)


def test_unassigned_joint_is_reported_and_predicted_as_zero():
    assert LearnableSGT("learnt_type3").unassigned_joints == ["Hip"]
    assert LearnableSGT("standard").unassigned_joints == []
    model = small_lifter(sgt="learnable", sgt_prior="learnt_type3").eval()
    y = model(torch.randn(3, 17, 2))
    assert torch.all(y[:, 0] == 0) and torch.all(y[:, 1:].abs().sum(-1) > 0)


def test_random_prior_and_eval_path_is_hard_argmax_without_gradient():
    torch.manual_seed(1)
    sgt = LearnableSGT("random_prob").eval()
    torch.testing.assert_close(sgt.logits.sum(1), torch.ones(25))  # softmax rows
    with torch.no_grad():
        sgt.logits.normal_()
    S = sgt.assignment()
    assert not S.requires_grad
    assert torch.equal(S, F.one_hot(sgt.logits.argmax(1), 17).float())
    assert S.shape == (25, 17)  # all 17 columns even if some joint is never picked (quirk 4)


def test_straight_through_gradient_equals_gradient_of_the_hard_assignment():
    torch.manual_seed(2)
    model = small_lifter(sgt="learnable").train()
    x = torch.randn(8, 17, 2)
    with torch.no_grad():
        model.sgt.logits.add_(0.3 * torch.randn(25, 17))
    hard = model.sgt.hard_assignment().requires_grad_()
    ref = LearnableSGT.to_joints(hard, model.grid_network(LearnableSGT.to_grid(hard, x)))
    ref.square().sum().backward()
    model.zero_grad()
    out = model(x)
    torch.testing.assert_close(out, ref)  # forward uses the hard one-hot
    out.square().sum().backward()
    assert model.sgt.logits.grad.abs().sum() > 0
    torch.testing.assert_close(model.sgt.logits.grad, hard.grad)


def test_gumbel_path_gives_soft_rows_summing_to_one_with_gradient():
    torch.manual_seed(3)
    sgt = LearnableSGT("standard", gumbel=True, gumbel_temperature=0.5).train()
    S1, S2 = sgt.assignment(), sgt.assignment()
    torch.testing.assert_close(S1.sum(1), torch.ones(25))
    assert torch.all((S1 > 0) & (S1 < 1)) and not torch.equal(S1, S2)  # sampled, soft
    (S1 * torch.randn(25, 17)).sum().backward()
    assert sgt.logits.grad.abs().sum() > 0
    assert torch.equal(sgt.eval().assignment(), sgt.hard_assignment())


# --------------------------------------------------------------------------- grid convolutions
def test_tap_index_known_values_on_a_3x4_grid():
    # cell (0, 0) = index 0; taps k = 3*(dy+1) + (dx+1); tap 0 looks up-left, tap 8 down-right
    circ, rep, zero = (tap_index((3, 4), m) for m in ("c", "r", "z"))
    assert circ[0].tolist() == [11, 8, 9, 3, 0, 1, 7, 4, 5]  # wraps to the last row / column
    assert rep[0].tolist() == [0, 0, 1, 0, 0, 1, 4, 4, 5]
    assert zero[0].tolist() == [12, 12, 12, 12, 0, 1, 12, 4, 5]  # 12 = the zero row
    assert circ[11].tolist() == [6, 7, 4, 10, 11, 8, 2, 3, 0]  # bottom-right wraps to the top-left


@pytest.mark.parametrize("mode", MODES)
def test_tap_gather_equals_pad_then_unfold(mode):
    torch.manual_seed(4)
    x = torch.randn(2, 3, 4, 5)
    layer = GridConv2d(3, 1, padding=(mode, mode), grid_shape=(4, 5))
    U = layer.patches(x)[..., 0, :]  # (B, P, 9, C)
    xp = F.pad(x, (1, 1, 1, 1), mode="constant" if mode == "zeros" else mode)
    ref = F.unfold(xp, 3).view(2, 3, 9, 20).permute(0, 3, 2, 1)
    torch.testing.assert_close(U, ref)


def _pad(x, mode):
    return F.pad(x, (1, 1, 1, 1), mode="constant" if mode == "zeros" else mode)


@pytest.mark.parametrize("padding", [("circular", "zeros"), ("circular", "replicate"), ("zeros", "replicate")])
def test_static_gridconv_equals_sum_of_padded_convolutions(padding):
    torch.manual_seed(5)
    layer = GridConv2d(4, 6, padding=padding)
    x = torch.randn(3, 4, 5, 5)
    ref = sum(F.conv2d(_pad(x, m), layer.weight[:, b], layer.bias[b]) for b, m in enumerate(padding))
    torch.testing.assert_close(layer(x), ref)


def _dynamic_by_loops(layer: DynamicGridConv2d, x: torch.Tensor) -> torch.Tensor:
    """D-GridConv term by term: Y[o,p] = sum_b sum_{c,k} W_b[o,c,k] a[k,p] U_b[c,k,p] + beta_b[o]."""
    a = layer.attention(x)  # (B, 9, H, W)
    B, _, H, W = x.shape
    y = torch.zeros(B, layer.out_channels, H, W, dtype=x.dtype)
    for b, mode in enumerate(layer.padding):
        xp = _pad(x, mode)
        for r in range(H):
            for c in range(W):
                for dy in range(3):
                    for dx in range(3):
                        k = 3 * dy + dx
                        u = xp[:, :, r + dy, c + dx]  # (B, C_in)
                        y[:, :, r, c] += a[:, k, r, c, None] * (u @ layer.weight[:, b, :, dy, dx].T)
        if layer.bias is not None:
            y += layer.bias[b].view(1, -1, 1, 1)
    return y


@pytest.mark.parametrize("padding", [("c", "r"), ("c", "z"), ("z", "r"), ("r", "r")])
def test_dynamic_gridconv_equals_loop_computation(padding):
    torch.manual_seed(6)
    layer = DynamicGridConv2d(3, 4, padding=padding, temperature=2.0).double()
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(layer(x), _dynamic_by_loops(layer, x))


def test_dynamic_attention_formula():
    torch.manual_seed(7)
    layer = DynamicGridConv2d(5, 2, temperature=3.0).eval()
    with torch.no_grad():  # non-trivial running statistics and affine parameters
        for t in (layer.attn_norm.running_mean, layer.attn_norm.weight, layer.attn_norm.bias):
            t.normal_()
        layer.attn_norm.running_var.uniform_(0.5, 2.0)
    x = torch.randn(3, 5, 5, 5)
    n = layer.attn_norm
    s = x.mean(dim=(2, 3))
    h = torch.relu((s @ layer.attn_reduce.weight.T - n.running_mean) / torch.sqrt(n.running_var + n.eps)
                   * n.weight + n.bias)
    a = torch.sigmoid((h @ layer.attn_expand.weight.T + layer.attn_expand.bias) / 3.0).view(3, 9, 5, 5)
    torch.testing.assert_close(layer.attention(x), a)
    assert layer.attn_reduce.weight.shape[0] == 16  # d = max(C // 16, 16)


def test_dynamic_gridconv_gradcheck():
    torch.manual_seed(8)
    layer = DynamicGridConv2d(2, 3, temperature=1.5).double().train()
    x = torch.randn(3, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    names = ["weight", "bias", "attn_reduce.weight", "attn_norm.weight", "attn_expand.weight"]
    params = [dict(layer.named_parameters())[n].detach().clone().requires_grad_() for n in names]

    def f(x, *ps):
        return torch.func.functional_call(layer, dict(zip(names, ps)), (x,))

    # fast mode compares random projections of the Jacobian: seconds instead of minutes
    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5, fast_mode=True)


def test_temperature_buffer_is_saved_and_annealed():
    assert [temperature_schedule(e) for e in (0, 5, 10, 20)] == [30.0, 15.5, 1.0, 1.0]
    model = small_lifter()
    model.on_train_step(5.0, 100)
    layers = [m for m in model.modules() if isinstance(m, DynamicGridConv2d)]
    assert len(layers) == 6 and all(m.temperature.item() == 15.5 for m in layers)
    model.on_train_step(12.3, 100)
    state = model.state_dict()
    assert state["head.temperature"].item() == 1.0
    fresh = small_lifter()
    assert fresh.head.temperature.item() == 30.0
    fresh.load_state_dict(state)  # a model rebuilt for evaluation gets the trained temperature (quirk 5)
    assert all(m.temperature.item() == 1.0 for m in fresh.modules() if isinstance(m, DynamicGridConv2d))
    x = torch.randn(4, 17, 2)
    torch.testing.assert_close(fresh.eval()(x), model.eval()(x))


# --------------------------------------------------------------------------- networks
def test_parameter_counts_match_the_reference():
    counts = {name: sum(p.numel() for p in build().parameters()) for name, build in GRIDCONV_MODELS.items()}
    assert counts == {"gridconv": 4_746_752, "dgridconv": 4_790_406, "dgridconv_autogrids": 4_790_831}
    for c_in, c_out in ((2, 256), (256, 256), (256, 3)):
        d = 16
        layer = DynamicGridConv2d(c_in, c_out, bias=c_out != 3)
        expected = 2 * (9 * c_in * c_out + c_out * (c_out != 3)) + c_in * d + 2 * d + 225 * d + 225
        assert sum(p.numel() for p in layer.parameters()) == expected


@pytest.mark.parametrize("name", list(GRIDCONV_MODELS))
def test_models_rebuild_from_config_and_map_joints(name):
    torch.manual_seed(9)
    model = GRIDCONV_MODELS[name](hidden=16).eval()
    again = GRIDCONV_MODELS[name](**dataclasses.asdict(model.config))
    assert again.config == model.config and model.receptive_field == 1
    again.load_state_dict(model.state_dict())
    x = torch.randn(5, 17, 2)
    y = model(x)
    assert y.shape == (5, 17, 3)
    torch.testing.assert_close(again.eval()(x), y)
    torch.testing.assert_close(model(x[:, None])[:, 0], y)
    if model.loss_on_grid:
        torch.testing.assert_close(grid_to_joints(model.forward_grid(x)), y)
        y3d = torch.randn(5, 17, 3)
        torch.testing.assert_close(grid_to_joints(model.target_grid(y3d)), y3d)
    else:
        assert name == "dgridconv_autogrids"


def test_model_structure_follows_the_config():
    model = GRIDCONV_MODELS["gridconv"](hidden=8, num_blocks=3)
    assert len(model.blocks) == 3 and model.head.bias is None
    assert not any(isinstance(m, DynamicGridConv2d) for m in model.modules())
    assert model.stem[0].padding == ("circular", "zeros")
    assert GRIDCONV_MODELS["dgridconv"]().stem[0].padding == ("circular", "replicate")
    assert GRIDCONV_MODELS["dgridconv_autogrids"]().head.padding == ("circular", "zeros")


def test_bad_inputs_and_options_raise_clear_errors():
    model = small_lifter()
    with pytest.raises(ValueError, match="H36M-17 order"):
        model(torch.randn(2, 16, 2))
    with pytest.raises(ValueError, match=r"\(B, 17, 2\)"):
        model(torch.randn(2, 17, 3))
    with pytest.raises(ValueError, match="h36m17"):
        GRIDCONV_MODELS["dgridconv"](skeleton="h36m16")
    with pytest.raises(ValueError, match="unknown option"):
        GRIDCONV_MODELS["dgridconv"](widht=3)
    with pytest.raises(ValueError, match="padding mode 'x'"):
        GRIDCONV_MODELS["dgridconv"](padding=("c", "x"))
    with pytest.raises(ValueError, match="unknown prior"):
        LearnableSGT("nope")
    with pytest.raises(ValueError, match=r"DynamicGridConv2d expects \(B, 4, 5, 5\)"):
        DynamicGridConv2d(4, 2)(torch.randn(2, 3, 5, 5))


@pytest.mark.parametrize("name", list(GRIDCONV_MODELS))
def test_bf16_autocast_forward_and_backward(name):
    torch.manual_seed(10)
    model = GRIDCONV_MODELS[name](hidden=16, dropout=0.0).train()
    x = torch.randn(8, 17, 2)
    ref = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x)
    y.float().square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    torch.testing.assert_close(y.float(), ref, rtol=0.1, atol=0.05)


@pytest.mark.slow
def test_torch_compile_dgridconv_matches_eager():
    torch.manual_seed(11)
    model = GRIDCONV_MODELS["dgridconv"](hidden=16).eval()
    x = torch.randn(4, 17, 2)
    t0 = time.perf_counter()
    compiled = torch.compile(model)
    torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)
    print(f"torch.compile + first call: {time.perf_counter() - t0:.1f} s")


def test_sgt_functions_after_inference_mode_still_support_autograd():
    with torch.inference_mode():
        joints_to_grid(torch.randn(2, 17, 2, dtype=torch.float64))  # first call builds the cached matrices
    x = torch.randn(2, 17, 2, dtype=torch.float64, requires_grad=True)
    joints_to_grid(x).sum().backward()
    torch.testing.assert_close(x.grad, sgt_matrix(torch.float64).sum(0)[None, :, None].expand(2, 17, 2))
