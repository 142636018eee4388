"""Chapter 03 (multilayer networks) exercises: a stable sigmoid, an MLP's forward pass, XOR by
hand, and counting an MLP's parameters."""
import inspect

import torch

from utils.exercises import Question, Wrong, call, gap, require


def _stable_sigmoid(z):
    # −|z|, written so that its slope at z = 0 is −1 (torch.abs has slope 0 at its kink)
    minus_abs = torch.where(z >= 0, -z, z)
    e = torch.exp(minus_abs)  # e^(−|z|) ≤ 1: it can never overflow
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_slope(z):
    s = torch.sigmoid(z)
    return s * (1 - s)


def _uses_torch_sigmoid(fn) -> bool:
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):  # defined where its source cannot be read: give it the benefit
        return False
    body = source.split("### BEGIN SOLUTION")[-1]
    code = "\n".join(line.split("#")[0] for line in body.splitlines())  # comments may mention it
    return any(name in code for name in (".sigmoid(", "expit(", "torch.sigmoid", "F.sigmoid"))


def _check_stable_sigmoid(fn):
    z = torch.linspace(-8, 8, 33)
    out = call(fn, z, name="stable_sigmoid")
    require(torch.is_tensor(out), f"return a tensor, not a {type(out).__name__}",
            zh=f"请返回一个张量，而不是 {type(out).__name__}")
    require(out.shape == z.shape, f"shape {tuple(out.shape)}, expected {tuple(z.shape)}: the sigmoid acts on "
                                  "each entry on its own, so the output has the input's shape",
            zh=f"形状是 {tuple(out.shape)}，应为 {tuple(z.shape)}：sigmoid 逐元素作用，"
               "所以输出和输入形状相同")
    require(out.dtype == z.dtype, f"dtype {out.dtype}, expected {z.dtype}: keep the input's dtype "
                                  "(stay in torch, no NumPy or Python floats in between)",
            zh=f"数据类型是 {out.dtype}，应为 {z.dtype}：保持输入的数据类型"
               "（全程留在 torch 中，中间不要经过 NumPy 或 Python 浮点数）")
    require(not _uses_torch_sigmoid(fn), "torch.sigmoid does the work for you: build it from torch.exp "
                                         "(compare with torch.sigmoid afterwards, outside your function)",
            zh="torch.sigmoid 替你把活干了：请用 torch.exp 自己搭出来"
               "（之后可以在函数外面和 torch.sigmoid 比较）")
    require(not torch.allclose(out, torch.sigmoid(-z), atol=1e-6),
            "the curve is mirrored: you computed σ(−z) = 1/(1 + e^z). The sigmoid is 1/(1 + e^(−z)), "
            "rising from 0 to 1 as z grows",
            zh="曲线左右翻转了：你算的是 σ(−z) = 1/(1 + e^z)。sigmoid 是 1/(1 + e^(−z))，"
               "随 z 增大从 0 升到 1")
    require(torch.allclose(out, torch.sigmoid(z), atol=1e-6),
            f"values differ from 1/(1 + e^(−z)) by up to {gap(out, torch.sigmoid(z)):.2g} on inputs from −8 "
            "to 8: check the formula on z = 0 (must give 0.5) and z = 2 (0.881)",
            zh=f"在 −8 到 8 的输入上，数值与 1/(1 + e^(−z)) 最多相差 {gap(out, torch.sigmoid(z)):.2g}："
               "用 z = 0（必须得到 0.5）和 z = 2（0.881）检查你的公式")
    huge = torch.tensor([-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0])
    out = call(fn, huge, name="stable_sigmoid")
    require(bool(torch.isfinite(out).all()),
            f"for z = {huge.tolist()} you return {out.tolist()}: e^1000 overflows to inf in float32 "
            "(anything above e^88 does) and inf/inf is NaN. Only ever exponentiate −|z|, which is ≤ 0",
            zh=f"对 z = {huge.tolist()} 你返回了 {out.tolist()}：在 float32 中 e^1000 会上溢为 inf"
               "（超过 e^88 就会上溢），而 inf/inf 是 NaN。只对 −|z| 取指数，它 ≤ 0")
    require(torch.allclose(out, torch.sigmoid(huge), atol=1e-6),
            f"wrong values for large |z|: got {out.tolist()}, expected {torch.sigmoid(huge).tolist()}",
            zh=f"|z| 很大时数值不对：得到 {out.tolist()}，应为 {torch.sigmoid(huge).tolist()}")
    z = huge.clone().requires_grad_(True)
    out = call(fn, z, name="stable_sigmoid")
    require(out.requires_grad, "the result carries no gradient: stay in torch operations (no .item(), "
                               "NumPy or .detach()) so that autograd can differentiate it",
            zh="结果没有携带梯度：全程使用 torch 运算（不要用 .item()、NumPy 或 .detach()），"
               "autograd 才能对它求导")
    slope, = torch.autograd.grad(out.sum(), z)
    require(bool(torch.isfinite(slope).all()),
            f"the values are right but autograd's gradient is {slope.tolist()}: NaN where |z| = 1000. Backward "
            "differentiates BOTH branches of torch.where, and a branch that computes e^1000 gives inf·0 = NaN "
            "even where it is not picked. Make every branch safe: exponentiate only −|z|",
            zh=f"数值正确，但 autograd 给出的梯度是 {slope.tolist()}：在 |z| = 1000 处为 NaN。"
               "反向传播会对 torch.where 的两个分支都求导，计算 e^1000 的那个分支即使没被选中，"
               "也会给出 inf·0 = NaN。让每个分支都安全：只对 −|z| 取指数")
    expected = _sigmoid_slope(huge)
    require(abs(slope[3].item() - 0.25) < 1e-6,
            f"the gradient at z = 0 is {slope[3].item():.3g}, but σ′(0) = 0.25: PyTorch gives |z| the slope 0 at "
            "its kink (sign(0) = 0), so e^(−|z|) looks flat there. Write −|z| as torch.where(z >= 0, -z, z), "
            "whose slope at 0 is −1",
            zh=f"z = 0 处的梯度是 {slope[3].item():.3g}，但 σ′(0) = 0.25：PyTorch 在 |z| 的折点处"
               "取斜率为 0（sign(0) = 0），所以 e^(−|z|) 在那里看起来是平的。把 −|z| 写成 "
               "torch.where(z >= 0, -z, z)，它在 0 处的斜率是 −1")
    require(torch.allclose(slope, expected, atol=1e-6),
            f"gradient {slope.tolist()} differs from σ(z)(1 − σ(z)) = {expected.tolist()} "
            f"(largest gap {gap(slope, expected):.2g})",
            zh=f"梯度 {slope.tolist()} 与 σ(z)(1 − σ(z)) = {expected.tolist()} 不同"
               f"（最大差距 {gap(slope, expected):.2g}）")


