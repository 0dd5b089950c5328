"""The notebooks' training glue: parameters reach the recipe, rows carry what the results chapter reads."""
import json

import pytest
import torch

from poselift_core.metrics import mpjpe
from poselift_core.recipes import get_recipe
from poselift_core.results import ROW_FORMAT, RunRow, load_run_results, read_rows
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
    assert row["data_source"] == "sample" and row["keypoints"] == "gt" and row["data"] == "bundled sample, GT 2D"
    assert row["parameters"] == 135171 and row["per_action"] == {"Walk": 1.0, "Average": 1.0}
    assert row["frames"] == 1


def test_row_prefers_the_trainers_throughput_and_reads_the_window():
    row = result_row(_fake_results(train_samples_per_s=999.0, model_config={"filter_widths": [3, 3, 3]}), "h36m")
    assert row["train_samples_per_s"] == 999.0
    assert row["frames"] == 27 and row["data_source"] == "h36m"


def test_save_run_writes_one_json_named_after_the_model(tmp_path):
    path = save_run(_fake_results(), "sample", tmp_path)
    assert path.name == "results_vanilla.json"
    rows = json.loads(path.read_text())
    assert rows[0]["mpjpe"] == 250.0 and rows[0]["recipe"] == "gcn-vanilla-gt" and rows[0]["source"] == "vanilla"
    assert rows[0]["format"] == ROW_FORMAT
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


def test_a_resumed_run_replaces_its_own_row_but_no_other(tmp_path, capsys):
    from poselift_core.checkpoint import OutputExistsError

    path = save_run(_fake_results(), "sample", tmp_path)
    resumed = [{"epoch": 1, "step": 20, "batch_in_epoch": 0, "changes": {}}]
    with pytest.raises(OutputExistsError, match="results_vanilla.json"):      # another seed: another run
        save_run(_fake_results(seed=4, resumes=resumed, mpjpe=1.0), "sample", tmp_path)
    with pytest.raises(OutputExistsError, match="results_vanilla.json"):      # other data
        save_run(_fake_results(resumes=resumed, mpjpe=1.0), "h36m", tmp_path)
    with pytest.raises(OutputExistsError, match="results_vanilla.json"):      # not resumed: a new run
        save_run(_fake_results(mpjpe=1.0), "sample", tmp_path)
    assert json.loads(path.read_text())[0]["mpjpe"] == 250.0
    save_run(_fake_results(resumes=resumed, mpjpe=1.0, recipe_config={"batch_size": 64, "subjects": ("S1",)}),
             "sample", tmp_path, overwrite=True)
    capsys.readouterr()
    # the same run resumed from its checkpoint: its row is replaced, and the notebook is told
    save_run(_fake_results(resumes=resumed, mpjpe=2.0, recipe_config={"batch_size": 64, "subjects": ("S1",)}),
             "sample", tmp_path)
    assert json.loads(path.read_text())[0]["mpjpe"] == 2.0
    assert "same run" in capsys.readouterr().out


def _tiny_run(splits, **kw):
    return train_recipe("gcn-vanilla-gt", data="sample", epochs=2, max_steps_per_epoch=2, eval_max_frames=16,
                        device="cpu", splits=splits, model_overrides={"hidden": 8}, **kw)


