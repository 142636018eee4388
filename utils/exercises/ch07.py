"""Chapter 07 (normalisation) exercises: batch norm on feature maps, batch norm's backward pass by hand,
folding batch norm into the layer before it, and standardising features that are constant."""
from __future__ import annotations

import torch

from utils.exercises import (Case, Mistake, Question, as_tensor, call, compare_gradients, forbidding,
                             function_checker, gap, parts, require, say)

CHAPTER = "07"
EPS = 1e-5


def _seeded(seed: int, *shape, scale=1.0, shift=0.0, dtype=torch.float32) -> torch.Tensor:
    """Seeded normal numbers; ``scale`` and ``shift`` may be per channel (dim 1)."""
    noise = torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    view = [1, -1] + [1] * (len(shape) - 2)
    scale = torch.as_tensor(scale, dtype=torch.float64).reshape(view if torch.as_tensor(scale).ndim else [])
    shift = torch.as_tensor(shift, dtype=torch.float64).reshape(view if torch.as_tensor(shift).ndim else [])
    return (noise * scale + shift).to(dtype)


def _in_order(*checkers):
    """Run checkers one after another; the last one's note is the verdict's."""
    def checker(fn):
        note = None
        for each in checkers:
            note = each(fn)
        return note
    tables = [each for each in checkers if hasattr(each, "expected_results")]  # for the leak test
    checker.expected_results = lambda: [value for table in tables for value in table.expected_results()]
    return checker


# q1 · batch norm on feature maps [N, C, H, W] -------------------------------------------------

