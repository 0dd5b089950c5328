"""Markdown and HTML tables: formats, alignment, escaping."""
from poselift_core.tables import format_cell, html_table, markdown_table

COLUMNS = [("m", "model", None), ("x", "err", ".1f"), ("n", "params", "count"), ("p", "P", "M"), ("v", "paper", "num")]
ROW = {"m": "a|b<c>", "x": 1.234, "n": 1234567, "p": None, "v": 21.0}


def test_cells():
    assert [format_cell(v, f) for v, f in [(4218243, "count"), (4218243, "M"), (21.0, "num"), (37.15, "num"),
                                           (float("nan"), ".1f"), (None, None), (True, ".1f")]] == \
        ["4,218,243", "4.22M", "21.0", "37.15", "–", "–", "True"]


def test_markdown_table_formats_escapes_and_aligns():
    head, rule, row = markdown_table([ROW], COLUMNS).strip().splitlines()
    assert head == "| model | err | params | P | paper |"
    assert rule == "|---|---:|---:|---:|---:|"
    assert row == "| a\\|b<c> | 1.2 | 1,234,567 | – | 21.0 |"
    assert markdown_table([], COLUMNS).count("\n") == 2


def test_html_table_escapes_and_aligns():
    text = html_table([ROW], COLUMNS, caption="x & y")
    assert "<caption>x &amp; y</caption>" in text
    assert '<td style="text-align: left">a|b&lt;c&gt;</td>' in text
    assert '<td style="text-align: right">1,234,567</td>' in text
    assert text.count("<tr>") == 2 and text.count("<th ") == len(COLUMNS)


def test_rate_format_keeps_three_digits_for_small_throughputs():
    from poselift_core.tables import format_cell
    import numpy as np

    assert format_cell(3643.2, "rate") == "3,643"
    assert format_cell(69.31, "rate") == "69.3"
    assert format_cell(np.float32(9.34), "rate") == "9.34"
    assert format_cell(float("nan"), "rate") == "–"
