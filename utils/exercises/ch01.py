"""Chapter 01 (the M-P neuron) exercises: the threshold form, a NAND gate, majority of n, XOR from gates."""
import itertools

import torch

from utils.exercises import Question, Wrong, call, require, say
from utils.widgets import TWO_INPUT_FUNCTIONS

_PAIRS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_GATE_OUTPUTS = {name: torch.tensor(row, dtype=torch.float32) for row, name in TWO_INPUT_FUNCTIONS.items()}


def _binary_inputs(n):
    """All 2ⁿ binary inputs of n bits, one per row, in counting order."""
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))


def _sign_neuron(X, w, b):
    return torch.where(X @ w + b >= 0, 1.0, -1.0)


def _as_weights_and_bias(answer, n, name):
    """Turn a learner's (w, b) into a float tensor of n weights and a float bias, or say what is off."""
    require(isinstance(answer, (tuple, list)) and len(answer) == 2,
            f"{name} should return two things, the weights and the bias: `return w, b`; "
            f"got {type(answer).__name__}",
            zh=f"{name} 应当返回两样东西，权重和偏置：`return w, b`；"
               f"得到的是 {type(answer).__name__}")
    w, b = answer
    try:
        w = torch.as_tensor(w, dtype=torch.float32).reshape(-1)
        b = torch.as_tensor(b, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as error:
        raise Wrong(f"w and b must be numbers or tensors ({error}); e.g. "
                    f"`return torch.tensor([1.0, 1.0]), -1.5`",
                    zh=f"w 和 b 必须是数或张量（{error}）；例如 "
                       f"`return torch.tensor([1.0, 1.0]), -1.5`") from None
    require(w.numel() == n, f"with {n} inputs the neuron needs {n} weights, one per input; your w has {w.numel()}",
            zh=f"有 {n} 个输入时，神经元需要 {n} 个权重，每个输入一个；你的 w 有 {w.numel()} 个")
    require(b.numel() == 1, f"the bias is one number; yours has {b.numel()} entries",
            zh=f"偏置是一个数；你的有 {b.numel()} 个元素")
    return w, b.reshape(())


def _signed(x):
    """A number as the chapter writes it, with a true minus sign: outputs +1 and −1, bounds −2.5 and 0."""
    text = f"{x:+g}" if abs(x) == 1 else f"{x + 0.0:g}"  # + 0.0 turns −0 into 0
    return text.replace("-", "−")


def _outputs(y):
    return ", ".join(_signed(int(v)) for v in y)


# q1 ------------------------------------------------------------------------------------------

def _mp_neuron(X, w, theta):
    return (X @ w >= theta).float()


def _check_mp_neuron(fn):
    X, w, theta = _binary_inputs(3), torch.tensor([1.0, 1.0, 1.0]), 2.0
    out = call(fn, X, w, theta, name="mp_neuron")
    require(torch.is_tensor(out), f"return a tensor of outputs, not a {type(out).__name__}",
            zh=f"请返回由输出组成的张量，而不是 {type(out).__name__}")
    require(out.shape == (8,), f"one output per input row: expected shape (8,), yours is {tuple(out.shape)}. "
                               "X @ w with w of shape (3,) gives exactly that; avoid a column vector (3, 1)",
            zh=f"每个输入行对应一个输出：形状应为 (8,)，你的是 {tuple(out.shape)}。"
               "w 的形状为 (3,) 时，X @ w 正好给出这个形状；不要用列向量 (3, 1)")
    out = out.float()
    values = set(out.unique().tolist())
    require(-1.0 not in values, "you returned −1 for a silent neuron: McCulloch and Pitts' neuron fires (1) or "
                                "stays silent (0). The ±1 outputs belong to the sign neuron of this chapter",
            zh="你让沉默的神经元返回了 −1：McCulloch 和 Pitts 的神经元要么激发（1），"
               "要么保持沉默（0）。±1 输出属于本章的符号神经元")
    require(values <= {0.0, 1.0}, f"outputs must be 0 or 1; yours include {sorted(values)}. Compare the sum "
                                  "with θ (a True/False tensor) and turn it into numbers with .float()",
            zh=f"输出必须是 0 或 1；你的输出里有 {sorted(values)}。把加权和与 θ 比较"
               "（得到 True/False 张量），再用 .float() 把它变成数")
    total = X @ w
    if torch.equal(out, (total > theta).float()):
        raise Wrong("inputs whose weighted sum equals θ exactly did not fire: the neuron fires when the sum "
                    "reaches the threshold (≥ θ), not only when it exceeds it (> θ)",
                    zh="加权和恰好等于 θ 的输入没有激发：加权和达到阈值（≥ θ）时神经元就激发，"
                       "而不是只在超过阈值（> θ）时才激发")
    if torch.equal(out, (total + theta >= 0).float()):
        raise Wrong("you added θ: the threshold is subtracted, the neuron fires when Σ wᵢxᵢ − θ ≥ 0 "
                    "(that is why the bias of the sign neuron is b = −θ)",
                    zh="你加上了 θ：阈值应当减去，神经元在 Σ wᵢxᵢ − θ ≥ 0 时激发"
                       "（这正是符号神经元的偏置为 b = −θ 的原因）")
    reference = _mp_neuron(X, w, theta)
    require(not torch.equal(out, 1 - reference), "every output is flipped: fire (1) when the sum reaches θ, "
                                                 "stay silent (0) below it",
            zh="每个输出都反了：加权和达到 θ 时激发（1），低于 θ 时保持沉默（0）")
    wrong_rows = [tuple(int(v) for v in X[i].tolist()) for i in torch.nonzero(out != reference).flatten()]
    require(not wrong_rows, f"with w = (1, 1, 1) and θ = 2 the inputs {wrong_rows} get the wrong output",
            zh=f"w = (1, 1, 1)、θ = 2 时，输入 {wrong_rows} 的输出不对")
    X2, w2 = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), torch.tensor([2.0, -1.0])
    out2 = call(fn, X2, w2, 1.5, name="mp_neuron").float()
    require(torch.equal(out2, _mp_neuron(X2, w2, 1.5)),
            "right for the 3-input example but not for a 2-input neuron with an inhibitory (negative) weight, "
            "w = (2, −1), θ = 1.5: use X, w and theta as given, nothing fixed to 3 inputs",
            zh="3 输入的例子对了，但带抑制性（负）权重 w = (2, −1)、θ = 1.5 的 2 输入神经元不对："
               "请按给定的 X、w 和 theta 计算，不要把任何东西固定为 3 个输入")