q1 = Question("q1", "a numerically stable sigmoid", _check_stable_sigmoid, chapter="03",
              hint="With e = exp(−|z|) (never above 1): σ(z) = 1/(1 + e) when z ≥ 0 and e/(1 + e) when z < 0. "
                   "Pick per entry with torch.where; mind that both branches get differentiated, and how "
                   "|z| is differentiated at 0.",
              reference=_stable_sigmoid, title_zh="数值稳定的 sigmoid",
              hint_zh="令 e = exp(−|z|)（永远不超过 1）：z ≥ 0 时 σ(z) = 1/(1 + e)，z < 0 时 σ(z) = e/(1 + e)。"
                      "用 torch.where 逐元素选择；注意两个分支都会被求导，也要注意 |z| 在 0 处如何求导。")


def _mlp_forward(X, W1, b1, W2, b2):
    hidden = torch.relu(X @ W1.T + b1)
    return hidden @ W2.T + b2


_MLP_MISTAKES = [  # a common mistake, how it computes, and what to say (in English and Chinese)
    (lambda X, W1, b1, W2, b2: torch.relu(X @ W1 + b1) @ W2.T + b2,
     "the first layer is not transposed: PyTorch stores a weight as [out, in], one row per neuron, "
     "so a batch goes through as X @ W1.T + b1",
     "第一层没有转置：PyTorch 按 [out, in] 存储权重，每个神经元一行，所以一批数据要这样通过：X @ W1.T + b1"),
    (lambda X, W1, b1, W2, b2: (X @ W1.T + b1) @ W2.T + b2,
     "there is no ReLU between the layers, and without it two linear layers are just one linear layer",
     "两层之间没有 ReLU，而没有它，两个线性层只相当于一个线性层"),
    (lambda X, W1, b1, W2, b2: torch.relu(torch.relu(X @ W1.T + b1) @ W2.T + b2),
     "a ReLU is applied to the output too, so no logit can be negative. The last layer has no activation",
     "输出也加了 ReLU，于是任何 logit 都不可能为负。最后一层没有激活函数"),
    (lambda X, W1, b1, W2, b2: torch.sigmoid(X @ W1.T + b1) @ W2.T + b2,
     "the hidden layer uses a sigmoid; this network's hidden activation is ReLU",
     "隐藏层用了 sigmoid；这个网络的隐藏层激活函数是 ReLU"),
    (lambda X, W1, b1, W2, b2: torch.relu(X @ W1.T) @ W2.T + b2, "the first layer's bias b1 is missing",
     "缺少第一层的偏置 b1"),
    (lambda X, W1, b1, W2, b2: torch.relu(X @ W1.T + b1) @ W2.T, "the second layer's bias b2 is missing",
     "缺少第二层的偏置 b2"),
]


