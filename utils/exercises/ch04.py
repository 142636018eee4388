"""Chapter 04 (loss and gradient descent) exercises: a stable softmax cross-entropy, the logit gap that
label smoothing aims for, a finite-difference gradient, and the largest stable learning rate of linear
regression trained with momentum."""
from __future__ import annotations

import math

import torch

from utils.exercises import (Case, Mistake, Question, Wrong, as_number, as_tensor, call, forbidding,
                             function_checker, require, same, say)

CHAPTER = "04"


def _seeded(seed: int, *shape, scale: float = 1.0, dtype=torch.float32) -> torch.Tensor:
    """Seeded normal numbers rounded to two decimals, so that a message prints them briefly."""
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype).round(decimals=2)


# q1 · a stable softmax cross-entropy ---------------------------------------------------------

def _softmax_cross_entropy(logits, targets):
    shifted = logits - logits.max(dim=1, keepdim=True).values  # the largest logit of each row becomes 0
    log_probabilities = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probabilities[torch.arange(len(targets)), targets].mean()


def _log_probabilities(logits, dim=1):
    shifted = logits - logits.max(dim=dim, keepdim=True).values
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def _picked(log_probabilities, targets):
    return log_probabilities[torch.arange(len(targets)), targets]


def _naive(logits, targets):
    probabilities = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    return -_picked(probabilities, targets).log().mean()


def _batch_max(logits, targets):
    shifted = logits - logits.max()
    return -_picked(shifted - shifted.exp().sum(dim=1, keepdim=True).log(), targets).mean()


def _log_of_softmax(logits, targets):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    return -_picked(shifted.exp() / shifted.exp().sum(dim=1, keepdim=True), targets).log().mean()


def _one_loss(out, name):
    out = as_tensor(out, name, floating=True, what="the loss", what_zh="损失")
    require(out.ndim != 1, f"{name} returned one loss per example (shape {tuple(out.shape)}): the loss of a batch "
                           "is their mean, one number. Finish with .mean()",
            zh=f"{name} 对每个样本各返回了一个损失（形状 {tuple(out.shape)}）：一个批次的损失是它们的平均，"
               "只有一个数。最后加上 .mean()")
    require(out.ndim == 0, f"the loss is one number, a 0-d tensor; {name} returned shape {tuple(out.shape)}",
            zh=f"损失是一个数，即 0 维张量；{name} 返回的形状是 {tuple(out.shape)}")
    return out


_HUGE = Case(torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 5.0], [-1000.0, -1001.0, -1002.0]]),
             torch.tensor([0, 2, 1]), note="logits as large as ±1000", note_zh="logits 大到 ±1000")

_FORBID_CROSS_ENTROPY = forbidding(
    "F.cross_entropy",
    ["torch.nn.functional.cross_entropy", "torch.nn.functional.nll_loss", "torch.nn.CrossEntropyLoss",
     "torch.nn.NLLLoss", "torch.nn.functional.log_softmax", "torch.log_softmax", "torch.Tensor.log_softmax",
     "torch.special.log_softmax", "torch.logsumexp", "torch.Tensor.logsumexp", "torch.special.logsumexp"],
    why="computes the log-softmax stably for you, and making it stable is what this exercise is about",
    why_zh="它会替你稳定地算出 log-softmax，而让它数值稳定正是本练习要做的事")

