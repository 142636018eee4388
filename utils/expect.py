"""Experiments that say what they should show.

Introduced in chapter 00. Every experiment in the course ends with ``expect()``: the learner
sees whether the run came out as it should, and under the tests a result outside its range
fails the notebook, so no number in the prose can silently drift.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass



class ExpectationFailed(AssertionError):
    """Raised under the tests when an experiment's result falls outside its stated range."""


@dataclass(frozen=True)
class Outcome:
    """What ``expect()`` found; true when the value fell in range. Shows nothing as a cell's last line."""

    what: str
    value: float
    between: tuple[float, float]
    ok: bool

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:  # the printed ✓/✗ line already said it
        pass


def _as_number(value) -> float:
    if hasattr(value, "item"):  # a 0-d tensor or NumPy scalar
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"expect() compares one number; got {type(value).__name__}: {value!r}")
    return float(value)


def _fmt(x: float) -> str:
    if not math.isfinite(x) or x != int(x) or abs(x) >= 1e6:
        return f"{x:.4g}"
    return f"{int(x)}"


def expect(value, *, between: tuple[float, float], what: str, hint: str | None = None,
           varies: bool = False) -> Outcome:
    """State the range a result should fall in, print the verdict, return whether it did (an Outcome).

    ``between`` is inclusive. ``hint`` says what to look at when the value falls outside.
    ``varies=True`` marks a result that legitimately differs between runs (a timing): the line
    says so, and the test that two runs print identical results leaves it out.
    Under the tests (COURSE_TESTING=1) a value outside the range raises ExpectationFailed.

    >>> expect(0.973, between=(0.96, 1.0), what="test accuracy")   # doctest: +SKIP
    ✓ test accuracy = 0.973 (expected 0.96–1)
    """
    low, high = between
    if low > high:
        raise ValueError(f"between=({low}, {high}): the lower bound is above the upper one")
    number = _as_number(value)
    ok = not math.isnan(number) and low <= number <= high
    expected = f"expected {_fmt(low)}–{_fmt(high)}" + (", a timing that varies from run to run" if varies else "")
    outcome = Outcome(what, number, (low, high), ok)
    if ok:
        print(f"✓ {what} = {_fmt(number)} ({expected})")
        return outcome
    message = f"✗ {what} = {_fmt(number)}, {expected}."
    if hint:
        message += f" Look at: {hint}"
    print(message)
    from utils.env import under_tests  # here, not at the top: `import utils` stays free of torch

    if under_tests():
        raise ExpectationFailed(message)
    return outcome
