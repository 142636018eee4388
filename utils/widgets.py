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


#: The 16 functions of two binary inputs, by their outputs (±1) for x = 00, 01, 10, 11 (chapter 01).
TWO_INPUT_FUNCTIONS = {
    (-1, -1, -1, -1): "always −1", (1, 1, 1, 1): "always +1",
    (-1, -1, -1, 1): "AND", (-1, 1, 1, 1): "OR", (1, 1, 1, -1): "NAND", (1, -1, -1, -1): "NOR",
    (-1, 1, 1, -1): "XOR", (1, -1, -1, 1): "XNOR",
    (-1, -1, 1, 1): "x₁ (copy)", (-1, 1, -1, 1): "x₂ (copy)",
    (1, 1, -1, -1): "NOT x₁", (1, -1, 1, -1): "NOT x₂",
    (-1, -1, 1, -1): "x₁ AND NOT x₂", (-1, 1, -1, -1): "NOT x₁ AND x₂",
    (1, -1, 1, 1): "x₁ OR NOT x₂", (1, 1, -1, 1): "NOT x₁ OR x₂",
}
_GATE_TARGETS = ("AND", "OR", "NAND", "NOR", "XOR")


def _explorer_box(controls: dict, make_figure: Callable, describe: Callable):
    """A VBox of ``controls`` (also set as attributes), a verdict ``.text`` and the plot ``.image``.

    ``make_figure(box)`` draws the current view on a new figure; ``describe(box)`` returns the
    verdict's HTML. The box gets ``.figure()`` (that figure, not shown) and ``.draw()`` (shown:
    the static fallback for ``show``). Shared by the explorers of chapters 01, 03 and 04.
    """
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    box = widgets.VBox()
    for name, control in controls.items():
        setattr(box, name, control)
    box.text, box.image = widgets.HTML(), widgets.Image(format="png", width=480)
    box.figure = lambda: make_figure(box)

    def draw():
        box.figure()
        plt.show()

    def redraw(_change=None):
        box.text.value = describe(box)
        fig = box.figure()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(fig)
        box.image.value = buffer.getvalue()

    box.draw = draw
    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    row = list(controls.values())
    box.children = [*(widgets.HBox(row[i:i + 2]) for i in range(0, len(row), 2)), box.text, box.image]
    return box


