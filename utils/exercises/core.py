"""The smallest pieces of the exercise framework: verdict exceptions, the learner's language,
``require`` and tolerant comparison. Introduced in chapter 00; see ``utils.exercises``."""
from __future__ import annotations

import os

import torch

__all__ = ["ExerciseFailed", "NotAttempted", "Wrong", "close", "gap", "language", "require", "say"]


class ExerciseFailed(AssertionError):
    """Raised under the tests (or an autograder) when a check does not pass."""


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


def close(actual, expected, *, atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Whether two tensors (or numbers) agree within tolerance, without raising."""
    try:
        actual = torch.as_tensor(actual, dtype=torch.float64)
        expected = torch.as_tensor(expected, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    return actual.shape == expected.shape and torch.allclose(actual, expected, atol=atol, rtol=rtol)


def gap(actual, expected) -> float:
    """Largest absolute difference between two tensors, as karpathy's ``cmp()`` prints it."""
    actual = torch.as_tensor(actual, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    return (actual - expected).abs().max().item()