q1 = Question("q1", "McCulloch and Pitts' threshold neuron", _check_mp_neuron, chapter="01",
              hint="Compute the weighted sum of every row at once with X @ w, compare it with theta using >=, "
                   "and turn the True/False answers into 1/0 with .float().",
              reference=_mp_neuron, title_zh="McCulloch 和 Pitts 的阈值神经元",
              hint_zh="用 X @ w 一次算出每一行的加权和，用 >= 与 theta 比较，"
                      "再用 .float() 把 True/False 变成 1/0。")


# q2 ------------------------------------------------------------------------------------------

def _nand_gate():
    w = torch.tensor([-1.0, -1.0])
    b = 1.5  # half-way between one input on (z = 0.5) and both on (z = −0.5)
    return w, b


def _check_nand_gate(fn):
    w, b = _as_weights_and_bias(call(fn, name="nand_gate"), 2, "nand_gate")
    z = _PAIRS @ w + b
    y = _sign_neuron(_PAIRS, w, b)
    on_line = [tuple(int(v) for v in _PAIRS[i].tolist()) for i in torch.nonzero(z.abs() < 1e-6).flatten()]
    if not torch.equal(y, _GATE_OUTPUTS["NAND"]):
        name = next(n for n, row in _GATE_OUTPUTS.items() if torch.equal(row, y))
        advice = {"AND": "NAND is NOT AND: flip the sign of both weights and of the bias",
                  "NOR": "The line cuts too early: only (1, 1) should be on the −1 side; raise b",
                  "always +1": "The line misses the corner (1, 1): it must be on the −1 side; lower b"}
        advice_zh = {"AND": "NAND 就是 NOT AND：把两个权重和偏置的符号都取反",
                     "NOR": "这条线切得太早了：只有 (1, 1) 应在 −1 一侧；把 b 调大",
                     "always +1": "这条线没有切下角点 (1, 1)：它必须在 −1 一侧；把 b 调小"}
        tie = f" The inputs {on_line} lie exactly on the line, where the ≥ 0 convention says +1." if on_line else ""
        tie_zh = f"输入 {on_line} 恰好落在这条线上，按 ≥ 0 的约定输出 +1。" if on_line else ""
        raise Wrong(f"your neuron computes {name} (outputs {_outputs(y)} for x = 00, 01, 10, 11), "
                    f"but NAND is +1, +1, +1, −1. "
                    + advice.get(name, "NAND is −1 only when both inputs are 1: the line must cut off "
                                       "the corner (1, 1) alone") + "." + tie,
                    zh=f"你的神经元计算的是 {name}（x = 00, 01, 10, 11 时输出 {_outputs(y)}），"
                       f"而 NAND 是 +1, +1, +1, −1。"
                       + advice_zh.get(name, "只有两个输入都为 1 时 NAND 才是 −1：这条线必须"
                                             "单独切下角点 (1, 1)") + "。" + tie_zh)
    require(not on_line, f"right outputs, but the inputs {on_line} lie exactly on the line w·x + b = 0: "
                         "they come out +1 only because of the ≥ 0 convention, and torch.sign would give 0. "
                         "Move b half-way between the neighbouring sums so every input is clearly on one side",
            zh=f"输出正确，但输入 {on_line} 恰好落在直线 w·x + b = 0 上："
               "它们输出 +1 只是因为 ≥ 0 的约定，而 torch.sign 会给出 0。"
               "把 b 移到相邻两个加权和的正中间，让每个输入都明确落在某一侧")
    return say("NAND is universal: any logic circuit can be built from NAND gates alone, so networks of "
               "M-P neurons can compute any Boolean function, as McCulloch and Pitts argued.",
               "NAND 是通用的：任何逻辑电路都可以只用 NAND 门搭成，所以由 M-P 神经元组成的网络"
               "能计算任何布尔函数，正如 McCulloch 和 Pitts 所论证的。")


