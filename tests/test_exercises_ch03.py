"""Chapter 03 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch03 as ex


# q1: a numerically stable sigmoid ------------------------------------------------------------

def naive(z):
    return 1 / (1 + torch.exp(-z))


def where_both_branches(z):
    return torch.where(z >= 0, 1 / (1 + torch.exp(-z)), torch.exp(z) / (1 + torch.exp(z)))


def one_minus(z):  # right values everywhere, but e^1000 = inf inside the gradient
    return 1 - 1 / (1 + torch.exp(z))


def abs_kink(z):
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


def mirrored(z):
    e = torch.exp(torch.where(z >= 0, -z, z))
    return torch.where(z >= 0, e / (1 + e), 1 / (1 + e))


def other_form(z):
    return torch.exp(z) / (1 + torch.exp(z))


def through_numpy(z):
    return torch.from_numpy(1 / (1 + np.exp(-np.clip(z.detach().numpy(), -80, 80)))).float()


def detached_exponential(z):
    e = torch.exp(torch.where(z >= 0, -z, z)).detach()
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


def one_branch_detached(z):
    e = torch.exp(torch.where(z >= 0, -z, z))
    return torch.where(z >= 0, 1 / (1 + e), (e / (1 + e)).detach())


def helper_with_sigmoid(z):
    return squash(z)


def squash(z):
    return torch.sigmoid(z)


def in_float64(z):
    return ex._stable_sigmoid(z.double())


def flattened(z):
    return ex._stable_sigmoid(z).reshape(-1)


def clamps_in_place(z):
    z.clamp_(-80, 80)
    return 1 / (1 + torch.exp(-z))


def slope_instead(z):
    s = ex._stable_sigmoid(z)
    return s * (1 - s)


def sign_slip(z):
    return 1 / (1 - torch.exp(-z))


sigmoid_alias = torch.sigmoid


def tanh_identity(z):
    return 0.5 * (1 + torch.tanh(z / 2))


def clamped(z):
    return 1 / (1 + torch.exp(-z.clamp(-80, 80)))


# q2: the forward pass of a network of any depth ----------------------------------------------

def relu_after_every_layer(X, weights, biases):
    for W, b in zip(weights, biases):
        X = torch.relu(X @ W.T + b)
    return X


def no_relu(X, weights, biases):
    for W, b in zip(weights, biases):
        X = X @ W.T + b
    return X


def stops_a_layer_early(X, weights, biases):
    for i in range(len(weights) - 1):
        X = torch.relu(X @ weights[i].T + biases[i])
    return X


def two_layers_only(X, weights, biases):
    return torch.relu(X @ weights[0].T + biases[0]) @ weights[1].T + biases[1]


def two_layers_unless_one(X, weights, biases):
    if len(weights) == 1:
        return X @ weights[0].T + biases[0]
    return torch.relu(X @ weights[0].T + biases[0]) @ weights[1].T + biases[1]


def not_transposed(X, weights, biases):
    for W, b in zip(weights[:-1], biases[:-1]):
        X = torch.relu(X @ W + b)
    return X @ weights[-1] + biases[-1]


def no_biases(X, weights, biases):
    for W in weights[:-1]:
        X = torch.relu(X @ W.T)
    return X @ weights[-1].T


def sigmoid_hidden(X, weights, biases):
    for W, b in zip(weights[:-1], biases[:-1]):
        X = torch.sigmoid(X @ W.T + b)
    return X @ weights[-1].T + biases[-1]


def relu_first_only(X, weights, biases):
    X = X @ weights[0].T + biases[0]
    if len(weights) > 1:
        X = torch.relu(X)
    for W, b in zip(weights[1:], biases[1:]):
        X = X @ W.T + b
    return X


def relu_on_the_input(X, weights, biases):
    X = torch.relu(X)
    for W, b in zip(weights[:-1], biases[:-1]):
        X = torch.relu(X @ W.T + b)
    return X @ weights[-1].T + biases[-1]


def detached(X, weights, biases):
    return ex._mlp_forward(X.detach(), weights, biases)


def through_numpy_forward(X, weights, biases):
    A = X.numpy()
    for W, b in zip(weights[:-1], biases[:-1]):
        A = np.maximum(A @ W.numpy().T + b.numpy(), 0)
    return torch.from_numpy(A @ weights[-1].numpy().T + biases[-1].numpy())


def transposed_output(X, weights, biases):
    return ex._mlp_forward(X, weights, biases).T


def not_transposed_last(X, weights, biases):  # a shape error on the non-square cases
    for W, b in zip(weights[:-1], biases[:-1]):
        X = torch.relu(X @ W.T + b)
    return X @ weights[-1] + biases[-1]


def hard_coded_forward(X, weights, biases):
    return torch.zeros(5, 3)


# q3: max(x₁, x₂) from ReLU units ---------------------------------------------------------------

def weights(W1, b1, W2, b2):
    return lambda: tuple(torch.tensor(v, dtype=torch.float32) for v in (W1, b1, W2, b2))


RIGHT = ([[1, 0], [-1, 0], [-1, 1]], [0, 0, 0], [[1, -1, 1]], [0])


# q4: counting an MLP's parameters ------------------------------------------------------------

def three_sizes_only(sizes):
    return sizes[0] * sizes[1] + sizes[1] + sizes[1] * sizes[2] + sizes[2]


def counts_with_torch(sizes):
    layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])]
    return torch.tensor(sum(p.numel() for layer in layers for p in layer.parameters()))


def mutates_sizes(sizes):
    total = 0
    while len(sizes) > 1:
        n_in = sizes.pop(0)
        total += n_in * sizes[0] + sizes[0]
    return total


CATALOGUE = {
    "q1": [
        (naive, "NaN where |z| = 1000"),
        (where_both_branches, "Backward differentiates BOTH branches"),
        (one_minus, "NaN where |z| = 1000"),
        (other_form, "inf/inf is NaN"),
        (abs_kink, "slope 0 at its kink"),
        (mirrored, "the curve is mirrored"),
        (sign_slip, "not 1 − e^(−z)"),
        (slope_instead, "not the sigmoid σ(z) itself"),
        (lambda z: torch.sigmoid(z), "your answer uses `sigmoid`, which computes the sigmoid for you"),
        (lambda z: z.sigmoid(), "your answer uses `sigmoid`"),
        (lambda z: torch.special.expit(z), "your answer uses `expit`"),
        (lambda z: F.logsigmoid(z).exp(), "your answer uses `logsigmoid`"),
        (lambda z: nn.Sigmoid()(z), "your answer uses `Sigmoid`"),
        (helper_with_sigmoid, "inside your helper"),
        (lambda z: sigmoid_alias(z), "another name for torch.sigmoid"),
        (lambda z: getattr(torch, "sigmoid")(z), '"sigmoid"'),
        (through_numpy, "carries no gradient"),
        (detached_exponential, "carries no gradient"),
        (one_branch_detached, "differs from autograd's gradient"),
        (in_float64, "keep the input's dtype"),
        (flattened, "the output has the input's shape"),
        (clamps_in_place, "in place"),
    ],
    "q2": [
        (relu_after_every_layer, "after the last layer too"),
        (no_relu, "there is no ReLU between the layers"),
        (stops_a_layer_early, "the last layer is missing"),
        (two_layers_only, "by position"),
        (two_layers_unless_one, "only the first two layers are used"),
        (not_transposed, "cannot be multiplied"),
        (not_transposed_last, "stored [out, in], one row per neuron, so a batch X [N, in]"),
        (no_biases, "the biases are missing"),
        (sigmoid_hidden, "the hidden layers use a sigmoid"),
        (relu_first_only, "a ReLU follows the first layer only"),
        (relu_on_the_input, "applied to the input X"),
        (detached, "carries no gradient"),
        (through_numpy_forward, "NumPy cuts the computation off from autograd"),
        (transposed_output, "gives a wrong result for"),
        (hard_coded_forward, "is the result hard-coded"),
        (lambda X, weights, biases: ex._mlp_forward(X, weights, biases).long(), "floating-point numbers"),
    ],
    "q3": [
        (weights([[1, 0], [-1, 1]], [0, 0], [[1, 1]], [0]), "wrong where one is negative"),
        (weights([[1, 0], [-1, 0], [1, -1]], [0, 0, 0], [[1, -1, -1]], [0]), "computes min(x₁, x₂)"),
        (weights([[1, 0], [-1, 0], [0, 1], [0, -1], [1, -1], [-1, 1]], [0] * 6, [[1, -1, 1, -1, 1, 1]], [0]),
         "twice too tall"),
        (weights([[1, -1], [-1, 1]], [0, 0], [[1, 1]], [0]), "|x₁ − x₂|"),
        (weights(*RIGHT[:3], [1]), "plus a constant"),
        (weights([[1, 0], [-1, 1]], [1e4, 0], [[1, 1]], [-1e4]), "wrong for very large ones"),
        (weights([[1, -1, -1], [0, 0, 1]], [0, 0, 0], [[1, -1, 1]], [0]), "that is [in, out]"),
        (weights(*RIGHT[:2], [[1], [-1], [1]], [0]), "W2 has shape (3, 1)"),
        (weights([[1, 0], [-1, 0]], [0, 0], [[1, -1]], [0]), "bends along the line x₁ = x₂"),
        (weights([[1, 0], [0, 1]], [0, 0], [[1, 1]], [0]), "does not compute max(x₁, x₂)"),
        (lambda: weights(*RIGHT)()[:3], "should return 4 things"),
        (lambda: tuple(RIGHT), "should return 4 tensors"),
        (lambda: tuple(torch.tensor(v) for v in RIGHT), "return floating-point numbers"),
    ],
    "q4": [
        (lambda sizes: sum(a * b for a, b in zip(sizes, sizes[1:])), "counted only the weights"),
        (lambda sizes: sum(a * b + b for a, b in zip(sizes, sizes[1:])) + sizes[0], "input layer biases too"),
        (lambda sizes: sum(a * b for a, b in zip(sizes, sizes[1:])) + sum(sizes[1:-1]), "output layer's biases"),
        (lambda sizes: sum(a * b + a for a, b in zip(sizes, sizes[1:])), "one bias per input"),
        (lambda sizes: sum(sizes[i] * sizes[i + 1] + sizes[i + 1] for i in range(len(sizes) - 2)),
         "the last layer is missing"),
        (lambda sizes: sum(a * b + b for a, b in zip(sizes, sizes[2:])), "two places on"),
        (three_sizes_only, "by position"),
        (lambda sizes: float(sum(a * b + b for a, b in zip(sizes, sizes[1:]))), "returned a float"),
        (counts_with_torch, "returned a Tensor"),
        (lambda sizes: 9, "is the result hard-coded"),
    ],
}


def test_q1_accepts_other_stable_forms():
    assert ex.q1.check(tanh_identity).passed
    assert ex.q1.check(clamped).passed


def test_q1_lets_a_comment_mention_torch_sigmoid():
    def commented(z):
        minus_abs = torch.where(z >= 0, -z, z)  # unlike torch.sigmoid(z), written out by hand
        e = torch.exp(minus_abs)
        return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))
    assert ex.q1.check(commented).passed


def test_q2_accepts_nn_functional_and_a_sequential():
    def functional(X, weights, biases):
        for W, b in zip(weights[:-1], biases[:-1]):
            X = F.relu(F.linear(X, W, b))
        return F.linear(X, weights[-1], biases[-1])

    def sequential(X, weights, biases):
        layers = []
        for W, b in zip(weights, biases):
            layer = nn.Linear(W.shape[1], W.shape[0])
            layer.weight, layer.bias = nn.Parameter(W), nn.Parameter(b)
            layers += [layer, nn.ReLU()]
        return nn.Sequential(*layers[:-1])(X)
    assert ex.q2.check(functional).passed
    assert ex.q2.check(sequential).passed


@pytest.mark.parametrize("construction", [
    RIGHT,
    ([[1, -1], [0, 1], [0, -1]], [0, 0, 0], [[1, 1, -1]], [0]),                           # x₂ + ReLU(x₁ − x₂)
    ([[1, 0], [-1, 0], [0, 1], [0, -1], [1, -1], [-1, 1]], [0] * 6, [[.5, -.5, .5, -.5, .5, .5]], [0]),
    ([[1, -1], [-1, 1], [1, 1], [-1, -1]], [0] * 4, [[.5, .5, .5, -.5]], [0]),            # (|x₁ − x₂| + x₁ + x₂)/2
])
def test_q3_accepts_other_constructions(construction):
    assert ex.q3.check(weights(*construction)).passed


def test_q4_keeps_the_cases_lists_as_they_were():
    assert verdict(ex.q4, mutates_sizes)[0] == "correct"
    assert ex.q4.check(ex._count_parameters).passed


def test_solution_prints_the_reference_under_the_learners_name(capsys):
    ex.q1.solution()
    assert "def stable_sigmoid(z):" in capsys.readouterr().out
