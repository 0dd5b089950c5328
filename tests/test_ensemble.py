"""MeanEnsemble: the average of its members, rebuilt from a model file, and built by the pretrained command."""
from __future__ import annotations

import json

import pytest
import torch

from poselift_core import pretrained
from poselift_core.checkpoint import CheckpointError, load_model, model_config_dict, save_checkpoint
from poselift_core.models import build_model
from poselift_core.models.ensemble import MeanEnsemble


def _members(name: str, k: int, **cfg) -> list[torch.nn.Module]:
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        out.append(build_model(name, **cfg).eval())
    return out


@pytest.mark.parametrize("name, cfg, shape", [
    ("modulated", dict(skeleton=17, hidden=16, num_blocks=1), (5, 17, 2)),
    ("glagcn", dict(channels=8, filter_widths=(3, 3)), (3, 9, 17, 2)),
])
def test_output_is_the_mean_of_the_members_outputs(name, cfg, shape):
    members = _members(name, 3, **cfg)
    ens = MeanEnsemble(members).eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        each = [m(x) for m in members]
        expected = (each[0] + each[1] + each[2]) / 3
        got = ens(x)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)
    assert not torch.allclose(each[0], each[1])            # the members differ, so averaging does something
    assert ens.receptive_field == members[0].receptive_field and ens.config == members[0].config
    assert sum(p.numel() for p in ens.parameters()) == 3 * sum(p.numel() for p in members[0].parameters())


def test_members_of_different_configurations_are_refused():
    with pytest.raises(ValueError, match="share one configuration"):
        MeanEnsemble([build_model("modulated", skeleton=17, hidden=8, num_blocks=1),
                      build_model("modulated", skeleton=17, hidden=16, num_blocks=1)])
    with pytest.raises(ValueError, match="at least one"):
        MeanEnsemble([])


def _model_file(tmp_path, ens: MeanEnsemble, size) -> str:
    path = tmp_path / "ens.pt"
    save_checkpoint({"format_version": 1, "model_name": "modulated", "model_config": model_config_dict(ens),
                     "model": {k: v.half() if v.is_floating_point() else v for k, v in ens.state_dict().items()},
                     "ensemble_size": size}, path)
    return path


def test_a_model_file_with_ensemble_size_rebuilds_the_ensemble(tmp_path):
    ens = MeanEnsemble(_members("modulated", 2, skeleton=17, hidden=8, num_blocks=1)).eval()
    path = _model_file(tmp_path, ens, 2)
    loaded = load_model(path)
    assert isinstance(loaded, MeanEnsemble) and len(loaded.members) == 2 and not loaded.training
    x = torch.randn(4, 17, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), ens(x), rtol=0, atol=2e-2)     # float16 storage
    for bad in (0, "2", True):
        with pytest.raises(CheckpointError, match="ensemble_size"):
            load_model(_model_file(tmp_path, ens, bad))
    with pytest.raises(CheckpointError, match="weights do not fit") as info:
        load_model(_model_file(tmp_path, ens, 3))
    assert str(tmp_path / "ens.pt") in str(info.value)


@pytest.fixture
def tiny_spec(monkeypatch):
    """A two-member, two-stage pretrained spec small enough to train in seconds on the open benchmark."""
    spec = pretrained.PretrainedSpec(
        recipe="gcn-modulated-gt", family="test", members=2,
        overrides={"joints": 17, "model_overrides": {"hidden": 8, "num_blocks": 1}, "epochs": 1,
                   "max_steps_per_epoch": 3, "batch_size": 8, "eval_max_frames": 64},
        finetune={"augment": {"noise_2d": 0.01}, "lr": 1e-4, "max_steps_per_epoch": 2})
    monkeypatch.setitem(pretrained.PRETRAINED, "tiny-open", spec)
    monkeypatch.setattr(pretrained, "THREADS", 1)
    return spec


def test_build_trains_each_seed_and_ships_their_average(tmp_path, tiny_spec):
    path = pretrained.build("tiny-open", tmp_path, progress=False)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert ckpt["ensemble_size"] == 2
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["members"] == 2 and [st["seed"] for st in meta["stages"]] == [0, 0, 1, 1]
    assert not (tmp_path / ".tiny-open-members").exists()           # the kept members go once the file is written
    runs_scored = meta["test"]["members"]
    assert [m["seed"] for m in runs_scored] == [0, 1] and runs_scored[0]["mpjpe"] != runs_scored[1]["mpjpe"]
    shipped = load_model(path)
    # an independent computation: each seed trained on its own, then averaged by hand
    runs = [pretrained.train_member(tiny_spec, seed, progress=False)[0] for seed in (0, 1)]
    x = torch.randn(6, 17, 2) * 0.3
    with torch.no_grad():
        by_hand = (runs[0](x) + runs[1](x)) / 2
        torch.testing.assert_close(shipped(x), by_hand, rtol=0, atol=2e-3)   # float16 storage
        assert not torch.allclose(runs[0](x), runs[1](x), atol=1e-3)


def test_an_interrupted_build_keeps_finished_members(tmp_path, tiny_spec):
    cache = pretrained._member_cache(tmp_path, "tiny-open", 0)
    data_sha = json.loads((pretrained.PRETRAINED_DIR / "modgcn-open.json").read_text())["data_content_sha256"]
    first, stages = pretrained.train_member(tiny_spec, 0, progress=False, cache=cache, data_sha=data_sha)
    assert cache.is_file() and [st.get("reused") for st in stages] == [None, None]
    # mark the kept member so that taking it (instead of training again) is visible
    kept = torch.load(cache, weights_only=True)
    kept["model"] = {k: v + 1 if v.is_floating_point() else v for k, v in kept["model"].items()}
    save_checkpoint(kept, cache)
    again, stages = pretrained.train_member(tiny_spec, 0, progress=False, cache=cache, data_sha=data_sha)
    assert [st.get("reused") for st in stages] == [True, True]
    marked = {k: v + 1 for k, v in first.state_dict().items() if v.is_floating_point()}
    for k, v in marked.items():
        torch.testing.assert_close(again.state_dict()[k], v)
    # another plan (here: other data) is not taken from the cache: trained again, identical to the first run
    fresh, _ = pretrained.train_member(tiny_spec, 0, progress=False, cache=cache, data_sha="other")
    for k, v in first.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[k], v, rtol=0, atol=0)
