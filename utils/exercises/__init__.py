"""Exercises that answer back: ``check()``, ``hint()`` and ``solution()`` for every question.

Introduced in chapter 00; each chapter's questions live in ``utils/exercises/chNN.py`` and a
notebook loads them with ``from utils.exercises import ch01 as ex``. A learner's answer is a
function (or a value) written between nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION``
markers; ``ex.q1.check(answer)`` runs a chain of specific checks, cheapest first, and the first
one that fails speaks with a message that teaches. An untouched stub (``None``, or a function
that raises ``NotImplementedError``) is "not attempted yet", never a pass and never a traceback.

Under the tests (COURSE_TESTING=1) and under nbgrader's autograder a check that does not pass
raises ``ExerciseFailed`` (after printing its message), so the instructor notebooks prove every
answer right and nbgrader scores the check cell 0; COURSE_CHECKS=report or strict decides instead.
The course's own grader reads each verdict from its check cell's outputs (``verdicts.py``).

Messages follow the learner's language: COURSE_LANG=en (the default), zh (中文) or both.
Every ``require`` gives its message in English and, with ``zh=``, in Chinese.
"""
from __future__ import annotations

import inspect
import os
import textwrap
from dataclasses import dataclass
from typing import Callable

from utils.env import under_tests
from utils.exercises.cases import Case, Mistake, function_checker, same
from utils.exercises.checks import (Forbidden, as_number, as_tensor, call, compare_gradients, forbidden_use,
                                    forbidding, parts, time_limit)
from utils.exercises.core import ExerciseFailed, NotAttempted, Wrong, close, gap, language, require, say
from utils.exercises.verdicts import autograding, report

__all__ = ["Case", "ExerciseFailed", "Forbidden", "Mistake", "NotAttempted", "Question", "Result", "Wrong",
           "as_number", "as_tensor", "call", "close", "compare_gradients", "forbidden_use", "forbidding", "function_checker",
           "gap", "language", "parts", "require", "same", "say", "time_limit"]


@dataclass(frozen=True)
class Result:
    """What one ``check()`` found: ``status`` is "correct", "incorrect" or "not attempted"."""

    question: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:  # check() already printed the verdict
        pass


def _strict() -> bool:
    mode = os.environ.get("COURSE_CHECKS", "").strip().lower()
    if mode in ("strict", "report"):
        return mode == "strict"
    return under_tests() or autograding()


class Question:
    """One exercise: a chain of checks, a hint and a reference solution.

    ``checker(answer)`` raises ``Wrong`` (through ``require`` or ``call``) at the first problem
    and returns an optional success note; ``function_checker`` builds one from a table of cases.
    ``chapter`` is the two-digit chapter number ("02"), which the grader reads. ``reference`` is
    the solution that ``solution()`` shows: the source of a function, or a string of code.
    """

    def __init__(self, name: str, title: str, checker: Callable, *, chapter: str, hint: str,
                 reference: Callable | str, title_zh: str | None = None, hint_zh: str | None = None):
        self.name, self.title, self.title_zh, self.chapter = name, title, title_zh, chapter
        self._checker, self._hint, self._hint_zh, self._reference = checker, hint, hint_zh, reference

    def check(self, answer=None) -> Result:
        """Check ``answer`` and print the verdict: ✓ correct, ✗ what is wrong, or not attempted."""
        try:
            if answer is None:
                raise NotAttempted()
            note = self._checker(answer)
        except NotAttempted:
            result = Result(self.name, "not attempted", say(
                f"◌ {self.name} ({self.title}): not attempted yet. Write your answer between the markers, "
                f"run that cell, then this one. Stuck? Call ex.{self.name}.hint().",
                f"◌ {self.name}（{self._title_zh}）：尚未作答。在解答标记之间写下答案，先运行那个单元，"
                f"再运行本单元。卡住了？调用 ex.{self.name}.hint()。"))
        except Wrong as wrong:
            result = Result(self.name, "incorrect", say(
                f"✗ {self.name} ({self.title}) is not correct yet: {wrong.en}",
                f"✗ {self.name}（{self._title_zh}）还不正确：{wrong.zh or wrong.en}"))
        else:
            message = say(f"✓ {self.name} ({self.title}): correct!", f"✓ {self.name}（{self._title_zh}）：正确！")
            if note:  # in both languages the note, itself bilingual, goes on lines of its own
                message += ("\n    " if language() == "both" else " ") + note
            result = Result(self.name, "correct", message)
        print(result.message)
        report(self.chapter, result)  # to the grader, when it runs this check (verdicts.py)
        if _strict() and not result.passed:
            raise ExerciseFailed(result.message)
        return result

    @property
    def _title_zh(self) -> str:
        return self.title_zh or self.title

    def hint(self) -> None:
        """Print a hint that points the way without giving the answer."""
        print(say(f"Hint for {self.name} ({self.title}): {self._hint}",
                  f"{self.name}（{self._title_zh}）的提示：{self._hint_zh or self._hint}"))

    def solution(self) -> None:
        """Print the reference solution."""
        reference = self._reference
        code = reference if isinstance(reference, str) else inspect.getsource(reference)
        code = textwrap.dedent(code).replace("def _", "def ", 1)  # the learner's name for it
        print(f"Solution to {self.name} ({self.title}):\n\n{code.strip()}")

    def __repr__(self) -> str:
        return f"<exercise {self.name}: {self.title}>"
