"""Predictions on chosen frames, nearest training poses and the worst frame, against direct computations."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from poselift_core.data.fixtures import make_fake_h36m
from poselift_core.data import load_h36m
from poselift_core.evaluate import predict
from poselift_core.inspection import (frame_label, nearest_training_distance, pick_clip, predict_frames,
                                      worst_frame)
from poselift_core.models import build_model
from poselift_core.plotting import plot_per_joint_error, plot_prediction_3d


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    p3, _ = make_fake_h36m(tmp_path_factory.mktemp("h36m"), frames=48)
    ds = load_h36m(p3.parent)
    return ds.tensors(["S1"]), ds.tensors(["S9", "S11"])


@pytest.mark.parametrize("name,overrides", [("vanilla", {"skeleton": "h36m17"}),
                                            ("glagcn", {"filter_widths": (3, 3), "channels": 16})])
def test_predict_frames_matches_the_evaluator_on_the_same_frames(splits, name, overrides):
    torch.manual_seed(0)
    model = build_model(name, **overrides).train()                       # mode must come back as it was
    _, test = splits
    frames_all, pred_all = predict(model, test, max_frames=40)          # the evaluator's window path
    pick = frames_all[::3]
    got = predict_frames(model, test, pick, batch_size=7)                # odd batch: several chunks
    expected = pred_all[::3]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert model.training
    assert torch.all(got[:, test.skeleton.root] == 0)


def test_pick_clip_stays_inside_one_sequence(splits):
    _, test = splits
    idx = pick_clip(test, "S9", camera=1, num_frames=10, stride=4)
    seq = test.frame_seq[idx]
    assert len(idx) == 10 and torch.all(seq == seq[0])
    s = int(seq[0])
    assert test.subjects[s] == "S9" and test.cameras[s] == 1
    assert torch.all(idx.diff() == 4)
    with pytest.raises(ValueError, match="no test sequence"):
        pick_clip(test, "S42")
    assert frame_label(test, int(idx[0]), 12.3).endswith(": 12 mm")


def test_nearest_training_distance_equals_brute_force(splits):
    train, test = splits
    poses = test.y3d[:25]
    got = nearest_training_distance(poses, train, max_train=10**9, chunk=4)
    brute = np.array([min(np.linalg.norm(p.numpy() - q.numpy(), axis=-1).mean() for q in train.y3d)
                      for p in poses]) * 1000
    np.testing.assert_allclose(got.numpy(), brute, rtol=1e-4)


def test_worst_frame_is_the_largest_error_and_explains_itself(splits):
    train, test = splits
    frames = torch.arange(0, 60)
    target = test.y3d[frames]
    pred = target.clone()
    pred[17, 3] += torch.tensor([0.0, 0.0, 0.5])                         # 0.5 m error on one joint, frame 17
    case = worst_frame(pred, target, frames, test, train)
    assert case.frame == 17
    assert case.worst_joints[0] == test.skeleton.names[3]
    assert case.error_mm == pytest.approx(500 / test.skeleton.num_joints, rel=1e-4)
    text = case.sentence()
    assert test.skeleton.names[3] in text and f"{case.error_mm:.0f} mm" in text


def test_prediction_figure_carries_truth_and_prediction_per_frame():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(3, 17, 3))
    pred = target + 0.1
    fig = plot_prediction_3d(pred, target, labels=["a", "b", "c"], up="z")
    assert len(fig.frames) == 3
    truth_trace = fig.frames[1].data[0]
    # frame 1's truth trace holds exactly the joints of frame 1's target (each bone's two ends), not the prediction
    xs = {round(v, 4) for v in truth_trace.x if v is not None and not np.isnan(v)}
    assert xs == {round(v, 4) for v in np.round(target[1, :, 0], 4)}
    assert "mm" in fig.frames[2].data[-1].text[0]
    with pytest.raises(ValueError, match="both be"):
        plot_prediction_3d(pred[:, :16], target)


def test_per_joint_error_bars_have_one_bar_per_joint():
    ax = plot_per_joint_error(np.arange(17.0), baseline_mm=np.full(17, 20.0))
    assert len(ax.patches) == 34
    with pytest.raises(ValueError, match="17 joints"):
        plot_per_joint_error(np.arange(16.0))