q1 = Question("q1", "a stable softmax cross-entropy", chapter=CHAPTER, checker=function_checker(
    "softmax_cross_entropy", _softmax_cross_entropy, convert=_one_loss, forbid=_FORBID_CROSS_ENTROPY,
    gradients=True,
    cases=[
        Case(_seeded(4, 6, 5), torch.tensor([0, 4, 2, 2, 1, 3]), note="six examples of five classes",
             note_zh="五个类别的六个样本"),
        _HUGE,
        Case(_seeded(5, 4, 3, scale=5.0), torch.tensor([2, 0, 1, 1]), note="spread-out logits",
             note_zh="分散的 logits"),
        Case(_seeded(6, 1, 4), torch.tensor([3]), note="a batch of one", note_zh="只有一个样本的批次"),
        Case(_seeded(7, 5, 6, scale=30.0) + 200, torch.tensor([5, 0, 3, 3, 1]), hidden=True),
    ],
    mistakes=[
        Mistake(_naive, "with logits of size 1000 your loss is not finite: e^1000 overflows to inf and inf/inf is "
                        "NaN. Subtract each row's largest logit first (it cancels out of the softmax), and take the "
                        "log-softmax as shifted − log Σ exp(shifted)",
                "logits 大到 1000 时你的损失不是有限值：e^1000 会上溢为 inf，而 inf/inf 是 NaN。"
                "先减去每行最大的 logit（它在 softmax 中会被约掉），再把 log-softmax 算成 "
                "shifted − log Σ exp(shifted)"),
        Mistake(_batch_max, "you subtracted one maximum for the whole batch: a row whose logits all lie far below it "
                            "underflows to e^−2000 = 0 and its log to −inf. Subtract each row's own maximum, "
                            "max(dim=1, keepdim=True)",
                "你对整个批次只减去了同一个最大值：某一行的 logits 若都远低于它，就会下溢成 e^−2000 = 0，"
                "取对数成了 −inf。请减去每一行自己的最大值，max(dim=1, keepdim=True)"),
        Mistake(_log_of_softmax, "the row maximum is subtracted, but you took the log of the softmax: a probability "
                                 "that underflows to 0 has log −inf. Take the log-softmax as shifted − log Σ "
                                 "exp(shifted) instead of log(softmax)",
                "已经减去了行最大值，但你是对 softmax 取的对数：下溢成 0 的概率取对数就是 −inf。"
                "请把 log-softmax 算成 shifted − log Σ exp(shifted)，而不是 log(softmax)"),
        Mistake(lambda z, t: _softmax_cross_entropy(z, t) * len(t),
                "you summed over the batch; F.cross_entropy averages (reduction='mean'): divide by the batch size "
                "or use .mean()",
                "你对整个批次求了和；F.cross_entropy 求的是平均（reduction='mean'）：除以批大小，或用 .mean()"),
        Mistake(lambda z, t: -_softmax_cross_entropy(z, t),
                "the sign is flipped: cross-entropy is −log p of the right class, which is never negative",
                "符号反了：交叉熵是正确类别的 −log p，它永远不会是负数"),
        Mistake(lambda z, t: -_picked(_log_probabilities(z, dim=0), t).mean(),
                "you normalised each column (over the batch, dim=0): a softmax turns each example's row of K logits "
                "into probabilities, so take the maximum and the sum along dim=1",
                "你对每一列做了归一化（在批次上，dim=0）：softmax 把每个样本那一行的 K 个 logits 变成概率，"
                "所以最大值和求和都要沿 dim=1"),
        Mistake(lambda z, t: -_log_probabilities(z)[:, t].mean(),
                "log_probs[:, targets] picks every target in every row, an N × N matrix: pick one entry per row, "
                "log_probs[torch.arange(N), targets]",
                "log_probs[:, targets] 会在每一行取出所有目标，得到 N × N 的矩阵：每行只取一个元素，"
                "log_probs[torch.arange(N), targets]"),
        Mistake(lambda z, t: -_log_probabilities(z).mean(),
                "you averaged the log-probabilities of all classes; the loss uses only each example's target class",
                "你对所有类别的对数概率取了平均；损失只用每个样本的目标类别"),
        Mistake(lambda z, t: _softmax_cross_entropy(z.softmax(dim=1), t),
                "a softmax was applied to the logits before the loss, which applies its own: the loss takes raw "
                "logits (section 1's double softmax)",
                "在损失之前先对 logits 做了一次 softmax，而损失自己还会再做一次：损失要的是原始 logits"
                "（第 1 节中的两次 softmax）"),
    ],
    note=("This is the log-sum-exp trick; F.cross_entropy does the same inside.",
          "这就是 log-sum-exp 技巧；F.cross_entropy 内部也是这样做的。")),
    hint="log softmax(z)ᵢ = zᵢ − log Σⱼ exp(zⱼ), and it does not change if you subtract the same number from "
         "every zⱼ of a row. Which number keeps every exp(·) at most 1?",
    reference=_softmax_cross_entropy, title_zh="数值稳定的 softmax 交叉熵",
    hint_zh="log softmax(z)ᵢ = zᵢ − log Σⱼ exp(zⱼ)，而且从同一行的每个 zⱼ 中减去同一个数，结果不变。"
            "减去哪个数能让每个 exp(·) 都不超过 1？")


# q2 · the logit gap that label smoothing aims for --------------------------------------------

def _smoothed_logit_gap(epsilon, num_classes):
    right = 1 - epsilon + epsilon / num_classes  # the target's probability at the minimum
    other = epsilon / num_classes                # each other class's
    return math.log(right / other)               # softmax: p_t / p_k = exp(z_t − z_k)


