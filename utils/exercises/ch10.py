"""Chapter 10 (residual nets) exercises: a BasicBlock's forward pass with its projection shortcut, the
weight layers and parameters of a ResNet from its stage configuration, the shape after each stage, and
a Bottleneck block with three bugs to find."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from utils import resnet
from utils.exercises import Case, Mistake, Question, as_number, as_tensor, forbidding, function_checker, parts, require

CHAPTER = "10"


def _fresh(build):
    """A block or network from utils.resnet, built without moving the learner's random numbers."""
    with torch.random.fork_rng(devices=[]):
        return build()


def _batch_norm(h):
    """A freshly built batch norm in training mode: batch statistics, γ = 1, β = 0."""
    return F.batch_norm(h, None, None, training=True)


def _weights(seed, shapes):
    generator = torch.Generator().manual_seed(seed)
    return [None if shape is None else torch.randn(*shape, generator=generator) for shape in shapes]


BLOCKS = forbidding("utils.resnet's blocks", ["utils.resnet.BasicBlock", "utils.resnet.Bottleneck",
                                               "torchvision.models.resnet.BasicBlock",
                                               "torchvision.models.resnet.Bottleneck",
                                               "torch.func.functional_call"],
                    names=["ResidualBlock"],
                    why="runs a ready-made block for you", why_zh="它替你运行了一个现成的残差块")


def _block_output(out, name):
    out = as_tensor(out, name, floating=True, what="the block's output", what_zh="残差块的输出")
    require(out.ndim == 4, f"{name} should return a batch of feature maps, 4 dimensions [N, C, H, W]; it returned "
                           f"shape {tuple(out.shape)}",
            zh=f"{name} 应当返回一批特征图，4 个维度 [N, C, H, W]；它返回的形状是 {tuple(out.shape)}")
    return out


# q1 · a BasicBlock's forward pass, projection shortcut included -----------------------------------

def _basic_block(x, w1, w2, w_shortcut, stride):
    out = F.relu(_batch_norm(F.conv2d(x, w1, stride=stride, padding=1)))  # 3×3, the block's stride
    out = _batch_norm(F.conv2d(out, w2, padding=1))  # 3×3: F(x), no ReLU yet
    shortcut = x if w_shortcut is None else _batch_norm(F.conv2d(x, w_shortcut, stride=stride))  # 1×1 + BN
    return F.relu(out + shortcut)  # add first, then the ReLU


def _basic_block_by_the_helper(x, w1, w2, w_shortcut, stride):
    """utils.resnet.BasicBlock, in training mode, run with these weights (its batch norms are fresh)."""
    block = _fresh(lambda: resnet.BasicBlock(w1.shape[1], w1.shape[0], stride))
    weights = {"conv1.weight": w1, "conv2.weight": w2}
    if block.downsample is not None:
        weights["downsample.0.weight"] = w_shortcut
    return torch.func.functional_call(block.train(), weights, (x,))


def _eval_mode_norm(h):
    """A fresh batch norm in eval mode: running mean 0 and variance 1, so it barely changes h."""
    return F.batch_norm(h, torch.zeros(h.shape[1]), torch.ones(h.shape[1]), training=False)


def _wrong_block(*, relu_before_add=False, final_relu=True, shortcut_bn=True, stride_second=False,
                 residual=True, batch_norm=True, eval_norms=False, identity_bn=False, add_after_relu=False,
                 no_stride=False):
    """A BasicBlock with one mistake switched on."""
    def block(x, w1, w2, w_shortcut, stride):
        bn = (_eval_mode_norm if eval_norms else _batch_norm) if batch_norm else (lambda h: h)
        first, second = (1, stride) if stride_second else (stride, 1)
        first, second, shortcut_stride = (1, 1, 1) if no_stride else (first, second, stride)
        out = F.relu(bn(F.conv2d(x, w1, stride=first, padding=1)))
        out = bn(F.conv2d(out, w2, stride=second, padding=1))
        if relu_before_add:
            out = F.relu(out)
        if w_shortcut is None:
            shortcut = bn(x) if identity_bn else x
        else:
            projected = F.conv2d(x, w_shortcut, stride=shortcut_stride)
            shortcut = bn(projected) if shortcut_bn else projected
        if not residual:
            return F.relu(out)
        if add_after_relu:
            return F.relu(out) + shortcut
        return F.relu(out + shortcut) if final_relu else out + shortcut
    return block


