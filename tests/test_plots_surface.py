"""Unit tests for utils.plots.plot_surface_paths (chapters 04 and 06)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils.plots import COLORS, plot_surface_paths  # noqa: E402


def bowl(w):
    return w[..., 0] ** 2 + 10 * w[..., 1] ** 2


def rosenbrock(w):
    return (1 - w[..., 0]) ** 2 + 100 * (w[..., 1] - w[..., 0] ** 2) ** 2


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_draws_contours_paths_start_rings_and_minimum(ax):
    tensor_path = torch.tensor([[-4.0, 3.0], [-2.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    array_path = np.array([[4.0, -3.0], [3.0, -1.0]])
    returned = plot_surface_paths(ax, bowl, {"tensor": tensor_path, "array": array_path}, minimum=(0, 0),
                                  title="Two paths")
    assert returned is ax
    assert ax.get_title() == "Two paths" and ax.get_xlabel() == "w₁" and ax.get_ylabel() == "w₂"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["tensor", "array", "minimum"]
    lines = ax.get_lines()
    np.testing.assert_allclose(lines[0].get_xydata(), tensor_path.numpy())
    assert lines[1].get_color() == lines[0].get_color()  # the start ring has its path's colour
    assert lines[1].get_xydata().tolist() == [[-4.0, 3.0]]
    assert lines[-1].get_marker() == "*" and lines[-1].get_color() == COLORS["boundary"]
    assert len(ax.collections) >= 1  # the contour set


def test_contour_levels_follow_the_loss_quantiles(ax):
    plot_surface_paths(ax, rosenbrock, title="Rosenbrock", limits=(-2, 2, -1, 3), levels=12)
    levels = ax.collections[0].levels
    assert len(levels) == 12 and np.all(np.diff(levels) > 0)
    assert levels[0] < 5 and levels[-1] > 300  # the valley floor and the walls are both resolved
    assert ax.get_legend() is None


def test_a_diverging_path_leaves_the_frame_but_the_view_stays(ax):
    runaway = torch.tensor([[1.0, 1.0], [-3.0, -3.0], [9.0, 9.0], [1e30, 1e30], [float("inf"), float("nan")]])
    plot_surface_paths(ax, bowl, {"diverges": runaway}, title="Divergence", limits=(-5, 5, -4, 4))
    assert ax.get_xlim() == (-5, 5) and ax.get_ylim() == (-4, 4)


def test_accepts_a_loss_that_returns_numpy(ax):
    plot_surface_paths(ax, lambda w: bowl(w).numpy(), {"p": [[0.0, 1.0], [0.0, 0.5]]}, title="NumPy loss")
    assert ax.get_legend() is not None
