"""The notebooks' first cell: finds a clone's helpers, explains itself when it cannot install them,
refuses a foreign package named utils, and warns when the helpers are not the notebook's version."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import utils
from scripts.notebook_format import SETUP_CELL
from utils import REPO

ROOT = Path(__file__).resolve().parents[1]


def run_setup_cell(cwd, *flags):
    return subprocess.run([sys.executable, *flags, "-c", SETUP_CELL], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_the_install_is_pinned_to_the_helpers_version():
    assert f'HELPERS = "{utils.__version__}"' in SETUP_CELL
    assert f'url = f"git+https://github.com/{REPO}@v{{HELPERS}}"' in SETUP_CELL


def test_a_lone_notebook_without_the_helpers_says_what_to_do(tmp_path):
    """No utils next to the notebook, none installed, no way to install: a clear message, not a traceback."""
    # -I -S: no site-packages, so neither utils nor pip can be found, as on a machine without either
    result = run_setup_cell(tmp_path, "-I", "-S")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: Could not install the course helpers from "
                           f"git+https://github.com/{REPO}@v{utils.__version__}"), result.stderr[-1500:]
    assert "upload the course's utils/ folder next to this notebook" in result.stderr


@pytest.mark.parametrize("foreign", ["utils.py", "utils/__init__.py", "utils/helpers.py"])
def test_a_foreign_utils_is_named_with_its_path(tmp_path, foreign):
    """Another module or folder called utils (a Kaggle notebook's own utils.py, say) hides the course's."""
    (tmp_path / foreign).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / foreign).write_text("def download(url):\n    pass\n")
    result = run_setup_cell(tmp_path)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    shown = str(tmp_path / foreign) if foreign != "utils/helpers.py" else str(tmp_path / "utils")
    assert last.startswith("ImportError: The `utils` found at "), result.stderr[-1500:]
    assert shown in last and "is not the course's helpers" in last and "Rename that file or folder" in last


def test_helpers_of_another_version_are_used_with_a_warning_and_the_fix(tmp_path):
    """An old notebook beside newer helpers (or the reverse): the cell runs on, and says how to match them."""
    shutil.copytree(ROOT / "utils", tmp_path / "utils", ignore=shutil.ignore_patterns("__pycache__"))
    init = tmp_path / "utils" / "__init__.py"
    init.write_text(init.read_text().replace(f'__version__ = "{utils.__version__}"', '__version__ = "0.0.1"'))
    (tmp_path / "chapters").mkdir()
    until_setup = SETUP_CELL[:SETUP_CELL.index("from utils import setup")]  # setup() itself is tested elsewhere
    result = subprocess.run([sys.executable, "-c", until_setup + "print('the cell ran on')"], cwd=tmp_path / "chapters",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-1500:]
    assert (f"written for the course helpers (utils) {utils.__version__}, but the utils imported from "
            f"{tmp_path / 'utils'} is version 0.0.1") in result.stdout
    assert f"git+https://github.com/{REPO}@v{utils.__version__}" in result.stdout
    assert result.stdout.rstrip().endswith("the cell ran on")