def _block_case(seed, n, c_in, c_out, size, stride, *, hidden=False, note="", note_zh=""):
    projection = stride != 1 or c_in != c_out
    x, w1, w2, w_shortcut = _weights(seed, [(n, c_in, size, size), (c_out, c_in, 3, 3), (c_out, c_out, 3, 3),
                                            (c_out, c_in, 1, 1) if projection else None])
    return Case(x, w1, w2, w_shortcut, stride, hidden=hidden, note=note, note_zh=note_zh)


q1 = Question("q1", "a BasicBlock's forward pass", chapter=CHAPTER, checker=function_checker(
    "basic_block", _basic_block_by_the_helper, convert=_block_output, forbid=BLOCKS, gradients=True,
    cases=[_block_case(1, 4, 3, 3, 6, 1, note="the shape stays: an identity shortcut",
                       note_zh="形状不变：恒等捷径"),
           _block_case(2, 4, 2, 4, 6, 2, note="stride 2 and twice the channels: a projection shortcut",
                       note_zh="步幅 2、通道数翻倍：投影捷径"),
           _block_case(3, 3, 2, 3, 5, 1, note="more channels at stride 1", note_zh="步幅 1 但通道数增加"),
           _block_case(4, 2, 3, 5, 7, 2, note="an odd size at stride 2", note_zh="奇数尺寸、步幅 2"),
           _block_case(5, 3, 4, 6, 8, 2, hidden=True)],
    mistakes=[
        Mistake(_wrong_block(no_stride=True),
                "the stride is missing: a block with stride 2 halves the height and the width, in its first "
                "3×3 convolution and in its 1×1 shortcut alike, so that the two can be added",
                "漏了步幅：步幅为 2 的残差块把高和宽减半，第一个 3×3 卷积和 1×1 捷径都要用这个步幅，两者才能相加"),
        Mistake(_wrong_block(relu_before_add=True),
                "you applied a ReLU to F(x) before the addition: then the block can only add non-negative "
                "values to x. The ReLU comes after the addition, relu(F(x) + shortcut)",
                "你在相加之前就对 F(x) 用了 ReLU：这样残差块只能给 x 加上非负的值。ReLU 应在相加之后："
                "relu(F(x) + shortcut)"),
        Mistake(_wrong_block(final_relu=False),
                "the last ReLU is missing: a BasicBlock ends with relu(F(x) + shortcut)",
                "漏了最后的 ReLU：BasicBlock 的输出是 relu(F(x) + shortcut)"),
        Mistake(_wrong_block(shortcut_bn=False),
                "the projection shortcut has no batch norm: in a ResNet it is a 1×1 convolution followed by a "
                "batch norm, so that both terms of the sum are normalised alike",
                "投影捷径缺少批归一化：ResNet 中它是 1×1 卷积再接批归一化，这样相加的两项以同样的方式归一化"),
        Mistake(_wrong_block(stride_second=True),
                "the stride sits on the wrong convolution: the shapes come out right, but the block downsamples "
                "in its second 3×3 convolution. torchvision (and the paper) put the stride on the first",
                "步幅放错了卷积：形状是对的，但残差块在第二个 3×3 卷积中下采样。torchvision（和论文）把步幅放在第一个卷积上"),
        Mistake(_wrong_block(residual=False),
                "there is no shortcut: that is the plain block, relu(F(x)). Add x (or its projection) to F(x) "
                "before the last ReLU",
                "没有捷径：这是普通块 relu(F(x))。应在最后的 ReLU 之前把 x（或它的投影）加到 F(x) 上"),
        Mistake(_wrong_block(batch_norm=False),
                "the batch norms are missing: each convolution is followed by a batch norm in training mode, "
                "which normalises with the batch's own mean and variance",
                "漏了批归一化：每个卷积后面都接一个训练模式的批归一化，用这一批数据自己的均值和方差来归一化"),
        Mistake(_wrong_block(eval_norms=True),
                "your batch norms use running statistics, as in eval mode (fresh ones, mean 0 and variance 1, "
                "change almost nothing); a block in training mode normalises with the batch's own mean and "
                "variance: training=True",
                "你的批归一化用的是滑动统计量，就像评估模式一样（新建的统计量均值为 0、方差为 1，几乎什么都不改变）；"
                "训练模式下的残差块用这一批数据自己的均值和方差来归一化：training=True"),
        Mistake(_wrong_block(identity_bn=True),
                "the identity shortcut is x itself, with nothing applied: only a projection shortcut has a "
                "convolution and a batch norm",
                "恒等捷径就是 x 本身，不做任何变换：只有投影捷径才有卷积和批归一化"),
        Mistake(_wrong_block(add_after_relu=True),
                "you added the shortcut after the last ReLU: add first, then apply the ReLU to the sum",
                "你在最后的 ReLU 之后才加上捷径：应先相加，再对和用 ReLU"),
    ],
    note=("utils.resnet.BasicBlock computes exactly this, with learnable γ and β in its batch norms; "
          "torchvision's BasicBlock too.",
          "utils.resnet.BasicBlock 计算的正是这个，只是其批归一化带有可学习的 γ 和 β；torchvision 的 BasicBlock 也一样。")),
    hint="Write the two terms separately: F(x) is conv → BN → ReLU → conv → BN; the shortcut is x, or, when "
         "w_shortcut is given, a strided 1×1 convolution and a BN. Where does the last ReLU go?",
    reference=_basic_block, title_zh="BasicBlock 的前向传播",
    hint_zh="把两项分开写：F(x) 是 卷积 → BN → ReLU → 卷积 → BN；捷径是 x，或者在给出 w_shortcut 时，"
            "是带步幅的 1×1 卷积加 BN。最后的 ReLU 放在哪里？")


