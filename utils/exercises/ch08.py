"""Chapter 08 (convolution) exercises: the padding that keeps the size, a convolution by hand with
stride and padding, the depth a stack needs to see a whole image, and counting a network's MACs."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import flop_counter

from utils import counting
from utils.exercises import (Case, Forbidden, Mistake, Question, as_number, as_tensor, forbidding,
                             function_checker, require)

CHAPTER = "08"


# q1 · the padding that keeps the size ----------------------------------------------------------

def _same_padding(kernel, dilation=1):
    total = dilation * (kernel - 1)  # the dilated kernel spans total + 1 pixels
    before = total // 2
    return before, total - before  # PyTorch puts the odd pixel after (right, bottom)


def _split(total):
    return total // 2, total - total // 2


def _two_paddings(out, name):
    if isinstance(out, (int, float)) or (torch.is_tensor(out) and out.numel() == 1):
        require(False, f"{name} returned one number; return two, (before, after): the padding on the left (top) "
                       "and on the right (bottom), which need not be equal",
                zh=f"{name} 只返回了一个数；请返回两个数 (before, after)：左侧（上方）和右侧（下方）的填充，"
                   "两者不一定相等")
    require(isinstance(out, (tuple, list)) and len(out) == 2,
            f"{name} should return two numbers, (before, after); it returned {type(out).__name__}",
            zh=f"{name} 应当返回两个数 (before, after)；它返回的是 {type(out).__name__}")
    paddings = tuple(as_number(part, name, what="a padding", what_zh="填充量") for part in out)
    require(all(float(p).is_integer() for p in paddings),
            f"{name} returned {paddings}: padding is a whole number of pixels on each side. When the total is "
            "odd it cannot be split evenly; one side gets the extra pixel",
            zh=f"{name} 返回了 {paddings}：每一侧的填充都是整数个像素。总量为奇数时无法平分，"
               "有一侧要多填一个像素")
    return tuple(int(p) for p in paddings)


q1 = Question("q1", "the padding that keeps the size", chapter=CHAPTER, checker=function_checker(
    "same_padding", _same_padding, convert=_two_paddings,
    cases=[Case(3), Case(4, note="an even kernel", note_zh="偶数大小的卷积核"), Case(5, 2, note="a dilation of 2",
                                                                               note_zh="空洞率为 2"),
           Case(2, note="the smallest even kernel", note_zh="最小的偶数卷积核"), Case(1, note="a 1×1 kernel",
                                                                               note_zh="1×1 卷积核"),
           Case(4, 3, note="an even kernel with dilation 3", note_zh="偶数卷积核，空洞率为 3"),
           Case(6, 2), Case(8, hidden=True)],
    mistakes=[
        Mistake(lambda k, d=1: (d * (k - 1) // 2, d * (k - 1) // 2),
                "you padded both sides equally, d(k − 1) // 2 each: when d(k − 1) is odd (an even kernel) that "
                "loses a pixel, and the output comes out one smaller. PyTorch pads the odd pixel on one side only",
                "你在两侧填充了同样多的 d(k − 1) // 2：当 d(k − 1) 为奇数（偶数大小的卷积核）时会少一个像素，"
                "输出会小一个。PyTorch 只在一侧多填那个像素"),
        Mistake(lambda k, d=1: (d * k // 2, d * k // 2),
                "you padded k // 2 on both sides: for an even kernel that adds one pixel too many and the output "
                "grows by one. The total padding must equal what the kernel takes away",
                "你在两侧各填充了 k // 2：对偶数卷积核这多填了一个像素，输出会多出一个。填充的总量必须等于卷积核"
                "让输出缩小的量"),
        Mistake(lambda k, d=1: _split(d * (k - 1))[::-1],
                "the odd pixel is on the wrong side: PyTorch's padding='same' (like TensorFlow's 'SAME') puts "
                "the smaller half before (left, top) and the extra pixel after (right, bottom)",
                "多出的那个像素放错了一侧：PyTorch 的 padding='same'（和 TensorFlow 的 'SAME' 一样）把较小的一半"
                "放在前面（左、上），多出的像素放在后面（右、下）"),
        Mistake(lambda k, d=1: _split(k - 1),
                "the dilation is missing: a kernel of k taps with dilation d spans d(k − 1) + 1 pixels, so it "
                "shrinks the output by d(k − 1)",
                "漏了空洞率：k 个抽头、空洞率为 d 的卷积核跨越 d(k − 1) + 1 个像素，所以会让输出缩小 d(k − 1)"),
        Mistake(lambda k, d=1: _split(d * k),
                "your total padding is d·k; a layer takes away one pixel less than its span, so the total is "
                "d(k − 1). Check with a 1×1 kernel: it needs no padding at all",
                "你的填充总量是 d·k；一层让输出缩小的量比它的跨度少一个像素，所以总量是 d(k − 1)。"
                "用 1×1 卷积核检验一下：它完全不需要填充"),
        Mistake(lambda k, d=1: _split(d * (k - 1) + 1),
                "your total padding is the dilated kernel's span, d(k − 1) + 1; the output shrinks by one pixel "
                "less than that. Check with a 1×1 kernel: it needs no padding at all",
                "你的填充总量是膨胀后卷积核的跨度 d(k − 1) + 1；输出缩小的量比它少一个像素。"
                "用 1×1 卷积核检验一下：它完全不需要填充"),
    ],
    note=("With these paddings nn.Conv2d(..., padding='same') and F.pad followed by a convolution without "
          "padding give the same numbers; padding='same' is refused for strides above 1.",
          "用这样的填充量，nn.Conv2d(..., padding='same') 与先 F.pad 再做不填充的卷积给出相同的结果；"
          "步幅大于 1 时 padding='same' 会被拒绝。")),
    hint="How many pixels does the kernel take away from the output when there is no padding? Padding must give "
         "exactly that many back, split between the two sides.",
    reference=_same_padding, title_zh="保持尺寸不变的填充",
    hint_zh="不加填充时，卷积核会让输出少多少个像素？填充必须恰好把这么多补回来，分在两侧。")


# q2 · a convolution by hand, with stride and padding ---------------------------------------------

def _conv2d_by_hand(x, weight, bias, stride=1, padding=0):
    n, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    padded = F.pad(x, (padding, padding, padding, padding))  # zeros on all four sides
    h_out, w_out = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    rows = []
    for i in range(h_out):
        row = []
        for j in range(w_out):
            patch = padded[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]  # [N, C, kh, kw]
            row.append((patch[:, None] * weight).sum(dim=(2, 3, 4)))  # [N, C_out]: no kernel flip
        rows.append(torch.stack(row, dim=-1))
    return torch.stack(rows, dim=-2) + bias.view(1, c_out, 1, 1)


def _variant(*, flip=False, stride_one=False, no_padding=False, pad_after=False, bias_per_channel=False,
             with_bias=True, mix_batch=False):
    """A wrong version of the convolution, one mistake at a time."""
    def conv(x, weight, bias, stride=1, padding=0):
        kernel = weight.flip(-2, -1) if flip else weight
        stride, padding = (1 if stride_one else stride), (0 if no_padding else padding)
        padded = F.pad(x, (0, 2 * padding, 0, 2 * padding)) if pad_after else x
        bias = bias * (x.shape[1] if bias_per_channel else 1) if with_bias else torch.zeros_like(bias)
        out = _conv2d_by_hand(padded, kernel, bias, stride, 0 if pad_after else padding)
        if mix_batch:
            out = out.sum(dim=0, keepdim=True).expand_as(out)
        return out
    return conv


def _feature_map(out, name):
    out = as_tensor(out, name, floating=True, what="the feature maps", what_zh="特征图")
    require(out.ndim == 4, f"{name} should return a batch of feature maps, 4 dimensions [N, C_out, H_out, W_out]; it "
                           f"returned shape {tuple(out.shape)}. Keep the batch and the channel dimensions",
            zh=f"{name} 应当返回一批特征图，4 个维度 [N, C_out, H_out, W_out]；它返回的形状是 {tuple(out.shape)}。"
               "请保留批次维度和通道维度")
    return out


def _images(seed, n, c, h, w, c_out, k, stride, padding, *, kw=None, hidden=False, note="", note_zh=""):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=generator)
    weight = torch.randn(c_out, c, k, kw or k, generator=generator)
    bias = torch.randn(c_out, generator=generator)
    return Case(x, weight, bias, stride, padding, hidden=hidden, note=note, note_zh=note_zh)


_SIX = torch.tensor([[1, 0, 0, 0, 0, 1], [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0],
                     [1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0], [0, 0, 1, 0, 1, 0]], dtype=torch.float32)
_FILTERS = torch.tensor([[[1, -1, -1], [-1, 1, -1], [-1, -1, 1]],
                         [[-1, 1, -1], [-1, 1, -1], [-1, 1, -1]]], dtype=torch.float32)

CONV2D = forbidding("F.conv2d", ["torch.nn.functional.conv2d", "torch.conv2d", "torch.nn.Conv2d", "torch.convolution"],
                    why="computes the convolution for you", why_zh="它替你算出了卷积")

q2 = Question("q2", "a convolution by hand, with stride and padding", chapter=CHAPTER, checker=function_checker(
    "conv2d_by_hand", _conv2d_by_hand, convert=_feature_map, forbid=CONV2D, gradients=True,
    cases=[
        Case(_SIX[None, None], _FILTERS[:, None], torch.zeros(2), 2, 0,
             note="the chapter's 6×6 image and its two filters, stride 2", note_zh="本章的 6×6 图像和两个滤波器，步幅 2"),
        _images(1, 2, 3, 7, 7, 4, 3, 2, 1, note="3 input channels, stride 2, padding 1",
                note_zh="3 个输入通道，步幅 2，填充 1"),
        _images(2, 1, 2, 8, 8, 3, 3, 2, 0, note="a stride that does not divide the size", note_zh="步幅不能整除尺寸"),
        _images(3, 1, 1, 6, 6, 2, 4, 1, 2, note="an even kernel with padding 2", note_zh="偶数卷积核，填充 2"),
        _images(4, 1, 2, 6, 7, 2, 2, 1, 1, kw=3, note="a 2×3 kernel on a 6×7 image", note_zh="6×7 图像上的 2×3 卷积核"),
        _images(5, 2, 2, 9, 9, 3, 5, 3, 2, hidden=True),
    ],
    mistakes=[
        Mistake(_variant(flip=True), "you flipped the kernel: that is convolution as mathematics defines it, but "
                                     "PyTorch's conv2d computes a cross-correlation, the sum of patch × kernel with "
                                     "no flip",
                "你把卷积核翻转了：那是数学定义的卷积，而 PyTorch 的 conv2d 计算的是互相关，"
                "即图块 × 卷积核之和，不翻转"),
        Mistake(_variant(stride_one=True), "the stride is missing: with stride s the window moves s pixels at a "
                                           "time, so output (i, j) reads the patch that starts at (i·s, j·s)",
                "漏了步幅：步幅为 s 时窗口每次移动 s 个像素，所以输出 (i, j) 读取从 (i·s, j·s) 开始的图块"),
        Mistake(_variant(no_padding=True), "the padding is missing: add `padding` rows and columns of zeros around "
                                           "the image before sliding the window (F.pad does it)",
                "漏了填充：在滑动窗口之前，先在图像四周加上 `padding` 行和列的零（F.pad 可以做到）"),
        Mistake(_variant(pad_after=True), "you padded on one side only (2·padding after the image); the zeros go on "
                                          "both sides, `padding` before and `padding` after, in both directions",
                "你只在一侧填充了（图像之后 2·padding）；零要加在两侧：前面 `padding` 个，后面 `padding` 个，"
                "两个方向都是如此"),
        Mistake(_variant(with_bias=False), "the bias is missing: add bias[o] to every value of output channel o",
                "漏了偏置：输出通道 o 的每个值都要加上 bias[o]"),
        Mistake(_variant(bias_per_channel=True), "the bias was added once per input channel; add it once per "
                                                 "output value, after summing over the input channels",
                "偏置对每个输入通道都加了一次；应在对输入通道求和之后，对每个输出值只加一次"),
        Mistake(_variant(mix_batch=True), "the examples of the batch were mixed: each image's output must depend on "
                                          "that image alone. Sum over the channels and the kernel, not over the batch",
                "批次中的样本被混在一起了：每张图像的输出只能取决于它自己。"
                "对通道和卷积核的位置求和，而不是对批次求和"),
    ],
    note=("Each output value is one dot product of a patch with a filter: a whole layer is a big matrix product "
          "(im2col), which is how libraries compute it fast.",
          "每个输出值就是一个图块与一个滤波器的点积：整层就是一次大的矩阵乘法（im2col），"
          "库正是这样快速计算卷积的。")),
    hint="Pad first. Then, for each output position (i, j), cut out the patch that starts at (i·stride, j·stride), "
         "multiply it by every filter and sum over the input channels and the kernel's rows and columns.",
    reference=_conv2d_by_hand, title_zh="带步幅和填充的手写卷积",
    hint_zh="先填充。然后对每个输出位置 (i, j)，切出从 (i·stride, j·stride) 开始的图块，"
            "与每个滤波器逐元素相乘，再对输入通道以及卷积核的行和列求和。")


# q3 · how many layers to see the whole image ----------------------------------------------------

def _layers_to_cover(image_size, kernel, stride=1, dilation=1):
    field, jump, depth = 1, 1, 0
    while field < image_size:
        field += (kernel - 1) * dilation * jump  # this layer's kernel, spaced by the strides before it
        jump *= stride
        depth += 1
    return depth


def _grows(step, *, stop=lambda field, size: field < size, stride_first=False, extra=0):
    """A wrong depth count: ``step(kernel, dilation)`` pixels per layer, times the jump."""
    def depth(image_size, kernel, stride=1, dilation=1):
        field, jump, layers = 1, 1, 0
        while stop(field, image_size) and layers < 10_000:
            if stride_first:
                jump *= stride
            field += step(kernel, dilation) * jump
            if not stride_first:
                jump *= stride
            layers += 1
        return layers + extra
    return depth


def _whole_number(out, name):
    return as_number(out, name, integer=True, what="the number of layers", what_zh="层数")


q3 = Question("q3", "how many layers to see the whole image", chapter=CHAPTER, checker=function_checker(
    "layers_to_cover", _layers_to_cover, convert=_whole_number,
    cases=[Case(224, 3), Case(224, 3, 2, note="stride 2 in every layer", note_zh="每层步幅为 2"),
           Case(224, 3, 1, 2, note="dilation 2", note_zh="空洞率为 2"),
           Case(9, 3, note="a field that reaches the size exactly", note_zh="感受野恰好等于图像尺寸"),
           Case(7, 7, note="one layer is enough", note_zh="一层就够"), Case(32, 5),
           Case(28, 3, 2, 2, note="stride and dilation", note_zh="步幅和空洞率"),
           Case(100, 3, 3, hidden=True)],
    mistakes=[
        Mistake(_grows(lambda k, d: k * d), "each layer widens the field by d(k − 1)·jump, not by k: neighbouring "
                                            "windows share all but one of their columns. Two 3×3 layers see 5×5, "
                                            "not 6×6",
                "每一层让感受野增加 d(k − 1)·jump，而不是 k：相邻的窗口只差一列。两层 3×3 看到的是 5×5，而不是 6×6"),
        Mistake(_grows(lambda k, d: (k - 1) * d, stride_first=True),
                "a layer's own stride spaces the units of the NEXT layer, not its own taps: multiply the jump by "
                "the stride after the layer has widened the field",
                "一层自身的步幅决定的是下一层单元之间的间距，而不是它自己的抽头：应在这一层扩大感受野之后，"
                "再把 jump 乘以步幅"),
        Mistake(lambda size, k, s=1, d=1: _layers_to_cover(size, k, 1, d),
                "the stride is missing: after a stride-s layer, neighbouring units sit s pixels apart, so every "
                "later layer's kernel spans s times as many input pixels (the jump)",
                "漏了步幅：经过步幅为 s 的层之后，相邻单元相隔 s 个像素，所以之后每层卷积核跨越的输入像素"
                "都要乘以 s（即 jump）"),
        Mistake(lambda size, k, s=1, d=1: _layers_to_cover(size, k, s, 1),
                "the dilation is missing: a dilated kernel's taps are d apart, so it widens the field d times as "
                "much",
                "漏了空洞率：空洞卷积核的抽头相隔 d，所以它让感受野扩大为原来的 d 倍"),
        Mistake(_grows(lambda k, d: (k - 1) * d, stop=lambda field, size: field <= size),
                "you stop only when the field is larger than the image; a field exactly as wide as the image "
                "already sees all of it (≥, not >)",
                "你只在感受野大于图像时才停下；感受野恰好和图像一样宽时就已经看到了整张图（≥，而不是 >）"),
        Mistake(_grows(lambda k, d: (k - 1) * d, extra=-1),
                "one layer short: count every layer you add, including the one that makes the field reach the "
                "image size",
                "少数了一层：每加一层都要计数，包括让感受野达到图像尺寸的那一层"),
        Mistake(_grows(lambda k, d: d * k - 1),
                "a dilated kernel spans d(k − 1) + 1 pixels, not d·k: it widens the field by d(k − 1)·jump",
                "空洞卷积核跨越 d(k − 1) + 1 个像素，而不是 d·k：它让感受野增加 d(k − 1)·jump"),
    ],
    note=("Plain 3×3 layers need over a hundred layers to see a 224-pixel image; strides or dilations get there "
          "in a handful, which is why real networks downsample.",
          "普通的 3×3 层需要一百多层才能看到 224 像素的图像；用步幅或空洞只需寥寥几层，这就是实际网络要下采样的原因。")),
    hint="The chapter's recurrence gives the field (and the jump) after each layer. Add layers one at a time: at "
         "which depth is the field first wide enough?",
    reference=_layers_to_cover, title_zh="看到整张图像需要几层",
    hint_zh="本章的递推式给出每加一层之后的感受野（和 jump）。一次加一层：到第几层时感受野第一次足够宽？")


# q4 · counting a network's multiply-accumulates --------------------------------------------------

def _count_macs(model, input_shape):
    x = torch.zeros(1, *input_shape)
    macs = 0
    for layer in model:
        y = layer(x)
        if isinstance(layer, nn.Conv2d):  # each output value: a sum over C/groups channels × the kernel
            k_h, k_w = layer.kernel_size
            macs += y[0].numel() * (layer.in_channels // layer.groups) * k_h * k_w
        elif isinstance(layer, nn.Linear):  # each output: a sum over the inputs
            macs += layer.in_features * layer.out_features
        x = y  # pooling, activations, flattening: 0 MACs by the usual convention
    return macs


def _macs_with(*, groups=True, output=True, channels=True, bias=0, linear=True, pooling=False, factor=1):
    """A wrong MAC count, one mistake at a time."""
    def macs(model, input_shape):
        x, total = torch.zeros(1, *input_shape), 0
        for layer in model:
            y = layer(x)
            if isinstance(layer, nn.Conv2d):
                positions = (y if output else x)[0, 0].numel()
                reads = (layer.in_channels // (layer.groups if groups else 1) if channels else 1)
                total += positions * layer.out_channels * reads * layer.kernel_size[0] * layer.kernel_size[1]
                total += bias * y[0].numel() * (layer.bias is not None)
            elif isinstance(layer, nn.Linear) and linear:
                total += layer.in_features * layer.out_features + bias * layer.out_features
            elif isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)) and pooling:
                total += y[0].numel() * layer.kernel_size ** 2
            x = y
        return total * factor
    return macs


with torch.random.fork_rng():  # building layers draws weights: leave the learner's random numbers alone
    _MAC_CASES = [
        Case(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                           nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                           nn.Linear(16 * 4 * 4, 10)), (3, 16, 16),
             note="a small classifier with pooling, a stride and a linear head",
             note_zh="带池化、步幅和线性输出层的小分类器"),
        Case(nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 32, 1), nn.ReLU()), (16, 12, 12),
             note="a depthwise-separable block", note_zh="深度可分离卷积块"),
        Case(nn.Sequential(nn.Conv2d(8, 12, 3, groups=4, bias=False), nn.BatchNorm2d(12), nn.ReLU()), (8, 10, 10),
             note="a grouped convolution without bias", note_zh="无偏置的分组卷积"),
        Case(nn.Sequential(nn.Conv2d(1, 6, 5), nn.AvgPool2d(2), nn.Tanh(), nn.Conv2d(6, 4, (3, 5), stride=(1, 2))),
             (1, 20, 14), note="a non-square input and kernel", note_zh="非正方形的输入和卷积核"),
        Case(nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8),
                           nn.Conv2d(8, 6, 1), nn.AvgPool2d(3), nn.Flatten(), nn.Linear(54, 3)), (4, 18, 18),
             hidden=True),
    ]

COUNTERS = Forbidden(
    "utils.counting.count or FlopCounterMode", objects=(counting.count, flop_counter.FlopCounterMode),
    names=frozenset({"FlopCounterMode", "flop_counter"}),  # by object, not by name: "count" is a common word
    why="counts the operations for you", why_zh="它替你数出了运算量",
    patch=((counting, "count", "utils.counting.count"),
           (flop_counter, "FlopCounterMode", "torch.utils.flop_counter.FlopCounterMode")))


q4 = Question("q4", "counting a network's multiply-accumulates", chapter=CHAPTER, checker=function_checker(
    "count_macs", _count_macs, convert=lambda out, name: as_number(out, name, integer=True, what="the number of MACs",
                                                                   what_zh="乘加运算次数"),
    forbid=COUNTERS, cases=_MAC_CASES,
    mistakes=[
        Mistake(_macs_with(groups=False), "a grouped convolution's filters read only C/groups input channels each; "
                                          "your count treats them as reading all C, too many for the depthwise and "
                                          "grouped layers",
                "分组卷积的每个滤波器只读取 C/groups 个输入通道；你的计数当成读取了全部 C 个，"
                "对深度卷积和分组卷积层数多了"),
        Mistake(_macs_with(output=False), "you multiplied by the input's height and width; the work is done once per "
                                          "OUTPUT position, H′·W′, which the stride and the padding set",
                "你乘的是输入的高和宽；计算是对每个输出位置做一次，即 H′·W′，它由步幅和填充决定"),
        Mistake(_macs_with(channels=False), "each output value is a sum over the input channels too: a filter has "
                                            "(C/groups)·K_h·K_w weights, one MAC each",
                "每个输出值还要对输入通道求和：一个滤波器有 (C/groups)·K_h·K_w 个权重，每个权重一次乘加"),
        Mistake(_macs_with(bias=1), "you counted the bias as a MAC; adding a bias is one addition, not a "
                                    "multiply-accumulate, and the usual convention leaves it out",
                "你把偏置也算成了乘加运算；加偏置只是一次加法，不是乘加，通常的约定不计入"),
        Mistake(_macs_with(linear=False), "the linear layer is missing: it costs in_features × out_features MACs "
                                          "per example",
                "漏了线性层：每个样本它要花 in_features × out_features 次乘加"),
        Mistake(_macs_with(pooling=True), "you counted pooling; it has no multiplications, and by the chapter's "
                                          "convention only convolutions and linear layers count",
                "你把池化也算进去了；池化没有乘法，按本章的约定只计卷积层和线性层"),
        Mistake(_macs_with(factor=2), "that is the number of FLOPs (2 per MAC: a multiply and an add); return MACs",
                "这是浮点运算次数 FLOPs（每次乘加算 2 次：一次乘法一次加法）；请返回乘加次数 MACs"),
        Mistake(lambda model, shape: sum(p.numel() for p in model.parameters()),
                "that is the number of parameters: a convolution applies its weights at every output position, "
                "so its MACs are the weights times H′·W′",
                "这是参数量：卷积在每个输出位置都要用一遍它的权重，所以乘加次数是权重数乘以 H′·W′"),
    ],
    note=("utils.counting.count(model, input_shape) gives the same total, with one row per layer.",
          "utils.counting.count(model, input_shape) 给出同样的总数，并逐层列出。")),
    hint="Run the layers one at a time on a zero input of shape (1, *input_shape) to learn each output's size; a "
         "convolution costs one filter's weights (without the bias) per output value, a linear layer in × out.",
    reference=_count_macs, title_zh="数一个网络的乘加运算次数",
    hint_zh="在形状为 (1, *input_shape) 的全零输入上逐层运行，得到每层输出的尺寸；卷积对每个输出值花费一个"
            "滤波器的权重数（不含偏置）次乘加，线性层花费 in × out 次。")
