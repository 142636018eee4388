"""Classic convolutional networks: LeNet-5 and VGG-style networks built from a config list.

Introduced in chapter 09 (classic CNNs), which writes a smaller version of each by hand first.
Both are split the same way: ``features`` (convolutions and pooling) and ``classifier`` (the fully
connected head). The head is sized by the input: each network works out how many numbers reach
its first linear layer from the image size it is built for (``input_size``), so a network for
8×8 digits and one for 224×224 photos differ only there.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

__all__ = ["LENET_C3_TABLE", "VGG", "VGG11", "VGG16", "VGG_SMALL", "LeNet5"]


def _check_input(model: nn.Module, x: torch.Tensor) -> None:
    """A clear message, instead of a shape error deep in the head, for images of the wrong size."""
    channels, height, width = model.input_shape
    if x.ndim != 4:
        raise ValueError(f"{type(model).__name__} takes a batch of images [N, C, H, W]; got shape {tuple(x.shape)}. "
                         "For one image, add the batch dimension: x.unsqueeze(0).")
    if tuple(x.shape[1:]) != model.input_shape:
        raise ValueError(
            f"{type(model).__name__} was built for {channels}×{height}×{width} images; got a batch of shape "
            f"{tuple(x.shape)}. The first linear layer's size depends on the image size: build the model with "
            f"in_channels={x.shape[1]}, input_size={x.shape[2]} for these images, or resize them.")


def _too_small(in_channels: int, input_size: int, advice: str) -> ValueError:
    return ValueError(f"a {in_channels}×{input_size}×{input_size} input is too small for these layers: "
                      f"the feature maps shrink to nothing. {advice}")


#: LeNet-5's C3 connection table (LeCun et al. 1998, Table I): which of S2's 6 maps each of C3's
#: 16 maps reads. Six read 3 neighbouring maps, six read 4, three read 4 non-neighbouring maps and
#: the last reads all 6: 1,516 parameters instead of 2,416, and the maps are forced to differ.
LENET_C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class PartialConv(nn.Module):
    """LeNet-5's C3: each output map is a 5×5 convolution over its own subset of input maps (chapter 09)."""

    def __init__(self, table=LENET_C3_TABLE, kernel_size: int = 5):
        super().__init__()
        self.table = [list(inputs) for inputs in table]
        self.convs = nn.ModuleList(nn.Conv2d(len(inputs), 1, kernel_size) for inputs in self.table)

    def forward(self, x):
        return torch.cat([conv(x[:, inputs]) for conv, inputs in zip(self.convs, self.table)], dim=1)