# q2 · the weight layers and parameters of a ResNet --------------------------------------------------

def _resnet_size(block, layers, widths, num_classes=1000):
    expansion, convs_per_block = (1, 2) if block == "basic" else (4, 3)

    def conv_bn(c_in, c_out, k):  # a convolution without bias, then a batch norm with γ and β
        return c_in * c_out * k * k + 2 * c_out

    parameters, channels = conv_bn(3, widths[0], 7), widths[0]  # the 7×7 stem
    for stage, (width, blocks) in enumerate(zip(widths, layers)):
        for index in range(blocks):
            stride = 2 if stage > 0 and index == 0 else 1
            out = width * expansion
            if block == "basic":
                parameters += conv_bn(channels, width, 3) + conv_bn(width, width, 3)
            else:
                parameters += conv_bn(channels, width, 1) + conv_bn(width, width, 3) + conv_bn(width, out, 1)
            if stride != 1 or channels != out:  # the shape changes: a 1×1 projection shortcut
                parameters += conv_bn(channels, out, 1)
            channels = out
    parameters += channels * num_classes + num_classes  # the fully connected layer, with its bias
    return 1 + convs_per_block * sum(layers) + 1, parameters


def _resnet_size_by_the_helper(block, layers, widths, num_classes=1000):
    kind = resnet.BasicBlock if block == "basic" else resnet.Bottleneck
    with torch.device("meta"):  # shapes only: nothing is computed or stored
        model = resnet.ResNet(kind, list(layers), widths=tuple(widths), num_classes=num_classes)
    main_path = [m for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))
                 and "downsample" not in name]
    return len(main_path), sum(p.numel() for p in model.parameters())


def _wrong_size(*, count_shortcuts=False, count_norms=False, bn=2, shortcuts=True, stride_only=False, fc_bias=True,
                expand_fc=True, stem=7, conv_bias=False, ends=2, convs=None):
    """A wrong count, one mistake at a time."""
    def size(block, layers, widths, num_classes=1000):
        expansion, per_block = (1, 2) if block == "basic" else (4, 3)
        per_block = convs or per_block

        def conv_bn(c_in, c_out, k):
            return c_in * c_out * k * k + bn * c_out + (c_out if conv_bias else 0)

        total, channels, projections = conv_bn(3, widths[0], stem), widths[0], 0
        for stage, (width, blocks) in enumerate(zip(widths, layers)):
            for index in range(blocks):
                stride = 2 if stage > 0 and index == 0 else 1
                out = width * expansion
                if block == "basic":
                    total += conv_bn(channels, width, 3) + conv_bn(width, width, 3)
                else:
                    total += conv_bn(channels, width, 1) + conv_bn(width, width, 3) + conv_bn(width, out, 1)
                if (stride != 1 or (channels != out and not stride_only)) and shortcuts:
                    total += conv_bn(channels, out, 1)
                    projections += 1
                channels = out
        fc_in = channels if expand_fc else widths[-1]
        total += fc_in * num_classes + (num_classes if fc_bias else 0)
        depth = ends + per_block * sum(layers) + (projections if count_shortcuts else 0)
        if count_norms:  # every convolution and its batch norm, shortcuts included, and the classifier
            depth = 2 * (1 + per_block * sum(layers) + projections) + 1
        return depth, total
    return size


