"""Grade a folder of completed student notebooks.

    python -m utils.grading SUBMISSIONS [--out grades.csv] [--timeout 300]      (make grade DIR=...)

Instructor tool (docs/INSTRUCTORS.md, "Grade"), used by no chapter. For each notebook below
SUBMISSIONS whose name holds a chapter number (e.g. ``alice/01_mp_neuron.ipynb``):

1. compose the notebook to run: the release's notebook for that chapter, made in memory from
   chapters/, with each answer cell's source taken from the submission (utils/submission.py).
   Check cells and all other cells are the release's; cells the student added are not run;
2. run it in a fresh kernel, quick profile, in a scratch folder with its own copy of utils/, with
   a time limit for the whole notebook, going on past cells that raise;
3. read each question's verdict from the outputs of the cell that checks it. Each check cell runs
   through a guard (utils/exercises/verdicts.py) that loads the checkers afresh from the source
   this process read, and reports what in the kernel was changed; a verdict counts only in its
   own check cell and only with that cell's one-off nonce;
4. flag for the instructor's review what cannot be prevented in-process: what the guard found
   changed, edited or deleted check cells, and what the answer cells do (utils/answer_scan.py).

Writes one CSV row per student file and question (student file, chapter, question, passed,
message, review) and a second CSV with each file's score, its cells not run and its review flags.
"""
from __future__ import annotations

import argparse
import ast
import csv
import importlib.util
import os
import re
import secrets
import shutil
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from utils.answer_scan import copied_from_solution, scan
from utils.release import Exercise, exercise_cells, student_notebook
from utils.submission import compose

CHAPTER = re.compile(r"(?<!\d)(\d{2})_")
ROOT = Path(__file__).resolve().parents[1]
#: Loaded afresh for every check, in this order (each imports only those before it), then the chapter's module.
FRESH = ("utils.exercises.core", "utils.exercises.checks", "utils.exercises.cases", "utils.exercises.verdicts",
         "utils.exercises")
#: Read for fingerprints only: what the check cells rely on besides the checkers.
FINGERPRINTED = ("utils.expect",)


