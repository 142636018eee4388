"""Chapter 02 (the perceptron) exercises: how many updates one example needs, worked out without
running the rule; features that make XOR separable; and the batch (vectorised) perceptron update."""
from __future__ import annotations

import math

import torch

from utils.exercises import (Case, Mistake, Question, Wrong, as_number, as_tensor, call, close, function_checker,
                             require, say)
from utils.perceptron import perceptron_update, predict, train_perceptron, with_bias

CHAPTER = "02"
T = torch.tensor


def _seeded(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).round(decimals=1)


# q1 · how many updates, worked out without running the rule ----------------------------------

def _updates_needed(x, w, t, lr):
    score = (x @ w).item()
    step = 2 * lr * (x @ x).item()  # how far one update moves the score towards t
    if t > 0:  # a score of exactly 0 already gives +1
        return 0 if score >= 0 else math.ceil(-score / step)
    return 0 if score < 0 else math.floor(score / step) + 1  # −1 needs a score below 0


def _score_and_step(x, w, lr):  # as the reference computes them
    return (x @ w).item(), 2 * lr * (x @ x).item()


def _round_up_for_both(x, w, t, lr):  # reaching 0 counted as enough for either target
    score, step = _score_and_step(x, w, lr)
    return 0 if predict(x, w) == t else math.ceil(abs(score) / step)


def _one_past_for_both(x, w, t, lr):  # crossing 0 demanded for either target
    score, step = _score_and_step(x, w, lr)
    return 0 if predict(x, w) == t else math.floor(abs(score) / step) + 1


def _rounds_to_nearest(x, w, t, lr):
    score, step = _score_and_step(x, w, lr)
    return 0 if predict(x, w) == t else round(abs(score) / step)


def _step_without_two(x, w, t, lr):
    return _updates_needed(x, w, t, lr / 2)


def _length_not_squared(x, w, t, lr):
    return _updates_needed(x, w, t, lr * x.norm().item() / (x @ x).item())


def _ignores_lr(x, w, t, lr):
    return _updates_needed(x, w, t, 1.0)


def _assumes_positive_target(x, w, t, lr):
    return _updates_needed(x, w, 1.0, lr)


def _whole_number(out, name):
    if torch.is_tensor(out):
        require(out.numel() == 1, f"{name} should return the number of updates, one whole number; it returned a "
                                  f"tensor of shape {tuple(out.shape)}. Are those the weights? The answer is a "
                                  "count: how many times the rule would have to be applied",
                zh=f"{name} 应当返回更新次数，一个整数；它返回的是形状为 {tuple(out.shape)} 的张量。"
                   "那是权重吗？答案是一个次数：更新规则需要应用多少次")
    count = as_number(out, name, integer=True, what="the number of updates", what_zh="更新次数")
    require(count >= 0, f"{name} returned {count}, a negative number of updates. A count is 0 or more, and 0 "
                        "when the output is already right: look at y before you work out how far the score must go",
            zh=f"{name} 返回了 {count}，更新次数不可能为负。次数是 0 或正数，输出已经正确时为 0："
               "先看 y，再计算得分还要走多远")
    return count


#: An example that needs about 10¹² updates: only a formula answers in time. float64, so that the
#: count is exact (float32 holds whole numbers exactly only up to 2²⁴).
_FAR = (T([1.0, 1.0], dtype=torch.float64), T([-(2.0 ** 40 + 0.5), 0.0], dtype=torch.float64), 1.0, 0.25)
_FAR_LIMIT = 2.0  # seconds


def _predicts_far_ahead(fn):
    x, w, t, lr = _FAR
    try:
        count = _whole_number(call(fn, x.clone(), w.clone(), t, lr, name="updates_needed", limit=_FAR_LIMIT),
                              "updates_needed")
    except Wrong as wrong:
        require("still running" not in wrong.en,
                f"updates_needed is right on the small examples, but on one that needs about 10¹² updates it was "
                f"still running after {_FAR_LIMIT:g} s, so the check stopped it: at a million updates a second "
                "that run would take nearly two weeks. Do not apply the rule (or simulate the score) update by update: "
                "work the count out from how far the score has to go and how far each update moves it",
                zh=f"updates_needed 在小例子上是对的，但在一个需要约 10¹² 次更新的样本上，{_FAR_LIMIT:g} 秒后"
                   "它仍在运行，检查把它停了下来：按每秒一百万次更新计算，要跑将近两个星期。不要一次次地应用"
                   "更新规则（或模拟得分的变化）：根据得分还要走多远、每次更新让它走多远，直接算出次数")
        raise
    require(count == _updates_needed(x, w, t, lr),
            "updates_needed is right on the small examples, but wrong on one that needs about 10¹² updates, "
            "given in float64. Keep the input's dtype (no .float(), and no new float32 tensor made from the score): "
            "float32 holds whole numbers exactly only up to 2²⁴ ≈ 1.7 × 10⁷",
            zh="updates_needed 在小例子上是对的，但在一个以 float64 给出、需要约 10¹² 次更新的样本上出错了。"
               "请保持输入的数据类型（不要 .float()，也不要用得分新建 float32 张量）："
               "float32 只能精确表示不超过 2²⁴ ≈ 1.7 × 10⁷ 的整数")
    return say("Each update moves the example's score by the same 2η‖x‖², so the count is a division rounded "
               "the right way, and the tie decides which way for each target.",
               "每次更新都让样本的得分移动同样的 2η‖x‖²，所以次数就是一次除法再按正确的方向取整，"
               "而得分恰好为 0 时的约定决定了每个目标值该往哪个方向取整。")


