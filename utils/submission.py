"""A submission put back into the release: the student's answer cells, every other cell the release's.

Used by the grader (``python -m utils.grading``, docs/INSTRUCTORS.md), by no chapter. The grader never
runs a submission as it came: it runs the release's notebook for that chapter with the source of
each answer cell taken from the submission. So an edited or deleted check cell is restored, and a
cell the student added is not run (it is counted, for the instructor's review).

A submission's answer cell for question qN is found by nbgrader's ``grade_id`` (``answer-qN``), then
by the release cell's id, then by the name of the function or class the stub defines; a cell that
defines that name and is not the untouched stub wins, and of several the last. No answer cell at all
is "not attempted".
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

import nbformat

from utils.release import Exercise

DEFINES = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.M)


@dataclass
class Composed:
    """The notebook to run, and what putting it together found."""

    notebook: nbformat.NotebookNode
    answers: dict[str, str | None]  # question -> the student's answer source; None when no answer cell was found
    review: dict[str, list[str]] = field(default_factory=dict)  # question -> why its cells need a look
    cells_not_run: int = 0  # the student's code cells that are neither an answer nor one of the release's


def _grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def _same_cell(cell, release_cell) -> bool:
    same_grade_id = _grade_id(release_cell) and _grade_id(cell) == _grade_id(release_cell)
    same_id = release_cell.get("id") and cell.get("id") == release_cell.get("id")
    return bool(same_grade_id or same_id)


def _answer_cell(release_cell, cells: list):
    """The student's cell for one answer: written (not the stub) and tagged, then written, then tagged, then any."""
    names = set(DEFINES.findall(release_cell.source))
    tagged = [cell for cell in cells if _same_cell(cell, release_cell)]
    defining = [cell for cell in cells if names & set(DEFINES.findall(cell.source))]
    written = [cell for cell in defining if cell.source.strip() != release_cell.source.strip()]
    tagged_and_written = [cell for cell in tagged if any(cell is other for other in written)]
    for group in (tagged_and_written, written, tagged, defining):
        if group:
            return group[-1]
    return None


def _check_cell_state(question: str, release_cell, cells: list) -> list[str]:
    if any(cell.source.strip() == release_cell.source.strip() for cell in cells):
        return []
    kept = any(_same_cell(cell, release_cell) or f".{question}.check(" in cell.source for cell in cells)
    return ["check cell edited" if kept else "check cell deleted"]


def compose(release, exercises: dict[str, Exercise], submission) -> Composed:
    """The release's notebook with the submission's answers in it (a new object; neither input changes)."""
    notebook = copy.deepcopy(release)
    answer_cells = {exercise.answer for exercise in exercises.values()}
    others = {cell.source.strip() for index, cell in enumerate(release.cells)
              if cell.cell_type == "code" and index not in answer_cells}
    cells = [cell for cell in submission.cells if cell.cell_type == "code" and cell.source.strip()]
    candidates = [cell for cell in cells if cell.source.strip() not in others]
    composed, used = Composed(notebook, {}), []
    for question, exercise in exercises.items():
        composed.review[question] = _check_cell_state(question, release.cells[exercise.check], cells)
        if exercise.answer is None:
            continue
        chosen = _answer_cell(release.cells[exercise.answer], candidates)
        composed.answers[question] = chosen.source if chosen is not None else None
        if chosen is not None:
            notebook.cells[exercise.answer].source = chosen.source
            used.append(chosen)
    composed.cells_not_run = sum(1 for cell in candidates if not any(cell is chosen for chosen in used))
    return composed
