"""Chapter 08 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import importlib

import torch
import torch.nn.functional as F
from torch import nn

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch08 as ex


# q1: the padding that keeps the size -------------------------------------------------------------

def symmetric(kernel, dilation=1):
    p = dilation * (kernel - 1) // 2
    return p, p


def half_the_kernel(kernel, dilation=1):
    return dilation * kernel // 2, dilation * kernel // 2


def extra_before(kernel, dilation=1):
    total = dilation * (kernel - 1)
    return total - total // 2, total // 2


def halves(kernel, dilation=1):
    return dilation * (kernel - 1) / 2, dilation * (kernel - 1) / 2


def copied_from_the_chapter(kernel, dilation=1):
    return 1, 2  # the 4×4 kernel's answer, for every kernel


# q2: a convolution by hand, with stride and padding ---------------------------------------------

def loops(x, weight, bias, stride, padding, *, flip=False, one_side=False, use_bias=True, detach=False):
    """A learner's loop convolution, with one of their mistakes switched on."""
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    if flip:
        weight = torch.flip(weight, dims=(2, 3))
    x = F.pad(x, (0, 2 * padding, 0, 2 * padding) if one_side else (padding,) * 4)
    h_out, w_out = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    out = torch.zeros(n, c_out, h_out, w_out)
    for i in range(h_out):
        for j in range(w_out):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            for o in range(c_out):
                value = (patch * weight[o]).sum(dim=(1, 2, 3)) + (bias[o] if use_bias else 0)
                out[:, o, i, j] = value.detach() if detach else value
    return out


def unfolded(x, weight, bias, stride, padding):
    """im2col, but forgetting the stride."""
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    columns = F.unfold(x, (kh, kw), padding=padding)  # stride 1
    out = weight.reshape(c_out, -1) @ columns + bias[:, None]
    return out.reshape(n, c_out, h + 2 * padding - kh + 1, w + 2 * padding - kw + 1)


def ignores_padding(x, weight, bias, stride, padding):
    return loops(x, weight, bias, stride, 0)


def bias_per_input_channel(x, weight, bias, stride, padding):
    out = loops(x, weight, torch.zeros_like(bias), stride, padding)
    return out + x.shape[1] * bias.view(1, -1, 1, 1)


def batch_summed(x, weight, bias, stride, padding):
    out = loops(x, weight, bias, stride, padding)
    return out.sum(dim=0, keepdim=True).repeat(x.shape[0], 1, 1, 1)


def with_the_library(x, weight, bias, stride, padding):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)


def with_a_layer(x, weight, bias, stride, padding):
    layer = nn.Conv2d(weight.shape[1], weight.shape[0], weight.shape[2:], stride=stride, padding=padding)
    layer.weight.data, layer.bias.data = weight, bias
    return layer(x)


def with_torch_conv2d(x, weight, bias, stride, padding):
    conv = torch.conv2d
    return conv(x, weight, bias, stride, padding)


def squeezed(x, weight, bias, stride, padding):
    return loops(x, weight, bias, stride, padding)[0]


# q3: how many layers to see the whole image ------------------------------------------------------

def adds_the_kernel(image_size, kernel, stride=1, dilation=1):
    field, jump, depth = 0, 1, 0
    while field < image_size:
        field += kernel * dilation * jump
        jump *= stride
        depth += 1
    return depth


def stride_before(image_size, kernel, stride=1, dilation=1):
    field, jump, depth = 1, 1, 0
    while field < image_size:
        jump *= stride
        field += (kernel - 1) * dilation * jump
        depth += 1
    return depth


def no_jump(image_size, kernel, stride=1, dilation=1):
    field, depth = 1, 0
    while field < image_size:
        field += (kernel - 1) * dilation
        depth += 1
    return depth


def no_dilation(image_size, kernel, stride=1, dilation=1):
    field, jump, depth = 1, 1, 0
    while field < image_size:
        field += (kernel - 1) * jump
        jump *= stride
        depth += 1
    return depth


def strictly_larger(image_size, kernel, stride=1, dilation=1):
    field, jump, depth = 1, 1, 0
    while field <= image_size:
        field += (kernel - 1) * dilation * jump
        jump *= stride
        depth += 1
    return depth


