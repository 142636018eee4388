"""Chapter 03 checkers: a right answer passes, typical mistakes get their own message, a stub is not attempted."""
import numpy as np
import pytest
import torch

from utils.exercises import ch03 as ex
from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)


# q1: a numerically stable sigmoid ------------------------------------------------------------

def tanh_identity(z):
    return 0.5 * (1 + torch.tanh(z / 2))


def naive(z):
    return 1 / (1 + torch.exp(-z))


def naive_other_form(z):
    return torch.exp(z) / (1 + torch.exp(z))


def where_both_branches(z):
    return torch.where(z >= 0, 1 / (1 + torch.exp(-z)), torch.exp(z) / (1 + torch.exp(z)))


def abs_kink(z):
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


def mirrored(z):
    return _stable(-z)


def _stable(z):
    return ex._stable_sigmoid(z)


def calls_torch_sigmoid(z):
    return torch.sigmoid(z)


def through_numpy(z):
    return torch.from_numpy(1 / (1 + np.exp(-np.clip(z.detach().numpy(), -80, 80)))).float()


def test_q1_accepts_the_tanh_identity():
    assert ex.q1.check(tanh_identity).passed


@pytest.mark.parametrize("answer, message", [
    (naive, "Backward differentiates BOTH branches"),
    (where_both_branches, "Backward differentiates BOTH branches"),
    (naive_other_form, "inf/inf is NaN"),
    (abs_kink, "slope 0 at its kink"),
    (mirrored, "the curve is mirrored"),
    (calls_torch_sigmoid, "build it from torch.exp"),
    (through_numpy, "carries no gradient"),
    (lambda z: torch.exp(-z) / (1 + torch.exp(-z)), "the curve is mirrored"),
    (lambda z: 1 / (1 + torch.exp(-z)).double(), "dtype torch.float64"),
    (lambda z: 1 / (1 + torch.exp(-z.reshape(-1, 1))), "shape (33, 1)"),
])
def test_q1_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q1, answer)
    assert status == "incorrect" and message in text, text


def test_q1_rejects_an_in_place_change():
    def clamps_in_place(z):
        z.clamp_(-80, 80)
        return 1 / (1 + torch.exp(-z))
    status, text = verdict(ex.q1, clamps_in_place)
    assert status == "incorrect" and "in place" in text


# q2: the forward pass of a two-layer network -------------------------------------------------

@pytest.mark.parametrize("answer, message", [
    (lambda X, W1, b1, W2, b2: torch.relu(X @ W1 + b1) @ W2.T + b2, "first layer is not transposed"),
    (lambda X, W1, b1, W2, b2: (X @ W1.T + b1) @ W2.T + b2, "there is no ReLU between the layers"),
    (lambda X, W1, b1, W2, b2: torch.relu(torch.relu(X @ W1.T + b1) @ W2.T + b2), "applied to the output too"),
    (lambda X, W1, b1, W2, b2: torch.sigmoid(X @ W1.T + b1) @ W2.T + b2, "hidden layer uses a sigmoid"),
    (lambda X, W1, b1, W2, b2: torch.relu(X @ W1.T) @ W2.T + b2, "bias b1 is missing"),
    (lambda X, W1, b1, W2, b2: torch.relu(X @ W1.T + b1) @ W2.T, "bias b2 is missing"),
    (lambda X, W1, b1, W2, b2: (torch.relu(X @ W1.T + b1) @ W2.T + b2).T, "expected (5, 3)"),
    (lambda X, W1, b1, W2, b2: torch.relu(X @ W1.T + b1) @ W2.T + 2 * b2, "differ from ReLU"),
    (lambda X, W1, b1, W2, b2: torch.relu(X[:, :4] @ W1[:4, :4].T + b1[:4]) @ W2[:, :4].T + b2,
     "take every size from the tensors you are given"),
])
def test_q2_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q2, answer)
    assert status == "incorrect" and message in text, text


def test_q2_accepts_nn_functional():
    assert ex.q2.check(lambda X, W1, b1, W2, b2: torch.nn.functional.linear(
        torch.nn.functional.relu(torch.nn.functional.linear(X, W1, b1)), W2, b2)).passed


# q3: XOR from three neurons ------------------------------------------------------------------

def weights(W1, b1, W2, b2):
    return lambda: tuple(torch.tensor(v, dtype=torch.float32) for v in (W1, b1, W2, b2))


def test_q3_accepts_another_construction():
    # hidden: x₁ AND NOT x₂, NOT x₁ AND x₂; output: OR
    assert ex.q3.check(weights([[1, -1], [-1, 1]], [-0.5, -0.5], [[1, 1]], [-0.5])).passed


@pytest.mark.parametrize("answer, message", [
    (weights([[1, 1], [1, 1]], [-0.5, -0.5], [[1, 1]], [-0.5]), "computes OR"),
    (weights([[1, 1], [1, 1]], [-1.5, -1.5], [[1, 1]], [-0.5]), "[0, 0, 0, 1] (AND)"),
    (weights([[1, 1], [-1, -1]], [-0.5, 1.5], [[1, 1]], [-2.5]), "always 0"),
    (weights([[1, 1]], [-0.5], [[1]], [-0.5]), "W1 has shape (1, 2)"),
    (weights([[1, 1], [-1, -1]], [-0.5, 1.5], [[1], [1]], [-1.5]), "W2 has shape (2, 1)"),
    (lambda: (torch.eye(2), torch.zeros(2)), "return four tensors"),
])
def test_q3_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q3, answer)
    assert status == "incorrect" and message in text, text


# q4: counting an MLP's parameters ------------------------------------------------------------

@pytest.mark.parametrize("answer, message", [
    (lambda sizes: sum(a * b for a, b in zip(sizes, sizes[1:])), "counts only the weights"),
    (lambda sizes: sum(a * b + b for a, b in zip(sizes, sizes[1:])) + sizes[0], "input layer biases"),
    (lambda sizes: sum(a * b for a, b in zip(sizes, sizes[1:])) + sum(sizes[1:-1]), "output layer's biases"),
    (lambda sizes: float(sum(a * b + b for a, b in zip(sizes, sizes[1:]))), "not a float"),
    (lambda sizes: torch.tensor(sum(a * b + b for a, b in zip(sizes, sizes[1:]))), "not a Tensor"),
    (lambda sizes: sizes[0] * sizes[1] + sizes[1] + sizes[1] * sizes[2] + sizes[2], "right for [784, 128, 10]"),
    (lambda sizes: sum(a * b + a for a, b in zip(sizes, sizes[1:])), "nn.Linear layers of these sizes hold"),
])
def test_q4_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q4, answer)
    assert status == "incorrect" and message in text, text


def test_solution_prints_the_reference_under_the_learners_name(capsys):
    ex.q1.solution()
    assert "def stable_sigmoid(z):" in capsys.readouterr().out


def test_q2_explains_a_shape_error():
    status, text = verdict(ex.q2, lambda X, W1, b1, W2, b2: torch.relu(X @ W1.T + b1) @ W2 + b2)
    assert status == "incorrect" and "cannot be multiplied" in text and "stored [out, in]" in text


def test_q1_lets_a_comment_mention_torch_sigmoid():
    def commented(z):
        minus_abs = torch.where(z >= 0, -z, z)  # unlike torch.sigmoid(z), written out by hand
        e = torch.exp(minus_abs)
        return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))
    assert ex.q1.check(commented).passed
