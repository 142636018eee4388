"""Chapter 04 checkers: a right answer passes, typical mistakes get their own message, a stub is not attempted."""
import pytest
import torch
import torch.nn.functional as F

from utils.exercises import ch04 as ex
from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)


# q1: a stable softmax cross-entropy ----------------------------------------------------------

def rows(logits, targets):
    return torch.arange(len(targets)), targets


def naive(logits, targets):
    probabilities = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    return -probabilities[rows(logits, targets)].log().mean()


def batch_max(logits, targets):
    shifted = logits - logits.max()
    return -(shifted - shifted.exp().sum(dim=1, keepdim=True).log())[rows(logits, targets)].mean()


def log_of_softmax(logits, targets):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    probabilities = shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)
    return -probabilities[rows(logits, targets)].log().mean()


def clamped(logits, targets):
    return naive(logits.clamp(-50, 50), targets)


def per_example(logits, targets):
    return F.cross_entropy(logits, targets, reduction="none")


def test_q1_accepts_logsumexp():
    assert ex.q1.check(lambda z, t: (torch.logsumexp(z, 1) - z[torch.arange(len(t)), t]).mean()).passed


@pytest.mark.parametrize("answer, message", [
    (naive, "e^1000 overflows"),
    (batch_max, "Subtract each row's largest logit"),
    (log_of_softmax, "instead of log(softmax)"),
    (clamped, "finite but wrong for large logits"),
    (per_example, "one loss per example"),
    (lambda z, t: F.cross_entropy(z, t, reduction="sum"), "you summed over the batch"),
    (lambda z, t: -F.cross_entropy(z, t), "the sign is flipped"),
    (lambda z, t: F.cross_entropy(z, t).item(), "not a float"),
    (lambda z, t: F.cross_entropy(z.softmax(1), t), "differs from F.cross_entropy"),
    (lambda z, t: F.cross_entropy(z.detach(), t), "carries no gradient"),
])
def test_q1_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q1, answer)
    assert status == "incorrect" and message in text, text


# q2: one step of gradient descent with momentum ----------------------------------------------

@pytest.mark.parametrize("answer, message", [
    (lambda w, v, g, lr, mu: (w + lr * (mu * v + g), mu * v + g), "uphill"),
    (lambda w, v, g, lr, mu: (w - (mu * v + g), mu * v + g), "ignores the learning rate"),
    (lambda w, v, g, lr, mu: (w - (mu * v + lr * g), mu * v + lr * g), "already includes the learning rate"),
    (lambda w, v, g, lr, mu: (w - lr * (v + mu * g), v + mu * g), "with momentum 0 one step is w − η·g"),
    (lambda w, v, g, lr, mu: (w - lr * (v + (mu + (mu == 0)) * g), v + (mu + (mu == 0)) * g), "multiplies the OLD velocity"),
    (lambda w, v, g, lr, mu: (w - lr * v - lr * g * (mu == 0), mu * v + g), "stepped with the old velocity"),
    (lambda w, v, g, lr, mu: w - lr * (mu * v + g), "return two tensors"),
    (lambda w, v, g, lr, mu: (w - lr * (mu * v + g)).sum(), "return two tensors"),
])
def test_q2_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q2, answer)
    assert status == "incorrect" and message in text, text


def test_q2_rejects_an_in_place_update():
    def in_place(w, v, g, lr, mu):
        v.mul_(mu).add_(g)
        return w - lr * v, v
    status, text = verdict(ex.q2, in_place)
    assert status == "incorrect" and "in place" in text


# q3: a finite-difference gradient ------------------------------------------------------------

def forward_difference(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = h
        grad.view(-1)[i] = (f(x + step) - f(x)) / h
    return grad


def divides_by_h(f, x, h=1e-5):
    return 2 * ex._numerical_gradient(f, x, h)


def flattened(f, x, h=1e-5):
    return ex._numerical_gradient(f, x, h).reshape(-1)


def with_autograd(f, x, h=1e-5):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(f(x), x)[0]


def two_dimensional_only(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            step = torch.zeros_like(x)
            step[i, j] = h
            grad[i, j] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def no_default_h(f, x, h):
    return ex._numerical_gradient(f, x, h)


def nudges_in_place(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    flat = x.view(-1)
    for i in range(x.numel()):
        flat[i] += h
        plus = f(x)
        flat[i] -= 2 * h
        minus = f(x)
        flat[i] += h + 0.1  # forgets to restore exactly
        grad.view(-1)[i] = (plus - minus) / (2 * h)
    return grad


@pytest.mark.parametrize("answer, message", [
    (forward_difference, "one-sided difference"),
    (divides_by_h, "twice too large"),
    (lambda f, x, h=1e-5: -ex._numerical_gradient(f, x, h), "sign is flipped"),
    (flattened, "shape (6,)"),
    (lambda f, x, h=1e-5: ex._numerical_gradient(f, x, h).float(), "dtype torch.float32"),
    (with_autograd, "raised RuntimeError"),
    (two_dimensional_only, "handle any shape"),
    (no_default_h, "Give h a default"),
    (nudges_in_place, "in place"),
])
def test_q3_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q3, answer)
    assert status == "incorrect" and message in text, text


def test_q3_rejects_an_answer_that_does_not_call_f_enough():
    def autograd_behind_the_back(f, x, h=1e-5):  # right numbers without finite differences
        f(x)
        return ex._cubic_grad(x) if x.ndim == 2 else 3 * x ** 2
    status, text = verdict(ex.q3, autograd_behind_the_back)
    assert status == "incorrect" and "2 calls per entry" in text


# q4: the largest stable learning rate --------------------------------------------------------

@pytest.mark.parametrize("answer, message", [
    (lambda A: 2 / torch.linalg.eigvalsh(A).min().item(), "limit of the FLAT direction"),
    (lambda A: 1 / torch.linalg.eigvalsh(A).max().item(), "not the limit: divergence starts at 2/L"),
    (lambda A: 2 / A.diagonal().max().item(), "use the eigenvalues"),
    (lambda A: 2 / A.max().item(), "use the eigenvalues"),
    (lambda A: 2 / torch.linalg.eigvalsh(A).sum().item(), "got 0.1818"),
    (lambda A: 2 / torch.linalg.eigvalsh(A), "not a Tensor"),
    (lambda A: 2 / torch.linalg.eigvalsh(A)[1].item(), "right for a 2×2 bowl"),
])
def test_q4_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q4, answer)
    assert status == "incorrect" and message in text, text


def test_q4_accepts_a_tensor_with_one_number():
    assert ex.q4.check(lambda A: 2 / torch.linalg.eigvalsh(A).max()).passed
