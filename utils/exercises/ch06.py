"""Chapter 06 (optimisers and schedules) exercises: Nesterov momentum, Adam's bias correction,
warm-up then cosine, and early stopping."""
import math
import numbers

import torch

from utils.exercises import Question, Wrong, call, close, gap, require, say


def _pair(out, name, what, what_zh):
    require(isinstance(out, (tuple, list)) and len(out) == 2,
            f"{name} should return two things, {what}; got {type(out).__name__}",
            zh=f"{name} 应当返回两样东西：{what_zh}；得到的是 {type(out).__name__}")
    return out


# q1: Nesterov momentum -----------------------------------------------------------------------

def _nesterov_update(w, g, v, lr, mu):
    v = mu * v + g
    return w - lr * (g + mu * v), v


def _torch_nesterov_path(w0, lr, mu, steps, curvature):
    w = w0.clone().requires_grad_()
    optimizer = torch.optim.SGD([w], lr=lr, momentum=mu, nesterov=True)
    path = []
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * curvature * w**2).sum().backward()
        optimizer.step()
        path.append(w.detach().clone())
    return torch.stack(path)


def _check_nesterov_update(fn):
    w, g = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 1.0, -1.0])
    v = torch.tensor([0.2, -0.4, 0.1])
    lr, mu = 0.1, 0.9
    out = _pair(call(fn, w, g, v, lr, mu, name="nesterov_update"), "nesterov_update",
                "the new weights and the new velocity: `return w_new, v_new`",
                "新的权重和新的速度（`return w_new, v_new`）")
    w_new, v_new = out
    require(torch.is_tensor(w_new) and torch.is_tensor(v_new),
            "return tensors (w_new, v_new), not Python numbers or lists",
            zh="请返回张量 (w_new, v_new)，而不是 Python 数或列表")
    require(w_new.shape == w.shape and v_new.shape == v.shape,
            f"shapes changed: w {tuple(w.shape)} → {tuple(w_new.shape)}, v {tuple(v.shape)} → "
            f"{tuple(v_new.shape)}; an update acts element by element",
            zh=f"形状变了：w {tuple(w.shape)} → {tuple(w_new.shape)}，v {tuple(v.shape)} → "
               f"{tuple(v_new.shape)}；更新是逐元素进行的")
    right_v = mu * v + g
    if close(v_new, mu * v + (1 - mu) * g):
        raise Wrong("your velocity is the exponential average v = μv + (1 − μ)g (the form in Andrew Ng's "
                    "notes). PyTorch's buffer is v = μv + g, without the (1 − μ): the two differ by a factor "
                    "1/(1 − μ) in the effective learning rate",
                    zh="你的速度是指数平均 v = μv + (1 − μ)g（吴恩达课程笔记中的形式）。"
                       "PyTorch 的缓冲区是 v = μv + g，没有 (1 − μ)：两者的有效学习率相差 "
                       "1/(1 − μ) 倍")
    require(close(v_new, right_v), f"the new velocity should be v = μ·v + g; largest gap {gap(v_new, right_v):.3g}",
            zh=f"新的速度应为 v = μ·v + g；最大差距 {gap(v_new, right_v):.3g}")
    if close(w_new, w - lr * right_v):
        raise Wrong("that is heavy-ball momentum (w − lr·v). Nesterov looks ahead: step along g + μ·v_new, "
                    "the gradient plus the velocity's next push",
                    zh="这是重球动量（w − lr·v）。Nesterov 会向前看一步：沿 g + μ·v_new 走，"
                       "即梯度加上速度的下一次推动")
    if close(w_new, w + lr * (g + mu * right_v)):
        raise Wrong("the step goes uphill: subtract lr·(g + μ·v_new) from w",
                    zh="这一步在往上坡走：应从 w 中减去 lr·(g + μ·v_new)")
    right_w = w - lr * (g + mu * right_v)
    require(close(w_new, right_w), f"w_new differs from w − lr·(g + μ·v_new); largest gap {gap(w_new, right_w):.3g}",
            zh=f"w_new 与 w − lr·(g + μ·v_new) 不同；最大差距 {gap(w_new, right_w):.3g}")
    curvature, w0 = torch.tensor([1.0, 20.0]), torch.tensor([-3.0, 1.0])
    theirs = _torch_nesterov_path(w0, 0.02, 0.9, 10, curvature)
    w, v, mine = w0.clone(), torch.zeros(2), []
    for _ in range(10):
        w, v = call(fn, w, curvature * w, v, 0.02, 0.9, name="nesterov_update")
        mine.append(w)
    mine = torch.stack(mine)
    require(close(mine, theirs, atol=1e-5), f"over 10 steps your path leaves torch.optim.SGD(nesterov=True)'s "
                                            f"by {gap(mine, theirs):.3g}",
            zh=f"10 步之后，你的路径与 torch.optim.SGD(nesterov=True) 的路径"
               f"相差 {gap(mine, theirs):.3g}")
    return say(f"10 steps agree with torch.optim.SGD(momentum=0.9, nesterov=True) (largest gap {gap(mine, theirs):.1e}).",
               f"10 步都与 torch.optim.SGD(momentum=0.9, nesterov=True) 一致（最大差距 {gap(mine, theirs):.1e}）。")