def _check_mlp_forward(fn):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(5, 4, generator=g)
    W1, b1 = torch.randn(4, 4, generator=g), torch.randn(4, generator=g)  # square: a missing .T still runs
    W2, b2 = torch.randn(3, 4, generator=g), torch.randn(3, generator=g)
    try:
        out = call(fn, X, W1, b1, W2, b2, name="mlp_forward")
    except Wrong as error:
        shapes = "cannot be multiplied" in str(error) or "size mismatch" in str(error)
        require(not shapes, f"{error}. A layer's weight is stored [out, in], one row per neuron, so a batch "
                            "X [N, in] goes through as X @ W.T + b",
                zh=f"{error.zh or error}。每层的权重按 [out, in] 存储，每个神经元一行，"
                   "所以一批数据 X [N, in] 要这样通过：X @ W.T + b")
        raise
    require(torch.is_tensor(out), f"return a tensor, not a {type(out).__name__}",
            zh=f"请返回一个张量，而不是 {type(out).__name__}")
    require(out.shape == (5, 3), f"shape {tuple(out.shape)}, expected (5, 3): one row per example, one logit "
                                 "per output unit",
            zh=f"形状是 {tuple(out.shape)}，应为 (5, 3)：每个样本一行，"
               "每个输出单元一个 logit")
    expected = _mlp_forward(X, W1, b1, W2, b2)
    if not torch.allclose(out, expected, atol=1e-5):
        for mistake, message, message_zh in _MLP_MISTAKES:
            require(not torch.allclose(out, mistake(X, W1, b1, W2, b2), atol=1e-5), message,
                    zh=message_zh)
    require(torch.allclose(out, expected, atol=1e-5),
            f"the logits differ from ReLU(X W1ᵀ + b1) W2ᵀ + b2 by up to {gap(out, expected):.3g}",
            zh=f"logits 与 ReLU(X W1ᵀ + b1) W2ᵀ + b2 最多相差 {gap(out, expected):.3g}")
    W1_wide, b1_wide = torch.randn(6, 4, generator=g), torch.randn(6, generator=g)
    W2_wide, b2_wide = torch.randn(2, 6, generator=g), torch.randn(2, generator=g)
    one = call(fn, X[:1], W1_wide, b1_wide, W2_wide, b2_wide, name="mlp_forward")
    require(torch.is_tensor(one) and one.shape == (1, 2) and
            torch.allclose(one, _mlp_forward(X[:1], W1_wide, b1_wide, W2_wide, b2_wide), atol=1e-5),
            "right for 5 examples and 4 hidden units, wrong for 1 example and 6 hidden units: take every size "
            "from the tensors you are given, nothing fixed",
            zh="5 个样本、4 个隐藏单元时正确，但 1 个样本、6 个隐藏单元时出错："
               "每个尺寸都要从给你的张量中取得，不要写死")


