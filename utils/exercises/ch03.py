"""Chapter 03 (multilayer networks) exercises: a numerically stable sigmoid, the forward pass of a
network of any depth, max(x₁, x₂) from ReLU units, and counting an MLP's parameters."""
from __future__ import annotations

import torch

from utils.exercises import (Case, Mistake, Question, Wrong, as_tensor, call, compare_gradients, forbidden_use,
                             forbidding, function_checker, parts, require, say)

CHAPTER = "03"
T = torch.tensor


def _seeded(seed: int, *shape, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _explaining(table, *explanations):
    """The table's checker, adding a word to an error the learner's code raised: for each
    (fragment of the error, English, Chinese), the explanation when the fragment is in the error."""
    def checker(fn):
        try:
            return table(fn)
        except Wrong as error:
            for fragment, en, zh in explanations:
                require(fragment not in error.en, f"{error.en.rstrip('.')}. {en}",
                        zh=f"{(error.zh or error.en).rstrip('。.')}。{zh}")
            raise
    checker.cases, checker.expected_results = table.cases, table.expected_results
    return checker


# q1 · a numerically stable sigmoid ----------------------------------------------------------

def _stable_sigmoid(z):
    minus_abs = torch.where(z >= 0, -z, z)  # −|z|, with slope −1 (not 0) at z = 0
    e = torch.exp(minus_abs)                # e^(−|z|) ≤ 1: it can never overflow
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


_SIGMOID = forbidding(
    "torch.sigmoid",
    ["torch.sigmoid", "torch.Tensor.sigmoid", "torch.special.expit", "torch.nn.functional.sigmoid",
     "torch.nn.Sigmoid", "torch.nn.functional.logsigmoid"],
    why="computes the sigmoid for you (stably: avoiding that overflow is this exercise's whole point)",
    why_zh="它替你算出了 sigmoid（而且是稳定地算：避开那次上溢正是本练习的全部要点）")

_HUGE = T([-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0])


def _same_shape_and_dtype(fn):
    z = _seeded(3, 3, 5, scale=4.0)
    out = as_tensor(call(fn, z.clone(), name="stable_sigmoid", forbid=_SIGMOID), "stable_sigmoid",
                    what="the sigmoid of each entry", what_zh="每个元素的 sigmoid")
    require(out.shape == z.shape,
            f"for an input of shape {tuple(z.shape)} stable_sigmoid returned shape {tuple(out.shape)}: the sigmoid "
            "acts on each entry on its own, so the output has the input's shape (no reshape, sum or mean)",
            zh=f"输入形状为 {tuple(z.shape)} 时，stable_sigmoid 返回的形状是 {tuple(out.shape)}："
               "sigmoid 逐元素作用，所以输出和输入形状相同（不要 reshape、求和或取平均）")
    require(out.dtype == z.dtype,
            f"for a {z.dtype} input stable_sigmoid returned {out.dtype}: keep the input's dtype (stay in torch, "
            "no NumPy or Python floats, no .double() in between)",
            zh=f"输入是 {z.dtype} 时，stable_sigmoid 返回的是 {out.dtype}：保持输入的数据类型"
               "（全程留在 torch 中，中间不要经过 NumPy 或 Python 浮点数，也不要 .double()）")


def _finite_and_right_gradients(fn):
    z = _HUGE.clone().requires_grad_(True)
    out = call(fn, z, name="stable_sigmoid", forbid=_SIGMOID)
    require(out.requires_grad,
            "right values, but the result carries no gradient: stay in torch operations on z (no .item(), NumPy, "
            ".detach() or torch.no_grad()) so that autograd can differentiate it",
            zh="数值正确，但结果没有携带梯度：全程对 z 使用 torch 运算（不要用 .item()、NumPy、.detach() "
               "或 torch.no_grad()），autograd 才能对它求导")
    slope, = torch.autograd.grad(out.sum(), z)
    require(bool(torch.isfinite(slope).all()),
            "the values are right, but autograd's gradient is NaN where |z| = 1000. Backward differentiates BOTH "
            "branches of torch.where, and a branch that computes e^1000 gives inf·0 = NaN even where it is not "
            "picked (so does 1/(1 + e^(−z)) on its own). Make every branch safe: exponentiate only −|z|",
            zh="数值正确，但 autograd 给出的梯度在 |z| = 1000 处为 NaN。反向传播会对 torch.where 的两个分支"
               "都求导，计算 e^1000 的那个分支即使没被选中，也会给出 inf·0 = NaN（单独的 1/(1 + e^(−z)) "
               "也是如此）。让每个分支都安全：只对 −|z| 取指数")
    at_zero = slope[3].item()
    require(abs(at_zero - 0.25) < 1e-6,
            f"the gradient at z = 0 is {at_zero:.3g}, but σ′(0) = 0.25 (section 2): PyTorch gives |z| "
            "the slope 0 at its kink (sign(0) = 0), so e^(−|z|) looks flat there. Write −|z| as "
            "torch.where(z >= 0, -z, z), whose slope at 0 is −1",
            zh=f"z = 0 处的梯度是 {at_zero:.3g}，但 σ′(0) = 0.25（第 2 节）：PyTorch 在 |z| 的折点处"
               "取斜率为 0（sign(0) = 0），所以 e^(−|z|) 在那里看起来是平的。把 −|z| 写成 "
               "torch.where(z >= 0, -z, z)，它在 0 处的斜率是 −1")
    for seed, z in enumerate([_HUGE, torch.linspace(-8, 8, 33), _seeded(5, 4, 6, scale=30.0)]):
        z = z.clone().requires_grad_(True)
        out = call(fn, z, name="stable_sigmoid", forbid=_SIGMOID)
        compare_gradients(out, _stable_sigmoid(z), [z], name="stable_sigmoid", seed=seed)
    return say("Stable values and stable gradients: this is how torch.sigmoid and the cross-entropy losses "
               "of chapter 04 are written inside.",
               "数值稳定，梯度也稳定：torch.sigmoid 以及第 04 章的交叉熵损失在内部就是这样写的。")


def _float_tensor(out, name):
    return as_tensor(out, name, floating=True, what="the sigmoid of each entry", what_zh="每个元素的 sigmoid")


_sigmoid_values = function_checker(
    "stable_sigmoid", _stable_sigmoid, forbid=_SIGMOID, convert=_float_tensor,
    cases=[Case(torch.linspace(-8, 8, 33), note="inputs from −8 to 8", note_zh="从 −8 到 8 的输入"),
           Case(_HUGE, note="very large |z|, and 0", note_zh="|z| 很大的输入，以及 0"),
           Case(_seeded(1, 3, 4, scale=10.0), note="a 2-D batch", note_zh="一个二维批量"),
           Case(_seeded(2, 5, 2, scale=50.0), hidden=True)],
    mistakes=[
        Mistake(lambda z: _stable_sigmoid(-z),
                "the curve is mirrored: you computed σ(−z) = 1/(1 + e^z). The sigmoid is 1/(1 + e^(−z)), rising "
                "from 0 to 1 as z grows",
                "曲线左右翻转了：你算的是 σ(−z) = 1/(1 + e^z)。sigmoid 是 1/(1 + e^(−z))，随 z 增大从 0 升到 1"),
        Mistake(lambda z: torch.exp(z) / (1 + torch.exp(z)),
                "NaN for large positive z: e^z overflows to inf in float32 (anything above e^88 does), and inf/inf "
                "is NaN. Only ever exponentiate −|z|, which is ≤ 0",
                "z 为很大的正数时得到 NaN：在 float32 中 e^z 会上溢为 inf（超过 e^88 就会上溢），而 inf/inf "
                "是 NaN。只对 −|z| 取指数，它 ≤ 0"),
        Mistake(lambda z: 1 / (1 - torch.exp(-z)),
                "the denominator is 1 + e^(−z), not 1 − e^(−z)", "分母是 1 + e^(−z)，而不是 1 − e^(−z)"),
        Mistake(lambda z: _stable_sigmoid(z) * (1 - _stable_sigmoid(z)),
                "you returned the sigmoid's slope σ(z)(1 − σ(z)), not the sigmoid σ(z) itself",
                "你返回的是 sigmoid 的斜率 σ(z)(1 − σ(z))，而不是 sigmoid σ(z) 本身"),
    ],
    then=_finite_and_right_gradients)


def _check_stable_sigmoid(fn):
    found = forbidden_use(fn, _SIGMOID) if callable(fn) else None
    if found:
        raise _SIGMOID.message(found)
    _same_shape_and_dtype(fn)
    return _sigmoid_values(fn)


_check_stable_sigmoid.expected_results = _sigmoid_values.expected_results  # its table's visible cases, for the leak test


q1 = Question("q1", "a numerically stable sigmoid", _check_stable_sigmoid, chapter=CHAPTER,
              hint="Which exponential of z can never overflow, whatever the sign of z? Write σ(z) with that one "
                   "only, once for z ≥ 0 and once for z < 0. And remember that autograd differentiates everything "
                   "you compute, also the branch that torch.where does not pick.",
              reference=_stable_sigmoid, title_zh="数值稳定的 sigmoid",
              hint_zh="无论 z 的正负，z 的哪一个指数永远不会上溢？只用这一个指数写出 σ(z)，z ≥ 0 时写一次，"
                      "z < 0 时再写一次。另外记住：autograd 会对你算出的一切求导，包括 torch.where 没有选中的那个分支。")


# q2 · the forward pass of a network of any depth --------------------------------------------

def _mlp_forward(X, weights, biases):
    for W, b in zip(weights[:-1], biases[:-1]):
        X = torch.relu(X @ W.T + b)
    return X @ weights[-1].T + biases[-1]


class _LayersCase(Case):
    """A case whose weights and biases are tuples of tensors: each call gets fresh copies of them all
    (tuples, so that no answer can pop a layer off and leave the reference a shorter network)."""

    def fresh(self):
        X, weights, biases = self.args
        return (X.detach().clone(), tuple(W.detach().clone() for W in weights),
                tuple(b.detach().clone() for b in biases)), {}

    def describe(self, names):
        X, weights, _ = self.args
        shapes = " → ".join(str(W.shape[0]) for W in weights)
        en = f"X of shape {tuple(X.shape)} through layers of sizes {X.shape[1]} → {shapes}"
        zh = f"形状为 {tuple(X.shape)} 的 X 依次通过尺寸为 {X.shape[1]} → {shapes} 的各层"
        if self.hidden:
            en, zh = "a further case, kept hidden so that it cannot be copied", "另一个不公开的测试用例（以免被照抄）"
        if self.note:
            en, zh = f"{en} ({self.note})", f"{zh}（{self.note_zh or self.note}）"
        return en, zh


def _layers(seed: int, sizes: list[int], n: int, hidden: bool = False, note: str = "", note_zh: str = ""):
    g = torch.Generator().manual_seed(seed)
    weights = [torch.randn(n_out, n_in, generator=g) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [torch.randn(n_out, generator=g) for n_out in sizes[1:]]
    return _LayersCase(torch.randn(n, sizes[0], generator=g), weights, biases, hidden=hidden, note=note,
                       note_zh=note_zh)


def _forward_with(hidden, last=lambda v: v, *, use_bias=True, relu_input=False):
    """A wrong forward pass as learners write them: ``hidden`` after every layer but the last, ``last``
    after the last, and optionally no biases or a ReLU on the input."""
    def forward(X, weights, biases):
        X = torch.relu(X) if relu_input else X
        for position, (W, b) in enumerate(zip(weights, biases)):
            X = X @ W.T + (b if use_bias else 0)
            X = hidden(X) if position < len(weights) - 1 else last(X)
        return X
    return forward


def _stops_a_layer_early(X, weights, biases):  # for i in range(len(weights) - 1), and nothing after it
    for W, b in zip(weights[:-1], biases[:-1]):
        X = torch.relu(X @ W.T + b)
    return X


def _first_two_layers_only(X, weights, biases):  # the two-layer network of section 1, whatever the lists hold
    if len(weights) == 1:
        return X @ weights[0].T + biases[0]
    return torch.relu(X @ weights[0].T + biases[0]) @ weights[1].T + biases[1]


def _relu_after_first_only(X, weights, biases):
    for position, (W, b) in enumerate(zip(weights, biases)):
        X = X @ W.T + b
        if position == 0 and len(weights) > 1:
            X = torch.relu(X)
    return X


def _logits(out, name):
    return as_tensor(out, name, floating=True, what="the output", what_zh="输出")


_SHAPES = ("A layer's weight is stored [out, in], one row per neuron, so a batch X [N, in] goes through as X @ W.T + b",
           "每层的权重按 [out, in] 存储，每个神经元一行，所以一批数据 X [N, in] 要这样通过：X @ W.T + b")


q2 = Question("q2", "the forward pass of a network of any depth", chapter=CHAPTER, checker=_explaining(
    function_checker(
        "mlp_forward", _mlp_forward, convert=_logits, gradients=True,
        cases=[
            _layers(0, [4, 4, 4], 5, note="two layers, square weights", note_zh="两层，权重都是方阵"),
            _layers(1, [3, 2], 4, note="one layer, no hidden layer", note_zh="只有一层，没有隐藏层"),
            _layers(2, [5, 6, 4, 2], 3, note="three layers", note_zh="三层"),
            _layers(3, [2, 3, 3, 3, 1], 6, note="four layers", note_zh="四层"),
            _layers(4, [6, 5, 5, 4], 1, note="a batch of one", note_zh="批量大小为 1"),
            _layers(5, [3, 4, 4, 4, 4, 2], 5, hidden=True),
        ],
        mistakes=[
            Mistake(_forward_with(torch.relu, torch.relu),
                    "a ReLU is applied after the last layer too, so no logit can be negative. The last layer has no "
                    "activation: its raw scores go to the loss",
                    "最后一层之后也加了 ReLU，于是任何 logit 都不可能为负。最后一层没有激活函数：它的原始分数直接交给损失"),
            Mistake(_forward_with(lambda v: v),
                    "there is no ReLU between the layers, and without it the layers collapse into one linear layer "
                    "(section 1)",
                    "层与层之间没有 ReLU，而没有它，这些层会合并成一个线性层（第 1 节）"),
            Mistake(_relu_after_first_only,
                    "a ReLU follows the first layer only: every hidden layer needs one, that is after every layer "
                    "except the last",
                    "只有第一层后面有 ReLU：每个隐藏层都需要一个，也就是除最后一层外的每一层之后都要有"),
            Mistake(_stops_a_layer_early,
                    "the last layer is missing: the loop stops one layer early (an off-by-one). Every layer in the "
                    "lists must be applied, the last one without a ReLU",
                    "缺少最后一层：循环提前一层就停了（差一错误）。列表中的每一层都要用上，最后一层不加 ReLU"),
            Mistake(_first_two_layers_only,
                    "only the first two layers are used: loop over all the layers in the lists, however many "
                    "there are",
                    "只用了前两层：不管有多少层，都要遍历列表中的所有层"),
            Mistake(_forward_with(torch.relu, use_bias=False), "the biases are missing: each layer adds its b",
                    "缺少偏置：每一层都要加上它的 b"),
            Mistake(_forward_with(torch.sigmoid),
                    "the hidden layers use a sigmoid; this network's hidden activation is ReLU",
                    "隐藏层用了 sigmoid；这个网络的隐藏层激活函数是 ReLU"),
            Mistake(_forward_with(torch.relu, relu_input=True),
                    "a ReLU is applied to the input X before the first layer: activations follow layers, and the "
                    "data go in as they are",
                    "在第一层之前对输入 X 用了 ReLU：激活函数跟在层后面，数据原样输入"),
        ],
        note=("One loop serves any depth; nn.Sequential does the same for a list of modules.",
              "一个循环就能处理任意深度；nn.Sequential 对一串模块做的也是同样的事。")),
    ("cannot be multiplied", *_SHAPES), ("size mismatch", *_SHAPES),
    ("IndexError", "Does your function read weights[0], weights[1] by position? The network may have one layer or "
                   "many: loop over all of them",
     "你的函数是不是按位置读取 weights[0]、weights[1]？网络可能只有一层，也可能有很多层：请遍历所有的层"),
    ("numpy()", "NumPy cuts the computation off from autograd: the result would carry no gradient, and nothing in "
                "the network could be trained. Stay in torch operations",
     "NumPy 把计算从 autograd 中切断了：结果不会携带梯度，网络中的任何东西都无法训练。请全程使用 torch 运算")),
    hint="Walk through the layers in order, keeping the current activations in one variable. Which layers are "
         "followed by a ReLU, and which one is not?",
    reference=_mlp_forward, title_zh="任意深度网络的前向传播",
    hint_zh="按顺序逐层走，用一个变量保存当前的激活值。哪些层后面跟着 ReLU，哪一层不跟？")


# q3 · max(x₁, x₂) from ReLU units -----------------------------------------------------------

def _max_weights():
    W1 = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [-1.0, 1.0]])  # ReLU(x₁), ReLU(−x₁), ReLU(x₂ − x₁)
    b1 = torch.zeros(3)
    W2 = torch.tensor([[1.0, -1.0, 1.0]])  # x₁ = ReLU(x₁) − ReLU(−x₁), plus what x₂ has above x₁
    b2 = torch.zeros(1)
    return W1, b1, W2, b2


