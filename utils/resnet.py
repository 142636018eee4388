"""Residual networks (He, Zhang, Ren and Sun, 2016) and their plain twins without skip connections.

Introduced in chapter 10 (residual nets), which shows the degradation problem with
``resnet_for_small_images`` (a plain network gets worse as it gets deeper, a residual one does
not) and builds a BasicBlock and ResNet-18 by hand before importing these.

The ImageNet configuration uses the same names as torchvision (``conv1``, ``bn1``, ``layer1`` …
``layer4``, ``fc``; in a block ``conv1``, ``bn1``, …, ``downsample``), so torchvision's weights
load into ``resnet18()`` and ``resnet50()`` with ``load_state_dict(strict=True)`` and give the same
outputs. Every block takes ``residual=False`` to drop its skip connection: the plain twin has the
same depth and widths, and no shortcut layers at all.
"""
from __future__ import annotations

from torch import nn

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet50", "resnet_for_small_images"]


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """The shortcut of a block: None (the identity) when the shape stays, else a 1×1 conv + BN.

    A 1×1 convolution with the block's stride maps x to the block's output shape, so that
    F(x) + shortcut(x) can be added. Introduced in chapter 10.
    """
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm, and a skip connection: relu(F(x) + shortcut(x)).

    ``stride=2`` halves the image (in the first convolution and the shortcut). The output has
    ``channels`` channels (``expansion`` = 1). With ``residual=False`` the block is plain,
    relu(F(x)), and has no shortcut layers. Used by ResNet-18 and -34. Introduced in chapter 10.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, *, residual: bool = True):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = projection(in_channels, channels, stride) if residual else None

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The batch norm at the end of F(x): zero its weight and the block starts as the identity."""
        return self.bn2

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class Bottleneck(nn.Module):
    """1×1 (narrow) → 3×3 → 1×1 (widen 4×), with batch norm, and a skip connection.

    The 1×1 convolutions make the 3×3 one cheap: it works on ``channels`` channels while the
    block's input and output have 4·``channels``. ``stride=2`` sits on the 3×3 convolution, as
    in torchvision ("ResNet v1.5"; the paper put it on the first 1×1). ``residual=False`` gives the
    plain block. Used by ResNet-50, -101 and -152. Introduced in chapter 10.
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, *, residual: bool = True):
        super().__init__()
        out_channels = channels * self.expansion
        self.residual = residual
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = projection(in_channels, out_channels, stride) if residual else None

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The batch norm at the end of F(x): zero its weight and the block starts as the identity."""
        return self.bn3

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class ResNet(nn.Module):
    """A stem, stages of blocks, global average pooling and a linear classifier.

    ``layers`` gives the number of blocks in each stage and ``widths`` each stage's width
    (the block's ``channels``); the first stage keeps the size, every later one starts with a
    stride-2 block that halves it. ResNet-18 is ``ResNet(BasicBlock, [2, 2, 2, 2])``, ResNet-50
    ``ResNet(Bottleneck, [3, 4, 6, 3])``.

    - ``stem="imagenet"``: a 7×7 stride-2 convolution and a 3×3 stride-2 max-pool (224 → 56);
      ``"cifar"``: one 3×3 convolution and no pool, for 32×32 or smaller images.
    - ``residual=False``: the plain twin, every skip connection removed.
    - ``zero_init_residual=True``: each block's last batch-norm weight starts at 0, so every
      block starts as the identity (Goyal et al. 2017; used by fast-training recipes).

    Weights start as torchvision's do (He initialisation for the convolutions). Introduced in
    chapter 10.
    """

    def __init__(self, block, layers, *, widths=(64, 128, 256, 512), num_classes: int = 1000,
                 in_channels: int = 3, stem: str = "imagenet", residual: bool = True,
                 zero_init_residual: bool = False):
        super().__init__()
        if len(layers) != len(widths) or not all(isinstance(n, int) and n >= 1 for n in layers):
            raise ValueError(f"layers={list(layers)} and widths={list(widths)}: give one width for each stage "
                             "and at least one block per stage")
        if stem not in ("imagenet", "cifar"):
            raise ValueError(f"stem={stem!r}: choose 'imagenet' (224×224 images) or 'cifar' (32×32 or smaller)")
        if zero_init_residual and not residual:
            raise ValueError("zero_init_residual=True with residual=False would make every plain block output "
                             "zeros (there is no skip to carry the input): use it only for residual networks")
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        # Small images cannot afford to shrink 4× in the stem: the CIFAR stem has no pool.
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if stem == "imagenet" else nn.Identity()
        channels = widths[0]
        for stage, (width, blocks) in enumerate(zip(widths, layers), start=1):
            stride = 1 if stage == 1 else 2
            stage_blocks = []
            for index in range(blocks):
                stage_blocks.append(block(channels, width, stride if index == 0 else 1, residual=residual))
                channels = width * block.expansion
            setattr(self, f"layer{stage}", nn.Sequential(*stage_blocks))  # layer1, layer2, … as in torchvision
        self.num_stages = len(layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(module.last_bn.weight)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{stage}")(x)
        x = self.avgpool(x).flatten(start_dim=1)
        return self.fc(x)


def resnet18(num_classes: int = 1000, **options) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2], 11,689,512 parameters with 1000 classes (chapter 10).

    ``options`` go to ``ResNet`` (``stem``, ``residual``, ``zero_init_residual``, ``in_channels``).
    """
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, **options)


def resnet50(num_classes: int = 1000, **options) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3], 25,557,032 parameters with 1000 classes (chapter 10).

    ``options`` go to ``ResNet`` (``stem``, ``residual``, ``zero_init_residual``, ``in_channels``).
    """
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **options)


def resnet_for_small_images(depth: int, width: int = 16, *, residual: bool = True, in_channels: int = 1,
                            num_classes: int = 10, zero_init_residual: bool = False) -> ResNet:
    """The paper's CIFAR networks: 3 stages of n BasicBlocks, widths w, 2w, 4w, depth = 6n + 2.

    ``depth`` counts the layers with weights: the stem convolution, 2 per block and the final
    linear layer, so 8, 14, 20, 32, 44, 56, 110 … For chapter 10's degradation experiment on 8×8
    digits: ``resnet_for_small_images(20, residual=False)`` against ``resnet_for_small_images(20)``
    (the sizes go 8 → 4 → 2 across the stages). Introduced in chapter 10.
    """
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"depth={depth}: these networks have 6n + 2 layers (3 stages of n blocks with 2 "
                         "convolutions each, the stem and the classifier): use 8, 14, 20, 26, 32, 44, 56 or 110")
    blocks = (depth - 2) // 6
    return ResNet(BasicBlock, [blocks] * 3, widths=(width, 2 * width, 4 * width), num_classes=num_classes,
                  in_channels=in_channels, stem="cifar", residual=residual, zero_init_residual=zero_init_residual)
