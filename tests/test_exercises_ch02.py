"""Chapter 02 checkers: a right answer passes, typical mistakes get their own message, a stub is not attempted."""
import pytest
import torch

from utils.exercises import ch02 as ex
from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.perceptron import perceptron_update, predict


def test_strict_mode_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv("COURSE_CHECKS", "strict")
    from utils.exercises import ExerciseFailed
    with pytest.raises(ExerciseFailed):
        ex.q1.check(lambda x, w, t, lr: 7)


# q1: updates until one example is right ------------------------------------------------------

def counts_predictions(x, w, t, lr):
    checks = 1
    while predict(x, w) != t:
        w = perceptron_update(w, x, t, lr)
        checks += 1
    return checks


def one_update_at_most(x, w, t, lr):
    return int(predict(x, w) != t)


def ignores_lr(x, w, t, lr):
    updates = 0
    while predict(x, w) != t:
        w = perceptron_update(w, x, t, 1.0)
        updates += 1
    return updates


def uses_torch_sign(x, w, t, lr):
    updates = 0
    while torch.sign(x @ w) != t:
        w = w + lr * (t - torch.sign(x @ w)) * x
        updates += 1
    return updates


def updates_first(x, w, t, lr):
    updates = 0
    while True:  # do-while: one update even when the example is already right
        w = w + lr * 2 * t * x
        updates += 1
        if predict(x, w) == t:
            return updates


def never_ends(x, w, t, lr):
    updates = 0
    while predict(x, w) != t:
        w = w - lr * (t - predict(x, w)) * x  # sign flipped: the score moves away from the target
        updates += 1
    return updates


def mutates_w(x, w, t, lr):
    updates = 0
    while predict(x, w) != t:
        w += lr * (t - predict(x, w)) * x
        updates += 1
    return updates


@pytest.mark.parametrize("answer, message", [
    (counts_predictions, "count the updates only"),
    (one_update_at_most, "a while loop, not an if"),
    (ignores_lr, "Pass lr on to the update"),
    (uses_torch_sign, "torch.sign(0) is 0"),
    (updates_first, "Check y ≠ t before you update"),
    (mutates_w, "in place"),
    (lambda x, w, t, lr: perceptron_update(w, x, t, lr), "Are those the weights?"),
    (lambda x, w, t, lr: "two", "as a whole number"),
])
def test_q1_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q1, answer)
    assert status == "incorrect" and message in text, text


def test_q1_stops_a_loop_that_never_ends(monkeypatch):
    monkeypatch.setattr(ex, "TIME_LIMIT", 1)
    status, text = verdict(ex.q1, never_ends)
    assert status == "incorrect" and "does your loop ever end?" in text, text


# q2: features that make XOR separable --------------------------------------------------------

@pytest.mark.parametrize("answer", [
    lambda X: torch.cat([X, (X[:, :1] - X[:, 1:]) ** 2], dim=1),
    lambda X: (X[:, :1] != X[:, 1:]).float(),               # XOR itself, computed from the row
])
def test_q2_accepts_other_nonlinear_features(answer):
    assert ex.q2.check(answer).passed


@pytest.mark.parametrize("answer, message", [
    (lambda X: X, "linear combination of 1, x₁ and x₂"),
    (lambda X: torch.cat([X, X.sum(dim=1, keepdim=True)], dim=1), "linear combination of 1, x₁ and x₂"),
    (lambda X: X[:, 0] * X[:, 1], "shape (4, k)"),
    (lambda X: torch.cat([X, X[:, :1] * X[:, 1:]], dim=1).long(), "return floats"),
    (lambda X: torch.cat([X, torch.tensor([[0.0], [1.0], [1.0], [0.0]])], dim=1), "another order"),
    (lambda X: torch.cat([X, X[:, :1] / X[:, 1:]], dim=1), "inf or NaN"),
    (lambda X: torch.cat([X, X ** 2], dim=1), "x₁² is x₁ again"),
    (lambda X: X[:, :1] * X[:, 1:], "Keep x₁ and x₂ as columns"),
])
def test_q2_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q2, answer)
    assert status == "incorrect" and message in text, text


# q3: the batch perceptron update -------------------------------------------------------------

def online(X, t, w, lr):
    for x, target in zip(X, t):
        w = perceptron_update(w, x, target, lr)
    return w


def in_place(X, t, w, lr):
    w += lr * (t - predict(X, w)) @ X
    return w


@pytest.mark.parametrize("answer, message", [
    (online, "the online rule"),
    (lambda X, t, w, lr: w + lr * t @ X, "multiply by (t − y)"),
    (lambda X, t, w, lr: w + lr * (predict(X, w) - t) @ X, "the sign is flipped"),
    (lambda X, t, w, lr: w + (t - predict(X, w)) @ X, "multiply by lr"),
    (lambda X, t, w, lr: w + lr * ((t - predict(X, w)) @ X) / len(X), "a sum, not a mean"),
    (lambda X, t, w, lr: w + lr * (t - torch.sign(X @ w)) @ X, "torch.sign gives 0 there"),
    (lambda X, t, w, lr: w + lr * (t - predict(X, w))[:, None] * X, "Add them up over the examples"),
    (lambda X, t, w, lr: w.clone(), "came back unchanged"),
    (lambda X, t, w, lr: w - lr * 2 * (t - predict(X, w)) @ X, "differ from the expected"),
    (in_place, "in place"),
])
def test_q3_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q3, answer)
    assert status == "incorrect" and message in text, text
