"""The speed-run recipe: a small net trained to good accuracy in seconds, and an ablation of its tricks.

Introduced in chapter 15 (efficient and modern training). In the spirit of the public CIFAR-10 speed
records (David Page's "How to train your ResNet", tysam-code's hlb-CIFAR10, Keller Jordan's airbench,
94 % in a few seconds on one GPU), written for this course. The recipe is the chapters' own tools
(a small residual net of chapter 10, batch norm of chapter 07, label smoothing and a warm-up and decay
schedule of chapter 06, flip and translate augmentation of chapter 11) plus the records' tricks, each
switched by a flag of ``Recipe``:

- ``whiten``: the first layer is a frozen 2×2 convolution whose filters whiten the training images'
  patches (their covariance becomes the identity), so the net starts from decorrelated inputs;
- ``bn_tweaks``: batch norm without a learned scale, with fast-moving running statistics, and a larger
  learning rate for its biases;
- ``ema``: a lookahead of the weights: every few steps they are pulled to a moving average of
  themselves, and the net ends on the average;
- ``tta_flip``: test-time flip, the logits of each test image and of its mirror image averaged;
- ``flip`` and ``translate``: augmentation done on the whole batch at once, on the device.

The whole data set is one tensor on the device, and augmentation runs there too: at these speeds a
``DataLoader`` would be the bottleneck. ``train_speedrun`` trains once; ``ablation`` switches each
trick off in turn and returns a table (a list of dicts) of accuracies and seconds.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ABLATION_ROWS", "Lookahead", "Recipe", "Result", "SpeedNet", "SpeedrunData", "ablation",
           "flip_tta_logits", "load_speedrun_data", "lr_multiplier", "recipe_for", "train_speedrun",
           "whitening_filters"]

WHITENING_KERNEL = 2  # the whitening layer's patches are 2×2 pixels, 12 numbers for an RGB image
WHITENING_IMAGES = 5000  # at most this many training images estimate the patches' covariance


@dataclass(frozen=True)
class Recipe:
    """Every setting of a speed run: sizes, optimiser, and one flag per trick. Introduced in chapter 15.

    ``recipe_for(profile)`` gives quick's and full's; ``dataclasses.replace(recipe, ema=False)``
    switches one trick off. ``label_smoothing`` and ``translate`` are off at 0.
    """

    epochs: int = 10
    batch_size: int = 256
    widths: tuple[int, int, int] = (64, 256, 256)  # the channels of the net's three stages
    lr: float = 0.4  # the peak learning rate (SGD with Nesterov momentum)
    momentum: float = 0.85
    weight_decay: float = 5e-4
    warmup: float = 0.25  # the fraction of the steps during which the learning rate rises
    logit_scale: float = 1 / 8  # the logits are scaled down: a cooler softmax at the start
    # the tricks
    label_smoothing: float = 0.2
    flip: bool = True
    translate: int = 2  # pixels
    tta_flip: bool = True
    whiten: bool = True
    bn_tweaks: bool = True
    ema: bool = True
    # the tricks' own settings
    bn_bias_lr_scale: float = 16.0  # with bn_tweaks, batch norm's biases learn this many times faster
    ema_every: int = 5  # with ema, the weights are pulled to their average every this many steps
    ema_decay: float = 0.8  # … with at most this decay (it grows from 0 over training)


#: quick: Shapes-10 at 16×16 on 2 CPU cores; its peak lr was tuned there (mean of 3 seeds, one thread:
#: 92.6 % at 0.3, 95.1 % at 0.6, 94.8 % at 1.0; 85.7 % with batches of 250 at 0.4);
#: full: CIFAR-10 on one GPU, aiming at ≥ 94 % in ≤ 10 s, airbench's sizes (not run here: no GPU). Its lr is
#: airbench's 11.5 per 1,024 images for a summed loss, as a step size for a mean loss: 11.5 · (1 − 0.85) / (2 − 0.85).
PROFILE_RECIPES = {
    "quick": Recipe(epochs=10, batch_size=125, widths=(16, 32, 64), lr=0.6),
    "full": Recipe(epochs=10, batch_size=1024, widths=(64, 256, 256), lr=1.5),
}


def recipe_for(profile) -> Recipe:
    """The recipe sized for ``profile`` ("quick", "full", or a ``Profile``). Introduced in chapter 15."""
    name = str(profile)
    if name not in PROFILE_RECIPES:
        raise ValueError(f"profile={profile!r}: choose one of {', '.join(map(repr, PROFILE_RECIPES))}")
    return PROFILE_RECIPES[name]


# ------------------------------------------------------------------------------- the data

@dataclass(frozen=True)
class SpeedrunData:
    """A whole data set as four tensors on one device: float images [N, 3, H, W], standardised with
    the training images' channel means and deviations, and int64 labels. Introduced in chapter 15."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    name: str

    @classmethod
    def from_uint8(cls, train_images, train_labels, test_images, test_labels, *, name: str, device=None):
        """Move uint8 images [N, 3, H, W] to ``device`` and standardise them there."""
        for what, images in (("train_images", train_images), ("test_images", test_images)):
            if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
                raise ValueError(f"{what}: expected uint8 images [N, 3, H, W]; got {images.dtype} "
                                 f"{tuple(images.shape)}")
        train = train_images.to(device).float().div_(255)
        test = test_images.to(device).float().div_(255)
        mean = train.mean((0, 2, 3), keepdim=True)
        std = train.std((0, 2, 3), keepdim=True).clamp(min=1 / 255)  # a flat channel stays flat, not NaN
        return cls((train - mean) / std, train_labels.to(device).long(), (test - mean) / std,
                   test_labels.to(device).long(), name)


