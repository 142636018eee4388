"""Data augmentation: presets built from ``torchvision.transforms.v2``, and mixup.

Introduced in chapter 11 (image classification in practice), which writes a random crop and a
flip by hand first, then compares the presets in a table (baseline / ResNet / augmentation / both).

A preset transforms ONE image, a float tensor [C, H, W] with values in [0, 1], and keeps its
shape, dtype and range; a label passed along, ``augment(image, label)``, comes back untouched.
A preset given a ``generator`` (a ``torch.Generator`` or an int seed) draws its random numbers
from it alone, so the same generator gives the same images whatever else the program does;
without one it uses PyTorch's global random numbers, which ``setup()`` seeds.
Mixup works on a whole batch instead: ``mixup(images, labels, num_classes=10)``.
"""
from __future__ import annotations

import contextlib
from typing import NamedTuple

import torch
import torchvision
from torch import nn
from torch.utils.data import get_worker_info
from torchvision.transforms import v2

from utils.versions import TESTED

__all__ = ["PRESETS", "Augmentation", "Mixed", "mixup", "preset", "presets"]

#: The presets, from nothing to the standard CIFAR recipe.
PRESETS = ("none", "geometric", "colour", "noise", "erasing", "cifar")


def _as_generator(generator) -> torch.Generator | None:
    """None stays None (global random numbers); an int becomes a generator seeded with it."""
    if generator is None or isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    raise TypeError(f"generator={generator!r}: give a torch.Generator, an int seed, or None")


@contextlib.contextmanager
def _random_numbers_from(generator: torch.Generator | None):
    """Run the block on random numbers drawn from ``generator``, leaving the global ones as they were.

    torchvision's transforms draw from PyTorch's global (CPU) random numbers and take no generator:
    so the global state is saved, seeded from ``generator``, and restored afterwards. In a DataLoader
    worker process, which holds a copy of ``generator`` made when the worker started, the worker's
    own seed is mixed in: without it every worker, and with non-persistent workers every epoch, would
    repeat the same draws. That seed comes from the loader's generator, so runs still repeat.
    """
    if generator is None:
        yield
        return
    seed = int(torch.randint(2**62, (), generator=generator))
    worker = get_worker_info()
    if worker is not None:
        seed = hash((seed, worker.seed)) % 2**62  # mix the two (hashes of numbers are the same every run)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


def _gaussian_noise() -> nn.Module:
    """v2.GaussianNoise with standard deviation 0.1, clipped to [0, 1]; older torchvisions lack it."""
    if not hasattr(v2, "GaussianNoise"):
        raise RuntimeError(f"the 'noise' preset needs v2.GaussianNoise, which torchvision {torchvision.__version__} "
                           f"does not have. Upgrade torchvision (the course is tested with {TESTED['torchvision']}), "
                           "or use the other presets.")
    return v2.GaussianNoise(sigma=0.1, clip=True)