def one_short(image_size, kernel, stride=1, dilation=1):
    field, jump, depth = 1, 1, 0
    while field + (kernel - 1) * dilation * jump < image_size:
        field += (kernel - 1) * dilation * jump
        jump *= stride
        depth += 1
    return depth


def dilated_span_dk(image_size, kernel, stride=1, dilation=1):
    field, jump, depth = 1, 1, 0
    while field < image_size:
        field += (dilation * kernel - 1) * jump
        jump *= stride
        depth += 1
    return depth


def closed_form_without_stride(image_size, kernel, stride=1, dilation=1):
    import math
    return math.ceil((image_size - 1) / ((kernel - 1) * dilation))


# q4: counting a network's multiply-accumulates --------------------------------------------------

def walk(model, input_shape, conv_cost, linear=True, pooling=False):
    x, total = torch.zeros(1, *input_shape), 0
    for layer in model:
        y = layer(x)
        if isinstance(layer, nn.Conv2d):
            total += conv_cost(layer, x, y)
        elif isinstance(layer, nn.Linear) and linear:
            total += layer.in_features * layer.out_features
        elif isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)) and pooling:
            total += y.numel() * layer.kernel_size * layer.kernel_size
        x = y
    return total


def right_conv(layer, x, y):
    return y.numel() * layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]


def forgets_groups(model, shape):
    return walk(model, shape, lambda layer, x, y: y.numel() * layer.in_channels * layer.weight[0, 0].numel())


def input_size(model, shape):
    return walk(model, shape, lambda layer, x, y: x[0, 0].numel() * layer.weight.numel())


def counts_bias(model, shape):
    return walk(model, shape, lambda layer, x, y: y.numel() * (layer.weight[0].numel() + 1)) \
        + sum(m.out_features for m in model if isinstance(m, nn.Linear))


def forgets_linear(model, shape):
    return walk(model, shape, right_conv, linear=False)


def counts_pooling(model, shape):
    return walk(model, shape, right_conv, pooling=True)


def flops(model, shape):
    return 2 * walk(model, shape, right_conv)


def parameters(model, shape):
    return sum(p.numel() for p in model.parameters())


def no_channels(model, shape):
    return walk(model, shape, lambda layer, x, y: y.numel() * layer.kernel_size[0] * layer.kernel_size[1])


def with_the_counter(model, shape):
    from utils.counting import count
    return count(model, shape).macs


def with_flop_counter(model, shape):
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2


