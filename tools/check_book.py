"""Browser check of the built book: headless Chromium, driven over the DevTools protocol (CDP).

    python tools/check_book.py [--html _build/html] [--screenshots _build/screenshots] [--chromium PATH]

Serves the HTML on 127.0.0.1, opens every page of _toc.yml with the cache disabled, and fails unless on each page:
the title and the first heading are present; every plotly figure drew (``.main-svg`` inside ``.plotly-graph-div``);
every math element was typeset by MathJax (``mjx-container``); every saved widget view rendered; every image loaded;
no JavaScript exception was thrown; and no request left the machine (every URL is 127.0.0.1, ``data:`` or
``blob:``; host names resolve to nothing, so a CDN reference would show up as a request here) and none failed.
Saves one PNG screenshot per page.
"""
from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import websocket  # websocket-client (requirements-dev.txt)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from poselift_core.reproduce import _toc_files  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                  "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"]

# Evaluated in the page; everything the checks need, as one JSON string.
PAGE_STATE = """JSON.stringify({
  title: document.title,
  h1: (document.querySelector('main h1, article h1, h1') || {}).textContent || '',
  plotly: document.querySelectorAll('.plotly-graph-div').length,
  plotlyDrawn: [...document.querySelectorAll('.plotly-graph-div')].filter(d => d.querySelector('.main-svg')).length,
  math: document.querySelectorAll('.math').length,
  mathDone: [...document.querySelectorAll('.math')].filter(e => e.querySelector('mjx-container')).length,
  widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  widgetsDrawn: document.querySelectorAll('.jupyter-widgets').length,
  images: document.images.length,
  imagesBroken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  height: Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)
})"""


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
    if state["widgetsDrawn"] < state["widgetViews"]:
        problems.append(f"{state['widgetViews']} widget views saved, {state['widgetsDrawn']} rendered")
    if state["imagesBroken"]:
        problems.append(f"images did not load: {state['imagesBroken']}")
    external = [u for u in requests if urlparse(u).scheme not in ("data", "blob", "about")
                and urlparse(u).hostname not in ("127.0.0.1", "localhost")]
    problems += [f"request left the machine: {u}" for u in external]
    problems += [f"request failed: {f}" for f in failures]
    problems += [f"JavaScript exception: {e}" for e in exceptions]
    return problems


def check_page(cdp: CDP, session: str, url: str, shot: Path, timeout: float) -> tuple[dict, list[str]]:
    cdp.events.clear()
    cdp.send("Page.navigate", {"url": url}, session)
    deadline, state, ready_since = time.monotonic() + timeout, None, None
    while time.monotonic() < deadline:
        cdp.pump(0.25)
        loaded = any(e.get("method") == "Page.loadEventFired" for e in cdp.events)
        if not loaded:
            continue
        value = cdp.send("Runtime.evaluate", {"expression": PAGE_STATE, "returnByValue": True}, session)
        state = json.loads(value["result"]["value"])
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
    height = min(int(state["height"]), 6000)
    shot_data = cdp.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": 1280, "height": height,
                                                             "scale": 0.75}}, session)
    shot.write_bytes(base64.b64decode(shot_data["data"]))
    state["requests"] = len(requests)
    return state, page_problems(state, requests, failures, exceptions)


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
    args = parser.parse_args()

    pages = toc_pages(args.toc)
    missing = [p for p in ["index.html"] + pages if not (args.html / p).exists()]
    if missing:
        raise SystemExit(f"check_book: pages missing in {args.html}: {missing}")
    if f"url={pages[0]}" not in (args.html / "index.html").read_text():  # Jupyter Book's redirect to the root page
        raise SystemExit(f"check_book: {args.html / 'index.html'} does not redirect to {pages[0]}")
    args.screenshots.mkdir(parents=True, exist_ok=True)
    server = start_server(args.html)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    failed = 0
    with tempfile.TemporaryDirectory(prefix="poselift-chromium-", ignore_cleanup_errors=True) as profile:
        proc, ws_url = start_chromium(find_chromium(args.chromium), Path(profile))
        try:
            cdp = CDP(ws_url)
            target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Network", "Runtime"):
                cdp.send(f"{domain}.enable", {}, session)
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True}, session)
            cdp.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                                             "mobile": False}, session)
            print(f"{'page':34s} {'plotly':>7s} {'math':>9s} {'widgets':>7s} {'reqs':>5s}  result")
            for page in pages:
                shot = args.screenshots / (page.replace("/", "__").removesuffix(".html") + ".png")
                state, problems = check_page(cdp, session, base + page, shot, args.timeout)
                failed += bool(problems)
                print(f"{page:34s} {state.get('plotlyDrawn', 0):>3}/{state.get('plotly', 0):<3} "
                      f"{state.get('mathDone', 0):>4}/{state.get('math', 0):<4} "
                      f"{state.get('widgetsDrawn', 0):>3}/{state.get('widgetViews', 0):<3} "
                      f"{state.get('requests', 0):>5}  {'FAIL' if problems else 'ok'}")
                for p in problems:
                    print(f"    {p}")
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            server.shutdown()
    print(f"check_book: {len(pages) - failed} of {len(pages)} pages ok (screenshots: {args.screenshots})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
