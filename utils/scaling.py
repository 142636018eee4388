"""EfficientNet's compound scaling (Tan and Le, 2019): depth, width and resolution grown together.

Introduced in chapter 15 (efficient and modern training). One number φ says how much more compute to
spend; depth grows by α^φ, width by β^φ and resolution by γ^φ, with α = 1.2, β = 1.1, γ = 1.15
found by a small grid search at φ = 1 under α·β²·γ² ≈ 2. A convolution's cost is proportional to
depth × width² (input and output channels both widen) × resolution² (height and width), so the
cost grows by (α·β²·γ²)^φ ≈ 2^φ: each step of φ doubles the FLOPs.

- ``compound_multipliers(φ)`` and ``flops_multiplier(φ)``: the rule itself;
- ``efficientnet_parameters("b0")``: torchvision's EfficientNet-B0…B3 built with ``weights=None``
  (nothing is downloaded) and counted. B0 has 5,288,548 parameters. The released B1…B7 do not use
  α^φ exactly: their width and depth multipliers (``EFFICIENTNET_COEFFICIENTS``) were rounded and
  tuned per model, e.g. B1 keeps the width (1.0) and deepens by 1.1;
- ``scaled_cnn_config(φ)``, ``scaled_cnn(config)`` and ``scaled_cnn_parameters(config)``: a small
  family of plain convolutional networks scaled by the same rule, built and counted, with the
  parameter count also worked out by formula (what a learner can do by hand).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

__all__ = ["ALPHA", "BETA", "EFFICIENTNET_COEFFICIENTS", "GAMMA", "Multipliers", "ScaledCNNConfig",
           "compound_multipliers", "efficientnet_parameters", "flops_multiplier", "make_divisible",
           "scaled_cnn", "scaled_cnn_config", "scaled_cnn_parameters"]

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # depth, width, resolution: the paper's grid search at φ = 1

#: torchvision's width and depth multipliers and the paper's input resolution for B0…B3.
EFFICIENTNET_COEFFICIENTS = {"b0": (1.0, 1.0, 224), "b1": (1.0, 1.1, 240), "b2": (1.1, 1.2, 260),
                             "b3": (1.2, 1.4, 300)}


@dataclass(frozen=True)
class Multipliers:
    """How much deeper, wider and larger in resolution a compound-scaled network is than its base."""

    depth: float
    width: float
    resolution: float


def _check_coefficients(alpha: float, beta: float, gamma: float) -> None:
    if not all(isinstance(c, (int, float)) and c >= 1 for c in (alpha, beta, gamma)):
        raise ValueError(f"alpha={alpha}, beta={beta}, gamma={gamma}: each coefficient is the growth per step "
                         "of φ, 1 or more (the paper's are 1.2, 1.1 and 1.15)")


def compound_multipliers(phi: float, alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA) -> Multipliers:
    """Depth α^φ, width β^φ, resolution γ^φ (chapter 15). φ = 0 is the base network."""
    _check_coefficients(alpha, beta, gamma)
    return Multipliers(alpha ** phi, beta ** phi, gamma ** phi)


def flops_multiplier(phi: float, alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA) -> float:
    """How much a network's FLOPs grow at φ: (α·β²·γ²)^φ, about 2^φ with the paper's numbers (chapter 15).

    Width counts twice (a convolution's input and output channels both grow), resolution twice
    (height and width), depth once.
    """
    _check_coefficients(alpha, beta, gamma)
    return (alpha * beta ** 2 * gamma ** 2) ** phi


def efficientnet_parameters(variant: str = "b0") -> int:
    """The parameter count of torchvision's ``efficientnet_<variant>(weights=None)``, 1000 classes.

    Builds the network with random weights (no download) and counts every parameter:
    b0 5,288,548; b1, b2 and b3 for comparison. Introduced in chapter 15.
    """
    if variant not in EFFICIENTNET_COEFFICIENTS:
        raise ValueError(f"variant={variant!r}: choose one of {', '.join(map(repr, EFFICIENTNET_COEFFICIENTS))}")
    import torchvision  # only here: building a network is the one use of it in this module

    model = getattr(torchvision.models, f"efficientnet_{variant}")(weights=None)
    return sum(p.numel() for p in model.parameters())


def make_divisible(channels: float, divisor: int = 8) -> int:
    """Round a scaled width to a multiple of ``divisor``, never more than 10 % below (chapter 15).

    EfficientNet's (and torchvision's) rule: hardware runs channel counts in multiples of 8 best.
    """
    rounded = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * channels else rounded


@dataclass(frozen=True)
class ScaledCNNConfig:
    """A compound-scaled plain CNN: layers per stage, channels per stage, input side in pixels."""

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    resolution: int


def scaled_cnn_config(phi: float, *, base_depths=(4, 4, 4), base_widths=(32, 64, 128), base_resolution: int = 32,
                      alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA) -> ScaledCNNConfig:
    """The base network's stages scaled by φ, rounded as EfficientNet rounds (chapter 15).

    Layers per stage: ⌈depth · α^φ⌉; channels: ``make_divisible(width · β^φ)``; resolution:
    round(base_resolution · γ^φ). φ may be negative to scale down.
    """
    if len(base_depths) != len(base_widths) or not base_depths:
        raise ValueError(f"base_depths={list(base_depths)} and base_widths={list(base_widths)}: give one depth and "
                         "one width for each stage")
    scale = compound_multipliers(phi, alpha, beta, gamma)
    depths = tuple(max(1, math.ceil(d * scale.depth)) for d in base_depths)
    widths = tuple(make_divisible(w * scale.width) for w in base_widths)
    return ScaledCNNConfig(depths, widths, max(1, round(base_resolution * scale.resolution)))


def scaled_cnn(config: ScaledCNNConfig, *, in_channels: int = 3, num_classes: int = 10) -> nn.Sequential:
    """The network a ``ScaledCNNConfig`` describes (chapter 15).

    Every layer is a 3×3 convolution without bias, batch norm and ReLU; each stage after the first
    starts with stride 2; then global average pooling and a linear classifier. Feed it images of
    ``config.resolution`` pixels a side (it accepts any size, but the scaling assumes that one).
    """
    layers, channels = [], in_channels
    for stage, (depth, width) in enumerate(zip(config.depths, config.widths)):
        for index in range(depth):
            stride = 2 if stage > 0 and index == 0 else 1
            layers += [nn.Conv2d(channels, width, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
            channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))


def scaled_cnn_parameters(config: ScaledCNNConfig, *, in_channels: int = 3, num_classes: int = 10) -> int:
    """``scaled_cnn(config)``'s parameter count by formula, without building it (chapter 15).

    Each layer: 9·C_in·C_out weights (3×3, no bias) plus 2·C_out for batch norm's scale and shift;
    the classifier: (C_last + 1)·classes.
    """
    total, channels = 0, in_channels
    for depth, width in zip(config.depths, config.widths):
        for _ in range(depth):
            total += 9 * channels * width + 2 * width
            channels = width
    return total + (channels + 1) * num_classes
