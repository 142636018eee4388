"""Chapter 01 (the M-P neuron) exercises: McCulloch and Pitts' own unit, a neuron for any two-input
gate, majority of n, and three-input parity from two layers."""
from __future__ import annotations

import itertools

import torch

from utils.exercises import (Case, Mistake, Question, Wrong, as_tensor, call, function_checker, parts, require,
                             say, time_limit)
from utils.exercises.checks import TookTooLong
from utils.exercises.core import NotAttempted
from utils.widgets import TWO_INPUT_FUNCTIONS

CHAPTER = "01"
T = torch.tensor
_PAIRS = T([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def _binary_inputs(n: int) -> torch.Tensor:
    """All 2ⁿ binary inputs of n bits, one per row, in counting order."""
    return T(list(itertools.product([0.0, 1.0], repeat=n)))


def _sign_neuron(X, w, b):
    return torch.where(X @ w + b >= 0, 1.0, -1.0)


def _signs(y) -> str:
    """Outputs ±1 as a string of signs, "+−−+": how the checks compare truth tables."""
    return "".join("+" if v > 0 else "−" for v in y.tolist())


def _gate_name(table: torch.Tensor) -> str:
    return TWO_INPUT_FUNCTIONS[tuple(int(v) for v in table.tolist())]


def _weights_and_bias(answer, n: int, name: str):
    """A learner's (w, b) as a float tensor of n weights and a float bias, or a message saying what is off."""
    w, b = parts(answer, 2, name, "the weights and the bias, `return w, b`", "权重和偏置，`return w, b`",
                 tensors=False)
    try:
        w = torch.as_tensor(w, dtype=torch.float32).reshape(-1)
        b = torch.as_tensor(b, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as error:
        raise Wrong(f"w and b must be numbers or tensors ({error}); e.g. `return torch.tensor([1.0, 1.0]), -1.5`",
                    zh=f"w 和 b 必须是数或张量（{error}）；例如 `return torch.tensor([1.0, 1.0]), -1.5`") from None
    require(w.numel() == n, f"with {n} inputs the neuron needs {n} weights, one per input; your w has {w.numel()}",
            zh=f"有 {n} 个输入时，神经元需要 {n} 个权重，每个输入一个；你的 w 有 {w.numel()} 个")
    require(b.numel() == 1, f"the bias is one number; yours has {b.numel()} entries",
            zh=f"偏置是一个数；你的有 {b.numel()} 个元素")
    return w, b.reshape(())


def _row(x) -> str:
    return "".join(str(int(v)) for v in x.tolist())


def _on_the_line(X, z, who: str, who_zh: str, *, hidden: bool = False) -> None:
    """No input may sit exactly on a neuron's line: its output would hang on the convention at z = 0."""
    ties = [_row(X[i]) for i in torch.nonzero(z.abs() < 1e-6).flatten()]
    require(not (hidden and ties),
            "on a further case, kept hidden so that it cannot be copied, some inputs lie exactly on the neuron's "
            "line, z = 0: move the bias half-way between the neighbouring sums, for every n",
            zh="在另一个不公开的用例上，有些输入恰好落在神经元的直线 z = 0 上：对每个 n，都把偏置移到相邻两个加权和的正中间")
    require(not ties,
            f"the input{'s' if len(ties) > 1 else ''} {', '.join(ties[:4])} lie{'' if len(ties) > 1 else 's'} "
            f"exactly on {who}'s line, z = 0: {'they come' if len(ties) > 1 else 'it comes'} out +1 only by the "
            "course's convention at 0, and torch.sign would give 0 (see the box on the tie at z = 0). Move the bias "
            "half-way between the neighbouring sums so every input is clearly on one side",
            zh=f"输入 {', '.join(ties[:4])} 恰好落在{who_zh}的直线 z = 0 上：它们输出 +1 只是因为本课程在 0 处的约定，"
               "而 torch.sign 会给出 0（见关于 z = 0 的方框）。把偏置移到相邻两个加权和的正中间，让每个输入都明确落在某一侧")


# q1 · McCulloch and Pitts' own unit -------------------------------------------------------------

def _mp_unit(X, inhibitory, theta):
    excitation = X[:, ~inhibitory].sum(dim=1)
    inhibited = X[:, inhibitory].sum(dim=1) > 0
    return ((excitation >= theta) & ~inhibited).float()


def _zero_one(out, name):
    out = as_tensor(out, name, shape=(None,), what="the outputs", what_zh="输出")
    out = out.float()
    require(not bool((out == -1).any()),
            "you returned −1 for a silent unit: McCulloch and Pitts' unit fires (1) or stays silent (0). The ±1 "
            "outputs belong to the sign neuron of section 3",
            zh="你让沉默的单元返回了 −1：McCulloch 和 Pitts 的单元要么激发（1），要么保持沉默（0）。±1 输出属于第 3 节的符号神经元")
    require(bool(((out == 0) | (out == 1)).all()),
            "the outputs must be 0 or 1: compare with θ (a True/False tensor) and turn that into numbers with .float()",
            zh="输出必须是 0 或 1：与 θ 比较（得到 True/False 张量），再用 .float() 变成数")
    return out


def _mask(*flags) -> torch.Tensor:
    return T(flags, dtype=torch.bool)


def _random_unit(seed: int, rows: int, n: int, hidden: bool = False) -> Case:
    numbers = torch.Generator().manual_seed(seed)
    X = torch.randint(2, (rows, n), generator=numbers).float()
    inhibitory = torch.zeros(n, dtype=torch.bool)
    inhibitory[torch.randperm(n, generator=numbers)[:2]] = True
    return Case(X, inhibitory, int(torch.randint(1, 4, (1,), generator=numbers)), hidden=hidden)


def _excitation(X, inhibitory):
    return X[:, ~inhibitory].sum(dim=1)


def _blocked(X, inhibitory):
    return X[:, inhibitory].sum(dim=1) > 0


q1 = Question("q1", "McCulloch and Pitts' own unit", chapter=CHAPTER, checker=function_checker(
    "mp_unit", _mp_unit, convert=_zero_one,
    cases=[
        Case(_binary_inputs(3), _mask(False, False, True), 2, note="x₃ inhibitory", note_zh="x₃ 为抑制性输入"),
        Case(_binary_inputs(4), _mask(False, False, False, True), 2,
             note="three excitatory inputs against one inhibitory", note_zh="三个兴奋性输入对一个抑制性输入"),
        Case(_binary_inputs(3), _mask(False, False, False), 2, note="no inhibitory input", note_zh="没有抑制性输入"),
        Case(_binary_inputs(2), _mask(False, True), 0, note="θ = 0", note_zh="θ = 0"),
        Case(_binary_inputs(4), _mask(True, False, False, True), 1, note="two inhibitory inputs",
             note_zh="两个抑制性输入"),
        _random_unit(1, 8, 5), _random_unit(2, 10, 6, hidden=True),
    ],
    mistakes=[Mistake(fn, en, zh) for fn, en, zh in [
        (lambda X, i, theta: ((_excitation(X, i) > theta) & ~_blocked(X, i)).float(),
         "inputs whose excitation equals θ exactly did not fire: the unit fires when the count reaches the threshold "
         "(≥ θ), not only when it exceeds it (> θ)",
         "兴奋恰好等于 θ 的输入没有激发：计数达到阈值（≥ θ）时单元就激发，而不是只在超过阈值（> θ）时才激发"),
        (lambda X, i, theta: (_excitation(X, i) - X[:, i].sum(dim=1) >= theta).float(),
         "you subtracted the inhibitory inputs (a weight of −1): that is the modern form. In the 1943 unit inhibition "
         "is absolute: one active inhibitory input keeps the unit silent, however much excitation arrives",
         "你把抑制性输入减掉了（权重为 −1）：那是现代的形式。在 1943 年的单元中，抑制是绝对的："
         "只要有一个抑制性输入处于激活状态，无论兴奋有多少，单元都保持沉默"),
        (lambda X, i, theta: (_excitation(X, i) >= theta).float(),
         "the inhibitory inputs were ignored: an active inhibitory input must keep the unit silent",
         "抑制性输入被忽略了：处于激活状态的抑制性输入必须让单元保持沉默"),
        (lambda X, i, theta: (X.sum(dim=1) >= theta).float(),
         "you counted the inhibitory inputs as excitation: only the excitatory inputs count towards θ, and an active "
         "inhibitory one blocks firing",
         "你把抑制性输入也算作了兴奋：只有兴奋性输入计入 θ，而处于激活状态的抑制性输入会阻止激发"),
        (lambda X, i, theta: _mp_unit(X, ~i, theta),
         "the mask is read the wrong way round: `inhibitory[j]` is True where input j is inhibitory",
         "掩码读反了：`inhibitory[j]` 为 True 表示第 j 个输入是抑制性的"),
        (lambda X, i, theta: ((_excitation(X, i) >= theta) & ~(X[:, i] > 0).all(dim=1)).float(),
         "the unit stays silent only when every inhibitory input is active: any one active inhibitory input is "
         "enough to block it (any, not all)",
         "只有当所有抑制性输入都处于激活状态时单元才保持沉默：其实只要有任何一个抑制性输入处于激活状态就足以阻止它（any，而不是 all）"),
        (lambda X, i, theta: 1 - _mp_unit(X, i, theta),
         "every output is flipped: fire (1) when the unit should fire, stay silent (0) otherwise",
         "每个输出都反了：该激发时激发（1），否则保持沉默（0）"),
        (lambda X, i, theta: ((_excitation(X, i) + theta >= 0) & ~_blocked(X, i)).float(),
         "you added θ: the threshold is subtracted, the unit fires when the count minus θ is ≥ 0 (that is why the "
         "sign neuron's bias is b = −θ)",
         "你加上了 θ：阈值应当减去，计数减去 θ ≥ 0 时单元才激发（这正是符号神经元的偏置为 b = −θ 的原因）"),
    ]],
    note=("Absolute inhibition is what the 1943 unit had; a negative weight, which only subtracts, is the modern form.",
          "绝对抑制是 1943 年的单元所具有的；负权重只是做减法，那是现代的形式。")),
    hint="Count the active excitatory inputs of every row at once (a boolean mask selects columns), compare with "
         "theta, and let any active inhibitory input veto the result.",
    reference=_mp_unit, title_zh="McCulloch 和 Pitts 原本的单元",
    hint_zh="一次算出每一行中处于激活状态的兴奋性输入个数（用布尔掩码选出列），与 theta 比较，"
            "再让任何一个处于激活状态的抑制性输入否决这个结果。")


# q2 · a neuron for any two-input gate ----------------------------------------------------------

def _find_gate(table):
    inputs = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    for w1, w2 in itertools.product([-2.0, -1.0, 0.0, 1.0, 2.0], repeat=2):
        for b in (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5):  # half-way values: z is never exactly 0
            w = torch.tensor([w1, w2])
            if torch.equal(torch.where(inputs @ w + b >= 0, 1.0, -1.0), table):
                return w, b
    raise ValueError(f"no single neuron computes the table {table.tolist()}: its +1 and −1 corners cannot be "
                     "separated by a line")


def _gate_computed(out, name):
    """The truth table, as signs, that the learner's (w, b) computes on 00, 01, 10, 11."""
    w, b = _weights_and_bias(out, 2, name)
    z = _PAIRS @ w + b
    require(not (abs(float(b)) < 1e-6 and abs(float(z[0])) < 1e-6),
            "with b = 0 the input 00 sits exactly on the line whatever the weights (z = w·0 + 0 = 0): choose a bias "
            "that is not 0",
            zh="b = 0 时，无论权重是多少，输入 00 都恰好落在直线上（z = w·0 + 0 = 0）：请选择一个不为 0 的偏置")
    _on_the_line(_PAIRS, z, "your neuron", "你的神经元")
    return _signs(_sign_neuron(_PAIRS, w, b))


def _raising_value_error_is_wrong_here(answer):
    """An answer run on a table that one neuron can compute: a ValueError there is a mistake of its own."""
    if answer is None or not callable(answer):
        return answer

    def gate(table):
        try:
            return answer(table)
        except ValueError:
            raise Wrong(f"you raised ValueError for {_gate_name(table)}, but one neuron computes it: only XOR and "
                        "XNOR have none. Do your weights and bias take negative values too (an inhibitory input, a "
                        "bias above 0)?",
                        zh=f"你对 {_gate_name(table)} 抛出了 ValueError，但一个神经元就能计算它：只有 XOR 和 XNOR 不行。"
                        "你的权重和偏置也取负值吗（抑制性输入、大于 0 的偏置）？") from None
    gate.answer = answer
    return gate


_IMPOSSIBLE = [T([-1.0, 1.0, 1.0, -1.0]), T([1.0, -1.0, -1.0, 1.0])]  # XOR, XNOR


def _impossible_tables(gate) -> str:
    """For XOR and XNOR the answer must raise ValueError with a message, not return weights."""
    answer = gate.answer
    for table in _IMPOSSIBLE:
        name = _gate_name(table)
        try:
            with time_limit():
                out = answer(table.clone())
        except ValueError as error:
            require(str(error).strip(),
                    f"for {name} you raised ValueError without a message: say what happened, e.g. which table and "
                    "why no neuron computes it",
                    zh=f"对 {name} 你抛出了不带信息的 ValueError：请说明发生了什么，例如是哪张表、为什么没有神经元能计算它")
            continue
        except NotImplementedError:
            raise NotAttempted() from None
        except TookTooLong:
            raise Wrong(f"for {name} your function was still running after the time limit: does its search end "
                        "when no weights fit?",
                        zh=f"对 {name}，你的函数超时仍在运行：找不到合适的权重时，你的搜索会结束吗？") from None
        except Exception as error:
            raise Wrong(f"for {name} your function raised {type(error).__name__}: {error}. Raise ValueError, with a "
                        "message, when no neuron computes the table",
                        zh=f"对 {name}，你的函数抛出了 {type(error).__name__}：{error}。没有神经元能计算这张表时，"
                        "请抛出带信息的 ValueError") from None
        raise Wrong(f"for {name} your function returned {'None' if out is None else 'an answer'}, but no "
                    "single neuron computes it (section 8): its +1 corners lie on one diagonal and its −1 corners on "
                    "the other. Raise ValueError with a message that says so",
                    zh=f"对 {name}，你的函数返回了{'None' if out is None else '一个答案'}，但没有单个神经元能计算它"
                    "（第 8 节）：它的 +1 角点在一条对角线上，−1 角点在另一条上。请抛出说明这一点的 ValueError")
    return say("Fourteen of the sixteen tables have a neuron; XOR and XNOR have none, as section 8's grid found.",
               "十六张表中有十四张存在对应的神经元；XOR 和 XNOR 没有，与第 8 节的网格搜索结果一致。")


def _gate_case(outputs, hidden: bool = False) -> Case:
    table = T(outputs)
    return Case(table, note=_gate_name(table), hidden=hidden)


_gate_table = function_checker(
    "find_gate", lambda table: _signs(table), convert=_gate_computed,
    cases=[_gate_case(row) for row in [(-1, -1, -1, 1), (1, 1, 1, -1), (-1, -1, 1, -1), (-1, 1, 1, 1),
                                       (1, -1, -1, -1), (1, 1, 1, 1), (-1, -1, -1, -1), (-1, -1, 1, 1),
                                       (1, -1, 1, -1), (1, 1, -1, 1), (-1, 1, -1, 1), (1, 1, -1, -1),
                                       (1, -1, 1, 1)]] + [_gate_case((-1, 1, -1, -1), hidden=True)],
    mistakes=[
        Mistake(lambda table: _signs(-table),
                "your neuron computes the opposite of the table: its +1 and −1 sides are swapped. Negating w and b "
                "swaps them back",
                "你的神经元计算的是这张表的反面：它的 +1 侧和 −1 侧对调了。把 w 和 b 都取反就能换回来"),
        Mistake(lambda table: _signs(table[[0, 2, 1, 3]]),
                "your w₁ and w₂ are swapped: the table lists the inputs 00, 01, 10, 11 as (x₁, x₂), so its second "
                "entry is x₁ = 0, x₂ = 1, and w₁ belongs to x₁",
                "你的 w₁ 和 w₂ 对调了：表中的输入按 (x₁, x₂) 依次是 00, 01, 10, 11，所以第二项是 x₁ = 0、x₂ = 1，而 w₁ 属于 x₁"),
        Mistake(lambda table: _signs(table.flip(0)),
                "you read the table backwards: its four entries are the outputs for 00, 01, 10, 11, in that order",
                "你把表倒过来读了：它的四项依次是输入 00, 01, 10, 11 的输出"),
    ],
    then=_impossible_tables)


def _check_find_gate(fn):
    return _gate_table(_raising_value_error_is_wrong_here(fn))


_check_find_gate.expected_results = _gate_table.expected_results  # its table's visible cases, for the leak test


q2 = Question("q2", "a neuron for any two-input gate", _check_find_gate, chapter=CHAPTER,
              hint="Try small whole-number weights, and biases half-way between whole numbers (…, −1.5, −0.5, 0.5, "
                   "…) so that z is never exactly 0. If none fits, can any?",
              reference=_find_gate, title_zh="任意双输入逻辑门的神经元",
              hint_zh="试试较小的整数权重，以及位于两个整数正中间的偏置（…, −1.5, −0.5, 0.5, …），"
                      "这样 z 永远不会恰好为 0。如果一个都不合适，还有别的可能吗？")


# q3 · majority of n ------------------------------------------------------------------------------

def _majority_neuron(n):
    w = torch.ones(n)
    b = -n / 2  # k ones give z = k − n/2: negative up to (n − 1)/2 ones, positive from (n + 1)/2
    return w, b


def _on_every_input(answer):
    """An answer (or a known mistake) as the check sees it: the signs it gives on all 2ⁿ inputs."""
    if answer is None or not callable(answer):
        return answer

    def outputs(n):
        w, b = _weights_and_bias(answer(n), n, f"majority_neuron({n})")
        X = _binary_inputs(n)
        _on_the_line(X, X @ w + b, f"the {n}-input neuron", f"{n} 输入神经元", hidden=n == _HIDDEN_SIZE)
        return _signs(_sign_neuron(X, w, b))
    return outputs


_HIDDEN_SIZE = 9  # the majority case that no message names


def _majority(n):
    X = _binary_inputs(n)
    return _signs(torch.where(X.sum(dim=1) > n / 2, 1.0, -1.0))


_majority_table = function_checker(
    "majority_neuron", _majority,
    cases=[Case(3, note="the chapter's case", note_zh="本章的例子"), Case(5), Case(7),
           Case(1, note="a single input", note_zh="只有一个输入"), Case(_HIDDEN_SIZE, hidden=True)],
    mistakes=[Mistake(_on_every_input(fn), en, zh) for fn, en, zh in [
        (lambda n: (torch.full((n,), 0.5), -0.6),
         "you kept section 4's bias, b = −0.6, which was chosen for three inputs: with n inputs the threshold must "
         "grow with n",
         "你沿用了第 4 节的偏置 b = −0.6，它是为三个输入选定的：有 n 个输入时，阈值必须随 n 增长"),
        (lambda n: (torch.ones(n), -n / 2 - 1),
         "your neuron needs more ones than a bare majority before it fires: the threshold is too high",
         "你的神经元需要比刚好过半更多的 1 才会激发：阈值太高了"),
        (lambda n: (torch.ones(n), -n / 2 + 1),
         "your neuron fires with fewer ones than a majority: the threshold is too low",
         "你的神经元在 1 的个数不到半数时就激发了：阈值太低了"),
        (lambda n: (torch.ones(n), n / 2),
         "your neuron always fires: the bias is the negative threshold, b = −θ, so it must be below 0 here",
         "你的神经元总是激发：偏置是阈值的相反数，b = −θ，所以这里它必须小于 0"),
        (lambda n: (-torch.ones(n), n / 2),
         "your neuron computes minority, +1 when fewer than half the inputs are 1: the signs of w and b are flipped",
         "你的神经元计算的是少数表决，不到半数输入为 1 时输出 +1：w 和 b 的符号反了"),
    ]])


def _check_majority(fn):
    return _majority_table(_on_every_input(fn))


_check_majority.expected_results = _majority_table.expected_results  # its table's visible cases, for the leak test


q3 = Question("q3", "majority of n inputs", _check_majority, chapter=CHAPTER,
              hint="With every weight 1 the weighted sum counts the ones. Majority means more than n/2 ones: where "
                   "must the threshold −b sit so that no count lands exactly on it?",
              reference=_majority_neuron, title_zh="n 个输入的多数表决",
              hint_zh="每个权重都为 1 时，加权和就是 1 的个数。多数意味着 1 的个数超过 n/2："
                      "阈值 −b 应该放在哪里，才不会有任何计数恰好落在它上面？")


# q4 · three-input parity from two layers ----------------------------------------------------------

_CUBE = _binary_inputs(3)
_PARITY = torch.where(_CUBE.sum(dim=1) % 2 == 1, 1.0, -1.0)


def _parity_network():
    W1 = torch.ones(3, 3)  # hidden neuron k: "at least k of the three inputs are 1"
    b1 = torch.tensor([-0.5, -1.5, -2.5])
    w2 = torch.tensor([1.0, -1.0, 1.0])  # hidden outputs (±1) added with alternating signs
    b2 = 0.0
    return W1, b1, w2, b2


def _layers(answer):
    """The learner's four parameters as float tensors of consistent shapes, or a message."""
    W1, b1, w2, b2 = parts(answer, 4, "parity_network", "(W1, b1, w2, b2)", "（W1, b1, w2, b2）", tensors=False)
    try:
        W1, b1, w2, b2 = (torch.as_tensor(p, dtype=torch.float32) for p in (W1, b1, w2, b2))
    except (TypeError, ValueError, RuntimeError) as error:
        raise Wrong(f"W1, b1, w2 and b2 must be tensors or numbers ({error})",
                    zh=f"W1、b1、w2 和 b2 必须是张量或数（{error}）") from None
    require(W1.ndim == 2 and 3 in W1.shape,
            f"W1 should have one row of 3 weights per hidden neuron, shape (k, 3); yours has shape {tuple(W1.shape)}",
            zh=f"W1 应当每个隐藏神经元一行、每行 3 个权重，形状为 (k, 3)；你的形状是 {tuple(W1.shape)}")
    require(W1.shape[1] == 3,
            f"W1 has shape {tuple(W1.shape)}: it should be (k, 3), one row per hidden neuron, as nn.Linear stores its "
            "weight (out_features, in_features). Transpose it",
            zh=f"W1 的形状是 {tuple(W1.shape)}：它应当是 (k, 3)，每个隐藏神经元一行，与 nn.Linear 存放权重的方式"
               "（out_features, in_features）相同。请把它转置")
    k = W1.shape[0]
    require(b1.shape == (k,) and w2.shape == (k,),
            f"with {k} hidden neurons b1 and w2 need {k} entries each, one per hidden neuron; yours have shapes "
            f"{tuple(b1.shape)} and {tuple(w2.shape)}",
            zh=f"有 {k} 个隐藏神经元时，b1 和 w2 各需要 {k} 个元素，每个隐藏神经元一个；你的形状分别是 "
               f"{tuple(b1.shape)} 和 {tuple(w2.shape)}")
    require(b2.numel() == 1, f"b2, the output neuron's bias, is one number; yours has {b2.numel()} entries",
            zh=f"b2 是输出神经元的偏置，只是一个数；你的有 {b2.numel()} 个元素")
    return W1, b1, w2, b2.reshape(())


def _network(X, W1, b1, w2, b2):
    hidden = _sign_neuron(X, W1.T, b1)
    return hidden, _sign_neuron(hidden, w2, b2)


def _check_parity(fn):
    W1, b1, w2, b2 = _layers(call(fn, name="parity_network"))
    for j in range(W1.shape[0]):
        _on_the_line(_CUBE, _CUBE @ W1[j] + b1[j], f"hidden neuron {j + 1}", f"第 {j + 1} 个隐藏神经元")
    hidden, y = _network(_CUBE, W1, b1, w2, b2)
    _on_the_line(_CUBE, hidden @ w2 + b2, "the output neuron", "输出神经元")
    if torch.equal(y, _PARITY):
        return say("One construction: hidden neuron k asks \"at least k ones?\", and the output adds their ±1 answers "
                   "with alternating signs. Chapter 03 learns such weights instead of choosing them.",
                   "一种构造：第 k 个隐藏神经元回答“至少有 k 个 1 吗？”，输出神经元把它们的 ±1 回答以交替的符号相加。"
                   "第 03 章将学习这样的权重，而不是手工选定。")
    require(not torch.equal(y, -_PARITY),
            "your network computes even parity, +1 for an even number of ones: negate the output neuron's w2 and b2",
            zh="你的网络计算的是偶校验，1 的个数为偶数时输出 +1：把输出神经元的 w2 和 b2 取反")
    require(not torch.equal(_sign_neuron((hidden + 1) / 2, w2, b2), _PARITY),
            "your output neuron was designed for hidden outputs of 0 and 1, but the hidden neurons output ±1, so a "
            "silent hidden neuron adds −w2ⱼ where you expected 0. Choose w2 and b2 for ±1 inputs (section 9 shows "
            "which gates survive the change)",
            zh="你的输出神经元是按隐藏输出为 0 和 1 设计的，但隐藏神经元输出的是 ±1，所以一个沉默的隐藏神经元"
               "在你以为是 0 的地方加上了 −w2ⱼ。请按 ±1 输入来选择 w2 和 b2（第 9 节说明了哪些门经得起这一变化）")
    if W1.shape[0] == 3:
        require(not torch.equal(_network(_CUBE, W1.T, b1, w2, b2)[1], _PARITY),
                "W1 is transposed: row j must hold hidden neuron j's three weights, as nn.Linear stores its weight "
                "(out_features, in_features)",
                zh="W1 转置了：第 j 行必须是第 j 个隐藏神经元的三个权重，与 nn.Linear 存放权重的方式（out_features, "
                   "in_features）相同")
    xor_of_two = torch.where(_CUBE[:, 0] != _CUBE[:, 1], 1.0, -1.0)
    require(not torch.equal(y, xor_of_two),
            "your network computes XOR of x₁ and x₂ and ignores x₃: parity counts all three inputs",
            zh="你的网络计算的是 x₁ 与 x₂ 的 XOR，忽略了 x₃：奇偶校验要数全部三个输入")
    ones = _CUBE.sum(dim=1)
    wrong = sorted({int(k) for k in ones[y != _PARITY].tolist()})
    raise Wrong(f"your network is wrong on the inputs with {' and '.join(map(str, wrong))} ones. Parity alternates "
                "with the count of ones: 0 → −1, 1 → +1, 2 → −1, 3 → +1. Which hidden neurons change between those "
                "counts?",
                zh=f"你的网络在含 {' 和 '.join(map(str, wrong))} 个 1 的输入上出错。奇偶校验随 1 的个数交替变化："
                "0 → −1，1 → +1，2 → −1，3 → +1。在这些个数之间，哪些隐藏神经元的输出发生了变化？")


q4 = Question("q4", "parity of three inputs from two layers", _check_parity, chapter=CHAPTER,
              hint="Let hidden neuron k fire when at least k of the three inputs are 1, as the majority neuron does "
                   "for k = 2. List the hidden outputs for 0, 1, 2 and 3 ones: which output weights make the answer "
                   "alternate?",
              reference=_parity_network, title_zh="用两层神经元计算三输入奇偶校验",
              hint_zh="让第 k 个隐藏神经元在三个输入中至少有 k 个为 1 时激发，就像多数表决神经元在 k = 2 时那样。"
                      "列出 0、1、2、3 个 1 时的隐藏输出：什么样的输出权重能让答案交替变化？")
