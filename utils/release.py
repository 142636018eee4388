"""The student release: the course without its solutions, in one command.

    python -m utils.release [DEST] [--repo OWNER/NAME]      (make release)

Reads the instructor notebooks in chapters/ and writes a student copy of the course to DEST
(default release/, git-ignored): every region between nbgrader's ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``# YOUR CODE HERE`` + ``raise NotImplementedError()`` at the
marker's indentation, exactly as nbgrader's ClearSolutions writes it. Because every answer in the
course is the body of a function, the student notebook still runs top to bottom and each
``check()`` says "not attempted yet" until the function is written. Outputs are cleared, cells
tagged ``instructor-only`` are dropped, and utils/, the README and the install files are copied so
the folder works on its own. nbgrader's cell metadata stays: each answer cell is a solution cell
(``answer-qN``), each check cell a locked, autograded test cell worth one point (``check-qN``),
which JupyterLab will not let the learner edit or delete. ``--repo`` points the Colab badges and the setup cell at the
repository the student copy is published in. A notebook whose markers are unbalanced or nested
is refused with the cell it is in.
"""
from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

# Matched as nbgrader matches them: a line that contains the words is a marker line.
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
INSTRUCTOR_TAG = "instructor-only"
ROOT = Path(__file__).resolve().parents[1]
COPIED = ["README.md", "pyproject.toml", "constraints.txt", "Makefile", "environment.yml", "data/README.md"]


class MarkerError(ValueError):
    """Solution markers that cannot be released safely: unbalanced or nested."""


class ExerciseError(ValueError):
    """Answer and check cells that do not pair up: an answer with no check after it, a question checked twice."""


@dataclass(frozen=True)
class Exercise:
    """Where one question lives in a notebook: its answer cell (if any) and its check cell, by index."""

    question: str
    alias: str  # the name the chapter's exercise module has in the notebook: "ex"
    answer: int | None
    check: int


def parse_check(source: str) -> tuple[str, str] | None:
    """``(alias, question)`` of a check cell, whose whole source is ``ex.qN.check(...)``; else None."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return None
    call = body[0].value if len(body) == 1 and isinstance(body[0], ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "check"):
        return None
    owner = call.func.value
    if isinstance(owner, ast.Attribute) and re.fullmatch(r"q\d+", owner.attr) and isinstance(owner.value, ast.Name):
        return owner.value.id, owner.attr
    return None


def _is_answer(cell) -> bool:
    return cell.cell_type == "code" and (BEGIN in cell.source or cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def exercise_cells(cells: list) -> dict[str, Exercise]:
    """Each question's answer and check cell: a check cell pairs with the answer cell just before it.

    Answer cells are those with solution markers (an instructor notebook) or nbgrader's solution
    metadata (a release). An answer that no check cell follows, or a question checked twice, is an
    ExerciseError naming the cell.
    """
    found, pending = {}, None
    for index, cell in enumerate(cells):
        checked = parse_check(cell.source) if cell.cell_type == "code" else None
        if _is_answer(cell):
            if pending is not None:
                raise ExerciseError(f"cell {pending}: an answer cell with no `ex.qN.check(...)` cell after it "
                                    f"(the next answer is cell {index}); add its check cell")
            pending = index
        elif checked:
            alias, question = checked
            if question in found:
                raise ExerciseError(f"cell {index}: {question} is checked a second time (first in cell "
                                    f"{found[question].check}); each question has one check cell")
            found[question] = Exercise(question, alias, pending, index)
            pending = None
    if pending is not None:
        raise ExerciseError(f"cell {pending}: an answer cell with no `ex.qN.check(...)` cell after it; add its check cell")
    return found


def answer_metadata(question: str) -> dict:
    """nbgrader's metadata for the answer cell of ``question``: a solution cell."""
    return {"grade": False, "grade_id": f"answer-{question}", "locked": False, "schema_version": 3,
            "solution": True, "task": False}


def check_metadata(question: str) -> dict:
    """nbgrader's metadata for the check cell of ``question``: a locked, autograded test cell worth 1 point."""
    return {"grade": True, "grade_id": f"check-{question}", "locked": True, "points": 1, "schema_version": 3,
            "solution": False, "task": False}


