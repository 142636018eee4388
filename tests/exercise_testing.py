"""Shared helpers for the exercise tests: read a checker's verdict without strict mode."""
import importlib
from pathlib import Path

import pytest

from utils.exercises import Question

MODULES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "utils" / "exercises").glob("ch[0-9][0-9].py"))


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


@pytest.fixture(autouse=True)
def report_only(monkeypatch):
    """The test command runs checks strictly (a failure raises); these tests read the verdicts."""
    monkeypatch.setenv("COURSE_CHECKS", "report")
