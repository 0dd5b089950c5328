"""Browser check of the built book: headless Chromium, driven over the DevTools protocol (CDP).

    python tools/check_book.py [--html _build/html] [--screenshots _build/screenshots] [--chromium PATH]
                               [--width 1280]

Serves the HTML on 127.0.0.1, opens every page of _toc.yml with the cache disabled in a window 1280 px wide (a
laptop), and fails unless on each page:

- the title and the first heading are present;
- every plotly figure drew (``.main-svg`` inside ``.plotly-graph-div``, with a non-zero size); every math element
  was typeset by MathJax (``mjx-container``, no ``mjx-merror``); every saved widget view rendered into a non-empty
  ``.widget-subarea``; every image loaded;
- nothing is wider than the page allows (:data:`LAYOUT`): no element runs past the article's text column (or, for
  content that sphinx-book-theme widens on purpose, ``full-width`` cells, past the window), the page does not
  scroll sideways, and no box hides part of its content: a table, figure or formula wider than the box that holds
  it is cut off even when that box scrolls (a reader does not see columns hidden past a scroll edge). Only code
  and text output (``pre``, ``div.highlight``) and boxes marked ``pl-scroll-x`` scroll sideways by design; those
  are listed as notes, not failures;
- no JavaScript exception was thrown, and no request left the machine (every URL is 127.0.0.1, ``data:`` or
  ``blob:``; host names resolve to nothing, so a CDN reference would show up as a request here) and none failed.

Saves one PNG screenshot per page as a reader sees it: the window's width (scrollbars shown), scrolled to the top
left, the whole page height (at most 6000 px).
"""
from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import websocket  # websocket-client (requirements-dev.txt)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from poselift_core.reproduce import _toc_files  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--mute-audio",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                  "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"]

# Evaluated in the page; everything the checks need, as one JSON string.
PAGE_STATE = """JSON.stringify({
  title: document.title,
  h1: (document.querySelector('main h1, article h1, h1') || {}).textContent || '',
  plotly: document.querySelectorAll('.plotly-graph-div').length,
  plotlyDrawn: [...document.querySelectorAll('.plotly-graph-div')].filter(d => d.querySelector('.main-svg')
    && d.getBoundingClientRect().width > 0 && d.getBoundingClientRect().height > 0).length,
  math: document.querySelectorAll('.math').length,
  mathDone: [...document.querySelectorAll('.math')].filter(e => e.querySelector('mjx-container')).length,
  mathErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error')
    || e.textContent.slice(0, 80)),
  widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  // embed-amd.js renders each saved view into a .widget-subarea inserted just before the view's <script>
  widgetsDrawn: [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
    .map(s => s.previousElementSibling)
    .filter(d => d && d.classList.contains('widget-subarea') && d.querySelector('.jupyter-widgets')
      && d.getBoundingClientRect().height > 0 && d.getBoundingClientRect().width > 0).length,
  images: document.images.length,
  imagesBroken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)
})"""