def load_speedrun_data(profile, device=None, *, size: int = 16) -> SpeedrunData:
    """The profile's data set on ``device``: quick, Shapes-10 (``size``×``size``, the 3,000 training
    and 1,000 test images of chapter 11's folder); full, CIFAR-10 (50,000 training and 10,000 test
    images; offline it raises utils.data's ``DataUnavailable`` saying how to get it). Introduced in
    chapter 15."""
    name = str(profile)
    if name == "quick":
        from utils.imagesets import ImageFiles, folder_samples, to_memory
        from utils.shapes import SHAPES_CLASSES, make_shapes

        root = make_shapes(size=size)

        def read(split: str):
            part = to_memory(ImageFiles(*folder_samples(root / split, SHAPES_CLASSES)))
            return part.images, part.targets

        return SpeedrunData.from_uint8(*read("train"), *read("test"), name=f"Shapes-10 {size}×{size}",
                                       device=device)
    if name == "full":
        from utils.imagesets import _cifar_tensors

        return SpeedrunData.from_uint8(*_cifar_tensors(None, timeout=10.0), name="CIFAR-10", device=device)
    raise ValueError(f"profile={profile!r}: choose 'quick' or 'full'")


def _augment(images: torch.Tensor, recipe: Recipe, epoch: int, flips: torch.Tensor,
             generator: torch.Generator) -> torch.Tensor:
    """One epoch's training images: flipped and translated on their device, all at once.

    ``flips`` (one random bool per image, drawn once) says which images are mirrored in even epochs;
    in odd epochs exactly the others are: every image is seen both ways, every two epochs (airbench's
    alternating flip, less repetitive than a fresh coin each epoch).
    """
    if recipe.flip:
        mirrored = flips ^ bool(epoch % 2)
        images = torch.where(mirrored[:, None, None, None], images.flip(-1), images)
    shift = recipe.translate
    if shift > 0:
        n, _, height, width = images.shape
        padded = F.pad(images, (shift,) * 4, mode="reflect")
        dy, dx = (torch.randint(0, 2 * shift + 1, (2, n), generator=generator, device=images.device))
        rows = (dy[:, None] + torch.arange(height, device=images.device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(width, device=images.device))[:, None, None, :]
        batch = torch.arange(n, device=images.device)[:, None, None, None]
        channel = torch.arange(images.shape[1], device=images.device)[None, :, None, None]
        images = padded[batch, channel, rows, cols]
    return images


# -------------------------------------------------------------------------------- the net

def whitening_filters(images: torch.Tensor, kernel_size: int = WHITENING_KERNEL, eps: float = 1e-3):
    """Convolution filters [C·k·k, C, k, k] and biases that whiten the k×k patches of ``images``.

    The patches' covariance is V diag(λ) Vᵀ; filter i is eigenvector vᵢ / √(λᵢ + eps), and the bias
    subtracts the patches' mean, so the filters' outputs have a covariance of diag(λ / (λ + eps)),
    the identity for every direction with λ ≫ eps. Introduced in chapter 15.
    """
    channels = images.shape[1]
    patches = images.unfold(2, kernel_size, 1).unfold(3, kernel_size, 1)  # N, C, H', W', k, k
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, channels * kernel_size ** 2).double()
    mean = patches.mean(0)
    centred = patches - mean
    covariance = centred.T @ centred / (len(patches) - 1)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    filters = (eigenvectors / (eigenvalues.clamp(min=0) + eps).sqrt()).T.flip(0)  # largest first
    return filters.reshape(-1, channels, kernel_size, kernel_size).float(), -(filters @ mean).float()


