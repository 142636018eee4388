"""The grader: honest grades from submissions built from the release, whatever they did to its cells.

The graded runs use a short chapter 00 (its setup cell and its exercises section, as released) so
that each submission's kernel runs in seconds; every submission is graded in one module-scoped run.
A cell the student added is not run any more: the old "crashing" submission (an added cell that
raises) now gets full marks, with the cell counted in cells_not_run.
"""
import copy
import csv
import json
import os
import re
import subprocess
import sys
import types

import nbformat
import pytest

import utils.grading as grading
from utils.answer_scan import copied_from_solution, scan
from utils.exercises.verdicts import load_fresh, tampered
from utils.grading import grade_folder, grade_notebook, questions_of
from utils.release import exercise_cells, student_notebook
from utils.submission import compose

RIGHT = {"q1": "def to_device(features, labels, device):\n    return features.to(device, torch.float32), labels.to(device).long()",
         "q2": "def split_indices(n, n_val, seed):\n    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))\n"
               "    return order[n_val:], order[:n_val]",
         "q3": "def seconds_per_call(work, synchronize, clock, repeats):\n    work()\n    synchronize()\n    start = clock()\n"
               "    for _ in range(repeats):\n        work()\n    synchronize()\n    return (clock() - start) / repeats"}
WRONG_Q1 = "def to_device(features, labels, device):\n    return features, labels"
WRONG_Q3 = RIGHT["q3"].replace("(clock() - start) / repeats", "clock() - start")  # the total, not the average
WRONG_Q3_MESSAGE = "divide by the number of calls"
MIME = "application/vnd.deep-learning-course.verdict+json"
FORGED_LOG = f"""\
from IPython.display import publish_display_data
for q in ("q1", "q2", "q3"):
    publish_display_data({{"{MIME}": {{"kind": "verdict", "nonce": "guess", "chapter": "00", "question": q,
                                     "status": "correct", "message": "✓"}}}})
with open("checks.jsonl", "a") as log:  # the log file the old grader read
    log.write('{{"chapter": "00", "question": "q1", "status": "correct", "message": "✓"}}\\n')

def to_device(features, labels, device):
    raise NotImplementedError()"""
FORGED_IN_CHECK = f"""\
from IPython.display import publish_display_data

def split_indices(n, n_val, seed):  # prints a record while its check runs, into the check cell's outputs
    publish_display_data({{"{MIME}": {{"kind": "verdict", "nonce": "guess", "chapter": "00", "question": "q2",
                                     "status": "correct", "message": "✓"}}}})
    raise NotImplementedError()"""
SUBMISSIONS = {
    # what students really hand in
    "right": dict(answers=RIGHT, added=["raise RuntimeError('oops')"]),
    "empty": dict(),
    "mixed": dict(answers={"q1": "import no_such_module\n" + RIGHT["q1"], "q2": RIGHT["q2"], "q3": WRONG_Q3}),
    # the five cheats of the issue, and their variants
    "cells": dict(answers={**RIGHT, "q3": RIGHT["q3"].replace("def seconds_per_call", "def my_stopwatch")},
                  checks={"q1": 'print("✓ q1 (a batch the model can use): correct!")', "q2": None,
                          "q3": "ex.q3.check(my_stopwatch)"}),
    "forged": dict(answers={"q1": FORGED_LOG, "q2": FORGED_IN_CHECK}),
    "patched": dict(answers={  # each answer cell patches the checking machinery another way
        "q1": "def to_device(features, labels, device):\n    raise NotImplementedError()\n\n"
              "ex.q1.check = lambda answer: print('✓ q1: correct!')",
        "q2": "def split_indices(n, n_val, seed):\n    return torch.arange(n)[n_val:], torch.arange(n)[:n_val]\n\n"
              "from utils.exercises import Question\n"
              "Question.check = lambda self, answer=None: print(f'✓ {self.name}: correct!')",
        "q3": WRONG_Q3 + "\n\nimport utils.exercises\n"
              "utils.exercises.require = lambda *args, **kwargs: None\nex.require = utils.exercises.require"}),
    "expect": dict(answers={**RIGHT, "q1": RIGHT["q1"] + "\n\ndef expect(*args, **kwargs):\n    return True"}),
}


def short_chapter():
    """Chapter 00 cut to its setup cell and its exercises section (an instructor notebook)."""
    notebook = nbformat.read(grading.ROOT / "chapters" / "00_setup.ipynb", as_version=4)
    setup = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    exercises = next(i for i, cell in enumerate(notebook.cells) if re.search(r"^## Exercises", cell.source, re.M))
    imports = nbformat.v4.new_code_cell("import numpy as np\nimport torch\nfrom utils.exercises import ch00 as ex")
    notebook.cells = [*notebook.cells[:setup + 1], imports, *notebook.cells[exercises:]]
    return notebook