def neuron_explorer(w1: float = 1.0, w2: float = 1.0, b: float = -1.5, target: str = "AND"):
    """Sliders for a 2-input neuron's w₁, w₂ and b, its decision line, and the gate it computes.

    Built for chapter 01 (the M-P neuron): the neuron outputs +1 where w·x + b ≥ 0 and −1
    elsewhere. Moving a slider redraws the plane with ``plot_linear_boundary``, colours the four
    binary inputs by the neuron's output, rings the ones that differ from the ``target`` gate,
    and names the truth table computed. The returned box exposes its parts for code:
    ``.w1``, ``.w2``, ``.b`` (sliders), ``.target`` (dropdown), ``.text`` (the verdict, HTML)
    and ``.image`` (the plot, PNG bytes).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import numpy as np

    from utils.plots import plot_linear_boundary

    if target not in _GATE_TARGETS:
        raise ValueError(f"target={target!r} is not one of the gates offered: {', '.join(_GATE_TARGETS)}")
    inputs = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    targets = {name: np.array(row) for row, name in TWO_INPUT_FUNCTIONS.items() if name in _GATE_TARGETS}

    def slider(value, name):
        return widgets.FloatSlider(value=value, min=-2.0, max=2.0, step=0.1, description=name,
                                   continuous_update=False, readout_format=".1f")

    def state(box):
        w, bias = np.array([box.w1.value, box.w2.value]), box.b.value
        z = np.round(inputs @ w + bias, 9)  # slider steps are decimals: 0.3 − 0.3 must be 0
        y = np.where(z >= 0, 1, -1)
        return w, bias, z, y, y != targets[box.target.value], TWO_INPUT_FUNCTIONS[tuple(int(v) for v in y)]

    def describe(box):
        _, _, z, y, wrong, name = state(box)
        outputs = ", ".join(f"{v:+d}".replace("-", "−") for v in y)
        on_line = " Some input lies exactly on the line (z = 0): the ≥ 0 convention makes it +1." \
            if np.any(z == 0) else ""
        return (f"The neuron computes <b>{name}</b> (outputs {outputs} for x = 00, 01, 10, 11). "
                f"Target {box.target.value}: {4 - wrong.sum()} of 4 rows right.{on_line}")

    def make_figure(box):
        w, bias, _, y, wrong, name = state(box)
        fig, ax = plt.subplots(figsize=(4.2, 4.0))
        plot_linear_boundary(ax, w, bias, inputs, y, title=f"w = ({w[0]:.1f}, {w[1]:.1f}), b = {bias:.1f}: {name}")
        ax.scatter(*inputs[wrong].T, s=260, facecolors="none", edgecolors="black", label=f"≠ {box.target.value}")
        ax.legend(loc="upper left")
        return fig

    controls = {"w1": slider(w1, "w₁"), "w2": slider(w2, "w₂"), "b": slider(b, "b"),
                "target": widgets.Dropdown(options=list(_GATE_TARGETS), value=target, description="target")}
    return _explorer_box(controls, make_figure, describe)


#: The activations of chapter 03, by the name the explorer's dropdown shows.
_ACTIVATIONS = ("sigmoid", "tanh", "ReLU", "Leaky ReLU")


def _activation_curve(name: str, low: float, high: float, slope: float, points: int = 601):
    """An activation and its derivative (by autograd) on ``points`` inputs from ``low`` to ``high``.

    ``slope`` is Leaky ReLU's slope for negative inputs. Returns float64 tensors (z, f(z), f'(z)).
    """
    import torch
    import torch.nn.functional as F

    if not low < high:
        raise ValueError(f"the input range ({low}, {high}) is empty: low must be below high")
    z = torch.linspace(low, high, points, dtype=torch.float64, requires_grad=True)
    value = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "ReLU": F.relu,
             "Leaky ReLU": lambda z: F.leaky_relu(z, slope)}[name](z)
    derivative, = torch.autograd.grad(value.sum(), z)
    return z.detach(), value.detach(), derivative


def activation_explorer(name: str = "sigmoid", low: float = -6.0, high: float = 6.0, slope: float = 0.1):
    """Choose an activation, slide the input range and the leak slope; see f and f′ side by side.

    Built for chapter 03 (multilayer networks). The verdict states the largest derivative on the
    range (sigmoid's 0.25 is why deep sigmoid nets lose their gradients) and how much of the range
    is saturated (f′ < 0.01). Parts for code: ``.activation`` (dropdown), ``.span`` (range slider),
    ``.slope``, ``.text``, ``.image``, ``.curve()`` (float64 tensors z, f(z), f′(z) as drawn);
    ``.draw()`` draws the current view as a plain figure.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: choose one of {', '.join(_ACTIVATIONS)}")
    controls = {
        "activation": widgets.Dropdown(options=list(_ACTIVATIONS), value=name, description="activation"),
        "span": widgets.FloatRangeSlider(value=(low, high), min=-10.0, max=10.0, step=0.5,
                                         description="input z", continuous_update=False, readout_format=".1f"),
        "slope": widgets.FloatSlider(value=slope, min=0.0, max=0.5, step=0.01, description="leak slope",
                                     continuous_update=False),
    }

    def curve(box):
        return _activation_curve(box.activation.value, *box.span.value, slope=box.slope.value)

    def make_figure(box):
        z, value, derivative = curve(box)
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        ax.plot(z, value, color="C0", label=f"{box.activation.value}(z)")
        ax.plot(z, derivative, color="C1", linestyle="--", label="derivative (autograd)")
        ax.set(title=f"{box.activation.value} and its derivative", xlabel="input z (pre-activation)",
               ylabel="output / slope")
        ax.legend(loc="upper left")
        return fig

    def describe(box):
        z, _, derivative = curve(box)
        top = int(derivative.argmax())
        saturated = (derivative < 0.01).double().mean().item()
        return (f"Largest derivative on this range: <b>{derivative[top]:.3g}</b> (at z = {round(float(z[top]), 2) + 0.0:g}), so "
                f"through n such layers the activations alone scale a gradient by at most {derivative[top]:.3g}ⁿ. "
                f"Saturated (f′ &lt; 0.01) on {saturated:.0%} of the range.")

    box = _explorer_box(controls, make_figure, describe)
    box.curve = lambda: curve(box)
    return box


def _descent_path(loss_fn: Callable, start, lr: float, momentum: float, steps: int):
    """Points visited by gradient descent with PyTorch's momentum (v ← μv + g, w ← w − ηv)."""
    import torch

    w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    velocity = torch.zeros_like(w)
    points = [w.detach().clone()]
    for _ in range(steps):
        grad, = torch.autograd.grad(loss_fn(w), w)
        velocity = momentum * velocity + grad
        with torch.no_grad():
            w -= lr * velocity
        points.append(w.detach().clone())
        if not torch.isfinite(w).all():
            break
    return torch.stack(points)


def gradient_descent_explorer(loss_fn: Callable, *, lr: float = 0.1, momentum: float = 0.0,
                              start=(-4.0, 3.0), steps: int = 30, limits=(-5.0, 5.0, -5.0, 5.0),
                              minimum=None):
    """Sliders for learning rate, momentum and start point; the descent path drawn on the surface.

    Built for chapter 04 (gradient descent); the surface is ``loss_fn``, a function of float64
    points [..., 2], drawn by ``utils.plots.plot_surface_paths``. The path takes ``steps`` steps
    of w ← w − η v with v ← μ v + ∇f(w) (what torch.optim.SGD does) and the verdict says where it
    ended, or that it diverged. Parts for code: ``.lr``, ``.momentum``, ``.start_x``, ``.start_y``,
    ``.text``, ``.image``, ``.path()`` (the points, [T, 2]); ``.draw()`` draws the current view.
    """
    import math

    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    from utils.plots import plot_surface_paths

    x_min, x_max, y_min, y_max = limits
    if not (x_min <= start[0] <= x_max and y_min <= start[1] <= y_max):
        raise ValueError(f"start={tuple(start)} lies outside the frame limits={tuple(limits)}")

    def slider(value, low, high, name):
        return widgets.FloatSlider(value=value, min=low, max=high, step=(high - low) / 100,
                                   description=name, continuous_update=False)

    controls = {
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-3, max=0, step=0.05, description="learning rate",
                                     readout_format=".3g", continuous_update=False,
                                     style={"description_width": "initial"}),
        "momentum": slider(momentum, 0.0, 0.99, "momentum"),
        "start_x": slider(start[0], x_min, x_max, "start w₁"),
        "start_y": slider(start[1], y_min, y_max, "start w₂"),
    }

    def path(box):
        return _descent_path(loss_fn, (box.start_x.value, box.start_y.value), box.lr.value,
                             box.momentum.value, steps)

    def make_figure(box):
        fig, ax = plt.subplots(figsize=(5.0, 4.4))
        label = f"η = {box.lr.value:.3g}, μ = {box.momentum.value:.2f}"
        plot_surface_paths(ax, loss_fn, {label: path(box)}, limits=limits, minimum=minimum,
                           title=f"{steps} steps of gradient descent")
        return fig

    def describe(box):
        points = path(box)
        first, last = float(loss_fn(points[0])), float(loss_fn(points[-1]))
        if not math.isfinite(last) or last > first:
            return (f"<b>Diverged</b>: the loss grew from {first:.3g} to {last:.3g}. "
                    "Lower the learning rate (or the momentum).")
        return f"After {len(points) - 1} steps the loss fell from {first:.3g} to <b>{last:.3g}</b>."

    box = _explorer_box(controls, make_figure, describe)
    box.path = lambda: path(box)
    return box