q1 = Question("q1", "Nesterov momentum", _check_nesterov_update, chapter="06",
              hint="Update the velocity first, exactly as heavy-ball momentum does; then step along the gradient "
                   "plus μ times the NEW velocity. Return both tensors, and build new ones instead of "
                   "changing w or v in place.",
              reference=_nesterov_update, title_zh="Nesterov 动量",
              hint_zh="先更新速度，和重球动量完全一样；然后沿梯度加上 μ 乘以新速度的方向走一步。"
                      "返回两个张量，并创建新的张量，不要原地修改 w 或 v。")


# q2: Adam's bias correction ------------------------------------------------------------------

def _debiased_averages(values, beta):
    average, out = 0.0, []
    for t, x in enumerate(values, start=1):
        average = beta * average + (1 - beta) * x
        out.append(average / (1 - beta**t))
    return torch.stack(out)


def _raw_averages(values, beta):
    average, out = 0.0, []
    for x in values:
        average = beta * average + (1 - beta) * x
        out.append(average)
    return torch.stack(out)


def _compounded(values, beta):
    """The mistake of storing the corrected average: the correction then compounds."""
    stored, out = 0.0, []
    for t, x in enumerate(values, start=1):
        stored = (beta * stored + (1 - beta) * x) / (1 - beta**t)
        out.append(stored)
    return torch.stack(out)


_COMPOUNDED = ("you corrected the stored average itself, so the correction compounds from step to step. "
               "Keep the raw average m for the next step and correct only the value you return")
_COMPOUNDED_ZH = "你校正的是存储的平均值本身，所以校正会一步步累积。把原始平均值 m 留给下一步，只校正你返回的值"


