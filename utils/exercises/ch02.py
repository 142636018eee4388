"""Chapter 02 (the perceptron) exercises: updates until one example is right, features that make
XOR separable, and the batch (vectorised) perceptron update."""
from __future__ import annotations

import contextlib
import signal
import threading

import torch

from utils.exercises import Question, call, close, gap, language, require, say
from utils.perceptron import perceptron_update, predict, train_perceptron, with_bias


@contextlib.contextmanager
def _time_limit(seconds: int, what: str, what_zh: str | None = None):
    """Stop a learner's function that runs for more than ``seconds`` with a message (Unix main thread only).

    A wrong update rule in a ``while`` loop never ends; without this the cell would hang silently.
    """
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def stop(_signum, _frame):
        if language() == "zh" and what_zh:  # call() shows this text on both lines of COURSE_LANG=both
            raise TimeoutError(f"运行了 {seconds} 秒仍未结束：{what_zh}")
        raise TimeoutError(f"still running after {seconds} s: {what}")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _as_count(value, name):
    if torch.is_tensor(value):
        require(value.numel() == 1, f"{name} should return the number of updates (one whole number); "
                                    f"you returned a tensor of shape {tuple(value.shape)}. Are those the weights? "
                                    "Count the updates in a variable: updates = 0 … updates += 1",
                zh=f"{name} 应当返回更新次数（一个整数）；你返回的是形状为 {tuple(value.shape)} 的张量。"
                   "那是权重吗？用一个变量来数更新次数：updates = 0 … updates += 1")
        value = value.item()
    require(isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer(),
            f"{name} should return the number of updates as a whole number (an int); got {value!r}",
            zh=f"{name} 应当以整数（int）返回更新次数；得到的是 {value!r}")
    return int(value)


# q1 ------------------------------------------------------------------------------------------

def _steps_to_fix(x, w, t, lr):
    updates = 0
    while predict(x, w) != t:
        w = perceptron_update(w, x, t, lr)
        updates += 1
    return updates


#: Seconds a learner's steps_to_fix may run before the check stops it.
TIME_LIMIT = 5


def _updates(fn, x, w, t, lr):
    x, w = torch.tensor(x), torch.tensor(w)
    with _time_limit(TIME_LIMIT, "does your loop ever end? Repeat only while predict(x, w) != t, and update w inside it",
                     "你的循环会结束吗？只在 predict(x, w) != t 时重复，并在循环体内更新 w"):
        return _as_count(call(fn, x, w, t, lr, name="steps_to_fix"), "steps_to_fix")