def _batch_norm_2d(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    dims, channel = (0, 2, 3), (1, -1, 1, 1)
    mean, var = x.mean(dim=dims), x.var(dim=dims, correction=0)  # biased: divide by m = N·H·W
    m = x.numel() // x.shape[1]
    y = gamma.view(channel) * (x - mean.view(channel)) / torch.sqrt(var.view(channel) + eps) + beta.view(channel)
    new_mean = (1 - momentum) * running_mean + momentum * mean.detach()
    new_var = (1 - momentum) * running_var + momentum * var.detach() * m / (m - 1)  # stored unbiased
    return y, new_mean, new_var


def _bn2d(*, unbiased=False, stored_unbiased=True, m_is_batch=False, keras=False,
          eps_outside=False, last_dim=False, frozen=False, fixed_momentum=None):
    """Batch norm on feature maps with one of the variations learners write; the default is right."""
    def batch_norm_2d(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
        dims = (0, 2, 3)
        mean, var = x.mean(dim=dims, keepdim=True), x.var(dim=dims, correction=int(unbiased), keepdim=True)
        scale = (torch.sqrt(var) + eps) if eps_outside else torch.sqrt(var + eps)
        shape = (-1,) if last_dim else (1, -1, 1, 1)
        y = gamma.view(shape) * (x - mean) / scale + beta.view(shape)
        if frozen:
            return y, running_mean.clone(), running_var.clone()
        momentum = momentum if fixed_momentum is None else fixed_momentum
        m = x.shape[0] if m_is_batch else x.numel() // x.shape[1]
        batch_var = x.var(dim=dims, correction=0, keepdim=True) * (m / (m - 1) if stored_unbiased else 1)
        old, new = (momentum, 1 - momentum) if keras else (1 - momentum, momentum)
        return y, old * running_mean + new * mean.flatten(), old * running_var + new * batch_var.flatten()
    return batch_norm_2d


def _output_and_statistics(out, name):
    y, new_mean, new_var = parts(out, 3, name, "the output, the new running mean and the new running variance",
                                 "输出、新的滑动均值和新的滑动方差")
    as_tensor(y, name, floating=True, what="the output", what_zh="输出")
    require(y.ndim == 4, f"the output should keep the input's shape [N, C, H, W]; {name} returned shape "
                         f"{tuple(y.shape)}", zh=f"输出应保持输入的形状 [N, C, H, W]；{name} 返回的形状是 {tuple(y.shape)}")
    for stat in (new_mean, new_var):
        shape = tuple(stat.shape)
        require(stat.ndim != 3, f"your running statistics have shape {shape}, one per channel and position: batch "
                                "norm on feature maps keeps one mean and one variance per channel, over N, H and W "
                                "together (dims 0, 2, 3), because a convolution shares its weights across positions",
                zh=f"你的滑动统计量形状是 {shape}，每个通道、每个位置各一个：特征图上的批归一化每个通道只保留"
                   "一个均值和一个方差，在 N、H、W 上一起统计（维度 0、2、3），因为卷积在各个位置共享权重")
        require(stat.ndim != 2, f"your running statistics have shape {shape}, one per image and channel: that is "
                                "instance normalisation. Batch norm pools the whole batch: average over N, H and W "
                                "together (dims 0, 2, 3)",
                zh=f"你的滑动统计量形状是 {shape}，每张图像、每个通道各一个：那是实例归一化。批归一化汇总整个批次："
                   "在 N、H、W 上一起求平均（维度 0、2、3）")
        require(stat.ndim == 1, f"return the running statistics as vectors of C numbers, like the buffers of "
                                f"nn.BatchNorm2d; yours have shape {shape}: compute them without keepdim=True, or "
                                ".flatten() them",
                zh=f"请把滑动统计量作为 C 个数的向量返回，和 nn.BatchNorm2d 的缓冲区一样；你的形状是 {shape}："
                   "计算时不要用 keepdim=True，或者用 .flatten() 展平")
    return y, new_mean, new_var


def _feature_maps(seed, shape, momentum=0.1, hidden=False, tiny=False, note="", note_zh="", fresh=False) -> Case:
    n, c, h, w = shape
    scale = torch.linspace(0.5, 3.0, c)
    if tiny:
        scale[0] = 1e-3  # a channel whose variance, 1e-6, is smaller than eps
    x = _seeded(seed, n, c, h, w, scale=scale, shift=torch.linspace(-2.0, 4.0, c))
    gamma, beta = 0.5 + torch.rand(c, generator=torch.Generator().manual_seed(seed + 1)), _seeded(seed + 2, c)
    running = (torch.zeros(c), torch.ones(c)) if fresh else (_seeded(seed + 3, c), 1 + torch.rand(c))
    return Case(x, gamma, beta, *running, momentum, hidden=hidden, note=note, note_zh=note_zh)


_FORBID_BN = forbidding(
    "torch.nn.functional.batch_norm",
    ["torch.nn.functional.batch_norm", "torch.batch_norm", "torch.native_batch_norm", "torch.nn.BatchNorm1d",
     "torch.nn.BatchNorm2d", "torch.nn.BatchNorm3d"],
    why="computes the whole batch norm, statistics and all: that is the work this exercise leaves to you",
    why_zh="它会算出整个批归一化（包括统计量），这正是本练习留给你做的事")

_Q1_MISTAKES = [
    Mistake(_bn2d(last_dim=True), "γ and β are lined up with the last dimension (W), not with the channels: reshape "
                                  "them to [1, C, 1, 1] before multiplying. With W = C broadcasting raises no error, "
                                  "it just scales the wrong numbers",
            "γ 和 β 对齐到了最后一维（W），而不是通道：相乘之前把它们变形为 [1, C, 1, 1]。当 W = C 时广播不会报错，"
            "只是缩放了错误的数"),
    Mistake(_bn2d(unbiased=True), "you normalised with the unbiased variance (torch.var divides by m − 1 by "
                                  "default). Batch norm normalises with the biased one, dividing by m = N·H·W "
                                  "(correction=0); only the running variance is stored unbiased",
            "你用无偏方差做了归一化（torch.var 默认除以 m − 1）。批归一化用有偏方差归一化，除以 m = N·H·W"
            "（correction=0）；只有滑动方差按无偏方式存储"),
    Mistake(_bn2d(stored_unbiased=False), "the running variance stores the biased batch variance. PyTorch stores the "
                                          "unbiased one in running_var: multiply by m / (m − 1), m = N·H·W",
            "滑动方差存储的是有偏的批次方差。PyTorch 在 running_var 中存储的是无偏方差：乘以 m / (m − 1)，"
            "其中 m = N·H·W"),
    Mistake(_bn2d(m_is_batch=True), "the unbiased correction uses m = N, the batch size. A channel has N·H·W values "
                                    "in the batch, so the correction is m / (m − 1) with m = N·H·W",
            "无偏修正用了 m = N，即批大小。一个通道在批次中有 N·H·W 个值，所以修正是 m / (m − 1)，其中 m = N·H·W"),
    Mistake(_bn2d(keras=True), "the running statistics weight the OLD value by momentum, the Keras/TensorFlow "
                               "convention. In PyTorch momentum is the weight of the new batch: "
                               "(1 − momentum)·old + momentum·batch",
            "滑动统计量用 momentum 给旧值加权，这是 Keras/TensorFlow 的约定。在 PyTorch 中 momentum 是新批次的权重："
            "(1 − momentum)·old + momentum·batch"),
    Mistake(_bn2d(eps_outside=True), "eps sits outside the square root: PyTorch divides by sqrt(var + eps), not "
                                     "sqrt(var) + eps; the two differ for a channel with a small variance",
            "eps 放在了平方根外面：PyTorch 除以的是 sqrt(var + eps)，而不是 sqrt(var) + eps；"
            "对方差很小的通道，两者并不相同"),
    Mistake(_bn2d(fixed_momentum=0.1), "the running statistics always move by 0.1: use the momentum argument, "
                                       "which the caller may set to anything between 0 and 1",
            "滑动统计量总是按 0.1 移动：请使用参数 momentum，调用者可以把它设成 0 到 1 之间的任何值"),
    Mistake(_bn2d(frozen=True), "the output is right, but the running statistics came back unchanged: in train mode "
                                "every batch also moves them towards its own mean and variance",
            "输出是对的，但滑动统计量原样返回了：在训练模式下，每个批次还会把它们向自己的均值和方差推动一点"),
]


def _matches_batch_norm_2d(fn):
    case = _feature_maps(11, (3, 4, 5, 6), momentum=0.1)
    args, _ = case.fresh()
    inputs = [a.requires_grad_(True) for a in args[:3]]
    y, new_mean, new_var = _output_and_statistics(call(fn, *args, name="batch_norm_2d", forbid=_FORBID_BN),
                                                  "batch_norm_2d")
    compare_gradients(y, _batch_norm_2d(*args)[0], inputs, name="batch_norm_2d")
    layer = torch.nn.BatchNorm2d(4, momentum=0.1, eps=EPS)
    with torch.no_grad():
        layer.weight.copy_(args[1]), layer.bias.copy_(args[2])
        layer.running_mean.copy_(args[3]), layer.running_var.copy_(args[4])
        theirs = layer(args[0].detach())
    largest = max(gap(y.detach(), theirs), gap(new_mean.detach(), layer.running_mean),
                  gap(new_var.detach(), layer.running_var))
    return say(f"It matches nn.BatchNorm2d in train mode, running statistics included (largest gap {largest:.1e}), "
               "and gradients flow through the batch statistics as they do in PyTorch.",
               f"与训练模式下的 nn.BatchNorm2d 一致，包括滑动统计量（最大差距 {largest:.1e}），"
               "梯度也和 PyTorch 中一样流经批次统计量。")


def _q1_table(cases):
    return function_checker("batch_norm_2d", _batch_norm_2d, cases=cases, mistakes=_Q1_MISTAKES, forbid=_FORBID_BN,
                            convert=_output_and_statistics)


_W_EQUALS_C = _feature_maps(2, (2, 3, 4, 3), momentum=0.2, note="W = C, so γ must line up with the channels",
                            note_zh="W = C，所以 γ 必须与通道对齐")

q1 = Question("q1", "batch norm on feature maps", chapter=CHAPTER, checker=_in_order(
    _q1_table([_W_EQUALS_C]),
    _q1_table([
        _feature_maps(1, (4, 3, 5, 5), fresh=True, note="running statistics at their start, 0 and 1",
                      note_zh="滑动统计量处于初始值 0 和 1"),
        _W_EQUALS_C,
        _feature_maps(3, (1, 2, 6, 6), note="a single image, N = 1", note_zh="只有一张图像，N = 1"),
        _feature_maps(4, (8, 3, 2, 2), tiny=True, momentum=0.05, note="a channel with a tiny variance",
                      note_zh="一个方差极小的通道"),
        _feature_maps(5, (3, 5, 3, 4), momentum=0.3, hidden=True),
    ]),
    _matches_batch_norm_2d),
    hint="A convolution uses the same weights at every position, so which values of the batch belong to one channel? "
         "Count them: that count is the m of the biased and the unbiased variance.",
    reference=_batch_norm_2d, title_zh="特征图上的批归一化",
    hint_zh="卷积在每个位置都用同一组权重，那么批次中哪些值属于同一个通道？数一数：这个数就是有偏方差和无偏方差里的 m。")


# q2 · batch norm's backward pass by hand -------------------------------------------------------

def _batch_norm_backward(dy, x, gamma, eps=1e-5):
    mean, var = x.mean(dim=0), x.var(dim=0, correction=0)
    std = torch.sqrt(var + eps)
    x_hat = (x - mean) / std
    dbeta = dy.sum(dim=0)
    dgamma = (dy * x_hat).sum(dim=0)
    dx = gamma / std * (dy - dy.mean(dim=0) - x_hat * (dy * x_hat).mean(dim=0))
    return dx, dgamma, dbeta


def _backward(*, through_mean=True, through_var=True, unbiased=False, sums=False, sign=1, swap=False,
              dx_gamma=True, dbeta_mean=False):
    """The backward pass with one of the variations learners write; the default is right."""
    def batch_norm_backward(dy, x, gamma, eps=1e-5):
        std = torch.sqrt(x.var(dim=0, correction=int(unbiased)) + eps)
        x_hat = (x - x.mean(dim=0)) / std
        reduce = (lambda t: t.sum(dim=0)) if sums else (lambda t: t.mean(dim=0))
        inner = dy - (reduce(dy) if through_mean else 0) - sign * (x_hat * reduce(dy * x_hat) if through_var else 0)
        dx = (gamma if dx_gamma else 1) / std * inner
        dgamma, dbeta = (dy * x_hat).sum(dim=0), (dy.mean(dim=0) if dbeta_mean else dy.sum(dim=0))
        return (dx, dbeta, dgamma) if swap else (dx, dgamma, dbeta)
    return batch_norm_backward


def _three_gradients(out, name):
    dx, dgamma, dbeta = parts(out, 3, name, "dx, dgamma and dbeta", "dx、dgamma 和 dbeta")
    require(dx.ndim == 2, f"dx has one entry per input value, shape [N, C]; yours has shape {tuple(dx.shape)}",
            zh=f"dx 对每个输入值各有一项，形状为 [N, C]；你的形状是 {tuple(dx.shape)}")
    for grad, label in ((dgamma, "dgamma"), (dbeta, "dbeta")):
        require(grad.ndim == 1, f"{label} has one entry per feature, shape [C]; yours has shape {tuple(grad.shape)}: "
                                "γ and β are shared by every example, so add up the contributions of the whole "
                                "batch (a sum over dim 0)",
                zh=f"{label} 每个特征一项，形状为 [C]；你的形状是 {tuple(grad.shape)}：γ 和 β 被每个样本共享，"
                   "所以要把整个批次的贡献加起来（在维度 0 上求和）")
    return dx, dgamma, dbeta


def _upstream(seed, n, c, hidden=False, tiny=False, note="", note_zh="", dtype=torch.float32) -> Case:
    scale = torch.linspace(0.5, 4.0, c)
    if tiny:
        scale[-1] = 2e-3  # variance 4e-6, below eps
    x = _seeded(seed, n, c, scale=scale, shift=torch.linspace(-1.0, 3.0, c), dtype=dtype)
    gamma = (0.5 + torch.rand(c, generator=torch.Generator().manual_seed(seed + 1))).to(dtype)
    return Case(_seeded(seed + 2, n, c, dtype=dtype), x, gamma, hidden=hidden, note=note, note_zh=note_zh)


_FORBID_AUTOGRAD = forbidding(
    "autograd",
    ["torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward", "torch.func.vjp", "torch.func.grad",
     "torch.func.jacrev", "torch.autograd.functional.vjp", "torch.autograd.functional.jacobian"],
    why="lets autograd compute the gradients: deriving and writing them by hand is the point of this exercise",
    why_zh="它让 autograd 替你算出梯度，而亲手推导并写出梯度正是本练习的目的")


def _passes_gradcheck(fn):
    class WithYourBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, gamma, beta):
            ctx.save_for_backward(x, gamma)
            x_hat = (x - x.mean(dim=0)) / torch.sqrt(x.var(dim=0, correction=0) + EPS)
            return gamma * x_hat + beta

        @staticmethod
        def backward(ctx, dy):
            x, gamma = ctx.saved_tensors
            return _three_gradients(call(fn, dy, x, gamma, name="batch_norm_backward", forbid=_FORBID_AUTOGRAD),
                                    "batch_norm_backward")

    generator = torch.Generator().manual_seed(12)
    inputs = [torch.randn(shape, generator=generator, dtype=torch.float64).requires_grad_() for shape in
              ((5, 3), (3,), (3,))]
    require(torch.autograd.gradcheck(WithYourBackward.apply, inputs, raise_exception=False),
            "right on the cases in float32, but torch.autograd.gradcheck disagrees in float64: does your function "
            "keep the dtype of its inputs (no torch.tensor(...) or torch.zeros(...) without dtype=)?",
            zh="在 float32 的用例上正确，但 torch.autograd.gradcheck 在 float64 下不同意：你的函数是否保持了输入的"
               "数据类型（不要用不带 dtype= 的 torch.tensor(...) 或 torch.zeros(...)）？")
    return say("torch.autograd.gradcheck agrees too: your backward, wrapped in a torch.autograd.Function, matches "
               "finite differences of batch norm in float64.",
               "torch.autograd.gradcheck 也同意：把你的反向传播包进一个 torch.autograd.Function 之后，"
               "它与批归一化在 float64 下的有限差分一致。")


q2 = Question("q2", "batch norm's backward pass by hand", chapter=CHAPTER, checker=_in_order(function_checker(
    "batch_norm_backward", _batch_norm_backward, convert=_three_gradients, forbid=_FORBID_AUTOGRAD,
    cases=[
        _upstream(1, 6, 3),
        _upstream(2, 10, 4, note="ten examples", note_zh="十个样本"),
        _upstream(3, 2, 5, note="a batch of two", note_zh="批大小为 2"),
        _upstream(4, 8, 3, tiny=True, note="a feature with a tiny variance", note_zh="一个方差极小的特征"),
        _upstream(5, 7, 6, hidden=True),
    ],
    mistakes=[
        Mistake(_backward(through_mean=False, through_var=False),
                "you treated the batch mean and variance as constants (dx = γ·dy/σ). They are computed from x, so "
                "every x also moves the output through them: two more terms",
                "你把批次均值和方差当成了常数（dx = γ·dy/σ）。它们是由 x 算出来的，所以每个 x 还会通过它们影响输出："
                "还差两项"),
        Mistake(_backward(through_var=False),
                "dx misses the path through the variance: σ² is computed from every x of the column, so each x "
                "also moves every x̂ through σ",
                "dx 漏掉了经过方差的那条路径：σ² 由这一列的每个 x 算出，所以每个 x 还会通过 σ 影响每一个 x̂"),
        Mistake(_backward(through_mean=False),
                "dx misses the path through the mean: μ is computed from every x of the column, so each x also "
                "moves every x̂ through μ",
                "dx 漏掉了经过均值的那条路径：μ 由这一列的每个 x 算出，所以每个 x 还会通过 μ 影响每一个 x̂"),
        Mistake(_backward(sums=True),
                "the two correction terms are averages over the batch (1/N times a sum), not plain sums",
                "两个修正项是对批次的平均（和的 1/N 倍），而不是直接求和"),
        Mistake(_backward(sign=-1), "the sign of the variance term is flipped: where dy·x̂ is positive on average, "
                                    "a larger σ² shrinks every x̂ and lowers the loss, so that term is subtracted",
                "方差那一项的符号反了：当 dy·x̂ 平均为正时，更大的 σ² 会缩小每个 x̂ 并降低损失，所以这一项是减去的"),
        Mistake(_backward(unbiased=True), "your σ uses the unbiased variance (divide by N − 1); the forward pass "
                                          "normalised with the biased one (divide by N), so its backward must too",
                "你的 σ 用了无偏方差（除以 N − 1）；前向传播用有偏方差（除以 N）做归一化，反向传播也必须如此"),
        Mistake(_backward(swap=True), "dgamma and dbeta are swapped: β adds, so its gradient is Σdy; γ multiplies "
                                      "x̂, so its gradient is Σdy·x̂",
                "dgamma 和 dbeta 弄反了：β 是加上去的，它的梯度是 Σdy；γ 乘以 x̂，它的梯度是 Σdy·x̂"),
        Mistake(_backward(dx_gamma=False), "dx forgot γ: the output is γ·x̂ + β, so every path back to x passes "
                                           "through the factor γ",
                "dx 漏了 γ：输出是 γ·x̂ + β，所以回到 x 的每条路径都要经过因子 γ"),
        Mistake(_backward(dbeta_mean=True), "dbeta averages dy over the batch; the loss adds up every example's "
                                            "contribution, so dbeta is the sum Σdy, like dgamma",
                "dbeta 对批次上的 dy 取了平均；损失把每个样本的贡献加在一起，所以 dbeta 是和 Σdy，和 dgamma 一样"),
    ]), _passes_gradcheck),
    hint="Write y = γ·x̂ + β with x̂ = (x − μ)/σ, and follow dy back to x along three paths: directly through x̂, "
         "through μ and through σ². Each of μ and σ² depends on every x in the column.",
    reference=_batch_norm_backward, title_zh="手写批归一化的反向传播",
    hint_zh="写出 y = γ·x̂ + β，其中 x̂ = (x − μ)/σ，然后沿三条路径把 dy 传回 x：直接经过 x̂、经过 μ、经过 σ²。"
            "μ 和 σ² 都依赖于这一列中的每一个 x。")


# q3 · folding batch norm into the linear layer before it -----------------------------------------

def _fold_batch_norm(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / torch.sqrt(running_var + eps)  # one factor per output feature
    return weight * scale[:, None], (bias - running_mean) * scale + beta


def _fold(*, columns=False, bias_unscaled=False, no_mean=False, no_beta=False, variance=False, eps_outside=False,
          mean_unscaled=False, mean_sign=-1, no_eps=False):
    """Folding with one of the variations learners write; the default is right."""
    def fold_batch_norm(weight, bias, gamma, beta, running_mean, running_var, eps=1e-5):
        eps = 0.0 if no_eps else eps
        std = running_var + eps if variance else (torch.sqrt(running_var) + eps if eps_outside
                                                  else torch.sqrt(running_var + eps))
        scale = gamma / std
        new_weight = weight * scale[None, :] if columns else weight * scale[:, None]
        mean = 0 if no_mean else running_mean
        if mean_unscaled:
            new_bias = bias * scale + mean_sign * mean + beta
        else:
            new_bias = (bias if bias_unscaled else bias * scale) + mean_sign * mean * scale
            new_bias = new_bias + (0 if no_beta else beta)
        return new_weight, new_bias
    return fold_batch_norm


def _weight_and_bias(out, name):
    new_weight, new_bias = parts(out, 2, name, "the new weight and the new bias: `return new_weight, new_bias`",
                                 "新的权重和新的偏置（`return new_weight, new_bias`）")
    require(new_weight.ndim == 2 and new_bias.ndim == 1,
            f"the new weight is a matrix [out, in] and the new bias a vector [out], like nn.Linear's; yours have "
            f"shapes {tuple(new_weight.shape)} and {tuple(new_bias.shape)}",
            zh=f"新的权重是矩阵 [out, in]，新的偏置是向量 [out]，和 nn.Linear 的一样；你的形状是 "
               f"{tuple(new_weight.shape)} 和 {tuple(new_bias.shape)}")
    return new_weight, new_bias


def _layer_pair(seed, n_out, n_in, hidden=False, tiny=False, zero_bias=False, note="", note_zh="") -> Case:
    generator = torch.Generator().manual_seed(seed)
    weight, bias = _seeded(seed, n_out, n_in), (torch.zeros(n_out) if zero_bias else _seeded(seed + 1, n_out))
    gamma, beta = 0.5 + torch.rand(n_out, generator=generator), _seeded(seed + 2, n_out)
    running_var = 0.2 + 3 * torch.rand(n_out, generator=generator)
    if tiny:
        running_var[0] = 1e-6  # below eps: where eps decides the answer
    return Case(weight, bias, gamma, beta, _seeded(seed + 3, n_out, scale=2.0), running_var,
                hidden=hidden, note=note, note_zh=note_zh)


_FORBID_FUSION = forbidding(
    "torch.nn.utils.fusion", ["torch.nn.utils.fusion.fuse_linear_bn_weights", "torch.nn.utils.fusion.fuse_linear_bn_eval",
                              "torch.nn.utils.fusion.fuse_conv_bn_weights", "torch.nn.utils.fusion.fuse_conv_bn_eval"],
    why="folds batch norm for you: working out the fold is the point of this exercise",
    why_zh="它会替你完成折叠，而自己推出这一步正是本练习的目的")

_Q3_MISTAKES = [
    Mistake(_fold(columns=True), "you scaled the columns of the weight (the inputs); batch norm rescales each OUTPUT "
                                 "feature, so scale the rows. With a square weight this raises no error, it just "
                                 "scales the wrong numbers",
            "你缩放的是权重的列（输入）；批归一化缩放的是每个输出特征，所以要缩放行。"
            "权重是方阵时这不会报错，只是缩放了错误的数"),
    Mistake(_fold(bias_unscaled=True), "the old bias is not scaled: batch norm acts on W·x + b as a whole, so the "
                                       "bias is scaled by γ/σ like the weights",
            "旧的偏置没有缩放：批归一化作用于整个 W·x + b，所以偏置也要像权重一样乘以 γ/σ"),
    Mistake(_fold(no_mean=True), "the running mean is missing from the new bias: eval mode subtracts running_mean "
                                 "before it scales",
            "新的偏置里缺少滑动均值：评估模式在缩放之前要先减去 running_mean"),
    Mistake(_fold(mean_sign=1), "the running mean is added; eval mode subtracts it",
            "滑动均值被加上了；评估模式是减去它"),
    Mistake(_fold(mean_unscaled=True), "the running mean is subtracted after scaling; eval mode subtracts it before "
                                       "it scales, so the mean is scaled by γ/σ too",
            "滑动均值是在缩放之后才减去的；评估模式在缩放之前减去它，所以均值也要乘以 γ/σ"),
    Mistake(_fold(no_beta=True), "β is missing from the new bias: batch norm's output is γ·x̂ + β",
            "新的偏置里缺少 β：批归一化的输出是 γ·x̂ + β"),
    Mistake(_fold(variance=True), "you divided by the variance; divide by the standard deviation, "
                                  "sqrt(running_var + eps)",
            "你除以了方差；应除以标准差 sqrt(running_var + eps)"),
    Mistake(_fold(no_eps=True), "eps is missing: eval mode divides by sqrt(running_var + eps), and for a feature "
                                "whose running variance is below eps that decides the answer",
            "缺少 eps：评估模式除以 sqrt(running_var + eps)，对滑动方差小于 eps 的特征，它决定了结果"),
    Mistake(_fold(eps_outside=True), "eps sits outside the square root: eval mode divides by sqrt(running_var + eps); "
                                     "it decides the answer for a feature whose running variance is below eps",
            "eps 放在了平方根外面：评估模式除以 sqrt(running_var + eps)；对滑动方差小于 eps 的特征，它决定了结果"),
]


def _same_outputs_as_the_pair(fn):
    generator = torch.Generator().manual_seed(21)
    pair = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4)).eval()
    with torch.no_grad():
        for buffer, values in ((pair[1].running_mean, torch.randn(4, generator=generator)),
                               (pair[1].running_var, 0.5 + torch.rand(4, generator=generator)),
                               (pair[1].weight, 0.5 + torch.rand(4, generator=generator)),
                               (pair[1].bias, torch.randn(4, generator=generator))):
            buffer.copy_(values)
        weight, bias = _weight_and_bias(call(fn, pair[0].weight.clone(), pair[0].bias.clone(), pair[1].weight.clone(),
                                             pair[1].bias.clone(), pair[1].running_mean.clone(),
                                             pair[1].running_var.clone(), name="fold_batch_norm",
                                             forbid=_FORBID_FUSION), "fold_batch_norm")
        x = torch.randn(32, 6, generator=generator)
        largest = gap(x @ weight.T + bias, pair(x))
    return say(f"One linear layer with your weights gives the outputs of nn.Linear → nn.BatchNorm1d in eval mode "
               f"(largest gap {largest:.1e}): one layer fewer at inference.",
               f"用你的权重构成的一个线性层，给出了与评估模式下 nn.Linear → nn.BatchNorm1d 相同的输出"
               f"（最大差距 {largest:.1e}）：推理时少了一层。")


