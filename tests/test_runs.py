"""The notebooks' training glue: parameters reach the recipe, rows carry what the results chapter reads."""
import json

import pytest
import torch

from poselift_core.metrics import mpjpe
from poselift_core.recipes import get_recipe
from poselift_core.runs import mean_pose_baseline, result_row, save_run, summary_line, train_recipe
from poselift_core.sources import load_data


def _fake_results(**extra):
    return {"model": "vanilla", "recipe": "gcn-vanilla-gt", "profile": "quick", "mpjpe": 250.0, "p_mpjpe": 200.0,
            "parameters": 135171, "train_time_s": 8.0, "steps": 40, "epochs": 2, "seed": 3,
            "data": {"source": "sample", "keypoints": "gt"}, "recipe_config": {"batch_size": 64},
            "model_config": {"variant": "vanilla"}, "per_action": {"mpjpe": {"Walk": 1.0, "Average": 1.0}},
            **extra}


def test_row_speed_falls_back_to_steps_times_batch_over_time():
    row = result_row(_fake_results(), "sample")
    assert row["train_samples_per_s"] == pytest.approx(40 * 64 / 8.0)
    assert row["data"] == "sample" and row["keypoints"] == "gt"
    assert row["parameters"] == row["params"] == 135171
    assert row["receptive_field"] == 1


def test_row_prefers_the_trainers_throughput_and_reads_the_window():
    row = result_row(_fake_results(train_samples_per_s=999.0, model_config={"filter_widths": [3, 3, 3]}), "h36m")
    assert row["train_samples_per_s"] == 999.0
    assert row["receptive_field"] == 27


def test_save_run_writes_one_json_named_after_the_model(tmp_path):
    path = save_run(_fake_results(), "sample", tmp_path)
    assert path.name == "results_vanilla.json"
    rows = json.loads(path.read_text())
    assert rows[0]["mpjpe"] == 250.0 and rows[0]["recipe"] == "gcn-vanilla-gt"
    assert "250.0 mm" in summary_line(_fake_results())


def test_train_recipe_applies_epochs_seed_and_overrides():
    torch.set_num_threads(1)
    trainer, results = train_recipe("gcn-vanilla-gt", profile="quick", data="sample", epochs=1, seed=5,
                                    max_steps_per_epoch=3, eval_max_frames=48, device="cpu")
    assert results["epochs"] == 1 and results["steps"] == 3
    assert trainer.recipe.seed == 5 and results["recipe_config"]["max_steps_per_epoch"] == 3
    assert 0 < results["mpjpe"] < 5000 and results["frames"] <= 48 + trainer.test_set.num_sequences


def test_mean_pose_baseline_equals_the_error_of_the_mean_training_pose():
    train, test, _ = load_data(get_recipe("gcn-vanilla-gt"), "sample")
    mean = train.y3d.mean(0)
    direct = mpjpe(mean.expand_as(test.y3d), test.y3d).item() * 1000        # every frame, mm
    scores = mean_pose_baseline(train, test)
    assert scores["frames"] == test.num_frames
    assert scores["mpjpe_frames"] == pytest.approx(direct, rel=1e-5)
    # a pose closer to the test frames scores better: the baseline is not a constant
    assert mean_pose_baseline(test, test)["mpjpe_frames"] < scores["mpjpe_frames"]


def test_save_run_refuses_to_replace_a_saved_row(tmp_path):
    from poselift_core.checkpoint import OutputExistsError

    path = save_run(_fake_results(), "sample", tmp_path)
    with pytest.raises(OutputExistsError, match="results_vanilla.json already exists"):
        save_run(_fake_results(mpjpe=1.0), "sample", tmp_path)
    assert json.loads(path.read_text())[0]["mpjpe"] == 250.0
    save_run(_fake_results(mpjpe=1.0), "sample", tmp_path, overwrite=True)
    assert json.loads(path.read_text())[0]["mpjpe"] == 1.0


def test_train_recipe_resumes_refuses_overwrites_and_merges_model_overrides(tmp_path):
    from poselift_core.checkpoint import CheckpointError, OutputExistsError

    torch.set_num_threads(1)
    train, test, info = load_data(get_recipe("gcn-vanilla-gt"), "sample")
    kw = dict(profile="quick", data="sample", epochs=1, max_steps_per_epoch=2, eval_max_frames=32, device="cpu",
              splits=(train, test, info), checkpoint_dir=tmp_path / "run")
    with pytest.raises(CheckpointError, match="stopped before its first checkpoint|does not exist"):
        train_recipe("gcn-vanilla-gt", resume=True, **kw)
    trainer, first = train_recipe("gcn-vanilla-gt", model_overrides={"hidden": 16}, **kw)
    assert trainer.recipe.model_overrides == {"hidden": 16}      # merged with the recipe's (empty) overrides
    with pytest.raises(OutputExistsError, match="checkpoint.pt already exists"):
        train_recipe("gcn-vanilla-gt", model_overrides={"hidden": 16}, **kw)
    _, again = train_recipe("gcn-vanilla-gt", model_overrides={"hidden": 16}, resume=True, **kw)
    assert again["mpjpe"] == pytest.approx(first["mpjpe"]) and again["resumes"][0]["changes"] == {}
    kw["epochs"] = 2
    with pytest.raises(CheckpointError, match="epochs: 1 -> 2"):
        train_recipe("gcn-vanilla-gt", model_overrides={"hidden": 16}, resume=True, **kw)
    _, more = train_recipe("gcn-vanilla-gt", model_overrides={"hidden": 16}, resume=True, allow_changes=True, **kw)
    assert more["steps"] == 4 and more["resumes"][-1]["changes"]["epochs"] == {"checkpoint": 1, "now": 2}
    _, fresh = train_recipe("gcn-vanilla-gt", model_overrides={"hidden": 16}, overwrite=True, **kw)
    assert fresh["resumes"] == [] and fresh["steps"] == 4


def test_model_overrides_keep_the_recipes_own_keys():
    from poselift_core.recipes import get_recipe as recipe_of

    base = recipe_of("gcn-modulated-cpn", "quick").model_overrides
    assert base["hidden"] == 384
    train, test, info = load_data(recipe_of("gcn-modulated-cpn"), "sample")
    trainer, _ = train_recipe("gcn-modulated-cpn", profile="quick", data="sample", epochs=1, max_steps_per_epoch=1,
                              eval_max_frames=16, device="cpu", splits=(train, test, info),
                              model_overrides={"hidden": 8})
    assert trainer.recipe.model_overrides == {**base, "hidden": 8}
