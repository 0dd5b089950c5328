"""Losses, optimisers and learning-rate schedules (poselift_core.optim) against hand computations.

The paper recipes' own values (Any-GCN, ModGCN, GLA-GCN, GridConv schedules; Ranger's settings) are checked in
tests/test_recipes.py; here every formula is checked on small made-up settings.
"""
import math

import numpy as np
import pytest
import torch

from poselift_core.metrics import mpjpe
from poselift_core.optim import Lookahead, build_optimizer, lr_at, pose_loss, set_lr
from poselift_core.recipes import Recipe


def recipe(**kw) -> Recipe:
    return Recipe(name="test", model="vanilla", **kw)


# --------------------------------------------------------------------------- schedules
def test_every_schedule_against_its_hand_computed_values():
    base = dict(lr=0.1, decay=0.5, decay_every=3)
    constant = recipe(schedule="constant", **base)
    assert [lr_at(constant, e, s) for e, s in ((0, 0), (7, 10_000))] == [0.1, 0.1]
    # per optimiser step: halves after steps 3, 6, ... whatever the epoch
    stair = recipe(schedule="exp_staircase", **base)
    assert [lr_at(stair, 99, s) for s in range(8)] == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025] * 2)
    # per epoch: halves after epochs 3, 6, ... whatever the step
    epochs = recipe(schedule="step_epochs", **base)
    assert [lr_at(epochs, e, 12_345) for e in range(7)] == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025])
    # GridConv's StepLR stepped after every epoch whose index is a multiple of decay_every: 0, then 3, 6, ...
    grid = recipe(schedule="gridconv_step", **base)
    assert [lr_at(grid, e, 0) for e in range(8)] == pytest.approx([0.1] + [0.05] * 3 + [0.025] * 3 + [0.0125])
    # half a cosine from lr to eta_min over the run: cos(0) = 1, cos(pi/2) = 0, cos(pi) = -1
    cos = recipe(schedule="cosine", lr=0.1, eta_min=0.02, epochs=4)
    expected = [0.02 + 0.08 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    assert [lr_at(cos, e, 0) for e in range(5)] == pytest.approx(expected)
    assert (lr_at(cos, 0, 0), lr_at(cos, 2, 0), lr_at(cos, 4, 0)) == pytest.approx((0.1, 0.06, 0.02))


def test_unknown_schedule_names_itself():
    r = recipe(schedule="constant")
    r.schedule = "linear"              # Recipe refuses it at construction; lr_at must not guess either
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        lr_at(r, 0, 0)


def test_set_lr_reaches_every_group_also_through_lookahead():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    inner = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 5.0}], lr=1.0)
    opt = Lookahead(inner)
    set_lr(opt, 0.25)
    assert [g["lr"] for g in inner.param_groups] == [0.25, 0.25]


# --------------------------------------------------------------------------- losses
def poses(seed: int, shape=(6, 17, 3)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)


def test_every_loss_against_its_formula_in_float64_numpy():
    pred, target = poses(0)
    d = (pred - target).double().numpy()
    mse, l1 = (d ** 2).mean(), np.abs(d).mean()
    mean_dist = np.sqrt((d ** 2).sum(-1)).mean()                       # mean over all joints of all poses
    expected = {"mse": mse, "grid_mse": mse, "mse_l1": 0.9 * mse + 0.1 * l1, "mpjpe": mean_dist,
                "mpjpe_l1": 0.99 * mean_dist + 0.01 * l1}
    for kind, value in expected.items():
        assert pose_loss(kind, pred, target).item() == pytest.approx(value, rel=1e-6), kind
    # grid_mse takes any shape (GridConv's (B, C, 5, 5) grids)
    gp, gt = poses(1, shape=(4, 3, 5, 5))
    assert pose_loss("grid_mse", gp, gt).item() == pytest.approx(((gp - gt).double() ** 2).mean().item(), rel=1e-6)
    with pytest.raises(ValueError, match="unknown loss 'huber'"):
        pose_loss("huber", pred, target)