def _path(module: str) -> Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _verdicts_module():
    """utils/exercises/verdicts.py, loaded by its path: importing it as utils.exercises.verdicts would run the
    package's __init__, and with it torch, which grading needs only in the notebooks' kernels."""
    spec = importlib.util.spec_from_file_location("course_grader_verdicts", _path("utils.exercises.verdicts"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


channel = _verdicts_module()


@dataclass
class Grade:
    student_file: str
    chapter: str
    question: str
    passed: bool
    message: str
    review: str = ""  # why the instructor should look, in short phrases; empty when nothing stands out
    cells_not_run: int = 0  # of the whole student file: code cells neither an answer nor the release's


@dataclass
class Release:
    """What grading one chapter needs, prepared once, in this process, before any student code runs."""

    chapter: str
    notebook: nbformat.NotebookNode
    exercises: dict[str, Exercise]
    sources: dict[str, str]  # module name -> source text, for the guard's fresh copies
    expected: dict[str, list[str]]  # "module:qualified name" -> fingerprints of the pristine functions
    labels: list[str]  # what the guard looks up in the kernel and compares
    solutions: dict[str, str]  # question -> what ex.qN.solution() prints


def _questions(tree: ast.Module) -> dict[str, ast.Call]:
    """``q1 = Question("q1", ...)`` assignments of a chapter's exercise module: name → the call."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "id", None) == "Question" and node.value.args \
                and isinstance(node.value.args[0], ast.Constant):
            found[node.value.args[0].value] = node.value
    return found


def _by_number(names) -> list[str]:
    return sorted(names, key=lambda name: int(re.sub(r"\D", "", name) or 0))


def questions_of(chapter: str) -> list[str]:
    """The question names a chapter's exercise module defines, in order (q1, q2, ...).

    Read from the module's source, not imported, so that grading imports no torch in this process;
    the notebooks' kernels do that.
    """
    path = _path(f"utils.exercises.ch{chapter}")
    return _by_number(_questions(ast.parse(path.read_text(encoding="utf-8")))) if path.exists() else []


def _functions(tree: ast.Module) -> list[str]:
    """Top-level functions; a decorated one (a context manager) is a wrapper whose code lives elsewhere."""
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and not node.decorator_list]


def machinery_labels(alias: str, chapter_source: str, sources: dict[str, str]) -> list[str]:
    """What a check relies on, as labels ``resolve()`` understands: every question's check and checker,
    every function of the chapter's module, the checking helpers and ``expect``."""
    tree = ast.parse(chapter_source)
    labels = [f"{alias}.{name}.{part}" for name in _by_number(_questions(tree)) for part in ("check", "_checker")]
    labels += [f"{alias}.{name}" for name in _functions(tree)]
    package = ast.parse(sources["utils.exercises"])
    exported = next((ast.literal_eval(node.value) for node in package.body if isinstance(node, ast.Assign)
                     and any(getattr(t, "id", None) == "__all__" for t in node.targets)), [])
    defined = {name for module in FRESH for name in _functions(ast.parse(sources[module]))}
    imported = [alias_.asname or alias_.name for node in tree.body if isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("utils.exercises") for alias_ in node.names]
    labels += [f"{alias}.{name}" for name in imported if name in defined]  # the helpers the chapter's checkers call
    return labels + [f"utils.exercises.{name}" for name in exported if name in defined] + [
        "utils.exercises.Question.check", "expect", "utils.expect.expect"]


def _solutions(chapter_source: str) -> dict[str, str]:
    """What ``ex.qN.solution()`` prints for each question, read from the chapter module's source."""
    tree = ast.parse(chapter_source)
    definitions = {node.name: ast.get_source_segment(chapter_source, node) for node in tree.body
                   if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    strings = {target.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
               and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
               for target in node.targets if isinstance(target, ast.Name)}
    found = {}
    for question, call in _questions(tree).items():
        reference = next((k.value for k in call.keywords if k.arg == "reference"), None)
        name = getattr(reference, "id", None)
        if name in definitions:  # a function: shown under the learner's name for it, as solution() does
            found[question] = textwrap.dedent(definitions[name]).replace("def _", "def ", 1)
        elif name in strings:
            found[question] = textwrap.dedent(strings[name])
    return found


def prepare(chapter: str) -> Release | None:
    """The release of chapter ``chapter`` and the grader's pristine copy of its checkers; None without exercises.

    Everything here is read from files (the notebooks, the checkers' source text), before any student
    code runs and without importing the checkers: this process never imports torch.
    """
    paths = sorted((ROOT / "chapters").glob(f"{chapter}_*.ipynb"))
    if not paths:
        return None
    notebook = student_notebook(nbformat.read(paths[0], as_version=4))
    exercises = exercise_cells(notebook.cells)
    if not exercises:
        return None
    alias = next((exercise.alias for exercise in exercises.values()), "ex")
    chapter_module = f"utils.exercises.ch{chapter}"
    sources = {name: _path(name).read_text(encoding="utf-8") for name in (*FRESH, chapter_module)}
    expected = channel.source_fingerprints({**sources, **{name: _path(name).read_text(encoding="utf-8")
                                                           for name in FINGERPRINTED}})
    labels = machinery_labels(alias, sources[chapter_module], sources)
    return Release(chapter, notebook, exercises, sources, expected, labels, _solutions(sources[chapter_module]))


def guard_cell(release: Release, exercise: Exercise, check_source: str) -> tuple[str, str]:
    """The source of a check cell as the grader runs it, and its nonce."""
    job = {"nonce": secrets.token_hex(16), "chapter": release.chapter, "question": exercise.question,
           "alias": exercise.alias, "check": check_source, "sources": release.sources,
           "expected": release.expected, "labels": release.labels}
    guard = release.sources["utils.exercises.verdicts"]
    source = ("# The course's grader runs this check with the checkers loaded afresh (utils/exercises/verdicts.py)\n"
              f"exec(compile({guard!r}, '<course grader>', 'exec'), "
              f"{{'__name__': 'course_grader', 'JOB': {job!r}, 'USER_NS': globals()}})")
    return source, job["nonce"]


def kernel_environment() -> dict[str, str]:
    """The kernel's environment: quick profile, checks that report instead of raising, no test or nbgrader mode."""
    env = {key: value for key, value in os.environ.items()
           if key != "COURSE_TESTING" and not key.startswith("NBGRADER_")}
    env.update(COURSE_PROFILE="quick", COURSE_CHECKS="report")
    return env


def execute(notebook, timeout: float) -> str:
    """Run ``notebook`` in place (outputs land in it); return "" when it ran to the end, else why it stopped."""
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="course-grading-") as scratch:
        shutil.copytree(ROOT / "utils", Path(scratch) / "utils", ignore=shutil.ignore_patterns("__pycache__"))
        (Path(scratch) / "chapters").mkdir()
        client = NotebookClient(notebook, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(Path(scratch) / "chapters")}},
                                timeout_func=lambda cell: max(1, int(deadline - time.monotonic())))
        try:
            client.execute(env=kernel_environment())
            return ""
        except CellTimeoutError:
            return f"the notebook ran past its time limit of {timeout:.0f} s"
        except DeadKernelError:
            return "the kernel died (out of memory, or the notebook ended the process)"


def _error(cell) -> str:
    errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    return f"{errors[-1]['ename']}: {errors[-1]['evalue'][:200]}" if errors else ""