def _wrong_at_start(seed: int, t: float, hidden: bool = False) -> Case:
    """A seeded example that the starting weights get wrong for target t, needing several updates."""
    x, w = _seeded(seed, 4), 3 * _seeded(seed + 50, 4)
    if predict(x, w).item() == t:
        w = -w
    return Case(x, w, t, 0.1, hidden=hidden)


_WORKED = Case(T([1.0, 0.0, -1.0]), T([-5.0, 0.0, 0.0]), 1.0, 1.0, note="the chapter's worked example",
               note_zh="本章的例题")

q1 = Question("q1", "how many updates, without running the rule", chapter=CHAPTER, checker=function_checker(
    "updates_needed", _updates_needed, convert=_whole_number,
    cases=[
        _WORKED,
        Case(T([1.0, 0.0, -1.0]), T([-5.0, 0.0, 0.0]), 1.0, 0.5, note="a smaller learning rate",
             note_zh="更小的学习率"),
        Case(T([1.0, 1.0]), T([5.0, 3.0]), 1.0, 0.25, note="already right", note_zh="一开始就是对的"),
        Case(T([1.0, 2.0]), T([1.0, -3.0]), -1.0, 0.5, note="already right, target −1",
             note_zh="一开始就是对的，目标为 −1"),
        Case(T([1.0, 2.0]), T([3.0, 1.0]), -1.0, 1.0, note="a target of −1", note_zh="目标为 −1"),
        Case(T([1.0, 1.0]), T([-4.0, 0.0]), 1.0, 1.0, note="a score that climbs to exactly 0",
             note_zh="得分恰好升到 0"),
        Case(T([1.0, 1.0]), T([4.0, 0.0]), -1.0, 1.0, note="a score that falls to exactly 0",
             note_zh="得分恰好降到 0"),
        Case(T([1.0, 2.0]), T([2.0, -1.0]), -1.0, 0.5, note="a score of exactly 0 at the start, target −1",
             note_zh="一开始得分恰好为 0，目标为 −1"),
        _wrong_at_start(6, 1.0), _wrong_at_start(7, -1.0), _wrong_at_start(8, 1.0),
        _wrong_at_start(10, -1.0, hidden=True),
    ],
    mistakes=[
        Mistake(_round_up_for_both,
                "for a target of −1, a score that falls to exactly 0 is not yet right: 0 counts as +1 (chapter 01's "
                "convention), so a −1 needs the score strictly below 0, one update more than reaching 0",
                "目标为 −1 时，得分恰好降到 0 还不算对：0 算作 +1（第 01 章的约定），所以 −1 需要得分严格小于 0，"
                "比恰好到达 0 多一次更新"),
        Mistake(_one_past_for_both,
                "for a target of +1, a score that climbs to exactly 0 is already right: 0 counts as +1 (chapter 01's "
                "convention), so no update is needed beyond reaching 0",
                "目标为 +1 时，得分恰好升到 0 就已经对了：0 算作 +1（第 01 章的约定），到达 0 之后不再需要更新"),
        Mistake(_rounds_to_nearest,
                "round() goes to the nearest whole number, which can stop one update short of the boundary. The "
                "count is the smallest whole k that gets the score to the target's side: round up, never to nearest",
                "round() 取最接近的整数，可能离边界还差一次更新。次数是让得分到达目标一侧的最小整数 k："
                "要向上取整，而不是四舍五入"),
        Mistake(_step_without_two,
                "one update moves the score by 2η‖x‖², not η‖x‖²: on a mistake t − y is ±2, so Δw = ±2ηx",
                "一次更新让得分移动 2η‖x‖²，而不是 η‖x‖²：出错时 t − y 是 ±2，所以 Δw = ±2ηx"),
        Mistake(_length_not_squared,
                "one update moves the score by 2η‖x‖², the squared length x·x (Δw·x = 2η x·x), not the length ‖x‖",
                "一次更新让得分移动 2η‖x‖²，即长度的平方 x·x（Δw·x = 2η x·x），而不是长度 ‖x‖"),
        Mistake(_ignores_lr, "the count did not change with the learning rate: each update moves the score by "
                             "2η‖x‖², so η belongs in the step",
                "次数没有随学习率变化：每次更新让得分移动 2η‖x‖²，所以步长里要有 η"),
        Mistake(_assumes_positive_target,
                "for a target of −1 your count is wrong: it treats every target as +1. For t = −1 the score must "
                "fall below 0, moving down by 2η‖x‖² per update",
                "目标为 −1 时你的次数不对：它把每个目标都当成了 +1。t = −1 时得分必须降到 0 以下，"
                "每次更新下降 2η‖x‖²"),
    ],
    then=_predicts_far_ahead),
    hint="After k updates the score is w·x + 2kη‖x‖² for t = +1, and w·x − 2kη‖x‖² for t = −1. For each target, "
         "write when the output is right after k updates, and find the smallest whole k that meets it "
         "(math.ceil and math.floor round up and down).",
    reference=_updates_needed, title_zh="不运行规则，算出需要几次更新",
    hint_zh="k 次更新之后，t = +1 时得分是 w·x + 2kη‖x‖²，t = −1 时是 w·x − 2kη‖x‖²。对每个目标值，"
            "写出 k 次更新后输出正确的条件，再找出满足它的最小整数 k（math.ceil 向上取整，math.floor 向下取整）。")


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
    hint="Write the new value of one weight first: w_j + η Σᵢ (tᵢ − yᵢ) X[i, j], with every yᵢ from the same w. "
         "Which product of a vector and a matrix computes that sum for every j at once?",
    reference=_batch_update, title_zh="批量感知机更新",
    hint_zh="先写出一个权重的新值：w_j + η Σᵢ (tᵢ − yᵢ) X[i, j]，其中每个 yᵢ 都来自同一个 w。"
            "哪一个向量与矩阵的乘积能一次算出所有 j 的这个和？")
