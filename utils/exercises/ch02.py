"""Chapter 02 (the perceptron) exercises: updates until one example is right, features that make
XOR separable, and the batch (vectorised) perceptron update."""
from __future__ import annotations

import torch

from utils.exercises import (Case, Mistake, Question, as_number, as_tensor, call, close, function_checker,
                             require, say)
from utils.perceptron import perceptron_update, predict, train_perceptron, with_bias

CHAPTER = "02"
T = torch.tensor


def _seeded(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).round(decimals=1)


# q1 · updates until one example is right ----------------------------------------------------

def _steps_to_fix(x, w, t, lr):
    updates = 0
    while predict(x, w) != t:
        w = perceptron_update(w, x, t, lr)
        updates += 1
    return updates


def _counts_checks(x, w, t, lr):  # counts every look at the output, the last (right) one too
    return _steps_to_fix(x, w, t, lr) + 1


def _if_not_while(x, w, t, lr):
    return int(predict(x, w) != t)


def _ignores_lr(x, w, t, lr):
    return _steps_to_fix(x, w, t, 1.0)


def _sign_ties(x, w, t, lr):
    updates = 0
    while torch.sign(x @ w) != t and updates < 100:
        w = w + lr * (t - torch.sign(x @ w)) * x
        updates += 1
    return updates


def _update_first(x, w, t, lr):  # a do-while: one update even when the output was already right
    updates = 0
    while updates < 100:
        w = w + lr * 2 * t * x
        updates += 1
        if predict(x, w) == t:
            return updates
    return updates


def _assumes_positive_target(x, w, t, lr):  # fixes negative scores only, whatever the target
    updates = 0
    while x @ w < 0 and updates < 100:
        w = w + lr * 2 * x
        updates += 1
    return updates


def _whole_number(out, name):
    if torch.is_tensor(out):
        require(out.numel() == 1, f"{name} should return the number of updates, one whole number; it returned a "
                                  f"tensor of shape {tuple(out.shape)}. Are those the weights? Count the updates "
                                  "in a variable: updates = 0 … updates += 1",
                zh=f"{name} 应当返回更新次数，一个整数；它返回的是形状为 {tuple(out.shape)} 的张量。"
                   "那是权重吗？用一个变量来数更新次数：updates = 0 … updates += 1")
    return as_number(out, name, integer=True, what="the number of updates", what_zh="更新次数")


def _wrong_at_start(seed: int, hidden: bool = False) -> Case:
    """A seeded example that the starting weights get wrong, so it needs several updates."""
    x, w = _seeded(seed, 4), 3 * _seeded(seed + 50, 4)
    return Case(x, w, -predict(x, w).item(), 0.3, hidden=hidden)


_WORKED = Case(T([1.0, 0.0, -1.0]), T([-5.0, 0.0, 0.0]), 1.0, 1.0, note="the chapter's worked example",
               note_zh="本章的例题")

q1 = Question("q1", "updates until one example is right", chapter=CHAPTER, checker=function_checker(
    "steps_to_fix", _steps_to_fix, convert=_whole_number,
    cases=[
        _WORKED,
        Case(T([1.0, 2.0]), T([1.0, 1.0]), 1.0, 1.0, note="already right", note_zh="一开始就是对的"),
        Case(T([1.0, 2.0]), T([3.0, 1.0]), -1.0, 1.0, note="a target of −1", note_zh="目标为 −1"),
        Case(T([1.0, 0.0, -1.0]), T([-5.0, 0.0, 0.0]), 1.0, 0.5, note="a smaller learning rate",
             note_zh="更小的学习率"),
        Case(T([1.0, 1.0]), T([-4.0, 0.0]), 1.0, 1.0, note="a score that reaches exactly 0",
             note_zh="得分恰好到达 0"),
        *[_wrong_at_start(seed, hidden=seed == 3) for seed in range(4)],
    ],
    mistakes=[
        Mistake(_counts_checks, "you counted one too many: count the updates only. The last look at the output, "
                                "the one that finds y = t, changes nothing and is not an update",
                "你多数了一次：只数更新。最后一次查看输出时发现 y = t，它什么也没改变，不算一次更新"),
        Mistake(_if_not_while, "you update at most once: one update does not always fix an example (each moves "
                               "its score by 2η‖x‖²). Keep applying the rule while y ≠ t (a while loop, not an if)",
                "你最多只更新了一次：一次更新并不总能改对一个样本（每次只让得分移动 2η‖x‖²）。"
                "只要 y ≠ t 就继续应用更新规则（用 while 循环，而不是 if）"),
        Mistake(_ignores_lr, "the number of updates did not change with the learning rate: pass lr on to the "
                             "update, Δw = lr·(t − y)·x",
                "更新次数没有随学习率变化：请把 lr 传给更新，Δw = lr·(t − y)·x"),
        Mistake(_sign_ties, "a score of exactly 0 counts as y = +1 in this chapter, but torch.sign(0) is 0, so "
                            "your loop goes on. Use predict() from the chapter, or torch.where(score >= 0, 1, -1)",
                "本章把得分恰好为 0 算作 y = +1，而 torch.sign(0) 是 0，所以你的循环还在继续。"
                "请使用本章的 predict()，或 torch.where(score >= 0, 1, -1)"),
        Mistake(_update_first, "your loop updates before it looks: an example that is already right got an "
                               "update. Check y ≠ t before you update, not after",
                "你的循环先更新、后检查：一开始就对的样本也被更新了。先检查 y ≠ t 再更新，而不是更新之后再检查"),
        Mistake(_assumes_positive_target,
                "for a target of −1 your loop stops at once: it repairs negative scores only. Compare the output "
                "with t, and use t in the rule, Δw = η(t − y)x, instead of assuming the target is +1",
                "目标为 −1 时你的循环立刻就停了：它只修正负的得分。请把输出与 t 比较，"
                "并在规则中使用 t，Δw = η(t − y)x，而不要默认目标是 +1"),
    ],
    note=("A wrong example is not fixed by one update in general: each adds 2η‖x‖² to its score.",
          "一般来说，一次更新并不能改对一个错分的样本：每次更新只让它的得分增加 2η‖x‖²。")),
    hint="Start a counter at 0; repeat while the output is not the target, updating w with the chapter's rule.",
    reference=_steps_to_fix, title_zh="把一个样本改对需要几次更新",
    hint_zh="计数器从 0 开始；只要输出不等于目标就重复，并用本章的规则更新 w。")


