"""Chapter 06 (optimisers and schedules) exercises: Nesterov momentum, Adam's bias correction,
warm-up then cosine, and early stopping."""
from __future__ import annotations

import math

import torch

from utils.exercises import (Case, Mistake, Question, as_number, as_tensor, call, function_checker, gap, parts,
                             require, say)

CHAPTER = "06"


def _seeded(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# q1 · Nesterov momentum ----------------------------------------------------------------------

def _nesterov_update(w, g, v, lr, mu):
    v = mu * v + g
    return w - lr * (g + mu * v), v


def _nesterov_path(update, w0, curvature, lr, mu, steps):
    """The points an update rule visits on ½·Σ curvature·w² (the gradient is curvature·w)."""
    w, v, points = w0.clone(), torch.zeros_like(w0), []
    for _ in range(steps):
        w, v = update(w, curvature * w, v, lr, mu)
        points.append(w)
    return torch.stack(points)


def _torch_nesterov_path(w0, curvature, lr, mu, steps):
    w = w0.clone().requires_grad_()
    optimizer = torch.optim.SGD([w], lr=lr, momentum=mu, nesterov=True)
    points = []
    for _ in range(steps):
        optimizer.zero_grad()
        (0.5 * curvature * w**2).sum().backward()
        optimizer.step()
        points.append(w.detach().clone())
    return torch.stack(points)


def _weights_and_velocity(out, name):
    w_new, v_new = parts(out, 2, name, "the new weights and the new velocity: `return w_new, v_new`",
                         "新的权重和新的速度（`return w_new, v_new`）")
    return as_tensor(w_new, name, what="the new weights", what_zh="新的权重"), \
        as_tensor(v_new, name, what="the new velocity", what_zh="新的速度")


def _step_case(seed: int, size: int, lr: float, mu: float, hidden: bool = False, note="", note_zh="") -> Case:
    return Case(_seeded(seed, size), _seeded(seed + 1, size), _seeded(seed + 2, size), lr, mu,
                hidden=hidden, note=note, note_zh=note_zh)


def _against_torch(fn):
    w0, curvature = torch.tensor([-3.0, 1.0]), torch.tensor([1.0, 20.0])
    mine = _nesterov_path(lambda *args: _weights_and_velocity(call(fn, *args, name="nesterov_update"), "nesterov_update"),
                          w0, curvature, 0.02, 0.9, 10)
    theirs = _torch_nesterov_path(w0, curvature, 0.02, 0.9, 10)
    require(torch.allclose(mine, theirs, atol=1e-5),
            f"each single step is right, but over 10 steps your path leaves torch.optim.SGD(nesterov=True)'s by "
            f"{gap(mine, theirs):.3g}: carry the velocity you return into the next call",
            zh=f"单步都对，但 10 步之后你的路径与 torch.optim.SGD(nesterov=True) 的路径相差 {gap(mine, theirs):.3g}："
               "把你返回的速度带进下一次调用")
    return say(f"10 steps agree with torch.optim.SGD(momentum=0.9, nesterov=True) (largest gap {gap(mine, theirs):.1e}).",
               f"10 步都与 torch.optim.SGD(momentum=0.9, nesterov=True) 一致（最大差距 {gap(mine, theirs):.1e}）。")


q1 = Question("q1", "Nesterov momentum", chapter=CHAPTER, checker=function_checker(
    "nesterov_update", _nesterov_update, convert=_weights_and_velocity,
    cases=[
        Case(torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 1.0, -1.0]), torch.tensor([0.2, -0.4, 0.1]), 0.1, 0.9),
        _step_case(1, 4, 0.05, 0.9, note="a velocity that points against the gradient", note_zh="速度与梯度方向相反"),
        _step_case(2, 5, 0.3, 0.5, note="μ = 0.5", note_zh="μ = 0.5"),
        _step_case(3, 3, 0.1, 0.0, note="μ = 0, plain SGD", note_zh="μ = 0，即普通 SGD"),
        _step_case(4, 6, 0.02, 0.99, hidden=True),
    ],
    mistakes=[
        Mistake(lambda w, g, v, lr, mu: (w - lr * (mu * v + g), mu * v + g),
                "that is heavy-ball momentum, a step of lr·v. Nesterov looks ahead: its step adds the velocity's next "
                "push to the gradient",
                "这是重球动量，步长为 lr·v。Nesterov 会向前看一步：它的一步在梯度上再加上速度的下一次推动"),
        Mistake(lambda w, g, v, lr, mu: (w - lr * (g + mu * (mu * v + (1 - mu) * g)), mu * v + (1 - mu) * g),
                "your velocity is the exponential average v = μv + (1 − μ)g (the form in Andrew Ng's notes). "
                "PyTorch's buffer is v = μv + g, without the (1 − μ): the two differ by a factor 1/(1 − μ) in the "
                "effective learning rate",
                "你的速度是指数平均 v = μv + (1 − μ)g（吴恩达课程笔记中的形式）。PyTorch 的缓冲区是 v = μv + g，"
                "没有 (1 − μ)：两者的有效学习率相差 1/(1 − μ) 倍"),
        Mistake(lambda w, g, v, lr, mu: (w + lr * (g + mu * (mu * v + g)), mu * v + g),
                "the step goes uphill: the weights must move against the gradient, so subtract the step",
                "这一步在往上坡走：权重必须逆着梯度移动，所以要减去这一步"),
        Mistake(lambda w, g, v, lr, mu: (w - mu * v + (1 + mu) * (mu * v - lr * g), mu * v - lr * g),
                "your velocity is in the CS231n form v = μv − lr·g, which holds the learning rate and the opposite "
                "sign. This exercise uses PyTorch's buffer, v = μv + g, with lr applied in the step",
                "你的速度是 CS231n 的形式 v = μv − lr·g，其中含有学习率且符号相反。本练习使用 PyTorch 的缓冲区 "
                "v = μv + g，学习率在这一步中才乘上"),
        Mistake(lambda w, g, v, lr, mu: (w - lr * (g + mu * (mu * v + g)), v),
                "the weights are right, but the velocity you return is the old one: return the updated velocity, "
                "or the next step starts from a stale one",
                "权重是对的，但你返回的速度还是旧的：请返回更新后的速度，否则下一步会从过时的速度出发"),
        Mistake(lambda w, g, v, lr, mu: (mu * v + g, w - lr * (g + mu * (mu * v + g))),
                "the two results are in the wrong order: return the weights first, then the velocity",
                "两个结果的顺序反了：先返回权重，再返回速度"),
        Mistake(lambda w, g, v, lr, mu: (w - lr * g - mu * (mu * v + g), mu * v + g),
                "the learning rate scales only the gradient: the look-ahead push μ·v is part of the step too, so the "
                "whole step is multiplied by lr",
                "学习率只乘在了梯度上：向前看的推动 μ·v 也是这一步的一部分，所以整个步长都要乘以 lr"),
    ],
    then=_against_torch),
    hint="Nesterov differs from heavy-ball momentum only in the direction of the step. Which velocity, the one before "
         "or after this step's update, does 'looking ahead' use?",
    reference=_nesterov_update, title_zh="Nesterov 动量",
    hint_zh="Nesterov 与重球动量的区别只在于这一步的方向。“向前看”用的是这一步更新之前的速度，还是更新之后的速度？")


