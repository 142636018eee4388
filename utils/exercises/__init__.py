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
import re
import sys
import textwrap
from dataclasses import dataclass
from typing import Callable

import torch

from utils.env import under_tests
from utils.exercises.verdicts import autograding, report

__all__ = ["ExerciseFailed", "NotAttempted", "Question", "Result", "call", "close", "gap", "language", "require", "say"]


class ExerciseFailed(AssertionError):
    """Raised under the tests when a check does not pass."""


class NotAttempted(Exception):
    """The learner has not written an answer yet."""


class Wrong(Exception):
    """A specific check failed; the message says what is wrong and how to fix it."""

    def __init__(self, message: str, zh: str | None = None):
        super().__init__(message)
        self.en, self.zh = message, zh

    def text(self) -> str:
        return say(self.en, self.zh)


def language() -> str:
    """The learner's language for messages: $COURSE_LANG, one of en, zh, both (default en)."""
    chosen = os.environ.get("COURSE_LANG", "en").strip().lower()
    return chosen if chosen in ("en", "zh", "both") else "en"


def say(en: str, zh: str | None) -> str:
    """A message in the learner's language; English where no Chinese is given."""
    chosen = language()
    if chosen == "zh" and zh:
        return zh
    if chosen == "both" and zh:
        return f"{en}\n    {zh}"
    return en


def require(condition, message: str, zh: str | None = None) -> None:
    """One link in a checker's chain: if ``condition`` is false, fail with ``message`` (``zh`` in Chinese)."""
    if not condition:
        raise Wrong(message, zh)


def _snapshot(value):
    return value.detach().clone() if torch.is_tensor(value) else None


def call(fn: Callable, *args, name: str = "your function", **kwargs):
    """Call the learner's ``fn`` the way a checker should.

    A stub that raises NotImplementedError becomes "not attempted"; any other exception becomes
    a message naming it; an input tensor changed in place is an error of its own, because the
    caller's data must not change under them; ``None`` returned means a missing ``return``.
    """
    if fn is None:
        raise NotAttempted()
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__}: pass the function itself, "
                    f"without calling it (write f, not f())",
                    f"需要一个函数，却得到了 {type(fn).__name__}：请传入函数本身，不要调用它（写 f，而不是 f()）")
    before = [_snapshot(a) for a in args]
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted() from None
    except Exception as error:  # the learner's code failed: say how, without a deep traceback
        raise Wrong(f"{name} raised {type(error).__name__}: {error}",
                    f"{name} 抛出了 {type(error).__name__}：{error}") from None
    for position, (arg, old) in enumerate(zip(args, before)):
        if old is not None and (arg.shape != old.shape or not torch.equal(arg.detach(), old)):
            raise Wrong(f"{name} changed its input (argument {position + 1}) in place. The right "
                        f"values are not enough: the caller's tensor must stay as it was. Work on a "
                        f"copy (x.clone()) or use out-of-place operations (x = x + 1, not x += 1).",
                        f"{name} 原地修改了它的输入（第 {position + 1} 个参数）。只有正确的值还不够：调用者的"
                        f"张量必须保持原样。请在副本上操作（x.clone()），或使用非原地运算（x = x + 1，而不是 x += 1）。")
    if result is None:
        raise Wrong(f"{name} returned None: did you forget the `return` line?",
                    f"{name} 返回了 None：是不是忘了写 `return` 这一行？")
    return result


def close(actual, expected, *, atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Whether two tensors (or numbers) agree within tolerance, without raising."""
    actual = torch.as_tensor(actual, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    return actual.shape == expected.shape and torch.allclose(actual, expected, atol=atol, rtol=rtol)


def gap(actual, expected) -> float:
    """Largest absolute difference between two tensors, as karpathy's ``cmp()`` prints it."""
    actual = torch.as_tensor(actual, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    return (actual - expected).abs().max().item()


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
    and returns an optional success note. ``reference`` is the solution that ``solution()``
    shows: the source of a function, or a string of code.
    """

    def __init__(self, name: str, title: str, checker: Callable, *, hint: str,
                 reference: Callable | str, title_zh: str | None = None, hint_zh: str | None = None):
        self.name, self.title, self.title_zh = name, title, title_zh
        self._checker, self._hint, self._hint_zh, self._reference = checker, hint, hint_zh, reference
        module = sys._getframe(1).f_globals.get("__name__", "")
        match = re.search(r"ch(\d{2})$", module)
        self.chapter = match.group(1) if match else ""

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
