"""Small tables for notebooks and reports, as Markdown or HTML, without a dataframe library.

A table is a list of row dicts and a list of columns ``(key, header, format)``. ``format`` is a ``format()``
spec (``".1f"``), ``"count"`` (thousands separators: ``4,218,243``), ``"rate"`` (``3,643`` but ``69.3``: three
significant digits below 100), ``"M"`` (millions: ``4.22M``), ``"num"``
(``str`` of the number, the precision its source gave: ``21.0``, ``37.15``) or ``None`` (text). Columns with a
format are numeric and right-aligned; ``None`` and NaN print as ``–``.

The book's notebooks display :func:`html_table` (Jupyter Book renders notebook Markdown outputs as CommonMark,
which has no tables); :func:`markdown_table` is for files such as ``results.md``. Used by the data and results
chapters (chapters 2 and 6).
"""
from __future__ import annotations

import html
import numbers
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["Column", "format_cell", "markdown_table", "html_table"]

Column = tuple[str, str, "str | None"]


def format_cell(value: Any, fmt: str | None) -> str:
    """One cell as text; see the module docstring for ``fmt``."""
    if value is None or (isinstance(value, numbers.Real) and value != value):   # NaN, NumPy floats included
        return "–"
    if fmt == "count":
        return f"{int(value):,}"
    if fmt == "rate":   # throughputs: whole numbers with separators, three significant digits below 100
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if fmt == "M":
        return f"{value / 1e6:.2f}M"
    if fmt == "num":
        return str(value)
    if fmt and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return format(value, fmt)
    return str(value)


def markdown_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """A GitHub-flavoured Markdown table (``|`` in cells escaped), one line per row, ending in a newline."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    rule = "|" + "|".join("---:" if f else "---" for _, _, f in columns) + "|"
    body = ["| " + " | ".join(format_cell(r.get(k), f).replace("|", "\\|") for k, _, f in columns) + " |"
            for r in rows]
    return "\n".join([head, rule, *body]) + "\n"


def html_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], caption: str | None = None) -> str:
    """The same table as HTML (cells escaped), for ``IPython.display.HTML``; a wide table scrolls sideways."""
    def cell(tag: str, text: str, numeric: bool) -> str:
        style = ' style="text-align: right"' if numeric else ' style="text-align: left"'
        return f"<{tag}{style}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", h, bool(f)) for _, h, f in columns)
    body = "".join("<tr>" + "".join(cell("td", format_cell(r.get(k), f), bool(f)) for k, _, f in columns) + "</tr>"
                   for r in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    # the wrapper scrolls a wide table by itself instead of widening the whole page
    return (f'<div style="overflow-x: auto; max-width: 100%"><table class="table" style="font-size: 0.85em">'
            f"{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