# Evaluated in the page: what does not fit the page's width. Returns a JSON list of findings, judged by
# layout_problems(): {kind, el, width, box, by}, kind one of
#   "page":     the document scrolls sideways (width = its scroll width, box = the window's width);
#   "overflow": an element runs past its bound by `by` px: the article's text column, or the window for content
#               sphinx-book-theme widens on purpose (full-width cells, margin notes);
#   "cut":      a box that scrolls or clips holds content wider (or, for clipping boxes, taller) than itself:
#               the part past its edge is hidden from a reader who does not think of scrolling it;
#   "scrolls":  the same for code and text output (pre, div.highlight) or a box marked pl-scroll-x: by design.
# Inside a drawing (svg, a plotly figure, a MathJax formula, a widget) only the drawing's own box is judged.
LAYOUT = r"""JSON.stringify((() => {
  const vw = document.documentElement.clientWidth;
  const article = document.querySelector('article.bd-article') || document.querySelector('article, main')
    || document.body;
  const col = article.getBoundingClientRect();
  const WIDE = '.full-width, .full_width, .tag_full-width, .tag_full_width, .margin, .marginnote, .sidenote, '
    + '.popout, .tag_popout, .tag_margin, .sidebar';
  const DRAWING = 'svg, .plotly-graph-div, mjx-container, .widget-subarea';
  const BY_DESIGN = 'pre, div.highlight, .pl-scroll-x';
  const desc = el => {
    const id = el.id ? '#' + el.id : '';
    const cls = [...el.classList].filter(c => !/^(docutils|container)$/.test(c)).slice(0, 3).map(c => '.' + c).join('');
    const text = (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 60);
    return el.tagName.toLowerCase() + id + cls + (text ? ' "' + text + '"' : '');
  };
  // a formula's width is that of its glyphs (mjx-math): MathJax's screen-reader copy (mjx-assistive-mml) is clipped
  // to nothing but still counts in scrollWidth
  const contentWidth = el => {
    if (!el.matches('.math, mjx-container')) return el.scrollWidth;
    const box = el.getBoundingClientRect().left + el.clientLeft;
    return Math.max(0, ...[...el.querySelectorAll('mjx-math')].map(m => m.getBoundingClientRect().right - box));
  };
  // boxes that hold content widened on purpose: their own spill is that content's, judged on its own
  const holdsWide = new Set();
  for (const w of article.querySelectorAll(WIDE))
    for (let a = w.parentElement; a && a !== article; a = a.parentElement) holdsWide.add(a);
  const found = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1)
    found.push({kind: 'page', el: 'html', width: doc.scrollWidth, box: doc.clientWidth,
                by: doc.scrollWidth - doc.clientWidth});
  // one walk down the article; `held`: a box between here and the article scrolls or clips (judged there);
  // `wide`: inside content widened on purpose (bound: the window instead of the text column)
  const visit = (el, held, wide) => {
    const st = getComputedStyle(el);
    if (st.display === 'none') return;
    wide = wide || el.matches(WIDE);
    const r = el.getBoundingClientRect();
    const ox = st.overflowX, oy = st.overflowY;
    if (st.visibility !== 'hidden' && st.position !== 'fixed' && r.width >= 2 && r.height >= 2) {
      // 1. a box that scrolls or clips, with content wider (or, clipping, taller) than itself
      const cw = ox !== 'visible' ? contentWidth(el) : 0;
      if (ox !== 'visible' && cw > el.clientWidth + 1) {
        const kind = el.matches(BY_DESIGN) || el.closest('.pl-scroll-x') ? 'scrolls' : 'cut';
        const inner = [...el.children].sort((a, b) => b.scrollWidth - a.scrollWidth)[0];
        found.push({kind, el: desc(el), inner: inner ? desc(inner) : '', width: Math.round(cw), box: el.clientWidth,
                    by: Math.round(cw - el.clientWidth)});
        if (kind === 'cut') return;                               // report the outermost culprit only
      } else if ((oy === 'hidden' || oy === 'clip') && el.scrollHeight > el.clientHeight + 2 && !el.matches('.math')) {
        found.push({kind: 'cut', el: desc(el), width: el.scrollHeight, box: el.clientHeight,
                    by: el.scrollHeight - el.clientHeight, vertical: true});
        return;
      }
      // 2. an element past its bound, unless a box between it and the article scrolls or clips it
      if (!held) {
        const right = wide ? vw : col.right;
        // content spilling out of a box that does not clip it (a long word, a wide child) is the box's extent
        const spill = st.display.startsWith('inline') || ox !== 'visible' || holdsWide.has(el) ? r.right
          : r.left + el.clientLeft + el.scrollWidth;
        const extent = Math.max(r.right, spill);
        if (extent > right + 1 || r.left < col.left - 1) {
          found.push({kind: 'overflow', el: desc(el), width: Math.round(extent - r.left),
                      box: Math.round(right - col.left), by: Math.round(Math.max(extent - right, col.left - r.left))});
          return;
        }
      }
    }
    if (el.matches(DRAWING)) return;                              // the drawing's own box is judged, not its parts
    for (const child of el.children) visit(child, held || ox !== 'visible', wide);
  };
  for (const child of article.children) visit(child, false, false);
  return found;
})())"""

SCROLL_TOP_LEFT = "window.scrollTo(0, 0); JSON.stringify([window.scrollX, window.scrollY])"


def layout_problems(findings: list[dict]) -> tuple[list[str], list[str]]:
    """Judge :data:`LAYOUT`'s findings: (problems that fail the page, notes that do not)."""
    problems, notes = [], []
    for f in findings:
        where = f"{f['el']}" + (f" (widest part: {f['inner']})" if f.get("inner") else "")
        if f["kind"] == "page":
            problems.append(f"page scrolls sideways: {f['width']} px of content in a {f['box']} px window")
        elif f["kind"] == "overflow":
            problems.append(f"overflows by {f['by']} px ({f['width']} px wide, room for {f['box']} px): {where}")
        elif f["kind"] == "cut":
            axis = "tall" if f.get("vertical") else "wide"
            problems.append(f"content cut off: {f['width']} px {axis} in a {f['box']} px box, "
                            f"{f['by']} px hidden: {where}")
        else:
            notes.append(f"scrolls sideways by design ({f['by']} px): {where}")
    return problems, notes


class CDP:
    """A minimal synchronous DevTools client over one websocket (flattened target sessions)."""

    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.ws.settimeout(left)
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                break
        self.ws.settimeout(60)


