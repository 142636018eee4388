"""Unit tests for the explorers of chapters 03 and 04 in utils/widgets.py: built, moved from code, read back."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils.widgets import activation_explorer, gradient_descent_explorer  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_activation_explorer_reports_the_sigmoids_largest_slope():
    box = activation_explorer()  # sigmoid on −6 … 6
    assert "<b>0.25</b>" in box.text.value and "at z = 0)" in box.text.value
    assert box.image.value[:8] == PNG
    z, value, slope = box.curve()
    assert z.dtype == torch.float64 and z[0] == -6 and z[-1] == 6
    torch.testing.assert_close(value, torch.sigmoid(z))
    torch.testing.assert_close(slope, torch.sigmoid(z) * (1 - torch.sigmoid(z)))
    assert 0.22 < (slope < 0.01).double().mean() < 0.25  # saturated beyond |z| ≈ 4.6


def test_activation_explorer_follows_its_controls():
    box = activation_explorer("sigmoid")
    first_image = box.image.value
    box.activation.value = "ReLU"
    assert "<b>1</b>" in box.text.value and "50%" in box.text.value  # the negative half is flat
    assert box.image.value != first_image
    z, _, slope = box.curve()
    assert (slope[z < 0] == 0).all() and (slope[z > 0] == 1).all()
    box.activation.value = "Leaky ReLU"
    box.slope.value = 0.2
    _, value, slope = box.curve()
    assert slope.min().item() == pytest.approx(0.2) and value.min().item() == pytest.approx(-1.2)
    assert "0% of the range" in box.text.value
    box.span.value = (-2.0, 3.0)
    z, _, _ = box.curve()
    assert (z[0].item(), z[-1].item()) == (-2.0, 3.0)


def test_activation_explorer_rejects_an_unknown_activation():
    with pytest.raises(ValueError, match="choose one of sigmoid, tanh, ReLU, Leaky ReLU"):
        activation_explorer("swish")


def test_activation_explorer_draws_a_static_figure():
    box = activation_explorer("tanh")
    before = set(plt.get_fignums())
    box.draw()
    new = set(plt.get_fignums()) - before
    assert len(new) == 1
    ax = plt.figure(new.pop()).axes[0]
    assert ax.get_title() == "tanh and its derivative" and ax.get_xlabel() and len(ax.get_lines()) == 2
    plt.close("all")


BOWL = torch.tensor([[5.5, 4.5], [4.5, 5.5]], dtype=torch.float64)  # curvatures 10 and 1: 2/L = 0.2


def bowl(w):
    return 0.5 * ((w @ BOWL) * w).sum(-1)


def sgd_path(lr, momentum, start, steps):
    w = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    optimizer = torch.optim.SGD([w], lr=lr, momentum=momentum)
    points = [w.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        bowl(w).backward()
        optimizer.step()
        points.append(w.detach().clone())
    return torch.stack(points)


def test_gradient_descent_explorer_walks_like_torch_sgd():
    box = gradient_descent_explorer(bowl, lr=0.05, momentum=0.5, start=(-4.0, -2.0), steps=25, minimum=(0, 0))
    path = box.path()
    assert path.shape == (26, 2)
    torch.testing.assert_close(path, sgd_path(0.05, 0.5, [-4.0, -2.0], 25))
    assert "loss fell from" in box.text.value and box.image.value[:8] == PNG


def test_gradient_descent_explorer_follows_its_controls_and_reports_divergence():
    box = gradient_descent_explorer(bowl, lr=0.19, start=(-4.0, -2.0))
    assert "loss fell" in box.text.value
    first_image = box.image.value
    box.lr.value = 0.21  # past 2/L = 0.2
    assert "Diverged" in box.text.value and box.image.value != first_image
    box.lr.value, box.momentum.value = 0.05, 0.9
    box.start_x.value, box.start_y.value = 2.0, 1.0
    torch.testing.assert_close(box.path(), sgd_path(0.05, 0.9, [2.0, 1.0], 30))


def test_gradient_descent_explorer_stops_a_path_that_overflows():
    box = gradient_descent_explorer(lambda w: (w ** 4).sum(-1), lr=1.0, start=(3.0, 3.0), steps=40)
    path = box.path()
    assert len(path) < 41 and not torch.isfinite(path[-1]).all()
    assert "Diverged" in box.text.value


def test_gradient_descent_explorer_rejects_a_start_outside_the_frame():
    with pytest.raises(ValueError, match="outside the frame"):
        gradient_descent_explorer(bowl, start=(9.0, 0.0))


def test_gradient_descent_explorer_draws_a_static_figure():
    box = gradient_descent_explorer(bowl, minimum=(0.0, 0.0))
    before = set(plt.get_fignums())
    box.draw()
    new = set(plt.get_fignums()) - before
    ax = plt.figure(new.pop()).axes[0]
    assert ax.get_title() == "30 steps of gradient descent"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["η = 0.1, μ = 0.00", "minimum"]
    plt.close("all")
