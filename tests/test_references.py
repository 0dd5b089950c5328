"""Every reference in the code and the book pages points at something a reader can open.

Scanned: every ``.py`` file under ``poselift_core/``, ``tools/``, ``benchmarks/`` and ``tests/`` (except this file,
whose examples are bad on purpose), every ``.md`` file under ``book/``, and ``README.md``. A problem is reported as
``file:line: what``. Three kinds are caught:

(a) a mention of a working note that is not part of the repository (``models.md``, ``data.md``,
    ``keypoints.md``, ``book.md``, ``style.md``) or a path into ``../shared`` (tests may name ``../shared``: they
    read optional data there and skip without it);
(b) ``chapter N`` / ``Chapter N`` / ``chapters N-M`` / ``chapters N and M`` whose number is not a chapter of the
    book. The chapters are the notebook entries of ``_toc.yml``, numbered in order from 1 (read with a small line
    parser, so PyYAML is not needed; a test below checks it against PyYAML where PyYAML is installed);
(c) a quoted title or section that does not exist:

    - ``chapter "Title"``: ``Title`` must be the first heading of a chapter notebook or of a page listed in
      ``_toc.yml``, either in full or its short form (the part before the first colon, e.g. ``"Results"`` for
      "Results: every model side by side");
    - ``chapter "Title" (section "S")`` or ``chapter "Title", section "S"``: as above, and ``S`` must be a
      markdown heading of that chapter;
    - ``page "Title"`` (optionally with a section, as above): the same check, for the book's pages (``book/*.md``
      entries of ``_toc.yml``) as well as its chapters;
    - ``chapter N ("S")``, ``chapter N, "S"`` or ``chapter N (section "S")``: ``S`` must be a markdown heading of
      chapter ``N`` (its title, full or short, counts too);
    - ``chapter on <topic> ("S")``: ``S`` must be a heading of some chapter.

    Headings are compared ignoring case, runs of whitespace, markdown emphasis/backticks and a leading
    ``"3. "``-style number. A quoted text may run over a line break (docstrings wrap).

Not covered (too ambiguous to check mechanically): unquoted descriptions such as "the GridConv chapter" or "the
results chapter", a quoted title *before* the word chapter (``the "Results" chapter``), and chapters of other
books, which must be written ``ch. N`` so that (b) does not mistake them for this book's.

Chapters being written elsewhere may be cited by title before they reach ``_toc.yml``: list them in
:data:`FORTHCOMING`. References to them are reported as a skip (with the places) instead of a failure while no
chapter of that title exists, and :func:`test_forthcoming_chapters_are_still_forthcoming` fails once one does, so
the entry cannot outlive its purpose.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Titles of chapters announced but not yet in ``_toc.yml`` (compared like headings; see the module docstring).
FORTHCOMING: tuple[str, ...] = ()

# (a) working notes outside the repository, and paths into the shared reference folder
_FORBIDDEN = re.compile(r"(?<![\w.-])(?:models|data|keypoints|book|style)\.md\b|\.\./shared\b|/work/shared\b")
# (b) chapter numbers: "chapter 3", "Chapters 3-5", "chapters 2 and 6", "chapters 2, 3 or 4"
_NUMBERS = re.compile(r"\b[Cc]hapters?\s+\d+(?:\s*(?:-|–|—|,|\band\b|\bor\b|\bto\b)\s*\d+)*")
_QUOTE = r"[\"“]([^\"”]{1,200})[\"”]"
# (c) quoted titles and sections
_BY_TITLE = re.compile(r"\b(?:[Cc]hapter|page)\s+" + _QUOTE + r"(?:\s*(?:\(\s*|,\s*)section\s+(?:on\s+)?" + _QUOTE + ")?")
_BY_NUMBER = re.compile(r"\b[Cc]hapter\s+(\d+)\s*(?:\(\s*|,\s*)(?:section\s+(?:on\s+)?)?" + _QUOTE)
_BY_TOPIC = re.compile(r"\b[Cc]hapter\s+on\s+[^\"“()\n]{1,60}?\(\s*(?:section\s+)?" + _QUOTE)


@dataclass
class Chapter:
    """One entry of ``_toc.yml``: its file, the first heading (title) and every markdown heading."""
    path: Path
    number: int | None  # 1-based position among the notebooks; None for markdown pages
    title: str
    headings: set[str] = field(default_factory=set)


def normalise(text: str) -> str:
    """Heading text as compared: no markup, no leading ``"3. "``, one space between words, case-folded."""
    text = re.sub(r"(?m)^\s*#+\s?", " ", text)  # a quoted title wrapped inside a ``#`` comment
    text = re.sub(r"[*_`]", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"^\d+\.\s+", "", text)
    return text.casefold().rstrip(".")


def short(title: str) -> str:
    """A title's short form: the part before the first colon ("Results: every model ..." -> "results")."""
    return normalise(title.split(":", 1)[0])