def _check_debiased_averages(fn):
    constant = torch.full((6,), 5.0)
    out = call(fn, constant, 0.9, name="debiased_averages")
    require(torch.is_tensor(out), f"return a tensor with one average per step, not a {type(out).__name__} "
                                  "(torch.stack a list of them)",
            zh=f"请返回每一步一个平均值组成的张量，而不是 {type(out).__name__}"
               "（用 torch.stack 把它们堆起来）")
    require(out.shape == constant.shape, f"one average per value: expected shape {tuple(constant.shape)}, "
                                         f"got {tuple(out.shape)}",
            zh=f"每个值对应一个平均值：形状应为 {tuple(constant.shape)}，"
               f"得到的是 {tuple(out.shape)}")
    out = out.double()
    require(bool(torch.isfinite(out).all()), "an average is inf or nan: t counts from 1, so the first "
                                             "correction is 1 − β¹; with t = 0 you divide by 1 − β⁰ = 0",
            zh="有平均值是 inf 或 nan：t 从 1 开始计数，所以第一次"
               "校正是 1 − β¹；若 t = 0，你就除以了 1 − β⁰ = 0")
    if close(out, _raw_averages(constant, 0.9), atol=1e-4):
        raise Wrong(f"no bias correction: a constant 5 gives averages {out[:3].tolist()}..., dragged "
                    "towards the starting 0. Divide the average at step t by 1 − βᵗ",
                    zh=f"没有做偏差校正：常数 5 得到的平均值是 {out[:3].tolist()}...，被拉向"
                       "起始的 0。把第 t 步的平均值除以 1 − βᵗ")
    if close(out, _compounded(constant, 0.9), atol=1e-3):
        raise Wrong(_COMPOUNDED, zh=_COMPOUNDED_ZH)
    require(close(out, constant, atol=1e-4),
            f"a constant sequence of 5s must average to exactly 5 at every step once corrected; yours gives "
            f"{[round(x, 3) for x in out.tolist()]}. Is t the step number counted from 1, and β the weight of "
            "the OLD average: m = β·m + (1 − β)·x?",
            zh=f"全为 5 的常数序列校正后，每一步的平均值都必须恰好是 5；你的结果是 "
               f"{[round(x, 3) for x in out.tolist()]}。t 是从 1 开始数的步数吗？β 是"
               "旧平均值的权重吗：m = β·m + (1 − β)·x？")
    values = torch.tensor([1.0, -2.0, 3.0, 0.5, 4.0, -1.0, 2.0, 2.5])
    beta = 0.8
    out = call(fn, values, beta, name="debiased_averages").double()
    right = _debiased_averages(values.double(), beta)
    if close(out, _compounded(values.double(), beta), atol=1e-4):
        raise Wrong(_COMPOUNDED, zh=_COMPOUNDED_ZH)
    require(close(out, right, atol=1e-4), f"with β = 0.8 on a varying sequence the largest gap from the "
                                          f"reference is {gap(out, right):.3g}",
            zh=f"β = 0.8 时，在变化的序列上与参考答案的"
               f"最大差距是 {gap(out, right):.3g}")
    return say("the first steps now average the data, not the zero the average started from.",
               "现在前几步平均的是数据，而不是平均值起始时的 0。")


q2 = Question("q2", "Adam's bias correction", _check_debiased_averages, chapter="06",
              hint="Loop over the values with t counted from 1. Carry the raw average m from step to step; divide "
                   "by 1 − βᵗ only the copy you collect for the output, then torch.stack the copies.",
              reference=_debiased_averages, title_zh="Adam 的偏差校正",
              hint_zh="遍历这些值，t 从 1 开始计数。把原始平均值 m 一步步传下去；只对收集来作为输出的"
                      "副本除以 1 − βᵗ，最后用 torch.stack 把这些副本堆起来。")


# q3: linear warm-up, then cosine ------------------------------------------------------------

def _lr_at(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    if step < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * step / warmup_steps)
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return base_lr * (1 + math.cos(math.pi * progress)) / 2