q2 = Question("q2", "the forward pass of a two-layer network", _check_mlp_forward, chapter="03",
              hint="Two lines: hidden = ReLU(X W1ᵀ + b1), then logits = hidden W2ᵀ + b2. "
                   "The weights are stored [out, in], as nn.Linear stores them.",
              reference=_mlp_forward, title_zh="两层网络的前向传播",
              hint_zh="两行：hidden = ReLU(X W1ᵀ + b1)，然后 logits = hidden W2ᵀ + b2。"
                      "权重按 [out, in] 存储，和 nn.Linear 的存储方式一样。")

_XOR_INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_GATES = {(0, 0, 0, 1): "AND", (0, 1, 1, 1): "OR", (1, 1, 1, 0): "NAND", (1, 0, 0, 0): "NOR",
          (0, 1, 1, 0): "XOR", (1, 0, 0, 1): "XNOR", (0, 0, 0, 0): "always 0", (1, 1, 1, 1): "always 1"}


def _xor_weights():
    W1 = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])  # hidden unit 1: OR, hidden unit 2: NAND
    b1 = torch.tensor([-0.5, 1.5])
    W2 = torch.tensor([[1.0, 1.0]])                # output: AND of the two
    b2 = torch.tensor([-1.5])
    return W1, b1, W2, b2


def _step_network(W1, b1, W2, b2):
    hidden = (_XOR_INPUTS @ W1.T + b1 >= 0).float()
    return (hidden @ W2.T + b2 >= 0).float().reshape(-1)


def _check_xor_weights(fn):
    answer = call(fn, name="xor_weights")
    require(isinstance(answer, (tuple, list)) and len(answer) == 4,
            "return four tensors, in this order: W1, b1, W2, b2",
            zh="请按以下顺序返回四个张量：W1, b1, W2, b2")
    W1, b1, W2, b2 = (torch.as_tensor(a, dtype=torch.float32) for a in answer)
    for name, tensor, shape, why, why_zh in [
            ("W1", W1, (2, 2), "2 hidden units × 2 inputs", "2 个隐藏单元 × 2 个输入"),
            ("b1", b1, (2,), "one per hidden unit", "每个隐藏单元一个"),
            ("W2", W2, (1, 2), "1 output × 2 hidden units", "1 个输出 × 2 个隐藏单元"),
            ("b2", b2, (1,), "one output", "一个输出")]:
        require(tuple(tensor.shape) == shape, f"{name} has shape {tuple(tensor.shape)}, expected {shape} ({why}; "
                                              "weights are stored [out, in])",
                zh=f"{name} 的形状是 {tuple(tensor.shape)}，应为 {shape}（{why_zh}；"
                   "权重按 [out, in] 存储）")
    outputs = tuple(int(v) for v in _step_network(W1, b1, W2, b2))
    name = _GATES.get(outputs, "no named gate")
    name_zh = {"no named gate": "不对应任何有名字的门", "always 0": "恒为 0", "always 1": "恒为 1"}.get(name, name)
    require(outputs != (0, 1, 1, 1), "your network computes OR: the input (1, 1) must give 0. Let one hidden "
                                     "unit switch off when both inputs are on (a NAND), and AND it with an OR",
            zh="你的网络计算的是 OR：输入 (1, 1) 必须得到 0。让一个隐藏单元"
               "在两个输入都为 1 时关闭（一个 NAND），再把它和一个 OR 做 AND")
    require(outputs == (0, 1, 1, 0),
            f"for inputs 00, 01, 10, 11 your network outputs {list(outputs)} ({name}); XOR needs [0, 1, 1, 0]. "
            "One way: hidden unit 1 = OR, hidden unit 2 = NAND, output = AND of the two",
            zh=f"对输入 00, 01, 10, 11，你的网络输出 {list(outputs)}（{name_zh}）；XOR 需要 [0, 1, 1, 0]。"
               "一种做法：隐藏单元 1 = OR，隐藏单元 2 = NAND，输出 = 两者的 AND")


