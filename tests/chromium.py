"""The browser the browser tests drive: the distribution's Chromium, through playwright.

Never a browser that playwright downloads: `make test` installs Chromium with apt-get
(scripts/chromium.sh). $COURSE_CHROMIUM names another executable.
"""
import os
import shutil

from tests.ci import unavailable

CHROMIUM = os.environ.get("COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser_available() -> None:
    """Skip the calling test (fail it under CI) where Chromium or playwright is missing."""
    if not CHROMIUM:
        unavailable("Chromium is not installed: `apt-get install chromium` (make test does this where it can)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("playwright is not installed: make install")
