"""Evaluation outputs others can recompute: both averages, per subject, mean-pose baseline, predictions.npz."""
import json

import numpy as np
import pytest
import torch
import torch.nn as nn

from poselift_core.batching import PoseTensors
from poselift_core.checkpoint import OutputExistsError
from poselift_core.evaluate import MeanPose, evaluate, frames_description, mean_pose_baseline, write_results
from poselift_core.skeleton import H36M_16


class Fixed(nn.Module):
    """Predicts the target plus a known per-frame offset (so every error is known in advance)."""

    receptive_field = 1

    def __init__(self, y3d, offset):
        super().__init__()
        self.y3d, self.offset = y3d, offset

    def forward(self, x):
        # the test frames are fed in order and batch_size covers them all
        shift = torch.zeros(16, 3)
        shift[1:, 2] = 1.0                                  # every joint but the root moves along z
        return self.y3d[: x.shape[0]] + self.offset[: x.shape[0], None, None] * shift


def split():
    """S9: Walking (4 frames), Eating (2); S11: Walking (6). Camera 1 for S11."""
    lengths = torch.tensor([4, 2, 6])
    g = torch.Generator().manual_seed(1)
    n = int(lengths.sum())
    y = torch.randn(n, 16, 3, generator=g) * 0.2
    y[:, 0] = 0
    return PoseTensors(
        x2d=torch.randn(n, 16, 2, generator=g), y3d=y, root=torch.zeros(n, 3),
        frame_seq=torch.repeat_interleave(torch.arange(3), lengths), seq_start=torch.cumsum(lengths, 0) - lengths,
        seq_length=lengths, intrinsics=torch.zeros(3, 9), subjects=["S9", "S9", "S11"],
        actions=["Walking 1", "Eating", "Walking 2"], cameras=[0, 0, 1], skeleton=H36M_16,
        keypoints_left=H36M_16.left, keypoints_right=H36M_16.right)


def test_both_averages_per_subject_and_the_mean_pose_on_the_same_frames():
    t = split()
    offset = torch.tensor([0.01] * 4 + [0.04] * 2 + [0.02] * 6)          # metres, along z for non-root joints
    ev = evaluate(Fixed(t.y3d, offset), t, batch_size=100, mean_pose=torch.zeros(16, 3),
                  return_predictions=True)
    per_frame = 1000 * offset * 15 / 16                                  # the root row is zeroed: 15 of 16 joints
    walking = torch.cat([per_frame[:4], per_frame[6:]]).mean().item()
    assert ev["mpjpe"] == pytest.approx((walking + per_frame[4].item()) / 2)          # mean over 2 actions
    assert ev["mpjpe_frames"] == pytest.approx(per_frame.mean().item())
    assert ev["frames"] == 12 and ev["per_subject"]["S11"]["frames"] == 6
    assert ev["per_subject"]["S9"]["mpjpe"] == pytest.approx((per_frame[0] + per_frame[4]).item() / 2)
    assert ev["per_subject"]["S9"]["mpjpe_frames"] == pytest.approx(per_frame[:6].mean().item())
    zero_err = 1000 * t.y3d.norm(dim=-1).mean(-1)                        # the zero pose's error per frame
    assert ev["mean_pose_mpjpe_frames"] == pytest.approx(zero_err.mean().item(), rel=1e-6)
    assert ev["per_subject"]["S11"]["mean_pose_mpjpe_frames"] == pytest.approx(zero_err[6:].mean().item(), rel=1e-6)
    p = ev["predictions"]
    assert p["pred"].dtype == np.float32 and p["pred"].shape == (12, 16, 3)
    assert list(p["subject"]) == ["S9"] * 6 + ["S11"] * 6 and list(p["camera"]) == [0] * 6 + [1] * 6
    assert list(p["action"][4:7]) == ["Eating", "Eating", "Walking 2"] and list(p["frame"][:6]) == [0, 1, 2, 3, 0, 1]
    np.testing.assert_allclose(p["target"], 1000 * t.y3d.numpy(), rtol=1e-6)
    recomputed = np.linalg.norm(p["pred"] - p["target"], axis=-1).mean(-1)
    np.testing.assert_allclose(recomputed, per_frame.numpy(), rtol=1e-4)


def test_mean_pose_baseline_matches_the_mean_pose_field():
    t = split()
    mean = t.y3d[:6].mean(0)
    base = mean_pose_baseline(PoseTensors(**{**t.__dict__, "y3d": t.y3d[:6]}), t)
    ev = evaluate(MeanPose(mean), t, mean_pose=mean)
    assert base["mpjpe"] == pytest.approx(ev["mpjpe"]) == pytest.approx(ev["mean_pose_mpjpe"])


def test_max_frames_subset_is_described():
    t = split()
    assert frames_description(t, None) == "every frame of the 3 test sequences"
    assert "at most 2 frames of each of the 3" in frames_description(t, 5)
    with pytest.raises(ValueError, match="max_frames must be >= 1"):
        evaluate(MeanPose(torch.zeros(16, 3)), t, max_frames=0)


def test_writer_refuses_existing_results_unless_overwrite(tmp_path):
    t = split()
    ev = evaluate(MeanPose(torch.zeros(16, 3)), t, return_predictions=True)
    pred = ev.pop("predictions")
    written = write_results(tmp_path, ev, pred)
    assert [p.name for p in written] == ["results.json", "results.md", "predictions.npz"]
    assert json.loads((tmp_path / "results.json").read_text())["frames"] == 12
    assert "## Per subject (mm)" in (tmp_path / "results.md").read_text()
    with pytest.raises(OutputExistsError, match="results.json already exists"):
        write_results(tmp_path, ev)
    (tmp_path / "results.json").unlink()
    (tmp_path / "results.md").unlink()
    with pytest.raises(OutputExistsError, match="predictions.npz"):
        write_results(tmp_path, ev)
    write_results(tmp_path, ev, overwrite=True)