def submission(release, *, answers=(), checks=(), added=()):
    """The release with answers written in, check cells replaced (None: deleted) and cells added."""
    notebook = copy.deepcopy(release)
    where = exercise_cells(release.cells)
    for question, source in dict(answers).items():
        notebook.cells[where[question].answer].source = source
    for question, source in dict(checks).items():
        notebook.cells[where[question].check].source = source
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in added]
    notebook.cells = [cell for cell in notebook.cells if cell.source is not None]
    return notebook


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course whose chapter 00 is the short one: grade with the grader's ROOT pointing at it."""
    root = tmp_path_factory.mktemp("course")
    (root / "chapters").mkdir()
    (root / "utils").symlink_to(grading.ROOT / "utils", target_is_directory=True)
    nbformat.write(short_chapter(), root / "chapters" / "00_setup.ipynb")
    return root


@pytest.fixture(scope="module")
def release(course):
    return student_notebook(nbformat.read(course / "chapters" / "00_setup.ipynb", as_version=4))


@pytest.fixture(scope="module")
def graded(course, release, tmp_path_factory):
    """Every submission graded in one run; rows by student, and each student's scores row."""
    folder = tmp_path_factory.mktemp("submissions")
    for student, parts in SUBMISSIONS.items():
        (folder / student).mkdir()
        nbformat.write(submission(release, **parts), folder / student / "00_setup.ipynb")
    (folder / "erin").mkdir()
    nbformat.write(release, folder / "erin" / "my_notes.ipynb")
    out = tmp_path_factory.mktemp("out") / "grades.csv"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(grading, "ROOT", course)
        grade_folder(folder, out, timeout=120)
    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    scores = {r["student_file"].split("/")[0]: r for r in csv.DictReader(open(out.with_name("grades_scores.csv"), encoding="utf-8"))}
    by_student = {}
    for row in rows:
        by_student.setdefault(row["student_file"].split("/")[0], {})[row["question"]] = row
    return by_student, scores


def passed(rows):
    return [rows[q]["passed"] == "True" for q in ("q1", "q2", "q3")]


def test_questions_of_a_chapter():
    assert questions_of("00") == ["q1", "q2", "q3"]
    assert questions_of("99") == []


def test_right_answers_pass_and_an_added_cell_is_not_run(graded):
    rows, scores = graded
    assert passed(rows["right"]) == [True, True, True]
    assert all(row["review"] == "" for row in rows["right"].values())
    assert scores["right"]["score"] == "1.00" and scores["right"]["cells_not_run"] == "1"


def test_an_untouched_release_is_not_attempted(graded):
    rows, scores = graded
    assert all(r["passed"] == "False" and "not attempted yet" in r["message"] for r in rows["empty"].values())
    assert scores["empty"]["score"] == "0.00" and scores["empty"]["cells_not_run"] == "0"


def test_a_crashing_answer_and_a_wrong_one_are_graded_with_their_reasons(graded):
    rows, scores = graded
    assert passed(rows["mixed"]) == [False, True, False]
    assert rows["mixed"]["q1"]["message"] == (
        "not passed: its answer cell raised ModuleNotFoundError: No module named 'no_such_module'; its check "
        "raised NameError: name 'to_device' is not defined (is the answer defined under the name the "
        "exercise gives?)")
    assert WRONG_Q3_MESSAGE in rows["mixed"]["q3"]["message"]
    assert scores["mixed"]["score"] == "0.33"


def test_a_file_without_a_chapter_number_is_reported(graded):
    rows, _ = graded
    assert "no chapter number" in rows["erin"][""]["message"]


def test_an_edited_check_cell_is_restored_and_flagged(graded):
    rows, _ = graded
    q1 = rows["cells"]["q1"]
    assert q1["passed"] == "True" and q1["review"] == "check cell edited"  # the answer is right: so is the grade


def test_a_deleted_check_cell_is_restored_and_flagged(graded):
    rows, _ = graded
    assert rows["cells"]["q2"]["passed"] == "True" and rows["cells"]["q2"]["review"] == "check cell deleted"


def test_an_answer_under_another_name_is_not_graded_right(graded):
    rows, scores = graded
    q3 = rows["cells"]["q3"]
    assert q3["passed"] == "False" and "NameError: name 'seconds_per_call' is not defined" in q3["message"]
    assert q3["review"] == "check cell edited"
    assert scores["cells"]["cells_not_run"] == "2"  # the two edited check cells