def _q3_table(cases):
    return function_checker("fold_batch_norm", _fold_batch_norm, cases=cases, mistakes=_Q3_MISTAKES,
                            forbid=_FORBID_FUSION, convert=_weight_and_bias)


_SQUARE = _layer_pair(2, 3, 3, note="a square weight", note_zh="权重是方阵")

q3 = Question("q3", "fold batch norm into the layer before it", chapter=CHAPTER, checker=_in_order(
    _q3_table([_SQUARE]),
    _q3_table([
        _layer_pair(1, 4, 6),
        _SQUARE,
        _layer_pair(3, 5, 2, zero_bias=True, note="a layer without a bias (zeros)", note_zh="没有偏置的层（全零）"),
        _layer_pair(4, 3, 4, tiny=True, note="a running variance below eps", note_zh="滑动方差小于 eps"),
        _layer_pair(5, 6, 5, hidden=True),
    ]),
    _same_outputs_as_the_pair),
    hint="Write eval-mode batch norm of z = W·x + b out in full, for one output feature, and collect what multiplies "
         "x and what does not.",
    reference=_fold_batch_norm, title_zh="把批归一化折叠进前面的层",
    hint_zh="对一个输出特征，把 z = W·x + b 经过评估模式批归一化的式子完整写出来，再把乘以 x 的部分和不乘 x 的部分分别归拢。")