def _verdict(question: str, cell, answer_cell, nonce: str, stopped: str) -> tuple[bool, str, list[str]]:
    """Passed, message and review flags from the outputs of one check cell (and its answer cell)."""
    found = channel.records(cell.get("outputs", []))
    own = [record for record in found if record.get("nonce") == nonce]
    verdicts = [record for record in own if record.get("kind") == "verdict" and record.get("question") == question]
    integrity = [record for record in own if record.get("kind") == "integrity"]
    review = [f"in the kernel: {change}" for record in integrity for change in record.get("changed", [])]
    if len(own) != len(verdicts) + len(integrity) or len(found) != len(own):
        review.append("forged verdict records in its check cell")
    if answer_cell is not None and channel.records(answer_cell.get("outputs", [])):
        review.append("its answer cell printed verdict records")
    if len(verdicts) == 1:
        return verdicts[0]["status"] == "correct", verdicts[0]["message"], review
    if verdicts:
        return False, f"not graded: its check cell reported {len(verdicts)} verdicts", review + ["several verdicts"]
    if cell.get("execution_count") is None:
        return False, f"not checked: {stopped or 'the notebook stopped before this check'}", review
    if not integrity:
        review.append("the grader's guard did not run")
    error, answer_error = _error(cell), _error(answer_cell) if answer_cell is not None else ""
    if not error:
        return False, "not checked: its check gave no verdict", review
    hint = " (is the answer defined under the name the exercise gives?)" if error.startswith("NameError") else ""
    before = f"its answer cell raised {answer_error}; " if answer_error else ""
    return False, f"not passed: {before}its check raised {error}{hint}", review


def grade_notebook(path: Path, *, timeout: float = 300, name: str | None = None,
                   releases: dict[str, Release | None] | None = None) -> list[Grade]:
    """Grade one student notebook: one Grade per question of its chapter."""
    name = name or path.name
    match = CHAPTER.search(path.name)
    if not match:
        return [Grade(name, "", "", False, "no chapter number in the file name (expected e.g. 01_mp_neuron.ipynb)")]
    chapter = match.group(1)
    releases = {} if releases is None else releases
    if chapter not in releases:
        releases[chapter] = prepare(chapter)
    release = releases[chapter]
    if release is None:
        return [Grade(name, chapter, "", False, f"chapter {chapter} has no exercises in this course (chapters/{chapter}_*.ipynb)")]
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as error:  # a student's file: any way it fails to parse is graded, not a crash
        reason = f"not checked: {path.name} is not a readable notebook ({type(error).__name__}: {str(error)[:120]})"
        return [Grade(name, chapter, question, False, reason) for question in release.exercises]
    composed = compose(release.notebook, release.exercises, submission)
    nonces = {}
    for question, exercise in release.exercises.items():
        check_source = release.notebook.cells[exercise.check].source
        composed.notebook.cells[exercise.check].source, nonces[question] = guard_cell(release, exercise, check_source)
    stopped = execute(composed.notebook, timeout)
    grades = []
    for question, exercise in release.exercises.items():
        answer_cell = composed.notebook.cells[exercise.answer] if exercise.answer is not None else None
        passed, message, runtime_flags = _verdict(question, composed.notebook.cells[exercise.check], answer_cell,
                                                  nonces[question], stopped)
        review = composed.review[question]
        answer = composed.answers.get(question, "")
        if answer is None:
            passed, message = False, f"not attempted: the submission has no answer cell for {question} (deleted or renamed?)"
        elif answer:
            review = review + scan(answer, alias=exercise.alias)
            if copied_from_solution(answer, release.solutions.get(question, "")):
                review.append(f"same as {exercise.alias}.{question}.solution()")
        grades.append(Grade(name, chapter, question, passed, message, "; ".join(dict.fromkeys(review + runtime_flags)),
                            composed.cells_not_run))
    return grades


def grade_folder(folder: Path, out: Path, *, timeout: float = 300) -> list[Grade]:
    """Grade every notebook below ``folder``; write ``out`` and ``<out stem>_scores.csv``."""
    notebooks = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        raise FileNotFoundError(f"no .ipynb files below {folder}: point at the folder of student submissions")
    grades, releases = [], {}
    for path in notebooks:
        grades += grade_notebook(path, timeout=timeout, name=str(path.relative_to(folder)), releases=releases)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_file", "chapter", "question", "passed", "message", "review"])
        writer.writerows([g.student_file, g.chapter, g.question, g.passed, g.message, g.review] for g in grades)
    scores = out.with_name(out.stem + "_scores.csv")
    with open(scores, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_file", "chapter", "passed", "questions", "score", "cells_not_run", "review"])
        for student_file in dict.fromkeys(g.student_file for g in grades):
            own = [g for g in grades if g.student_file == student_file]
            passed = sum(g.passed for g in own)
            review = "; ".join(f"{g.question}: {g.review}" for g in own if g.review)
            writer.writerow([student_file, own[0].chapter, passed, len(own), f"{passed / max(1, len(own)):.2f}",
                             own[0].cells_not_run, review])
    return grades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.grading", description="Grade completed student notebooks.")
    parser.add_argument("submissions", type=Path, help="folder with the students' .ipynb files (searched recursively)")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV to write (default grades.csv)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per notebook (default 300)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    try:
        grades = grade_folder(args.submissions, args.out, timeout=args.timeout)
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    for student_file in dict.fromkeys(g.student_file for g in grades):
        own = [g for g in grades if g.student_file == student_file]
        flagged = sum(1 for g in own if g.review)
        note = f"   {flagged} flagged for review" if flagged else ""
        print(f"{student_file:50s} {sum(g.passed for g in own)}/{len(own)}{note}")
    print(f"Wrote {args.out} and {args.out.with_name(args.out.stem + '_scores.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
