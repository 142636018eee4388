"""The notebooks' first cell: finds a clone's helpers, and explains itself when it cannot install them."""
import subprocess
import sys

from tests.notebook_shape import SETUP_CELL
from utils import REPO


def test_a_lone_notebook_without_the_helpers_says_what_to_do(tmp_path):
    """No utils next to the notebook, none installed, no way to install: a clear message, not a traceback."""
    # -I -S: no site-packages, so neither utils nor pip can be found, as on a machine without either
    result = subprocess.run([sys.executable, "-I", "-S", "-c", SETUP_CELL], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: Could not install the course helpers from "
                           f"git+https://github.com/{REPO}"), result.stderr[-1500:]
    assert "upload the course's utils/ folder next to this notebook" in result.stderr

