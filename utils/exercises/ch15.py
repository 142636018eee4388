"""Chapter 15 (efficient and modern training) exercises: the learning rate under the linear scaling rule for
a data-parallel run, multi-head attention's forward pass by hand, and the parameter count of a compound-scaled
network."""
from __future__ import annotations

import math

import torch

from utils.exercises import Case, Mistake, Question, as_number, as_tensor, forbidding, function_checker
from utils.scaling import make_divisible

CHAPTER = "15"


# q1 · the learning rate under the linear scaling rule ------------------------------------------------

def _scaled_lr(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    return base_lr * per_device_batch * world_size * accumulation_steps / base_batch


def _learning_rate(out, name):
    return as_number(out, name, what="the learning rate", what_zh="学习率")


def _per_device_only(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    return base_lr * per_device_batch / base_batch


def _no_accumulation(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    return base_lr * per_device_batch * world_size / base_batch


def _devices_only(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    return base_lr * world_size


def _square_root(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    return base_lr * math.sqrt(per_device_batch * world_size * accumulation_steps / base_batch)


def _inverted(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    return base_lr * base_batch / (per_device_batch * world_size * accumulation_steps)


def _whole_ratio(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    return base_lr * (per_device_batch * world_size * accumulation_steps // base_batch)


def _divided_by_devices(base_lr, base_batch, per_device_batch, world_size, accumulation_steps):
    return base_lr * per_device_batch * accumulation_steps / (base_batch * world_size)


SCALERS = forbidding("utils.distributed.scaled_lr", ["utils.distributed.scaled_lr"],
                     why="applies the rule for you", why_zh="它替你套用了这条规则")

q1 = Question("q1", "the learning rate under the linear scaling rule", chapter=CHAPTER, checker=function_checker(
    "scaled_lr", _scaled_lr, convert=_learning_rate, forbid=SCALERS,
    cases=[Case(0.1, 256, 128, 8, 1, note="8 GPUs of 128", note_zh="8 块 GPU，每块 128"),
           Case(3e-4, 64, 32, 2, 4, note="2 GPUs, 4 accumulation steps", note_zh="2 块 GPU，累积 4 步"),
           Case(0.05, 512, 64, 4, 1, note="a global batch smaller than the base", note_zh="全局批量小于基准批量"),
           Case(0.02, 128, 48, 3, 2, note="a batch that is not a power of two", note_zh="批量不是 2 的幂"),
           Case(0.4, 1024, 96, 6, 3, hidden=True)],
    mistakes=[
        Mistake(_per_device_only,
                "you scaled by the batch one device sees: each step averages the gradients of every device, so the "
                "batch that sets the step is per-device batch × world size (× accumulation steps)",
                "你按单个设备上的批量做了缩放：每一步会对所有设备的梯度取平均，所以决定步长的批量是每设备批量 × 进程数"
                "（× 累积步数）"),
        Mistake(_no_accumulation,
                "the accumulation steps are missing: with gradient accumulation the optimizer steps once per "
                "accumulation_steps batches, so they multiply the global batch too",
                "漏了累积步数：梯度累积时，优化器每 accumulation_steps 个批量才走一步，所以它也要乘进全局批量"),
        Mistake(_devices_only,
                "you multiplied by the number of devices alone: the rule compares the global batch with the batch "
                "the base learning rate was tuned for, base_batch",
                "你只乘了设备数：这条规则比较的是全局批量与调好基准学习率时所用的批量 base_batch"),
        Mistake(_square_root,
                "this is square-root scaling, a rule some use with Adam; the linear scaling rule multiplies the "
                "learning rate by the ratio itself, k = global batch / base batch",
                "这是平方根缩放，有人在 Adam 上这样用；线性缩放规则直接乘以比值本身，k = 全局批量 / 基准批量"),
        Mistake(_inverted,
                "the ratio is upside down: a larger global batch gives a larger learning rate, k = global batch / "
                "base batch",
                "比值倒过来了：全局批量越大，学习率越大，k = 全局批量 / 基准批量"),
        Mistake(_whole_ratio,
                "the ratio was rounded down to a whole number (//): a global batch of half the base gives k = 0.5, "
                "not 0. Divide with /",
                "比值被向下取整了（//）：全局批量是基准的一半时 k = 0.5，而不是 0。请用 / 做除法"),
        Mistake(_divided_by_devices,
                "you divided by the number of devices: DistributedDataParallel averages the gradients over the "
                "devices, so more devices mean a larger batch and a larger learning rate, not a smaller one",
                "你除以了设备数：DistributedDataParallel 会在设备之间对梯度取平均，所以设备越多，批量越大，学习率也越大，"
                "而不是越小"),
    ],
    note=("k = (per-device batch × devices × accumulation steps) / base batch, and the learning rate grows by k; "
          "from a few thousand images per step on, add a warm-up (Goyal et al., 2017).",
          "k =（每设备批量 × 设备数 × 累积步数）/ 基准批量，学习率乘以 k；每步几千张图像以上时，再加上预热"
          "（Goyal 等，2017）。")),
    hint="First work out how many images one optimizer step averages over, across every device and every "
         "accumulated batch; then compare that with base_batch.",
    reference=_scaled_lr, title_zh="线性缩放规则下的学习率",
    hint_zh="先算出一次优化器更新对多少张图像取平均（所有设备、所有累积的批量）；再把它和 base_batch 比较。")


# q2 · multi-head attention's forward pass by hand ----------------------------------------------------

ATTENTIONS = forbidding("nn.MultiheadAttention", [
    "torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward",
    "torch.nn.functional.scaled_dot_product_attention", "utils.vit.attention", "utils.vit.attention_weights",
    "utils.vit.MultiHeadSelfAttention"],
    why="computes attention for you", why_zh="它替你算出了注意力")


def _split_heads(t, heads):
    n, length, embed = t.shape
    return t.reshape(n, length, heads, embed // heads).transpose(1, 2)


def _merge_heads(t):
    n, heads, length, d = t.shape
    return t.transpose(1, 2).reshape(n, length, heads * d)


def _attend(x, w_in, b_in, w_out, b_out, heads, *, scale=None, softmax_dim=-1, split=_split_heads, order=(0, 1, 2),
            transpose_weights=False, out_projection=True):
    projected = x @ w_in.T + b_in
    parts = projected.chunk(3, dim=-1)
    q, k, v = (split(parts[i], heads) for i in order)
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1) * (d ** -0.5 if scale is None else scale(d, x.shape[-1]))
    mixed = _merge_heads(torch.softmax(scores, dim=softmax_dim) @ v)
    if not out_projection:
        return mixed
    return mixed @ (w_out if transpose_weights else w_out.T) + b_out


def _mha_forward(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads):
    return _attend(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, num_heads)


def _scaled_by_embedding(x, w_in, b_in, w_out, b_out, heads):
    return _attend(x, w_in, b_in, w_out, b_out, heads, scale=lambda d, embed: embed ** -0.5)


def _not_scaled(x, w_in, b_in, w_out, b_out, heads):
    return _attend(x, w_in, b_in, w_out, b_out, heads, scale=lambda d, embed: 1.0)


def _divided_by_d(x, w_in, b_in, w_out, b_out, heads):
    return _attend(x, w_in, b_in, w_out, b_out, heads, scale=lambda d, embed: 1 / d)


def _softmax_over_queries(x, w_in, b_in, w_out, b_out, heads):
    return _attend(x, w_in, b_in, w_out, b_out, heads, softmax_dim=-2)


def _heads_by_reshape(x, w_in, b_in, w_out, b_out, heads):
    def split(t, h):
        n, length, embed = t.shape
        return t.reshape(n, h, length, embed // h)
    return _attend(x, w_in, b_in, w_out, b_out, heads, split=split)


def _one_head(x, w_in, b_in, w_out, b_out, heads):
    return _attend(x, w_in, b_in, w_out, b_out, 1)


def _keys_first(x, w_in, b_in, w_out, b_out, heads):
    return _attend(x, w_in, b_in, w_out, b_out, heads, order=(1, 0, 2))


def _weights_not_transposed(x, w_in, b_in, w_out, b_out, heads):
    return _attend(x, w_in, b_in, w_out, b_out, heads, transpose_weights=True)


def _no_out_projection(x, w_in, b_in, w_out, b_out, heads):
    return _attend(x, w_in, b_in, w_out, b_out, heads, out_projection=False)


def _attention_case(seed, n, length, embed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, embed, generator=generator)
    w_in = torch.randn(3 * embed, embed, generator=generator) / embed ** 0.5
    b_in = torch.randn(3 * embed, generator=generator) * 0.1
    w_out = torch.randn(embed, embed, generator=generator) / embed ** 0.5
    b_out = torch.randn(embed, generator=generator) * 0.1
    return x, w_in, b_in, w_out, b_out


def _attention_output(out, name):
    return as_tensor(out, name, floating=True, what="the attention's output", what_zh="注意力的输出")


q2 = Question("q2", "multi-head attention's forward pass by hand", chapter=CHAPTER, checker=function_checker(
    "mha_forward", _mha_forward, forbid=ATTENTIONS, convert=_attention_output, gradients=True,
    cases=[Case(*_attention_case(1, 2, 5, 8), 2, note="2 heads of 4", note_zh="2 个头，每个 4 维"),
           Case(*_attention_case(2, 1, 7, 12), 3, note="3 heads of 4", note_zh="3 个头，每个 4 维"),
           Case(*_attention_case(3, 3, 4, 16), 4, note="4 heads, a short sequence", note_zh="4 个头，较短的序列"),
           Case(*_attention_case(4, 2, 6, 12), 2, hidden=True)],
    mistakes=[
        Mistake(_scaled_by_embedding,
                "the scores were divided by √E, the whole embedding's size: each head's dot products have d = E / "
                "num_heads terms, so divide by √d",
                "分数除以了 √E，即整个嵌入的维度：每个头的点积只有 d = E / num_heads 项，所以应除以 √d"),
        Mistake(_not_scaled,
                "the scores are not scaled: divide q·k by √d (d = E / num_heads), or the softmax saturates as d "
                "grows",
                "分数没有缩放：请把 q·k 除以 √d（d = E / num_heads），否则随着 d 增大，softmax 会饱和"),
        Mistake(_divided_by_d,
                "the scores were divided by d instead of √d: the dot product of two d-dimensional vectors of "
                "variance 1 has variance d, so √d restores variance 1",
                "分数除以了 d 而不是 √d：两个方差为 1 的 d 维向量的点积方差是 d，除以 √d 才能让方差回到 1"),
        Mistake(_softmax_over_queries,
                "the softmax runs over the queries: each query's weights over the keys must sum to 1, so take "
                "the softmax over the last axis (the keys)",
                "softmax 是沿查询的方向做的：每个查询对所有键的权重之和必须为 1，所以 softmax 应沿最后一个轴（键）做"),
        Mistake(_heads_by_reshape,
                "the heads were cut with a reshape straight to [N, heads, L, d], which mixes positions: reshape to "
                "[N, L, heads, d] first, then transpose(1, 2)",
                "多头是直接 reshape 成 [N, heads, L, d] 切出来的，这会把不同位置混在一起：请先 reshape 成 "
                "[N, L, heads, d]，再 transpose(1, 2)"),
        Mistake(_one_head,
                "this is attention with a single head: split q, k and v into num_heads heads of d = E / num_heads, "
                "attend in each, then join them",
                "这是只有一个头的注意力：请把 q、k、v 分成 num_heads 个头，每个 d = E / num_heads 维，分别做注意力，"
                "再拼起来"),
        Mistake(_keys_first,
                "q and k are swapped: in_proj_weight stacks the query, key and value projections in that order",
                "q 和 k 弄反了：in_proj_weight 按查询、键、值的顺序把三个投影叠在一起"),
        Mistake(_weights_not_transposed,
                "out_proj_weight was used without transposing (a square matrix multiplies either way): nn.Linear "
                "and nn.MultiheadAttention store W as [out, in] and compute x @ W.T + b",
                "out_proj_weight 没有转置就用了（方阵怎么乘都不报错）：nn.Linear 和 nn.MultiheadAttention 把 W 存成 "
                "[out, in]，计算的是 x @ W.T + b"),
        Mistake(_no_out_projection,
                "the output projection is missing: after joining the heads, apply out_proj_weight and "
                "out_proj_bias",
                "缺少输出投影：拼接各个头之后，还要用 out_proj_weight 和 out_proj_bias 做一次投影"),
    ],
    note=("your forward pass is the one nn.MultiheadAttention(E, num_heads, batch_first=True) computes with these "
          "weights: project, split into heads, softmax(q·kᵀ/√d)·v, join, project.",
          "你的前向计算正是 nn.MultiheadAttention(E, num_heads, batch_first=True) 用这些权重算出的结果：投影、分头、"
          "softmax(q·kᵀ/√d)·v、拼接、再投影。")),
    hint="Project x with in_proj_weight and in_proj_bias and cut the result into q, k and v; give each a heads axis "
         "[N, heads, L, d]; what should the scores be divided by, and over which axis does the softmax run?",
    reference=_mha_forward, title_zh="手写多头注意力的前向计算",
    hint_zh="用 in_proj_weight 和 in_proj_bias 对 x 做投影，再切成 q、k、v；给每个加上头的轴 [N, heads, L, d]；"
            "分数应除以什么？softmax 沿哪个轴做？")


# q3 · the parameter count of a compound-scaled network -----------------------------------------------

COUNTERS = forbidding("utils.scaling's counters", [
    "utils.scaling.scaled_cnn_parameters", "utils.scaling.scaled_cnn", "utils.scaling.scaled_cnn_config",
    "utils.scaling.compound_multipliers"],
    why="scales or counts the network for you", why_zh="它替你缩放或数出了网络的参数")


def _scaled_stages(phi, base_depths, base_widths, *, depth_round=math.ceil, width_round=make_divisible,
                   alpha=1.2, beta=1.1):
    depths = [max(1, depth_round(d * alpha ** phi)) for d in base_depths]
    widths = [width_round(w * beta ** phi) for w in base_widths]
    return depths, widths


def _count(depths, widths, num_classes, *, in_channels=3, kernel=9, conv_bias=0, norm=2, head_bias=1):
    total, channels = 0, in_channels
    for depth, width in zip(depths, widths):
        for _ in range(depth):
            total += kernel * channels * width + conv_bias * width + norm * width
            channels = width
    return total + (channels + head_bias) * num_classes


def _compound_count(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths), num_classes)


def _whole_count(out, name):
    return as_number(out, name, integer=True, what="the parameter count", what_zh="参数个数")


def _conv_bias(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths), num_classes, conv_bias=1)


def _norm_buffers(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths), num_classes, norm=4)


def _no_norm(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths), num_classes, norm=0)


def _depth_floored(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths, depth_round=int), num_classes)


def _width_not_divisible(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths, width_round=round), num_classes)


def _swapped_coefficients(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths, alpha=1.1, beta=1.2), num_classes)


def _width_squared(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths, beta=1.1 ** 2), num_classes)


def _first_input_scaled(phi, base_depths, base_widths, num_classes):
    depths, widths = _scaled_stages(phi, base_depths, base_widths)
    return _count(depths, widths, num_classes, in_channels=widths[0])


def _kernel_not_squared(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths), num_classes, kernel=3)