def _points() -> torch.Tensor:
    """Inputs of every sign and size: a grid, seeded points at three scales, and some far away."""
    grid = torch.cartesian_prod(torch.arange(-3.0, 4.0), torch.arange(-3.0, 4.0))
    g = torch.Generator().manual_seed(7)
    scattered = torch.cat([torch.randn(40, 2, generator=g) * scale for scale in (0.3, 5.0, 200.0)])
    far = T([[-1e7, 3.0], [2.0, -1e6], [-1e6, -2e6], [1e7, -1e7], [-3e6, 4e6]])  # float32 keeps them whole
    return torch.cat([grid, scattered, far])


_POINTS = _points()


def _network(W1, b1, W2, b2, X=_POINTS):
    return (torch.relu(X @ W1.T + b1) @ W2.T + b2).reshape(-1)


def _agrees(out, target) -> bool:
    return bool(torch.allclose(out.double(), target.double(), rtol=1e-5, atol=1e-3))


def _weight_shapes(W1, b1, W2, b2):
    require(W1.ndim == 2, f"W1 should be a matrix, [hidden units, 2]; it has shape {tuple(W1.shape)}",
            zh=f"W1 应当是一个矩阵，形状为 [隐藏单元数, 2]；它的形状是 {tuple(W1.shape)}")
    units = W1.shape[0]
    require(W1.shape[1] == 2 or W1.shape[0] != 2,
            f"W1 has shape {tuple(W1.shape)}: that is [in, out]. Weights are stored as nn.Linear stores them, "
            "[out, in], one row per hidden unit, so W1 is [hidden units, 2]",
            zh=f"W1 的形状是 {tuple(W1.shape)}：这是 [in, out]。权重按 nn.Linear 的方式存储，"
               "即 [out, in]，每个隐藏单元一行，所以 W1 是 [隐藏单元数, 2]")
    require(W1.shape[1] == 2, f"W1 has shape {tuple(W1.shape)}; the network has 2 inputs, so W1 is [hidden units, 2]",
            zh=f"W1 的形状是 {tuple(W1.shape)}；网络有 2 个输入，所以 W1 是 [隐藏单元数, 2]")
    for name, tensor, shape, why, why_zh in [
            ("b1", b1, (units,), "one per hidden unit", "每个隐藏单元一个"),
            ("W2", W2, (1, units), "1 output × the hidden units, stored [out, in]", "1 个输出 × 隐藏单元数，按 [out, in] 存储"),
            ("b2", b2, (1,), "one output", "一个输出")]:
        require(tuple(tensor.shape) == shape,
                f"{name} has shape {tuple(tensor.shape)}; with {units} hidden units it should be {shape} ({why})",
                zh=f"{name} 的形状是 {tuple(tensor.shape)}；有 {units} 个隐藏单元时应为 {shape}（{why_zh}）")


