"""Chapter 07 checkers: a right answer passes, typical mistakes get their own message, a stub is not attempted."""
import pytest
import torch

from utils.exercises import ch07 as ex
from tests.exercise_testing import assert_rejected, report_only, stub  # noqa: F401  (report_only is an autouse fixture)


# q1: batch norm in train mode ------------------------------------------------------------------

def _norm(x, mean, var, gamma, beta, eps=1e-5):
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


@pytest.mark.parametrize("answer, message", [
    (lambda x, g, b, eps=1e-5: _norm(x, x.mean(0), x.var(0), g, b, eps), "unbiased variance"),
    (lambda x, g, b, eps=1e-5: _norm(x, x.mean(0), x.var(0, unbiased=False), g, b, 0.0), "eps inside the square root"),
    (lambda x, g, b, eps=1e-5: g * (x - x.mean(0)) / (x.std(0, unbiased=False) + eps) + b, "outside the square root"),
    (lambda x, g, b, eps=1e-5: _norm(x, x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True), g, b, eps),
     "dim=1"),
    (lambda x, g, b, eps=1e-5: _norm(x, x.mean(0), x.var(0, unbiased=False), 1.0, 0.0, eps), "γ and β are missing"),
    (lambda x, g, b, eps=1e-5: _norm(x, x.mean(0), x.var(0, unbiased=False), g, b, eps)[:, :2], "keeps the shape"),
    (lambda x, g, b, eps=1e-5: _norm(x, x.mean(0), x.var(0, unbiased=False), b, g, eps), "differ from batch norm"),
])
def test_q1_rejects_typical_mistakes(answer, message):
    assert_rejected(ex.q1, answer, message)


def test_q1_rejects_normalising_the_input_in_place():
    def in_place(x, g, b, eps=1e-5):
        x -= x.mean(0)
        return g * x / torch.sqrt(x.var(0, unbiased=False) + eps) + b
    assert_rejected(ex.q1, in_place, "in place")


def test_q1_success_names_torch_agreement():
    assert "functional.batch_norm" in ex.q1.check(ex.q1._reference).message


# q2: batch norm in eval mode -------------------------------------------------------------------

@pytest.mark.parametrize("answer, message", [
    (lambda x, g, b, m, v, eps=1e-5: _norm(x, x.mean(0), x.var(0, unbiased=False), g, b, eps), "batch's own mean"),
    (lambda x, g, b, m, v, eps=1e-5: _norm(x, x.mean(0), x.var(0), g, b, eps), "batch's own mean"),
    (lambda x, g, b, m, v, eps=1e-5: g * (x - m) / (v + eps) + b, "divided by the variance"),
    (lambda x, g, b, m, v, eps=1e-5: _norm(x, m, v, g, b, 0.0), "eps is missing"),
    (lambda x, g, b, m, v, eps=1e-5: _norm(x, m, v, 1.0, 0.0, eps), "γ and β are missing"),
    (lambda x, g, b, m, v, eps=1e-5: _norm(x, m, v, g, b, eps).sum(0), "keeps the shape"),
    (lambda x, g, b, m, v, eps=1e-5: _norm(x, m, v, g, -b, eps), "values differ"),
])
def test_q2_rejects_typical_mistakes(answer, message):
    assert_rejected(ex.q2, answer, message)


def test_q2_success_names_module_agreement():
    assert "eval()" in ex.q2.check(ex.q2._reference).message


# q3: the running statistics --------------------------------------------------------------------

def _running(m, v, x, momentum, *, unbiased=True, swap=False):
    old, new = (momentum, 1 - momentum) if swap else (1 - momentum, momentum)
    return old * m + new * x.mean(0), old * v + new * x.var(0, unbiased=unbiased)


@pytest.mark.parametrize("answer, message", [
    (lambda m, v, x, momentum=0.1: _running(m, v, x, momentum, unbiased=False), "unbiased one (divide by N − 1)"),
    (lambda m, v, x, momentum=0.1: _running(m, v, x, momentum, swap=True), "Keras/TensorFlow convention"),
    (lambda m, v, x, momentum=0.1: _running(m, v, x, 0.1), "do not hard-code 0.1"),
    (lambda m, v, x, momentum=0.1: (0.9 * m + 0.1 * x.mean(0), 0.1 * v + 0.9 * x.var(0)), "variance weights are swapped"),
    (lambda m, v, x, momentum=0.1: _running(m, v, x, momentum)[0], "should return two"),
    (lambda m, v, x, momentum=0.1: tuple(t + 0 * x[:1] for t in _running(m, v, x, momentum)), "one running mean"),
])
def test_q3_rejects_typical_mistakes(answer, message):
    assert_rejected(ex.q3, answer, message)


def test_q3_rejects_updating_the_running_stats_in_place():
    def in_place(m, v, x, momentum=0.1):
        m.mul_(1 - momentum).add_(momentum * x.mean(0))
        v.mul_(1 - momentum).add_(momentum * x.var(0))
        return m, v
    assert_rejected(ex.q3, in_place, "running statistics in place")


def test_q3_success_names_module_agreement():
    assert "running_var" in ex.q3.check(ex.q3._reference).message


# q4: standardise with the training statistics ---------------------------------------------------

def _z(x, mean, std):
    return (x - mean) / std


@pytest.mark.parametrize("answer, message", [
    (lambda tr, te: (_z(tr, tr.mean(0), tr.std(0)), _z(te, te.mean(0), te.std(0))), "its own mean and std"),
    (lambda tr, te: tuple(_z(x, torch.cat([tr, te]).mean(0), torch.cat([tr, te]).std(0)) for x in (tr, te)),
     "together"),
    (lambda tr, te: tuple(_z(x, x.mean(1, keepdim=True), x.std(1, keepdim=True)) for x in (tr, te)), "dim=1"),
    (lambda tr, te: (_z(tr, tr.mean(0), tr.std(0)), _z(te, tr.mean(0), te.std(0))), "(test − train mean) / train std"),
    (lambda tr, te: (tr - tr.mean(0), te - tr.mean(0)), "not standardised"),
    (lambda tr, te: _z(tr, tr.mean(0), tr.std(0)), "should return two"),
])
def test_q4_rejects_typical_mistakes(answer, message):
    assert_rejected(ex.q4, answer, message)


def test_q4_accepts_the_population_std_as_scikit_learn_uses():
    def population(train_X, test_X):
        mean, std = train_X.mean(0), train_X.std(0, unbiased=False)
        return (train_X - mean) / std, (test_X - mean) / std
    assert ex.q4.check(population).passed


def test_q4_rejects_standardising_the_training_set_in_place():
    def in_place(train_X, test_X):
        mean, std = train_X.mean(0), train_X.std(0)
        train_X -= mean
        train_X /= std
        return train_X, (test_X - mean) / std
    assert_rejected(ex.q4, in_place, "in place")