def _batch_norm(channels: int, tweaks: bool) -> nn.BatchNorm2d:
    if not tweaks:
        return nn.BatchNorm2d(channels)
    norm = nn.BatchNorm2d(channels, momentum=0.4)  # running statistics that follow the net quickly
    norm.weight.requires_grad_(False)  # no learned scale: the next layer can scale
    return norm


class _Stage(nn.Module):
    """conv 3×3 → max-pool 2 → BN → GELU, then a residual branch x + GELU(BN(conv 3×3 (x)))."""

    def __init__(self, in_channels: int, channels: int, bn_tweaks: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        self.norm = _batch_norm(channels, bn_tweaks)
        self.branch_conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.branch_norm = _batch_norm(channels, bn_tweaks)

    def forward(self, x):
        x = F.gelu(self.norm(F.max_pool2d(self.conv(x), 2)))
        return x + F.gelu(self.branch_norm(self.branch_conv(x)))


class SpeedNet(nn.Module):
    """The speed-run net: a 2×2 convolution (the whitening layer), three residual stages that each
    halve the image, a global max-pool and a linear classifier whose logits are scaled by
    ``recipe.logit_scale``. Introduced in chapter 15."""

    def __init__(self, recipe: Recipe, num_classes: int = 10):
        super().__init__()
        stem = 2 * 3 * WHITENING_KERNEL ** 2  # the whitening filters and their negatives
        self.stem = nn.Conv2d(3, stem, WHITENING_KERNEL)
        widths = (stem, *recipe.widths)
        self.stages = nn.Sequential(*(_Stage(i, o, recipe.bn_tweaks) for i, o in zip(widths, widths[1:])))
        self.head = nn.Linear(widths[-1], num_classes, bias=False)
        self.logit_scale = recipe.logit_scale

    @torch.no_grad()
    def whiten(self, images: torch.Tensor) -> None:
        """Set the stem to the whitening filters of ``images`` (and their negatives, so that GELU
        passes both signs) and freeze its weights; its biases stay trainable."""
        filters, bias = whitening_filters(images)
        self.stem.weight.copy_(torch.cat([filters, -filters]))
        self.stem.bias.copy_(torch.cat([bias, -bias]))
        self.stem.weight.requires_grad_(False)

    def forward(self, x):
        x = F.pad(x, (0, WHITENING_KERNEL - 1) * 2)  # the stem keeps the image's size
        x = self.stages(F.gelu(self.stem(x)))
        return self.head(x.amax((2, 3))) * self.logit_scale


def flip_tta_logits(model: nn.Module, images: torch.Tensor, logits: torch.Tensor | None = None) -> torch.Tensor:
    """Test-time flip: the mean of the logits of ``images`` and of their mirror images (pass
    ``logits``, the model's on ``images``, if already computed). Introduced in chapter 15."""
    return ((model(images) if logits is None else logits) + model(images.flip(-1))) / 2


# ------------------------------------------------------------------------- the optimiser

def lr_multiplier(step: int, total: int, warmup: float, start: float = 0.1, end: float = 0.0) -> float:
    """The learning rate at ``step`` of ``total``, as a fraction of the peak: it rises linearly from
    ``start`` to 1 over the first ``warmup`` fraction of the steps, then falls linearly to ``end``
    at the last step (chapter 06's warm-up and decay). Introduced in chapter 15."""
    peak = max(1, round(warmup * total))
    if step < peak:
        return start + (1 - start) * step / peak
    return 1 + (end - 1) * (step - peak) / max(1, total - peak)


class Lookahead:
    """A moving average of a model's weights that the weights are pulled back to (hlb-CIFAR10's and
    airbench's lookahead). ``update(model, decay)``: average ← decay·average + (1 − decay)·weights,
    then weights ← average. Batch norm's running statistics are averaged too. Introduced in chapter 15.
    """

    def __init__(self, model: nn.Module):
        self.average = {name: value.detach().clone() for name, value in model.state_dict().items()
                        if value.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module, decay: float) -> None:
        state = model.state_dict()
        for name, average in self.average.items():
            average.lerp_(state[name], 1 - decay)
            state[name].copy_(average)


def _optimizer(model: SpeedNet, recipe: Recipe) -> torch.optim.SGD:
    norm_biases = [p for n, p in model.named_parameters() if "norm.bias" in n]
    others = [p for n, p in model.named_parameters() if "norm.bias" not in n and p.requires_grad]
    scale = recipe.bn_bias_lr_scale if recipe.bn_tweaks else 1.0
    groups = [{"params": others, "lr": recipe.lr, "peak": recipe.lr},
              {"params": norm_biases, "lr": recipe.lr * scale, "peak": recipe.lr * scale,
               "weight_decay": recipe.weight_decay / scale}]  # the same decay per step as the others
    return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=True,
                           weight_decay=recipe.weight_decay)


