"""The package versions the course is tested with, the oldest it supports, and the helpers' own.

Introduced in chapter 00 (setup). ``constraints.txt`` pins the same tested versions for the
test command; a unit test keeps the two in step. ``check_helpers_version()`` is called by every
notebook's setup cell: the notebook and the helpers it imports must be the same version.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

#: Versions the course's test command installs (see constraints.txt).
TESTED = {
    "torch": "2.14.1",
    "torchvision": "0.29.1",
    "numpy": "2.4.6",
    "matplotlib": "3.11.2",
    "ipywidgets": "8.1.9",
    "scikit-learn": "1.9.1",
    "scikit-image": "0.26.0",
    "tqdm": "4.70.1",
    "torchattacks": "3.5.1",
}

#: The oldest versions the notebooks work with; older ones get a fix to run.
MINIMUM = {
    "torch": "2.1",
    "torchvision": "0.16",
    "numpy": "1.24",
    "matplotlib": "3.7",
    "ipywidgets": "8.0",
    "scikit-learn": "1.2",
    "scikit-image": "0.21",
    "tqdm": "4.60",
    "torchattacks": "3.3",
}

#: Packages only some chapters need, and how to install them without disturbing the platform.
OPTIONAL = {
    "torchattacks": ("chapter 12", "pip install --no-deps torchattacks==3.5.1"),
}

PYTHON_MINIMUM = (3, 9)


def parse(version: str) -> tuple[int, ...]:
    """'2.14.1+cu128' -> (2, 14, 1): the numeric release, pre-release and local labels dropped."""
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


@dataclass(frozen=True)
class VersionReport:
    """One package's installed version against the tested set."""

    package: str
    installed: str | None
    tested: str
    status: str  # "tested", "newer", "older-but-supported", "too-old", "missing", "missing-optional"
    fix: str | None

    @property
    def ok(self) -> bool:
        return self.status in ("tested", "newer", "older-but-supported", "missing-optional")

    def line(self) -> str:
        mark = {"tested": "✓", "newer": "•", "older-but-supported": "•"}.get(self.status, "✗")
        if self.status == "missing-optional":
            mark = "•"
        shown = self.installed or "not installed"
        text = f"{mark} {self.package} {shown} (tested {self.tested})"
        if self.status == "newer":
            text += ": newer than tested; should work"
        elif self.status == "older-but-supported":
            text += ": older than tested but supported"
        return text + (f" → {self.fix}" if self.fix else "")


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def compare(package: str, installed: str | None) -> VersionReport:
    """Compare one package's installed version with TESTED and MINIMUM, naming the fix."""
    tested, minimum = TESTED[package], MINIMUM[package]
    if installed is None:
        if package in OPTIONAL:
            chapter, command = OPTIONAL[package]
            return VersionReport(package, None, tested, "missing-optional",
                                 f"needed from {chapter} on: {command}")
        return VersionReport(package, None, tested, "missing",
                             f"pip install '{package}>={minimum}'")
    have = parse(installed)
    if have < parse(minimum):
        return VersionReport(package, installed, tested, "too-old",
                             f"older than {minimum}, the oldest this course supports: "
                             f"pip install -U '{package}>={minimum}'")
    if have[:3] == parse(tested)[:3]:
        return VersionReport(package, installed, tested, "tested", None)
    status = "newer" if have > parse(tested) else "older-but-supported"
    return VersionReport(package, installed, tested, status, None)


def check_versions() -> list[VersionReport]:
    """Every course package's installed version against the tested set (chapter 00)."""
    return [compare(name, installed_version(name)) for name in TESTED]


def check_helpers_version(expected: str) -> bool:
    """Whether these helpers are the version a notebook was written for; if not, say how to fix it.

    Every notebook's setup cell calls it with the version it names (chapter 00). A mismatch (an
    old notebook beside new helpers, or helpers left installed from an earlier version) prints
    what was found where, and the command that installs the matching version.
    """
    import utils

    if utils.__version__ == expected:
        return True
    folder = Path(utils.__file__).parent
    print(f"⚠ This notebook was written for the course helpers (utils) {expected}, but the utils "
          f"imported from {folder} is version {utils.__version__}: exercises and results may not match "
          f"the text.\n  To fix: in a clone of the course, take the notebook and utils/ from the same "
          f"version (git pull). Elsewhere run\n"
          f"    pip install --force-reinstall --no-deps \"{_install_url(expected)}\"\n"
          f"  then restart the kernel and run the setup cell again.")
    return False


def _install_url(version: str) -> str:
    """Where pip installs the helpers of ``version`` from: the course's git tag ``v<version>``."""
    import utils

    return f"git+https://github.com/{utils.REPO}@v{version}"