def test_verdict_records_written_by_the_student_count_for_nothing(graded):
    rows, _ = graded
    assert passed(rows["forged"]) == [False, False, False]
    q1, q2 = rows["forged"]["q1"]["review"], rows["forged"]["q2"]["review"]
    assert "its answer cell printed verdict records" in q1 and "imports IPython.display" in q1
    assert "writes a file" in q1 and "mentions deep-learning-course in a string" in q1
    assert "forged verdict records in its check cell" in q2  # printed by the answer while it was checked


def test_replacing_a_questions_check_changes_nothing(graded):
    rows, _ = graded
    q1 = rows["patched"]["q1"]
    assert q1["passed"] == "False" and "not attempted yet" in q1["message"]
    assert "changes ex.q1.check" in q1["review"] and "in the kernel: ex.q1.check changed" in q1["review"]


def test_replacing_question_check_changes_nothing(graded):
    rows, _ = graded
    q2 = rows["patched"]["q2"]
    assert q2["passed"] == "False" and "not correct yet" in q2["message"]
    assert "changes Question.check" in q2["review"]
    assert "in the kernel: utils.exercises.Question.check changed" in q2["review"]
    assert "in the kernel: ex.q3.check changed" in rows["patched"]["q3"]["review"]


def test_a_no_op_require_still_grades_a_wrong_answer_wrong(graded):
    rows, _ = graded
    q3 = rows["patched"]["q3"]
    assert q3["passed"] == "False" and WRONG_Q3_MESSAGE in q3["message"]
    for flag in ("imports utils.exercises", "changes utils.exercises.require", "changes ex.require",
                 "in the kernel: ex.require changed", "in the kernel: utils.exercises.require changed"):
        assert flag in q3["review"], flag


def test_redefining_expect_changes_nothing_but_is_flagged(graded):
    rows, _ = graded
    assert passed(rows["expect"]) == [True, True, True]
    assert "redefines expect" in rows["expect"]["q1"]["review"]
    assert "in the kernel: expect changed" in rows["expect"]["q3"]["review"]


def test_a_notebook_that_runs_out_of_time_is_graded(course, release, tmp_path, monkeypatch):
    monkeypatch.setattr(grading, "ROOT", course)
    slow = submission(release, answers={"q1": "import time\ntime.sleep(600)\n" + RIGHT["q1"]})
    nbformat.write(slow, tmp_path / "00_setup.ipynb")
    grades = grade_notebook(tmp_path / "00_setup.ipynb", timeout=15)
    assert [g.passed for g in grades] == [False] * 3
    assert all("not checked: the notebook ran past its time limit of 15 s" == g.message for g in grades)


def test_a_file_that_is_not_a_notebook_is_graded(course, tmp_path, monkeypatch):
    monkeypatch.setattr(grading, "ROOT", course)
    (tmp_path / "00_setup.ipynb").write_text("{ not json", encoding="utf-8")
    grades = grade_notebook(tmp_path / "00_setup.ipynb")
    assert [g.question for g in grades] == ["q1", "q2", "q3"]
    assert all(g.message.startswith("not checked: 00_setup.ipynb is not a readable notebook") for g in grades)


# composing: which of the student's cells is which, without running anything -------------------------

def test_answers_are_taken_by_grade_id_then_cell_id_then_name(release):
    where = exercise_cells(release.cells)
    student = submission(release, answers=RIGHT, added=["print('scratch')"])
    student.cells[where["q2"].answer].metadata = {}  # no nbgrader metadata: found by its cell id
    moved = student.cells.pop(where["q3"].answer)  # moved to the end, no id, no metadata: found by name
    student.cells.append(nbformat.v4.new_code_cell(moved.source))
    composed = compose(release, where, student)
    assert composed.answers == RIGHT and composed.cells_not_run == 1
    assert [composed.notebook.cells[where[q].answer].source for q in RIGHT] == list(RIGHT.values())
    assert composed.review == {"q1": [], "q2": [], "q3": []}


def test_a_cell_that_defines_the_answer_wins_over_the_stub_it_left(release):
    where = exercise_cells(release.cells)
    student = submission(release, added=[RIGHT["q1"]])  # the stub left as it was, the answer written below
    assert compose(release, where, student).answers["q1"] == RIGHT["q1"]


