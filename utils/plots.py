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
