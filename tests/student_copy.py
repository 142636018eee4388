"""Each chapter's student copy, run right after the chapter itself, and the two runs compared.

nbval runs every chapter cell by cell: that run is the instructor run, where every check must pass
and every expect() hold. This plugin records what its cells print; then an item appended after
the chapter's last cell (it shares the notebook's path, so ``--dist loadfile`` keeps it on the same
xdist worker, after the cells) runs the chapter's student copy, from a release that
``utils.release`` wrote and with that release's own ``utils``, and holds the two runs to:

- the student copy runs top to bottom, checks every question, and no stub passes its check;
- in the instructor run every question's check passed;
- both runs print identical expect() lines (results marked ``varies`` aside): a notebook gives the
  same numbers every time it runs.
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from utils.grading import questions_of
from utils.release import release

CHAPTER = re.compile(r"\d{2}_\w+\.ipynb")
VERDICT = re.compile(r"^([✓✗◌]) (q\d+) \(", re.M)
EXPECTATION = re.compile(r"^[✓✗] .+ = .*expected (?!.*varies from run to run).*$", re.M)
HELPERS_LINE = "course helpers imported from "


@dataclass
class InstructorRun:
    """What nbval's run of one chapter printed, and how many of its cells ran and failed."""

    text: str = ""
    cells: int = 0
    failed: int = 0


RUNS = pytest.StashKey[dict]()
RELEASE = pytest.StashKey[Path]()


def compare_runs(name: str, student: str, instructor: str, questions: list[str]) -> None:
    """Assert what the student copy and the instructor notebook of chapter ``name`` must show."""
    in_student = {q: mark for mark, q in VERDICT.findall(student)}
    assert sorted(in_student) == questions, f"the student copy checked {sorted(in_student)}, the chapter has {questions}"
    assert all(mark in "✗◌" for mark in in_student.values()), f"a stub passed its check: {in_student}"
    in_instructor = {q: mark for mark, q in VERDICT.findall(instructor)}
    assert in_instructor == {q: "✓" for q in questions}, f"instructor answers that fail: {in_instructor}"

    assert EXPECTATION.findall(student) == EXPECTATION.findall(instructor), "two runs recorded different results"
    assert EXPECTATION.findall(student), f"{name} states no expected result"


def run_student_copy(path: Path) -> str:
    """Execute a student notebook in a fresh kernel in its own folder; return everything it printed.

    Checks report instead of raising (stubs must not stop the run), and a last cell prints where
    ``utils`` was imported from.
    """
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(f"import utils\nprint({HELPERS_LINE!r} + utils.__file__)"))
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env={**os.environ, "COURSE_CHECKS": "report"})
    return "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")


def _release_folder(config) -> Path:
    """This worker's student release, written once, removed when the run ends."""
    if RELEASE not in config.stash:
        folder = Path(tempfile.mkdtemp(prefix="course-release-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        release(folder / "release")
        config.stash[RELEASE] = folder / "release"
    return config.stash[RELEASE]


class StudentCopy(pytest.Item):
    """The student copy of one chapter, compared with the instructor run nbval just made."""

    def runtest(self):
        name = self.path.name
        release_folder = _release_folder(self.config)
        student = run_student_copy(release_folder / "chapters" / name)
        assert f"{HELPERS_LINE}{release_folder / 'utils' / '__init__.py'}" in student, \
            f"the student copy did not run with the release's own utils: {student.splitlines()[-1:]}"
        instructor = self.config.stash.get(RUNS, {}).get(self.path, InstructorRun())
        assert instructor.cells == self.cells and not instructor.failed, (
            f"the instructor run of {name} did not pass ({instructor.failed} of {self.cells} cells failed, "
            f"{self.cells - instructor.cells} did not run; see their reports), so the student copy's "
            "results cannot be compared with it")
        compare_runs(name, student, instructor.text, sorted(questions_of(name[:2])))

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: the student copy"


def append_student_copies(items: list) -> list:
    """``items`` with a StudentCopy after the last cell of every chapter whose cells all run here."""
    cells: dict[Path, list] = {}
    for item in items:
        if type(item).__name__ == "IPyNbCell" and CHAPTER.fullmatch(item.path.name):
            cells.setdefault(item.path, []).append(item)
    result = []
    for item in items:
        result.append(item)
        chapter = cells.get(item.path)
        if chapter and item is chapter[-1]:
            code_cells = sum(cell.cell_type == "code" for cell in item.parent.nb.cells)
            if len(chapter) == code_cells:  # not when only some cells were selected
                copy = StudentCopy.from_parent(item.parent, name="student copy")
                copy.cells = code_cells
                result.append(copy)
    return result


def record_instructor_cell(item, report) -> None:
    """Add one nbval cell's printed text and outcome to its chapter's instructor run."""
    if type(item).__name__ != "IPyNbCell" or report.when != "call":
        return
    run = item.config.stash.setdefault(RUNS, {}).setdefault(item.path, InstructorRun())
    run.cells += 1
    run.failed += report.failed
    run.text += "".join(out.get("text", "") for out in getattr(item, "test_outputs", [])
                        if out.get("output_type") == "stream")