def perceptron_stepper(X, t, w0, lr: float = 1.0, *, limits=None, xlabel: str = "x₁", ylabel: str = "x₂"):
    """Step through the perceptron's learning rule one example at a time and watch the line move.

    Built for chapter 02 (the perceptron). ``X`` holds 2-D points [n, 2] (without the bias
    column), ``t`` their targets ±1, ``w0`` the starting weights (w₀ = bias, w₁, w₂) and ``lr``
    the learning rate η. Each click on "Step" applies Δw = η(t − y)x (``utils.perceptron``) to
    the next example, cycling through the data in order, rings that example on the redrawn plane
    and prints the weights, x, y, t and Δw; "Reset" goes back to ``w0``. ``limits`` frames the
    plane (x_min, x_max, y_min, y_max), by default the points plus a margin of 0.5; ``xlabel``
    and ``ylabel`` name its axes. Parts for code: ``.step_button``, ``.reset_button``, ``.text``
    (HTML), ``.image`` (the plot, PNG bytes), ``.steps`` (the ``Step`` records so far) and
    ``.weights()`` (the current w). ``.draw(updates=5)`` draws the start and the line after each
    of the first ``updates`` updates (the steps that changed w) as small multiples: the static
    fallback for ``show``.
    """
    import io
    import math

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import torch

    from utils.perceptron import perceptron_steps, with_bias
    from utils.plots import plot_linear_boundary

    points = torch.as_tensor(X, dtype=torch.float32)
    targets = torch.as_tensor(t, dtype=torch.float32).reshape(-1)
    start = torch.as_tensor(w0, dtype=torch.float32)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"X must hold 2-D points, shape [n, 2], without the bias column; got {tuple(points.shape)}")
    if len(targets) != len(points) or not bool(torch.all(targets.abs() == 1)):
        raise ValueError(f"t must hold one target per point ({len(points)}), each −1 or +1")
    if start.shape != (3,):
        raise ValueError(f"w0 must hold 3 weights (w₀ = bias, w₁, w₂); got shape {tuple(start.shape)}")
    if limits is None:
        low, high = (points.min(0).values - 0.5).tolist(), (points.max(0).values + 0.5).tolist()
        limits = (low[0], high[0], low[1], high[1])
    inputs = with_bias(points)

    def fmt(vector):
        return "(" + ", ".join(f"{value:+.2f}" for value in vector.tolist()) + ")"

    def panel(ax, w, step, title):
        plot_linear_boundary(ax, w[1:], w[0], points, targets, title=title, limits=limits,
                             xlabel=xlabel, ylabel=ylabel)
        if step is not None:
            ax.scatter(*points[step.index].tolist(), s=260, facecolors="none", edgecolors="black",
                       linewidths=1.5, label=f"example #{step.index}", zorder=4)
            ax.legend(loc="upper left", fontsize=8)

    box = widgets.VBox()
    box.step_button = widgets.Button(description="Step", tooltip="apply the rule to the next example")
    box.reset_button = widgets.Button(description="Reset", tooltip=f"back to w = {fmt(start)}")
    box.text, box.image = widgets.HTML(), widgets.Image(format="png", width=440)
    box.steps = []
    stream = {}
    box.weights = lambda: box.steps[-1].w.clone() if box.steps else start.clone()

    def redraw():
        step, w = (box.steps[-1] if box.steps else None), box.weights()
        if step is None:
            box.text.value = f"Start: w = {fmt(w)}, η = {lr:g}. Press <b>Step</b> to apply the rule to example #0."
        else:
            change = ("y = t, so Δw = 0" if step.y == step.t
                      else f"y ≠ t, so Δw = η(t − y)x = {fmt(step.delta)}")
            box.text.value = (f"Step {step.number}: example #{step.index}, x = {fmt(step.x)} (x₀ = 1 is the "
                              f"bias input): y = <b>{step.y:+.0f}</b>, t = <b>{step.t:+.0f}</b>; {change}. "
                              f"Now w = <b>{fmt(w)}</b>.")
        fig, ax = plt.subplots(figsize=(4.6, 4.0))
        panel(ax, w, step, "start" if step is None else f"after step {step.number}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(fig)
        box.image.value = buffer.getvalue()

    def reset(_button=None):
        stream["steps"] = perceptron_steps(inputs, targets, start, lr)
        box.steps.clear()
        redraw()

    def step(_button=None):
        box.steps.append(next(stream["steps"]))
        redraw()

    def draw(updates: int = 5):
        shown, unchanged = [(start, None)], 0
        for record in perceptron_steps(inputs, targets, start, lr):
            if len(shown) > updates or unchanged == len(points):  # enough, or a whole pass without change
                break
            if bool(torch.any(record.delta != 0)):
                shown.append((record.w, record))
                unchanged = 0
            else:
                unchanged += 1
        columns = min(3, len(shown))
        rows = math.ceil(len(shown) / columns)
        fig, axes = plt.subplots(rows, columns, squeeze=False, figsize=(4.0 * columns, 3.7 * rows))
        for number, (ax, (w, record)) in enumerate(zip(axes.flat, shown)):
            heading = "start" if record is None else f"update {number}: step {record.number}, example #{record.index}"
            panel(ax, w, record, f"{heading}\nw = {fmt(w)}")
        for ax in axes.flat[len(shown):]:
            ax.axis("off")
        ending = "; then a whole pass without a mistake: converged" if unchanged == len(points) else ""
        fig.suptitle(f"The perceptron's line after each of its first {len(shown) - 1} updates (η = {lr:g}){ending}")
        fig.tight_layout()
        plt.show()

    box.step_button.on_click(step)
    box.reset_button.on_click(reset)
    box.draw = draw
    reset()
    box.children = [widgets.HBox([box.step_button, box.reset_button]), box.text, box.image]
    return box


def _stack_geometry(kernel: int, stride: int, dilation: int, depth: int, shape):
    """The explorer's stack: ``depth`` convolutions with zero padding d(k − 1)/2 on each side.

    Returns (receptive field, output size per axis); the size follows the output-size formula.
    """
    from torch import nn

    from utils.counting import receptive_field

    padding = dilation * (kernel - 1) // 2
    layers = [nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation) for _ in range(depth)]
    sizes = []
    for size in shape:
        for _ in range(depth):
            size = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
        sizes.append(size)
    return receptive_field(layers), tuple(sizes)