def _gap(out, name):
    return as_number(out, name, what="the gap between two logits", what_zh="两个 logit 之差")


def _smoothed(right, other, combine=math.log):
    """A wrong answer built from the two target probabilities it gets (right, other) and how it combines them."""
    return lambda epsilon, k: combine(right(epsilon, k), other(epsilon, k))


_RIGHT = lambda epsilon, k: 1 - epsilon + epsilon / k  # noqa: E731
_OTHER = lambda epsilon, k: epsilon / k                # noqa: E731

q2 = Question("q2", "where label smoothing stops pushing", chapter=CHAPTER, checker=function_checker(
    "smoothed_logit_gap", _smoothed_logit_gap, convert=_gap,
    cases=[
        Case(0.1, 10, note="section 6's setting", note_zh="第 6 节的设置"),
        Case(0.2, 3, note="three classes", note_zh="三个类别"),
        Case(0.5, 2, note="two classes", note_zh="两个类别"),
        Case(0.05, 100, note="a hundred classes", note_zh="一百个类别"),
        Case(0.9, 4, note="a target close to uniform", note_zh="接近均匀的目标分布"),
        Case(0.3, 7, hidden=True),
    ],
    mistakes=[
        Mistake(_smoothed(lambda e, k: 1 - e, _OTHER, lambda a, b: math.log(a / b)),
                "in PyTorch's convention the right class gets its share of ε too: its target probability is "
                "1 − ε + ε/K, not 1 − ε",
                "在 PyTorch 的约定里，正确类别也分到一份 ε：它的目标概率是 1 − ε + ε/K，而不是 1 − ε"),
        Mistake(_smoothed(lambda e, k: 1 - e, lambda e, k: e / (k - 1), lambda a, b: math.log(a / b)),
                "you spread ε over the K − 1 wrong classes only, the convention of some papers; PyTorch's "
                "label_smoothing spreads it over all K classes, the right one included",
                "你只把 ε 分给了 K − 1 个错误类别，这是一些论文的约定；PyTorch 的 label_smoothing "
                "把它分给全部 K 个类别，包括正确的那个"),
        Mistake(_smoothed(_RIGHT, _OTHER, lambda a, b: a / b),
                "that is the ratio of the two probabilities; softmax makes it exp(z_t − z_k), so the logits differ "
                "by its logarithm",
                "这是两个概率之比；softmax 使它等于 exp(z_t − z_k)，所以两个 logit 之差是它的对数"),
        Mistake(_smoothed(_RIGHT, _OTHER, lambda a, b: math.log10(a / b)),
                "softmax is built on e^z: use the natural logarithm (math.log), not log10",
                "softmax 是以 e^z 为基础的：请用自然对数（math.log），而不是 log10"),
        Mistake(_smoothed(_RIGHT, _OTHER, lambda a, b: math.log2(a / b)),
                "softmax is built on e^z: use the natural logarithm (math.log), not log2",
                "softmax 是以 e^z 为基础的：请用自然对数（math.log），而不是 log2"),
        Mistake(_smoothed(_RIGHT, _OTHER, lambda a, b: a),
                "that is the right class's probability at the minimum; the question asks how far apart the logits "
                "are there",
                "这是最小值处正确类别的概率；题目问的是那里两个 logit 相差多少"),
        Mistake(_smoothed(_RIGHT, _OTHER, lambda a, b: math.log(a)),
                "that is the log-probability of the right class, z_t − log Σ exp(z); the gap to another class is "
                "log p_t − log p_k",
                "这是正确类别的对数概率 z_t − log Σ exp(z)；它与另一个类别的差距是 log p_t − log p_k"),
        Mistake(_smoothed(_RIGHT, _OTHER, lambda a, b: math.log(b / a)),
                "your gap is negative: at the minimum the right class's logit is the larger one, z_t − z_k > 0",
                "你的差距是负数：在最小值处正确类别的 logit 更大，z_t − z_k > 0"),
        Mistake(lambda epsilon, k: _smoothed_logit_gap(epsilon, 10),
                "the result did not change with the number of classes: use num_classes, not the ten of the digits",
                "结果没有随类别数变化：请使用 num_classes，而不是手写数字的十个类别"),
    ],
    note=("With ε = 0.1 over ten classes training stops pushing once the right logit leads by about 4.5.",
          "在十个类别、ε = 0.1 时，只要正确类别的 logit 领先约 4.5，训练就不再推动它。")),
    hint="At the minimum the softmax output equals the smoothed target. How does the ratio of two softmax "
         "probabilities depend on the two logits?",
    reference=_smoothed_logit_gap, title_zh="标签平滑在哪里停止推动",
    hint_zh="在最小值处，softmax 的输出等于平滑后的目标。两个 softmax 概率之比与两个 logit 有什么关系？")