class Subsample(nn.Sequential):
    """LeNet-5's S2 and S4: average 2×2 blocks, then one trainable weight and bias per map (chapter 09)."""

    def __init__(self, channels: int):
        super().__init__(nn.AvgPool2d(2), nn.Conv2d(channels, channels, kernel_size=1, groups=channels))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998): C1 → S2 → C3 → S4 → C5 → F6 → output.

    Built for 1×32×32 images (MNIST's 28×28 padded by 2) and 10 classes, like the paper; other
    sizes and channel counts work (``in_channels``, ``input_size``, at least 16 pixels), the
    first linear layer sized to match. Shapes for 32×32: 6×28×28 → 6×14×14 → 16×10×10 →
    16×5×5 → 120 → 84 → 10. Introduced in chapter 09.

    The defaults are today's usual version; the paper's choices are options:

    - ``activation="relu"``; the paper squashed with a scaled tanh, 1.7159·tanh(2x/3):
      ``"tanh"`` gives a plain tanh.
    - ``pooling="max"``; the paper "subsampled": the sum of each 2×2 block times a trainable
      weight plus a trainable bias per map (``"subsample"``); ``"avg"`` is plain averaging. The
      paper also squashed after each subsampling; here the activation follows each convolution.
    - ``c3_table=False``: every C3 map reads all 6 S2 maps (2,416 parameters). ``True`` uses the
      paper's partial connection table, ``LENET_C3_TABLE`` (1,516 parameters).
    - C5 is a linear layer on the flattened S4 maps; the paper's 5×5 convolution on a 5×5 input is
      the same thing. The output is a linear layer; the paper used Euclidean radial basis units
      with fixed weights. With ``pooling="subsample", c3_table=True`` every layer before the
      output has the paper's parameter count, 60,000 in all.
    """

    def __init__(self, num_classes: int = 10, *, in_channels: int = 1, input_size: int = 32,
                 activation: str = "relu", pooling: str = "max", c3_table: bool = False):
        super().__init__()
        activations = {"relu": nn.ReLU, "tanh": nn.Tanh}
        pools = {"max": lambda channels: nn.MaxPool2d(2), "avg": lambda channels: nn.AvgPool2d(2),
                 "subsample": Subsample}
        if activation not in activations:
            raise ValueError(f"activation={activation!r}: choose one of {', '.join(activations)}")
        if pooling not in pools:
            raise ValueError(f"pooling={pooling!r}: choose one of {', '.join(pools)}")
        act, pool = activations[activation], pools[pooling]
        self.input_shape = (in_channels, input_size, input_size)
        self.features = nn.Sequential(OrderedDict(
            c1=nn.Conv2d(in_channels, 6, kernel_size=5), act1=act(), s2=pool(6),
            c3=PartialConv() if c3_table else nn.Conv2d(6, 16, kernel_size=5), act3=act(), s4=pool(16),
        ))
        side = ((input_size - 4) // 2 - 4) // 2  # two 5×5 convolutions, each followed by a 2×2 pool
        if side < 1:
            raise _too_small(in_channels, input_size, "LeNet-5 needs at least 16×16 pixels: pad or upsample "
                             "the images, e.g. torch.nn.functional.interpolate(x, size=32).")
        self.classifier = nn.Sequential(OrderedDict(
            flatten=nn.Flatten(),
            c5=nn.Linear(16 * side * side, 120), act5=act(),
            f6=nn.Linear(120, 84), act6=act(),
            output=nn.Linear(84, num_classes),
        ))

    def forward(self, x):
        _check_input(self, x)
        return self.classifier(self.features(x))


#: VGG's configurations (Simonyan and Zisserman, 2015): a number is a 3×3 convolution with that
#: many output channels (padding 1, so the size stays), "M" a 2×2 max-pool that halves it.
VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
#: A VGG-shaped network small enough to train on a CPU: for 8×8 digits or 32×32 images.
VGG_SMALL = [16, 16, "M", 32, 32, "M", 64, 64, "M"]


def vgg_blocks(config, in_channels: int, batch_norm: bool) -> nn.Sequential:
    """VGG's convolutional part: one block per "M", named block1, block2, …, each ending in its pool.

    Introduced in chapter 09; ``VGG`` calls it.
    """
    blocks, layers, channels = OrderedDict(), OrderedDict(), in_channels
    for item in config:
        if item == "M":
            layers["pool"] = nn.MaxPool2d(2)
            blocks[f"block{len(blocks) + 1}"] = nn.Sequential(layers)
            layers = OrderedDict()
            continue
        if not isinstance(item, int) or item < 1:
            raise ValueError(f"VGG config entry {item!r}: use a channel count (a positive int) or 'M' for a pool")
        number = sum(name.startswith("conv") for name in layers) + 1
        # With batch norm right after, a bias would be cancelled by the mean subtraction: leave it out.
        layers[f"conv{number}"] = nn.Conv2d(channels, item, kernel_size=3, padding=1, bias=not batch_norm)
        if batch_norm:
            layers[f"bn{number}"] = nn.BatchNorm2d(item)
        layers[f"relu{number}"] = nn.ReLU(inplace=True)
        channels = item
    if layers:  # convolutions after the last pool form a last block of their own
        blocks[f"block{len(blocks) + 1}"] = nn.Sequential(layers)
    return nn.Sequential(blocks)


class VGG(nn.Module):
    """A VGG-style network: 3×3 convolutions in blocks, each closed by a max-pool, then a head.

    ``config`` lists the layers (``VGG16``, ``VGG11``, ``VGG_SMALL`` or your own); ``features``
    holds one block per pool (``features.block1`` …). The head is Linear → ReLU → Dropout →
    Linear → ReLU → Dropout → Linear, its first layer sized by the input: ``VGG(VGG16)`` on
    224×224 images is 512×7×7 → 4096 → 4096 → 1000, 138,357,544 parameters, the same as
    torchvision's ``vgg16()``. ``batch_norm=True`` puts a BatchNorm2d after every convolution
    (which then has no bias, unlike torchvision's ``vgg16_bn``). ``hidden`` sets the head's
    width (the paper's 4096 is too much for small images). Introduced in chapter 09.
    """

    def __init__(self, config=VGG16, *, num_classes: int = 1000, in_channels: int = 3, input_size: int = 224,
                 batch_norm: bool = False, hidden: int = 4096, dropout: float = 0.5):
        super().__init__()
        channels = [item for item in config if item != "M"]
        if not channels:
            raise ValueError(f"VGG config {config!r} has no convolution: list channel counts, e.g. VGG_SMALL")
        side = input_size // 2 ** config.count("M")  # every pool halves the size, rounding down
        if side < 1:
            raise _too_small(in_channels, input_size, f"This config has {config.count('M')} pools: use "
                             f"images of at least {2 ** config.count('M')} pixels, or a config with fewer pools.")
        self.input_shape = (in_channels, input_size, input_size)
        self.features = vgg_blocks(config, in_channels, batch_norm)
        self.classifier = nn.Sequential(  # the same layers, at the same indices, as torchvision's VGG
            nn.Linear(channels[-1] * side * side, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        for module in self.modules():  # torchvision's initialisation: He for convolutions, small for the head
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
            if isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, x):
        _check_input(self, x)
        return self.classifier(torch.flatten(self.features(x), start_dim=1))