def find_chromium(explicit: str | None) -> str:
    for name in [explicit] if explicit else ["chromium", "chromium-browser", "google-chrome", "chrome"]:
        if name and (path := shutil.which(name)):
            return path
    raise SystemExit("check_book: no Chromium found (Debian: apt-get install -y chromium)")


def start_server(html: Path) -> http.server.ThreadingHTTPServer:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_chromium(binary: str, profile: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    for _ in range(300):
        if port_file.exists() and len(lines := port_file.read_text().split()) >= 2:
            return proc, f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        if proc.poll() is not None:
            raise SystemExit(f"check_book: {binary} exited with status {proc.returncode} at start")
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("check_book: Chromium did not open its DevTools port within 30 s")


def page_problems(state: dict, requests: list[str], failures: list[str], exceptions: list[str]) -> list[str]:
    problems = []
    if not state["title"].strip() or not state["h1"].strip():
        problems.append(f"no title or heading (title={state['title']!r}, h1={state['h1']!r})")
    if state["plotlyDrawn"] < state["plotly"]:
        problems.append(f"{state['plotly'] - state['plotlyDrawn']} of {state['plotly']} plotly figures did not draw")
    if state["mathDone"] < state["math"]:
        problems.append(f"{state['math'] - state['mathDone']} of {state['math']} math elements not typeset")
    problems += [f"formula failed to typeset: {e}" for e in state.get("mathErrors", [])]
    if state["widgetsDrawn"] < state["widgetViews"]:
        problems.append(f"{state['widgetViews']} widget views saved, {state['widgetsDrawn']} rendered (non-empty)")
    if state["imagesBroken"]:
        problems.append(f"images did not load: {state['imagesBroken']}")
    external = [u for u in requests if urlparse(u).scheme not in ("data", "blob", "about")
                and urlparse(u).hostname not in ("127.0.0.1", "localhost")]
    problems += [f"request left the machine: {u}" for u in external]
    problems += [f"request failed: {f}" for f in failures]
    problems += [f"JavaScript exception: {e}" for e in exceptions]
    return problems


def evaluate(cdp: CDP, session: str, expression: str) -> Any:
    """Value of a JavaScript expression that returns a JSON string."""
    reply = cdp.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
    if "exceptionDetails" in reply:
        details = reply["exceptionDetails"]
        raise RuntimeError(f"check_book: page script failed: "
                           f"{details.get('exception', {}).get('description') or details.get('text')}")
    return json.loads(reply["result"]["value"])


def set_window(cdp: CDP, session: str, width: int, height: int) -> None:
    cdp.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                     "mobile": False}, session)


def save_screenshot(cdp: CDP, session: str, shot: Path, width: int, height: int, page_height: int) -> None:
    """The whole page (at most 6000 px) as it lays out in a window ``width`` px wide, from the top left corner.

    The window is made as tall as the page, scrolled to the top left and captured, then set back to
    ``width`` x ``height``. (``captureBeyondViewport`` instead resized the view behind the page's back, and one
    capture in three came out shifted sideways by the width of the left sidebar.)
    """
    set_window(cdp, session, width, min(max(page_height, height), 6000))
    cdp.pump(0.3)  # let the theme's resize handlers run
    evaluate(cdp, session, SCROLL_TOP_LEFT)
    data = cdp.send("Page.captureScreenshot", {"format": "png"}, session)["data"]
    shot.write_bytes(base64.b64decode(data))
    set_window(cdp, session, width, height)


def check_page(cdp: CDP, session: str, url: str, shot: Path | None, timeout: float,
               width: int = 1280, height: int = 900) -> tuple[dict, list[str]]:
    """Load ``url`` and judge it; ``state`` gains ``notes`` (by-design sideways scrolling) and ``requests``."""
    cdp.events.clear()
    cdp.send("Page.navigate", {"url": url}, session)
    deadline, state, ready_since = time.monotonic() + timeout, None, None
    while time.monotonic() < deadline:
        cdp.pump(0.25)
        loaded = any(e.get("method") == "Page.loadEventFired" for e in cdp.events)
        if not loaded:
            continue
        state = evaluate(cdp, session, PAGE_STATE)
        ready = (state["plotlyDrawn"] >= state["plotly"] and state["mathDone"] >= state["math"]
                 and state["widgetsDrawn"] >= state["widgetViews"] and not state["imagesBroken"])
        # once everything has drawn, wait one more second for late requests (fonts, MathJax extensions)
        ready_since = (ready_since or time.monotonic()) if ready else None
        if ready_since and time.monotonic() - ready_since > 1.0:
            break
    if state is None:
        return {}, [f"page did not load within {timeout:.0f} s"]
    ev = [e for e in cdp.events if e.get("sessionId") == session]
    requests = [e["params"]["request"]["url"] for e in ev if e["method"] == "Network.requestWillBeSent"]
    failures = [f"{e['params']['response']['status']} {e['params']['response']['url']}" for e in ev
                if e["method"] == "Network.responseReceived" and e["params"]["response"]["status"] >= 400
                and not e["params"]["response"]["url"].endswith("/favicon.ico")]
    failures += [f"{e['params'].get('errorText')} (request {e['params']['requestId']})" for e in ev
                 if e["method"] == "Network.loadingFailed" and not e["params"].get("canceled")]
    thrown = [e["params"]["exceptionDetails"] for e in ev if e["method"] == "Runtime.exceptionThrown"]
    exceptions = [d.get("exception", {}).get("description") or d.get("text") for d in thrown]
    # the layout as a reader first sees it: scrolled to the top left (a page that scrolls sideways is caught here,
    # and the screenshot is not shifted)
    scroll = evaluate(cdp, session, SCROLL_TOP_LEFT)
    layout, notes = layout_problems(evaluate(cdp, session, LAYOUT))
    if shot is not None:
        save_screenshot(cdp, session, shot, width, height, page_height=int(state["height"]))
    state["requests"], state["notes"] = len(requests), notes
    problems = page_problems(state, requests, failures, exceptions) + layout
    if scroll != [0, 0]:
        problems.append(f"the page would not scroll back to the top left (at {scroll})")
    return state, problems