def test_mpjpe_loss_is_the_metric_with_its_analytic_gradient():
    pred, target = poses(2, shape=(5, 4, 16, 3))                       # windows: (B, T, J, 3)
    pred.requires_grad_(True)
    loss = pose_loss("mpjpe", pred, target)
    assert loss.item() == pytest.approx(mpjpe(pred.detach(), target).item(), rel=1e-6)
    loss.backward()
    # d/dP mean_j ||P_j - G_j|| = (P_j - G_j) / ||P_j - G_j|| / (number of joints over all poses)
    diff = (pred - target).detach()
    analytic = diff / diff.norm(dim=-1, keepdim=True) / (diff.numel() // 3)
    torch.testing.assert_close(pred.grad, analytic)


def test_loss_shape_mismatch_is_an_error_not_a_broadcast():
    pred, target = poses(3)
    with pytest.raises(ValueError, match="shape"):
        pose_loss("mpjpe", pred, target[:, :16])


# --------------------------------------------------------------------------- Lookahead
def quadratic_grad(w: torch.nn.Parameter, target: torch.Tensor) -> None:
    w.grad = None
    (0.5 * (w - target).pow(2).sum()).backward()


def test_lookahead_two_fast_steps_then_a_slow_step_by_hand():
    # k = 2, alpha = 0.25 around SGD(lr = 0.5) on 0.5 |w - c|^2, whose gradient is w - c
    w, c = torch.nn.Parameter(torch.tensor([1.0, -2.0])), torch.tensor([3.0, 2.0])
    opt = Lookahead(torch.optim.SGD([w], lr=0.5), alpha=0.25, k=2)
    quadratic_grad(w, c)
    opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor([2.0, 0.0]))     # 1 - 0.5 (1 - 3), -2 - 0.5 (-2 - 2)
    quadratic_grad(w, c)
    opt.step()
    # fast weights would be [2.5, 1.0]; slow phi = [1, -2] + 0.25 ([2.5, 1] - [1, -2]) = [1.375, -1.25]
    torch.testing.assert_close(w.detach(), torch.tensor([1.375, -1.25]))
    torch.testing.assert_close(opt.slow[0][0], torch.tensor([1.375, -1.25]))
    assert opt.fast_steps == 2


def test_lookahead_with_alpha_one_is_the_inner_optimiser():
    g = torch.Generator().manual_seed(4)
    start, c = torch.randn(5, generator=g), torch.randn(5, generator=g)
    a, b = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    plain = torch.optim.Adam([a], lr=0.1)
    wrapped = Lookahead(torch.optim.Adam([b], lr=0.1), alpha=1.0, k=3)   # phi <- theta: the reset changes nothing
    for _ in range(7):
        for w, opt in ((a, plain), (b, wrapped)):
            quadratic_grad(w, c)
            opt.step()
    torch.testing.assert_close(b.detach(), a.detach())


def test_lookahead_resumes_exactly_from_its_state_dict():
    c = torch.tensor([0.5, -1.0, 2.0])

    def run(steps: int, state=None):
        w = torch.nn.Parameter(torch.tensor([1.0, 1.0, 1.0]) if state is None else state[0].clone())
        opt = Lookahead(torch.optim.Adam([w], lr=0.2), alpha=0.5, k=3)
        if state is not None:
            opt.load_state_dict(state[1])
        for _ in range(steps):
            quadratic_grad(w, c)
            opt.step()
        return w.detach().clone(), opt.state_dict()

    straight, _ = run(10)
    half_w, half_state = run(4)                  # stop between two slow steps (4 is not a multiple of 3)
    resumed, _ = run(6, (half_w, half_state))
    assert torch.equal(resumed, straight)


def test_lookahead_refuses_bad_settings():
    params = [torch.nn.Parameter(torch.zeros(1))]
    for alpha, k in ((1.5, 6), (-0.1, 6), (0.5, 0)):
        with pytest.raises(ValueError, match="Lookahead needs"):
            Lookahead(torch.optim.SGD(params, lr=0.1), alpha=alpha, k=k)


# --------------------------------------------------------------------------- build_optimizer
def test_build_optimizer_builds_each_named_optimiser():
    def build(**kw):
        return build_optimizer(recipe(lr=0.01, **kw), [torch.nn.Parameter(torch.zeros(3))])

    sgd = build(optimizer="sgd", weight_decay=0.1)
    assert type(sgd) is torch.optim.SGD and sgd.param_groups[0]["momentum"] == 0.9
    assert sgd.param_groups[0]["weight_decay"] == 0.1 and sgd.param_groups[0]["lr"] == 0.01
    adam = build(optimizer="adam")
    assert type(adam) is torch.optim.Adam and adam.param_groups[0]["amsgrad"] is False
    assert build(optimizer="amsgrad").param_groups[0]["amsgrad"] is True
    # AdamW without a recipe weight decay uses 1e-3 (Any-GCN's option); an explicit one wins
    assert build(optimizer="adamw").param_groups[0]["weight_decay"] == 1e-3
    assert build(optimizer="adamw", weight_decay=0.05).param_groups[0]["weight_decay"] == 0.05
    ranger = build(optimizer="ranger")
    assert isinstance(ranger, Lookahead) and type(ranger.inner) is torch.optim.RAdam
    r = recipe(optimizer="adam")
    r.optimizer = "lbfgs"
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        build_optimizer(r, [torch.nn.Parameter(torch.zeros(1))])