def _check_steps_to_fix(fn):
    worked = _updates(fn, [1.0, 0.0, -1.0], [-5.0, 0.0, 0.0], 1.0, 1.0)
    require(worked != 3, "the worked example needs 2 updates and you counted 3: count the updates only. The last "
                         "check, which finds y = t, changes nothing and is not an update",
            zh="本章例题需要 2 次更新，你数成了 3 次：只数更新。最后那次检查发现 y = t，"
               "它什么也没改变，不算一次更新")
    require(worked != 1, "you counted 1 update for the worked example: after it w·x = −1, still y = −1 ≠ t. "
                         "Keep applying the rule while y ≠ t (a while loop, not an if)",
            zh="本章例题你只数了 1 次更新：那次更新之后 w·x = −1，仍有 y = −1 ≠ t。"
               "只要 y ≠ t 就继续应用更新规则（用 while 循环，而不是 if）")
    require(worked == 2, f"the worked example (x = [1, 0, −1], w = [−5, 0, 0], η = 1, t = +1) needs 2 updates; "
                         f"you counted {worked}",
            zh=f"本章例题（x = [1, 0, −1]，w = [−5, 0, 0]，η = 1，t = +1）需要 2 次更新；"
               f"你数的是 {worked}")
    already = _updates(fn, [1.0, 2.0], [1.0, 1.0], 1.0, 1.0)
    require(already == 0, f"w = [1, 1] already gives y = +1 = t for x = [1, 2], so no update is needed; you counted "
                          f"{already}. Check y ≠ t before you update, not after",
            zh=f"对 x = [1, 2]，w = [1, 1] 已经给出 y = +1 = t，不需要更新；你数的是 "
               f"{already}。先检查 y ≠ t 再更新，而不是更新之后再检查")
    negative = _updates(fn, [1.0, 2.0], [3.0, 1.0], -1.0, 1.0)
    require(negative == 1, f"x = [1, 2], w = [3, 1], t = −1: one update (Δw = −2x) makes w·x = −5 and y = −1; you "
                           f"counted {negative}. Does your code use t, or assume the target is +1?",
            zh=f"x = [1, 2]，w = [3, 1]，t = −1：一次更新（Δw = −2x）后 w·x = −5，y = −1；你数的是 "
               f"{negative}。你的代码用到了 t，还是默认目标是 +1？")
    slow = _updates(fn, [1.0, 0.0, -1.0], [-5.0, 0.0, 0.0], 1.0, 0.5)
    require(slow != 2, "with η = 0.5 the worked example needs 3 updates (the score goes −5, −3, −1, +1); you counted 2, "
                       "as for η = 1. Pass lr on to the update: Δw = lr·(t − y)·x",
            zh="η = 0.5 时本章例题需要 3 次更新（得分依次为 −5, −3, −1, +1）；你数的是 2，"
               "和 η = 1 时一样。请把 lr 传给更新：Δw = lr·(t − y)·x")
    require(slow == 3, f"with η = 0.5 the worked example needs 3 updates (the score goes −5, −3, −1, +1); you counted {slow}",
            zh=f"η = 0.5 时本章例题需要 3 次更新（得分依次为 −5, −3, −1, +1）；你数的是 {slow}")
    tie = _updates(fn, [1.0, 1.0], [-4.0, 0.0], 1.0, 1.0)
    require(tie != 2, "x = [1, 1], w = [−4, 0], t = +1: after one update w·x = 0 exactly, and a score of 0 counts as "
                      "y = +1 in this chapter, so 1 update is enough; you counted 2. torch.sign(0) is 0, not +1: use "
                      "predict() from the chapter, or torch.where(score >= 0, 1, -1)",
            zh="x = [1, 1]，w = [−4, 0]，t = +1：一次更新后 w·x 恰好为 0，而本章把得分 0 算作 "
               "y = +1，所以 1 次更新就够了；你数的是 2。torch.sign(0) 是 0 而不是 +1：请使用"
               "本章的 predict()，或 torch.where(score >= 0, 1, -1)")
    require(tie == 1, f"x = [1, 1], w = [−4, 0], t = +1 needs 1 update (the score goes −4, 0 and 0 counts as +1); "
                      f"you counted {tie}",
            zh=f"x = [1, 1]，w = [−4, 0]，t = +1 需要 1 次更新（得分依次为 −4, 0，而 0 算作 +1）；"
               f"你数的是 {tie}")
    return say("A wrong example is not fixed by one update in general: each adds 2η‖x‖² to its score.",
               "一般来说，一次更新并不能改对一个错分的样本：每次更新只让它的得分增加 2η‖x‖²。")


q1 = Question("q1", "updates until one example is right", _check_steps_to_fix,
              hint="Start a counter at 0; while predict(x, w) != t, set w = perceptron_update(w, x, t, lr) and add 1.",
              reference=_steps_to_fix, title_zh="把一个样本改对需要几次更新",
              hint_zh="计数器从 0 开始；当 predict(x, w) != t 时，令 w = perceptron_update(w, x, t, lr) 并加 1。")


# q2 ------------------------------------------------------------------------------------------

_XOR_INPUTS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_XOR_TARGETS = torch.tensor([-1.0, 1.0, 1.0, -1.0])


def _xor_features(X):
    return torch.cat([X, X[:, :1] * X[:, 1:]], dim=1)