class Browser:
    """Headless Chromium on an HTML folder served from 127.0.0.1, one tab ``width`` px wide (scrollbars shown).

    ``with Browser(html) as b: state, problems = b.check("page.html", shot_path)``
    """

    def __init__(self, html: Path, chromium: str | None = None, width: int = 1280, height: int = 900,
                 timeout: float = 60):
        self.html, self.binary, self.timeout = html, find_chromium(chromium), timeout
        self.width, self.height = width, height

    def __enter__(self) -> "Browser":
        self.server = start_server(self.html)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.profile = tempfile.TemporaryDirectory(prefix="poselift-chromium-", ignore_cleanup_errors=True)
        try:
            self.proc, ws_url = start_chromium(self.binary, Path(self.profile.name))
            self.cdp = CDP(ws_url)
            target = self.cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Network", "Runtime"):
                self.cdp.send(f"{domain}.enable", {}, self.session)
            self.cdp.send("Network.setCacheDisabled", {"cacheDisabled": True}, self.session)
            set_window(self.cdp, self.session, self.width, self.height)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def check(self, page: str, shot: Path | None = None) -> tuple[dict, list[str]]:
        return check_page(self.cdp, self.session, self.base + page, shot, self.timeout, self.width, self.height)

    def __exit__(self, *exc) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.server.shutdown()
        self.server.server_close()
        self.profile.cleanup()


def toc_pages(toc: Path) -> list[str]:
    import yaml

    return [f"{entry.rsplit('.', 1)[0] if entry.endswith(('.md', '.ipynb')) else entry}.html"
            for entry in _toc_files(yaml.safe_load(toc.read_text()))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml")
    parser.add_argument("--chromium", default=None, help="browser binary (default: chromium on PATH)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds allowed per page")
    parser.add_argument("--width", type=int, default=1280, help="window width in CSS px (default 1280, a laptop)")
    args = parser.parse_args()

    pages = toc_pages(args.toc)
    missing = [p for p in ["index.html"] + pages if not (args.html / p).exists()]
    if missing:
        raise SystemExit(f"check_book: pages missing in {args.html}: {missing}")
    if f"url={pages[0]}" not in (args.html / "index.html").read_text():  # Jupyter Book's redirect to the root page
        raise SystemExit(f"check_book: {args.html / 'index.html'} does not redirect to {pages[0]}")
    args.screenshots.mkdir(parents=True, exist_ok=True)
    failed = 0
    with Browser(args.html, args.chromium, width=args.width, timeout=args.timeout) as browser:
        print(f"window {args.width} px wide")
        print(f"{'page':38s} {'plotly':>7s} {'math':>9s} {'widgets':>7s} {'reqs':>5s}  result")
        for page in pages:
            shot = args.screenshots / (page.replace("/", "__").removesuffix(".html") + ".png")
            state, problems = browser.check(page, shot)
            failed += bool(problems)
            print(f"{page:38s} {state.get('plotlyDrawn', 0):>3}/{state.get('plotly', 0):<3} "
                  f"{state.get('mathDone', 0):>4}/{state.get('math', 0):<4} "
                  f"{state.get('widgetsDrawn', 0):>3}/{state.get('widgetViews', 0):<3} "
                  f"{state.get('requests', 0):>5}  {'FAIL' if problems else 'ok'}")
            for p in problems:
                print(f"    {p}")
            for n in state.get("notes", []):
                print(f"    note: {n}")
    print(f"check_book: {len(pages) - failed} of {len(pages)} pages ok (screenshots: {args.screenshots})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