def test_progress_defaults_per_profile_and_epoch_lines_only_for_runs_longer_than_a_few_seconds(monkeypatch, capsys):
    from poselift_core import train as T

    torch.set_num_threads(1)
    splits = load_data(get_recipe("gcn-vanilla-gt"), "sample")
    monkeypatch.setattr(T, "QUIET_S", 1e9)               # a short run, whatever the load on the machine
    trainer, _ = _tiny_run(splits)
    assert trainer.run.progress == "epochs"              # quick profile: no bar, lines once the run is long
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""     # a run shorter than QUIET_S prints nothing
    monkeypatch.setattr(T, "QUIET_S", 0.0)               # every run counts as long now
    _tiny_run(splits)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("training gcn-vanilla-gt (quick)")
    assert [ln.split()[:2] for ln in lines[1:]] == [["epoch", "1/2"], ["epoch", "2/2"]]
    monkeypatch.setattr(T, "HEARTBEAT_S", 0.0)           # a line inside the epoch after every step
    _tiny_run(splits)
    out = capsys.readouterr().out
    assert "epoch 1/2: 1/2 steps" in out and "epoch 2/2: 2/2 steps" in out
    _tiny_run(splits, progress=False)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="progress must be"):
        _tiny_run(splits, progress="bar")
    # the full profile (hours) draws a bar and prints every line at once
    trainer, _ = train_recipe("gcn-vanilla-gt", profile="full", data="sample", epochs=1, max_steps_per_epoch=1,
                              eval_max_frames=16, device="cpu", splits=splits, model_overrides={"hidden": 8})
    assert trainer.run.progress is True
    captured = capsys.readouterr()
    assert "epoch 1/1" in captured.err and "training gcn-vanilla-gt (full)" in captured.out