def _pipeline(name: str, size, flip: bool) -> nn.Module:
    """The transforms of one preset, for images of ``size`` (an int, or (height, width))."""
    side = min(size) if isinstance(size, (tuple, list)) else size
    crop_and_flip = [v2.RandomCrop(size, padding=max(1, side // 8))]  # 4 pixels for 32×32 images
    if flip:
        crop_and_flip.append(v2.RandomHorizontalFlip())
    recipes = {
        "none": lambda: v2.Identity(),
        "geometric": lambda: v2.Compose([*crop_and_flip, v2.RandomRotation(15, v2.InterpolationMode.BILINEAR)]),
        "colour": lambda: v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.05),
        "noise": _gaussian_noise,
        "erasing": lambda: v2.RandomErasing(p=0.5, scale=(0.02, 0.25), value=0),
        "cifar": lambda: v2.Compose(crop_and_flip),
    }
    return recipes[name]()


class Augmentation(nn.Module):
    """One preset: call it on an image, or an (image, label) pair, to get an augmented copy.

    ``name`` is one of ``PRESETS``; ``transform`` holds the torchvision transforms. Made by
    ``preset()``. Introduced in chapter 11.
    """

    def __init__(self, name: str, transform: nn.Module, generator: torch.Generator | None):
        super().__init__()
        self.name, self.transform, self.generator = name, transform, generator

    def forward(self, image, *rest):
        if not isinstance(image, torch.Tensor) or not image.is_floating_point():
            kind = f"a {image.dtype} tensor" if isinstance(image, torch.Tensor) else type(image).__name__
            raise TypeError(f"the {self.name!r} augmentation takes a float image tensor [C, H, W] with values in "
                            f"[0, 1]; got {kind}. Convert it first, e.g. with v2.Compose([v2.ToImage(), "
                            "v2.ToDtype(torch.float32, scale=True)]).")
        with _random_numbers_from(self.generator):
            return self.transform(image, *rest)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, own generator={self.generator is not None}"


def preset(name: str, *, size, flip: bool = True, generator=None) -> Augmentation:
    """An augmentation preset for images of ``size`` pixels (an int, or (height, width)).

    - ``"none"``: the image unchanged, the baseline.
    - ``"geometric"``: a random crop after padding by size/8 (4 pixels for 32×32), a horizontal
      flip with probability ½, a rotation by up to ±15°. Flips suit photos, not digits or text:
      ``flip=False`` leaves the flip out, here and in ``"cifar"``.
    - ``"colour"``: random brightness, contrast, saturation (±40 %) and hue (±0.05).
    - ``"noise"``: Gaussian noise with standard deviation 0.1, clipped to [0, 1].
    - ``"erasing"``: with probability ½, a rectangle of 2–25 % of the image set to 0
      (random erasing, Zhong et al. 2020).
    - ``"cifar"``: the standard CIFAR recipe, random crop with padding and a horizontal flip.

    Padding, rotation corners and erased pixels are filled with 0. ``generator``: see the module's
    docstring; it costs a little time per image, so a training set can leave it out and rely on
    ``setup()``'s seed (DataLoader workers are seeded from the loader's generator). Introduced in
    chapter 11.
    """
    if name not in PRESETS:
        raise ValueError(f"no augmentation preset {name!r}; the presets are {', '.join(PRESETS)}")
    return Augmentation(name, _pipeline(name, size, flip), _as_generator(generator))


def presets(*, size, flip: bool = True, seed: int = 0) -> dict[str, Augmentation]:
    """Every preset, by name, each with its own generator (seeded seed, seed + 1, …; chapter 11)."""
    return {name: preset(name, size=size, flip=flip, generator=seed + index) for index, name in enumerate(PRESETS)}


class Mixed(NamedTuple):
    """What ``mixup`` returns: images, soft labels [N, num_classes] (each row sums to 1) and λ (chapter 11)."""

    images: torch.Tensor
    labels: torch.Tensor
    lam: float


def mixup(images: torch.Tensor, labels: torch.Tensor, *, num_classes: int, alpha: float = 1.0,
          generator=None) -> Mixed:
    """Mixup (Zhang et al. 2018) on a batch: each image blended with the one before it.

    λ is drawn from Beta(alpha, alpha); image i becomes λ·x_i + (1 − λ)·x_(i−1) (the first is
    blended with the last), and its label the same blend of the two one-hot labels, so a row of
    ``labels`` holds λ at its own class and 1 − λ at its neighbour's (all of it, when they share
    a class) and sums to 1. ``F.cross_entropy`` takes such soft labels directly. This is what
    torchvision's ``v2.MixUp(alpha=alpha, num_classes=num_classes)`` computes, number for number,
    from the same random state; pairing neighbours works because the loader shuffles the batch.
    ``generator``: a ``torch.Generator``, an int seed, or None for the global random numbers.
    Introduced in chapter 11.
    """
    if images.ndim != 4 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"mixup takes a batch of images [N, C, H, W] and N class indices; got images of shape "
                         f"{tuple(images.shape)} and labels of shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"labels must be class indices 0..{num_classes - 1} (num_classes={num_classes}); "
                         f"got {labels.dtype} values from {labels.min().item()} to {labels.max().item()}")
    with _random_numbers_from(_as_generator(generator)):
        beta = torch.distributions.Beta(torch.tensor([float(alpha)]), torch.tensor([float(alpha)]))
        lam = float(beta.sample(()))
    one_hot = nn.functional.one_hot(labels, num_classes).float()
    mixed_images = lam * images + (1 - lam) * images.roll(1, dims=0)
    mixed_labels = lam * one_hot + (1 - lam) * one_hot.roll(1, dims=0)
    return Mixed(mixed_images, mixed_labels, lam)
