"""Chapter 02 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import pytest
import torch

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch02 as ex
from utils.exercises import checks
from utils.perceptron import perceptron_update, predict


# q1: updates until one example is right ------------------------------------------------------

def counts_checks(x, w, t, lr):
    checks_ = 1
    while predict(x, w) != t:
        w = perceptron_update(w, x, t, lr)
        checks_ += 1
    return checks_


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


def assumes_target_plus_one(x, w, t, lr):
    updates = 0
    while x @ w < 0:
        w = w + lr * (1 - predict(x, w)) * x
        updates += 1
    return updates


def hard_coded(x, w, t, lr):
    return 2  # the worked example's answer, copied from the chapter


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


def only_visible_cases(x, w, t, lr):
    """Right on every case a failure message could print (answers looked up), a guess elsewhere."""
    for case in ex.q1._checker.cases:
        if not case.hidden and torch.equal(case.args[0], x) and torch.equal(case.args[1], w) and case.args[3] == lr:
            return ex._steps_to_fix(x, w, t, lr)
    return 0


# q2: features that make XOR separable --------------------------------------------------------

def with_constant_xor_column(X):
    return torch.cat([X, torch.tensor([[0.0], [1.0], [1.0], [0.0]])], dim=1)


# q3: the batch perceptron update -------------------------------------------------------------

def online(X, t, w, lr):
    for x, target in zip(X, t):
        w = perceptron_update(w, x, target, lr)
    return w


def in_place(X, t, w, lr):
    w += lr * (t - predict(X, w)) @ X
    return w


def copied_from_the_message(X, t, w, lr):
    return torch.tensor([-1.5, 1.5, -2.0])  # right for the printed case only


CATALOGUE = {
    "q1": [
        (counts_checks, "count the updates only"),
        (one_update_at_most, "a while loop, not an if"),
        (ignores_lr, "pass lr on to the update"),
        (uses_torch_sign, "torch.sign(0) is 0"),
        (updates_first, "Check y ≠ t before you update"),
        (assumes_target_plus_one, "instead of assuming the target is +1"),
        (hard_coded, "is the result hard-coded"),
        (mutates_w, "in place"),
        (only_visible_cases, "kept hidden"),
        (lambda x, w, t, lr: perceptron_update(w, x, t, lr), "Are those the weights?"),
        (lambda x, w, t, lr: "two", "as a number"),
    ],
    "q2": [
        (lambda X: X, "linear combination of 1, x₁ and x₂"),
        (lambda X: torch.cat([X, X.sum(dim=1, keepdim=True)], dim=1), "linear combination of 1, x₁ and x₂"),
        (lambda X: X[:, 0] * X[:, 1], "shape (4, k)"),
        (lambda X: torch.cat([X, X[:, :1] * X[:, 1:]], dim=1).long(), "return floating-point numbers"),
        (with_constant_xor_column, "another order"),
        (lambda X: torch.cat([X, X[:, :1] / X[:, 1:]], dim=1), "inf or NaN"),
        (lambda X: torch.cat([X, X ** 2], dim=1), "x₁² is x₁ again"),
        (lambda X: X[:, :1] * X[:, 1:], "Keep x₁ and x₂ as columns"),
        (lambda X: [[0, 0, 0]] * 4, "as a tensor"),
    ],
    "q3": [
        (online, "the online rule"),
        (lambda X, t, w, lr: w + lr * t @ X, "multiply by (t − y)"),
        (lambda X, t, w, lr: w + lr * (predict(X, w) - t) @ X, "the sign is flipped"),
        (lambda X, t, w, lr: w + (t - predict(X, w)) @ X, "multiply by lr"),
        (lambda X, t, w, lr: w + lr * ((t - predict(X, w)) @ X) / len(X), "a sum, not a mean"),
        (lambda X, t, w, lr: w + lr * (t - torch.sign(X @ w)) @ X, "torch.sign gives 0 there"),
        (lambda X, t, w, lr: w + lr * (t - predict(X, w))[:, None] * X, "Add them up over the examples"),
        (lambda X, t, w, lr: w.clone(), "came back unchanged"),
        (lambda X, t, w, lr: w - lr * 2 * (t - predict(X, w)) @ X, "gives a wrong result for"),
        (in_place, "in place"),
        (copied_from_the_message, "is the result hard-coded"),
    ],
}


def test_q1_stops_a_loop_that_never_ends(monkeypatch):
    monkeypatch.setattr(checks, "TIME_LIMIT", 1)
    status, text = verdict(ex.q1, never_ends)
    assert status == "incorrect" and "still running after 1 s" in text, text


@pytest.mark.parametrize("answer", [
    lambda X: torch.cat([X, (X[:, :1] - X[:, 1:]) ** 2], dim=1),
    lambda X: (X[:, :1] != X[:, 1:]).float(),               # XOR itself, computed from the row
])
def test_q2_accepts_other_nonlinear_features(answer):
    assert ex.q2.check(answer).passed


def test_q3_accepts_a_loop_over_the_examples_that_sums_the_changes():
    def summed(X, t, w, lr):
        change = torch.zeros_like(w)
        for x, target in zip(X, t):
            change = change + lr * (target - predict(x, w)) * x
        return w + change
    assert ex.q3.check(summed).passed