def _layers_and_parameters(out, name):
    depth, count = parts(out, 2, name, "(weight_layers, parameters)", "(权重层数, 参数量)", tensors=False)
    return (as_number(depth, name, integer=True, what="the number of weight layers", what_zh="权重层数"),
            as_number(count, name, integer=True, what="the number of parameters", what_zh="参数量"))


IMAGENET_WIDTHS = (64, 128, 256, 512)

q2 = Question("q2", "weight layers and parameters of a ResNet", chapter=CHAPTER, checker=function_checker(
    "resnet_size", _resnet_size_by_the_helper, convert=_layers_and_parameters,
    cases=[Case("basic", [2, 2, 2, 2], IMAGENET_WIDTHS, 1000, note="ResNet-18", note_zh="ResNet-18"),
           Case("basic", [3, 4, 6, 3], IMAGENET_WIDTHS, 1000, note="ResNet-34", note_zh="ResNet-34"),
           Case("bottleneck", [3, 4, 6, 3], IMAGENET_WIDTHS, 1000, note="ResNet-50", note_zh="ResNet-50"),
           Case("basic", [1, 1], (8, 16), 10, note="two stages of one block", note_zh="两个阶段、每阶段一个块"),
           Case("bottleneck", [2, 1], (4, 8), 5, note="a small bottleneck network", note_zh="一个小的瓶颈网络"),
           Case("bottleneck", [3, 4, 23, 3], IMAGENET_WIDTHS, 1000, hidden=True)],
    mistakes=[
        Mistake(_wrong_size(count_shortcuts=True),
                "you counted the shortcuts' 1×1 convolutions as layers. The depth in a ResNet's name counts "
                "only the layers on the main path: the stem, the blocks' convolutions and the classifier",
                "你把捷径上的 1×1 卷积也算作了层。ResNet 名字中的深度只数主路径上的层：起始层卷积、各块中的卷积和分类器"),
        Mistake(_wrong_size(count_norms=True),
                "you counted the batch norms (and the shortcuts' convolutions) as layers: the depth in the name "
                "counts only the convolutions and the fully connected layer on the main path",
                "你把批归一化（以及捷径上的卷积）也算作了层：名字中的深度只数主路径上的卷积层和全连接层"),
        Mistake(_wrong_size(ends=1), "count the stem's convolution and the fully connected layer, one each, "
                                     "besides the convolutions of the blocks",
                "除了各块中的卷积，起始层的卷积和全连接层也各算一层"),
        Mistake(_wrong_size(convs=2), "a Bottleneck has three convolutions (1×1, 3×3, 1×1), not two",
                "一个 Bottleneck 有三个卷积（1×1、3×3、1×1），而不是两个"),
        Mistake(_wrong_size(bn=0), "the batch norms are missing: each has a γ and a β per channel, 2C parameters",
                "漏了批归一化：每个批归一化每个通道有一个 γ 和一个 β，共 2C 个参数"),
        Mistake(_wrong_size(bn=4), "you counted 4 numbers per batch-norm channel: the running mean and variance "
                                   "are buffers, not parameters; only γ and β are learned",
                "你给批归一化的每个通道数了 4 个数：滑动均值和方差是缓冲区（buffer），不是参数；只有 γ 和 β 是学出来的"),
        Mistake(_wrong_size(shortcuts=False), "the projection shortcuts are missing: where a block changes the "
                                              "shape, its shortcut is a 1×1 convolution and a batch norm",
                "漏了投影捷径：凡是改变形状的块，其捷径都是一个 1×1 卷积加一个批归一化"),
        Mistake(_wrong_size(stride_only=True), "a shortcut needs a projection whenever the channels change, "
                                               "not only at stride 2: the first Bottleneck of stage 1 turns "
                                               "64 channels into 256 at stride 1",
                "只要通道数改变，捷径就需要投影，而不只是步幅为 2 时：第 1 阶段的第一个 Bottleneck "
                "在步幅 1 下把 64 个通道变成 256 个"),
        Mistake(_wrong_size(fc_bias=False), "the fully connected layer has a bias: one per class",
                "全连接层有偏置：每个类别一个"),
        Mistake(_wrong_size(expand_fc=False), "the classifier reads the last stage's output channels, which for "
                                              "Bottlenecks are 4 × the stage's width",
                "分类器读取的是最后一个阶段的输出通道数，对 Bottleneck 而言是该阶段宽度的 4 倍"),
        Mistake(_wrong_size(stem=3), "the ImageNet stem is a 7×7 convolution, not a 3×3 one",
                "ImageNet 版本的起始层是 7×7 卷积，而不是 3×3"),
        Mistake(_wrong_size(conv_bias=True), "the convolutions of a ResNet have no bias (bias=False): the batch "
                                             "norm that follows would subtract it again, and its β plays that role",
                "ResNet 的卷积没有偏置（bias=False）：后面的批归一化会把它减掉，β 起到了它的作用"),
    ],
    note=("utils.resnet.ResNet(block, layers, widths=...) builds exactly these networks; count its "
          "parameters to see.",
          "utils.resnet.ResNet(block, layers, widths=...) 构建的正是这些网络；数一数它的参数就知道了。")),
    hint="Walk through the network as the builder does: the stem, then each block of each stage, keeping track "
         "of the channels. Which blocks change the shape, and what does that add? Which layers does the name "
         "count?",
    reference=_resnet_size, title_zh="ResNet 的权重层数和参数量",
    hint_zh="像构建函数那样走一遍网络：先是起始层，然后是每个阶段的每个块，同时记下通道数。哪些块改变了形状，"
            "这会多出什么？名字里数的是哪些层？")


