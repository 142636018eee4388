"""Unit tests for utils.widgets.perceptron_stepper (chapter 02): buttons clicked from code."""
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils.perceptron import perceptron_update, with_bias  # noqa: E402
from utils.widgets import perceptron_stepper  # noqa: E402

POINTS = torch.tensor([[1.0, 2.0], [2.0, -1.0], [-1.0, 1.0], [-2.0, -1.0]])
TARGETS = torch.tensor([1.0, 1.0, -1.0, -1.0])
START = [0.5, -1.0, 1.0]  # a line that gets three of the four points wrong


def test_step_applies_the_rule_to_the_next_example():
    box = perceptron_stepper(POINTS, TARGETS, START, lr=0.5)
    assert box.image.value[:8] == b"\x89PNG\r\n\x1a\n" and "Start" in box.text.value
    inputs, w = with_bias(POINTS), torch.tensor(START)
    for click in range(6):  # more clicks than examples: the stepper cycles through the data
        index = click % len(POINTS)
        box.step_button.click()
        w = perceptron_update(w, inputs[index], TARGETS[index], 0.5)
        assert torch.equal(box.weights(), w)
        step = box.steps[-1]
        assert (step.number, step.index) == (click + 1, index)
        assert f"example #{index}" in box.text.value and f"Step {click + 1}" in box.text.value
    assert len(box.steps) == 6


def test_text_reports_y_t_and_delta():
    box = perceptron_stepper(POINTS, TARGETS, START, lr=0.5)
    box.step_button.click()  # example 0: score 0.5 - 1 + 2 = 1.5, y = +1 = t
    assert "y = <b>+1</b>, t = <b>+1</b>; y = t, so Δw = 0" in box.text.value
    box.step_button.click()  # example 1: score 0.5 - 2 - 1 = -2.5, y = -1, t = +1: Δw = 0.5 * 2 * x
    assert "y ≠ t, so Δw = η(t − y)x = (+1.00, +2.00, -1.00)" in box.text.value
    assert "Now w = <b>(+1.50, +1.00, +0.00)</b>" in box.text.value


def test_reset_goes_back_to_the_start():
    box = perceptron_stepper(POINTS, TARGETS, START, lr=1.0)
    first_image = box.image.value
    for _ in range(3):
        box.step_button.click()
    assert not torch.equal(box.weights(), torch.tensor(START))
    box.reset_button.click()
    assert torch.equal(box.weights(), torch.tensor(START)) and box.steps == []
    assert box.image.value == first_image
    box.step_button.click()
    assert box.steps[-1].index == 0


def test_draw_shows_the_start_and_each_update(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda: None)
    box = perceptron_stepper(POINTS, TARGETS, START, lr=0.5)
    box.draw(updates=2)
    figure = plt.gcf()
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible() and ax.axison]
    assert len(titles) == 3 and titles[0].startswith("start") and titles[1].startswith("update 1")
    plt.close(figure)
    box.draw(updates=50)  # converges first: only the updates that happened, and it says so
    figure = plt.gcf()
    assert "converged" in figure._suptitle.get_text()
    plt.close(figure)


@pytest.mark.parametrize("X, t, w0, message", [
    (torch.zeros(4, 3), TARGETS, START, "shape [n, 2]"),
    (POINTS, torch.tensor([1.0, 0.0, 1.0, -1.0]), START, "each −1 or +1"),
    (POINTS, TARGETS, [0.0, 1.0], "3 weights"),
])
def test_bad_inputs_are_explained(X, t, w0, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        perceptron_stepper(X, t, w0)