# ---------------------------------------------------------------------------- train, ablate

@dataclass(frozen=True)
class Result:
    """One speed run: test ``accuracy`` (a fraction, with test-time flip if the recipe says so),
    ``plain_accuracy`` (always without), training ``seconds`` (net built, whitened, trained: the
    records' clock), ``total_seconds`` (with the test), how many optimiser ``steps``, and the trained
    ``model`` (in eval mode)."""

    accuracy: float
    plain_accuracy: float
    seconds: float
    total_seconds: float
    steps: int
    model: SpeedNet = dataclasses.field(repr=False)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def _test_accuracies(model: nn.Module, data: SpeedrunData, batch_size: int = 1000) -> tuple[float, float]:
    """(accuracy with test-time flip, accuracy without) on the test images."""
    model.eval()
    with_flip = without = 0
    for start in range(0, len(data.test_labels), batch_size):
        images, labels = data.test_images[start:start + batch_size], data.test_labels[start:start + batch_size]
        logits = model(images)
        with_flip += int((flip_tta_logits(model, images, logits).argmax(1) == labels).sum())
        without += int((logits.argmax(1) == labels).sum())
    return with_flip / len(data.test_labels), without / len(data.test_labels)


def train_speedrun(recipe: Recipe, data: SpeedrunData, *, device=None, seed: int = 0) -> Result:
    """Train ``SpeedNet`` with ``recipe`` on ``data`` (moved to ``device`` if given) and test it.

    The same seed, data and thread count give the same accuracy. The global random state is left
    as it was. Introduced in chapter 15.
    """
    if device is not None:
        data = SpeedrunData(*(t.to(device) for t in dataclasses.astuple(data)[:4]), data.name)
    device = data.train_images.device
    count = len(data.train_labels)
    batch_size = min(recipe.batch_size, count)
    steps_per_epoch = count // batch_size
    total = recipe.epochs * steps_per_epoch
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        generator = torch.Generator(device).manual_seed(seed)
        _synchronize(device)
        started = time.perf_counter()
        model = SpeedNet(recipe, num_classes=int(data.train_labels.max()) + 1).to(device)
        if recipe.whiten:
            model.whiten(data.train_images[:WHITENING_IMAGES])
        optimizer = _optimizer(model, recipe)
        lookahead = Lookahead(model) if recipe.ema else None
        flips = torch.rand(count, generator=generator, device=device) < 0.5
        step = 0
        for epoch in range(recipe.epochs):
            model.train()
            images = _augment(data.train_images, recipe, epoch, flips, generator)
            order = torch.randperm(count, generator=generator, device=device)
            for batch in order[:steps_per_epoch * batch_size].view(steps_per_epoch, batch_size):
                for group in optimizer.param_groups:
                    group["lr"] = group["peak"] * lr_multiplier(step, total, recipe.warmup)
                loss = F.cross_entropy(model(images[batch]), data.train_labels[batch],
                                       label_smoothing=recipe.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                if lookahead is not None and step % recipe.ema_every == 0:
                    lookahead.update(model, recipe.ema_decay * (step / total) ** 3)
        if lookahead is not None:
            lookahead.update(model, 1.0)  # end on the average
        _synchronize(device)
        seconds = time.perf_counter() - started
        with_flip, without = _test_accuracies(model, data)
        _synchronize(device)
    return Result(with_flip if recipe.tta_flip else without, without, seconds, time.perf_counter() - started, step,
                  model)


#: The ablation's rows: each switches one trick of the recipe off.
ABLATION_ROWS = {
    "full recipe": {},
    "no label smoothing": {"label_smoothing": 0.0},
    "no flip": {"flip": False},
    "no translate": {"translate": 0},
    "no flip, no translate": {"flip": False, "translate": 0},
    "no test-time flip": {"tta_flip": False},
    "no whitening": {"whiten": False},
    "no batch-norm tweaks": {"bn_tweaks": False},
    "no lookahead (EMA)": {"ema": False},
}


def ablation(recipe: Recipe, data: SpeedrunData, rows: dict | None = None, *, seeds=(0,), device=None) -> list[dict]:
    """Train once per row and seed, each row ``recipe`` with its changes: a table as a list of dicts
    {"row", "accuracy" (mean over seeds), "spread" (max − min), "seconds" (mean training seconds)}.
    ``rows`` maps a row's name to its changes (default ``ABLATION_ROWS``); a row that differs from an
    earlier one in ``tta_flip`` alone reuses its nets (test-time flip changes no training). Introduced
    in chapter 15."""
    table, runs = [], {}  # runs: rows that differ in test-time flip alone share their training
    for name, changes in (ABLATION_ROWS if rows is None else rows).items():
        try:
            variant = dataclasses.replace(recipe, **changes)
        except TypeError:
            raise ValueError(f"row {name!r} changes {sorted(changes)}; a Recipe's settings are "
                             f"{[f.name for f in dataclasses.fields(Recipe)]}") from None
        trained = dataclasses.replace(variant, tta_flip=False)
        if trained not in runs:
            runs[trained] = [train_speedrun(variant, data, device=device, seed=seed) for seed in seeds]
        results = runs[trained]
        accuracies = [r.accuracy if variant.tta_flip else r.plain_accuracy for r in results]
        table.append({"row": name, "accuracy": statistics.mean(accuracies),
                      "spread": max(accuracies) - min(accuracies),
                      "seconds": statistics.mean(r.seconds for r in results)})
    return table