# q3 · a finite-difference gradient -----------------------------------------------------------

class _Scalar:
    """A scalar test function that messages can name."""

    def __init__(self, fn, shown: str):
        self.fn, self.shown = fn, shown

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self) -> str:
        return self.shown


_CUBIC = _Scalar(lambda x: (x ** 3).sum() + x.reshape(-1)[0] * x.reshape(-1)[-1], "Σx³ + x_first·x_last")
_SINE = _Scalar(lambda x: torch.sin(3 * x).sum(), "Σ sin 3x")
_SQUARED_SUM = _Scalar(lambda x: x.sum() ** 2 + (x ** 4).sum(), "(Σx)² + Σx⁴")
_EXP = _Scalar(lambda x: torch.exp(x / 2).prod(), "Π exp(x/2)")


def _numerical_gradient(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = h
        grad.view(-1)[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def _forward_difference(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    for i in range(x.numel()):
        step = torch.zeros_like(x)
        step.view(-1)[i] = h
        grad.view(-1)[i] = (f(x + step) - f(x)) / h
    return grad


def _rows_only(f, x, h=1e-5):
    grad = torch.zeros_like(x)
    for i in range(len(x)):
        step = torch.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def _gradient_like_x(out, name):
    return as_tensor(out, name, what="the gradient", what_zh="梯度")


def _same_dtype(actual, expected) -> bool:
    return torch.is_tensor(actual) and actual.dtype == expected.dtype and same(actual, expected)


_X = _seeded(1, 2, 3, dtype=torch.float64)

_FORBID_AUTOGRAD = forbidding(
    "autograd",
    ["torch.autograd.grad", "torch.Tensor.backward", "torch.autograd.functional.jacobian", "torch.func.grad"],
    why="computes the gradient by autograd, and autograd is what a finite-difference gradient is meant to check",
    why_zh="它用 autograd 计算梯度，而有限差分梯度本来就是用来检验 autograd 的")


def _default_h(fn):
    x = _seeded(2, 3, dtype=torch.float64)
    try:
        out = call(fn, _SINE, x.clone(), name="numerical_gradient", forbid=_FORBID_AUTOGRAD)
    except Wrong as error:
        raise Wrong(f"called without h: {error.en}. Give h a default, def numerical_gradient(f, x, h=1e-5)",
                    zh=f"不传 h 调用时：{error.zh or error.en}。请给 h 一个默认值，def numerical_gradient(f, x, h=1e-5)") \
            from None
    require(same(out, _numerical_gradient(_SINE, x)),
            "right for every h the check passed, but called without h the result is off: give h a small default, "
            "def numerical_gradient(f, x, h=1e-5)",
            zh="对检查传入的每个 h 都正确，但不传 h 调用时结果不对：请给 h 一个小的默认值，"
               "def numerical_gradient(f, x, h=1e-5)")
    return say("Central differences cost two calls of f per entry: fine for checking, far too slow for training.",
               "中心差分每个元素要调用两次 f：用来检查没问题，用来训练就太慢了。")


q3 = Question("q3", "a finite-difference gradient", chapter=CHAPTER, checker=function_checker(
    "numerical_gradient", _numerical_gradient, convert=_gradient_like_x, compare=_same_dtype,
    forbid=_FORBID_AUTOGRAD, then=_default_h,
    cases=[
        Case(_CUBIC, _X, 1e-3, note="a 2 × 3 x", note_zh="2 × 3 的 x"),
        Case(_SINE, _seeded(3, 4, dtype=torch.float64), 1e-3, note="a vector x", note_zh="向量 x"),
        Case(_SQUARED_SUM, _seeded(4, 2, 2, 2, dtype=torch.float64), 1e-4, note="a 3-D x", note_zh="三维的 x"),
        Case(_CUBIC, _X, 0.1, note="a large h: the result must depend on the h it is given",
             note_zh="较大的 h：结果必须取决于传入的 h"),
        Case(_EXP, _seeded(5, 3, 2, dtype=torch.float64), 1e-3, hidden=True),
    ],
    mistakes=[
        Mistake(_forward_difference, "that is the one-sided difference (f(x + h) − f(x)) / h. Its error shrinks like "
                                     "h; the central difference (f(x + h) − f(x − h)) / 2h has an error like h²",
                "这是单侧差分 (f(x + h) − f(x)) / h。它的误差与 h 成正比；中心差分 "
                "(f(x + h) − f(x − h)) / 2h 的误差与 h² 成正比"),
        Mistake(lambda f, x, h=1e-5: 2 * _numerical_gradient(f, x, h),
                "every entry is twice too large: the central difference divides by 2h, the distance between x − h "
                "and x + h", "每个元素都大了一倍：中心差分要除以 2h，即 x − h 与 x + h 之间的距离"),
        Mistake(lambda f, x, h=1e-5: -_numerical_gradient(f, x, h),
                "the sign is flipped: (f(x + h) − f(x − h)) / 2h", "符号反了：(f(x + h) − f(x − h)) / 2h"),
        Mistake(lambda f, x, h=1e-5: _numerical_gradient(f, x, h).reshape(-1),
                "the values are right but flattened: return one partial derivative per entry of x, in x's shape",
                "数值正确但被展平了：x 的每个元素对应一个偏导数，按 x 的形状返回"),
        Mistake(lambda f, x, h=1e-5: _numerical_gradient(f, x, h).float(),
                "the gradient is float32 while x is float64: a gradient check needs float64's precision. Build the "
                "result with torch.zeros_like(x)",
                "梯度是 float32，而 x 是 float64：梯度检查需要 float64 的精度。请用 torch.zeros_like(x) 创建结果"),
        Mistake(_rows_only, "for a vector x your result is right, but for x with more dimensions x[i] is a whole row, "
                            "so you nudged a row at once. Nudge one entry at a time: loop over x.numel() entries of "
                            "a flat view, x.view(-1)[i]",
                "x 是向量时结果正确，但 x 的维数更多时 x[i] 是一整行，你一次扰动了一整行。"
                "每次只扰动一个元素：在展平视图 x.view(-1)[i] 上遍历 x.numel() 个元素"),
        Mistake(lambda f, x, h=1e-5: _numerical_gradient(f, x),
                "the result did not change with h: use the h you are given, not a fixed step",
                "结果没有随 h 变化：请使用传入的 h，而不是固定的步长"),
    ]),
    hint="For each entry i: a copy of x with h added to entry i, one with h subtracted, and the difference "
         "quotient stored in entry i of a result shaped like x. x.view(-1)[i] indexes any shape.",
    reference=_numerical_gradient, title_zh="有限差分梯度",
    hint_zh="对每个元素 i：复制一份 x 并在第 i 个元素上加 h，再复制一份减去 h，把差商存入一个与 x 同形状的"
            "结果的第 i 个元素。x.view(-1)[i] 可以索引任意形状。")


# q4 · the largest stable learning rate of linear regression with momentum --------------------

def _largest_stable_lr(X, momentum):
    hessian = 2 * X.T @ X / len(X)  # the loss is (1/n)·‖Xw − y‖², a quadratic bowl in w
    return 2 * (1 + momentum) / torch.linalg.eigvalsh(hessian).max().item()


def _curvatures(X, scale=2.0, mean=True):
    return torch.linalg.eigvalsh(scale * X.T @ X / (len(X) if mean else 1))


def _limit(curvature, factor):
    """A wrong answer: ``factor(μ) / curvature(X)``."""
    return lambda X, momentum: factor(momentum) / curvature(X)


def _largest(X):
    return _curvatures(X).max().item()


def _rate(out, name):
    return as_number(out, name, what="the learning rate", what_zh="学习率")


def _features(seed: int, n: int, d: int) -> torch.Tensor:
    """n examples of d correlated features of different scales: the Hessian is far from diagonal."""
    mixing = _seeded(seed + 100, d, d, dtype=torch.float64) + torch.diag(torch.linspace(1.0, 3.0, d, dtype=torch.float64))
    return _seeded(seed, n, d, dtype=torch.float64) @ mixing


_TWO_FEATURES = _features(1, 20, 2)

q4 = Question("q4", "a stable learning rate for linear regression with momentum", chapter=CHAPTER,
              checker=function_checker(
    "largest_stable_lr", _largest_stable_lr, convert=_rate,
    cases=[
        Case(_TWO_FEATURES, 0.5, note="two correlated features, μ = 0.5", note_zh="两个相关的特征，μ = 0.5"),
        Case(_TWO_FEATURES, 0.0, note="no momentum", note_zh="没有动量"),
        Case(_features(2, 40, 3), 0.9, note="three features, μ = 0.9", note_zh="三个特征，μ = 0.9"),
        Case(_features(3, 10, 1), 0.5, note="one feature", note_zh="一个特征"),
        Case(_features(4, 30, 4), 0.75, hidden=True),
    ],
    mistakes=[
        Mistake(_limit(_largest, lambda mu: 2.0),
                "the result did not change with the momentum: 2/L is the limit without momentum; with momentum μ "
                "it is 2(1 + μ)/L (section 4)",
                "结果没有随动量变化：2/L 是没有动量时的极限；动量为 μ 时它是 2(1 + μ)/L（第 4 节）"),
        Mistake(_limit(_largest, lambda mu: 2 * (1 - mu)),
                "momentum raises the limit: it is 2(1 + μ)/L, not 2(1 − μ)/L (section 4)",
                "动量会提高极限：它是 2(1 + μ)/L，而不是 2(1 − μ)/L（第 4 节）"),
        Mistake(_limit(_largest, lambda mu: 2 / (1 + mu)),
                "momentum raises the limit: multiply 2/L by (1 + μ), do not divide by it (section 4)",
                "动量会提高极限：把 2/L 乘以 (1 + μ)，而不是除以它（第 4 节）"),
        Mistake(_limit(lambda X: _curvatures(X, scale=1.0).max().item(), lambda mu: 2 * (1 + mu)),
                "your limit is twice too large: the Hessian of the mean of (x·w − y)² is 2XᵀX/n; the factor 2 "
                "comes from differentiating the square",
                "你的极限大了一倍：(x·w − y)² 的平均值的海森矩阵是 2XᵀX/n；因子 2 来自对平方求导"),
        Mistake(_limit(lambda X: _curvatures(X, mean=False).max().item(), lambda mu: 2 * (1 + mu)),
                "the loss is a mean over the n examples, so its Hessian is 2XᵀX/n: divide by n = len(X)",
                "损失是对 n 个样本取平均，所以它的海森矩阵是 2XᵀX/n：请除以 n = len(X)"),
        Mistake(_limit(lambda X: _curvatures(X).min().item(), lambda mu: 2 * (1 + mu)),
                "you used the smallest curvature: the steepest direction diverges first, so the limit comes from "
                "the largest eigenvalue of the Hessian",
                "你用了最小的曲率：最陡的方向最先发散，所以极限由海森矩阵最大的特征值决定"),
        Mistake(_limit(lambda X: (2 * X.T @ X / len(X)).diagonal().max().item(), lambda mu: 2 * (1 + mu)),
                "the largest diagonal entry of the Hessian is not its largest curvature when the features are "
                "correlated: use the eigenvalues, torch.linalg.eigvalsh",
                "特征相关时，海森矩阵最大的对角元素并不是最大的曲率：请用特征值，torch.linalg.eigvalsh"),
        Mistake(_limit(lambda X: 2 * torch.linalg.svdvals(X).max().item() / len(X), lambda mu: 2 * (1 + mu)),
                "the singular values of X are the square roots of the eigenvalues of XᵀX: square the largest one",
                "X 的奇异值是 XᵀX 特征值的平方根：请把最大的那个平方"),
        Mistake(_limit(lambda X: _curvatures(X).sum().item(), lambda mu: 2 * (1 + mu)),
                "you added up all the curvatures: each eigen-direction is stable on its own, so only the largest "
                "one sets the limit",
                "你把所有曲率加了起来：每个特征方向各自稳定，所以只有最大的那个决定极限"),
    ],
    note=("Any quadratic loss works the same way: its Hessian's largest eigenvalue sets the limit, and momentum "
          "stretches it by (1 + μ).",
          "任何二次损失都是这样：海森矩阵最大的特征值决定极限，而动量把它放大 (1 + μ) 倍。")),
    hint="Write the loss as a quadratic bowl in w, as in section 3: which matrix plays the Hessian's part? Then "
         "section 4 says what momentum does to the limit.",
    reference=_largest_stable_lr, title_zh="带动量的线性回归的稳定学习率",
    hint_zh="像第 3 节那样，把损失写成关于 w 的二次碗形：哪个矩阵扮演海森矩阵的角色？"
            "然后第 4 节告诉你动量对极限有什么影响。")