# q2 · Adam's bias correction -----------------------------------------------------------------

def _averages(values, beta, *, first_t=1, correct=True, store_corrected=False, swap=False, power=True):
    """Exponential averages of ``values`` with the variations learners write; the default is right."""
    old, new = (1 - beta, beta) if swap else (beta, 1 - beta)
    average, out = 0.0, []
    for t, x in enumerate(values, start=first_t):
        average = old * average + new * x
        corrected = average / (1 - beta ** (t if power else 1)) if correct else average
        if store_corrected:
            average = corrected
        out.append(corrected)
    return torch.stack(out)


def _debiased_averages(values, beta):
    average, out = 0.0, []
    for t, x in enumerate(values, start=1):
        average = beta * average + (1 - beta) * x
        out.append(average / (1 - beta**t))
    return torch.stack(out)


def _one_per_value(out, name):
    out = as_tensor(out, name, floating=True, what="the averages", what_zh="平均值")
    require(out.ndim == 1, f"return one average per value, a 1-D tensor; {name} returned shape {tuple(out.shape)}",
            zh=f"每个值对应一个平均值，应返回一维张量；{name} 返回的形状是 {tuple(out.shape)}")
    return out


q2 = Question("q2", "Adam's bias correction", chapter=CHAPTER, checker=function_checker(
    "debiased_averages", _debiased_averages, convert=_one_per_value,
    cases=[
        Case(torch.full((6,), 5.0), 0.9, note="a constant sequence", note_zh="常数序列"),
        Case(torch.tensor([1.0, -2.0, 3.0, 0.5, 4.0, -1.0, 2.0, 2.5]), 0.8, note="β = 0.8", note_zh="β = 0.8"),
        Case(_seeded(5, 12), 0.99, note="β = 0.99, where the correction is large for many steps",
             note_zh="β = 0.99，修正在很多步里都很大"),
        Case(torch.tensor([3.0]), 0.5, note="a single value", note_zh="只有一个值"),
        Case(_seeded(6, 9) + 2, 0.7, hidden=True),
    ],
    mistakes=[
        Mistake(lambda values, beta: _averages(values, beta, correct=False),
                "no bias correction: the averages are dragged towards the 0 they started from. Divide the average "
                "at step t by 1 − βᵗ",
                "没有做偏差修正：平均值被拉向了它起始的 0。把第 t 步的平均值除以 1 − βᵗ"),
        Mistake(lambda values, beta: _averages(values, beta, first_t=0),
                "the first average is inf or NaN: t counts from 1, so the first correction is 1 − β¹; with t = 0 you "
                "divide by 1 − β⁰ = 0",
                "第一个平均值是 inf 或 NaN：t 从 1 开始计数，所以第一次修正是 1 − β¹；若 t = 0，你就除以了 1 − β⁰ = 0"),
        Mistake(lambda values, beta: _averages(values, beta, first_t=2),
                "your correction is one step behind (1 − βᵗ⁺¹): t is the step number counted from 1, so the first "
                "value is corrected by 1 − β",
                "你的修正慢了一步（1 − βᵗ⁺¹）：t 是从 1 开始数的步数，所以第一个值要除以 1 − β"),
        Mistake(lambda values, beta: _averages(values, beta, store_corrected=True),
                "you corrected the stored average itself, so the correction compounds from step to step. Keep the "
                "raw average for the next step and correct only the value you return",
                "你修正的是存储的平均值本身，所以修正会一步步累积。把原始平均值留给下一步，只修正你返回的值"),
        Mistake(lambda values, beta: _averages(values, beta, swap=True),
                "the weights are swapped: β is the weight of the OLD average, m = β·m + (1 − β)·x",
                "权重弄反了：β 是旧平均值的权重，m = β·m + (1 − β)·x"),
        Mistake(lambda values, beta: _averages(values, beta, power=False),
                "you divide by 1 − β at every step: the correction is 1 − βᵗ, the power grows with the step, so it "
                "fades to 1 as the average forgets its zero start",
                "你每一步都除以 1 − β：修正量是 1 − βᵗ，幂次随步数增长，所以当平均值忘掉它的零起点时，修正量趋于 1"),
    ],
    note=("the first steps now average the data, not the zero the average started from.",
          "现在前几步平均的是数据，而不是平均值起始时的 0。")),
    hint="Write out m₁ and m₂ for a constant sequence x, x, …: what do they come to, and what would you divide each by "
         "to get x back?",
    reference=_debiased_averages, title_zh="Adam 的偏差修正",
    hint_zh="对常数序列 x, x, … 写出 m₁ 和 m₂：它们等于多少？各自除以什么才能得回 x？")


