"""How big and how costly a network is: parameters and multiply-accumulates, layer by layer,
and how far one unit of a stack of convolutions sees (its receptive field).

Introduced in chapter 08 (convolution), which derives the formulas by hand; used again in
chapters 09 (classic CNNs: VGG-16's block-by-block shapes) and 10 (residual nets).

``count(model, input_shape)`` runs the model once on a dummy batch of one example and records,
for every layer, its output shape, its parameters and its multiply-accumulates (MACs, 乘加运算).
The conventions:

- A MAC is one ``a * b + c``. FLOPs are usually counted as 2 per MAC (one multiply, one add),
  so "1.8 GFLOPs" in one paper and "1.8 G MACs" in another can be the same network; torchvision's
  documentation lists GFLOPS that are in fact MACs (ResNet-18: 1.81).
- A convolution with C input channels, C′ output channels, a K_h×K_w kernel and ``groups`` g,
  producing a C′×H′×W′ output, costs H′W′·C′·(C/g)·K_h·K_w MACs and has C′·((C/g)·K_h·K_w + 1)
  parameters (the +1 is the bias; without a bias it is C′·(C/g)·K_h·K_w). Depthwise is g = C.
- A linear layer costs in·out MACs per example (per position, for inputs with extra dimensions).
- Every other layer counts 0 MACs here: batch norm, activations such as ReLU, pooling, dropout,
  the additions of residual connections and the additions of biases. They are cheap next to the
  convolutions and linear layers (a few operations per value, not hundreds), and leaving them out
  is the usual convention. Transposed convolutions and attention are not counted either.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["LayerCount", "ReceptiveField", "Summary", "count", "receptive_field"]


@dataclass(frozen=True)
class LayerCount:
    """One row of the count: a layer's name, type, output shape (one example), parameters and MACs.

    Introduced in chapter 08.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int
    macs: int


@dataclass(frozen=True)
class Summary:
    """What ``count()`` found: one row per layer call, and the totals.

    ``parameters`` is the model's own total (every parameter once, used or not), ``macs`` the sum
    over the rows. ``print(summary)`` shows the table; ``summary.by_block(depth)`` adds up the rows
    of each block. Introduced in chapter 08.
    """

    rows: list[LayerCount]
    input_shape: tuple[int, ...]
    parameters: int
    kinds: dict[str, str] = field(repr=False)  # module name -> type name, to label blocks

    @property
    def macs(self) -> int:
        return sum(row.macs for row in self.rows)

    def by_block(self, depth: int = 1) -> "Summary":
        """The same count with layers grouped by the first ``depth`` parts of their names.

        With ``depth=1`` a torchvision ResNet shows conv1, bn1, relu, maxpool, layer1 … layer4,
        avgpool, fc; a course VGG with ``depth=2`` shows features.block1 … features.block5 and the
        classifier's layers. A block's output shape is its last layer's; its parameters and MACs
        are the sums of its layers'.
        """
        if depth < 1:
            raise ValueError(f"depth={depth}: give the number of name parts to keep, 1 or more")
        rows = []
        for block, group in itertools.groupby(self.rows, key=lambda row: ".".join(row.name.split(".")[:depth])):
            group = list(group)
            kind = group[0].kind if len(group) == 1 else self.kinds.get(block, f"{len(group)} layers")
            rows.append(LayerCount(block, kind, group[-1].output_shape,
                                   sum(row.parameters for row in group), sum(row.macs for row in group)))
        return Summary(rows, self.input_shape, self.parameters, self.kinds)

    def table(self) -> str:
        """The rows as a plain-text table, then the totals in full and in short (M, G)."""
        header = ("layer", "type", "output shape", "parameters", "MACs")
        lines = [(row.name or "(model)", row.kind, _shape_text(row.output_shape),
                  f"{row.parameters:,}", f"{row.macs:,}") for row in self.rows]
        lines.append(("total", "", "", f"{sum(row.parameters for row in self.rows):,}", f"{self.macs:,}"))
        widths = [max(len(line[i]) for line in [header, *lines]) for i in range(5)]
        text = [_table_line(header, widths), _table_line(["-" * w for w in widths], widths)]
        text += [_table_line(line, widths) for line in lines]
        unused = self.parameters - sum(row.parameters for row in self.rows)
        if unused > 0:
            text.append(f"plus {unused:,} parameters in layers that the forward pass did not use")
        text.append(f"{self.parameters:,} parameters ({_short(self.parameters)}) and {self.macs:,} MACs "
                    f"({_short(self.macs)}) for one input of shape {_shape_text(self.input_shape)}")
        return "\n".join(text)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (f"Summary({len(self.rows)} rows, {self.parameters:,} parameters, {_short(self.macs)} MACs "
                f"for input {_shape_text(self.input_shape)}; print() it for the table)")