def _check_xor_features(fn):
    features = call(fn, _XOR_INPUTS.clone(), name="xor_features")
    require(torch.is_tensor(features), f"return a tensor of features, not a {type(features).__name__}",
            zh=f"请返回由特征组成的张量，而不是 {type(features).__name__}")
    require(features.ndim == 2 and features.shape[0] == 4,
            f"return one row of features per input row, shape (4, k) for the 4 XOR inputs; yours has shape "
            f"{tuple(features.shape)}. Stack columns side by side with torch.cat([...], dim=1)",
            zh=f"每个输入行返回一行特征，对 4 个 XOR 输入形状应为 (4, k)；你的形状是 "
               f"{tuple(features.shape)}。用 torch.cat([...], dim=1) 把各列并排拼起来")
    require(features.is_floating_point(), f"dtype {features.dtype}: the perceptron multiplies features by float "
                                          "weights, so return floats (.float())",
            zh=f"数据类型为 {features.dtype}：感知机要把特征乘以浮点权重，"
               "所以请返回浮点数（.float()）")
    require(bool(torch.isfinite(features).all()), "some features are inf or NaN: avoid dividing by x₁ or x₂, which can be 0",
            zh="有些特征是 inf 或 NaN：不要除以 x₁ 或 x₂，它们可能为 0")
    order = torch.tensor([3, 1, 0, 2])
    shuffled = call(fn, _XOR_INPUTS[order].clone(), name="xor_features")
    require(torch.is_tensor(shuffled) and close(shuffled, features[order]),
            "with the rows in another order your features changed, not just their order: each row's features "
            "must be computed from that row's x₁ and x₂ alone (not from the row's position or the targets)",
            zh="行的顺序一变，你的特征就变了，而不只是顺序变了：每行的特征只能由"
               "该行的 x₁ 和 x₂ 计算（不能依赖行的位置或目标值）")
    affine = torch.cat([torch.ones(4, 1), _XOR_INPUTS], dim=1)
    residual = features - affine @ torch.linalg.lstsq(affine, features).solution
    require(residual.abs().max() > 1e-4,
            "every column you return is a linear combination of 1, x₁ and x₂ (like x₁ + x₂ or 2x₁; on inputs "
            "0 and 1, x₁² is x₁ again): on such "
            "features the perceptron's boundary is still a straight line in the (x₁, x₂) plane, and no straight "
            "line separates XOR. Add a non-linear column, such as the product x₁·x₂",
            zh="你返回的每一列都是 1、x₁ 和 x₂ 的线性组合（比如 x₁ + x₂ 或 2x₁；在取值为 0 和 1 "
               "的输入上，x₁² 仍是 x₁）：在这样的特征上，感知机的决策边界在 (x₁, x₂) 平面中"
               "仍是一条直线，而没有直线能把 XOR 分开。请加入一个非线性的列，例如乘积 x₁·x₂")
    _, mistakes = train_perceptron(with_bias(features), _XOR_TARGETS, max_epochs=100)
    require(mistakes[-1] == 0,
            f"after 100 epochs on your features the perceptron still made {mistakes[-1]} mistakes per epoch: "
            "XOR is not linearly separable in them. Keep x₁ and x₂ as columns and add their product x₁·x₂",
            zh=f"在你的特征上训练 100 个轮次后，感知机每个轮次仍会犯 {mistakes[-1]} 个错误："
               "XOR 在这些特征上不是线性可分的。保留 x₁ 和 x₂ 这两列，再加上它们的乘积 x₁·x₂")
    return say(f"The perceptron converged in {len(mistakes)} epochs. A hand-made feature such as x₁·x₂ is what a "
               "hidden layer learns for itself in chapter 03.",
               f"感知机在 {len(mistakes)} 个轮次内收敛了。像 x₁·x₂ 这样手工构造的特征，"
               "正是第 03 章中隐藏层自己学到的东西。")


q2 = Question("q2", "features that make XOR separable", _check_xor_features,
              hint="Keep x₁ and x₂ and add the product of the two columns: X[:, :1] * X[:, 1:] has shape (n, 1).",
              reference=_xor_features, title_zh="让异或线性可分的特征",
              hint_zh="保留 x₁ 和 x₂，再加上两列的乘积：X[:, :1] * X[:, 1:] 的形状是 (n, 1)。")


# q3 ------------------------------------------------------------------------------------------

#: Five examples (bias column first). At _BATCH_W examples 2, 3 and 4 (counting from 1) are wrong, and
#: example 4 scores exactly 0 (so y = +1) with t = −1: the tie tells predict() from torch.sign.
_BATCH_X = with_bias(torch.tensor([[2.0, 1.0], [1.0, -1.0], [-1.0, 2.0], [1.0, 0.0], [-2.0, -1.0]]))
_BATCH_T = torch.tensor([1.0, 1.0, -1.0, -1.0, -1.0])
_BATCH_W = torch.tensor([-0.5, 0.5, 1.0])
_BATCH_LR = 0.5


def _batch_update(X, t, w, lr):
    y = predict(X, w)
    return w + lr * (t - y) @ X


def _online_epoch(X, t, w, lr):
    for x, target in zip(X, t):
        w = perceptron_update(w, x, target, lr)
    return w