def markdown_headings(markdown: str) -> list[str]:
    """ATX headings (``# ...`` to ``###### ...``) outside fenced code blocks, in order."""
    headings, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            m = re.match(r"\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$", line)
            if m:
                headings.append(m.group(2))
    return headings


def toc_files(toc_text: str) -> list[str]:
    """The ``file:`` entries of a ``_toc.yml`` in order, read line by line (no YAML library needed)."""
    files = []
    for line in toc_text.splitlines():
        m = re.match(r"\s*(?:-\s+)?file:\s*[\"']?([^\"'#\s]+)", line)
        if m:
            files.append(m.group(1))
    return files


def toc_files_yaml(toc_text: str) -> list[str]:
    """The same entries read with PyYAML (root excluded), for the cross-check of :func:`toc_files`."""
    import yaml

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield str(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    yield from walk(child)
        elif isinstance(node, list):
            for child in node:
                yield from walk(child)

    return list(walk(yaml.safe_load(toc_text)))


def load_chapters(root: Path) -> list[Chapter]:
    """Every notebook and page of ``root/_toc.yml`` with its headings; notebooks numbered 1, 2, ... in order."""
    chapters, number = [], 0
    for entry in toc_files((root / "_toc.yml").read_text()):
        path = root / entry
        candidates = [path] if path.suffix else [path.with_suffix(".ipynb"), path.with_suffix(".md")]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            raise FileNotFoundError(f"{root / '_toc.yml'}: entry {entry!r} matches no file")
        if found.suffix == ".ipynb":
            number += 1
            cells = json.loads(found.read_text())["cells"]
            markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        else:
            markdown = found.read_text()
        headings = markdown_headings(markdown)
        if not headings:
            raise ValueError(f"{found}: no markdown heading, so the chapter has no title")
        chapters.append(Chapter(found, number if found.suffix == ".ipynb" else None, headings[0],
                                {normalise(h) for h in headings} | {short(headings[0])}))
    return chapters


def scanned_files(root: Path) -> list[Path]:
    """The files whose references are checked (see the module docstring)."""
    files = [p for d in ("poselift_core", "tools", "benchmarks", "tests") for p in sorted((root / d).rglob("*.py"))
             if p.name != Path(__file__).name]
    files += sorted((root / "book").rglob("*.md"))
    return files + [root / "README.md"] if (root / "README.md").exists() else files


def check_text(name: str, text: str, chapters: list[Chapter], forthcoming=(),
               shared_ok: bool = False) -> tuple[list[str], list[str]]:
    """Problems in one file's text as ``name:line: message``, and the references to forthcoming chapters.

    ``shared_ok``: paths into ``../shared`` are allowed (tests); the working-note names never are.
    """
    numbered = {c.number: c for c in chapters if c.number is not None}
    by_title = {}
    for c in chapters:
        by_title.setdefault(normalise(c.title), c)
        by_title.setdefault(short(c.title), c)
    waiting = {normalise(t) for t in forthcoming} - set(by_title)
    problems, pending = [], []

    def report(pos: int, message: str) -> None:
        problems.append(f"{name}:{text.count(chr(10), 0, pos) + 1}: {message}")

    for m in _FORBIDDEN.finditer(text):
        if shared_ok and "shared" in m.group(0):
            continue
        report(m.start(), f"cites {m.group(0)!r}, which is not part of the repository")
    for m in _NUMBERS.finditer(text):
        bad = [n for n in map(int, re.findall(r"\d+", m.group(0))) if n not in numbered]
        if bad:
            report(m.start(), f"{m.group(0)!r}: the book has chapters 1-{len(numbered)} (_toc.yml), not {bad}")
    for m in _BY_TITLE.finditer(text):
        title, section = m.group(1), m.group(2)
        chapter = by_title.get(normalise(title))
        if chapter is None:
            if normalise(title) in waiting:
                pending.append(f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}")
            else:
                report(m.start(), f"no chapter or page is titled {title!r} (short titles: "
                                  f"{', '.join(repr(short(c.title)) for c in chapters)})")
        elif section is not None and normalise(section) not in chapter.headings:
            report(m.start(), f"chapter {chapter.title!r} ({chapter.path.name}) has no heading {section!r}")
    for m in _BY_NUMBER.finditer(text):
        number, section = int(m.group(1)), m.group(2)
        chapter = numbered.get(number)
        if chapter is not None and normalise(section) not in chapter.headings:  # a bad number is (b)'s report
            report(m.start(), f"chapter {number} ({chapter.path.name}) has no heading {section!r}")
    for m in _BY_TOPIC.finditer(text):
        if not any(normalise(m.group(1)) in c.headings for c in chapters):
            report(m.start(), f"no chapter has a heading {m.group(1)!r}")
    return problems, pending


def scan(root: Path, forthcoming=()) -> tuple[list[str], list[str]]:
    """:func:`check_text` over every scanned file of ``root``; paths relative to ``root``."""
    chapters = load_chapters(root)
    problems, pending = [], []
    for path in scanned_files(root):
        name = path.relative_to(root)
        p, w = check_text(str(name), path.read_text(encoding="utf-8"), chapters, forthcoming,
                          shared_ok=name.parts[0] == "tests")
        problems += p
        pending += w
    return problems, pending


# ============================================================================== the repository
def test_references_resolve():
    problems, _ = scan(ROOT, FORTHCOMING)
    assert not problems, f"{len(problems)} reference(s) that do not resolve:\n" + "\n".join(problems)


def test_forthcoming_chapters_are_still_forthcoming():
    titles = {normalise(c.title) for c in load_chapters(ROOT)} | {short(c.title) for c in load_chapters(ROOT)}
    arrived = [t for t in FORTHCOMING if normalise(t) in titles]
    assert not arrived, f"{arrived} are in _toc.yml now: remove them from FORTHCOMING in {Path(__file__).name}"
    _, pending = scan(ROOT, FORTHCOMING)
    if pending:
        pytest.skip(f"{len(pending)} reference(s) to chapters not yet in _toc.yml: " + "; ".join(pending))


def test_toc_parser_agrees_with_yaml():
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed; the line parser is used alone")
    del yaml
    text = (ROOT / "_toc.yml").read_text()
    assert toc_files(text) == toc_files_yaml(text)
    chapters = load_chapters(ROOT)
    assert [c.number for c in chapters if c.number] == list(range(1, 1 + sum(c.number is not None for c in chapters)))


# ============================================================================== the checker on a fake book
def _fake_book(tmp_path: Path) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    (tmp_path / "poselift_core").mkdir()

    def notebook(name: str, markdown: list[str]) -> None:
        cells = [{"cell_type": "markdown", "metadata": {}, "source": m} for m in markdown]
        cells.insert(1, {"cell_type": "code", "metadata": {}, "source": "# Not a heading\nx = 1",
                         "outputs": [], "execution_count": None})
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text(json.dumps({"cells": cells}))

    notebook("01_intro", ["# Introduction: what lifting is\n\ntext", "## How lifting is scored"])
    notebook("02_data", ["# Data preparation: files and cameras", "## Cameras\n### Projection with lens distortion",
                         "```\n## Inside a fence\n```\n## 3. Flip augmentation"])
    (tmp_path / "book" / "guide.md").write_text("# Running the notebooks\n\n## On Colab\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/guide\nparts:\n  - caption: Chapters\n"
                                       "    chapters:\n      - file: notebooks/01_intro\n"
                                       "      - file: notebooks/02_data\n  - caption: Pages\n    chapters:\n"
                                       "      - file: book/guide\n")
    return tmp_path


GOOD = '''"""Good references, none reported.

Explained in the book, chapter 2 ("Cameras") and chapter 1 ("How lifting is scored"); chapters 1-2 and
chapters 1 and 2 exist. See chapter "Data preparation" (section "Projection with lens distortion"), the chapter
"Introduction: what lifting is", chapter "Data preparation", section "Flip augmentation", the chapter on data
("Cameras"), chapter "Running the notebooks" and chapter 2 (section "3. Flip augmentation"). A quoted title may
wrap: chapter "Data
    preparation". Chapter 2, "Data preparation" names the chapter's own title.
"""
'''

BAD = '''"""Bad references, one problem each.

Formulas restated from models.md section 4.2 and data.md 5.2.                                  # line 3: 2
Real files live in ../shared/data/cmu.                                                          # line 4: 1
Explained in chapter 7 ("Evaluation").                                                          # line 5: 1 (b)
See chapters 2-3.                                                                               # line 6: 1 (b)
Chapter 2 ("Skeletons") shows it.                                                               # line 7: 1 (c)
In the chapter "Data, cameras and normalisation".                                               # line 8: 1
In chapter "Data preparation" (section "Plugging in your own files").                           # line 9: 1
The book's chapter on evaluation ("Metrics").                                                   # line 10: 1
The chapter "Lifting your own video" is not written yet.                                        # line 11: pending
"""
'''


def test_checker_accepts_good_references(tmp_path):
    root = _fake_book(tmp_path)
    (root / "poselift_core" / "good.py").write_text(GOOD)
    assert scan(root) == ([], [])


def test_checker_reports_bad_references(tmp_path):
    root = _fake_book(tmp_path)
    (root / "poselift_core" / "bad.py").write_text(BAD)
    (root / "README.md").write_text("# Readme\n\nThe style guide is in style.md; chapter 12 is missing.\n")
    (root / "tests").mkdir()  # a test may read ../shared/data (and skip without it), but not cite the notes
    (root / "tests" / "test_x.py").write_text('DATA = "../shared/data/cmu"\n# see data.md 4.4\n')
    problems, pending = scan(root, forthcoming=("Lifting your own video",))
    lines = sorted(p.split(": ", 1)[0] for p in problems)
    expected = sorted([f"poselift_core/bad.py:{n}" for n in (3, 3, 4, 5, 6, 7, 8, 9, 10)]
                      + ["README.md:3", "README.md:3", "tests/test_x.py:2"])
    assert lines == expected, "\n".join(problems)
    assert pending == ["poselift_core/bad.py:11: 'chapter \"Lifting your own video\"'"]
    # without the forthcoming list the same reference is a problem
    problems, pending = scan(root)
    assert "poselift_core/bad.py:11" in {p.split(": ", 1)[0] for p in problems} and pending == []


def test_checker_follows_the_toc(tmp_path):
    """Adding a third notebook to the toc makes "chapter 3" resolve; removing it makes it fail again."""
    root = _fake_book(tmp_path)
    (root / "poselift_core" / "m.py").write_text('"""See chapter 3 ("Results").\n"""\n')
    assert [p.split(": ", 1)[0] for p in scan(root)[0]] == ["poselift_core/m.py:1"]
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Results: all models\n## Results"}]
    (root / "notebooks" / "03_results.ipynb").write_text(json.dumps({"cells": cells}))
    toc = (root / "_toc.yml").read_text().replace("      - file: notebooks/02_data\n",
                                                  "      - file: notebooks/02_data\n      - file: notebooks/03_results\n")
    (root / "_toc.yml").write_text(toc)
    assert scan(root) == ([], [])
