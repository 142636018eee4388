"""What a learner's install gets, and what the instructor's tools import."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.exercise_testing import all_questions
from utils.grading import questions_of

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "matplotlib", "numpy", "ipywidgets")


def test_the_instructor_tools_start_without_torch_or_matplotlib():
    """`make release` and `make grade` import utils, utils.release and utils.grading: none of them needs torch."""
    code = ("import sys, utils, utils.release, utils.grading\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-1500:]
    assert result.stdout.strip() == "[]", f"imported just to release or grade: {result.stdout.strip()}"


def test_the_notebooks_imports_still_work_lazily():
    import utils
    from utils import Profile, expect, seed_everything, setup
    from utils.env import setup as the_setup

    assert setup is the_setup and callable(expect) and callable(seed_everything) and Profile.__name__ == "Profile"
    with pytest.raises(AttributeError, match="module 'utils' has no attribute 'nonsense'"):
        utils.nonsense  # noqa: B018


def test_the_grader_reads_the_same_questions_the_modules_define():
    by_chapter = {}
    for question in all_questions():
        by_chapter.setdefault(question.chapter, []).append(question.name)
    assert by_chapter, "no exercise modules found"
    for chapter, names in by_chapter.items():
        assert questions_of(chapter) == names, chapter


def test_a_learners_install_leaves_out_the_instructor_and_test_tools():
    """The setup cell pip-installs the package with no extras: Colab gets no nbclient, Sphinx or browser."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {requirement.split(">")[0].split("=")[0].split("<")[0].strip().lower() for requirement in project["dependencies"]}
    tools = {"nbclient", "nbformat", "nbgrader", "nbval", "jupyterlab", "jupytext", "playwright", "sphinx", "pytest"}
    assert not names & tools, f"a learner's install would pull in {names & tools}"
    assert {"nbclient", "nbformat"} <= {r.split(">")[0] for r in project["optional-dependencies"]["instructor"]}
