"""Trainer and evaluation: determinism, exact resume, atomic checkpoints, NaN handling, results, tables."""
import hashlib
import json
import math
from dataclasses import replace

import pytest
import torch
import torch.nn as nn

import poselift_core.checkpoint as ckpt_mod
from poselift_core.batching import PoseTensors, flip_keypoints_2d, flip_pose_3d
from poselift_core.checkpoint import load_model, read_checkpoint, save_checkpoint
from poselift_core.data import load_videopose3d
from poselift_core.data.fixtures import make_fake_h36m
from poselift_core.evaluate import evaluate, predict
from poselift_core.metrics import mpjpe, p_mpjpe
from poselift_core.models import build_model
from poselift_core.recipes import get_recipe
from poselift_core.skeleton import H36M_16
from poselift_core.train import NonFiniteLossError, RunConfig, Trainer, train

TINY_GCN = {"hidden": 16, "num_blocks": 1}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("fake_h36m")
    ds = load_videopose3d(*make_fake_h36m(d, subjects=("S1", "S9"), frames=40, seed=3), joints=16,
                          splits={"train": ["S1"], "test": ["S9"]})
    return ds.tensors("train"), ds.tensors("test")


def tiny(**kw):
    base = dict(model_overrides=TINY_GCN, batch_size=32, epochs=2, max_steps_per_epoch=6)
    base.update(kw)
    return get_recipe("gcn-vanilla-gt", "quick", **base)


