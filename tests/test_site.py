"""The offline site, opened in headless Chromium with the network off: its maths renders.

Builds the site from the chapters as `make site` does (scripts/build_site.py), but without
executing them (that is the notebooks' own test), serves it on 127.0.0.1, and opens each chapter
with every request to another host refused. Each page must ask nothing of the internet, show
the Colab badge from the site's own copy, and have every formula typeset by the bundled MathJax
(no raw \\( ... \\) left). A screenshot per chapter lands in test-output/site/.
"""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from scripts.build_site import STRICT, prepare, sphinx
from tests.chromium import CHROMIUM, FLAGS, browser_available

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
SHOTS = ROOT / "test-output" / "site"

MATHS_JS = """() => ({
  formulas: document.querySelectorAll('.math').length,
  typeset: document.querySelectorAll('.math mjx-container').length,
  raw: [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container'))
        .slice(0, 3).map(e => e.textContent.slice(0, 80)),
  badge: [...document.querySelectorAll('img[alt="Open In Colab"]')].map(img => img.naturalWidth),
})"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    browser_available()
    folder = tmp_path_factory.mktemp("site")
    prepare(folder / "src", CHAPTERS)
    assert sphinx(folder / "src", folder / "html", *STRICT, "-D", "nb_execution_mode=off") == 0, "the site did not build"
    handler = functools.partial(QuietHandler, directory=str(folder / "html"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            yield f"http://127.0.0.1:{server.server_address[1]}", browser
            browser.close()
        server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_a_chapter_renders_its_maths_offline(site, chapter):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url, browser = site
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    outside = []

    def only_this_site(route):
        if route.request.url.startswith(url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_site)
    page = context.new_page()
    page.goto(f"{url}/chapters/{chapter.stem}.html", wait_until="load")
    try:
        page.wait_for_function("() => document.querySelectorAll('.math mjx-container').length"
                               " >= document.querySelectorAll('.math').length", timeout=20_000)
    except PlaywrightTimeout:
        pass  # the assertions below say what is missing
    found = page.evaluate(MATHS_JS)
    page.evaluate("() => document.querySelector('.math')?.scrollIntoView({block: 'center'})")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{chapter.stem}.png"))
    context.close()
    assert outside == [], f"{chapter.name} asked the internet for {outside}"
    assert found["badge"] and all(width > 0 for width in found["badge"]), f"the Colab badge did not load: {found}"
    assert found["formulas"] > 0, f"{chapter.name}: no formulas on the page (every chapter has some)"
    assert found["typeset"] == found["formulas"], f"{chapter.name}: formulas left raw: {found['raw']}"