q2 = Question("q2", "a NAND gate from one neuron", _check_nand_gate, chapter="01",
              hint="NAND is −1 only for (1, 1). Start from the AND neuron of this chapter and ask what "
                   "flipping the sign of w and b does to every weighted sum.",
              reference=_nand_gate, title_zh="用一个神经元实现 NAND 门",
              hint_zh="只有 (1, 1) 时 NAND 才是 −1。从本章的 AND 神经元出发，想一想"
                      "把 w 和 b 的符号都取反，会对每个加权和产生什么影响。")


# q3 ------------------------------------------------------------------------------------------

def _majority_neuron(n):
    w = torch.ones(n)
    b = -n / 2  # k ones give z = k − n/2: negative up to (n − 1)/2 ones, positive from (n + 1)/2
    return w, b


def _check_majority_neuron(fn):
    for n in (3, 5, 7, 1):  # the chapter's case first
        w, b = _as_weights_and_bias(call(fn, n, name="majority_neuron"), n, f"majority_neuron({n})")
        X = _binary_inputs(n)
        ones = X.sum(dim=1)
        z = X @ w + b
        y = _sign_neuron(X, w, b)
        wrong = torch.nonzero(y != torch.where(ones > n / 2, 1.0, -1.0)).flatten()
        if len(wrong):
            k, got = int(ones[wrong[0]]), int(y[wrong[0]])
            tie = " It lies exactly on the line (z = 0)." if z[wrong[0]] == 0 else ""
            tie_zh = "它恰好落在这条线上（z = 0）。" if z[wrong[0]] == 0 else ""
            low, high = _signed(-(n + 1) / 2), _signed(-(n - 1) / 2)
            carry = (" Your answer works for 3 inputs: do your w and b change with n?"
                     if n != 3 else "")
            carry_zh = "你的答案对 3 个输入成立：你的 w 和 b 会随 n 变化吗？" if n != 3 else ""
            raise Wrong(f"for n = {n}, an input with {k} of {n} ones gives {_signed(got)} but the majority "
                        f"says {_signed(-got)}.{tie} With every weight 1 the weighted sum counts the ones, so "
                        f"b must lie strictly between {low} and {high}.{carry}",
                        zh=f"n = {n} 时，含 {k} 个 1（共 {n} 位）的输入得到 {_signed(got)}，但多数表决应为 "
                           f"{_signed(-got)}。{tie_zh}每个权重都为 1 时，加权和就是 1 的个数，"
                           f"所以 b 必须严格介于 {low} 和 {high} 之间。{carry_zh}")
        require(not torch.any(z.abs() < 1e-6),
                f"for n = {n} some input lies exactly on the line w·x + b = 0: move b half-way between "
                "the neighbouring sums so no input depends on the convention at 0",
                zh=f"n = {n} 时，有输入恰好落在直线 w·x + b = 0 上：把 b 移到相邻两个加权和的正中间，"
                   "让任何输入都不依赖于 0 处的约定")


