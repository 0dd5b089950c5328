"""The open-benchmark table (poselift_core.leaderboard): its rows, its Markdown and its command line.

Training the board takes about 40 minutes, so nothing here trains: the committed table is read back and the
formatting is checked on hand-made rows.
"""
import pytest

from poselift_core import leaderboard as L
from poselift_core.recipes import get_recipe


def doc(rows):
    return {"title": "T", "rule": "r", "averages": "a", "command": "c", "git_commit": "g",
            "data_content_sha256": "h", "wall_time_s": 1.0, "machine": "m", "threads": 2, "torch": "t",
            "date": "d", "rows": rows}


def row(model, mpjpe, mean_pose, joints=17, per_subject=None):
    return {"model": model, "joints": joints, "parameters": 1234, "mpjpe": mpjpe, "p_mpjpe": mpjpe / 2,
            "mpjpe_frames": mpjpe + 1, "mean_pose_mpjpe": mean_pose, "train_time_s": 3.0,
            "per_subject": per_subject or {}}


# "b" was scored on both test subjects, "a" on subject 03 only
TWO_ROWS = [row("b", 120.0, 200.0, per_subject={"03": {"mpjpe": 110.0}, "131": {"mpjpe": 140.0}}),
            row("a", 90.0, 180.0, per_subject={"03": {"mpjpe": 80.0}})]


def test_every_board_entry_names_a_recipe_once():
    labels = [e.label for e in L.BOARD]
    assert len(labels) == len(set(labels)) == 14
    for e in L.BOARD:
        get_recipe(e.recipe)                         # raises for an unknown recipe
    assert {e.family for e in L.BOARD} == {"GCN weight sharing", "GLA-GCN", "GridConv"}


def test_rows_are_sorted_by_mpjpe_with_the_mean_pose_ratio_and_subject_columns():
    rows = L.board_rows(doc(TWO_ROWS))
    assert [r["model"] for r in rows] == ["a", "b"]
    assert [r["ratio"] for r in rows] == pytest.approx([0.5, 0.6])
    assert (rows[1]["mpjpe_03"], rows[1]["mpjpe_131"], rows[0]["mpjpe_03"]) == (110.0, 140.0, 80.0)
    assert "per_subject" not in rows[0]
    assert L.mean_pose_text([row("a", 1, 187.84, joints=16), row("b", 1, 184.0)]) == \
        "187.8 mm MPJPE (16-joint rows), 184.0 mm MPJPE (17-joint rows)"


def test_markdown_has_one_line_per_row_and_nan_for_a_missing_subject():
    text = L.board_markdown(doc(TWO_ROWS))
    table = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert table[0].startswith("| model | parameters | MPJPE (mm)") and "MPJPE 131 (mm)" in table[0]
    cells = {ln.split(" | ")[0][2:]: [c.strip() for c in ln.strip("|").split("|")] for ln in table[1:]}
    assert cells["a"] == ["a", "1,234", "90.0", "45.0", "91.0", "80.0", "nan", "0.50", "3"]
    assert cells["b"][5:7] == ["110.0", "140.0"]


def test_the_committed_markdown_is_the_committed_json_formatted():
    try:
        committed = L.read_board()
    except FileNotFoundError as e:
        pytest.skip(f"no committed table in this installation: {e}")
    md = L.bundled_path("results", L.TABLE_FILE).with_suffix(".md").read_text()
    assert md == L.board_markdown(committed)
    assert len(committed["rows"]) == len(L.BOARD)


def test_read_board_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"no open-benchmark table at {tmp_path / 'x.json'}"):
        L.read_board(tmp_path / "x.json")


def test_command_line_refuses_unknown_rows_and_empty_budgets_before_training(capsys, monkeypatch):
    monkeypatch.setattr(L, "run_board", lambda *a: pytest.fail("must not train"))
    assert L.main(["--only", "vanilla", "resnet"]) == 2
    assert "unknown row(s) ['resnet']" in capsys.readouterr().err
    assert L.main(["--steps", "0"]) == 2
    assert "--steps and --batch must be >= 1" in capsys.readouterr().err