def _no_head_bias(phi, base_depths, base_widths, num_classes):
    return _count(*_scaled_stages(phi, base_depths, base_widths), num_classes, head_bias=0)


def _resolution_counted(phi, base_depths, base_widths, num_classes):
    return round(_compound_count(phi, base_depths, base_widths, num_classes) * 1.15 ** (2 * phi))


q3 = Question("q3", "the parameter count of a compound-scaled network", chapter=CHAPTER, checker=function_checker(
    "compound_scaled_count", _compound_count, forbid=COUNTERS, convert=_whole_count,
    cases=[Case(1, (2, 2, 2), (16, 32, 64), 10, note="φ = 1 on a small base", note_zh="小基准网络上 φ = 1"),
           Case(2, (1, 2, 3), (24, 40, 80), 5, note="φ = 2", note_zh="φ = 2"),
           Case(0, (3, 3), (32, 64), 10, note="φ = 0, the base itself", note_zh="φ = 0，即基准网络本身"),
           Case(3, (2, 3, 3, 2), (16, 24, 48, 96), 100, note="φ = 3, four stages", note_zh="φ = 3，四个阶段"),
           Case(1.5, (2, 4, 2), (20, 36, 72), 7, hidden=True)],
    mistakes=[
        Mistake(_conv_bias,
                "each convolution got a bias: a convolution followed by batch norm has none (bias=False), because "
                "the norm's shift β does that job",
                "每个卷积都算了偏置：后面接批归一化的卷积没有偏置（bias=False），因为批归一化的平移 β 已经承担了这个作用"),
        Mistake(_norm_buffers,
                "the batch norms were counted as 4 numbers per channel: the running mean and variance are buffers, "
                "not parameters; only γ and β are learnt",
                "批归一化按每通道 4 个数来数了：滑动均值和方差是缓冲区，不是参数；只有 γ 和 β 是学出来的"),
        Mistake(_no_norm,
                "the batch norms are missing: each has a scale γ and a shift β per channel",
                "漏了批归一化：每个批归一化在每个通道上都有一个缩放 γ 和一个平移 β"),
        Mistake(_depth_floored,
                "the number of layers was rounded down: a stage cannot have 2.4 layers, and EfficientNet rounds up, "
                "⌈depth · α^φ⌉",
                "层数被向下取整了：一个阶段不可能有 2.4 层，EfficientNet 是向上取整的，⌈depth · α^φ⌉"),
        Mistake(_width_not_divisible,
                "the widths were rounded to the nearest whole number: round them with make_divisible (multiples of "
                "8), as EfficientNet does",
                "宽度被四舍五入到了最近的整数：请像 EfficientNet 那样用 make_divisible（8 的倍数）取整"),
        Mistake(_swapped_coefficients,
                "α and β are swapped: depth grows by α = 1.2 per step of φ and width by β = 1.1",
                "α 和 β 弄反了：φ 每增加 1，深度乘以 α = 1.2，宽度乘以 β = 1.1"),
        Mistake(_width_squared,
                "the widths grew by β^(2φ): β² is how much a layer's cost grows when its width grows by β (input and "
                "output channels both widen); the width itself grows by β^φ",
                "宽度按 β^(2φ) 增长了：β² 是宽度乘以 β 时一层的计算量增长的倍数（输入和输出通道都变宽）；宽度本身只乘以 β^φ"),
        Mistake(_first_input_scaled,
                "the first convolution's input was taken as a stage's width: its input is the image's 3 colour "
                "channels, whatever φ is",
                "第一个卷积的输入被当成了某个阶段的宽度：无论 φ 是多少，它的输入都是图像的 3 个颜色通道"),
        Mistake(_kernel_not_squared,
                "a 3 × 3 kernel was counted as 3 weights per input–output pair: it has 9",
                "3 × 3 的卷积核被算成了每对输入、输出通道 3 个权重：它有 9 个"),
        Mistake(_no_head_bias,
                "the classifier's bias is missing: the last linear layer has (channels + 1) × classes parameters",
                "漏了分类器的偏置：最后的线性层有 (通道数 + 1) × 类别数 个参数"),
        Mistake(_resolution_counted,
                "the resolution changed the count: a convolution's weights do not depend on the image's size, so "
                "γ^φ changes the cost (FLOPs), not the parameters",
                "分辨率改变了参数个数：卷积的权重与图像大小无关，所以 γ^φ 改变的是计算量（FLOPs），而不是参数"),
    ],
    note=("depth and width set the parameters; resolution sets only the cost, which is why compound scaling grows "
          "all three together.", "深度和宽度决定参数个数；分辨率只决定计算量，这正是复合缩放要三者一起增长的原因。")),
    hint="Scale each stage first (how many layers, how many channels), then walk through the layers keeping track "
         "of each layer's input channels. Which numbers of a conv + batch norm layer are learnt?",
    reference=_compound_count, title_zh="复合缩放网络的参数个数",
    hint_zh="先缩放每个阶段（多少层、多少通道），再逐层走一遍，同时记住每层的输入通道数。卷积加批归一化的一层里，哪些数是学出来的？")
