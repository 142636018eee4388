"""One look for every figure in the course: colours, sizes and labels.

Introduced in chapter 01; ``setup()`` applies the style. The same things have the same colour
in every chapter: train vs validation, real vs fake, class 0 vs class 1.
"""
from __future__ import annotations

import matplotlib as mpl

#: Fixed colours so a learner recognises the same thing across chapters.
COLORS = {
    "train": "#1f77b4",
    "val": "#ff7f0e",
    "test": "#2ca02c",
    "class0": "#1f77b4",
    "class1": "#d62728",
    "real": "#2ca02c",
    "fake": "#d62728",
    "boundary": "#333333",
}


def apply_style() -> None:
    """Readable defaults: a grid, labelled sizes that read well on a laptop and in a browser."""
    mpl.rcParams.update({
        "figure.figsize": (6.0, 4.0),
        "figure.dpi": 100,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.titlesize": 12,
        "axes.labelsize": 11,
        "legend.fontsize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })


def plot_linear_boundary(ax, w, b, X=None, y=None, *, title: str, xlabel: str = "x₁", ylabel: str = "x₂",
                         limits: tuple[float, float, float, float] = (-0.5, 1.5, -0.5, 1.5)):
    """Draw the line w·x + b = 0 in the plane, shade its positive side, and plot labelled points.

    Introduced in chapter 01 (a neuron's decision) and reused in chapter 02 (the perceptron).
    ``w`` has two entries; ``y`` holds labels in {-1, +1} (or {0, 1}), coloured as class1 / class0.
    """
    import numpy as np

    w = np.asarray(w, dtype=float).reshape(-1)
    x_min, x_max, y_min, y_max = limits
    grid_x, grid_y = np.meshgrid(np.linspace(x_min, x_max, 200), np.linspace(y_min, y_max, 200))
    side = w[0] * grid_x + w[1] * grid_y + float(b) >= 0
    ax.contourf(grid_x, grid_y, side, levels=[-0.5, 0.5, 1.5],
                colors=[COLORS["class0"], COLORS["class1"]], alpha=0.12)
    if np.any(w != 0):
        ax.contour(grid_x, grid_y, w[0] * grid_x + w[1] * grid_y + float(b), levels=[0],
                   colors=[COLORS["boundary"]], linewidths=1.5)
    if X is not None:
        X, y = np.asarray(X, dtype=float), np.asarray(y).reshape(-1)
        positive = y > 0
        ax.scatter(X[~positive, 0], X[~positive, 1], c=COLORS["class0"], marker="o", label="y = −1", zorder=3)
        ax.scatter(X[positive, 0], X[positive, 1], c=COLORS["class1"], marker="s", label="y = +1", zorder=3)
        ax.legend(loc="upper left")
    ax.set(xlim=(x_min, x_max), ylim=(y_min, y_max), title=title, xlabel=xlabel, ylabel=ylabel)
    return ax