def _torch_warmup_cosine(base_lr, warmup_steps, total_steps, start_factor=0.1):
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    warmup = LinearLR(optimizer, start_factor=start_factor, total_iters=warmup_steps)
    cosine = CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps)
    schedule = SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])
    lrs = []
    for _ in range(total_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return torch.tensor(lrs, dtype=torch.float64)


def _lr_number(fn, step, *args):
    value = call(fn, step, *args, name="lr_at")
    if torch.is_tensor(value) and value.numel() == 1:
        value = value.item()
    require(isinstance(value, numbers.Real) and not isinstance(value, bool),
            f"lr_at should return one number (a float); at step {step} it returned {type(value).__name__}",
            zh=f"lr_at 应当返回一个数（float）；在第 {step} 步它返回的是 {type(value).__name__}")
    return float(value)


def _same(a, b):
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _check_lr_at(fn):
    base, warmup, total = 0.4, 5, 25
    first = _lr_number(fn, 0, base, warmup, total)
    require(first != 0, "the learning rate at step 0 is 0: that step would be wasted (and LinearLR refuses "
                        "start_factor=0). Warm-up starts at start_factor·base_lr",
            zh="第 0 步的学习率是 0：这一步就白白浪费了（LinearLR 也不接受 "
               "start_factor=0）。预热从 start_factor·base_lr 开始")
    require(_same(first, base * 0.1), f"at step 0 expected start_factor·base_lr = {base * 0.1:g}, got {first:g}",
            zh=f"第 0 步应为 start_factor·base_lr = {base * 0.1:g}，得到的是 {first:g}")
    peak, late = _lr_number(fn, warmup, base, warmup, total), _lr_number(fn, 15, base, warmup, total)
    over_total = [base * (1 + math.cos(math.pi * x / total)) / 2 for x in (15, 15 - warmup)]
    if any(_same(late, wrong) for wrong in over_total):
        raise Wrong("the cosine runs over all total_steps; it should run over the steps left after warm-up, "
                    "total_steps − warmup_steps, measured from the end of warm-up",
                    zh="余弦段覆盖了全部 total_steps；它应当覆盖预热之后剩下的步数，"
                       "即 total_steps − warmup_steps，并从预热结束时开始计算")
    before = _lr_number(fn, warmup - 1, base, warmup, total)
    require(not _same(before, base), f"the peak {base:g} already comes at step {warmup - 1}: warm-up climbs "
                                     f"for warmup_steps = {warmup} steps, reaching base_lr at step {warmup}",
            zh=f"峰值 {base:g} 在第 {warmup - 1} 步就到了：预热要爬升 "
               f"warmup_steps = {warmup} 步，在第 {warmup} 步才到达 base_lr")
    require(_same(peak, base), f"at step warmup_steps = {warmup} the warm-up is over and the cosine starts at "
                               f"its top, base_lr = {base:g}; got {peak:g}",
            zh=f"在第 warmup_steps = {warmup} 步，预热结束，余弦从最高点开始，"
               f"即 base_lr = {base:g}；得到的是 {peak:g}")
    for config in [(base, warmup, total, 0.1), (0.1, 3, 12, 0.25)]:
        theirs = _torch_warmup_cosine(*config)
        mine = torch.tensor([_lr_number(fn, s, *config) for s in range(config[2])], dtype=torch.float64)
        if config[3] != 0.1:
            require(not _same(mine[0].item(), config[0] * 0.1),
                    f"with start_factor={config[3]} your step 0 is still 0.1·base_lr: use the start_factor "
                    "argument instead of a fixed 0.1",
                    zh=f"start_factor={config[3]} 时你的第 0 步仍是 0.1·base_lr：请使用参数 "
                       "start_factor，而不是固定的 0.1")
        require(close(mine, theirs, atol=1e-9, rtol=1e-6),
                f"with base_lr={config[0]}, warmup_steps={config[1]}, total_steps={config[2]}, "
                f"start_factor={config[3]} your schedule leaves SequentialLR(LinearLR, CosineAnnealingLR)'s at "
                f"step {int((mine - theirs).abs().argmax())} by {gap(mine, theirs):.3g}",
                zh=f"base_lr={config[0]}，warmup_steps={config[1]}，total_steps={config[2]}，"
                   f"start_factor={config[3]} 时，你的调度与 SequentialLR(LinearLR, CosineAnnealingLR) 在"
                   f"第 {int((mine - theirs).abs().argmax())} 步相差 {gap(mine, theirs):.3g}")
    return say("it matches SequentialLR(LinearLR, CosineAnnealingLR) step for step.",
               "它与 SequentialLR(LinearLR, CosineAnnealingLR) 每一步都一致。")


q3 = Question("q3", "warm-up, then cosine", _check_lr_at, chapter="06",
              hint="Two cases. Before warmup_steps: base_lr·(start_factor + (1 − start_factor)·step/warmup_steps). "
                   "After: base_lr·(1 + cos(π·p))/2 with p = (step − warmup_steps)/(total_steps − warmup_steps).",
              reference=_lr_at, title_zh="先预热，再余弦退火",
              hint_zh="分两种情况。warmup_steps 之前：base_lr·(start_factor + (1 − start_factor)·step/warmup_steps)。"
                      "之后：base_lr·(1 + cos(π·p))/2，其中 p = (step − warmup_steps)/(total_steps − warmup_steps)。")


# q4: early stopping -------------------------------------------------------------------------

def _early_stopping_epochs(val_losses, patience):
    best_epoch, best, waited = 0, math.inf, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best_epoch, best, waited = epoch, loss, 0
        else:
            waited += 1
            if waited == patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


def _epochs(fn, losses, patience):
    out = _pair(call(fn, list(losses), patience, name="early_stopping_epochs"), "early_stopping_epochs",
                "the best epoch and the epoch training stops at: `return best_epoch, stop_epoch`",
                "最佳轮次和训练停止的轮次（`return best_epoch, stop_epoch`）")
    require(all(isinstance(e, numbers.Integral) for e in out),
            f"epochs are whole numbers; got {out!r}",
            zh=f"轮次是整数；得到的是 {out!r}")
    return int(out[0]), int(out[1])


def _check_early_stopping_epochs(fn):
    losses = [0.9, 0.7, 0.5, 0.55, 0.6, 0.62, 0.65, 0.3]
    got = _epochs(fn, losses, 3)
    require(got != (2, 5), "epochs count from 1, as fit's history does: the lowest loss 0.5 is epoch 3",
            zh="轮次从 1 开始数，和 fit 的 history 一样：最低的损失 0.5 在第 3 个轮次")
    require(got[0] <= got[1], f"your best epoch {got[0]} comes after the stop at epoch {got[1]}: an epoch after "
                              "the stop never runs, so its loss is never seen",
            zh=f"你的最佳轮次 {got[0]} 在第 {got[1]} 轮停止之后：停止之后的"
               "轮次根本不会运行，它的损失也永远看不到")
    require(got[0] == 3, f"the lowest validation loss before stopping is 0.5, at epoch 3; you said {got[0]}",
            zh=f"停止之前最低的验证损失是 0.5，在第 3 个轮次；你说的是 {got[0]}")
    require(got[1] != 5, "you stopped one epoch early: patience 3 allows three epochs without improvement "
                         "(4, 5 and 6) and stops after the third",
            zh="你早停了一个轮次：耐心值 3 允许连续三个轮次没有改进"
               "（4、5 和 6），并在第三个之后停止")
    require(got[1] != 7, "you stopped one epoch late: after epochs 4, 5 and 6 without improvement the patience "
                         "of 3 is used up, so training stops at epoch 6",
            zh="你晚停了一个轮次：第 4、5、6 个轮次都没有改进之后，耐心值 "
               "3 已经用完，所以训练在第 6 个轮次停止")
    require(got[1] == 6, f"training should stop at epoch 6; you said {got[1]}",
            zh=f"训练应在第 6 个轮次停止；你说的是 {got[1]}")
    ties = _epochs(fn, [0.9, 0.4, 0.4, 0.4, 0.4], 3)
    require(ties[0] == 2, "an equal loss is not an improvement: the best stays the first epoch that reached "
                          f"0.4 (epoch 2); you said {ties[0]}",
            zh="相等的损失不算改进：最佳轮次仍是第一个达到 "
               f"0.4 的轮次（第 2 个轮次）；你说的是 {ties[0]}")
    require(ties[1] == 5, f"equal losses count as epochs without improvement: stop at epoch 5; you said {ties[1]}",
            zh=f"相等的损失算作没有改进的轮次：应在第 5 个轮次停止；你说的是 {ties[1]}")
    never = _epochs(fn, [0.9, 0.8, 0.7, 0.75], 2)
    require(never == (3, 4), f"when patience never runs out, training runs all 4 epochs: expected (3, 4), "
                             f"got {never}",
            zh=f"耐心值一直没用完时，训练会跑完全部 4 个轮次：应为 (3, 4)，"
               f"得到的是 {never}")
    late = _epochs(fn, [1.0, 0.9, 0.95, 0.8, 0.85, 0.9], 2)
    require(late == (4, 6), "the count of epochs without improvement must restart at every improvement: with "
                            f"[1.0, 0.9, 0.95, 0.8, 0.85, 0.9] and patience 2 expected (4, 6), got {late}",
            zh="没有改进的轮次计数必须在每次改进时重新开始：对 "
               f"[1.0, 0.9, 0.95, 0.8, 0.85, 0.9] 和耐心值 2，应为 (4, 6)，得到的是 {late}")


q4 = Question("q4", "early stopping", _check_early_stopping_epochs, chapter="06",
              hint="Walk through the losses with epoch counted from 1; keep the best loss and its epoch, and "
                   "a counter of epochs since it that restarts at 0 on every strict improvement.",
              reference=_early_stopping_epochs, title_zh="早停",
              hint_zh="按轮次（从 1 开始数）遍历这些损失；记住最佳损失及其轮次，再用一个计数器记录"
                      "自那以后经过的轮次，每次严格改进时把它清零。")
