"""Unit tests for utils/perceptron.py: the ±1 prediction, Rosenblatt's rule and the training loop."""
import itertools

import torch

from utils.perceptron import perceptron_steps, perceptron_update, predict, train_perceptron, with_bias

XOR_INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def test_with_bias_prepends_a_column_of_ones():
    X = torch.tensor([[2.0, 3.0], [4.0, 5.0]])
    assert torch.equal(with_bias(X), torch.tensor([[1.0, 2.0, 3.0], [1.0, 4.0, 5.0]]))
    assert torch.equal(with_bias(torch.tensor([7.0])), torch.tensor([1.0, 7.0]))
    assert with_bias(torch.tensor([[1, 2]])).dtype == torch.float32
    assert with_bias(torch.zeros(3, 2, dtype=torch.float64)).dtype == torch.float64


def test_predict_gives_plus_one_on_the_boundary():
    X = with_bias(XOR_INPUTS)
    w = torch.tensor([-1.0, 1.0, 1.0])  # scores -1, 0, 0, 1: OR with ties counted +1
    assert torch.equal(predict(X, w), torch.tensor([-1.0, 1.0, 1.0, 1.0]))
    assert predict(X[0], w).ndim == 0 and predict(X[0], w).item() == -1.0


def test_update_is_the_worked_example_and_leaves_w_alone():
    x, w = torch.tensor([1.0, 0.0, -1.0]), torch.tensor([-5.0, 0.0, 0.0])
    first = perceptron_update(w, x, 1.0, 1.0)
    assert torch.equal(w, torch.tensor([-5.0, 0.0, 0.0]))  # not mutated
    assert torch.equal(first, torch.tensor([-3.0, 0.0, -2.0]))
    second = perceptron_update(first, x, 1.0, 1.0)
    assert torch.equal(second, torch.tensor([-1.0, 0.0, -4.0]))
    assert torch.equal(perceptron_update(second, x, 1.0, 1.0), second)  # right now: Δw = 0
    assert torch.equal(perceptron_update(w, x, 1.0, 0.5), torch.tensor([-4.0, 0.0, -1.0]))  # η scales Δw


def test_steps_cycle_through_the_data_and_record_each_step():
    X, t = with_bias(XOR_INPUTS), torch.tensor([-1.0, 1.0, 1.0, -1.0])
    steps = list(itertools.islice(perceptron_steps(X, t, torch.zeros(3), lr=1.0), 6))
    assert [s.index for s in steps] == [0, 1, 2, 3, 0, 1]
    assert [s.number for s in steps] == [1, 2, 3, 4, 5, 6]
    first = steps[0]  # score 0 counts as +1, target -1: Δw = -2x
    assert (first.y, first.t) == (1.0, -1.0)
    assert torch.equal(first.delta, torch.tensor([-2.0, 0.0, 0.0])) and torch.equal(first.w, first.delta)
    for before, step in zip(steps, steps[1:]):
        assert torch.equal(step.w, before.w + step.delta)
        assert torch.equal(step.w, perceptron_update(before.w, step.x, step.t, 1.0))


def test_training_converges_on_separable_data_and_stops():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(40, 2, generator=generator)
    t = torch.where(points[:, 0] + 2 * points[:, 1] > 0.3, 1.0, -1.0)
    X = with_bias(points)
    w, mistakes = train_perceptron(X, t, max_epochs=1000)
    assert mistakes[-1] == 0 and all(m > 0 for m in mistakes[:-1])
    assert torch.equal(predict(X, w), t)


def test_learning_rate_only_scales_the_weights_from_zero():
    X, t = with_bias(torch.tensor([[2.0, 1.0], [1.0, 3.0], [-1.0, -1.0], [0.5, -2.0]])), torch.tensor([1.0, 1.0, -1.0, -1.0])
    w1, m1 = train_perceptron(X, t, lr=1.0)
    w8, m8 = train_perceptron(X, t, lr=0.125)
    assert m1 == m8 and torch.equal(w8 * 8, w1)


def test_training_starts_from_w0_without_changing_it():
    x, w0 = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([-5.0, 0.0, 0.0])
    w, mistakes = train_perceptron(x, torch.tensor([1.0]), w0=w0)
    assert mistakes == [1, 1, 0]  # one example: one update per epoch, then a clean epoch
    assert torch.equal(w, torch.tensor([-1.0, 0.0, -4.0]))
    assert torch.equal(w0, torch.tensor([-5.0, 0.0, 0.0]))


def test_xor_never_converges():
    X, t = with_bias(XOR_INPUTS), torch.tensor([-1.0, 1.0, 1.0, -1.0])
    _, mistakes = train_perceptron(X, t, max_epochs=50)
    assert len(mistakes) == 50 and min(mistakes) >= 1
