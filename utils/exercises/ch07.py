"""Chapter 07 (normalisation) exercises: batch norm in train mode, batch norm in eval mode,
the running-statistics update, and standardising with the training set's statistics."""
import torch

from utils.exercises import Question, Wrong, call, close, gap, require, say

EPS = 1e-5
OUTSIDE = ("eps sits outside the square root: PyTorch divides by sqrt(var + eps), not sqrt(var) + eps; "
           "the two differ for features with a small variance")
OUTSIDE_ZH = ("eps 放在了平方根外面：PyTorch 除以的是 sqrt(var + eps)，而不是 sqrt(var) + eps；"
              "对方差很小的特征，两者并不相同")


def _pair(out, name, what, what_zh):
    require(isinstance(out, (tuple, list)) and len(out) == 2,
            f"{name} should return two things, {what}; got {type(out).__name__}",
            zh=f"{name} 应当返回两样东西：{what_zh}；得到的是 {type(out).__name__}")
    require(all(torch.is_tensor(part) for part in out), f"{name} should return two tensors, {what}",
            zh=f"{name} 应当返回两个张量：{what_zh}")
    return out


def _features(seed, n, scales, shifts, *, dtype=torch.float32):
    """A batch [n, C] whose features have very different scales and means."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, len(scales), generator=generator, dtype=torch.float64)
    return (noise * torch.tensor(scales, dtype=torch.float64) + torch.tensor(shifts, dtype=torch.float64)).to(dtype)


def _normalise(x, mean, var, gamma, beta, eps=EPS):
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


# q1: batch norm in train mode ------------------------------------------------------------------

def _batch_norm_train(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=0)
    var = x.var(dim=0, correction=0)  # biased: divide by N, as batch norm normalises
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


def _check_batch_norm_train(fn):
    x = _features(0, 8, [1.0, 10.0, 0.1], [0.0, 5.0, -2.0])
    gamma, beta = torch.tensor([1.5, 0.5, 2.0]), torch.tensor([0.1, -1.0, 0.3])
    out = call(fn, x, gamma, beta, name="batch_norm_train")
    require(torch.is_tensor(out), f"return a tensor, not a {type(out).__name__}",
            zh=f"请返回一个张量，而不是 {type(out).__name__}")
    require(out.shape == x.shape, f"the output has shape {tuple(out.shape)}, the input {tuple(x.shape)}: "
                                  "batch norm keeps the shape, one normalised value per input value",
            zh=f"输出的形状是 {tuple(out.shape)}，输入是 {tuple(x.shape)}：批归一化"
               "保持形状不变，每个输入值对应一个归一化后的值")
    constant = x.clone()
    constant[:, 1] = 3.0  # a feature that does not vary in this batch, like a blank corner pixel
    flat = call(fn, constant, gamma, beta, name="batch_norm_train")
    require(bool(torch.isfinite(flat).all()),
            "a feature that is constant in the batch gave NaN or inf: its variance is 0, so divide by "
            "sqrt(var + eps), with eps inside the square root",
            zh="在批次中恒定的特征得到了 NaN 或 inf：它的方差为 0，所以要除以 "
               "sqrt(var + eps)，把 eps 放在平方根里面")
    right = _normalise(x, x.mean(0), x.var(0, correction=0), gamma, beta)
    if close(out, _normalise(x, x.mean(0), x.var(0), gamma, beta), atol=1e-5):
        raise Wrong("you normalised with the unbiased variance (torch.var's default divides by N − 1). "
                    "Batch norm normalises with the biased one, dividing by N: x.var(dim=0, correction=0) "
                    "(or unbiased=False). Only the running variance is stored unbiased",
                    zh="你用无偏方差做了归一化（torch.var 默认除以 N − 1）。"
                       "批归一化用有偏方差归一化，即除以 N：x.var(dim=0, correction=0)"
                       "（或 unbiased=False）。只有滑动方差是按无偏方式存储的")
    if close(out, _normalise(x, x.mean(1, keepdim=True), x.var(1, correction=0, keepdim=True), gamma, beta),
             atol=1e-5):
        raise Wrong("you averaged over dim=1, each example's own features (that is layer norm). Batch norm "
                    "averages over the batch, dim=0: one mean and one variance per feature",
                    zh="你在 dim=1 上取平均，即每个样本自身的特征（那是层归一化）。批归一化"
                       "在批次维 dim=0 上取平均：每个特征一个均值、一个方差")
    if close(out, (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + EPS), atol=1e-5):
        raise Wrong("the output is normalised but γ and β are missing: return gamma * x_hat + beta, so the "
                    "network can undo the normalisation where that helps",
                    zh="输出归一化了，但缺少 γ 和 β：请返回 gamma * x_hat + beta，让"
                       "网络在有利时能够撤销归一化")
    if close(out, gamma * (x - x.mean(0)) / (x.var(0, correction=0).sqrt() + EPS) + beta, atol=1e-5):
        raise Wrong(OUTSIDE, zh=OUTSIDE_ZH)
    require(close(out, right, atol=1e-5), f"the values differ from batch norm's; largest gap {gap(out, right):.3g}. "
                                          "x_hat = (x − mean) / sqrt(var + eps) with the batch's mean and biased "
                                          "variance per feature, then gamma * x_hat + beta",
            zh=f"数值与批归一化的结果不同；最大差距 {gap(out, right):.3g}。"
               "x_hat = (x − mean) / sqrt(var + eps)，其中均值和有偏方差按每个特征在批次上计算，"
               "然后 gamma * x_hat + beta")
    wide = _features(1, 16, [1e-3, 1.0, 1e-2], [0.0, 0.0, 1.0])  # variances of 1e-6 and 1e-4: eps matters
    out, right = call(fn, wide, gamma, beta, name="batch_norm_train"), _batch_norm_train(wide, gamma, beta)
    if close(out, gamma * (wide - wide.mean(0)) / (wide.var(0, correction=0).sqrt() + EPS) + beta, atol=1e-4):
        raise Wrong(OUTSIDE, zh=OUTSIDE_ZH)
    require(close(out, right, atol=1e-4), f"right on ordinary features but not on features with a tiny variance "
                                          f"(largest gap {gap(out, right):.3g}): use sqrt(var + eps) with eps = {EPS:g}",
            zh=f"对普通特征正确，但对方差极小的特征不对"
               f"（最大差距 {gap(out, right):.3g}）：请用 sqrt(var + eps)，其中 eps = {EPS:g}")
    theirs = torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True, eps=EPS)
    require(close(call(fn, x, gamma, beta, name="batch_norm_train"), theirs, atol=1e-5),
            "values differ from torch.nn.functional.batch_norm in train mode",
            zh="数值与训练模式下的 torch.nn.functional.batch_norm 不同")
    return say("It matches torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True).",
               "与 torch.nn.functional.batch_norm(x, None, None, gamma, beta, training=True) 一致。")


q1 = Question("q1", "batch norm, train mode", _check_batch_norm_train, chapter="07",
              hint="Per feature (dim=0): mean, biased variance (correction=0), then "
                   "gamma * (x − mean) / sqrt(var + eps) + beta.",
              reference=_batch_norm_train, title_zh="批归一化：训练模式",
              hint_zh="按每个特征（dim=0）：求均值、有偏方差（correction=0），然后 "
                      "gamma * (x − mean) / sqrt(var + eps) + beta。")


# q2: batch norm in eval mode -------------------------------------------------------------------

def _batch_norm_eval(x, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma * (x - running_mean) / torch.sqrt(running_var + eps) + beta


def _check_batch_norm_eval(fn):
    x = _features(2, 6, [1.0, 3.0, 0.5], [1.0, -2.0, 0.0])
    gamma, beta = torch.tensor([1.5, 0.5, 2.0]), torch.tensor([0.1, -1.0, 0.3])
    mean, var = torch.tensor([0.5, -1.0, 0.2]), torch.tensor([2.0, 4.0, 1e-4])
    out = call(fn, x, gamma, beta, mean, var, name="batch_norm_eval")
    require(torch.is_tensor(out), f"return a tensor, not a {type(out).__name__}",
            zh=f"请返回一个张量，而不是 {type(out).__name__}")
    require(out.shape == x.shape, f"the output has shape {tuple(out.shape)}, the input {tuple(x.shape)}: "
                                  "batch norm keeps the shape",
            zh=f"输出的形状是 {tuple(out.shape)}，输入是 {tuple(x.shape)}：批归一化"
               "保持形状不变")
    right = _batch_norm_eval(x, gamma, beta, mean, var)
    for batch_var in (x.var(0, correction=0), x.var(0)):
        if close(out, _normalise(x, x.mean(0), batch_var, gamma, beta), atol=1e-4):
            raise Wrong("you normalised with the batch's own mean and variance, as in train mode. In eval "
                        "mode batch norm uses running_mean and running_var, so one example's output does "
                        "not depend on the other examples in its batch (and a batch of one works)",
                        zh="你用批次自身的均值和方差做了归一化，和训练模式一样。在评估"
                           "模式下，批归一化使用 running_mean 和 running_var，这样一个样本的输出"
                           "不依赖于同一批次中的其他样本（批大小为 1 也能工作）")
    if close(out, gamma * (x - mean) / (var + EPS) + beta, atol=1e-4):
        raise Wrong("you divided by the variance; divide by the standard deviation, sqrt(running_var + eps)",
                    zh="你除以了方差；应除以标准差，sqrt(running_var + eps)")
    if close(out, _normalise(x, mean, var, gamma, beta, eps=0.0), atol=1e-4):
        raise Wrong("eps is missing: divide by sqrt(running_var + eps), exactly as in train mode. It matters "
                    "here for the third feature, whose running variance is only 1e-4",
                    zh="缺少 eps：和训练模式一样，除以 sqrt(running_var + eps)。这里第三个特征的"
                       "滑动方差只有 1e-4，eps 的影响不可忽略")
    if close(out, (x - mean) / torch.sqrt(var + EPS), atol=1e-4):
        raise Wrong("γ and β are missing: return gamma * x_hat + beta, as in train mode",
                    zh="缺少 γ 和 β：和训练模式一样，返回 gamma * x_hat + beta")
    require(close(out, right, atol=1e-4),
            f"values differ; largest gap {gap(out, right):.3g}. Use gamma * (x − running_mean) / "
            "sqrt(running_var + eps) + beta",
            zh=f"数值不同；最大差距 {gap(out, right):.3g}。请用 gamma * (x − running_mean) / "
               "sqrt(running_var + eps) + beta")
    single = call(fn, x[:1], gamma, beta, mean, var, name="batch_norm_eval")
    require(close(single, right[:1], atol=1e-4),
            "a batch of one example gives a different answer from the same example inside a batch: in eval "
            "mode each example is normalised on its own, with the running statistics",
            zh="只含一个样本的批次，与同一样本在大批次中给出的结果不同：在评估"
               "模式下，每个样本都用滑动统计量单独归一化")
    layer = torch.nn.BatchNorm1d(3, eps=EPS).eval()
    with torch.no_grad():
        layer.weight.copy_(gamma), layer.bias.copy_(beta)
        layer.running_mean.copy_(mean), layer.running_var.copy_(var)
        require(close(out, layer(x), atol=1e-4), "values differ from nn.BatchNorm1d in eval mode",
                zh="数值与评估模式下的 nn.BatchNorm1d 不同")
    return say("It matches nn.BatchNorm1d in eval() mode.", "与 eval() 模式下的 nn.BatchNorm1d 一致。")


q2 = Question("q2", "batch norm, eval mode", _check_batch_norm_eval, chapter="07",
              hint="No batch statistics at all: gamma * (x − running_mean) / sqrt(running_var + eps) + beta.",
              reference=_batch_norm_eval, title_zh="批归一化：评估模式",
              hint_zh="完全不用批次统计量：gamma * (x − running_mean) / sqrt(running_var + eps) + beta。")


# q3: the running statistics --------------------------------------------------------------------

def _update_running_stats(running_mean, running_var, x, momentum=0.1):
    n = x.shape[0]
    new_mean = (1 - momentum) * running_mean + momentum * x.mean(dim=0)
    new_var = (1 - momentum) * running_var + momentum * x.var(dim=0, correction=0) * n / (n - 1)
    return new_mean, new_var


def _check_update_running_stats(fn):
    x = _features(3, 5, [1.0, 2.0, 0.5, 4.0], [3.0, -1.0, 0.0, 10.0])
    mean, var = torch.tensor([0.5, -0.5, 0.2, 8.0]), torch.tensor([1.0, 2.0, 0.5, 9.0])
    try:
        out = call(fn, mean, var, x, 0.1, name="update_running_stats")
    except Wrong as wrong:
        if "in place" in str(wrong) and "argument 3" not in str(wrong):
            raise Wrong("you changed the old running statistics in place (running_mean.mul_(...), +=, or "
                        "copy_). Return new tensors and leave the inputs as they were: the caller decides "
                        "where the new values go (a module stores them in its buffers). Write "
                        "new_mean = (1 - momentum) * running_mean + ...",
                        zh="你原地修改了旧的滑动统计量（running_mean.mul_(...)、+= 或 "
                           "copy_）。请返回新的张量，保持输入原样：新值放到哪里由调用者决定"
                           "（模块会把它们存进自己的缓冲区）。写成 "
                           "new_mean = (1 - momentum) * running_mean + ...") from None
        raise
    out = _pair(out, "update_running_stats",
                "the new running mean and the new running variance: `return new_mean, new_var`",
                "新的滑动均值和新的滑动方差（`return new_mean, new_var`）")
    new_mean, new_var = out
    require(new_mean.shape == mean.shape and new_var.shape == var.shape,
            f"shapes {tuple(new_mean.shape)} and {tuple(new_var.shape)}, expected {tuple(mean.shape)} for both: "
            "one running mean and one running variance per feature (average over dim=0)",
            zh=f"形状是 {tuple(new_mean.shape)} 和 {tuple(new_var.shape)}，两者都应为 {tuple(mean.shape)}："
               "每个特征一个滑动均值和一个滑动方差（在 dim=0 上取平均）")
    batch_mean, unbiased = x.mean(0), x.var(0)
    if close(new_mean, 0.9 * batch_mean + 0.1 * mean):
        raise Wrong("the weights are swapped: in PyTorch momentum is the weight of the NEW batch, "
                    "new = (1 − momentum)·old + momentum·batch = 0.9·old + 0.1·batch. Weighting the old value "
                    "by the momentum is the Keras/TensorFlow convention (there momentum=0.99 means 0.99·old)",
                    zh="权重弄反了：在 PyTorch 中 momentum 是新批次的权重，"
                       "new = (1 − momentum)·old + momentum·batch = 0.9·old + 0.1·batch。用 momentum 给旧值"
                       "加权是 Keras/TensorFlow 的约定（那里 momentum=0.99 表示 0.99·old）")
    right_mean = 0.9 * mean + 0.1 * batch_mean
    require(close(new_mean, right_mean),
            f"the running mean should be 0.9·old + 0.1·batch mean; largest gap {gap(new_mean, right_mean):.3g}",
            zh=f"滑动均值应为 0.9·old + 0.1·批次均值；最大差距 {gap(new_mean, right_mean):.3g}")
    if close(new_var, 0.9 * var + 0.1 * x.var(0, correction=0)):
        raise Wrong("the running variance uses the biased batch variance (divide by N). PyTorch stores the "
                    "unbiased one (divide by N − 1) in running_var, although it normalises with the biased one: "
                    "x.var(dim=0), or the biased one times N / (N − 1)",
                    zh="滑动方差用了有偏的批次方差（除以 N）。PyTorch 在 running_var 中存储的是"
                       "无偏方差（除以 N − 1），尽管它用有偏方差做归一化："
                       "x.var(dim=0)，或有偏方差乘以 N / (N − 1)")
    if close(new_var, 0.9 * unbiased + 0.1 * var):
        raise Wrong("the running variance weights are swapped: 0.9·old + 0.1·batch variance",
                    zh="滑动方差的权重弄反了：0.9·old + 0.1·批次方差")
    right_var = 0.9 * var + 0.1 * unbiased
    require(close(new_var, right_var),
            f"the running variance should be 0.9·old + 0.1·(unbiased batch variance); largest gap "
            f"{gap(new_var, right_var):.3g}",
            zh=f"滑动方差应为 0.9·old + 0.1·（无偏批次方差）；最大差距 "
               f"{gap(new_var, right_var):.3g}")
    slow = call(fn, mean, var, x, 0.01, name="update_running_stats")
    require(close(slow[0], 0.99 * mean + 0.01 * batch_mean),
            "with momentum=0.01 the result should change: use the momentum argument, do not hard-code 0.1",
            zh="momentum=0.01 时结果应当变化：请使用 momentum 参数，不要写死 0.1")
    layer = torch.nn.BatchNorm1d(4, momentum=0.1)
    with torch.no_grad():
        layer.running_mean.copy_(mean), layer.running_var.copy_(var)
        layer(x)
    require(close(new_mean, layer.running_mean, atol=1e-5) and close(new_var, layer.running_var, atol=1e-5),
            "values differ from what nn.BatchNorm1d stores after one training step",
            zh="数值与 nn.BatchNorm1d 训练一步后存储的值不同")
    return say("It matches nn.BatchNorm1d's running_mean and running_var after one step.",
               "与 nn.BatchNorm1d 训练一步后的 running_mean 和 running_var 一致。")


q3 = Question("q3", "the running statistics", _check_update_running_stats, chapter="07",
              hint="new = (1 − momentum)·old + momentum·batch for both; the batch variance here is the "
                   "unbiased one, x.var(dim=0). Return new tensors, do not change the old ones.",
              reference=_update_running_stats, title_zh="滑动统计量",
              hint_zh="两者都用 new = (1 − momentum)·old + momentum·batch；这里的批次方差是无偏方差 x.var(dim=0)。"
                      "返回新的张量，不要修改旧的。")


# q4: standardise with the training statistics ---------------------------------------------------

def _standardize_with_train(train_X, test_X):
    mean, std = train_X.mean(dim=0), train_X.std(dim=0)
    return (train_X - mean) / std, (test_X - mean) / std


def _check_standardize_with_train(fn):
    train = _features(4, 12, [1.0, 10.0, 0.2], [0.0, 50.0, -3.0], dtype=torch.float64)
    test = _features(5, 6, [2.0, 10.0, 0.2], [1.0, 60.0, -3.0], dtype=torch.float64)  # drifted
    out = _pair(call(fn, train, test, name="standardize_with_train"), "standardize_with_train",
                "the standardised training set and the standardised test set",
                "标准化后的训练集和标准化后的测试集")
    train_z, test_z = out
    require(train_z.shape == train.shape and test_z.shape == test.shape,
            f"shapes {tuple(train_z.shape)} and {tuple(test_z.shape)}, expected {tuple(train.shape)} and "
            f"{tuple(test.shape)}: standardising keeps the shape",
            zh=f"形状是 {tuple(train_z.shape)} 和 {tuple(test_z.shape)}，应为 {tuple(train.shape)} 和 "
               f"{tuple(test.shape)}：标准化保持形状不变")
    if close(train_z, (train - train.mean(1, keepdim=True)) / train.std(1, keepdim=True), atol=1e-6):
        raise Wrong("you standardised each example (dim=1); standardise each feature, over the examples (dim=0)",
                    zh="你对每个样本做了标准化（dim=1）；应对每个特征在所有样本上做标准化（dim=0）")
    mean = train.mean(0)
    answers = [(train - mean) / train.std(0, correction=c) for c in (0, 1)]
    both = torch.cat([train, test])
    if any(close(train_z, (train - both.mean(0)) / both.std(0, correction=c), atol=1e-6) for c in (0, 1)):
        raise Wrong("you computed the mean and std on the training and test sets together. That leaks the test "
                    "set into the preprocessing: the statistics must come from the training set alone",
                    zh="你在训练集和测试集合在一起的数据上计算了均值和标准差。这会把测试集的信息"
                       "泄露到预处理中：统计量必须只来自训练集")
    require(any(close(train_z, a, atol=1e-6) for a in answers),
            "the training set is not standardised: each feature should have mean 0 and std 1 after "
            "(x − train mean) / train std",
            zh="训练集没有标准化：经过 (x − 训练集均值) / 训练集标准差 之后，"
               "每个特征的均值应为 0、标准差应为 1")
    if any(close(test_z, (test - test.mean(0)) / test.std(0, correction=c), atol=1e-6) for c in (0, 1)):
        raise Wrong("the test set was standardised with its own mean and std. That leaks test-set information "
                    "into the preprocessing, hides any drift between the sets, and feeds the model numbers it "
                    "was not trained on: use the TRAINING mean and std for every set",
                    zh="测试集用它自己的均值和标准差做了标准化。这会把测试集的信息泄露到预处理中，"
                       "掩盖两个数据集之间的任何漂移，并且喂给模型的数值和它训练时见到的不一样："
                       "所有数据集都要用训练集的均值和标准差")
    std = next(train.std(0, correction=c) for c, a in zip((0, 1), answers) if close(train_z, a, atol=1e-6))
    right = (test - mean) / std
    require(close(test_z, right, atol=1e-6),
            f"the test set should be (test − train mean) / train std; largest gap {gap(test_z, right):.3g}",
            zh=f"测试集应为 (test − 训练集均值) / 训练集标准差；最大差距 {gap(test_z, right):.3g}")
    return say("Note the test set's means are not 0: that is the drift, kept visible, as it should be.",
               "注意测试集的均值不是 0：这就是数据漂移，它被如实保留了下来，本就应该如此。")


q4 = Question("q4", "standardise with the training statistics", _check_standardize_with_train, chapter="07",
              hint="Compute mean and std of train_X over dim=0 once, then apply the same (x − mean) / std "
                   "to both sets.",
              reference=_standardize_with_train, title_zh="用训练集的统计量做标准化",
              hint_zh="在 dim=0 上只计算一次 train_X 的均值和标准差，然后对两个数据集"
                      "都做同样的 (x − mean) / std。")
