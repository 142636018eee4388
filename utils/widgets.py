"""Interactive widgets that still teach when no one can move them.

Introduced in chapter 01. ``show()`` displays an ipywidgets control; where no browser front
end is attached (the tests, the benchmark, a static site build) it also draws a static figure,
so every run of the notebook leaves the picture the widget would have shown.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

from IPython.display import display


def has_frontend() -> bool:
    """Whether a browser front end (JupyterLab, Colab, Kaggle, VS Code) is attached.

    $COURSE_HEADLESS=1 or 0 overrides the guess. Jupyter's server sets JPY_SESSION_NAME for
    the kernels it starts; nbclient, nbval and plain Python do not.
    """
    forced = os.environ.get("COURSE_HEADLESS", "")
    if forced in ("0", "1"):
        return forced == "0"
    return ("JPY_SESSION_NAME" in os.environ or "google.colab" in sys.modules
            or "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "VSCODE_PID" in os.environ)


def show(widget, *, static: Callable[[], None]) -> None:
    """Display ``widget``; when headless, also call ``static()`` to draw its default view."""
    display(widget)
    if not has_frontend():
        static()


#: The 16 functions of two binary inputs, by their outputs (±1) for x = 00, 01, 10, 11.
_TWO_INPUT_TABLES = {
    (-1, -1, -1, -1): "always −1", (1, 1, 1, 1): "always +1",
    (-1, -1, -1, 1): "AND", (-1, 1, 1, 1): "OR", (1, 1, 1, -1): "NAND", (1, -1, -1, -1): "NOR",
    (-1, 1, 1, -1): "XOR", (1, -1, -1, 1): "XNOR",
    (-1, -1, 1, 1): "x₁ (copy)", (-1, 1, -1, 1): "x₂ (copy)",
    (1, 1, -1, -1): "NOT x₁", (1, -1, 1, -1): "NOT x₂",
    (-1, -1, 1, -1): "x₁ AND NOT x₂", (-1, 1, -1, -1): "NOT x₁ AND x₂",
    (1, -1, 1, 1): "x₁ OR NOT x₂", (1, 1, -1, 1): "NOT x₁ OR x₂",
}
_GATE_TARGETS = ("AND", "OR", "NAND", "NOR", "XOR")


def neuron_explorer(w1: float = 1.0, w2: float = 1.0, b: float = -1.5, target: str = "AND"):
    """Sliders for a 2-input neuron's w₁, w₂ and b, its decision line, and the gate it computes.

    Built for chapter 01 (the M-P neuron): the neuron outputs +1 where w·x + b ≥ 0 and −1
    elsewhere. Moving a slider redraws the plane with ``plot_linear_boundary``, colours the four
    binary inputs by the neuron's output, rings the ones that differ from the ``target`` gate,
    and names the truth table computed. The returned box exposes its parts for code:
    ``.w1``, ``.w2``, ``.b`` (sliders), ``.target`` (dropdown), ``.text`` (the verdict, HTML)
    and ``.image`` (the plot, PNG bytes).
    """
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import numpy as np

    from utils.plots import plot_linear_boundary

    if target not in _GATE_TARGETS:
        raise ValueError(f"target={target!r} is not one of the gates offered: {', '.join(_GATE_TARGETS)}")
    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    targets = {name: np.array(row) for row, name in _TWO_INPUT_TABLES.items() if name in _GATE_TARGETS}

    def slider(value, name):
        return widgets.FloatSlider(value=value, min=-2.0, max=2.0, step=0.1, description=name,
                                   continuous_update=False, readout_format=".1f")

    box = widgets.VBox()
    box.w1, box.w2, box.b = slider(w1, "w₁"), slider(w2, "w₂"), slider(b, "b")
    box.target = widgets.Dropdown(options=list(_GATE_TARGETS), value=target, description="target")
    box.text, box.image = widgets.HTML(), widgets.Image(format="png", width=420)

    def redraw(_change=None):
        w, bias = np.array([box.w1.value, box.w2.value]), box.b.value
        z = np.round(inputs @ w + bias, 9)  # slider steps are decimals: 0.3 − 0.3 must be 0
        y = np.where(z >= 0, 1, -1)
        wrong = y != targets[box.target.value]
        name = _TWO_INPUT_TABLES[tuple(int(v) for v in y)]
        outputs = ", ".join(f"{v:+d}" for v in y)
        on_line = " Some input lies exactly on the line (z = 0): the ≥ 0 convention makes it +1." \
            if np.any(z == 0) else ""
        box.text.value = (f"The neuron computes <b>{name}</b> (outputs {outputs} for x = 00, 01, 10, 11). "
                          f"Target {box.target.value}: {4 - wrong.sum()} of 4 rows right.{on_line}")
        fig, ax = plt.subplots(figsize=(4.2, 4.0))
        plot_linear_boundary(ax, w, bias, inputs, y, title=f"w = ({w[0]:.1f}, {w[1]:.1f}), b = {bias:.1f}: {name}")
        ax.scatter(*inputs[wrong].T, s=260, facecolors="none", edgecolors="black", label=f"≠ {box.target.value}")
        ax.legend(loc="upper left")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(fig)
        box.image.value = buffer.getvalue()

    for control in (box.w1, box.w2, box.b, box.target):
        control.observe(redraw, names="value")
    redraw()
    box.children = [widgets.HBox([box.w1, box.w2]), widgets.HBox([box.b, box.target]), box.text, box.image]
    return box
