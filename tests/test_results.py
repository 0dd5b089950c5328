"""Results chapter helpers: reading run files, matching paper rows, parameter counts, throughput, tables."""
import json

import pytest
import torch

from poselift_core import results as R
from poselift_core.models import build_model, count_parameters
from poselift_core.reproduce import save_results


def _trainer_results(model="vanilla", source="sample", keypoints="gt", profile="quick", **extra):
    """The shape of ``poselift_core.train.Trainer.results()`` (only the keys the chapter reads)."""
    return {"recipe": f"gcn-{model}-gt", "profile": profile, "model": model, "parameters": 135171,
            "model_config": {"skeleton": "h36m16"}, "steps": 100, "recipe_config": {"batch_size": 64},
            "data": {"source": source, "keypoints": keypoints, "joints": 16}, "mpjpe": 80.0, "p_mpjpe": 60.0,
            "train_time_s": 4.0, **extra}


def test_notebook_rows_and_trainer_rows_normalise_to_the_same_keys(tmp_path):
    save_results("gcn", [{"model": "vanilla", "data": "sample", "mpjpe": 81.5, "p_mpjpe": 61.0, "params": 135171,
                          "profile": "quick", "train_samples_per_s": 1234.0}], tmp_path)
    (tmp_path / "results_glagcn.json").write_text(json.dumps(_trainer_results(
        "glagcn", model_config={"skeleton": "h36m17", "filter_widths": [3, 3, 3]})))
    rows = R.load_run_results(tmp_path)
    assert [r["source"] for r in rows] == ["gcn", "glagcn"]
    assert set(rows[0]) == set(rows[1])
    a, b = rows
    assert (a["parameters"], a["train_samples_per_s"], a["data"]) == (135171, 1234.0, "bundled sample")
    assert b["frames"] == 27 and b["data"] == "bundled sample, GT 2D"
    assert b["train_samples_per_s"] == pytest.approx(100 * 64 / 4.0)  # steps * batch / time when not stated


def _row(**extra):
    return R.RunRow(model="glagcn", recipe="glagcn-gt", data="Human3.6M, CPN 2D", data_source="h36m",
                    keypoints="cpn_ft_h36m_dbb", profile="full", frames=243, test_frames=543_344, mpjpe=44.4,
                    p_mpjpe=34.8, mpjpe_frames=45.0, p_mpjpe_frames=35.1, mean_pose_mpjpe=180.2, tta=True,
                    parameters=1_348_856, train_samples_per_s=412.5, train_time_s=3600.0, epochs=80, steps=9000,
                    seed=0, device="cuda", per_action={"Walk": 30.0}, recipe_config={"batch_size": 256,
                                                                                        "subjects": ["S1"]},
                    **extra)


def test_a_row_written_by_the_writer_reads_back_equal(tmp_path):
    row = _row(source="ch4")
    path = R.write_rows(tmp_path / "results_ch4.json", [row])
    assert R.read_rows(path) == [row]
    assert R.load_runs(tmp_path) == [row] and R.load_run_results(tmp_path) == [row.as_dict()]
    assert R.RunRow.from_json(row.to_json()) == row
    # save_results is the same writer: a row without a source gets the file's name
    save_results("ch5", _row(), tmp_path)
    assert R.read_rows(tmp_path / "results_ch5.json") == [_row(source="ch5")]
    with pytest.raises(FileExistsError, match="results_ch4.json"):
        R.write_rows(path, [row])
    # a results.json keeps everything and carries the same row under "row"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "results.json").write_text(R.results_file_text(_trainer_results(history=[1, 2])))
    doc = json.loads((tmp_path / "run" / "results.json").read_text())
    assert doc["history"] == [1, 2] and doc["row"] == R.RunRow.from_results(_trainer_results()).to_json()
    assert R.read_rows(tmp_path / "run" / "results.json", "run") == [R.run_row(_trainer_results(), source="run")]


def test_a_marked_row_with_unknown_keys_names_the_file(tmp_path):
    (tmp_path / "results_x.json").write_text(json.dumps([{**_row().to_json(), "mpjpe_mm": 1.0}]))
    with pytest.raises(ValueError, match=r"results_x.json.*unknown keys \['mpjpe_mm'\]"):
        R.load_run_results(tmp_path)


def test_trainer_run_folders_are_the_fallback_and_missing_dirs_give_nothing(tmp_path):
    assert R.load_run_results(tmp_path / "absent") == []
    (tmp_path / "vanilla").mkdir()
    (tmp_path / "vanilla" / "results.json").write_text(json.dumps(_trainer_results()))
    rows = R.load_run_results(tmp_path)
    assert len(rows) == 1 and rows[0]["source"] == "vanilla"
    (tmp_path / "results_x.json").write_text(json.dumps([{"model": "modulated", "data": "h36m"}]))
    assert [r["model"] for r in R.load_run_results(tmp_path)] == ["modulated"]  # notebook files win


