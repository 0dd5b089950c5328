import math

import pytest
import torch

from poselift_core.models import build_model, count_parameters
from poselift_core.models.gcn import GCN_VARIANTS
from poselift_core.optim import Lookahead, build_optimizer, lr_at, pose_loss
from poselift_core.recipes import Recipe, get_recipe, list_recipes
from poselift_core.metrics import mpjpe
from poselift_core.skeleton import get_skeleton


def test_every_gcn_variant_has_a_gt_recipe_and_the_named_recipes_exist():
    names = list_recipes()
    for v in GCN_VARIANTS:
        assert f"gcn-{v}-gt" in names
    for n in ("gcn-modulated-cpn", "glagcn-h36m-gt-243", "glagcn-h36m-cpn-243", "glagcn-h36m-gt-27",
              "glagcn-humaneva-gt-27", "gridconv-gt", "gridconv-static-gt", "gridconv-autogrids-gt", "gridconv-hrnet"):
        assert n in names


# parameter counts of the released code at the recipe's configuration (ModGCN-benchmark with its
# embedded-Gaussian non-local block)
EXPECTED_PARAMS = {"gcn-vanilla-gt": 135_171, "gcn-dc_preagg-gt": 4_218_243, "gcn-modulated-gt": 287_923,
                   "gcn-modulated-cpn": 2_731_840, "glagcn-h36m-gt-243": 1_348_856,
                   "glagcn-h36m-gt-27": 844_076, "glagcn-humaneva-gt-27": 842_724, "gridconv-gt": 4_790_406,
                   "gridconv-static-gt": 4_746_752, "gridconv-autogrids-gt": 4_790_831, "gridconv-hrnet": 4_790_406}


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_recipe_builds_the_reference_model(name):
    r = get_recipe(name)
    model = build_model(r.model, skeleton=get_skeleton(r.joints), **r.model_overrides)
    assert count_parameters(model) == EXPECTED_PARAMS[name]


def test_recipe_values_follow_the_released_scripts():
    mod = get_recipe("gcn-modulated-cpn")
    assert (mod.keypoints, mod.joints, mod.batch_size, mod.epochs, mod.optimizer, mod.lr) == \
        ("cpn_ft_h36m_dbb", 17, 256, 30, "amsgrad", 5e-3)
    assert (mod.schedule, mod.decay, mod.decay_every, mod.flip_aug, mod.tta, mod.grad_clip) == \
        ("step_epochs", 0.9, 4, True, True, None)
    assert mod.model_overrides["hidden"] == 384 and mod.model_overrides["dropout"] == 0.2
    gla = get_recipe("glagcn-humaneva-gt-27")
    assert (gla.dataset, gla.joints, gla.batch_size, gla.optimizer, gla.actions) == \
        ("humaneva", 15, 1024, "ranger", ("Walking", "Jog", "Box"))
    grid = get_recipe("gridconv-hrnet")
    assert grid.exclude_drift and grid.model_overrides["padding"] == ("c", "z") and grid.loss == "grid_mse"
    assert get_recipe("gridconv-gt").model_overrides["padding"] == ("c", "r")
    for v in GCN_VARIANTS:
        r = get_recipe(f"gcn-{v}-gt")
        assert r.joints == 16 and r.keypoints == "gt" and r.grad_clip == 1.0 and r.schedule == "exp_staircase"


def test_quick_profile_keeps_the_model_and_optimiser_but_shrinks_the_budget():
    narrower = {"gridconv": {"hidden": 128}, "glagcn": {"channels": 48}}   # the quick widths, stated in the chapters
    for name in list_recipes():
        full, quick = get_recipe(name), get_recipe(name, "quick")
        assert (quick.model, quick.optimizer, quick.loss, quick.lr) == (full.model, full.optimizer, full.loss, full.lr)
        extra = {k: v for k, v in quick.model_overrides.items() if full.model_overrides.get(k) != v}
        family = "glagcn" if full.model == "glagcn" else "gridconv" if "gridconv" in full.model else "gcn"
        rf = full.model_overrides.get("receptive_field")
        assert extra == (narrower.get(family, {}) if rf in (None, 27) or family != "glagcn" else {}), name
        assert all(quick.model_overrides[k] == v for k, v in full.model_overrides.items())   # the recipe's own kept
        assert quick.epochs * quick.max_steps_per_epoch <= 600 and quick.eval_max_frames <= 2000


def test_quick_profile_logs_enough_points_to_read_a_trend_and_full_logs_per_epoch():
    for name in list_recipes():
        full, quick = get_recipe(name), get_recipe(name, "quick")
        assert (full.log_every, full.eval_every_steps, full.eval_steps_max_frames) == (0, 0, None), name
        steps = quick.epochs * quick.max_steps_per_epoch
        assert quick.log_every and steps // quick.log_every >= 10, name          # a loss curve, not two points
        if quick.eval_every_steps:                                              # a few evaluations per epoch,
            assert quick.max_steps_per_epoch // quick.eval_every_steps >= 2, name
            assert quick.eval_steps_max_frames <= quick.eval_max_frames, name   # each cheaper than the final one
    # chapter 4's model (the 27-frame GLA-GCN) is scored inside the epochs, not only once at the end
    assert get_recipe("glagcn-h36m-gt-27", "quick").eval_every_steps > 0
    with pytest.raises(ValueError, match="log_every"):
        get_recipe("gcn-vanilla-gt", log_every=-1)
    with pytest.raises(ValueError, match="eval_steps_max_frames"):
        get_recipe("gcn-vanilla-gt", eval_steps_max_frames=0)


