"""Chapter 02 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import math

import pytest
import torch

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch02 as ex
from utils.exercises import checks
from utils.perceptron import perceptron_update, predict


# q1: how many updates, worked out without running the rule ----------------------------------

def applies_the_rule(x, w, t, lr):  # right, but runs the rule update by update
    updates = 0
    while predict(x, w) != t:
        w = perceptron_update(w, x, t, lr)
        updates += 1
    return updates


def simulates_the_score(x, w, t, lr):  # right, but still one step at a time
    score, step, updates = (x @ w).item(), 2 * lr * (x @ x).item(), 0
    while (score >= 0) != (t > 0):
        score += step if t > 0 else -step
        updates += 1
    return updates


def ceil_for_both(x, w, t, lr):
    score, step = (x @ w).item(), 2 * lr * (x @ x).item()
    return 0 if predict(x, w) == t else math.ceil(abs(score) / step)


def floor_plus_one_for_both(x, w, t, lr):
    score, step = (x @ w).item(), 2 * lr * (x @ x).item()
    return 0 if predict(x, w) == t else math.floor(abs(score) / step) + 1


def rounds(x, w, t, lr):
    score, step = (x @ w).item(), 2 * lr * (x @ x).item()
    return 0 if predict(x, w) == t else round(abs(score) / step)


def no_factor_two(x, w, t, lr):
    score, step = (x @ w).item(), lr * (x @ x).item()
    if t > 0:
        return 0 if score >= 0 else math.ceil(-score / step)
    return 0 if score < 0 else math.floor(score / step) + 1


def length_not_squared(x, w, t, lr):
    score, step = (x @ w).item(), 2 * lr * x.norm().item()
    if t > 0:
        return 0 if score >= 0 else math.ceil(-score / step)
    return 0 if score < 0 else math.floor(score / step) + 1


def ignores_lr(x, w, t, lr):
    score, step = (x @ w).item(), 2 * (x @ x).item()
    if t > 0:
        return 0 if score >= 0 else math.ceil(-score / step)
    return 0 if score < 0 else math.floor(score / step) + 1


def assumes_target_plus_one(x, w, t, lr):
    score, step = (x @ w).item(), 2 * lr * (x @ x).item()
    return 0 if score >= 0 else math.ceil(-score / step)


def forgets_the_right_case(x, w, t, lr):  # no check of y first: a right example gets a negative count
    score, step = (x @ w).item(), 2 * lr * (x @ x).item()
    return math.ceil(-score / step) if t > 0 else math.floor(score / step) + 1


def in_float32(x, w, t, lr):
    score, step = (x.float() @ w.float()).item(), 2 * lr * (x.float() @ x.float()).item()
    if t > 0:
        return 0 if score >= 0 else torch.ceil(torch.tensor(-score / step)).item()
    return 0 if score < 0 else torch.floor(torch.tensor(score / step)).item() + 1


def not_rounded(x, w, t, lr):
    score, step = (x @ w).item(), 2 * lr * (x @ x).item()
    return 0 if predict(x, w) == t else abs(score) / step


def hard_coded(x, w, t, lr):
    return 2  # the worked example's answer, copied from the chapter


def only_visible_cases(x, w, t, lr):
    """Right on every case a failure message could print (answers looked up), a guess elsewhere."""
    for case in ex.q1._checker.cases:
        if not case.hidden and torch.equal(case.args[0], x) and torch.equal(case.args[1], w) and case.args[3] == lr:
            return ex._updates_needed(x, w, t, lr)
    return 3


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
        (ceil_for_both, "a score that falls to exactly 0 is not yet right"),
        (floor_plus_one_for_both, "a score that climbs to exactly 0 is already right"),
        (rounds, "round up, never to nearest"),
        (no_factor_two, "not η‖x‖²"),
        (length_not_squared, "not the length ‖x‖"),
        (ignores_lr, "so η belongs in the step"),
        (assumes_target_plus_one, "it treats every target as +1"),
        (forgets_the_right_case, "a negative number of updates"),
        (applies_the_rule, "about 10¹² updates it was still running"),
        (simulates_the_score, "about 10¹² updates it was still running"),
        (in_float32, "Keep the input's dtype"),
        (not_rounded, "as a whole number"),
        (hard_coded, "is the result hard-coded"),
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
    def never_ends(x, w, t, lr):
        updates = 0
        while predict(x, w) != t:
            w = w - lr * (t - predict(x, w)) * x  # sign flipped: the score moves away from the target
            updates += 1
        return updates
    monkeypatch.setattr(checks, "TIME_LIMIT", 1)
    status, text = verdict(ex.q1, never_ends)
    assert status == "incorrect" and "still running after 1 s" in text, text


def with_tensors(x, w, t, lr):
    score, step = x @ w, 2 * lr * (x @ x)
    if t > 0:
        return 0 if score >= 0 else int(torch.ceil(-score / step))
    return 0 if score < 0 else int(torch.floor(score / step)) + 1


def with_floor_division(x, w, t, lr):
    score, step = float(x @ w), 2 * lr * float(x @ x)
    if predict(x, w) == t:
        return 0
    return int(-(score // step)) if t > 0 else int(score // step) + 1


@pytest.mark.parametrize("answer", [with_tensors, with_floor_division])
def test_q1_accepts_other_ways_of_rounding(answer):
    assert ex.q1.check(answer).passed


def test_q1_cases_are_ties_only_where_a_note_says_so():
    """A seeded case whose count is nearly whole would pass or fail on float32 rounding: none is."""
    for case in ex.q1._checker.cases:
        x, w, t, lr = case.args
        if "exactly 0" in case.note or case.note in ("already right", "already right, target −1"):
            continue
        distance = (-t * (x.double() @ w.double())).item() / (2 * lr * (x.double() @ x.double()).item())
        assert 0.05 < distance % 1 < 0.95, (case.note, distance)


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