def _diagnose_max(out):
    x1, x2 = _POINTS[:, 0], _POINTS[:, 1]
    maximum = torch.maximum(x1, x2)
    moderate = _POINTS.abs().max(dim=1).values < 1e3
    both_positive = (x1 >= 0) & (x2 >= 0)
    named = [
        (torch.minimum(x1, x2), "your network computes min(x₁, x₂), the smaller input: check the signs in W2",
         "你的网络计算的是 min(x₁, x₂)，即较小的那个输入：检查 W2 中的符号"),
        (2 * maximum, "your network computes 2·max(x₁, x₂): right shape, twice too tall. Halve the output weights",
         "你的网络计算的是 2·max(x₁, x₂)：形状对了，但高了一倍。把输出权重减半"),
        ((x1 - x2).abs(), "your network computes |x₁ − x₂|, how far apart the inputs are: max(x₁, x₂) also needs "
                          "where they are",
         "你的网络计算的是 |x₁ − x₂|，即两个输入相距多远：max(x₁, x₂) 还需要知道它们在哪里"),
    ]
    for target, en, zh in named:
        require(not _agrees(out, target), en, zh=zh)
    offset = out - maximum
    require(not (offset.max() - offset.min() < 1e-3 * (1 + maximum.abs().max())),
            "your network is max(x₁, x₂) plus a constant: it is off by the same amount everywhere. Check the biases",
            zh="你的网络等于 max(x₁, x₂) 加上一个常数：处处都差同样的量。检查偏置")
    require(not _agrees(out[moderate], maximum[moderate]),
            "right for inputs of moderate size, wrong for very large ones (|x| up to 10⁷): a bias that shifts an "
            "input into ReLU's positive side only works up to the size of the shift. Make it exact for every x",
            zh="输入大小适中时正确，输入很大（|x| 可达 10⁷）时出错：用偏置把输入推到 ReLU 的正半边，"
               "只在推动的幅度以内有效。请让它对每个 x 都精确成立")
    require(not _agrees(out[both_positive], maximum[both_positive]),
            "right where both inputs are ≥ 0, wrong where one is negative: a ReLU outputs 0, not x, for x < 0. "
            "How can a layer of ReLUs pass on a value of either sign?",
            zh="两个输入都 ≥ 0 时正确，有一个为负时出错：x < 0 时 ReLU 输出的是 0，而不是 x。"
               "一层 ReLU 怎样才能把正负都可能的值传下去？")
    affine = torch.cat([_POINTS, torch.ones(len(_POINTS), 1)], dim=1).double()
    residual = out.double() - affine @ torch.linalg.lstsq(affine, out.double().unsqueeze(1)).solution.squeeze(1)
    require(residual.abs().max() > 1e-3 * (1 + out.abs().max()),
            "your network's output is a linear function of (x₁, x₂) on every input tried, but max(x₁, x₂) is not "
            "linear: it bends along the line x₁ = x₂. Some hidden unit must switch on and off there",
            zh="在所有试过的输入上，你的网络输出都是 (x₁, x₂) 的线性函数，但 max(x₁, x₂) 不是线性的："
               "它沿直线 x₁ = x₂ 弯折。必须有某个隐藏单元在那里开启或关闭")
    worst = int((out - maximum).abs().argmax())
    point = ", ".join(f"{v:g}" for v in _POINTS[worst].tolist())
    raise Wrong(f"your network does not compute max(x₁, x₂): at (x₁, x₂) = ({point}) it outputs "
                f"{out[worst].item():.4g}. Work that input through your weights by hand",
                zh=f"你的网络算的不是 max(x₁, x₂)：在 (x₁, x₂) = ({point}) 处它输出 {out[worst].item():.4g}。"
                "请用你的权重手算这个输入")


