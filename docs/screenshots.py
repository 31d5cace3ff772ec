"""Builds the documentation site, serves it locally and screenshots its main pages in headless Chromium.

For whoever edits the docs: look at the PNGs (navigation, search, code blocks, images, tables) before
committing. Needs Debian's Chromium (`apt-get install -y chromium`) and the docs extra
(`pip install -e '.[docs]'`).

Run: python docs/screenshots.py [--out screenshots] [--width 1280] [--height 1800]
"""
from __future__ import annotations

import argparse
import base64
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# (PNG name, page path under the site, what to look at)
PAGES = (
    ("home", "", "navigation tabs and sidebar, the picture, the table of links"),
    ("getting-started", "getting-started/", "code blocks with copy buttons, the run directory table"),
    ("guide-distributions", "guides/distributions/", "long code blocks, the bijector table, the page's table of contents"),
    ("guide-conditional", "guides/conditional/", "the class-conditional samples picture"),
    ("guide-export", "guides/export/", "JSON and bash blocks, the signatures table"),
    ("reference-models", "reference/models/", "API entries: signatures, argument lists, doctest examples"),
    ("reference-bijectors", "reference/bijectors/", "formulas in docstrings, Raises sections"),
    ("cli", "cli/", "the generated options tables"),
    ("results", "results/", "included result tables with their command, machine and date; pictures"),
    ("search-glow", "?q=glow", "the search dialog with results for 'glow'"),
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("screenshots.py: no Chromium found; install Debian's: apt-get install -y chromium")


def build(site_dir: str) -> None:
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", site_dir],
                   cwd=ROOT, check=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


WAIT_PATH = "/__wait__"
# Material's search builds its index in a web worker, which headless Chromium's virtual time does not
# advance. So a search is screenshotted through a page that frames it and holds its own load event
# (when the screenshot is taken) on an image the server answers only after `WAIT_SECONDS` of real time.
WAIT_SECONDS = 8
FRAME_PAGE = """<!doctype html><html><body style="margin:0">
<iframe src="{url}" style="border:0;width:100vw;height:100vh"></iframe>
<img src="{wait}" style="display:none"></body></html>"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per request would bury the list of PNGs
        pass

    def do_GET(self):
        if self.path != WAIT_PATH:
            return super().do_GET()
        time.sleep(WAIT_SECONDS)
        pixel = base64.b64decode("R0lGODlhAQABAAAAACH5BAEAAAAALAAAAAABAAEAAAIBAAA=")
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.send_header("Content-Length", str(len(pixel)))
        self.end_headers()
        self.wfile.write(pixel)


def serve(site_dir: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=site_dir)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def screenshot(browser: str, url: str, path: str, width: int, height: int, budget_ms: int | None = 5000) -> None:
    """One PNG of `url`, taken at its load event plus `budget_ms` of virtual time for its scripts."""
    budget = [f"--virtual-time-budget={budget_ms}"] if budget_ms else []
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             f"--user-data-dir={profile}", f"--window-size={width},{height}", *budget,
             f"--screenshot={os.path.abspath(path)}", url],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def main(argv=None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="screenshots", help="folder for the PNGs")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1800)
    args = parser.parse_args(argv)
    browser = chromium()
    os.makedirs(args.out, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as site_dir:
        build(site_dir)
        server, base = serve(site_dir)
        try:
            for name, page, look_at in PAGES:
                path = os.path.join(args.out, f"{name}.png")
                if "?q=" in page:  # through a framing page that waits for the search worker in real time
                    frame = f"__{name}__.html"
                    with open(os.path.join(site_dir, frame), "w") as handle:
                        handle.write(FRAME_PAGE.format(url="/" + page, wait=WAIT_PATH))
                    screenshot(browser, base + frame, path, args.width, args.height, budget_ms=None)
                else:
                    screenshot(browser, base + page, path, args.width, args.height)
                written.append(path)
                print(f"{path}: {look_at}")
        finally:
            server.shutdown()
    return written


if __name__ == "__main__":
    main()
