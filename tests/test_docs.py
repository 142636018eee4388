"""The package docstring and the README's layout name every helper module and every script."""
import re
from pathlib import Path

import utils

ROOT = Path(__file__).resolve().parents[1]


def test_utils_docstring_lists_every_module():
    modules = [p.stem for p in (ROOT / "utils").glob("*.py") if p.stem != "__init__"] + ["exercises"]
    missing = [name for name in modules if f"``utils.{name}``" not in utils.__doc__]
    assert not missing, f"utils/__init__.py's docstring does not list {missing}"


def test_readme_layout_lists_every_script_and_helper_module():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = re.search(r"^## Layout\n+```\n(.*?)```", readme, re.S | re.M).group(1)
    scripts = [p.name for p in (ROOT / "scripts").iterdir() if p.is_file() and p.name != "__init__.py"]
    modules = [p.stem for p in (ROOT / "utils").glob("*.py") if p.stem != "__init__"] + ["exercises"]
    missing = [name for name in scripts if name not in layout]
    missing += [name for name in modules if not re.search(rf"\b{name}\b", layout)]
    assert not missing, f"README's layout does not mention {missing}"