def test_a_deleted_answer_cell_is_not_attempted_and_check_cells_are_compared(release):
    where = exercise_cells(release.cells)
    student = submission(release, checks={"q2": "ex.q2.check(my_sample)"})
    del student.cells[where["q3"].check]
    del student.cells[where["q1"].answer]
    composed = compose(release, where, student)
    assert composed.answers["q1"] is None
    assert composed.review == {"q1": [], "q2": ["check cell edited"], "q3": ["check cell deleted"]}
    assert composed.cells_not_run == 1


# the static scan of answer cells ------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted((grading.ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")),
                         ids=lambda path: path.stem)
def test_no_reference_answer_is_flagged(path):
    notebook = nbformat.read(path, as_version=4)
    for question, exercise in exercise_cells(notebook.cells).items():
        assert scan(notebook.cells[exercise.answer].source) == [], (path.name, question)


@pytest.mark.parametrize("source, flag", [
    ("ex.q1.check = lambda answer: None", "changes ex.q1.check"),
    ("ex.q1._checker", "uses ex.q1._checker"),
    ("import torch\ntorch.allclose = lambda *a, **k: True", "changes torch.allclose"),
    ("type(ex.q1).check = print", "changes type(ex.q1).check"),
    ("import utils.exercises as e\ne.require = print", "imports utils.exercises"),
    ("from utils.exercises import require", "imports utils.exercises"),
    ("from utils import grading", "imports utils.grading"),
    ("import builtins\nbuiltins.print = None", "imports builtins"),
    ("sys.modules['utils.exercises'].require = None", "uses sys"),
    ("import gc", "imports gc"), ("import ctypes", "imports ctypes"), ("import inspect", "imports inspect"),
    ("import importlib", "imports importlib"), ("from unittest import mock", "imports unittest"),
    ("exec('x = 1')", "uses exec"), ("eval('1')", "uses eval"), ("compile('1', 'f', 'eval')", "uses compile"),
    ("__import__('os')", "uses __import__"), ("globals()['ex'] = None", "uses globals"),
    ("vars(ex)", "uses vars"), ("setattr(ex, 'q1', None)", "uses setattr"), ("getattr(ex, 'q' + '1')", "uses getattr"),
    ("def f(): pass\nf.__code__ = print.__code__", "uses .__code__"),
    ("def f(): pass\nf.__globals__['x'] = 1", "uses .__globals__"),
    ("open('log.jsonl', 'a').write('{}')", "writes a file"),
    ("from pathlib import Path\nPath('x').write_text('1')", "writes a file"),
    ("torch.save(model.state_dict(), 'utils/exercises/ch05.py')", "writes a file"),
    ("def f(model, folder):\n    torch.save(model, Path(folder) / '../../utils/x.py')", "writes a file"),
    ("def f(model, folder):\n    torch.save(model, Path('/tmp') / folder)", "writes a file"),
    ("def f(model, folder):\n    Path(folder, 'x').write_text('1')", "writes a file"),
    ("import os\nos.environ['COURSE_CHECKS'] = 'report'", "uses os.environ"),
    ("from os import environ", "imports os.environ"),
    ("answer = ex.q1._reference", "mentions _reference"),
    ("def expect(*args, **kwargs):\n    return True", "redefines expect"),
    ("Question.check = print", "mentions Question"),
    ("import numpy as expect", "redefines expect"),
    ("require(True, 'fine')", "mentions require"),
    ("print(In[-1])", "reads the notebook's history (In)"),
    ("!rm -rf ../utils", "uses get_ipython"),
    ("ex = None", "rebinds ex"),
    ("x = 'application/vnd.deep-learning-course.verdict+json'", "mentions deep-learning-course in a string"),
])
def test_what_an_answer_has_no_need_for_is_flagged(source, flag):
    assert flag in scan(source)


def test_saving_into_the_folder_the_function_was_given_is_left_alone():
    source = ("def train(model, epochs, folder):\n    for epoch in range(epochs):\n"
              "        torch.save(model.state_dict(), Path(folder) / f'epoch_{epoch:03d}.pt')")
    assert scan(source) == []


def test_ordinary_answers_are_left_alone():
    source = ("class Digits(Dataset):\n    def __init__(self, images):\n        super().__init__()\n"
              "        self.images = images\n        self.images[0] = 0\n\n    def __len__(self):\n"
              "        return len(self.images)\n\n"
              "def f(x):\n    y = x.clone()\n    y[0] = 1\n    for _ in range(3):\n        y = y * 2\n"
              "    return y\n\nex.q1.hint()\nex.q1.check(f)\nex.q1.solution()\nprint(open('notes.txt').read())")
    assert scan(source) == []


