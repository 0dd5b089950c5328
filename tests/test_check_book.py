"""The book's browser check (tools/check_book.py) and build steps (tools/build_book.py) on small fixture pages.

The browser tests serve hand-written HTML pages that mimic the book's layout (an ``article.bd-article`` text column
700 px wide in a 1280 px window) and assert that the check rejects what a reader could not see (a table running past
the column, a table cut off by the box that scrolls it, a page that scrolls sideways, a figure, formula or widget
that did not draw) and accepts pages that fit. They need Chromium (Debian: ``apt-get install chromium``).
"""
import io
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402
import check_book  # noqa: E402

COLUMN = 700  # px: the fixture's text column
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title><style>
body {{ margin: 0; font: 16px sans-serif; }}
.sidebar-left {{ position: absolute; left: 0; top: 0; width: 200px; height: 100px; background: rgb(0, 128, 0); }}
article.bd-article {{ margin-left: 250px; width: {column}px; }}
.cell_output .output {{ max-width: 100%; overflow-x: auto; }}  /* as myst-nb styles notebook outputs */
.tag_full-width {{ width: 136%; }}                                 /* as sphinx-book-theme widens such cells */
td, th {{ padding: 2px 6px; }}
</style>{head}</head><body><div class="sidebar-left"></div>
<article class="bd-article"><h1>{title}</h1><p>Some text that fits.</p>{body}</article></body></html>"""


def table(columns: int, cell: str, style: str = "") -> str:
    head = "".join(f"<th>column {i}</th>" for i in range(columns))
    row = "".join(f"<td>{cell}</td>" for _ in range(columns))
    return f'<table style="{style}"><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr><tr>{row}</tr></tbody></table>'


def output_cell(inner: str) -> str:
    """A notebook cell with one HTML output, in the markup myst-nb writes."""
    return (f'<div class="cell docutils container"><div class="cell_output docutils container">'
            f'<div class="output text_html">{inner}</div></div></div>')


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    shutil.copy2(ROOT / "tools" / "js" / "poselift-layout.js", site / "poselift-layout.js")
    wide = table(13, "a&nbsp;long&nbsp;cell&nbsp;text")  # 13 columns that cannot wrap: far wider than 700 px
    pages = {
        "fits": table(9, "1.2", "font-size: 12px"),
        "fixed": table(3, "x", "width: 1000px"),                      # 300 px past the column, no scroll box
        "wide": wide,
        "scrolled": output_cell(f'<div style="overflow-x: auto">{wide}</div>'),  # cut off inside scroll boxes
        "code": '<pre style="overflow: auto">' + "x = 1  # " + "long comment " * 40 + "</pre>",
        "sideways": '<div style="position: absolute; left: 1500px; top: 10px; width: 50px; height: 20px"></div>',
        "full-width": output_cell(table(10, "0.5")),  # ~750 px: too wide for 700 px, fits in 136 % of it
        "plotly": '<div class="plotly-graph-div" style="height: 100px"></div>',
        "math": '<p>Inline <span class="math">x^2</span> that no MathJax typeset.</p>',
        "widget": '<div class="widget-subarea"></div>'
                  '<script type="application/vnd.jupyter.widget-view+json">{"model_id": "m"}</script>',
    }
    for name, body in pages.items():
        (site / f"{name}.html").write_text(PAGE.format(title=name, column=COLUMN, body=body, head=""))
    # the book's own script, which moves tables that do not fit into the right margin
    script = '<script defer src="poselift-layout.js"></script>'
    (site / "full-width-js.html").write_text(PAGE.format(title="js", column=COLUMN, body=pages["full-width"],
                                                         head=script))
    return site


@pytest.fixture(scope="module")
def browser(site):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    # short timeout: the pages with undrawn figures never become ready, and nothing here loads slowly
    with check_book.Browser(site, CHROMIUM, width=1280, height=900, timeout=2.5) as b:
        yield b


def problems_of(browser, page: str) -> list[str]:
    return browser.check(page)[1]


@needs_chromium
def test_fitting_page_passes(browser):
    state, problems = browser.check("fits.html")
    assert problems == []
    assert state["notes"] == []


@needs_chromium
def test_table_past_the_column_is_rejected_by_its_overflow(browser):
    problems = problems_of(browser, "fixed.html")
    assert len(problems) == 1, problems
    # a 1000 px table in a 700 px column: 300 px past its right edge (+/- a pixel of rounding)
    assert "overflows by 300 px" in problems[0] or "overflows by 301 px" in problems[0], problems
    assert problems[0].split(": ", 1)[1].startswith("table"), problems


@needs_chromium
def test_overflowing_table_is_rejected(browser):
    problems = problems_of(browser, "wide.html")
    assert any("overflows" in p and "table" in p for p in problems), problems


@needs_chromium
def test_table_cut_off_by_a_scroll_box_is_rejected(browser):
    # the issue this guards against: the results table scrolled inside its output box, columns out of sight, and
    # the old check said "ok"
    problems = problems_of(browser, "scrolled.html")
    assert len(problems) == 1, problems
    assert "content cut off" in problems[0] and "table" in problems[0], problems


@needs_chromium
def test_code_scrolls_by_design(browser):
    state, problems = browser.check("code.html")
    assert problems == []
    assert len(state["notes"]) == 1 and state["notes"][0].startswith("scrolls sideways by design"), state["notes"]


@needs_chromium
def test_page_that_scrolls_sideways_is_rejected(browser):
    problems = problems_of(browser, "sideways.html")
    assert any(p.startswith("page scrolls sideways") for p in problems), problems


@needs_chromium
def test_layout_script_moves_a_wide_table_into_the_margin(browser):
    assert any("content cut off" in p for p in problems_of(browser, "full-width.html"))
    assert problems_of(browser, "full-width-js.html") == []
    cell = check_book.evaluate(browser.cdp, browser.session,
                               "JSON.stringify(document.querySelector('div.cell').className)")
    assert "tag_full-width" in cell


@needs_chromium
@pytest.mark.parametrize("page, message", [("plotly", "plotly figures did not draw"),
                                           ("math", "math elements not typeset"),
                                           ("widget", "widget views saved, 0 rendered")])
def test_undrawn_figure_formula_or_widget_is_rejected(browser, page, message):
    problems = problems_of(browser, f"{page}.html")
    assert any(message in p for p in problems), problems


@needs_chromium
def test_screenshot_is_the_window_width_from_the_top_left(browser, tmp_path):
    from PIL import Image

    shot = tmp_path / "wide.png"
    browser.check("wide.html", shot)  # a page wider than the window: the shot must not be scrolled sideways
    image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    assert image.width == 1280
    # the green block sits at the page's top left corner, 200 px wide
    assert image.getpixel((5, 5)) == (0, 128, 0)
    assert image.getpixel((195, 95)) == (0, 128, 0)
    assert image.getpixel((205, 5)) != (0, 128, 0)


def test_layout_judgement():
    findings = [{"kind": "page", "el": "html", "width": 1400, "box": 1280, "by": 120},
                {"kind": "overflow", "el": "table", "width": 900, "box": 700, "by": 200},
                {"kind": "cut", "el": "div", "inner": "table", "width": 900, "box": 700, "by": 200},
                {"kind": "scrolls", "el": "pre", "width": 900, "box": 700, "by": 200}]
    problems, notes = check_book.layout_problems(findings)
    assert len(problems) == 3 and len(notes) == 1
    assert "table" in problems[1] and "200 px" in problems[1]
    assert "pre" in notes[0]


def test_injected_parameters_cell_is_removed_from_the_page(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('profile = "quick"', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell('out_dir = "_build/runs"', metadata={"tags": ["injected-parameters"]}),
                nbformat.v4.new_code_cell("print(1)")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert build_book.hide_injected_parameters(path) == 1
    assert build_book.hide_injected_parameters(path) == 0  # idempotent (make book-html runs it again)
    tags = [c["metadata"].get("tags", []) for c in json.loads(path.read_text())["cells"]]
    assert tags == [["parameters"], ["injected-parameters", "remove-cell"], []]
    nbformat.validate(nbformat.read(path, as_version=4))
