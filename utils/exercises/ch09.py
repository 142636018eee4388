"""Chapter 09 (classic CNNs) exercises: the block-by-block shapes and parameters of a VGG config, a
stack of 3×3 convolutions against one large kernel, an Inception module's channels and costs, and
LeNet-5's flatten size for a new input."""
from __future__ import annotations

from torch.utils import flop_counter

from utils import cnn, counting
from utils.exercises import Case, Forbidden, Mistake, Question, as_number, function_checker, parts, require

CHAPTER = "09"

#: Every question here counts by hand: the course's counter and PyTorch's would do it for them.
COUNTERS = Forbidden(
    "utils.counting.count or FlopCounterMode", objects=(counting.count, flop_counter.FlopCounterMode),
    names=frozenset({"FlopCounterMode", "flop_counter"}),  # by object, not by name: "count" is a common word
    why="counts the parameters and operations for you", why_zh="它替你数出了参数量和运算量",
    patch=((counting, "count", "utils.counting.count"),
           (flop_counter, "FlopCounterMode", "torch.utils.flop_counter.FlopCounterMode")))

BUILDER = Forbidden(
    "the course's VGG builder or counter",
    objects=(cnn.VGG, cnn.vgg_blocks, counting.count, flop_counter.FlopCounterMode),
    names=frozenset({"vgg_blocks", "FlopCounterMode", "flop_counter"}),
    why="builds (or counts) the network for you", why_zh="它替你搭出（或数出）了网络",
    patch=((cnn, "VGG", "utils.cnn.VGG"), (cnn, "vgg_blocks", "utils.cnn.vgg_blocks"),
           (counting, "count", "utils.counting.count"),
           (flop_counter, "FlopCounterMode", "torch.utils.flop_counter.FlopCounterMode")))


def _whole_numbers(values, name, what, what_zh):
    return tuple(as_number(value, name, integer=True, what=what, what_zh=what_zh) for value in values)


# q1 · a VGG config, block by block ---------------------------------------------------------------

def _vgg_shapes_and_parameters(config, in_channels, size):
    shapes, parameters, channels = [], 0, in_channels
    for item in config:
        if item == "M":  # a 2×2 max-pool closes the block: the size halves, rounding down
            size //= 2
            shapes.append((channels, size, size))
        else:  # a 3×3 convolution with padding 1: the size stays, the channels change
            parameters += item * (channels * 9 + 1)
            channels = item
    if config[-1] != "M":  # convolutions after the last pool form a block of their own
        shapes.append((channels, size, size))
    return shapes, parameters


def _vgg_variant(*, halve=lambda size: size // 2, padded=True, reads_input=False, bias=1, before_pool=False,
                 trailing=True):
    """A wrong reading of the config, one mistake at a time."""
    def walk(config, in_channels, size):
        shapes, parameters, channels = [], 0, in_channels
        for item in config:
            if item == "M":
                shapes.append((channels, size, size) if before_pool else (channels, halve(size), halve(size)))
                size = halve(size)
            else:
                parameters += item * ((in_channels if reads_input else channels) * 9 + bias)
                channels = item
                size = size if padded else size - 2
        if trailing and config[-1] != "M":
            shapes.append((channels, size, size))
        return shapes, parameters
    return walk


def _block_shapes(out, name):
    shapes, parameters = parts(out, 2, name, "(shapes, parameters)", "(shapes, parameters)：各块的输出形状和参数量",
                               tensors=False)
    require(isinstance(shapes, (list, tuple)) and all(isinstance(s, (list, tuple)) and len(s) == 3 for s in shapes),
            f"the first thing {name} returns should be a list with one shape per block, each (channels, height, "
            "width), e.g. [(64, 112, 112), ...]",
            zh=f"{name} 返回的第一样东西应当是一个列表，每块一个形状，形如 (通道数, 高, 宽)，例如 [(64, 112, 112), ...]")
    for shape in shapes:
        require(all(float(side).is_integer() for side in shape),
                f"the shape {tuple(shape)} has a fraction in it: sizes are whole numbers of pixels, and a 2×2 "
                "pool of an odd size rounds down (use //)",
                zh=f"形状 {tuple(shape)} 中有小数：尺寸是整数个像素，2×2 池化遇到奇数尺寸时向下取整（用 //）")
    count = as_number(parameters, name, integer=True, what="the number of parameters", what_zh="参数量")
    return [tuple(int(side) for side in shape) for shape in shapes], count