def test_an_answer_that_is_the_printed_solution_is_flagged():
    solution = grading.prepare("04").solutions["q3"]  # numerical_gradient: long enough to tell
    assert copied_from_solution(solution.replace("def _", "def ", 1), solution)
    assert not copied_from_solution(solution.replace("grad", "g"), solution)  # other names: not a copy
    short = grading.prepare("00").solutions["q1"]  # a one-liner anyone would write
    assert not copied_from_solution(short, short)


# the verdict channel and the guard ---------------------------------------------------------------

def right_stopwatch(work, synchronize, clock, repeats):
    work()
    synchronize()
    start = clock()
    for _ in range(repeats):
        work()
    synchronize()
    return (clock() - start) / repeats


def test_the_grader_reads_its_checkers_without_importing_torch():
    other = subprocess.run([sys.executable, "-c", "import json, sys, utils.grading as g; r = g.prepare('00'); "
                            "print(json.dumps([r.expected, r.labels, sorted(m for m in ('torch', 'matplotlib', 'numpy') "
                            "if m in sys.modules)]))"],
                           capture_output=True, text=True, check=True, cwd=grading.ROOT,
                           env={**os.environ, "PYTHONHASHSEED": "7"})
    expected, labels, heavy = json.loads(other.stdout)
    release = grading.prepare("00")
    assert heavy == [] and expected == release.expected and labels == release.labels
    assert "utils.exercises.cases:function_checker.<locals>.checker" in expected and "utils.expect:expect" in expected
    assert {"ex.q1._checker", "ex.q2.check", "utils.exercises.require", "expect"} <= set(labels)


def test_the_guard_names_what_was_changed(monkeypatch):
    import utils.exercises
    from utils.exercises import ch00
    from utils.expect import expect

    release = grading.prepare("00")
    job = {"chapter": "00", "alias": "ex", "expected": release.expected, "labels": release.labels}
    namespace = {"ex": ch00, "expect": expect}
    assert tampered(job, namespace) == []  # the fingerprints read from source are the imported checkers'
    impostor = types.ModuleType("utils.exercises.ch00")
    impostor.__dict__.update(vars(ch00))
    assert tampered(job, {**namespace, "ex": impostor}) == ["ex is not utils.exercises.ch00"]
    monkeypatch.setattr(ch00.q1, "check", lambda answer: None, raising=False)
    monkeypatch.setattr(utils.exercises, "require", lambda *args, **kwargs: None)
    assert tampered(job, {**namespace, "exec": print, "expect": print}) == [
        "exec redefined", "ex.q1.check changed", "utils.exercises.require changed", "expect changed"]


def test_a_fresh_copy_of_the_checkers_ignores_patches_in_the_kernel(monkeypatch, capsys):
    from utils.exercises import ch00

    monkeypatch.setenv("COURSE_CHECKS", "report")
    monkeypatch.setattr(ch00.q3, "_checker", lambda answer: None)  # a checker that accepts anything
    wrong = lambda work, synchronize, clock, repeats: 0.25  # noqa: E731
    assert ch00.q3.check(wrong).passed  # the patch works in-process...
    fresh = load_fresh(grading.prepare("00").sources)
    assert fresh["utils.exercises.ch00"].q3.check(wrong).status == "incorrect"  # ...not on a fresh copy
    assert not any(name.startswith("course_grader_fresh") for name in sys.modules)


def test_a_verdict_is_published_only_by_a_check_the_guard_opened(monkeypatch, capsys):
    from utils.exercises import verdicts
    from utils.exercises.ch00 import q3

    monkeypatch.setenv("COURSE_CHECKS", "report")
    published = []
    monkeypatch.setattr(verdicts, "_publish", published.append)
    q3.check(right_stopwatch)
    assert published == []
    monkeypatch.setattr(verdicts, "_nonce", "n0nce")
    q3.check(right_stopwatch)
    assert [{k: v for k, v in record.items() if k != "message"} for record in published] == [
        {"kind": "verdict", "nonce": "n0nce", "chapter": "00", "question": "q3", "status": "correct"}]
    assert published[0]["message"].startswith("✓ q3 (a stopwatch for an asynchronous device): correct!")
    outputs = [{"output_type": "display_data", "data": {verdicts.MIME: published[0]}},
               {"output_type": "stream", "name": "stdout", "text": "✓ q3"},
               {"output_type": "display_data", "data": {"text/plain": "x"}}]
    assert verdicts.records(outputs) == published


def test_the_command_line_says_what_is_wrong_with_its_folder(tmp_path, capsys):
    assert grading.main([str(tmp_path)]) == 1
    assert f"no .ipynb files below {tmp_path}" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        grading.main([str(tmp_path / "missing")])
    assert "missing is not a folder" in capsys.readouterr().err
