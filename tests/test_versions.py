"""The tested-version table, its comparison, and its agreement with constraints.txt."""
from pathlib import Path

import pytest

from utils import versions

ROOT = Path(__file__).resolve().parents[1]


def pins(path: Path) -> dict:
    found = {}
    for line in path.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            found[name.strip().lower().replace("_", "-")] = version.strip()
    return found


def test_tested_table_matches_constraints():
    pinned = pins(ROOT / "constraints.txt")
    for package, version in versions.TESTED.items():
        assert pinned.get(package) == version, f"{package}: utils/versions.py says {version}, constraints.txt {pinned.get(package)}"


@pytest.mark.parametrize("text, parsed", [("2.14.1+cu128", (2, 14, 1)), ("1.0rc1", (1, 0)), ("0.29.1", (0, 29, 1)), ("x", ())])
def test_parse(text, parsed):
    assert versions.parse(text) == parsed


def test_compare_names_each_status_and_fix():
    assert versions.compare("torch", "2.14.1+cpu").status == "tested"
    assert versions.compare("torch", "9.0").status == "newer"
    supported = versions.compare("torch", "2.3.0")
    assert supported.status == "older-but-supported" and supported.ok
    old = versions.compare("torch", "1.13.1")
    assert old.status == "too-old" and not old.ok and "pip install -U 'torch>=2.1'" in old.fix
    missing = versions.compare("numpy", None)
    assert missing.status == "missing" and not missing.ok and "pip install" in missing.line()
    optional = versions.compare("torchattacks", None)
    assert optional.ok and "--no-deps torchattacks==3.5.1" in optional.fix


def test_check_versions_covers_every_package():
    reports = versions.check_versions()
    assert [r.package for r in reports] == list(versions.TESTED)


def test_the_matching_version_says_nothing(capsys):
    import utils

    assert versions.check_helpers_version(utils.__version__) is True
    assert capsys.readouterr().out == ""


def test_a_version_mismatch_names_both_versions_the_folder_and_the_fix(capsys):
    import utils

    assert versions.check_helpers_version("99.0.0") is False
    printed = capsys.readouterr().out
    assert f"written for the course helpers (utils) 99.0.0, but the utils imported from {ROOT / 'utils'} " \
           f"is version {utils.__version__}" in printed
    assert f'pip install --force-reinstall --no-deps "git+https://github.com/{utils.REPO}@v99.0.0"' in printed
    assert "restart the kernel" in printed


def test_pyproject_takes_its_version_from_the_helpers():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "utils.__version__"}