def _check_batch_update(fn):
    X, t, w, lr = _BATCH_X.clone(), _BATCH_T.clone(), _BATCH_W.clone(), _BATCH_LR
    out = call(fn, X, t, w, lr, name="batch_update")
    require(torch.is_tensor(out), f"return the new weights as a tensor, not a {type(out).__name__}",
            zh=f"请以张量形式返回新的权重，而不是 {type(out).__name__}")
    require(tuple(out.shape) != tuple(X.shape),
            f"you returned shape {tuple(out.shape)}, one row per example: those are the separate changes. "
            "Add them up over the examples, e.g. (t - y) @ X, to get one new weight vector",
            zh=f"你返回的形状是 {tuple(out.shape)}，每个样本一行：这些是各个样本各自的改变量。"
               "把它们对所有样本加起来，例如 (t - y) @ X，得到一个新的权重向量")
    require(out.shape == w.shape, f"the new weights must have the shape of w, {tuple(w.shape)}; yours have "
                                  f"{tuple(out.shape)}",
            zh=f"新的权重必须和 w 形状相同，即 {tuple(w.shape)}；你的是 "
               f"{tuple(out.shape)}")
    require(not close(out, w), "w came back unchanged, although examples 2, 3 and 4 (counting from 1) are misclassified at this w",
            zh="w 原样返回了，但在这个 w 下第 2、3、4 个样本（从 1 数起）被分错了")
    y, expected = predict(X, w), _batch_update(X, t, w, lr)
    mistakes = [
        (_online_epoch(X, t, w, lr), "you updated w after each example in turn (the online rule). In the batch "
                                     "rule every output y comes from the same starting w; add all the changes at once",
         "你是逐个样本依次更新 w 的（在线规则）。批量规则中每个输出 y 都来自同一个起始 w；"
         "把所有改变量一次性加上"),
        (w + lr * t @ X, "you added η·t·x for every example, including those already right: multiply by (t − y), "
                         "which is 0 where the output is right",
         "你对每个样本都加上了 η·t·x，包括已经分对的样本：要乘以 (t − y)，输出正确时它为 0"),
        (w + lr * (y - t) @ X, "the sign is flipped: Δw = η(t − y)x, the target minus the output",
         "符号反了：Δw = η(t − y)x，是目标减去输出"),
        (w + (t - y) @ X, "the change is not scaled by the learning rate: multiply by lr",
         "改变量没有乘以学习率：请乘以 lr"),
        (w + lr * ((t - y) @ X) / len(X), "you averaged the changes over the examples; the batch rule adds them up "
                                          "(a sum, not a mean)",
         "你把改变量对样本取了平均；批量规则是把它们加起来（求和，而不是求平均）"),
        (w + lr * (t - torch.sign(X @ w)) @ X, "example 4 (counting from 1) scores exactly w·x = 0, which counts as y = +1 here; "
                                               "torch.sign gives 0 there. Use predict(X, w) from the chapter",
         "第 4 个样本（从 1 数起）的得分恰好是 w·x = 0，在这里算作 y = +1；"
         "torch.sign 在那里给出 0。请使用本章的 predict(X, w)"),
    ]
    for wrong, message, message_zh in mistakes:
        require(close(out, expected) or not close(out, wrong), message,
                zh=message_zh)
    require(close(out, expected), f"your weights {[round(v, 3) for v in out.tolist()]} differ from the expected "
                                  f"{[round(v, 3) for v in expected.tolist()]} (largest gap {gap(out, expected):.3g}): "
                                  "compute y = predict(X, w) for all rows, then w + lr * (t - y) @ X",
            zh=f"你的权重 {[round(v, 3) for v in out.tolist()]} 与期望的 "
               f"{[round(v, 3) for v in expected.tolist()]} 不同（最大差距 {gap(out, expected):.3g}）："
               "先对所有行计算 y = predict(X, w)，再算 w + lr * (t - y) @ X")
    return say("This is gradient descent on the perceptron criterion, the sum of −t·(w·x) over the "
               "misclassified examples: chapter 04 makes that idea general.",
               "这就是对感知机准则（所有错分样本上 −t·(w·x) 之和）做梯度下降："
               "第 04 章会把这个思路推广开来。")


q3 = Question("q3", "the batch perceptron update", _check_batch_update,
              hint="y = predict(X, w) gives all the outputs at once; (t - y) @ X adds up (t − y)·x over the rows.",
              reference=_batch_update, title_zh="批量感知机更新",
              hint_zh="y = predict(X, w) 一次给出全部输出；(t - y) @ X 把各行的 (t − y)·x 加起来。")