# q4 · standardise with the training statistics, constant features included ------------------------

def _standardize_with_train(train_X, test_X):
    mean, std = train_X.mean(dim=0), train_X.std(dim=0)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant feature is only centred
    return (train_X - mean) / std, (test_X - mean) / std


def _z(x, mean, std):
    return (x - mean) / torch.where(std > 0, std, torch.ones_like(std))


def _standardise(*, stats="train", dim=0, correction=1, constant="one", drop=False):
    """Standardising with one of the variations learners write; the default is right."""
    def standardize_with_train(train_X, test_X):
        source = {"train": train_X, "both": torch.cat([train_X, test_X])}.get(stats, train_X)
        mean, std = source.mean(dim=dim, keepdim=True), source.std(dim=dim, correction=correction, keepdim=True)
        if dim == 1:
            return _z(train_X, mean, std), _z(test_X, test_X.mean(1, keepdim=True), test_X.std(1, keepdim=True))
        if stats == "own":
            return _z(train_X, mean, std), _z(test_X, test_X.mean(0), test_X.std(0))
        keep = std.flatten() > 0
        if drop:
            return ((train_X - mean) / std)[:, keep], ((test_X - mean) / std)[:, keep]
        if constant == "one":
            return _z(train_X, mean, std), _z(test_X, mean, std)
        if constant == "nan":
            return (train_X - mean) / std, (test_X - mean) / std
        if constant == "nan_to_num":
            return torch.nan_to_num((train_X - mean) / std), torch.nan_to_num((test_X - mean) / std)
        if constant == "eps":
            return (train_X - mean) / (std + 1e-8), (test_X - mean) / (std + 1e-8)
        return (torch.where(keep, (train_X - mean) / std, 0.0), torch.where(keep, (test_X - mean) / std, 0.0))
    return standardize_with_train