def _table_line(cells, widths) -> str:
    """Names and types flush left, shapes and numbers flush right."""
    return "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(cells, widths)))


def _shape_text(shape) -> str:
    return "×".join(str(size) for size in shape) or "-"


def _short(number: int) -> str:
    """11689512 -> '11.7 M', 1814073344 -> '1.81 G': three significant digits."""
    for size, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if number >= size:
            return f"{number / size:.3g} {unit}"
    return str(number)


def _macs(module: nn.Module, output: torch.Tensor) -> int:
    """Multiply-accumulates of one call, from the layer's settings and the size of its output."""
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        # Each output value (H'·W'·C' of them) is a sum over (C/groups) input channels × the kernel.
        return output.numel() * (module.in_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        # Each output value is a sum over in_features products.
        return output.numel() * module.in_features
    return 0  # batch norm, activations, pooling, dropout: see the module's docstring


def _first_tensor(output):
    """The tensor a layer returned, or the first one in a tuple (GoogLeNet returns a named tuple)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        return next((item for item in output if isinstance(item, torch.Tensor)), None)
    return None


def _counted(module: nn.Module) -> bool:
    """Layers that do the work: modules without children, and any module that owns parameters."""
    return next(module.children(), None) is None or next(module.parameters(recurse=False), None) is not None


def count(model: nn.Module, input_shape) -> Summary:
    """Parameters, output shapes and MACs of every layer, from one forward pass on a dummy input.

    ``input_shape`` is the shape of ONE example without the batch dimension, e.g. (3, 224, 224).
    The model runs once in eval mode without gradients on a batch of one zero example, on the
    device (and in the dtype) of its parameters, the "meta" device included; each layer's mode is
    restored afterwards and nothing in the model changes. A layer called several times gives
    several rows, its parameters counted at the first. Introduced in chapter 08; the conventions
    (what counts as a MAC, 1 MAC = 2 FLOPs) are in this module's docstring.
    """
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list, torch.Size)) else (input_shape,)
    if not shape or not all(isinstance(size, int) and size > 0 for size in shape):
        raise ValueError(f"input_shape={input_shape!r}: give the shape of one example as positive whole "
                         "numbers, without the batch dimension, e.g. (3, 224, 224) for a colour image")
    first = next(model.parameters(), None)
    dummy = torch.zeros(1, *shape, device=first.device if first is not None else "cpu",
                        dtype=first.dtype if first is not None and first.is_floating_point() else torch.float32)
    rows, seen = [], set()

    def record(name, module, inputs, output):
        output = _first_tensor(output)
        own = 0 if module in seen else sum(p.numel() for p in module.parameters(recurse=False))
        seen.add(module)
        rows.append(LayerCount(name, type(module).__name__, tuple(output.shape[1:]) if output is not None else (),
                               own, _macs(module, output) if output is not None else 0))

    hooks = [module.register_forward_hook(lambda m, i, o, name=name: record(name, m, i, o))
             for name, module in model.named_modules() if _counted(module)]
    modes = {module: module.training for module in model.modules()}  # e.g. a frozen batch norm stays in eval
    try:
        model.eval()
        with torch.no_grad():
            model(dummy)
    except (RuntimeError, ValueError, TypeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"count(): {type(model).__name__} could not run on a dummy batch of shape {tuple(dummy.shape)} "
            f"(one example of shape {shape}): {reason}. Give input_shape as the shape of one example "
            "without the batch dimension, with the channels and size the model was built for."
        ) from error
    finally:
        for module, training in modes.items():
            module.train(training)
        for hook in hooks:
            hook.remove()
    kinds = {name: type(module).__name__ for name, module in model.named_modules()}
    return Summary(rows, shape, sum(p.numel() for p in model.parameters()), kinds)


# ------------------------------------------------------------------------------ receptive field

@dataclass(frozen=True)
class ReceptiveField:
    """What one output unit of a chain of layers sees, along one axis of the input (chapter 08).

    ``size``: how many input pixels one unit's patch spans; ``jump``: how many input pixels apart
    two neighbouring output units' patches are (the product of the strides); ``start``: the input
    index of the first pixel of output unit 0's patch, negative where the patch begins in the
    padding. Output unit ``i`` sees input pixels within ``start + i·jump`` to ``start + i·jump + size − 1``:
    all of them when the patch lies on the image and the stack has no dilation; near a border only
    part of the span is on the image, and dilations such as 2 then 2 skip pixels inside it.
    """

    size: int
    jump: int
    start: int

    def patch(self, index: int) -> tuple[int, int]:
        """The first and last input index (inclusive) that output unit ``index`` sees."""
        first = self.start + index * self.jump
        return first, first + self.size - 1


#: Layers that map each position to the same position: they leave the receptive field as it is.
_POINTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
              nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus, nn.Identity,
              nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
              nn.modules.batchnorm._BatchNorm, nn.LocalResponseNorm)
#: Layers after which every output value depends on the whole input.
_GLOBAL = (nn.Linear, nn.Flatten, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
           nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_WINDOWED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
             nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)


def _chain(layers, path=""):
    """The leaf layers of ``layers`` in the order a plain chain applies them, with their names."""
    if isinstance(layers, nn.Sequential):
        for name, child in layers.named_children():
            yield from _chain(child, f"{path}.{name}" if path else name)
    elif isinstance(layers, nn.Module):
        if next(layers.children(), None) is not None:
            raise ValueError(
                f"receptive_field() follows a plain chain of layers, and {path or 'the model'} "
                f"({type(layers).__name__}) has its own forward(): the order of its layers, and any branch "
                "such as a residual shortcut, cannot be read from it. Pass the chain itself, an nn.Sequential "
                "or a list of layers (e.g. model.features), or work the formula out by hand")
        yield path or type(layers).__name__, layers
    else:
        for number, layer in enumerate(layers):
            yield from _chain(layer, f"{path}.{number}" if path else str(number))


def _along(value, axis: int) -> int:
    return value[axis] if isinstance(value, (tuple, list)) else value


def receptive_field(layers, *, axis: int = 0) -> ReceptiveField:
    """The receptive field of one output unit of a chain of layers, along ``axis`` (0 = height).

    ``layers`` is an ``nn.Sequential`` (nested ones are followed) or a list of layers, applied in
    order. Convolutions and max or average pooling widen the field by (k − 1)·d·jump and multiply
    the jump by their stride; activations, batch norm and dropout leave it as it is. A layer after
    which every output depends on the whole input (Linear, Flatten, adaptive pooling), a module
    with its own ``forward()`` (a residual block) and an unknown layer are errors that say so.
    Introduced in chapter 08, which derives the recurrence and checks it by back-propagation.
    """
    size, jump, start = 1, 1, 0
    for name, layer in _chain(layers):
        if isinstance(layer, _WINDOWED):
            kernel, stride = _along(layer.kernel_size, axis), _along(layer.stride, axis)
            dilation = _along(getattr(layer, "dilation", 1), axis)
            padding = layer.padding
            if padding == "valid":
                padding = 0
            elif padding == "same":  # PyTorch puts the smaller half first
                padding = dilation * (kernel - 1) // 2
            start -= _along(padding, axis) * jump
            size += (kernel - 1) * dilation * jump
            jump *= stride
        elif isinstance(layer, _GLOBAL):
            raise ValueError(f"after layer {name} ({type(layer).__name__}) every output depends on the whole "
                             "input, so its receptive field is the whole image: pass only the layers before it")
        elif not isinstance(layer, _POINTWISE):
            raise ValueError(f"receptive_field() does not know how layer {name} ({type(layer).__name__}) moves "
                             "pixels. It knows convolutions, max and average pooling, and the pointwise layers "
                             "(activations, batch norm, dropout); leave the others out or work them out by hand")
    return ReceptiveField(size, jump, start)