# q2 · features that make XOR separable ------------------------------------------------------

_XOR_INPUTS = T([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_XOR_TARGETS = T([-1.0, 1.0, 1.0, -1.0])


def _xor_features(X):
    return torch.cat([X, X[:, :1] * X[:, 1:]], dim=1)


def _check_xor_features(fn):
    features = as_tensor(call(fn, _XOR_INPUTS.clone(), name="xor_features"), "xor_features",
                         what="the features", what_zh="特征")
    require(features.ndim == 2 and features.shape[0] == 4,
            f"return one row of features per input row, shape (4, k) for the 4 XOR inputs; yours has shape "
            f"{tuple(features.shape)}. Stack columns side by side with torch.cat([...], dim=1)",
            zh=f"每个输入行返回一行特征，对 4 个 XOR 输入形状应为 (4, k)；你的形状是 "
               f"{tuple(features.shape)}。用 torch.cat([...], dim=1) 把各列并排拼起来")
    as_tensor(features, "xor_features", floating=True, what="the features", what_zh="特征")
    require(bool(torch.isfinite(features).all()), "some features are inf or NaN: avoid dividing by x₁ or x₂, which can be 0",
            zh="有些特征是 inf 或 NaN：不要除以 x₁ 或 x₂，它们可能为 0")
    order = T([3, 1, 0, 2]).long()
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
            "0 and 1, x₁² is x₁ again): on such features the perceptron's boundary is still a straight line in "
            "the (x₁, x₂) plane, and no straight line separates XOR. Add a column that is not linear in x₁ and x₂",
            zh="你返回的每一列都是 1、x₁ 和 x₂ 的线性组合（比如 x₁ + x₂ 或 2x₁；在取值为 0 和 1 "
               "的输入上，x₁² 仍是 x₁）：在这样的特征上，感知机的决策边界在 (x₁, x₂) 平面中"
               "仍是一条直线，而没有直线能把 XOR 分开。请加入一个对 x₁ 和 x₂ 非线性的列")
    _, mistakes = train_perceptron(with_bias(features), _XOR_TARGETS, max_epochs=100)
    require(mistakes[-1] == 0,
            f"after 100 epochs on your features the perceptron still made {mistakes[-1]} mistakes per epoch: "
            "XOR is not linearly separable in them. Keep x₁ and x₂ as columns, and make the new column tell "
            "(0, 0) and (1, 1) apart from the two mixed inputs",
            zh=f"在你的特征上训练 100 个轮次后，感知机每个轮次仍会犯 {mistakes[-1]} 个错误："
               "XOR 在这些特征上不是线性可分的。保留 x₁ 和 x₂ 这两列，并让新的一列"
               "把 (0, 0)、(1, 1) 与两个混合输入区分开")
    return say(f"The perceptron converged in {len(mistakes)} epochs. A hand-made feature such as x₁·x₂ is what a "
               "hidden layer learns for itself in chapter 03.",
               f"感知机在 {len(mistakes)} 个轮次内收敛了。像 x₁·x₂ 这样手工构造的特征，"
               "正是第 03 章中隐藏层自己学到的东西。")


q2 = Question("q2", "features that make XOR separable", chapter=CHAPTER, checker=_check_xor_features,
              hint="Which single number, computed from x₁ and x₂, is different for (1, 1) than for the other "
                   "three inputs, and is not a weighted sum of x₁ and x₂?",
              reference=_xor_features, title_zh="让异或线性可分的特征",
              hint_zh="哪一个由 x₁ 和 x₂ 算出的数，对 (1, 1) 与对其余三个输入不同，而且不是 x₁ 和 x₂ 的加权和？")


# q3 · the batch perceptron update -----------------------------------------------------------

def _batch_update(X, t, w, lr):
    y = predict(X, w)
    return w + lr * (t - y) @ X


def _online_epoch(X, t, w, lr):
    for x, target in zip(X, t):
        w = perceptron_update(w, x, target, lr)
    return w


def _new_weights(out, name):
    out = as_tensor(out, name, what="the new weights", what_zh="新的权重")
    require(out.ndim != 2, f"you returned shape {tuple(out.shape)}, one row per example: those are the separate "
                           "changes. Add them up over the examples to get one new weight vector",
            zh=f"你返回的形状是 {tuple(out.shape)}，每个样本一行：这些是各个样本各自的改变量。"
               "把它们对所有样本加起来，得到一个新的权重向量")
    return out


def _batch(seed: int, n: int, d: int, hidden: bool = False) -> Case:
    X = with_bias(_seeded(seed, n, d))
    t = torch.where(_seeded(seed + 10, n) >= 0, 1.0, -1.0)
    return Case(X, t, _seeded(seed + 20, d + 1), 0.25 * (1 + seed % 3), hidden=hidden)


#: Five examples (bias column first); at w, examples 2, 3 and 4 (counting from 1) are wrong, and example
#: 4 scores exactly 0 (so y = +1) with t = −1: the tie tells predict() from torch.sign.
_TIE = Case(with_bias(T([[2.0, 1.0], [1.0, -1.0], [-1.0, 2.0], [1.0, 0.0], [-2.0, -1.0]])),
            T([1.0, 1.0, -1.0, -1.0, -1.0]), T([-0.5, 0.5, 1.0]), 0.5,
            note="example 4 scores exactly 0", note_zh="第 4 个样本的得分恰好为 0")

q3 = Question("q3", "the batch perceptron update", chapter=CHAPTER, checker=function_checker(
    "batch_update", _batch_update, convert=_new_weights,
    cases=[_TIE, _batch(1, 6, 2), _batch(2, 9, 3), _batch(3, 7, 4, hidden=True)],
    mistakes=[
        Mistake(_online_epoch, "you updated w after each example in turn (the online rule). In the batch rule "
                               "every output y comes from the same starting w; add all the changes at once",
                "你是逐个样本依次更新 w 的（在线规则）。批量规则中每个输出 y 都来自同一个起始 w；"
                "把所有改变量一次性加上"),
        Mistake(lambda X, t, w, lr: w + lr * t @ X,
                "you added η·t·x for every example, including those already right: multiply by (t − y), which "
                "is 0 where the output is right",
                "你对每个样本都加上了 η·t·x，包括已经分对的样本：要乘以 (t − y)，输出正确时它为 0"),
        Mistake(lambda X, t, w, lr: w + lr * (predict(X, w) - t) @ X,
                "the sign is flipped: Δw = η(t − y)x, the target minus the output",
                "符号反了：Δw = η(t − y)x，是目标减去输出"),
        Mistake(lambda X, t, w, lr: w + (t - predict(X, w)) @ X,
                "the change is not scaled by the learning rate: multiply by lr",
                "改变量没有乘以学习率：请乘以 lr"),
        Mistake(lambda X, t, w, lr: w + lr * ((t - predict(X, w)) @ X) / len(X),
                "you averaged the changes over the examples; the batch rule adds them up (a sum, not a mean)",
                "你把改变量对样本取了平均；批量规则是把它们加起来（求和，而不是求平均）"),
        Mistake(lambda X, t, w, lr: w + lr * (t - torch.sign(X @ w)) @ X,
                "a score of exactly 0 counts as y = +1 here, and torch.sign gives 0 there: use predict(X, w) "
                "from the chapter",
                "得分恰好为 0 时在这里算作 y = +1，而 torch.sign 在那里给出 0：请使用本章的 predict(X, w)"),
        Mistake(lambda X, t, w, lr: w.clone(), "w came back unchanged, although some examples are misclassified",
                "w 原样返回了，但有些样本被分错了"),
    ],
    note=("This is gradient descent on the perceptron criterion, the sum of −t·(w·x) over the misclassified "
          "examples: chapter 04 makes that idea general.",
          "这就是对感知机准则（所有错分样本上 −t·(w·x) 之和）做梯度下降：第 04 章会把这个思路推广开来。")),
    hint="Compute every output with the same w in one call, then turn the per-example changes into one sum "
         "with a single matrix product.",
    reference=_batch_update, title_zh="批量感知机更新",
    hint_zh="用同一个 w 一次算出所有输出，再用一次矩阵乘法把每个样本的改变量加成一个和。")