q3 = Question("q3", "XOR from three neurons", _check_xor_weights, chapter="03",
              hint="Each neuron is a gate from chapter 01. XOR(x₁, x₂) = AND(OR(x₁, x₂), NAND(x₁, x₂)): "
                   "the hidden layer computes OR and NAND, the output neuron ANDs them.",
              reference=_xor_weights, title_zh="用三个神经元实现异或",
              hint_zh="每个神经元都是第 01 章中的一个门。XOR(x₁, x₂) = AND(OR(x₁, x₂), NAND(x₁, x₂))："
                      "隐藏层计算 OR 和 NAND，输出神经元对两者做 AND。")


def _count_parameters(sizes):
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def _torch_count(sizes):
    layers = [torch.nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return sum(p.numel() for layer in layers for p in layer.parameters())


def _check_count_parameters(fn):
    sizes = [784, 128, 10]
    count = call(fn, list(sizes), name="count_parameters")
    require(isinstance(count, int) and not isinstance(count, bool),
            f"return a whole number (a Python int), not a {type(count).__name__}; use int(...) if you need to",
            zh=f"请返回一个整数（Python int），而不是 {type(count).__name__}；需要的话用 int(...)")
    expected = _torch_count(sizes)
    weights_only = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    require(count != weights_only, f"{count} counts only the weights: each neuron also has a bias, "
                                   "so every layer adds n_out more",
            zh=f"{count} 只算了权重：每个神经元还有一个偏置，"
               "所以每层还要再加 n_out 个")
    require(count != expected + sizes[0], f"{count} gives the input layer biases too: the input layer only holds "
                                          "the data, it has no weights and no biases",
            zh=f"{count} 把输入层的偏置也算上了：输入层只保存数据，"
               "它既没有权重也没有偏置")
    require(count != expected - sizes[-1], f"{count} misses the output layer's biases: every layer with weights "
                                           "has one bias per output",
            zh=f"{count} 漏掉了输出层的偏置：每个有权重的层，"
               "每个输出都有一个偏置")
    require(count == expected, f"for sizes {sizes} you count {count}; nn.Linear layers of these sizes hold "
                               f"{expected}: a layer from n_in to n_out has n_in·n_out weights + n_out biases",
            zh=f"对尺寸 {sizes} 你算出 {count}；这些尺寸的 nn.Linear 层共有 "
               f"{expected} 个参数：从 n_in 到 n_out 的一层有 n_in·n_out 个权重 + n_out 个偏置")
    for other in ([2, 3, 1], [2, 4, 1], [5, 2], [3, 8, 8, 8, 1]):
        try:
            got = call(fn, list(other), name="count_parameters")
            got_zh = got
        except Wrong as error:
            got = f"an error ({error})"
            got_zh = f"一个错误（{error.zh or error}）"
        require(got == _torch_count(other), f"right for [784, 128, 10] but not for {other}: got {got}, expected "
                                            f"{_torch_count(other)}. Loop over every consecutive pair of sizes, "
                                            "however many layers there are",
                zh=f"对 [784, 128, 10] 正确，但对 {other} 不对：得到 {got_zh}，应为 "
                   f"{_torch_count(other)}。不管有多少层，都要遍历每一对相邻的尺寸")


q4 = Question("q4", "counting an MLP's parameters", _check_count_parameters, chapter="03",
              hint="Pair each layer size with the next one (zip(sizes, sizes[1:])): "
                   "a layer from n_in to n_out holds n_in·n_out weights and n_out biases.",
              reference=_count_parameters, title_zh="数一数 MLP 的参数",
              hint_zh="把每层的尺寸和下一层的配成对（zip(sizes, sizes[1:])）："
                      "从 n_in 到 n_out 的一层有 n_in·n_out 个权重和 n_out 个偏置。")