def weights(path):
    return read_checkpoint(path)["model"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def strip_times(results):
    return {k: v for k, v in results.items()
            if k not in ("train_time_s", "eval_time_s", "train_samples_per_s", "history", "checkpoint", "resumes")} | {
        "history": [{k: v for k, v in h.items() if k != "time_s"} for h in results["history"]]}


def test_same_seed_gives_identical_runs_and_another_seed_does_not(data, tmp_path):
    r = tiny(model_overrides={**TINY_GCN, "dropout": 0.2}, flip_aug=True)
    a = train(RunConfig(r, out=str(tmp_path / "a"), progress=False), *data)
    b = train(RunConfig(r, out=str(tmp_path / "b"), progress=False), *data)
    c = train(RunConfig(r.replace(seed=1), out=str(tmp_path / "c"), progress=False), *data)
    assert strip_times(a) == strip_times(b)
    assert_same_weights(weights(tmp_path / "a/checkpoint.pt"), weights(tmp_path / "b/checkpoint.pt"))
    assert a["mpjpe"] != c["mpjpe"]


class Killed(Exception):
    pass


def _run_until_killed(run, data, kill_at_step):
    """Train, but die right after optimiser step ``kill_at_step`` (as a SIGKILL would, without cleanup)."""
    trainer = Trainer(run, *data)
    step = trainer.train_step

    def dying_step(idx, progress):
        if trainer.step == kill_at_step:
            raise Killed
        return step(idx, progress)

    trainer.train_step = dying_step
    with pytest.raises(Killed):
        trainer.fit()


@pytest.mark.parametrize("kill_at_step, every", [(6, 0), (8, 4)], ids=["epoch-boundary", "mid-epoch"])
def test_resume_reaches_the_uninterrupted_result(data, tmp_path, kill_at_step, every):
    # dropout, flips, Ranger (Lookahead state), cosine schedule: everything that carries state across steps
    # the loss logged every 5 steps and an evaluation every 4: windows cross the epoch and checkpoint boundaries
    r = tiny(model_overrides={**TINY_GCN, "dropout": 0.1}, flip_aug=True, tta=True, optimizer="ranger",
             schedule="cosine", lr=3e-3, log_every=5, eval_every_steps=4, eval_steps_max_frames=20)
    full = train(RunConfig(r, out=str(tmp_path / "full"), progress=False), *data)
    assert [h["step"] for h in full["step_history"] if "loss" in h] == [5, 10]
    assert [h["step"] for h in full["step_history"] if "mpjpe" in h] == [4, 8]    # 12: scored at the epoch's end
    run = RunConfig(r, out=str(tmp_path / "killed"), progress=False, checkpoint_every=every)
    _run_until_killed(run, data, kill_at_step)
    assert read_checkpoint(tmp_path / "killed/checkpoint.pt")["step"] == kill_at_step
    resumed = train(replace(run, resume=True), *data)
    assert_same_weights(weights(tmp_path / "full/checkpoint.pt"), weights(tmp_path / "killed/checkpoint.pt"))
    assert strip_times(resumed) | {"steps": 0} == strip_times(full) | {"steps": 0}
    assert resumed["steps"] == full["steps"] == 12


def test_step_log_holds_the_mean_loss_of_its_steps_and_agrees_with_the_epoch_means(data):
    r = tiny(log_every=1, eval_every_steps=0)
    every = train(RunConfig(r, progress=False), *data)
    losses = [h["loss"] for h in every["step_history"]]
    assert [h["step"] for h in every["step_history"]] == list(range(1, 13))
    assert [h["epoch"] for h in every["step_history"]][:6] == pytest.approx([k / 6 for k in range(1, 7)], abs=1e-6)
    # the epoch's mean loss (the per-epoch history, summed apart) is the mean of its six steps
    for e in range(2):
        assert every["history"][e]["loss"] == pytest.approx(sum(losses[6 * e:6 * e + 6]) / 6, rel=1e-12)
    # a window of 5 steps is the mean of those steps, across the epoch boundary; logging changes no weight
    five = train(RunConfig(r.replace(log_every=5), progress=False), *data)
    assert [h["loss"] for h in five["step_history"]] == pytest.approx(
        [sum(losses[:5]) / 5, sum(losses[5:10]) / 5], rel=1e-12)
    assert five["mpjpe"] == every["mpjpe"] and five["history"] == [dict(h, time_s=f["time_s"]) for h, f in
                                                                  zip(every["history"], five["history"])]
    json.dumps(five["step_history"], allow_nan=False)                          # plain numbers only


def test_in_epoch_evaluations_score_the_weights_of_their_step_and_change_no_weight(data, tmp_path):
    r = tiny(model_overrides={**TINY_GCN, "dropout": 0.3}, eval_every_steps=2, eval_steps_max_frames=30,
             log_every=0)
    trainer = Trainer(RunConfig(r, out=str(tmp_path / "eval"), progress=False), *data)
    snapshots = {}
    real = trainer.evaluate_in_epoch

    def remember(progress):
        snapshots[trainer.step] = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        assert trainer.model.training
        real(progress)
        assert trainer.model.training                                          # back to training mode

    trainer.evaluate_in_epoch = remember
    res = trainer.fit()
    evals = res["step_history"]
    # steps 6 and 12 end an epoch that fit() scores anyway (eval_every=1): not repeated inside the epoch
    assert [h["step"] for h in evals] == [2, 4, 8, 10] and all("loss" not in h for h in evals)
    # each entry scores the weights of its step: rebuild them and evaluate independently
    model = build_model(r.model, skeleton=data[0].skeleton, **r.model_overrides)
    for h in evals:
        model.load_state_dict(snapshots[h["step"]])
        ev = evaluate(model, data[1], max_frames=30, mean_pose=trainer.mean_pose)
        assert (h["mpjpe"], h["p_mpjpe"], h["frames"]) == pytest.approx((ev["mpjpe"], ev["p_mpjpe"], ev["frames"]))
        assert h["frames"] < res["frames"] == data[1].num_frames              # a small subset; the end: all
    quiet = train(RunConfig(r.replace(eval_every_steps=0), out=str(tmp_path / "quiet"), progress=False), *data)
    assert_same_weights(weights(tmp_path / "eval/checkpoint.pt"), weights(tmp_path / "quiet/checkpoint.pt"))
    assert quiet["step_history"] == [] and quiet["mpjpe"] == res["mpjpe"]
    assert read_checkpoint(tmp_path / "eval/checkpoint.pt")["step_history"] == evals   # weights_only-safe


def test_checkpoint_without_the_logging_fields_resumes_without_a_change(data, tmp_path):
    from poselift_core.train import settings_changes

    r = get_recipe("gcn-vanilla-gt")                   # full profile: logging off, as before the fields existed
    old = {k: v for k, v in __import__("dataclasses").asdict(r).items()
           if k not in ("log_every", "eval_every_steps", "eval_steps_max_frames")}
    run = RunConfig(r)
    assert settings_changes({"recipe": old}, r, run) == {}
    changed = settings_changes({"recipe": old}, r.replace(log_every=10), run)
    assert changed == {"log_every": (0, 10)}


def test_interrupted_save_leaves_the_previous_checkpoint_valid(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint({"format_version": 1, "model_name": "x", "model_config": {}, "model": {"w": torch.ones(3)}}, path)
    before = path.read_bytes()

    def crashing_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint({"format_version": 1, "model": {"w": torch.zeros(3)}}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert torch.equal(read_checkpoint(path)["model"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]       # no temp file left behind


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_good_checkpoint(data, tmp_path):
    train_set, test_set = data
    run = RunConfig(tiny(epochs=1), out=str(tmp_path), progress=False)
    train(run, train_set, test_set)
    digest = hashlib.sha256((tmp_path / "checkpoint.pt").read_bytes()).hexdigest()
    poisoned = replace(train_set, x2d=torch.full_like(train_set.x2d, float("nan")))
    with pytest.raises(NonFiniteLossError, match="non-finite.*last good checkpoint"):
        train(replace(run, recipe=run.recipe.replace(epochs=2), resume=True, allow_changes=True), poisoned, test_set)
    assert hashlib.sha256((tmp_path / "checkpoint.pt").read_bytes()).hexdigest() == digest
    assert read_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1


def test_results_files_and_tables_agree_with_a_direct_computation(data, tmp_path):
    train_set, test_set = data
    res = train(RunConfig(tiny(), out=str(tmp_path), progress=False), train_set, test_set)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    for key in ("mpjpe", "p_mpjpe", "recipe", "seed", "epochs", "git_commit", "data", "model", "parameters",
                "train_time_s", "per_action", "per_subject", "history"):
        assert key in on_disk, key
    assert on_disk["mpjpe"] == pytest.approx(res["mpjpe"]) and len(on_disk["history"]) == 2
    assert "| MPJPE (P1) |" in (tmp_path / "results.md").read_text()
    # independent check: rebuild from the checkpoint alone and score every action with a Python loop
    model = load_model(tmp_path / "checkpoint.pt")
    with torch.no_grad():
        pred = model(test_set.x2d)
    pred = pred - pred[:, :1]
    per_action = {}
    for action in sorted({a.split(" ")[0] for a in test_set.actions}):
        rows = [f for f in range(test_set.num_frames)
                if test_set.actions[test_set.frame_seq[f]].split(" ")[0] == action]
        per_action[action] = 1000 * mpjpe(pred[rows], test_set.y3d[rows]).item()
    assert on_disk["per_action"]["mpjpe"]["Average"] == pytest.approx(sum(per_action.values()) / len(per_action))
    for action, value in per_action.items():
        assert on_disk["per_action"]["mpjpe"][action] == pytest.approx(value, rel=1e-5)


def test_quick_training_beats_the_mean_pose_baseline(data):
    train_set, test_set = data
    baseline = 1000 * mpjpe(train_set.y3d.mean(0, keepdim=True).expand_as(test_set.y3d), test_set.y3d).item()
    # the recipe's optimiser and loss; a small Modulated GCN and a larger rate so 150 steps suffice
    recipe = tiny(model="modulated", model_overrides={"hidden": 16, "num_blocks": 0}, lr=2e-2, epochs=15,
                  max_steps_per_epoch=10, batch_size=64, eval_every=15)
    res = train(RunConfig(recipe, progress=False), train_set, test_set)
    assert res["mpjpe"] < 0.8 * baseline
    assert [h["mpjpe"] is None for h in res["history"]] == [True] * 14 + [False]


# ---------------------------------------------------------------------------------------------- evaluation
class LiftXY(nn.Module):
    """Predicts (x, y, 0) for every joint: wrong exactly by the target's depth."""

    receptive_field = 1

    def forward(self, x):
        return torch.cat([x, torch.zeros_like(x[..., :1])], -1)


def hand_built_split():
    """Three actions of different lengths; action k has every non-root joint at depth z_k."""
    depth = {"Walking 1": 0.1, "Eating": 0.3, "Sitting 2": 0.05}
    length = {"Walking 1": 5, "Eating": 2, "Sitting 2": 9}
    g = torch.Generator().manual_seed(0)
    xs, ys, seqs = [], [], []
    for s, a in enumerate(depth):
        x = torch.rand(length[a], 16, 2, generator=g) - 0.5
        x[:, 0] = 0                                               # root at the origin
        y = torch.cat([x, torch.full_like(x[..., :1], depth[a])], -1)
        y[:, 0] = 0
        xs.append(x)
        ys.append(y)
        seqs += [s] * length[a]
    lengths = torch.tensor(list(length.values()))
    return PoseTensors(
        x2d=torch.cat(xs), y3d=torch.cat(ys), root=torch.zeros(len(seqs), 3), frame_seq=torch.tensor(seqs),
        seq_start=torch.cumsum(lengths, 0) - lengths, seq_length=lengths, intrinsics=torch.zeros(3, 9),
        subjects=["S9", "S9", "S11"], actions=list(depth), cameras=[0, 0, 0], skeleton=H36M_16,
        keypoints_left=H36M_16.left, keypoints_right=H36M_16.right), depth, length


def test_per_action_table_on_a_hand_built_case():
    tensors, depth, length = hand_built_split()
    ev = evaluate(LiftXY(), tensors, batch_size=4)
    expected = {a.split(" ")[0]: 1000 * z * 15 / 16 for a, z in depth.items()}   # root error is 0
    for a, v in expected.items():
        assert ev["per_action"]["mpjpe"][a] == pytest.approx(v)
    assert ev["mpjpe"] == pytest.approx(sum(expected.values()) / 3)                 # unweighted over actions
    weighted = sum(expected[a.split(" ")[0]] * length[a] for a in depth) / sum(length.values())
    assert ev["mpjpe_frames"] == pytest.approx(weighted) and ev["mpjpe_frames"] != pytest.approx(ev["mpjpe"])
    pred = LiftXY()(tensors.x2d)
    assert ev["p_mpjpe"] == pytest.approx(
        sum(1000 * p_mpjpe(pred[tensors.frame_seq == s], tensors.y3d[tensors.frame_seq == s]).item()
            for s in range(3)) / 3, rel=1e-5)
    assert ev["per_subject_action"]["mpjpe"]["S11"]["Sitting"] == pytest.approx(expected["Sitting"])
    assert set(ev["per_subject_action"]["mpjpe"]["S9"]) == {"Walking", "Eating", "Average"}
    s9 = ev["per_subject"]["S9"]            # Walking (5 frames) and Eating (2 frames)
    assert s9["frames"] == 7 and ev["per_subject"]["S11"]["frames"] == 9
    assert s9["mpjpe"] == pytest.approx((expected["Walking"] + expected["Eating"]) / 2)
    assert s9["mpjpe_frames"] == pytest.approx((5 * expected["Walking"] + 2 * expected["Eating"]) / 7)


def test_tta_averages_the_unflipped_prediction_of_the_mirrored_input():
    tensors, _, _ = hand_built_split()
    torch.manual_seed(0)
    model = build_model("vanilla", skeleton=H36M_16, **TINY_GCN).eval()
    _, plain = predict(model, tensors)
    _, tta = predict(model, tensors, tta=True)
    with torch.no_grad():
        mirrored = flip_pose_3d(model(flip_keypoints_2d(tensors.x2d, H36M_16.left, H36M_16.right)), H36M_16)
    expected = 0.5 * (model(tensors.x2d).detach() + mirrored)
    torch.testing.assert_close(tta, expected - expected[:, :1])
    assert not torch.allclose(tta, plain)


def test_temporal_evaluation_is_exact_in_blocks_and_without_lift_sequence(data):
    _, test_set = data
    torch.manual_seed(0)
    model = build_model("glagcn", skeleton=H36M_16, receptive_field=9, channels=8).eval()

    class WindowsOnly(nn.Module):              # the same network without lift_sequence: the window path
        receptive_field = 9

        def forward(self, x):
            return model(x)

    frames, whole = predict(model, test_set, batch_size=10_000)
    _, blocks = predict(model, test_set, batch_size=7)          # 72-frame blocks with 4 frames of context
    _, windows = predict(WindowsOnly(), test_set, batch_size=50)
    assert torch.equal(frames, torch.arange(test_set.num_frames))
    torch.testing.assert_close(blocks, whole, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(windows, whole, rtol=1e-5, atol=1e-6)
    sub_frames, sub = predict(model, test_set, max_frames=40)
    assert sub_frames.numel() <= 40 + test_set.num_sequences
    torch.testing.assert_close(sub, whole[sub_frames], rtol=1e-5, atol=1e-6)


def test_gridconv_refuses_a_skeleton_without_a_semantic_grid(data):
    r = get_recipe("gridconv-gt", "quick", model_overrides={"padding": ["c", "r"], "hidden": 8, "num_blocks": 1})
    with pytest.raises(ValueError, match="17"):
        Trainer(RunConfig(r, progress=False), *data)        # the fixture is 16-joint data


def test_gridconv_step_and_hook_run(tmp_path):
    ds = load_videopose3d(*make_fake_h36m(tmp_path, subjects=("S1", "S9"), frames=24), joints=17,
                          splits={"train": ["S1"], "test": ["S9"]})
    r = get_recipe("gridconv-gt", "quick", model_overrides={"padding": ["c", "r"], "hidden": 8, "num_blocks": 1},
                   batch_size=16, epochs=1, max_steps_per_epoch=3)
    trainer = Trainer(RunConfig(r, progress=False), ds.tensors("train"), ds.tensors("test"))
    temps = []
    hook = trainer.model.on_train_step
    trainer.model.on_train_step = lambda p, e: (temps.append(p), hook(p, e))
    res = trainer.fit()
    assert temps == pytest.approx([0, 1 / 3, 2 / 3]) and math.isfinite(res["mpjpe"])


def test_throughput_counts_samples_and_training_time_excludes_evaluation(data, monkeypatch):
    import time

    train_set, test_set = data
    recipe = tiny(batch_size=48, max_steps_per_epoch=None, epochs=2)        # the last batch of an epoch is short
    assert train_set.num_frames % 48
    import poselift_core.train as train_mod

    real = train_mod.evaluate

    def slow_evaluate(*args, **kwargs):
        time.sleep(0.4)
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "evaluate", slow_evaluate)
    res = train(RunConfig(recipe, progress=False), train_set, test_set)
    assert res["samples_seen"] == 2 * train_set.num_frames                   # not steps x batch
    assert res["steps"] * 48 > res["samples_seen"]
    assert res["eval_time_s"] >= 0.8 and res["train_time_s"] < res["eval_time_s"]
    # throughput is over the optimiser steps alone, which take at most the training time
    assert res["train_samples_per_s"] >= res["samples_seen"] / res["train_time_s"] * 0.99
    assert res["history"][-1]["time_s"] == pytest.approx(res["train_time_s"], abs=1e-3)


def test_shortened_epochs_are_said_in_the_log_and_the_results(tmp_path):
    from poselift_core.recipes import get_recipe
    from poselift_core.train import RunConfig, train

    recipe = get_recipe("gcn-vanilla-gt", "quick", epochs=1, max_steps_per_epoch=2)
    res = train(RunConfig(recipe, data="sample", device="cpu", out=str(tmp_path / "run"), progress=False))
    info = res["shortened_epochs"]
    assert info["steps"] == 2 and info["full_steps"] > 2
    assert "advance per shortened epoch" in (tmp_path / "run" / "train.log").read_text()
    full = get_recipe("gcn-vanilla-gt", "quick", epochs=1, max_steps_per_epoch=10**6)
    res_full_len = train(RunConfig(full.replace(batch_size=4096), data="sample", device="cpu", progress=False))
    assert res_full_len["shortened_epochs"] is None
