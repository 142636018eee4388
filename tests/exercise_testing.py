"""Shared helpers for the exercise tests: read a checker's verdict without strict mode, and the
catalogue convention.

Every ``tests/test_exercises_chNN.py`` defines ``CATALOGUE``: for each question, the wrong answers a
learner really writes, each with a fragment of the message that must name that mistake::

    CATALOGUE = {"q1": [(counts_checks, "count the updates only"), ...], ...}

``tests/test_exercise_catalogues.py`` runs every entry: each must be judged incorrect, its message
must contain the fragment (in English, with Chinese beside it), and no message may contain the
expected answer of a visible case.
"""
import importlib
from pathlib import Path

import pytest
import torch

from utils.exercises import Question

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(p.stem for p in (ROOT / "utils" / "exercises").glob("ch[0-9][0-9].py"))


def all_questions() -> list[Question]:
    """Every question of every chapter, in order."""
    found = []
    for name in MODULES:
        module = importlib.import_module(f"utils.exercises.{name}")
        found += [value for value in vars(module).values() if isinstance(value, Question)]
    return found


def stub(*args, **kwargs):
    """What the student release leaves in every answer."""
    raise NotImplementedError()


def verdict(question: Question, answer) -> tuple[str, str]:
    result = question.check(answer)
    return result.status, result.message


def assert_rejected(question: Question, answer, message: str) -> None:
    """``answer`` must be judged incorrect, with ``message`` in what the learner reads."""
    status, text = verdict(question, answer)
    assert status == "incorrect" and message in text, text


def leaked_answers(question: Question) -> list[str]:
    """How the expected results of a question's visible cases would look if a message printed them."""
    expected = getattr(question._checker, "expected_results", None)
    shown = set()
    for value in (expected() if expected else []):
        for part in (value if isinstance(value, (tuple, list)) else [value]):
            numbers = part.flatten().tolist() if torch.is_tensor(part) else [part]
            numbers = [float(v) for v in numbers if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(numbers) >= 2:
                for digits in (2, 3, 4):
                    shown.add(str([round(v, digits) for v in numbers]))
            for v in numbers:
                if float(v).is_integer() and abs(v) >= 100:  # a count: 61706, 61,706 or 61 706
                    shown.update({f" {int(v)}", f" {int(v):,}", f" {int(v):,}".replace(",", " ")})
                if not float(v).is_integer():
                    shown.update({f"{v:.3f}", f"{v:.4f}", f"{v:.3g}" if len(f"{v:.3g}") >= 4 else "~"})
    shown.discard("~")
    return sorted(shown)


@pytest.fixture(autouse=True)
def report_only(monkeypatch):
    """The test command runs checks strictly (a failure raises); these tests read the verdicts."""
    monkeypatch.setenv("COURSE_CHECKS", "report")