def test_bad_files_name_the_file(tmp_path):
    (tmp_path / "results_bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="results_bad.json"):
        R.load_run_results(tmp_path)
    (tmp_path / "results_bad.json").write_text(json.dumps([{"data": "sample"}]))
    with pytest.raises(ValueError, match="no 'model'"):
        R.load_run_results(tmp_path)


def test_paper_match_uses_model_input_and_window():
    assert R.paper_match("dgridconv", "gt").mpjpe == 37.15
    assert R.paper_match("dgridconv", "hrnet").mpjpe == 47.93
    assert R.paper_match("dc_preagg", "cpn_ft_h36m_dbb").mpjpe == 52.4
    assert R.paper_match("glagcn", "gt", frames=243).status == "disputed"
    assert R.paper_match("glagcn", "gt", frames=27) is None     # the paper reports no 27-frame H36M number
    assert R.paper_match("vanilla", "gt") is None
    rows = R.side_by_side([R.normalize_run(_trainer_results("modulated")), R.normalize_run(_trainer_results())])
    assert (rows[0]["paper_mpjpe"], rows[0]["paper_p_mpjpe"], rows[0]["paper_status"]) == (37.43, 29.73, "third-party")
    assert rows[1]["paper_mpjpe"] is None and rows[1]["paper_source"] is None
    for columns, table in ((R.RUN_COLUMNS, rows), (R.PAPER_COLUMNS, R.paper_rows())):  # every column has a value
        assert {k for k, _, _ in columns} <= set(table[0]), columns


def test_every_paper_row_is_well_formed():
    from poselift_core.models import available
    names = set(available())
    for p in R.PAPER_RESULTS:
        assert p.model is None or p.model in names, p
        assert p.status in ("README", "paper", "third-party", "unverified", "disputed"), p
        assert p.keypoints in ("gt", "cpn", "hrnet") and p.frames >= 1
        assert p.p_mpjpe is None or p.p_mpjpe < p.mpjpe  # Procrustes alignment never increases the error
    assert set(R.REFERENCE_SIZES) <= names


def test_comparability_note_names_the_data_and_profile():
    quick = R.normalize_run(_trainer_results())
    full = R.normalize_run(_trainer_results(source="h36m", profile="full"))
    note = R.comparability_note([quick, quick, full])
    assert "Rows measured on the bundled sample (quick profile; 2 rows)" in note and "not comparable" in note
    assert "Human3.6M (full" not in note
    assert "All rows were measured on Human3.6M" in R.comparability_note([full])


def test_parameter_rows_count_the_built_models():
    rows = {r["model"]: r for r in R.parameter_rows(["dc_preagg", "nosharing", "semgcn"])}
    assert rows["dc_preagg"]["parameters"] == count_parameters(build_model("dc_preagg"))
    assert rows["dc_preagg"]["ratio"] == pytest.approx(rows["dc_preagg"]["parameters"] / 4_218_243)
    # the reference stores every J x J weight block; this library only the ones on edges
    assert rows["nosharing"]["parameters"] < rows["nosharing"]["reference"]
    assert rows["semgcn"]["reference"] is None and rows["semgcn"]["reported"] == "0.27M"


def test_train_step_throughput_runs_a_real_backward():
    torch.set_num_threads(1)
    model = build_model("vanilla", hidden=8, num_blocks=1)
    before = [p.detach().clone() for p in model.parameters()]
    rate = R.train_step_throughput(model, batch_size=4, steps=2, warmup=1)
    assert rate > 0
    assert all(p.grad is not None for p in model.parameters())   # backward reached every parameter
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # no optimiser step


def test_speed_rows_relate_to_the_baseline_and_the_reference():
    torch.set_num_threads(1)
    rows = R.speed_rows(["vanilla", "glagcn"], batch_sizes={"glagcn": 1}, steps=1, warmup=0,
                        overrides={"vanilla": {"hidden": 8, "num_blocks": 1},
                                   "glagcn": {"receptive_field": 27, "channels": 8}})
    van, gla = rows
    assert (van["batch"], gla["batch"], gla["frames"]) == (64, 1, 27)
    assert van["relative"] == 1.0 and gla["relative"] == pytest.approx(gla["samples_per_s"] / van["samples_per_s"])
    assert gla["reference_samples_per_s"] == 69.3                      # the 27-frame anchor, not the 243 one
    assert gla["reference_relative"] == pytest.approx(69.3 / 3643)
    assert R.reference_size("glagcn", 243).parameters == 1_348_856 and R.reference_size("glagcn", 9) is None