def _check_max_weights(fn):
    answer = parts(call(fn, name="max_weights"), 4, "max_weights", "(W1, b1, W2, b2)", "(W1, b1, W2, b2)")
    W1, b1, W2, b2 = (as_tensor(a, "max_weights", floating=True, what=f"{name}", what_zh=f"{name}")
                      for a, name in zip(answer, ("W1", "b1", "W2", "b2")))
    _weight_shapes(W1, b1, W2, b2)
    out = _network(W1, b1, W2, b2)
    if not _agrees(out, torch.maximum(_POINTS[:, 0], _POINTS[:, 1])):
        _diagnose_max(out)
    return say(f"Exact, with {W1.shape[0]} hidden units. Max pooling (chapter 08) computes this function, so a "
               "ReLU network can express it exactly.",
               f"完全正确，用了 {W1.shape[0]} 个隐藏单元。最大池化（第 08 章）计算的就是这个函数，"
               "所以 ReLU 网络能精确地表示它。")


q3 = Question("q3", "max(x₁, x₂) from ReLU units", _check_max_weights, chapter=CHAPTER,
              hint="Write max(x₁, x₂) as x₁ plus a correction that is 0 whenever x₁ is the larger input: which "
                   "single ReLU gives that correction? Then, how can ReLU units, which output 0 for negative "
                   "inputs, pass x₁ itself on when it is negative?",
              reference=_max_weights, title_zh="用 ReLU 单元实现 max(x₁, x₂)",
              hint_zh="把 max(x₁, x₂) 写成 x₁ 加上一个修正量，它在 x₁ 较大时为 0：哪一个 ReLU 能给出这个修正量？"
                      "然后想一想：ReLU 单元对负的输入输出 0，那么当 x₁ 为负时，它们怎样才能把 x₁ 本身传下去？")


