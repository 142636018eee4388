"""The notebooks with widgets, run in a real JupyterLab in headless Chromium.

Starts JupyterLab on 127.0.0.1, opens each chapter that shows widgets, runs all cells, and
asserts that no cell shows an error and that every widget output was rendered (no "Error
displaying widget"). A screenshot per notebook lands in test-output/browser/. Skipped, with the
reason, only where Chromium is not installed (`make test` installs it where it can); under CI it
fails instead.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.chromium import CHROMIUM, FLAGS, browser_available

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-output" / "browser"
WIDGET_CHAPTERS = sorted(p.name for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")
                         if "utils.widgets import" in p.read_text(encoding="utf-8"))
PER_NOTEBOOK = 60  # seconds: the bar

ERRORS_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const found = {errors: [], widgets: 0, running: 0, unrun: 0};
  const cells = panel.content.model.cells;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    if (cell.executionCount === null) found.unrun += 1;
    for (let j = 0; j < cell.outputs.length; j++) {
      const out = cell.outputs.get(j).toJSON();
      if (out.output_type === 'error') found.errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
      if (out.data && out.data['application/vnd.jupyter.widget-view+json']) found.widgets += 1;
    }
  }
  found.running = panel.content.widgets.filter(w => w.promptNode && w.promptNode.textContent.includes('*')).length;
  found.busy = panel.sessionContext.session?.kernel?.status !== 'idle';
  return found;
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    browser_available()
    state = tmp_path_factory.mktemp("lab")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}  # inline figures
    env |= {"COURSE_HEADLESS": "0", "JUPYTER_CONFIG_DIR": str(state / "config"),
           "JUPYTER_DATA_DIR": str(state / "data"), "JUPYTER_RUNTIME_DIR": str(state / "runtime")}
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
               f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=",
               "--ServerApp.password=", f"--ServerApp.root_dir={ROOT}", "--LabApp.expose_app_in_browser=True",
               f"--LabApp.workspaces_dir={state / 'workspaces'}", f"--LabApp.user_settings_dir={state / 'settings'}",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=open(state / "lab.log", "w"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"JupyterLab did not start: {(state / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield url, browser
        browser.close()
    server.terminate()
    server.wait(timeout=20)


@pytest.mark.parametrize("name", WIDGET_CHAPTERS)
def test_notebook_runs_in_a_real_browser(lab, name):
    url, browser = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    start = time.monotonic()
    page.goto(f"{url}/lab/tree/chapters/{name}?reset", wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                           " && window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel", timeout=30_000)
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=30_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    found = {}
    while time.monotonic() - start < PER_NOTEBOOK:
        page.wait_for_timeout(1000)
        found = page.evaluate(ERRORS_JS)
        if found["errors"] or (not found["unrun"] and not found["running"] and not found["busy"]):
            break
    seconds = time.monotonic() - start
    page.evaluate("""() => { const control = document.querySelector(
        '.jp-OutputArea-output .widget-slider, .jp-OutputArea-output .widget-button, .jp-OutputArea-output .jupyter-widgets');
        if (control) control.scrollIntoView({block: 'start'}); }""")
    no_news = page.get_by_role("button", name="No", exact=True)
    if no_news.count():
        no_news.first.click()
    page.wait_for_timeout(500)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{Path(name).stem}.png"))
    broken = page.locator(".jp-OutputArea-output", has_text="Error displaying widget").count()
    rendered = page.locator(".jp-OutputArea-output > .jupyter-widgets, .jp-OutputArea-output .widget-container").count()
    page.evaluate("() => window.jupyterapp.commands.execute('kernelmenu:shutdown')")
    page.close()
    assert not found.get("errors"), f"{name}: {found['errors']}"
    assert not found.get("unrun") and not found.get("running"), f"{name} did not finish in {PER_NOTEBOOK} s: {found}"
    assert found["widgets"] >= 1, f"{name} displayed no widget"
    assert broken == 0, f"{name}: {broken} widget(s) failed to display"
    assert rendered >= found["widgets"], f"{name}: {found['widgets']} widget outputs, {rendered} rendered"
    print(f"{name}: {seconds:.1f} s, {found['widgets']} widget(s) rendered")