def test_unknown_recipe_lists_the_known_names():
    with pytest.raises(ValueError, match="unknown recipe 'gcn-nope'.*gcn-vanilla-gt"):
        get_recipe("gcn-nope")
    with pytest.raises(ValueError, match="unknown profile"):
        get_recipe("gcn-vanilla-gt", profile="medium")


def test_unknown_key_and_wrong_type_name_the_culprit():
    with pytest.raises(ValueError, match="learning_rate"):
        get_recipe("gcn-vanilla-gt", learning_rate=0.1)
    with pytest.raises(ValueError, match="batch_size='64'"):
        get_recipe("gcn-vanilla-gt", batch_size="64")
    with pytest.raises(ValueError, match="flip_aug"):
        get_recipe("gcn-vanilla-gt", flip_aug=1)
    with pytest.raises(ValueError, match="optimizer='lbfgs'"):
        get_recipe("gcn-vanilla-gt", optimizer="lbfgs")
    assert get_recipe("gcn-vanilla-gt", lr=1).lr == 1      # an int is an acceptable float


def test_schedules_match_the_reference_formulas():
    any_gcn = get_recipe("gcn-vanilla-gt")
    assert lr_at(any_gcn, 0, 24_999) == pytest.approx(1e-3)
    assert lr_at(any_gcn, 0, 25_000) == pytest.approx(0.96e-3)
    assert lr_at(any_gcn, 0, 12 * 25_000 + 7) == pytest.approx(1e-3 * 0.96 ** 12)
    mod = get_recipe("gcn-modulated-cpn")
    assert [lr_at(mod, e, 0) / 5e-3 for e in (0, 3, 4, 8)] == pytest.approx([1, 1, 0.9, 0.81])
    gla = get_recipe("glagcn-h36m-gt-243")
    assert lr_at(gla, 0, 0) == pytest.approx(0.01)
    assert lr_at(gla, 40, 0) == pytest.approx(1e-5 + (0.01 - 1e-5) / 2)
    assert lr_at(gla, 80, 0) == pytest.approx(1e-5)
    # GridConv (OSVAI/GridConv): 1e-3 in epoch 1, 0.96e-3 in epochs 2-11, 0.9216e-3 in epochs 12-21 (1-based)
    grid = get_recipe("gridconv-gt")
    expected = [1e-3] + [0.96e-3] * 10 + [0.9216e-3] * 10
    assert [lr_at(grid, e, 0) for e in range(21)] == pytest.approx(expected)


def test_losses_match_their_definitions():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(5, 17, 3, generator=g), torch.randn(5, 17, 3, generator=g)
    diff = pred - target
    assert pose_loss("mse_l1", pred, target) == pytest.approx(
        (0.9 * (diff ** 2).mean() + 0.1 * diff.abs().mean()).item(), rel=1e-6)
    assert pose_loss("mpjpe", pred, target) == pytest.approx(mpjpe(pred, target).item(), rel=1e-6)
    assert pose_loss("mpjpe_l1", pred, target) == pytest.approx(
        (0.99 * mpjpe(pred, target) + 0.01 * diff.abs().mean()).item(), rel=1e-6)


def test_lookahead_moves_slow_weights_every_k_steps():
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(4))
    target = torch.randn(4)
    opt = Lookahead(torch.optim.SGD([w], lr=0.1), alpha=0.5, k=3)
    # manual Lookahead of plain SGD on 0.5 |w - target|^2
    fast, slow = w.detach().clone(), w.detach().clone()
    for step in range(1, 8):
        opt.zero_grad()
        (0.5 * (w - target).pow(2).sum()).backward()
        opt.step()
        fast = fast - 0.1 * (fast - target)
        if step % 3 == 0:
            slow = slow + 0.5 * (fast - slow)
            fast = slow.clone()
        torch.testing.assert_close(w.detach(), fast)
    state = opt.state_dict()
    opt2 = Lookahead(torch.optim.SGD([torch.nn.Parameter(torch.zeros(4))], lr=0.1), alpha=0.5, k=3)
    opt2.load_state_dict(state)
    assert opt2.fast_steps == 7 and torch.equal(opt2.slow[0][0], slow)


def test_ranger_is_radam_inside_lookahead():
    r = get_recipe("glagcn-h36m-gt-243")
    opt = build_optimizer(r, [torch.nn.Parameter(torch.zeros(3))])
    assert isinstance(opt, Lookahead) and isinstance(opt.inner, torch.optim.RAdam)
    assert (opt.alpha, opt.k) == (0.5, 6)
    assert opt.param_groups[0]["betas"] == (0.95, 0.999) and opt.param_groups[0]["eps"] == 1e-5
    amsgrad = build_optimizer(get_recipe("gcn-modulated-cpn"), [torch.nn.Parameter(torch.zeros(3))])
    assert amsgrad.param_groups[0]["amsgrad"] is True


def test_recipe_is_a_plain_dataclass_that_round_trips():
    from dataclasses import asdict

    r = get_recipe("glagcn-humaneva-gt-27", "quick")
    assert Recipe(**asdict(r)) == r
    assert math.isfinite(r.lr)


def test_model_overrides_merge_into_the_recipes_own():
    r = get_recipe("glagcn-h36m-gt-27", model_overrides={"channels": 48})
    assert r.model_overrides == {"receptive_field": 27, "channels": 48}
    q = get_recipe("gridconv-gt", "quick", model_overrides={"hidden": 64})
    assert q.model_overrides["hidden"] == 64 and q.model_overrides["padding"] == ("c", "r")
