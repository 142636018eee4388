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


def plot_surface_paths(ax, loss_fn, paths=None, *, title: str, limits=(-5.0, 5.0, -5.0, 5.0),
                       levels: int = 20, minimum=None, xlabel: str = "w₁", ylabel: str = "w₂"):
    """Draw a 2-D loss surface as contour lines and the paths optimisers took across it.

    Introduced in chapter 04 (gradient descent and its learning-rate widget) and reused in
    chapter 06 (optimisers). ``loss_fn`` maps a float64 tensor of points [..., 2] to their losses
    [...]. ``paths`` maps a legend label to the points one run visited, [T, 2] (a tensor or an
    array); the first point is ringed. The view stays at ``limits`` (x_min, x_max, y_min, y_max),
    so a run that diverges is seen leaving the frame. Contour levels sit at quantiles of the loss
    over the frame (packed towards the lowest values), so that valleys are resolved whatever the
    surface's scale; on a quadratic bowl they come out as evenly spaced ellipses. ``minimum`` marks
    the lowest point with a star. Returns ``ax``.
    """
    import numpy as np
    import torch

    x_min, x_max, y_min, y_max = limits
    xs, ys = torch.linspace(x_min, x_max, 201, dtype=torch.float64), torch.linspace(y_min, y_max, 201, dtype=torch.float64)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")
    with torch.no_grad():
        surface = torch.as_tensor(loss_fn(torch.stack([grid_x, grid_y], dim=-1))).double().numpy()
    fractions = np.linspace(0, 1, levels + 2)[1:-1] ** 2  # denser near the bottom, where the paths end
    heights = np.unique(np.quantile(surface[np.isfinite(surface)], fractions))
    contours = ax.contour(grid_x.numpy(), grid_y.numpy(), surface, levels=heights, cmap="viridis", linewidths=0.8)
    ax.clabel(contours, contours.levels[::4], fontsize=7, fmt="%.3g")
    for label, path in (paths or {}).items():
        points = np.asarray(torch.as_tensor(path).detach().double().cpu())
        line, = ax.plot(points[:, 0], points[:, 1], "-o", markersize=2.5, linewidth=1.2, label=label)
        ax.plot(points[0, 0], points[0, 1], "o", markersize=8, markerfacecolor="none", color=line.get_color())
    if minimum is not None:
        ax.plot(*np.asarray(minimum, dtype=float), "*", markersize=13, color=COLORS["boundary"], label="minimum")
    if paths or minimum is not None:
        ax.legend(loc="upper left", fontsize=8)
    ax.set(xlim=(x_min, x_max), ylim=(y_min, y_max), title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


_HISTORY_LABELS = {"loss": "loss (mean per example)", "accuracy": "accuracy (fraction correct)",
                   "lr": "learning rate", "seconds": "seconds per epoch"}


def plot_history(history, *, metrics=("loss", "metric"), title: str = "Learning curves",
                 log_loss: bool = True):
    """Learning curves from ``fit()``'s History: one panel per metric, training vs validation.

    Introduced in chapter 05. ``metrics`` names columns without their ``train_``/``val_`` prefix
    ("loss", "metric"), drawn in COLORS["train"] and COLORS["val"], or a single column such as
    "lr" or "seconds", drawn alone. A dotted line marks ``history.best``'s epoch. With
    ``log_loss`` (the default) a positive loss is drawn on a log scale, where the late epochs'
    gap between training and validation is visible next to the first epochs' fall. Returns the figure.
    """
    import math

    import matplotlib.pyplot as plt

    rows = list(history)
    if not rows:
        raise ValueError("the history is empty: train for at least one epoch before plotting it")
    epochs = [row["epoch"] for row in rows]
    metric_name = getattr(history, "metric_name", "metric")
    best = getattr(history, "best", None)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.0 * len(metrics), 3.6), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        shown = metric_name if name == "metric" else name
        if f"train_{name}" in rows[0]:
            for split, label in (("train", "training"), ("val", "validation")):
                values = [row[f"{split}_{name}"] for row in rows]
                if not all(math.isnan(v) for v in values):
                    ax.plot(epochs, values, "-o", markersize=3, color=COLORS[split], label=label)
        elif name in rows[0]:
            ax.plot(epochs, [row[name] for row in rows], "-o", markersize=3, color=COLORS["train"], label=shown)
        else:
            raise ValueError(f"the history has no column {name!r}; it has {', '.join(rows[0])}")
        if best is not None:
            ax.axvline(best["epoch"], color=COLORS["boundary"], linestyle=":", linewidth=1,
                       label=f"best epoch ({best['epoch']})")
        ax.set(xlabel="epoch", ylabel=_HISTORY_LABELS.get(shown, shown), title=f"{shown} per epoch")
        drawn = [y for line in ax.lines[: len(ax.lines) - (best is not None)] for y in line.get_ydata()]
        if name == "loss" and log_loss and drawn and min(drawn) > 0:
            ax.set_yscale("log")
            ax.set_ylabel(ax.get_ylabel() + ", log scale")
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_images(images, labels=None, *, title: str, ncols: int = 8, cmap: str = "gray_r"):
    """A grid of images, each with its label above it; returns the figure.

    Introduced in chapter 05. ``images`` is a tensor or array [N, H, W], [N, 1, H, W] or
    [N, 3, H, W] (channels first, as PyTorch stores them), or flattened square images [N, H·W]
    such as the digits' 64 pixels. Grey images use ``cmap``; colour ones are clipped to [0, 1].
    """
    import math

    import matplotlib.pyplot as plt
    import torch

    pixels = torch.as_tensor(images).detach().cpu().float()
    if pixels.ndim == 2:
        side = math.isqrt(pixels.shape[1])
        if side * side != pixels.shape[1]:
            raise ValueError(f"flattened images of {pixels.shape[1]} pixels are not square: pass [N, H, W]")
        pixels = pixels.reshape(-1, side, side)
    if pixels.ndim == 4:
        if pixels.shape[1] not in (1, 3):
            raise ValueError(f"images of shape {tuple(pixels.shape)}: expected 1 or 3 channels in dimension 1")
        pixels = pixels[:, 0] if pixels.shape[1] == 1 else pixels.permute(0, 2, 3, 1).clamp(0, 1)
    if pixels.ndim not in (3, 4) or len(pixels) == 0:
        raise ValueError(f"expected a batch of images [N, H, W] or [N, C, H, W]; got shape {tuple(pixels.shape)}")
    count = len(pixels)
    ncols = min(ncols, count)
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.4 * nrows + 0.4), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < count:
            ax.imshow(pixels[index].numpy(), cmap=cmap if pixels.ndim == 3 else None)
            if labels is not None:
                label = labels[index]
                ax.set_title(str(label.item() if hasattr(label, "item") else label), fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_augmentations(image, transforms, *, samples: int = 4, title: str = "One image, augmented",
                       cmap: str = "gray_r"):
    """A gallery: one row per transform, the original image first, then ``samples`` augmented copies.

    Introduced in chapter 11. ``image`` is one image [C, H, W] (C = 1 or 3) or [H, W] with values
    in [0, 1]; ``transforms`` maps a row's label to a callable, e.g. ``utils.augment.presets(size=32)``.
    Pixels are drawn on the fixed scale 0–1, so changes of brightness show. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import torch

    image = torch.as_tensor(image).detach().cpu().float()
    image = image.unsqueeze(0) if image.ndim == 2 else image
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected one image [C, H, W] with 1 or 3 channels; got shape {tuple(image.shape)}")
    if not transforms or samples < 1:
        raise ValueError("give at least one transform and samples >= 1")

    def draw(ax, picture):
        picture = picture.detach().cpu().float()
        if picture.shape[0] == 1:
            ax.imshow(picture[0].numpy(), cmap=cmap, vmin=0, vmax=1)
        else:
            ax.imshow(picture.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set(xticks=[], yticks=[])
        ax.grid(False)
        for spine in ax.spines.values():
            spine.set_visible(False)

    size = (1.3 * (samples + 1) + 0.8, 1.35 * len(transforms) + 0.5)
    fig, axes = plt.subplots(len(transforms), samples + 1, figsize=size, squeeze=False)
    for row, (name, transform) in zip(axes, transforms.items()):
        draw(row[0], image)
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
        for ax in row[1:]:
            draw(ax, transform(image))
    for column, ax in enumerate(axes[0]):
        ax.set_title("original" if column == 0 else f"sample {column}", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