# q4 · counting an MLP's parameters ----------------------------------------------------------

def _count_parameters(sizes):
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


class _SizesCase(Case):
    """A case whose argument is a list: each call gets its own copy, so no answer can change it for the next."""

    def fresh(self):
        return (list(self.args[0]),), {}


def _whole_count(out, name):
    require(isinstance(out, int) and not isinstance(out, bool),
            f"{name} returned a {type(out).__name__}; return the count as a whole number, a Python int (int(...) "
            "turns a float or a one-element tensor into one)",
            zh=f"{name} 返回的是 {type(out).__name__}；请把参数个数作为整数返回，即 Python int"
               "（int(...) 可以把浮点数或单元素张量变成整数）")
    return out


def _pairs(sizes):
    return list(zip(sizes[:-1], sizes[1:]))


q4 = Question("q4", "counting an MLP's parameters", chapter=CHAPTER, checker=_explaining(function_checker(
    "count_parameters", _count_parameters, convert=_whole_count,
    cases=[_SizesCase([2, 2, 1], note="section 1's network", note_zh="第 1 节的网络"),
           _SizesCase([784, 128, 10]), _SizesCase([5, 2], note="one layer", note_zh="只有一层"),
           _SizesCase([3, 8, 8, 8, 1], note="four layers", note_zh="四层"), _SizesCase([10, 7, 7, 3], hidden=True)],
    mistakes=[
        Mistake(lambda sizes: sum(a * b for a, b in _pairs(sizes)),
                "you counted only the weights: each neuron also has a bias, so every layer adds n_out more",
                "你只算了权重：每个神经元还有一个偏置，所以每层还要再加 n_out 个"),
        Mistake(lambda sizes: _count_parameters(sizes) + sizes[0],
                "you gave the input layer biases too: the input layer only holds the data, with no weights and no "
                "biases",
                "你把输入层的偏置也算上了：输入层只保存数据，既没有权重也没有偏置"),
        Mistake(lambda sizes: _count_parameters(sizes) - sizes[-1],
                "the output layer's biases are missing: every layer with weights has one bias per output",
                "漏掉了输出层的偏置：每个有权重的层，每个输出都有一个偏置"),
        Mistake(lambda sizes: sum(a * b + a for a, b in _pairs(sizes)),
                "you counted one bias per input of each layer; a bias belongs to a neuron, so a layer from n_in to "
                "n_out has n_out biases",
                "你给每层的每个输入都算了一个偏置；偏置属于神经元，所以从 n_in 到 n_out 的一层有 n_out 个偏置"),
        Mistake(lambda sizes: _count_parameters(sizes[:-1]),
                "the last layer is missing: with k sizes there are k − 1 layers, one for each consecutive pair "
                "(an off-by-one in the loop?)",
                "缺少最后一层：k 个尺寸对应 k − 1 层，每一对相邻的尺寸一层（循环差了一？）"),
        Mistake(lambda sizes: sum(a * b + b for a, b in zip(sizes, sizes[2:])),
                "you paired each size with the one two places on: a layer connects each size with the next one, "
                "zip(sizes, sizes[1:])",
                "你把每个尺寸和隔一位的尺寸配成了对：一层连接的是相邻的两个尺寸，zip(sizes, sizes[1:])"),
    ],
    note=("nn.Linear(n_in, n_out) holds exactly these: a weight [n_out, n_in] and a bias [n_out].",
          "nn.Linear(n_in, n_out) 恰好保存这些：一个 [n_out, n_in] 的权重和一个 [n_out] 的偏置。")),
    ("IndexError", "Does your function read sizes[0], sizes[1], sizes[2] by position? The lists have any length: "
                   "loop over every consecutive pair of sizes",
     "你的函数是不是按位置读取 sizes[0]、sizes[1]、sizes[2]？列表可以是任意长度：请遍历每一对相邻的尺寸")),
    hint="A network with layer sizes [a, b, c] has a layer from a to b and one from b to c. How many weights "
         "connect n_in inputs to n_out neurons, and how many biases do those neurons have?",
    reference=_count_parameters, title_zh="数一数 MLP 的参数",
    hint_zh="层尺寸为 [a, b, c] 的网络有一层从 a 到 b，一层从 b 到 c。把 n_in 个输入连到 n_out 个神经元"
            "需要多少个权重？这些神经元又有多少个偏置？")