@pytest.mark.slow   # a Jupyter kernel importing torch: 5-15 s on two cores
def test_papermill_shows_a_bar_in_the_full_profile_and_few_lines_in_the_quick_one(tmp_path, monkeypatch):
    """In a kernel (papermill, Jupyter, Colab) the full profile's bar is a notebook widget, not hundreds of
    redrawn text lines; the quick profile's short runs add nothing but the cell's own prints."""
    import sys

    nbformat = pytest.importorskip("nbformat")
    papermill = pytest.importorskip("papermill")
    spec = tmp_path / "jupyter" / "kernels" / "poselift-test"          # this very interpreter as the kernel
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "poselift test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    run = ("trainer, res = train_recipe('gcn-vanilla-gt', profile={!r}, data='sample', epochs=2, max_steps_per_epoch=3,"
           " eval_max_frames=16, device='cpu', model_overrides={{'hidden': 8}})\nprint('done', trainer.run.progress)")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import torch\ntorch.set_num_threads(1)\n"
                                          "from poselift_core.runs import train_recipe"),
                nbformat.v4.new_code_cell(run.format("full")), nbformat.v4.new_code_cell(run.format("quick"))]
    nbformat.write(nb, tmp_path / "nb.ipynb")
    papermill.execute_notebook(str(tmp_path / "nb.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="poselift-test",
                               progress_bar=False, execution_timeout=120)
    full, quick = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[1:]
    bars = [o for o in full.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    text = "".join(o.get("text", "") for o in full.outputs if o.output_type == "stream")
    assert len(bars) == 2                                   # one widget per epoch
    assert "\r" not in text and "epoch 2/2  loss" in text and "done True" in text
    assert [o.get("text") for o in quick.outputs] == ["done epochs\n"]


def test_a_trained_runs_results_json_and_its_chapter_row_read_back_to_the_same_row(tmp_path):
    """The trainer's results.json and the chapter's results_<model>.json of one run hold one row format."""
    torch.set_num_threads(1)
    _, res = train_recipe("gcn-vanilla-gt", "quick", data="sample", max_steps_per_epoch=2, epochs=1,
                          eval_max_frames=32, device="cpu", checkpoint_dir=tmp_path / "run")
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["row"]["format"] == ROW_FORMAT and on_disk["mpjpe"] == res["mpjpe"]
    [from_trainer] = read_rows(tmp_path / "run" / "results.json", source="run")
    path = save_run(res, "sample", tmp_path / "chapter")
    [from_chapter] = read_rows(path)
    assert from_chapter == RunRow(**{**from_trainer.as_dict(), "source": "vanilla"})
    # the row carries the run's own numbers, checked against the results dict independently of the row code
    assert (from_chapter.mpjpe, from_chapter.p_mpjpe, from_chapter.steps) == (res["mpjpe"], res["p_mpjpe"], 2)
    assert from_chapter.test_frames == res["frames"] and from_chapter.mean_pose_mpjpe == res["mean_pose_mpjpe"]
    assert from_chapter.parameters == res["parameters"] and from_chapter.data_source == "sample"
    # the results chapter reads both places the same way (the trainer's folder only when no chapter file exists)
    assert load_run_results(tmp_path / "chapter") == [from_chapter.as_dict()]
    assert load_run_results(tmp_path) == [from_trainer.as_dict()]


def test_train_and_save_prints_saves_and_keeps_a_checkpoint_whose_weights_give_the_saved_row(tmp_path, capsys):
    import numpy as np

    from poselift_core.checkpoint import load_model
    from poselift_core.evaluate import evaluate
    from poselift_core.runs import train_and_save

    torch.set_num_threads(1)
    splits = load_data(get_recipe("gcn-vanilla-gt"), "sample")
    kw = dict(data="sample", device="cpu", epochs=1, seed=2, splits=splits, max_steps_per_epoch=2,
              eval_max_frames=32, model_overrides={"hidden": 8})
    trainer, res, path = train_and_save("gcn-vanilla-gt", tmp_path, profile="quick", checkpoint=True, **kw)
    assert capsys.readouterr().out.strip().splitlines()[-1] == summary_line(res)
    assert path == tmp_path / "results_vanilla.json" and not trainer.model.training
    run_dir = tmp_path / "gcn-vanilla-gt"
    assert all((run_dir / f).is_file() for f in ("checkpoint.pt", "results.json", "train.log"))
    (row,) = read_rows(path, source="vanilla")
    assert row.steps == 2 and row.seed == 2 and row.data_source == "sample" and row.recipe == "gcn-vanilla-gt"
    # the row's numbers, recomputed from the weights on disk: per-frame errors of the reloaded model by hand
    model = load_model(run_dir / "checkpoint.pt")
    test = splits[1]
    again = evaluate(model, test, tta=trainer.recipe.tta, max_frames=32, return_predictions=True)
    arrays = again["predictions"]
    per_frame = np.linalg.norm(arrays["pred"] - arrays["target"], axis=-1).mean(-1)       # (N,) mm
    assert row.test_frames == len(per_frame)
    assert row.mpjpe_frames == pytest.approx(float(per_frame.mean()), rel=1e-4)
    assert (row.mpjpe, row.p_mpjpe) == pytest.approx((again["mpjpe"], again["p_mpjpe"]), rel=1e-4)
    assert row.parameters == sum(p.numel() for p in model.parameters())
    # a quick re-run replaces its own files (no refusal) and, with the same seed, gives the same numbers
    _, res2, path2 = train_and_save("gcn-vanilla-gt", tmp_path, profile="quick", checkpoint=True, **kw)
    assert path2 == path and res2["resumes"] == [] and res2["mpjpe"] == res["mpjpe"]
    assert json.loads(path.read_text())[0]["mpjpe"] == res2["mpjpe"]
    # without a checkpoint (the quick profile's default) nothing but the row is written
    _, _, path3 = train_and_save("gcn-vanilla-gt", tmp_path / "q", profile="quick", save_as="ch", **kw)
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == ["results_ch.json"] == [path3.name]


def test_train_and_save_in_the_full_profile_checkpoints_and_resumes_instead_of_refusing(tmp_path):
    from poselift_core.runs import train_and_save

    torch.set_num_threads(1)
    splits = load_data(get_recipe("gcn-vanilla-gt", profile="full"), "sample")
    kw = dict(data="sample", device="cpu", epochs=1, splits=splits, max_steps_per_epoch=2, eval_max_frames=32,
              model_overrides={"hidden": 8}, progress=False)
    _, first, path = train_and_save("gcn-vanilla-gt", tmp_path, profile="full", **kw)
    assert (tmp_path / "gcn-vanilla-gt" / "checkpoint.pt").is_file() and first["resumes"] == []
    # the chapter run again (a Colab disconnect): the finished run resumes from its checkpoint, its row replaced
    _, again, path2 = train_and_save("gcn-vanilla-gt", tmp_path, profile="full", **kw)
    assert path2 == path and len(again["resumes"]) == 1 and again["steps"] == first["steps"] == 2
    assert again["mpjpe"] == pytest.approx(first["mpjpe"])
    assert json.loads(path.read_text())[0]["mpjpe"] == pytest.approx(again["mpjpe"])