def _two_sets(out, name):
    train_Z, test_Z = parts(out, 2, name, "the standardised training set and the standardised test set",
                            "标准化后的训练集和标准化后的测试集")
    as_tensor(train_Z, name, floating=True, what="the standardised training set", what_zh="标准化后的训练集")
    return train_Z, test_Z


def _sets(seed, n_train, n_test, n_features, constant=(), hidden=False, note="", note_zh="") -> Case:
    scale, shift = torch.linspace(0.5, 10.0, n_features), torch.linspace(-3.0, 50.0, n_features)
    train = _seeded(seed, n_train, n_features, scale=scale, shift=shift, dtype=torch.float64)
    test = _seeded(seed + 1, n_test, n_features, scale=scale, shift=shift + 2.0, dtype=torch.float64)  # drifted
    for column, value in constant:
        train[:, column] = value  # the same in every training example: a blank corner pixel
    return Case(train, test, hidden=hidden, note=note, note_zh=note_zh)


q4 = Question("q4", "standardise with the training statistics", chapter=CHAPTER, checker=function_checker(
    "standardize_with_train", _standardize_with_train, convert=_two_sets,
    forbid=forbidding("utils.data.standardize", ["utils.data.standardize", "sklearn.preprocessing.StandardScaler"],
                      why="standardises for you: writing that is the point of this exercise",
                      why_zh="它会替你完成标准化，而自己写出来正是本练习的目的"),
    cases=[
        _sets(1, 8, 5, 3, constant=[(1, 4.0)], note="the second feature is constant in the training set",
              note_zh="第二个特征在训练集中是常数"),
        _sets(2, 10, 4, 2, note="no constant feature", note_zh="没有常数特征"),
        _sets(3, 6, 3, 4, constant=[(0, 0.0), (3, 1.0)], note="two constant features, one of them all zeros",
              note_zh="两个常数特征，其中一个全为零"),
        _sets(4, 9, 6, 5, constant=[(2, -1.5)], hidden=True),
    ],
    mistakes=[
        Mistake(_standardise(stats="own"), "the test set was standardised with its own mean and std. That leaks "
                                           "test-set information into the preprocessing, hides any drift between the "
                                           "sets, and feeds the model numbers it was not trained on: use the "
                                           "TRAINING mean and std for every set",
                "测试集用它自己的均值和标准差做了标准化。这会把测试集的信息泄露到预处理中，掩盖两个数据集之间的漂移，"
                "并且喂给模型的数值和它训练时见到的不一样：所有数据集都要用训练集的均值和标准差"),
        Mistake(_standardise(stats="both"), "you computed the mean and std on the training and test sets together. "
                                            "That leaks the test set into the preprocessing: the statistics come "
                                            "from the training set alone",
                "你在训练集和测试集合在一起的数据上计算了均值和标准差。这会把测试集的信息泄露到预处理中："
                "统计量只能来自训练集"),
        Mistake(_standardise(dim=1), "you standardised each example (dim=1); standardise each feature, over the "
                                     "examples (dim=0)",
                "你对每个样本做了标准化（dim=1）；应对每个特征在所有样本上做标准化（dim=0）"),
        Mistake(_standardise(constant="nan"), "a feature that is constant in the training set has std 0, and 0/0 "
                                              "gives NaN. Such a feature is only centred: divide it by 1 instead",
                "在训练集中恒定的特征标准差为 0，而 0/0 得到 NaN。这样的特征只做中心化：改为除以 1"),
        Mistake(_standardise(constant="nan_to_num"), "you cleaned up after dividing by a zero std (nan_to_num): on the "
                                                     "test set, where that feature can differ from its training value, "
                                                     "x/0 became ±1.8e308. Divide a constant feature by 1 instead",
                "你在除以为零的标准差之后再做清理（nan_to_num）：在测试集上，该特征可能与训练时的值不同，"
                "x/0 变成了 ±1.8e308。改为让常数特征除以 1"),
        Mistake(_standardise(constant="eps"), "dividing by std + eps blows a constant feature's test values up to the "
                                              "order of 1/eps. Give a constant feature a divisor of 1 instead",
                "除以 std + eps 会把常数特征在测试集上的值放大到 1/eps 的量级。改为让常数特征除以 1"),
        Mistake(_standardise(constant="zero"), "a constant feature is set to 0 in both sets; centre it instead "
                                               "(x − train mean): on the test set it can differ from its training "
                                               "value, and that difference is information",
                "常数特征在两个数据集里都被置成了 0；应当中心化（x − 训练集均值）：在测试集上它可能与训练时的值不同，"
                "这种差别本身就是信息"),
        Mistake(_standardise(drop=True), "you dropped the constant features: keep every feature, so the model sees "
                                         "the same columns in training and at test time, and only centre the "
                                         "constant ones",
                "你把常数特征删掉了：保留每一个特征，让模型在训练和测试时看到同样的列，只对常数特征做中心化"),
        Mistake(_standardise(correction=0), "use torch's default standard deviation, with n − 1 in the denominator, "
                                            "as the chapter does (scikit-learn's StandardScaler divides by n)",
                "请使用 torch 默认的标准差，分母为 n − 1，和本章一样（scikit-learn 的 StandardScaler 除以 n）"),
    ],
    note=("Note the test set's means are not 0: that is the drift, kept visible, as it should be.",
          "注意测试集的均值不是 0：这就是数据漂移，它被如实保留了下来，本就应该如此。")),
    hint="Which statistics may the test set see? And what single number can a feature with a standard deviation of 0 "
         "be divided by so that it is still centred and nothing else changes?",
    reference=_standardize_with_train, title_zh="用训练集的统计量做标准化（含常数特征）",
    hint_zh="测试集可以用哪些统计量？标准差为 0 的特征除以哪个数，才能既被中心化、又不改变别的任何东西？")
