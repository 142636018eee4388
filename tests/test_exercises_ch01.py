"""Chapter 01 checkers: a right answer passes, typical mistakes get their own message, a stub is not attempted."""
import pytest
import torch

from utils.exercises import ch01 as ex
from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)


# q1: the threshold neuron -------------------------------------------------------------------

def test_q1_accepts_a_boolean_answer():
    assert ex.q1.check(lambda X, w, theta: X @ w >= theta).passed


@pytest.mark.parametrize("answer, message", [
    (lambda X, w, theta: (X @ w > theta).float(), "reaches the threshold (≥ θ)"),
    (lambda X, w, theta: (X @ w + theta >= 0).float(), "you added θ"),
    (lambda X, w, theta: torch.where(X @ w >= theta, 1.0, -1.0), "fires (1) or stays silent (0)"),
    (lambda X, w, theta: (X @ w.reshape(-1, 1) >= theta).float(), "expected shape (8,)"),
    (lambda X, w, theta: (X @ w < theta).float(), "every output is flipped"),
    (lambda X, w, theta: (X.sum(dim=1) >= 2).float(), "inhibitory"),
    (lambda X, w, theta: torch.sign(X @ w - theta) + 1, "outputs must be 0 or 1"),
])
def test_q1_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q1, answer)
    assert status == "incorrect" and message in text


def test_q1_rejects_an_in_place_change():
    def overwrites_input(X, w, theta):
        X[0, 0] = 5.0
        return (X @ w >= theta).float()
    status, text = verdict(ex.q1, overwrites_input)
    assert status == "incorrect" and "in place" in text


# q2: NAND ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, message", [
    (lambda: (torch.tensor([1.0, 1.0]), -1.5), "computes AND"),
    (lambda: (torch.tensor([-1.0, -1.0]), 1.0), "exactly on the line"),  # right only by the ≥ 0 convention
    (lambda: (torch.tensor([-1.0, -1.0]), 2.0), "The inputs [(1, 1)] lie exactly on the line"),
    (lambda: torch.tensor([-1.0, -1.0, 1.5]), "two things"),
    (lambda: (torch.tensor([-1.0, -1.0, 0.0]), 1.5), "needs 2 weights"),
])
def test_q2_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q2, answer)
    assert status == "incorrect" and message in text


def test_q2_accepts_plain_numbers():
    assert ex.q2.check(lambda: ([-2, -2], 3)).passed


# q3: majority of n ------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, message", [
    (lambda n: (torch.full((n,), 0.5), -0.6), "2 of 5 ones"),           # the 3-input neuron copied
    (lambda n: (torch.ones(n), -float(n // 2)), "exactly on the line"),  # b = −(n − 1)/2: ties
    (lambda n: (torch.ones(3), -1.5), "needs 5 weights"),               # fixed at 3 inputs
])
def test_q3_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q3, answer)
    assert status == "incorrect" and message in text


# q4: XOR from two layers ------------------------------------------------------------------------

def _neuron(X, w, b):
    return torch.where(X @ torch.tensor(w) + b >= 0, 1.0, -1.0)


def _xor_without_converting(X):
    hidden = torch.stack([_neuron(X, [1.0, -1.0], -0.5), _neuron(X, [-1.0, 1.0], -0.5)], dim=1)
    return _neuron(hidden, [1.0, 1.0], -0.5)  # OR weights chosen for 0/1, fed ±1: the classic slip


@pytest.mark.parametrize("answer, message", [
    (_xor_without_converting, "map h to (h + 1) / 2"),
    (lambda X: (X[:, 0] != X[:, 1]).float(), "outputs must be −1 or +1"),
    (lambda X: torch.tensor([-1.0, 1.0, 1.0, -1.0]), "do not return a fixed tensor"),
    (lambda X: _neuron(X, [1.0, 1.0], -0.5), "computes OR"),
])
def test_q4_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q4, answer)
    assert status == "incorrect" and message in text


def test_hints_and_solutions_print(capsys):
    for question in (ex.q1, ex.q2, ex.q3, ex.q4):
        question.hint()
        question.solution()
    printed = capsys.readouterr().out
    assert "def mp_neuron(" in printed and "def xor_two_layers(" in printed and "Hint for q4" in printed
