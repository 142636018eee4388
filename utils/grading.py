"""Grade a folder of completed student notebooks.

    python -m utils.grading SUBMISSIONS [--out grades.csv] [--timeout 300]      (make grade DIR=...)

Each notebook (any ``*.ipynb`` below SUBMISSIONS whose name holds a chapter number, e.g.
``alice/01_mp_neuron.ipynb``) runs in a fresh kernel in the quick profile, with a time limit for
the whole notebook. Every ``check()`` it reaches writes its verdict to a log; questions it never
reaches (because a cell crashed, the time ran out, or the check cell was deleted) are graded as
not passed, with the reason. Writes one CSV row per student file and question (student file,
chapter, question, passed, message) and a second CSV with each file's per-chapter score.
"""
from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

CHAPTER = re.compile(r"(?<!\d)(\d{2})_")


@dataclass
class Grade:
    student_file: str
    chapter: str
    question: str
    passed: bool
    message: str


def questions_of(chapter: str) -> list[str]:
    """The question names a chapter's exercise module defines, in order (q1, q2, ...).

    Read from the module's source (``q1 = Question("q1", ...)``), not imported, so that grading
    imports no torch in this process; the notebooks' kernels do that.
    """
    path = Path(__file__).parent / "exercises" / f"ch{chapter}.py"
    if not path.exists():
        return []
    found = [node.value.args[0].value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
             and getattr(node.value.func, "id", None) == "Question" and node.value.args
             and isinstance(node.value.args[0], ast.Constant)]
    return sorted(found, key=lambda name: int(re.sub(r"\D", "", name) or 0))


def execute(path: Path, log: Path, timeout: float) -> str:
    """Run one notebook; return "" when it ran to the end, else why it stopped."""
    notebook = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + timeout
    client = NotebookClient(notebook, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                            timeout_func=lambda cell: max(1, int(deadline - time.monotonic())))
    saved = {key: os.environ.get(key) for key in ("COURSE_PROFILE", "COURSE_CHECKS", "COURSE_GRADING_LOG", "COURSE_TESTING")}
    os.environ.update(COURSE_PROFILE="quick", COURSE_CHECKS="report", COURSE_GRADING_LOG=str(log))
    os.environ.pop("COURSE_TESTING", None)
    try:
        client.execute()
        return ""
    except CellTimeoutError:
        return f"the notebook ran past its time limit of {timeout:.0f} s"
    except DeadKernelError:
        return "the kernel died (out of memory, or the notebook ended the process)"
    except CellExecutionError as error:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # tracebacks carry terminal colours
        lines = [line for line in plain.strip().splitlines() if line.strip()]
        return f"a cell raised an error: {lines[-1][:200] if lines else 'unknown error'}"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def grade_notebook(path: Path, *, timeout: float = 300, name: str | None = None) -> list[Grade]:
    """Grade one student notebook: one Grade per question of its chapter."""
    name = name or path.name
    match = CHAPTER.search(path.name)
    if not match:
        return [Grade(name, "", "", False, "no chapter number in the file name (expected e.g. 01_mp_neuron.ipynb)")]
    chapter = match.group(1)
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "checks.jsonl"
        stopped = execute(path, log, timeout)
        verdicts = {}
        if log.exists():
            for line in log.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                if record["chapter"] == chapter:
                    verdicts[record["question"]] = record
    grades = []
    for question in questions_of(chapter) or sorted(verdicts):
        record = verdicts.get(question)
        if record:
            grades.append(Grade(name, chapter, question, record["status"] == "correct", record["message"]))
        else:
            reason = stopped or "its check() cell did not run (was it deleted?)"
            grades.append(Grade(name, chapter, question, False, f"not checked: {reason}"))
    return grades


def grade_folder(folder: Path, out: Path, *, timeout: float = 300) -> list[Grade]:
    """Grade every notebook below ``folder``; write ``out`` and ``<out stem>_scores.csv``."""
    notebooks = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        raise FileNotFoundError(f"no .ipynb files below {folder}: point at the folder of student submissions")
    grades = []
    for path in notebooks:
        grades += grade_notebook(path, timeout=timeout, name=str(path.relative_to(folder)))
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_file", "chapter", "question", "passed", "message"])
        writer.writerows([g.student_file, g.chapter, g.question, g.passed, g.message] for g in grades)
    scores = out.with_name(out.stem + "_scores.csv")
    with open(scores, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_file", "chapter", "passed", "questions", "score"])
        for student_file in dict.fromkeys(g.student_file for g in grades):
            own = [g for g in grades if g.student_file == student_file]
            passed = sum(g.passed for g in own)
            writer.writerow([student_file, own[0].chapter, passed, len(own), f"{passed / max(1, len(own)):.2f}"])
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
        print(f"{student_file:50s} {sum(g.passed for g in own)}/{len(own)}")
    print(f"Wrote {args.out} and {args.out.with_name(args.out.stem + '_scores.csv')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
