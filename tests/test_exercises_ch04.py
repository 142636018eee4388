"""Chapter 04 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import math

import torch
import torch.nn.functional as F

from tests.exercise_testing import report_only  # noqa: F401  (an autouse fixture)
from utils.exercises import ch04 as ex


# q1: a stable softmax cross-entropy ----------------------------------------------------------

def rows(targets):
    return torch.arange(len(targets)), targets


def naive(logits, targets):
    probabilities = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    return -probabilities[rows(targets)].log().mean()


def batch_max(logits, targets):
    shifted = logits - logits.max()
    return -(shifted - shifted.exp().sum(dim=1, keepdim=True).log())[rows(targets)].mean()


def log_of_softmax(logits, targets):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    probabilities = shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)
    return -probabilities[rows(targets)].log().mean()


def stable_log_probabilities(logits, dim=1):
    shifted = logits - logits.max(dim=dim, keepdim=True).values
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def per_example(logits, targets):
    return -stable_log_probabilities(logits)[rows(targets)]


def summed(logits, targets):
    return -stable_log_probabilities(logits)[rows(targets)].sum()


def over_the_batch(logits, targets):
    return -stable_log_probabilities(logits, dim=0)[rows(targets)].mean()


def every_target_in_every_row(logits, targets):
    return -stable_log_probabilities(logits)[:, targets].mean()


def softmax_first(logits, targets):
    return -stable_log_probabilities(logits.softmax(dim=1))[rows(targets)].mean()


def detached(logits, targets):
    return -stable_log_probabilities(logits.detach())[rows(targets)].mean()


def as_a_float(logits, targets):
    return -stable_log_probabilities(logits)[rows(targets)].mean().item()


def only_the_example(logits, targets):  # the value of the first printed case, typed in
    return torch.tensor(2.1433)


def with_logsumexp(logits, targets):
    return (torch.logsumexp(logits, dim=1) - logits[rows(targets)]).mean()


CATALOGUE = {
    "q1": [
        (naive, "e^1000 overflows"),
        (batch_max, "Subtract each row's own maximum"),
        (log_of_softmax, "instead of log(softmax)"),
        (per_example, "one loss per example"),
        (summed, "you summed over the batch"),
        (lambda z, t: -summed(z, t) / len(t), "the sign is flipped"),
        (over_the_batch, "you normalised each column"),
        (every_target_in_every_row, "N × N matrix"),
        (lambda z, t: -stable_log_probabilities(z).mean(), "averaged the log-probabilities of all classes"),
        (softmax_first, "double softmax"),
        (detached, "carries no gradient"),
        (as_a_float, "as a tensor, not a float"),
        (only_the_example, "is the result hard-coded"),
        (lambda z, t: F.cross_entropy(z, t), "your answer uses `cross_entropy`"),
        (with_logsumexp, "your answer uses `logsumexp`"),
        (lambda z, t: -F.log_softmax(z, dim=1)[rows(t)].mean(), "your answer uses `log_softmax`"),
        (lambda z, t: -z.log_softmax(1)[rows(t)].mean(), "making it stable is what this exercise is about"),
    ],
}


def test_q1_accepts_an_answer_with_its_own_helper():
    def log_softmax_rows(z):
        shifted = z - z.amax(dim=1, keepdim=True)
        return shifted - torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))

    def answer(logits, targets):
        return -log_softmax_rows(logits).gather(1, targets[:, None]).mean()
    assert ex.q1.check(answer).passed


# q2: where label smoothing stops pushing -----------------------------------------------------

def right_gets_no_share(epsilon, k):
    return math.log((1 - epsilon) / (epsilon / k))


def over_the_wrong_classes(epsilon, k):
    return math.log((1 - epsilon) / (epsilon / (k - 1)))


def probability_ratio(epsilon, k):
    return (1 - epsilon + epsilon / k) / (epsilon / k)


def gap_as(log):
    return lambda epsilon, k: log(probability_ratio(epsilon, k))


CATALOGUE["q2"] = [
    (right_gets_no_share, "1 − ε + ε/K, not 1 − ε"),
    (over_the_wrong_classes, "K − 1 wrong classes only"),
    (probability_ratio, "the logits differ by its logarithm"),
    (gap_as(math.log10), "not log10"),
    (gap_as(math.log2), "not log2"),
    (lambda epsilon, k: 1 - epsilon + epsilon / k, "the right class's probability at the minimum"),
    (lambda epsilon, k: math.log(1 - epsilon + epsilon / k), "log-probability of the right class"),
    (lambda epsilon, k: -gap_as(math.log)(epsilon, k), "your gap is negative"),
    (lambda epsilon, k: gap_as(math.log)(epsilon, 10), "not the ten of the digits"),
    (lambda epsilon, k: 4.51, "is the result hard-coded"),
    (lambda epsilon, k: torch.full((k,), gap_as(math.log)(epsilon, k)), "as one number"),
    (lambda epsilon, k: gap_as(math.log)(epsilon, k) if epsilon in (0.1, 0.2, 0.5, 0.05, 0.9) else 0.0,
     "kept hidden"),
]


def test_q2_accepts_a_tensor_and_the_one_line_formula():
    assert ex.q2.check(lambda epsilon, k: torch.log(torch.tensor(1 + k * (1 - epsilon) / epsilon))).passed


# q3: a finite-difference gradient ------------------------------------------------------------

def central(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = h
        grad.view(-1)[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def forward_difference(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = h
        grad.view(-1)[i] = (f(x + step) - f(x)) / h
    return grad


def rows_at_once(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    for i in range(len(x)):
        step = torch.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def with_autograd(f, x, h=1e-5):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(f(x), x)[0]


def with_backward(f, x, h=1e-5):
    x = x.clone().requires_grad_(True)
    f(x).backward()
    return x.grad


def no_default_h(f, x, h):
    return central(f, x, h)


def nudges_in_place(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    flat = x.view(-1)
    for i in range(x.numel()):
        flat[i] += h
        plus = f(x)
        flat[i] -= 2 * h
        minus = f(x)
        flat[i] += h
        grad.view(-1)[i] = (plus - minus) / (2 * h)
    return grad


def float32_result(f, x, h=1e-5):
    grad = torch.zeros(x.shape)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = h
        grad.view(-1)[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


CATALOGUE["q3"] = [
    (forward_difference, "one-sided difference"),
    (lambda f, x, h=1e-5: central(f, x, h) * 2, "twice too large"),
    (lambda f, x, h=1e-5: -central(f, x, h), "the sign is flipped"),
    (lambda f, x, h=1e-5: central(f, x, h).flatten(), "in x's shape"),
    (float32_result, "the gradient is float32"),
    (rows_at_once, "you nudged a row at once"),
    (lambda f, x, h=1e-5: central(f, x, 1e-5), "use the h you are given"),
    (no_default_h, "Give h a default"),
    (lambda f, x, h=1.0: central(f, x, h), "give h a small default"),
    (nudges_in_place, "in place"),
    (with_autograd, "your answer uses `grad`"),
    (with_backward, "autograd is what a finite-difference gradient is meant to check"),
    (lambda f, x, h=1e-5: central(f, x.flip(0), h).flip(0), "gives a wrong result for"),
]


def test_q3_accepts_a_loop_over_clones():
    def clones(f, x, h=1e-5):
        grad = torch.empty_like(x)
        flat_grad, flat_x = grad.view(-1), x.reshape(-1)
        for i in range(flat_x.numel()):
            plus, minus = flat_x.clone(), flat_x.clone()
            plus[i] += h
            minus[i] -= h
            flat_grad[i] = (f(plus.view_as(x)) - f(minus.view_as(x))) / (2 * h)
        return grad
    assert ex.q3.check(clones).passed


# q4: a stable learning rate for linear regression with momentum ------------------------------

def largest_curvature(X, scale=2.0, mean=True):
    return torch.linalg.eigvalsh(scale * X.T @ X / (len(X) if mean else 1)).max().item()


CATALOGUE["q4"] = [
    (lambda X, mu: 2 / largest_curvature(X), "did not change with the momentum"),
    (lambda X, mu: 2 * (1 - mu) / largest_curvature(X), "not 2(1 − μ)/L"),
    (lambda X, mu: 2 / ((1 + mu) * largest_curvature(X)), "do not divide by it"),
    (lambda X, mu: 2 * (1 + mu) / largest_curvature(X, scale=1.0), "the factor 2 comes from differentiating"),
    (lambda X, mu: 2 * (1 + mu) / largest_curvature(X, mean=False), "divide by n = len(X)"),
    (lambda X, mu: 2 * (1 + mu) / torch.linalg.eigvalsh(2 * X.T @ X / len(X)).min().item(),
     "you used the smallest curvature"),
    (lambda X, mu: 2 * (1 + mu) / (2 * X.T @ X / len(X)).diagonal().max().item(), "use the eigenvalues"),
    (lambda X, mu: 2 * (1 + mu) / (2 * torch.linalg.svdvals(X).max().item() / len(X)), "square the largest one"),
    (lambda X, mu: 2 * (1 + mu) / torch.linalg.eigvalsh(2 * X.T @ X / len(X)).sum().item(),
     "you added up all the curvatures"),
    (lambda X, mu: 2 * (1 + mu) / torch.linalg.eigvalsh(2 * X.T @ X / len(X)), "as one number"),
    (lambda X, mu: 0.3, "is the result hard-coded"),
    (lambda X, mu: (1 + mu) / largest_curvature(X), "gives a wrong result for"),
]


def test_q4_accepts_the_hessian_from_autograd():
    def from_autograd(X, momentum):
        y = torch.zeros(len(X), dtype=X.dtype)
        hessian = torch.autograd.functional.hessian(lambda w: F.mse_loss(X @ w, y), torch.zeros(X.shape[1], dtype=X.dtype))
        return 2 * (1 + momentum) / torch.linalg.eigvalsh(hessian).max()
    assert ex.q4.check(from_autograd).passed


def test_q4_reference_is_the_measured_limit_of_momentum_sgd():
    """Just below the answer, SGD with momentum converges on the regression; just above, it diverges."""
    X, momentum = ex._features(9, 25, 3), 0.6
    limit = ex._largest_stable_lr(X, momentum)
    y = X @ torch.tensor([1.0, -2.0, 0.5], dtype=X.dtype)

    def distance_after(lr, steps=400):
        w = torch.nn.Parameter(torch.zeros(3, dtype=X.dtype))
        optimizer = torch.optim.SGD([w], lr=lr, momentum=momentum)
        for _ in range(steps):
            optimizer.zero_grad()
            F.mse_loss(X @ w, y).backward()
            optimizer.step()
        return (w.detach() - torch.tensor([1.0, -2.0, 0.5], dtype=X.dtype)).norm().item()
    assert distance_after(0.97 * limit) < 1e-3 < 1e3 < distance_after(1.03 * limit)