q1 = Question("q1", "a VGG config, block by block", chapter=CHAPTER, checker=function_checker(
    "vgg_shapes_and_parameters", _vgg_shapes_and_parameters, convert=_block_shapes, forbid=BUILDER,
    cases=[Case(cnn.VGG11, 3, 224, note="VGG-11 on a 224 × 224 photo", note_zh="224 × 224 照片上的 VGG-11"),
           Case(cnn.VGG_SMALL, 1, 8, note="the small VGG on 8 × 8 digits", note_zh="8 × 8 数字上的小 VGG"),
           Case([32, "M", 64, "M", 128, 128, "M"], 3, 100, note="sizes that become odd: 100 → 50 → 25 → …",
                note_zh="尺寸会变成奇数：100 → 50 → 25 → …"),
           Case([16, 16, "M", 32, "M", 48], 1, 28, note="convolutions after the last pool",
                note_zh="最后一个池化之后还有卷积"),
           Case(cnn.VGG16, 3, 32, note="VGG-16 on a 32 × 32 image", note_zh="32 × 32 图像上的 VGG-16"),
           Case([24, "M", 40, 40, "M", 56, "M", 72], 2, 45, hidden=True)],
    mistakes=[
        Mistake(_vgg_variant(halve=lambda size: (size + 1) // 2),
                "a 2×2 max-pool with stride 2 rounds down: the last row or column of an odd size is dropped, as "
                "chapter 08's output-size formula says",
                "步幅为 2 的 2×2 最大池化向下取整：奇数尺寸的最后一行或一列会被丢掉，正如第 08 章的输出尺寸公式所说"),
        Mistake(_vgg_variant(halve=lambda size: size),
                "every 'M' is a 2×2 max-pool that halves the height and the width; your sizes never shrink",
                "每个 'M' 都是一个把高和宽减半的 2×2 最大池化；你的尺寸从未变小"),
        Mistake(_vgg_variant(padded=False),
                "VGG pads every 3×3 convolution by 1, so a convolution keeps the size and only the pools shrink it",
                "VGG 的每个 3×3 卷积都填充 1，所以卷积保持尺寸不变，只有池化让它变小"),
        Mistake(_vgg_variant(reads_input=True),
                "each convolution reads the channels of the layer before it, not the image's channels: only the "
                "first one reads in_channels",
                "每个卷积读取的是前一层的通道，而不是图像的通道：只有第一个卷积读取 in_channels"),
        Mistake(_vgg_variant(bias=0),
                "each filter also has a bias: a 3×3 convolution from C to C′ channels has C′(9C + 1) parameters",
                "每个滤波器还有一个偏置：从 C 到 C′ 通道的 3×3 卷积有 C′(9C + 1) 个参数"),
        Mistake(_vgg_variant(before_pool=True),
                "a block's output is what comes out of its pool, after the halving, not the last convolution's "
                "output",
                "一个块的输出是它的池化层的输出（已经减半），而不是最后一个卷积的输出"),
        Mistake(_vgg_variant(trailing=False),
                "the convolutions after the last 'M' form a block of their own: give its shape too",
                "最后一个 'M' 之后的卷积自成一块：也要给出它的形状"),
    ],
    note=("utils.cnn.VGG builds these blocks, and count(model, shape).by_block(2) prints the same shapes.",
          "utils.cnn.VGG 会搭出这些块，count(model, shape).by_block(2) 会打印出同样的形状。")),
    hint="Walk through the config with three running values: the channels, the size and the parameter count. "
         "What does a number change, and what does an 'M' change?",
    reference=_vgg_shapes_and_parameters, title_zh="逐块读懂一个 VGG 配置",
    hint_zh="沿着配置逐项走，随时记着三个量：通道数、尺寸和参数量。一个数字改变什么？一个 'M' 又改变什么？")


# q2 · a stack of 3×3 convolutions against one large kernel -------------------------------------

def _stack_versus_single(c_in, c_out, layers, size):
    field = 2 * layers + 1  # each 3×3 layer at stride 1 widens the field by 2
    stack_parameters = c_out * (9 * c_in + 1) + (layers - 1) * c_out * (9 * c_out + 1)
    single_parameters = c_out * (field * field * c_in + 1)
    stack_macs = size * size * c_out * 9 * (c_in + (layers - 1) * c_out)  # padding keeps size × size
    single_macs = size * size * c_out * field * field * c_in
    return field, stack_parameters, single_parameters, stack_macs, single_macs


def _stack_variant(*, field=lambda n: 2 * n + 1, reads_input=False, bias=1, mac_bias=0, layers_costed=None,
                   shrink=False, factor=1):
    """A wrong comparison, one mistake at a time."""
    def compare(c_in, c_out, layers, size):
        k = field(layers)
        second = c_in if reads_input else c_out
        stack_parameters = c_out * (9 * c_in + bias) + (layers - 1) * c_out * (9 * second + bias)
        single_parameters = c_out * (k * k * c_in + bias)
        costed = layers if layers_costed is None else layers_costed
        sides = [size - 2 * (i + 1) if shrink else size for i in range(layers)]
        stack_macs = sum(sides[i] ** 2 * c_out * (9 * (c_in if i == 0 else second) + mac_bias)
                         for i in range(costed))
        single_side = size - (k - 1) if shrink else size
        single_macs = single_side ** 2 * c_out * (k * k * c_in + mac_bias)
        return k, stack_parameters, single_parameters, stack_macs * factor, single_macs * factor
    return compare


def _five_numbers(out, name):
    values = parts(out, 5, name, "(field, stack_parameters, single_parameters, stack_macs, single_macs)",
                   "(field, stack_parameters, single_parameters, stack_macs, single_macs)：感受野、两种做法的参数量和"
                   "乘加次数", tensors=False)
    return _whole_numbers(values, name, "each count", "每个计数")


q2 = Question("q2", "a stack of 3×3 convolutions against one large kernel", chapter=CHAPTER, checker=function_checker(
    "stack_versus_single", _stack_versus_single, convert=_five_numbers, forbid=COUNTERS,
    cases=[Case(64, 64, 2, 56, note="two layers, as in VGG's first stages", note_zh="两层，如 VGG 的前几个阶段"),
           Case(3, 64, 2, 32, note="the first layer reads an RGB image", note_zh="第一层读入 RGB 图像"),
           Case(128, 256, 3, 28, note="three layers that change the width", note_zh="三层，且改变了通道数"),
           Case(16, 16, 1, 10, note="a single layer: nothing to compare", note_zh="只有一层：无可比较"),
           Case(32, 48, 4, 14, note="four layers", note_zh="四层"),
           Case(24, 40, 3, 17, hidden=True)],
    mistakes=[
        Mistake(_stack_variant(field=lambda n: 3 * n),
                "stacked 3×3 windows overlap: each layer at stride 1 widens the receptive field by 2 pixels, not "
                "3 (chapter 08's recurrence)",
                "叠起来的 3×3 窗口相互重叠：步幅为 1 的每一层只让感受野扩大 2 个像素，而不是 3（第 08 章的递推式）"),
        Mistake(_stack_variant(reads_input=True),
                "only the first layer of the stack reads c_in channels; every later layer reads the c_out channels "
                "the layer before it produced",
                "只有堆叠中的第一层读取 c_in 个通道；之后的每一层读取的都是前一层产生的 c_out 个通道"),
        Mistake(_stack_variant(bias=0),
                "the biases are missing from the parameters: each filter has one, c_out per layer",
                "参数量里漏了偏置：每个滤波器有一个，每层 c_out 个"),
        Mistake(_stack_variant(mac_bias=1),
                "you counted the bias as a MAC; adding a bias is one addition, and by the chapter's convention "
                "only the products are counted",
                "你把偏置也算成了乘加运算；加偏置只是一次加法，按本章的约定只计乘积"),
        Mistake(_stack_variant(layers_costed=1),
                "every layer of the stack does its own work: add up the MACs of all the layers, not the first "
                "one's only",
                "堆叠中的每一层都有自己的计算量：要把所有层的乘加次数加起来，而不只是第一层的"),
        Mistake(_stack_variant(shrink=True),
                "both designs are padded so that the size stays size × size: every layer works at every one of "
                "the size × size positions",
                "两种做法都加了填充，使尺寸保持 size × size：每一层都在全部 size × size 个位置上计算"),
        Mistake(_stack_variant(factor=2),
                "those are FLOPs (2 per MAC: a multiply and an add); return MACs",
                "这是浮点运算次数 FLOPs（每次乘加算 2 次：一次乘法一次加法）；请返回乘加次数 MACs"),
    ],
    note=("The stack sees as far for fewer parameters and MACs, with a ReLU after every layer: why VGG used "
          "nothing but 3×3 kernels.",
          "堆叠的做法看得一样远，参数量和乘加次数却更少，而且每层之后都有 ReLU：这就是 VGG 只用 3×3 卷积核的原因。")),
    hint="First the receptive field of the stack, from chapter 08's recurrence; that fixes the large kernel. Then "
         "count each layer as C′(CK² + 1) parameters and H′W′C′CK² MACs, with the right C for each layer.",
    reference=_stack_versus_single, title_zh="一叠 3×3 卷积与一个大卷积核的比较",
    hint_zh="先用第 08 章的递推式求出堆叠的感受野，它决定了大卷积核的尺寸。然后每一层按 C′(CK² + 1) 个参数、"
            "H′W′C′CK² 次乘加来数，注意每层的 C 各是多少。")


# q3 · an Inception module ----------------------------------------------------------------------

def _inception_costs(in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj, size):
    out_channels = c1 + c3 + c5 + pool_proj  # the reductions are used up inside their branches
    weights = (in_channels * c1 + in_channels * c3_reduce + 9 * c3_reduce * c3 + in_channels * c5_reduce
               + 25 * c5_reduce * c5 + in_channels * pool_proj)  # the max-pool has no weights
    biases = c1 + c3_reduce + c3 + c5_reduce + c5 + pool_proj
    return out_channels, weights + biases, size * size * weights  # every convolution keeps size × size


def _inception_variant(*, out=None, k5=25, bias=1, bn=0, reduce=True, projection=True, mac_bias=0,
                       pool_macs=False):
    """A wrong count, one mistake at a time."""
    def costs(n, c1, c3r, c3, c5r, c5, pp, size):
        layers = [(n, c1, 1)]
        layers += [(n, c3r, 1), (c3r, c3, 9), (n, c5r, 1), (c5r, c5, k5)] if reduce else [(n, c3, 9), (n, c5, k5)]
        layers += [(n, pp, 1)] if projection else []
        channels = c1 + c3 + c5 + (pp if projection else n)
        if out is not None:
            channels = out(n, c1, c3r, c3, c5r, c5, pp)
        parameters = sum(c_out * (c_in * k + bias + bn) for c_in, c_out, k in layers)
        macs = size * size * sum(c_out * (c_in * k + mac_bias) for c_in, c_out, k in layers)
        return channels, parameters, macs + (size * size * n * 9 if pool_macs else 0)
    return costs


def _three_numbers(out, name):
    values = parts(out, 3, name, "(out_channels, parameters, macs)",
                   "(out_channels, parameters, macs)：输出通道数、参数量和乘加次数", tensors=False)
    return _whole_numbers(values, name, "each count", "每个计数")


_3A = (192, 64, 96, 128, 16, 32, 32)  # GoogLeNet's inception (3a): the chapter's example

q3 = Question("q3", "an Inception module's channels and costs", chapter=CHAPTER, checker=function_checker(
    "inception_costs", _inception_costs, convert=_three_numbers, forbid=COUNTERS,
    cases=[Case(*_3A, 28, note="inception (3a), the chapter's module", note_zh="inception (3a)，本章的模块"),
           Case(480, 192, 96, 208, 16, 48, 64, 14, note="inception (4a)", note_zh="inception (4a)"),
           Case(832, 384, 192, 384, 48, 128, 128, 7, note="inception (5b), the last one", note_zh="inception (5b)，最后一个"),
           Case(64, 16, 24, 32, 8, 16, 8, 10, note="a small module of your own", note_zh="一个自己设计的小模块"),
           Case(100, 30, 40, 50, 10, 20, 40, 5, note="a pool projection wider than the 1×1 branch",
                note_zh="池化投影比 1×1 分支还宽"),
           Case(256, 96, 64, 128, 32, 48, 16, 12, hidden=True)],
    mistakes=[
        Mistake(_inception_variant(out=lambda n, c1, c3r, c3, c5r, c5, pp: c1 + c3r + c3 + c5r + c5 + pp),
                "the 1×1 reductions are used up inside their branches: only the output of each branch's last "
                "layer is concatenated",
                "1×1 降维的输出在各自分支内部就被用掉了：只有每个分支最后一层的输出才被拼接起来"),
        Mistake(_inception_variant(projection=False),
                "the pool branch ends in a 1×1 projection to pool_proj channels; without it (the paper's 'naive' "
                "module) the max-pool would pass all in_channels on and the width would grow at every module",
                "池化分支的最后是一个投影到 pool_proj 个通道的 1×1 卷积；没有它（论文中的“朴素”模块），"
                "最大池化会把全部 in_channels 传下去，通道数每经过一个模块都会增长"),
        Mistake(_inception_variant(reduce=False),
                "the 3×3 and 5×5 convolutions read the 1×1 reductions' few channels, not the module's input: "
                "that is what makes them cheap",
                "3×3 和 5×5 卷积读取的是 1×1 降维后的少量通道，而不是模块的输入：正是这一点让它们变便宜"),
        Mistake(_inception_variant(k5=9),
                "the paper's third branch ends in a 5×5 convolution, 25 weights per pair of channels; a 3×3 there "
                "is torchvision's version, a known bug kept for its pretrained weights",
                "论文的第三条分支最后是 5×5 卷积，每对通道 25 个权重；那里用 3×3 是 torchvision 的版本，"
                "一个为了兼容预训练权重而保留的已知错误"),
        Mistake(_inception_variant(k5=9, bias=0, bn=2),
                "that is torchvision's block: a 3×3 where the paper has a 5×5, and batch norm (2 parameters per "
                "channel) instead of a bias. Count the paper's module",
                "这是 torchvision 的模块：论文用 5×5 的地方它用了 3×3，并用批归一化（每通道 2 个参数）代替偏置。"
                "请按论文的模块来数"),
        Mistake(_inception_variant(bias=0),
                "the biases are missing from the parameters: every convolution has one per output channel, the "
                "1×1 reductions too",
                "参数量里漏了偏置：每个卷积每个输出通道都有一个，1×1 降维也不例外"),
        Mistake(_inception_variant(mac_bias=1),
                "you counted the bias as a MAC; adding a bias is one addition, and by the chapter's convention "
                "only the products are counted",
                "你把偏置也算成了乘加运算；加偏置只是一次加法，按本章的约定只计乘积"),
        Mistake(_inception_variant(pool_macs=True),
                "you counted the 3×3 max-pool; it takes maxima, multiplies nothing, and costs 0 MACs by the "
                "chapter's convention",
                "你把 3×3 最大池化也算进去了；它只取最大值，没有乘法，按本章的约定乘加次数为 0"),
    ],
    note=("Every branch keeps the size (stride 1, 'same' padding), which is what lets torch.cat join them along "
          "the channels.",
          "每个分支都保持尺寸不变（步幅 1，“same”填充），所以 torch.cat 才能沿通道把它们拼起来。")),
    hint="List the module's six convolutions, each with its input channels, output channels and kernel; the "
         "max-pool has no weights. Which outputs are concatenated, and which are consumed inside a branch?",
    reference=_inception_costs, title_zh="Inception 模块的通道数与开销",
    hint_zh="列出模块里的六个卷积，各自的输入通道、输出通道和卷积核；最大池化没有权重。"
            "哪些输出被拼接起来，哪些在分支内部就被用掉了？")


# q4 · LeNet-5's flatten size for a new input -----------------------------------------------------

def _lenet_flatten_size(height, width, padding=0):
    def side(n):
        n = (n + 2 * padding - 4) // 2  # C1: a 5×5 convolution with this padding; S2 halves, rounding down
        return (n - 4) // 2  # C3: a 5×5 convolution without padding; S4 halves
    return 16 * side(height) * side(width)  # C3 has 16 maps


def _lenet_variant(*, maps=16, shrink=4, halve=lambda n: n // 2, pad=lambda n, p: n + 2 * p, pad_c3=False,
                   pools=True):
    """A wrong flatten size, one mistake at a time."""
    def size(height, width, padding=0):
        def side(n):
            n = pad(n, padding) - shrink
            n = halve(n) if pools else n
            n = (n + 2 * padding if pad_c3 else n) - shrink
            return halve(n) if pools else n
        return maps * side(height) * side(width)
    return size


def _flatten_count(out, name):
    if isinstance(out, (tuple, list)) or (hasattr(out, "numel") and out.numel() > 1):
        require(False, f"{name} returned several numbers, like a shape; the first linear layer wants one number, "
                       "the count of values in one flattened example (multiply them)",
                zh=f"{name} 返回了好几个数，像是一个形状；第一个线性层需要的是一个数：一个样本展平后的数值个数（把它们乘起来）")
    return as_number(out, name, integer=True, what="the flatten size", what_zh="展平后的大小")


q4 = Question("q4", "LeNet-5's flatten size for a new input", chapter=CHAPTER, checker=function_checker(
    "lenet_flatten_size", _lenet_flatten_size, convert=_flatten_count,
    cases=[Case(32, 32, note="the paper's 32 × 32", note_zh="论文的 32 × 32"),
           Case(28, 28, 2, note="MNIST's 28 × 28 with C1 padded by 2", note_zh="MNIST 的 28 × 28，C1 填充 2"),
           Case(28, 28, note="MNIST without padding", note_zh="不填充的 MNIST"),
           Case(36, 44, note="a wider than tall input", note_zh="宽大于高的输入"),
           Case(33, 47, 1, note="odd sizes: the pools round down", note_zh="奇数尺寸：池化向下取整"),
           Case(64, 48, 3, hidden=True)],
    mistakes=[
        Mistake(_lenet_variant(maps=1),
                "that is the number of positions; every position holds one value for each of C3's 16 maps",
                "这是位置的个数；每个位置上 C3 的 16 张特征图各有一个值"),
        Mistake(_lenet_variant(maps=6),
                "6 is C1's number of maps; the flattened tensor comes from S4, after C3, which has 16",
                "6 是 C1 的特征图数；被展平的张量来自 C3 之后的 S4，它有 16 张特征图"),
        Mistake(_lenet_variant(shrink=5),
                "a 5×5 convolution without padding takes away 4 pixels, not 5: it fits n − 5 + 1 times",
                "不填充的 5×5 卷积让尺寸减少 4 个像素，而不是 5：它能放下 n − 5 + 1 次"),
        Mistake(_lenet_variant(halve=lambda n: (n + 1) // 2),
                "a 2×2 pool with stride 2 rounds down: an odd row or column at the edge is dropped",
                "步幅为 2 的 2×2 池化向下取整：边上多出的一行或一列会被丢掉"),
        Mistake(_lenet_variant(pools=False),
                "S2 and S4 are missing: each 2×2 pooling halves the height and the width",
                "漏了 S2 和 S4：每个 2×2 池化都把高和宽减半"),
        Mistake(_lenet_variant(pad=lambda n, p: n),
                "C1's padding is missing: it adds `padding` pixels on every side before the convolution",
                "漏了 C1 的填充：在卷积之前，每一侧都要加上 `padding` 个像素"),
        Mistake(_lenet_variant(pad=lambda n, p: n + p),
                "padding adds `padding` pixels on BOTH sides, so the size grows by 2 × padding",
                "填充是在两侧各加 `padding` 个像素，所以尺寸增加 2 × padding"),
        Mistake(_lenet_variant(pad_c3=True),
                "only C1 is padded here; C3 has no padding",
                "这里只有 C1 有填充；C3 没有"),
    ],
    note=("This is the number LeNet5(input_size=...) works out for its first linear layer; the first linear "
          "layer of every classic CNN is sized the same way.",
          "LeNet5(input_size=...) 正是这样算出它第一个线性层的输入大小；每个经典 CNN 的第一个线性层都这样确定大小。")),
    hint="Follow one side through the four layers with chapter 08's output-size formula, then the other side; "
         "the flattened tensor has maps × height × width values.",
    reference=_lenet_flatten_size, title_zh="新输入尺寸下 LeNet-5 的展平大小",
    hint_zh="用第 08 章的输出尺寸公式让一条边依次经过四层，再算另一条边；展平后的张量有 特征图数 × 高 × 宽 个值。")

