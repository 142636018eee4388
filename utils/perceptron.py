"""Rosenblatt's perceptron: its prediction, its learning rule and its training loop.

Built in the open in chapter 02 (the perceptron), which checks that these functions agree with
the ones it writes by hand; the chapter's stepper widget (utils.widgets.perceptron_stepper) and
later chapters import them from here.

Conventions: targets and outputs are ±1; the bias is folded into the weights as w₀, the weight
of a constant input x₀ = 1 (``with_bias`` adds that column); a score of exactly 0 counts as +1.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterator

import torch

__all__ = ["Step", "perceptron_steps", "perceptron_update", "predict", "train_perceptron", "with_bias"]


def with_bias(X) -> torch.Tensor:
    """Prepend the constant input x₀ = 1, so that the bias becomes the weight w₀ (chapter 02).

    ``X`` is one example (d,) or a batch (n, d); the result is (d + 1,) or (n, d + 1).
    Integer inputs become float32; float inputs keep their dtype.
    """
    X = torch.as_tensor(X)
    if not X.is_floating_point():
        X = X.float()
    ones = torch.ones(*X.shape[:-1], 1, dtype=X.dtype, device=X.device)
    return torch.cat([ones, X], dim=-1)


def predict(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The perceptron's output, ±1: +1 where the score w·x ≥ 0, −1 elsewhere (chapter 02).

    ``X`` is one example (d,) or a batch (n, d), bias column included. Unlike ``torch.sign``,
    which returns 0 for a score of 0, a point exactly on the boundary is given +1.
    """
    score = X @ w
    return torch.where(score >= 0, 1, -1).to(score.dtype)


def perceptron_update(w: torch.Tensor, x: torch.Tensor, t, lr: float = 1.0) -> torch.Tensor:
    """Rosenblatt's rule for one example: w + η (t − y) x, as a new tensor (chapter 02).

    ``w`` is left unchanged. When the output y already equals the target t the change is 0;
    otherwise it is ±2ηx, which moves the score w·x towards the target's side.
    """
    y = predict(x, w)
    return w + lr * (t - y) * x


@dataclass(frozen=True)
class Step:
    """What one application of the rule did: the example used, y, t, Δw and the new weights."""

    number: int
    index: int
    x: torch.Tensor
    y: float
    t: float
    delta: torch.Tensor
    w: torch.Tensor


def perceptron_steps(X: torch.Tensor, t: torch.Tensor, w0, lr: float = 1.0) -> Iterator[Step]:
    """Apply the rule to the rows of ``X`` in order, cycling for ever, and yield each ``Step``.

    Built in chapter 02 for its stepper widget. ``X`` includes the bias column; a step on an
    example that is already right is still yielded, with Δw = 0.
    """
    w = torch.as_tensor(w0, dtype=X.dtype).clone()
    for number in itertools.count(1):
        index = (number - 1) % len(X)
        y = predict(X[index], w)
        new_w = perceptron_update(w, X[index], t[index], lr)
        yield Step(number, index, X[index], float(y), float(t[index]), new_w - w, new_w)
        w = new_w


def train_perceptron(X: torch.Tensor, t: torch.Tensor, *, lr: float = 1.0, max_epochs: int = 100,
                     w0: torch.Tensor | None = None) -> tuple[torch.Tensor, list[int]]:
    """Sweep through (X, t) in order, updating on every mistake, until an epoch makes none.

    Built in chapter 02. ``X`` includes the bias column; weights start at ``w0`` (zeros by
    default). Returns the final weights and the number of mistakes in each epoch: the list
    ends with 0 when the perceptron converged, and has ``max_epochs`` entries otherwise.
    """
    w = torch.zeros(X.shape[1], dtype=X.dtype) if w0 is None else torch.as_tensor(w0, dtype=X.dtype).clone()
    mistakes = []
    for _ in range(max_epochs):
        count = 0
        for x, target in zip(X, t):
            if predict(x, w) != target:
                w = perceptron_update(w, x, target, lr)
                count += 1
        mistakes.append(count)
        if count == 0:
            break
    return w, mistakes