# q3 · the shape after each stage ---------------------------------------------------------------------

def _stage_shapes(block, layers, widths, image_size):
    expansion = 1 if block == "basic" else 4

    def halve(size):  # a stride-2 layer with "same"-style padding: ⌊(size − 1)/2⌋ + 1
        return (size - 1) // 2 + 1

    size = halve(halve(image_size))  # the 7×7 stride-2 convolution, then the 3×3 stride-2 max-pool
    shapes = [(widths[0], size, size)]
    for stage, width in enumerate(widths):
        size = size if stage == 0 else halve(size)
        shapes.append((width * expansion, size, size))
    return shapes


def _stage_shapes_by_the_helper(block, layers, widths, image_size):
    kind = resnet.BasicBlock if block == "basic" else resnet.Bottleneck
    with torch.device("meta"):  # shapes only
        model = resnet.ResNet(kind, list(layers), widths=tuple(widths)).eval()
        x = model.maxpool(model.relu(model.bn1(model.conv1(torch.zeros(1, 3, image_size, image_size)))))
        shapes = [tuple(x.shape[1:])]
        for stage in range(1, len(layers) + 1):
            x = getattr(model, f"layer{stage}")(x)
            shapes.append(tuple(x.shape[1:]))
    return shapes


def _wrong_shapes(*, halve=lambda s: (s - 1) // 2 + 1, pool=True, stem_stride=True, first_stage_halves=False,
                  expand=True, expand_stem=False, with_stem=True, channels_last=False):
    def shapes(block, layers, widths, image_size):
        expansion = 1 if block == "basic" else 4
        size = image_size
        size = halve(size) if stem_stride else size
        size = halve(size) if pool else size
        found = [(widths[0] * (expansion if expand_stem else 1), size, size)] if with_stem else []
        for stage, width in enumerate(widths):
            size = halve(size) if (stage > 0 or first_stage_halves) else size
            found.append((width * (expansion if expand else 1), size, size))
        return [(h, w, c) for c, h, w in found] if channels_last else found
    return shapes


