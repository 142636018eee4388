"""nbgrader grades the course's chapters: check cells are locked, autograded test cells worth a point each.

The whole flow runs once, as an instructor runs it, on chapter 00: ``nbgrader db assignment add``,
``generate_assignment``, three submissions (right; partly wrong, with a check cell rewritten to print
a pass; untouched), ``autograde``, and the points read back from the gradebook. A failing check raises only under nbgrader (it sets
$NBGRADER_EXECUTION); a learner, without it, reads the message and the notebook goes on.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from utils.exercises import ExerciseFailed
from utils.exercises.ch00 import q3
from utils.release import ExerciseError, exercise_cells, student_notebook

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
RIGHT = {"q1": "def to_device(features, labels, device):\n    return features.to(device, torch.float32), labels.to(device).long()",
         "q2": "def split_indices(n, n_val, seed):\n    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))\n"
               "    return order[n_val:], order[:n_val]",
         "q3": "def seconds_per_call(work, synchronize, clock, repeats):\n    work()\n    synchronize()\n    start = clock()\n"
               "    for _ in range(repeats):\n        work()\n    synchronize()\n    return (clock() - start) / repeats"}
PARTLY_WRONG = {**RIGHT, "q2": "def split_indices(n, n_val, seed):\n    return torch.arange(n)[n_val:], torch.arange(n)[:n_val]",
                "q3": RIGHT["q3"].replace("(clock() - start) / repeats", "clock() - start")}


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_check_cell_is_an_autograded_test_cell(path):
    notebook = nbformat.read(path, as_version=4)
    exercises = exercise_cells(notebook.cells)
    assert exercises, f"{path.name} has no exercises"
    for question, exercise in exercises.items():
        answer = notebook.cells[exercise.answer].metadata["nbgrader"]
        check = notebook.cells[exercise.check].metadata["nbgrader"]
        assert answer["grade_id"] == f"answer-{question}" and answer["solution"] and not answer["grade"]
        assert check["grade_id"] == f"check-{question}" and check["grade"] and check["locked"]
        assert check["points"] == 1 and not check["solution"]
    student = student_notebook(notebook)
    for exercise in exercise_cells(student.cells).values():  # the student copy keeps them, locked
        cell = student.cells[exercise.check]
        assert cell.metadata["nbgrader"]["grade"] and cell.metadata["editable"] is False


@pytest.mark.parametrize("cells, problem", [
    (["def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"], "cell 0: an answer cell with no"),
    (["def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "def g():\n    ### BEGIN SOLUTION\n"
      "    return 2\n    ### END SOLUTION", "ex.q1.check(g)"], "cell 0: an answer cell with no"),
    (["ex.q1.check(f)", "ex.q1.check(f)"], "cell 1: q1 is checked a second time"),
])
def test_answers_and_checks_that_do_not_pair_up_are_refused(cells, problem):
    with pytest.raises(ExerciseError, match=problem):
        exercise_cells([nbformat.v4.new_code_cell(source) for source in cells])


@pytest.mark.parametrize("nbgrader, checks, raises", [
    ("autograde", None, True), ("validate", None, True), (None, None, False), ("autograde", "report", False),
])
def test_a_failing_check_raises_only_under_nbgrader(monkeypatch, capsys, nbgrader, checks, raises):
    monkeypatch.delenv("COURSE_TESTING", raising=False)
    for name, value in (("NBGRADER_EXECUTION", nbgrader), ("COURSE_CHECKS", checks)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    def total(work, synchronize, clock, repeats):  # the total time, not the time per call
        work()
        synchronize()
        start = clock()
        for _ in range(repeats):
            work()
        synchronize()
        return clock() - start
    if raises:
        with pytest.raises(ExerciseFailed, match="divide by the number of calls"):
            q3.check(total)
    else:
        assert q3.check(total).status == "incorrect"
    assert "✗ q3 (a stopwatch for an asynchronous device) is not correct yet" in capsys.readouterr().out


def nbgrader(course: Path, *args: str) -> None:
    """Run one nbgrader command in ``course``, as an instructor would from the course's environment."""
    env = {key: value for key, value in os.environ.items() if key not in ("COURSE_TESTING", "COURSE_CHECKS")}
    env.update(PYTHONPATH=str(ROOT), COURSE_PROFILE="quick", MPLBACKEND="Agg",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")  # nbgrader calls alembic
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stderr[-3000:]}"


def submit(course: Path, student: str, answers: dict, checks: dict = {}) -> None:  # noqa: B006
    """The released notebook with cells rewritten by their grade_id (answer-qN, check-qN)."""
    notebook = nbformat.read(course / "release" / "ch00" / "00_setup.ipynb", as_version=4)
    rewritten = {f"answer-{q}": source for q, source in answers.items()} | {f"check-{q}": s for q, s in checks.items()}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell.source = rewritten.get(grade_id, cell.source)
    (course / "submitted" / student / "ch00").mkdir(parents=True)
    nbformat.write(notebook, course / "submitted" / student / "ch00" / "00_setup.ipynb")


def test_nbgrader_generates_and_autogrades_a_chapter(tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    (course / "source" / "ch00").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "dl-course"\n')
    shutil.copy(ROOT / "chapters" / "00_setup.ipynb", course / "source" / "ch00")
    nbgrader(course, "db", "assignment", "add", "ch00")
    nbgrader(course, "generate_assignment", "ch00")
    submit(course, "alice", RIGHT)
    submit(course, "bob", PARTLY_WRONG, checks={"q2": "print('✓ q2 (a reproducible train/validation split): correct!')"})
    submit(course, "carol", {})  # the release as it was handed out
    nbgrader(course, "autograde", "ch00")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        points = {student: {grade.name: grade.score for grade in
                            gradebook.find_submission_notebook("00_setup", "ch00", student).grades}
                  for student in ("alice", "bob", "carol")}
        assert gradebook.find_notebook("00_setup", "ch00").max_score == 3
    assert points == {"alice": {"check-q1": 1, "check-q2": 1, "check-q3": 1},
                      "bob": {"check-q1": 1, "check-q2": 0, "check-q3": 0},
                      "carol": {"check-q1": 0, "check-q2": 0, "check-q3": 0}}
    graded = nbformat.read(course / "autograded" / "bob" / "ch00" / "00_setup.ipynb", as_version=4)
    check = next(cell for cell in graded.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "check-q3")
    printed = "".join(output.get("text", "") for output in check.outputs)
    assert "✗ q3 (a stopwatch for an asynchronous device) is not correct yet" in printed  # the learner's message...
    assert [output.ename for output in check.outputs if output.output_type == "error"] == ["ExerciseFailed"]
