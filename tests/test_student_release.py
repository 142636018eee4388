"""Each chapter twice more, in fresh kernels: the student copy and the instructor notebook.

The student copy runs top to bottom and no checker in it reports success; in the instructor
notebook every checker succeeds; and both runs record identical experiment results (every
expect() line), so a notebook gives the same numbers every time it runs.
"""
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from utils.grading import questions_of
from utils.release import release

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
VERDICT = re.compile(r"^([✓✗◌]) (q\d+) \(", re.M)
EXPECTATION = re.compile(r"^[✓✗] .+ = .*expected (?!.*varies from run to run).*$", re.M)


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student")
    release(folder)
    return folder


def run(path: Path) -> str:
    """Execute a notebook in a fresh kernel; return everything it printed."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "chapters")}}).execute()
    return "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")


@pytest.mark.parametrize("name", [p.name for p in CHAPTERS])
def test_student_copy_and_instructor_notebook(student_copy, monkeypatch, name):
    monkeypatch.setenv("COURSE_CHECKS", "report")  # the kernels inherit it: stubs must not stop the run
    student = run(student_copy / "chapters" / name)
    instructor = run(ROOT / "chapters" / name)
    questions = sorted(questions_of(name[:2]))

    in_student = {q: mark for mark, q in VERDICT.findall(student)}
    assert sorted(in_student) == questions, f"the student copy checked {sorted(in_student)}, the chapter has {questions}"
    assert all(mark in "✗◌" for mark in in_student.values()), f"a stub passed its check: {in_student}"
    in_instructor = {q: mark for mark, q in VERDICT.findall(instructor)}
    assert in_instructor == {q: "✓" for q in questions}, f"instructor answers that fail: {in_instructor}"

    assert EXPECTATION.findall(student) == EXPECTATION.findall(instructor), "two runs recorded different results"
    assert EXPECTATION.findall(student), f"{name} states no expected result"