def _shape_list(out, name):
    require(isinstance(out, (list, tuple)) and not torch.is_tensor(out),
            f"{name} should return a list of shapes, one (C, H, W) for the stem and one for each stage; it "
            f"returned a {type(out).__name__}",
            zh=f"{name} 应当返回一个形状列表：起始层一个 (C, H, W)，每个阶段各一个；它返回的是 {type(out).__name__}")
    shapes = []
    for shape in out:
        require(isinstance(shape, (tuple, list, torch.Size)) and len(shape) == 3,
                f"each shape should be three numbers (C, H, W), without the batch dimension; {name} returned "
                f"{shape!r}",
                zh=f"每个形状应当是三个数 (C, H, W)，不含批次维度；{name} 返回了 {shape!r}")
        shapes.append(tuple(as_number(n, name, integer=True, what="a size", what_zh="尺寸") for n in shape))
    return shapes


q3 = Question("q3", "the shape after each stage", chapter=CHAPTER, checker=function_checker(
    "stage_shapes", _stage_shapes_by_the_helper, convert=_shape_list,
    cases=[Case("basic", [2, 2, 2, 2], IMAGENET_WIDTHS, 224, note="ResNet-18 on a 224 × 224 image",
                note_zh="ResNet-18，224 × 224 图像"),
           Case("bottleneck", [3, 4, 6, 3], IMAGENET_WIDTHS, 224, note="ResNet-50", note_zh="ResNet-50"),
           Case("basic", [2, 2, 2, 2], IMAGENET_WIDTHS, 100, note="a size that becomes odd on the way",
                note_zh="途中会变成奇数的尺寸"),
           Case("bottleneck", [1, 1, 1], (16, 32, 64), 64, note="three stages", note_zh="三个阶段"),
           Case("basic", [1, 1], (8, 16), 33, note="an odd image size", note_zh="奇数的图像尺寸"),
           Case("bottleneck", [2, 2, 2, 2], (32, 64, 128, 256), 150, hidden=True)],
    mistakes=[
        Mistake(_wrong_shapes(halve=lambda s: s // 2),
                "an odd size is rounded the wrong way: a 3×3 convolution (or pool) with stride 2 and padding 1 "
                "gives ⌊(H + 2 − 3)/2⌋ + 1 = ⌊(H − 1)/2⌋ + 1 rows, which rounds H/2 up",
                "奇数尺寸的取整方向错了：步幅 2、填充 1 的 3×3 卷积（或池化）输出 ⌊(H + 2 − 3)/2⌋ + 1 = ⌊(H − 1)/2⌋ + 1 行，"
                "即 H/2 向上取整"),
        Mistake(_wrong_shapes(pool=False),
                "the stem halves the size only once in your shapes; it shrinks the image 4 times: its 7×7 "
                "convolution has stride 2, and its 3×3 max-pool with stride 2 halves the size again",
                "你的形状中起始层只把尺寸减半了一次；它把图像缩小 4 倍：7×7 卷积的步幅为 2，"
                "之后步幅 2 的 3×3 最大池化再把尺寸减半"),
        Mistake(_wrong_shapes(first_stage_halves=True), "the first stage keeps the size: only stages 2, 3, … "
                                                        "start with a stride-2 block (the stem has already "
                                                        "downsampled)",
                "第一个阶段保持尺寸不变：只有第 2、3……阶段以步幅 2 的块开始（起始层已经下采样过了）"),
        Mistake(_wrong_shapes(expand=False), "a Bottleneck's output has 4 × its width in channels: its last 1×1 "
                                             "convolution widens them",
                "Bottleneck 输出的通道数是其宽度的 4 倍：它最后的 1×1 卷积把通道加宽了"),
        Mistake(_wrong_shapes(expand_stem=True), "the stem has widths[0] output channels, also in a Bottleneck "
                                                 "network: the ×4 comes from the blocks",
                "起始层输出 widths[0] 个通道，在 Bottleneck 网络中也是如此：×4 来自各个块"),
        Mistake(_wrong_shapes(with_stem=False), "give the stem's output shape first, then one shape per stage: "
                                                "1 + len(layers) shapes",
                "先给出起始层的输出形状，再给出每个阶段的形状：共 1 + len(layers) 个"),
        Mistake(_wrong_shapes(channels_last=True), "PyTorch's order is (C, H, W), channels first",
                "PyTorch 的顺序是 (C, H, W)，通道在前"),
    ],
    note=("The stem divides the size by 4 and every later stage by 2: a 224-pixel image ends as a 7 × 7 grid, "
          "which global average pooling turns into one vector.",
          "起始层把尺寸缩小 4 倍，之后每个阶段再缩小 2 倍：224 像素的图像最终成为 7 × 7 的网格，"
          "全局平均池化再把它变成一个向量。")),
    hint="Follow the sizes through the stem (a stride-2 convolution, then a stride-2 max-pool) and the stages "
         "(which ones start with stride 2?), with the output-size formula of chapter 08. Which blocks widen "
         "the channels?",
    reference=_stage_shapes, title_zh="每个阶段之后的形状",
    hint_zh="用第 08 章的输出尺寸公式，跟着尺寸走过起始层（一个步幅 2 的卷积，再一个步幅 2 的最大池化）和各个阶段"
            "（哪些阶段以步幅 2 开始？）。哪些块会加宽通道？")


# q4 · find the bugs in a Bottleneck ------------------------------------------------------------------

def _bottleneck(x, w1, w2, w3, w_shortcut, stride):
    out = F.relu(_batch_norm(F.conv2d(x, w1)))  # 1×1: narrow
    out = F.relu(_batch_norm(F.conv2d(out, w2, stride=stride, padding=1)))  # 3×3 with the stride (v1.5)
    out = _batch_norm(F.conv2d(out, w3))  # 1×1: widen; no ReLU before the addition
    shortcut = x if w_shortcut is None else _batch_norm(F.conv2d(x, w_shortcut, stride=stride))
    return F.relu(out + shortcut)


def _bottleneck_by_the_helper(x, w1, w2, w3, w_shortcut, stride):
    """utils.resnet.Bottleneck (torchvision's v1.5), in training mode, run with these weights."""
    block = _fresh(lambda: resnet.Bottleneck(w1.shape[1], w1.shape[0], stride))
    weights = {"conv1.weight": w1, "conv2.weight": w2, "conv3.weight": w3}
    if block.downsample is not None:
        weights["downsample.0.weight"] = w_shortcut
    return torch.func.functional_call(block.train(), weights, (x,))


def _suspect(*, relu_before_add=False, shortcut_bn=True, stride_first=False, stride_last=False,
             final_relu=True, middle_relu=True):
    """The bottleneck of the exercise with some of its bugs (and other mistakes) left in."""
    def block(x, w1, w2, w3, w_shortcut, stride):
        strides = (stride, 1, 1) if stride_first else (1, 1, stride) if stride_last else (1, stride, 1)
        out = F.relu(_batch_norm(F.conv2d(x, w1, stride=strides[0])))
        out = _batch_norm(F.conv2d(out, w2, stride=strides[1], padding=1))
        out = F.relu(out) if middle_relu else out
        out = _batch_norm(F.conv2d(out, w3, stride=strides[2]))
        out = F.relu(out) if relu_before_add else out
        if w_shortcut is None:
            shortcut = x
        else:
            projected = F.conv2d(x, w_shortcut, stride=stride)
            shortcut = _batch_norm(projected) if shortcut_bn else projected
        return F.relu(out + shortcut) if final_relu else out + shortcut
    return block


_BUGS = {
    "relu_before_add": ("there is still a ReLU between the last batch norm and the addition",
                        "最后一个批归一化和相加之间仍然有一个 ReLU"),
    "shortcut_bn": ("the projection shortcut still lacks something its twin in the main path has",
                    "投影捷径仍然缺少主路径上对应部分所具有的东西"),
    "stride_first": ("the stride still sits on the first 1×1 convolution, which then reads only one pixel in "
                     "four (the original paper's v1; torchvision's v1.5 moved it)",
                     "步幅仍然在第一个 1×1 卷积上，这样它只读取四分之一的像素（原论文的 v1；torchvision 的 v1.5 把它移走了）"),
}


def _remaining(bugs):
    flags = {"relu_before_add": True, "shortcut_bn": False, "stride_first": True}
    en = "; ".join(_BUGS[bug][0] for bug in bugs)
    zh = "；".join(_BUGS[bug][1] for bug in bugs)
    if len(bugs) == 3:
        en = "your function gives exactly what suspect_bottleneck gives: none of its three bugs is fixed yet. " \
             "Compare it line by line with the picture of a Bottleneck in the chapter"
        zh = "你的函数给出的结果与 suspect_bottleneck 完全相同：三个错误一个都还没改。请对照本章中 Bottleneck 的示意图逐行比较"
    elif len(bugs) == 2:
        en, zh = f"one bug fixed, two to go: {en}", f"改好了一个错误，还剩两个：{zh}"
    return Mistake(_suspect(**{bug: flags[bug] for bug in bugs}), en, zh)


def _bottleneck_case(seed, n, c_in, width, size, stride, *, hidden=False, note="", note_zh=""):
    c_out = 4 * width
    projection = stride != 1 or c_in != c_out
    x, w1, w2, w3, w_shortcut = _weights(seed, [(n, c_in, size, size), (width, c_in, 1, 1), (width, width, 3, 3),
                                                (c_out, width, 1, 1), (c_out, c_in, 1, 1) if projection else None])
    return Case(x, w1, w2, w3, w_shortcut, stride, hidden=hidden, note=note, note_zh=note_zh)


q4 = Question("q4", "three bugs in a Bottleneck", chapter=CHAPTER, checker=function_checker(
    "bottleneck", _bottleneck_by_the_helper, convert=_block_output, forbid=BLOCKS, gradients=True,
    cases=[_bottleneck_case(11, 3, 8, 2, 6, 1, note="the shape stays: an identity shortcut",
                            note_zh="形状不变：恒等捷径"),
           _bottleneck_case(12, 3, 8, 4, 6, 2, note="stride 2: a projection shortcut", note_zh="步幅 2：投影捷径"),
           _bottleneck_case(13, 4, 4, 4, 5, 1, note="stage 1's first block: 4 × the channels at stride 1",
                            note_zh="第 1 阶段的第一个块：步幅 1，通道数变为 4 倍"),
           _bottleneck_case(14, 2, 8, 3, 7, 2, note="an odd size at stride 2", note_zh="奇数尺寸、步幅 2"),
           _bottleneck_case(15, 3, 12, 5, 8, 2, hidden=True)],
    mistakes=[
        _remaining(["relu_before_add", "shortcut_bn", "stride_first"]),
        _remaining(["relu_before_add", "shortcut_bn"]), _remaining(["relu_before_add", "stride_first"]),
        _remaining(["shortcut_bn", "stride_first"]),
        _remaining(["relu_before_add"]), _remaining(["shortcut_bn"]), _remaining(["stride_first"]),
        Mistake(_suspect(stride_last=True), "the stride moved to the last 1×1 convolution: that one also reads "
                                            "only one pixel in four. It belongs on the 3×3 convolution, which sees "
                                            "every pixel as it downsamples",
                "步幅被移到了最后一个 1×1 卷积上：它同样只读取四分之一的像素。步幅应当放在 3×3 卷积上，"
                "它在下采样时能看到每一个像素"),
        Mistake(_suspect(final_relu=False), "the ReLU after the addition is gone too: the block ends with "
                                            "relu(F(x) + shortcut)",
                "相加之后的 ReLU 也被去掉了：残差块的输出是 relu(F(x) + shortcut)"),
        Mistake(_suspect(middle_relu=False), "the ReLU after the 3×3 convolution's batch norm is missing: only "
                                             "the last batch norm of F(x) is followed directly by the addition",
                "漏了 3×3 卷积的批归一化之后的 ReLU：F(x) 中只有最后一个批归一化是直接接相加的"),
    ],
    note=("Fixed, it computes what utils.resnet.Bottleneck and torchvision's Bottleneck compute.",
          "改好之后，它的计算与 utils.resnet.Bottleneck 和 torchvision 的 Bottleneck 相同。")),
    hint="Take the picture of a residual block and follow a tensor through suspect_bottleneck: what is added to "
         "what, what each path applies, and which convolution sees every pixel when the block downsamples.",
    reference=_bottleneck, title_zh="Bottleneck 中的三个错误",
    hint_zh="对照残差块的示意图，让一个张量走一遍 suspect_bottleneck：什么和什么相加，每条路径做了什么，"
            "以及残差块下采样时哪个卷积能看到每一个像素。")