def receptive_field_explorer(image, *, kernel: int = 3, stride: int = 1, dilation: int = 1, depth: int = 3):
    """Sliders for a stack of convolutions; the patch one output unit sees, drawn on the image.

    Built for chapter 08 (convolution). The stack is ``depth`` identical layers with a
    ``kernel``×``kernel`` kernel, ``stride``, ``dilation`` and zero padding d(k − 1)/2 on each side;
    its receptive field comes from ``utils.counting.receptive_field``. The left panel draws the
    patch of the output unit at the centre (a square; dashed where it runs into the padding) and
    dots at the centres of all output units' patches; the right one draws the field's size against
    depth for the current kernel, stride and dilation. ``image`` is a grey (H, W) or colour
    (H, W, 3) array, as ``skimage.data`` gives. Parts for code: ``.kernel``, ``.stride``,
    ``.dilation``, ``.depth`` (sliders), ``.text``, ``.image``, ``.field()`` (a ``ReceptiveField``)
    and ``.output_size()`` (units along height and width); ``.draw()`` draws the current view.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.patches import Rectangle

    from utils.plots import COLORS

    picture = np.asarray(image)
    if picture.ndim not in (2, 3) or (picture.ndim == 3 and picture.shape[2] not in (3, 4)):
        raise ValueError(f"image must be a grey (H, W) or colour (H, W, 3) array, as skimage.data gives; "
                         f"got shape {picture.shape}. A C×H×W tensor t is shown with t.permute(1, 2, 0)")
    for name, value, low, high in (("kernel", kernel, 1, 9), ("stride", stride, 1, 3),
                                   ("dilation", dilation, 1, 4), ("depth", depth, 1, 8)):
        if not low <= value <= high or (name == "kernel" and value % 2 == 0):
            raise ValueError(f"{name}={value} is outside the explorer's range: {name} runs from {low} to {high}"
                             + (" in odd numbers, so that a patch has a centre" if name == "kernel" else ""))
    height, width = picture.shape[:2]

    def slider(value, low, high, name, step=1):
        return widgets.IntSlider(value=value, min=low, max=high, step=step, description=name,
                                 continuous_update=False)

    controls = {"kernel": slider(kernel, 1, 9, "kernel", step=2), "stride": slider(stride, 1, 3, "stride"),
                "dilation": slider(dilation, 1, 4, "dilation"), "depth": slider(depth, 1, 8, "depth")}

    def geometry(box, depth=None):
        return _stack_geometry(box.kernel.value, box.stride.value, box.dilation.value,
                               box.depth.value if depth is None else depth, (height, width))

    def make_figure(box):
        field, (rows, columns) = geometry(box)
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4), gridspec_kw={"width_ratios": [1.1, 1]})
        left.imshow(picture, cmap="gray" if picture.ndim == 2 else None)
        centres = [np.array([field.start + i * field.jump for i in range(n)]) + (field.size - 1) / 2
                   for n in (rows, columns)]
        step = max(1, max(rows, columns) // 24)  # at most about 24 dots a side
        grid_y, grid_x = np.meshgrid(centres[0][::step], centres[1][::step], indexing="ij")
        left.plot(grid_x.ravel(), grid_y.ravel(), ".", color=COLORS["val"], markersize=3,
                  label="centres of the units' patches")
        (top, bottom), (first, last) = field.patch(rows // 2), field.patch(columns // 2)
        corner = (max(first, 0) - 0.5, max(top, 0) - 0.5)
        size_on_image = (min(last, width - 1) + 0.5 - corner[0], min(bottom, height - 1) + 0.5 - corner[1])
        left.add_patch(Rectangle(corner, *size_on_image, facecolor=COLORS["class1"], alpha=0.3,
                                 edgecolor=COLORS["class1"], linewidth=2,
                                 label=f"patch of unit ({rows // 2}, {columns // 2})"))
        if first < 0 or top < 0 or last >= width or bottom >= height:
            left.add_patch(Rectangle((first - 0.5, top - 0.5), field.size, field.size, fill=False, linestyle="--",
                                     edgecolor=COLORS["class1"], linewidth=1.5, label="its span into the padding"))
        left.set(xlim=(-0.5, width - 0.5), ylim=(height - 0.5, -0.5), xlabel="pixel column", ylabel="pixel row",
                 title=f"{box.depth.value} layer(s): one unit sees {field.size}×{field.size} pixels")
        left.grid(False)
        left.legend(loc="lower left", fontsize=8)
        depths = np.arange(1, 9)
        sizes = [geometry(box, d)[0].size for d in depths]
        right.plot(depths, sizes, "o-", color=COLORS["train"], label="receptive field")
        right.plot([box.depth.value], [field.size], "o", color=COLORS["class1"], markersize=10, label="this stack")
        right.axhline(max(height, width), color=COLORS["boundary"], linestyle=":", label="image side")
        right.set(title=f"{box.kernel.value}×{box.kernel.value} kernels, stride {box.stride.value}, "
                        f"dilation {box.dilation.value}", xlabel="depth (layers)",
                  ylabel="receptive field (pixels a side)")
        right.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        return fig

    def describe(box):
        field, (rows, columns) = geometry(box)
        whole = " That is more than the whole image." if field.size >= max(height, width) else ""
        return (f"After {box.depth.value} layer(s) one output unit sees a <b>{field.size}×{field.size}</b> patch of "
                f"the {height}×{width} image.{whole} The output has {rows}×{columns} units; neighbouring units' "
                f"patches are {field.jump} pixel(s) apart (the product of the strides).")

    box = _explorer_box(controls, make_figure, describe)
    box.image.width = 760  # two panels side by side
    box.field = lambda: geometry(box)[0]
    box.output_size = lambda: geometry(box)[1]
    return box