def marker_problems(code_cells: list[str]) -> list[str]:
    """Where BEGIN/END SOLUTION markers are unbalanced or nested, one message per problem."""
    found = []
    for number, source in enumerate(code_cells, 1):
        depth = 0
        for line in source.splitlines():
            if BEGIN in line:
                if depth:
                    found.append(f"code cell {number}: nested ### {BEGIN}")
                depth += 1
            elif END in line:
                if not depth:
                    found.append(f"code cell {number}: ### {END} without a BEGIN")
                depth = max(0, depth - 1)
        if depth:
            found.append(f"code cell {number}: ### {BEGIN} without an END")
    return found


def strip_solutions(source: str) -> str:
    """Replace each solution region of one cell's source by the nbgrader stub."""
    problems = marker_problems([source])
    if problems:
        raise MarkerError("; ".join(problems))
    lines, inside = [], False
    for line in source.split("\n"):
        if BEGIN in line:
            indent = line[: len(line) - len(line.lstrip())]
            lines += [indent + STUB[0], indent + STUB[1]]
            inside = True
        elif END in line:
            inside = False
        elif not inside:
            lines.append(line)
    return "\n".join(lines)


def student_notebook(notebook, *, repo: str | None = None, course_repo: str | None = None):
    """The student version of one parsed notebook (a new object; the input is not changed)."""
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    problems = marker_problems(code)
    if problems:
        raise MarkerError("; ".join(problems))
    student = nbformat.v4.new_notebook(metadata=dict(notebook.metadata))
    for cell in notebook.cells:
        if INSTRUCTOR_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.source
        if repo and course_repo:
            source = source.replace(course_repo, repo)
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(strip_solutions(source))
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(source)
        else:
            new = nbformat.v4.new_raw_cell(source)
        new.metadata = {key: value for key, value in cell.get("metadata", {}).items() if key in ("tags", "nbgrader")}
        if new.metadata.get("nbgrader", {}).get("locked"):  # as nbgrader's own release locks them
            new.metadata.update(editable=False, deletable=False)
        if "id" in cell:
            new.id = cell.id
        student.cells.append(new)
    return student


def release(dest: Path, *, repo: str | None = None, source: Path = ROOT) -> list[Path]:
    """Write the student copy of the course to ``dest``; return the notebooks written.

    Every notebook is checked before anything is written, so a refusal leaves no half release.
    """
    from utils import REPO

    notebooks = sorted((source / "chapters").glob("[0-9][0-9]_*.ipynb"))
    released = {}
    for path in notebooks:
        try:
            released[path.name] = student_notebook(nbformat.read(path, as_version=4), repo=repo, course_repo=REPO)
        except MarkerError as error:
            raise MarkerError(f"{path}: {error}. Fix the markers (one BEGIN and one END per answer, "
                              f"not nested) and release again.") from None
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "chapters").mkdir(parents=True)
    for name, notebook in released.items():
        nbformat.write(notebook, dest / "chapters" / name)
    shutil.copytree(source / "utils", dest / "utils", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in COPIED:
        if (source / name).exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, dest / name)
    if repo:
        init = dest / "utils" / "__init__.py"
        init.write_text(init.read_text(encoding="utf-8").replace(REPO, repo), encoding="utf-8")
    return [dest / "chapters" / name for name in released]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.release", description="Write the student copy of the course.")
    parser.add_argument("dest", nargs="?", type=Path, default=ROOT / "release", help="output folder (default: release/)")
    parser.add_argument("--repo", help="OWNER/NAME of the repository the student copy is published in")
    args = parser.parse_args(argv)
    if args.repo and not re.fullmatch(r"[\w.-]+/[\w.-]+", args.repo):
        parser.error(f"--repo {args.repo!r}: expected OWNER/NAME, e.g. my-school/dl-course-2026")
    try:
        written = release(args.dest.resolve(), repo=args.repo)
    except MarkerError as error:
        print(f"Release refused: {error}", file=sys.stderr)
        return 1
    print(f"Wrote the student release of {len(written)} notebooks to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