CATALOGUE = {
    "q1": [
        (symmetric, "padded both sides equally"),
        (half_the_kernel, "you padded k // 2 on both sides"),
        (extra_before, "the odd pixel is on the wrong side"),
        (lambda kernel, dilation=1: ((kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2), "the dilation is missing"),
        (lambda kernel, dilation=1: (dilation * kernel // 2, dilation * kernel - dilation * kernel // 2),
         "your total padding is d·k"),
        (lambda kernel, dilation=1: ((dilation * (kernel - 1) + 1) // 2, dilation * (kernel - 1) + 1
                                     - (dilation * (kernel - 1) + 1) // 2), "the dilated kernel's span, d(k − 1) + 1"),
        (lambda kernel, dilation=1: dilation * (kernel - 1), "returned one number"),
        (halves, "padding is a whole number of pixels"),
        (copied_from_the_chapter, "is the result hard-coded"),
        (lambda kernel, dilation=1: "same", "should return two numbers"),
    ],
    "q2": [
        (lambda *a: loops(*a, flip=True), "you flipped the kernel"),
        (unfolded, "the stride is missing"),
        (ignores_padding, "the padding is missing"),
        (lambda *a: loops(*a, one_side=True), "you padded on one side only"),
        (lambda *a: loops(*a, use_bias=False), "the bias is missing"),
        (bias_per_input_channel, "once per input channel"),
        (batch_summed, "the examples of the batch were mixed"),
        (lambda *a: loops(*a, detach=True), "carries no gradient"),
        (with_the_library, "which computes the convolution for you"),
        (with_a_layer, "`Conv2d`"),
        (with_torch_conv2d, "`conv2d`"),
        (squeezed, "4 dimensions [N, C_out, H_out, W_out]"),
        (lambda *a: loops(*a).tolist(), "as a tensor"),
    ],
    "q3": [
        (adds_the_kernel, "not by k"),
        (stride_before, "a layer's own stride spaces the units of the NEXT layer"),
        (no_jump, "the stride is missing"),
        (no_dilation, "the dilation is missing"),
        (strictly_larger, "(≥, not >)"),
        (one_short, "one layer short"),
        (dilated_span_dk, "spans d(k − 1) + 1 pixels, not d·k"),
        (closed_form_without_stride, "the stride is missing"),
        (lambda image_size, kernel, stride=1, dilation=1: 112, "is the result hard-coded"),
        (lambda image_size, kernel, stride=1, dilation=1: (image_size - 1) / (kernel - 1), "as a whole number"),
    ],
    "q4": [
        (forgets_groups, "read only C/groups input channels"),
        (input_size, "multiplied by the input's height and width"),
        (counts_bias, "you counted the bias as a MAC"),
        (forgets_linear, "the linear layer is missing"),
        (counts_pooling, "you counted pooling"),
        (flops, "that is the number of FLOPs"),
        (parameters, "that is the number of parameters"),
        (no_channels, "a sum over the input channels too"),
        (with_the_counter, "which counts the operations for you"),
        (with_flop_counter, "`FlopCounterMode`"),
        (lambda model, shape: torch.tensor([1.0, 2.0]), "as one number"),
    ],
}


def test_q1_answers_agree_with_pytorchs_same_padding():
    for kernel, dilation in [(2, 1), (4, 1), (4, 3), (5, 2), (6, 1), (3, 3)]:
        x = torch.randn(1, 1, 11, 11)
        weight = torch.randn(1, 1, kernel, kernel)
        before, after = ex._same_padding(kernel, dilation)
        by_hand = F.conv2d(F.pad(x, (before, after, before, after)), weight, dilation=dilation)
        torch.testing.assert_close(by_hand, F.conv2d(x, weight, padding="same", dilation=dilation))


def test_q2_reference_equals_f_conv2d_and_accepts_an_unfold_answer():
    for case in ex.q2._checker.cases:
        x, weight, bias, stride, padding = case.args
        torch.testing.assert_close(ex._conv2d_by_hand(x, weight, bias, stride, padding),
                                   F.conv2d(x, weight, bias, stride=stride, padding=padding))

    def im2col(x, weight, bias, stride, padding):
        n, _, h, w = x.shape
        c_out, _, kh, kw = weight.shape
        columns = F.unfold(x, (kh, kw), padding=padding, stride=stride)
        h_out, w_out = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
        return (weight.reshape(c_out, -1) @ columns + bias[:, None]).reshape(n, c_out, h_out, w_out)

    assert ex.q2.check(im2col).passed
    ones = torch.ones(1, 1, 3, 3)  # the forbidden functions refuse only while an answer runs, not after
    assert F.conv2d(ones, ones).item() == torch.conv2d(ones, ones).item() == 9
    assert nn.Conv2d(1, 1, 3)(ones).shape == (1, 1, 1, 1)


def test_q3_reference_matches_the_receptive_field_helper():
    from utils.counting import receptive_field

    for size, kernel, stride, dilation in [(224, 3, 1, 1), (224, 3, 2, 1), (28, 3, 2, 2), (100, 3, 3, 1)]:
        depth = ex._layers_to_cover(size, kernel, stride, dilation)
        layer = lambda: nn.Conv2d(1, 1, kernel, stride=stride, dilation=dilation)  # noqa: E731
        assert receptive_field([layer() for _ in range(depth)]).size >= size
        assert receptive_field([layer() for _ in range(depth - 1)]).size < size


def test_q4_reference_matches_the_counter_and_the_checker_leaves_the_rng_alone():
    from utils.counting import count

    for case in ex.q4._checker.cases:
        assert ex._count_macs(*case.args) == count(*case.args).macs
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    importlib.reload(ex)  # building the checker's networks must not move the learner's random numbers
    assert torch.equal(torch.rand(3), expected)
