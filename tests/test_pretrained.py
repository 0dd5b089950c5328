"""Shipped pretrained weights: safe to load, the documented interface, and the scores their JSON claims."""
from __future__ import annotations


import pytest
import torch

from poselift_core import pretrained

NAMES = pretrained.available()


def test_every_spec_is_shipped_and_small():
    assert NAMES == list(pretrained.PRETRAINED), "build the missing ones with python -m poselift_core.pretrained build"
    total = sum(pretrained.checkpoint_path(n).stat().st_size for n in NAMES)
    assert total < 15e6
    with pytest.raises(ValueError, match="unknown pretrained model"):
        pretrained.checkpoint_path("nope")


@pytest.mark.parametrize("name", NAMES)
def test_plain_torch_load_and_the_documented_interface(name):
    path = pretrained.checkpoint_path(name)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)      # no code can run
    assert all(v.dtype == torch.float16 for v in ckpt["model"].values() if v.is_floating_point())
    meta = pretrained.info(name)
    for key in ("command", "git_commit", "data_content_sha256", "train_time_s", "machine", "seed", "test"):
        assert meta[key] is not None, key
    model = pretrained.load(name)
    assert not model.training and all(p.dtype == torch.float32 for p in model.parameters())
    rf = int(getattr(model, "receptive_field", 1))
    x = torch.zeros(2, 17, 2) if rf == 1 else torch.zeros(2, rf, 17, 2)
    with torch.no_grad():
        y = model(x)
    assert y.shape[-2:] == (17, 3)
    # the stored weights are exactly what load() puts in the model
    for k, v in model.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, ckpt["model"][k].float(), rtol=0, atol=0)


@pytest.mark.parametrize("name", [n for n in NAMES if n == "modgcn-open"])
def test_stored_scores_are_recomputed_from_the_shipped_weights(name):
    stored = pretrained.info(name)["test"]
    fresh = pretrained.score(name)
    for key in ("mpjpe", "p_mpjpe", "mpjpe_frames", "mean_pose_mpjpe"):
        assert fresh[key] == pytest.approx(stored[key], abs=0.05), key
    assert fresh["frames"] == 22376                                      # every open test camera-frame


@pytest.mark.parametrize("name", NAMES)
def test_targets_on_the_open_test_split(name):
    t = pretrained.info(name)["test"]
    assert t["mpjpe"] <= 0.55 * t["mean_pose_mpjpe"], (name, t["mpjpe"], t["mean_pose_mpjpe"])
    assert set(t["per_subject"]) == {"03", "131"}


def test_best_model_is_below_85_mm():
    assert min(pretrained.info(n)["test"]["mpjpe"] for n in NAMES) <= 85.0