q3 = Question("q3", "majority of n inputs", _check_majority_neuron, chapter="01",
              hint="With every weight 1 the weighted sum counts the ones. Majority means more than n/2 ones: "
                   "where must the threshold −b sit?",
              reference=_majority_neuron, title_zh="n 个输入的多数表决",
              hint_zh="每个权重都为 1 时，加权和就是 1 的个数。多数意味着 1 的个数超过 n/2："
                      "阈值 −b 应该放在哪里？")


# q4 ------------------------------------------------------------------------------------------

def _xor_two_layers(X):
    def neuron(inputs, w, b):  # +1 where w·x + b ≥ 0, else −1: the chapter's neuron
        return torch.where(inputs @ torch.tensor(w) + b >= 0, 1.0, -1.0)
    hidden = torch.stack([neuron(X, [1.0, 1.0], -0.5), neuron(X, [-1.0, -1.0], 1.5)], dim=1)  # OR, NAND
    return neuron((hidden + 1) / 2, [1.0, 1.0], -1.5)  # AND of the two, fed the 0/1 it was built for


def _check_xor_two_layers(fn):
    out = call(fn, _PAIRS.clone(), name="xor_two_layers")
    require(torch.is_tensor(out), f"return a tensor of outputs, not a {type(out).__name__}",
            zh=f"请返回由输出组成的张量，而不是 {type(out).__name__}")
    require(out.shape == (4,), f"one output per input row: expected shape (4,), yours is {tuple(out.shape)}",
            zh=f"每个输入行对应一个输出：形状应为 (4,)，你的是 {tuple(out.shape)}")
    out = out.float()
    values = set(out.unique().tolist())
    require(values <= {-1.0, 1.0}, f"outputs must be −1 or +1 like every neuron in this chapter; yours "
                                   f"include {sorted(values)}. A 0/1 answer y becomes ±1 as 2y − 1",
            zh=f"输出必须是 −1 或 +1，和本章的每个神经元一样；你的输出里"
               f"有 {sorted(values)}。0/1 的答案 y 可以用 2y − 1 变成 ±1")
    if not torch.equal(out, _GATE_OUTPUTS["XOR"]):
        name = next(n for n, row in _GATE_OUTPUTS.items() if torch.equal(row, out))
        raise Wrong(f"your network computes {name} (outputs {_outputs(out)} for x = 00, 01, 10, 11), not XOR "
                    "(−1, +1, +1, −1). XOR = AND(OR, NAND). If your hidden neurons output ±1, the output "
                    "neuron sees −1 where its AND weights expect 0: map h to (h + 1) / 2 first, or choose "
                    "weights for ±1 inputs",
                    zh=f"你的网络计算的是 {name}（x = 00, 01, 10, 11 时输出 {_outputs(out)}），不是 XOR"
                       "（−1, +1, +1, −1）。XOR = AND(OR, NAND)。如果隐藏神经元输出 ±1，输出神经元的"
                       "AND 权重本该收到 0 的地方收到的却是 −1：先把 h 映射为 (h + 1) / 2，"
                       "或者按 ±1 输入来选择权重")
    batch = _PAIRS[[3, 0, 2, 1, 3, 1]]
    other = call(fn, batch, name="xor_two_layers")
    require(torch.is_tensor(other) and other.shape == (6,) and torch.equal(other.float(), _xor_two_layers(batch)),
            "right for the 4 rows in table order, but not for another batch (rows 11, 00, 10, 01, 11, 01): "
            "compute the outputs from X, do not return a fixed tensor",
            zh="按真值表顺序的 4 行对了，但换一批输入（行 11, 00, 10, 01, 11, 01）就不对："
               "请根据 X 计算输出，不要返回固定的张量")
    return say("Two layers of neurons did what one cannot: chapter 03 learns such weights instead of choosing them.",
               "两层神经元做到了一层做不到的事：第 03 章将学习这样的权重，而不是手工选定。")


q4 = Question("q4", "XOR from two layers of neurons", _check_xor_two_layers, chapter="01",
              hint="XOR is true when at least one input is on (OR) and not both are (NAND). Put an OR neuron "
                   "and a NAND neuron side by side, then feed their outputs to an AND neuron.",
              reference=_xor_two_layers, title_zh="用两层神经元实现异或",
              hint_zh="至少一个输入为 1（OR）且不是两个都为 1（NAND）时，XOR 为真。把一个 OR 神经元"
                      "和一个 NAND 神经元并排放置，再把它们的输出送入一个 AND 神经元。")