# q3 · linear warm-up, then cosine ------------------------------------------------------------

def _lr_at(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    if step < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * step / warmup_steps)
    progress = (step - warmup_steps) / (total_steps - warmup_steps)
    return base_lr * (1 + math.cos(math.pi * progress)) / 2


def _schedule(*, start=None, warmup_end=0, cosine_span=None, cosine_from_zero=False, overshoot=False, degrees=False):
    """The warm-up-then-cosine schedule with one of the variations learners write."""
    def lr_at(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
        first = start_factor if start is None else start
        if step < warmup_steps:
            rise = step / (warmup_steps + warmup_end)
            return base_lr * (first + rise) if overshoot else base_lr * min(1.0, first + (1 - first) * rise)
        span = total_steps if cosine_span == "total" else total_steps - warmup_steps
        progress = (step if cosine_from_zero else step - warmup_steps) / span
        angle = 180 * progress if degrees else math.pi * progress
        return base_lr * (1 + math.cos(angle)) / 2
    return lr_at


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
    return lrs


def _a_learning_rate(out, name):
    return as_number(out, name, what="the learning rate", what_zh="学习率")


def _every_step_as_torch(fn):
    config = (0.3, 4, 16, 0.2)
    theirs = _torch_warmup_cosine(*config)
    worst = max(abs(_a_learning_rate(call(fn, step, *config, name="lr_at"), "lr_at") - lr) / lr
                for step, lr in enumerate(theirs))
    require(worst < 1e-5, f"your schedule leaves SequentialLR(LinearLR, CosineAnnealingLR)'s by {worst:.1%} over "
                          "base_lr=0.3, warmup_steps=4, total_steps=16, start_factor=0.2",
            zh=f"在 base_lr=0.3、warmup_steps=4、total_steps=16、start_factor=0.2 下，你的调度与 "
               f"SequentialLR(LinearLR, CosineAnnealingLR) 相差 {worst:.1%}")
    return say("it matches SequentialLR(LinearLR, CosineAnnealingLR) at every step.",
               "它与 SequentialLR(LinearLR, CosineAnnealingLR) 每一步都一致。")


def _lr_case(step, base_lr, warmup_steps, total_steps, start_factor=0.1, note="", note_zh="", hidden=False):
    return Case(step, base_lr, warmup_steps, total_steps, start_factor, note=note, note_zh=note_zh, hidden=hidden)


q3 = Question("q3", "warm-up, then cosine", chapter=CHAPTER, checker=function_checker(
    "lr_at", _lr_at, convert=_a_learning_rate,
    cases=[
        _lr_case(0, 0.4, 5, 25, note="the first step", note_zh="第一步"),
        _lr_case(4, 0.4, 5, 25, note="the last step of warm-up", note_zh="预热的最后一步"),
        _lr_case(5, 0.4, 5, 25, note="the first step after warm-up", note_zh="预热之后的第一步"),
        _lr_case(15, 0.4, 5, 25, note="half-way through the cosine", note_zh="余弦段的中点"),
        _lr_case(12, 0.4, 5, 25, note="inside the cosine", note_zh="余弦段之内"),
        _lr_case(1, 0.1, 3, 12, 0.25, note="another start_factor", note_zh="另一个 start_factor"),
        _lr_case(9, 0.1, 3, 12, 0.25, note="late in the cosine", note_zh="余弦段的后部"),
        _lr_case(7, 1.5, 10, 40, 0.05, hidden=True),
        _lr_case(33, 1.5, 10, 40, 0.05, hidden=True),
    ],
    mistakes=[
        Mistake(_schedule(start=0.0), "your warm-up starts at 0: that step would be wasted (and LinearLR refuses "
                                      "start_factor=0). Warm-up starts at start_factor·base_lr",
                "你的预热从 0 开始：这一步就白白浪费了（LinearLR 也不接受 start_factor=0）。预热从 start_factor·base_lr 开始"),
        Mistake(_schedule(start=0.1), "with another start_factor your warm-up still starts at 0.1·base_lr: use the "
                                      "start_factor argument instead of a fixed 0.1",
                "换了 start_factor 之后，你的预热仍从 0.1·base_lr 开始：请使用参数 start_factor，而不是固定的 0.1"),
        Mistake(_schedule(warmup_end=-1), "your warm-up reaches base_lr one step early: it climbs for warmup_steps "
                                          "steps and reaches base_lr at step warmup_steps, where the cosine begins",
                "你的预热早一步到达了 base_lr：它要爬升 warmup_steps 步，在第 warmup_steps 步才到达 base_lr，"
                "余弦段也从那里开始"),
        Mistake(_schedule(overshoot=True), "your warm-up climbs past base_lr: it rises by (1 − start_factor)·base_lr "
                                           "in all, from start_factor·base_lr to base_lr",
                "你的预热爬过了 base_lr：它总共只上升 (1 − start_factor)·base_lr，从 start_factor·base_lr 到 base_lr"),
        Mistake(_schedule(cosine_span="total"), "the cosine runs over all total_steps; it should run over the steps "
                                                "left after warm-up, total_steps − warmup_steps",
                "余弦段覆盖了全部 total_steps；它应当覆盖预热之后剩下的步数，即 total_steps − warmup_steps"),
        Mistake(_schedule(cosine_from_zero=True), "the cosine's progress is counted from step 0; count it from the end "
                                                  "of warm-up, step − warmup_steps, so it starts at its top",
                "余弦段的进度是从第 0 步算起的；应从预热结束时算起，即 step − warmup_steps，这样它从最高点开始"),
        Mistake(_schedule(degrees=True), "math.cos takes radians: half a cosine is π·progress, not 180·progress",
                "math.cos 的参数是弧度：半个余弦周期是 π·progress，而不是 180·progress"),
    ],
    then=_every_step_as_torch),
    hint="Two pieces joined at step warmup_steps. At that step both pieces must give the same value: which one, and "
         "what fraction of its way through is each piece at a given step?",
    reference=_lr_at, title_zh="先预热，再余弦退火",
    hint_zh="两段在第 warmup_steps 步相接。在这一步两段必须给出同一个值：是哪个值？在某一步，每一段各走完了自己的几分之几？")


# q4 · early stopping -------------------------------------------------------------------------

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


def _stopper(*, zero_based=False, allow_equal=False, off=0, best_over_all=False, no_reset=False, always_stop=False):
    """Early stopping with one of the variations learners write; the default is right."""
    def early_stopping_epochs(val_losses, patience):
        best_epoch, best, waited, stop = 0, math.inf, 0, len(val_losses)
        for epoch, loss in enumerate(val_losses, start=1):
            if loss < best or (allow_equal and loss <= best):
                best_epoch, best, waited = epoch, loss, waited if no_reset else 0
            else:
                waited += 1
                if waited == patience + off:
                    stop = epoch
                    break
        if best_over_all:
            best_epoch = min(range(len(val_losses)), key=val_losses.__getitem__) + 1
        if always_stop:
            stop = best_epoch + patience
        shift = 1 if zero_based else 0
        return best_epoch - shift, stop - shift
    return early_stopping_epochs


def _two_epochs(out, name):
    best, stop = parts(out, 2, name, "the best epoch and the epoch training stops at: `return best_epoch, stop_epoch`",
                       "最佳轮次和训练停止的轮次（`return best_epoch, stop_epoch`）", tensors=False)
    return (as_number(best, name, integer=True, what="the best epoch", what_zh="最佳轮次"),
            as_number(stop, name, integer=True, what="the stopping epoch", what_zh="停止的轮次"))


def _walk(seed: int, length: int) -> list:
    """A noisy falling then rising validation-loss curve, rounded so that ties can occur."""
    noise = torch.rand(length, generator=torch.Generator().manual_seed(seed)) * 0.3
    return [round(((epoch - length / 2) ** 2 / length + n).item(), 1) for epoch, n in enumerate(noise)]


q4 = Question("q4", "early stopping", chapter=CHAPTER, checker=function_checker(
    "early_stopping_epochs", _early_stopping_epochs, convert=_two_epochs,
    cases=[
        Case([0.9, 0.7, 0.5, 0.55, 0.6, 0.62, 0.65, 0.3], 3),
        Case([0.9, 0.4, 0.4, 0.4, 0.4], 3, note="equal losses", note_zh="相等的损失"),
        Case([0.9, 0.8, 0.7, 0.75], 2, note="patience never runs out", note_zh="耐心值一直没用完"),
        Case([1.0, 0.9, 0.95, 0.8, 0.85, 0.9, 0.7], 2, note="an improvement after a bad epoch",
             note_zh="一个变差的轮次之后又有改进"),
        Case([0.5, 0.6, 0.4, 0.45], 1, note="patience 1", note_zh="耐心值为 1"),
        Case(_walk(7, 14), 3, hidden=True),
    ],
    mistakes=[
        Mistake(_stopper(zero_based=True), "epochs count from 1, as fit's history does, not from 0",
                "轮次从 1 开始数，和 fit 的 history 一样，而不是从 0 开始"),
        Mistake(_stopper(best_over_all=True), "your best epoch comes from the whole list, including epochs after the "
                                              "stop: those never run, so their losses are never seen",
                "你的最佳轮次来自整个列表，包括停止之后的轮次：那些轮次根本不会运行，它们的损失也永远看不到"),
        Mistake(_stopper(off=-1), "you stop one epoch early: patience p allows p epochs in a row without improvement "
                                  "and stops after the p-th",
                "你早停了一个轮次：耐心值 p 允许连续 p 个轮次没有改进，并在第 p 个之后停止"),
        Mistake(_stopper(off=1), "you stop one epoch late: once p epochs in a row have not improved, the patience p "
                                 "is used up and training stops at that epoch",
                "你晚停了一个轮次：一旦连续 p 个轮次没有改进，耐心值 p 就用完了，训练就在那个轮次停止"),
        Mistake(_stopper(allow_equal=True), "an equal loss is not an improvement: the best stays the first epoch that "
                                            "reached it, and the equal epochs count against the patience",
                "相等的损失不算改进：最佳轮次仍是第一个达到它的轮次，相等的轮次要计入耐心值"),
        Mistake(_stopper(no_reset=True), "the count of epochs without improvement must restart at every improvement",
                "没有改进的轮次计数必须在每次改进时重新开始"),
        Mistake(_stopper(always_stop=True), "when the patience never runs out, training runs every epoch of the list: "
                                            "the stop is the last epoch, not best + patience",
                "耐心值一直没用完时，训练会跑完列表中的每一个轮次：停止的轮次是最后一个，而不是最佳轮次加耐心值"),
    ]),
    hint="Walk through the losses once. What must you remember about the past, and what happens to the count of "
         "epochs without improvement when a loss beats the best so far?",
    reference=_early_stopping_epochs, title_zh="早停",
    hint_zh="把损失从头到尾走一遍。你需要记住过去的哪些东西？当某个损失超过了迄今最佳时，没有改进的轮次计数会怎样？")
