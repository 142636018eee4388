"""Chapter 06 (optimisers and schedules) exercises: Nesterov momentum, Adam's bias correction,
warm-up then cosine, and early stopping."""
import math
import numbers

import torch

from utils.exercises import Question, Wrong, call, close, gap, require


def _pair(out, name, what):
    require(isinstance(out, (tuple, list)) and len(out) == 2,
            f"{name} should return two things, {what}; got {type(out).__name__}")
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
                "the new weights and the new velocity: `return w_new, v_new`")
    w_new, v_new = out
    require(torch.is_tensor(w_new) and torch.is_tensor(v_new),
            "return tensors (w_new, v_new), not Python numbers or lists")
    require(w_new.shape == w.shape and v_new.shape == v.shape,
            f"shapes changed: w {tuple(w.shape)} → {tuple(w_new.shape)}, v {tuple(v.shape)} → "
            f"{tuple(v_new.shape)}; an update acts element by element")
    right_v = mu * v + g
    if close(v_new, mu * v + (1 - mu) * g):
        raise Wrong("your velocity is the exponential average v = μv + (1 − μ)g (the form in Andrew Ng's "
                    "notes). PyTorch's buffer is v = μv + g, without the (1 − μ): the two differ by a factor "
                    "1/(1 − μ) in the effective learning rate")
    require(close(v_new, right_v), f"the new velocity should be v = μ·v + g; largest gap {gap(v_new, right_v):.3g}")
    if close(w_new, w - lr * right_v):
        raise Wrong("that is heavy-ball momentum (w − lr·v). Nesterov looks ahead: step along g + μ·v_new, "
                    "the gradient plus the velocity's next push")
    if close(w_new, w + lr * (g + mu * right_v)):
        raise Wrong("the step goes uphill: subtract lr·(g + μ·v_new) from w")
    right_w = w - lr * (g + mu * right_v)
    require(close(w_new, right_w), f"w_new differs from w − lr·(g + μ·v_new); largest gap {gap(w_new, right_w):.3g}")
    curvature, w0 = torch.tensor([1.0, 20.0]), torch.tensor([-3.0, 1.0])
    theirs = _torch_nesterov_path(w0, 0.02, 0.9, 10, curvature)
    w, v, mine = w0.clone(), torch.zeros(2), []
    for _ in range(10):
        w, v = call(fn, w, curvature * w, v, 0.02, 0.9, name="nesterov_update")
        mine.append(w)
    mine = torch.stack(mine)
    require(close(mine, theirs, atol=1e-5), f"over 10 steps your path leaves torch.optim.SGD(nesterov=True)'s "
                                            f"by {gap(mine, theirs):.3g}")
    return f"10 steps agree with torch.optim.SGD(momentum=0.9, nesterov=True) (largest gap {gap(mine, theirs):.1e})."


q1 = Question("q1", "Nesterov momentum", _check_nesterov_update,
              hint="Update the velocity first, exactly as heavy-ball momentum does; then step along the gradient "
                   "plus μ times the NEW velocity. Return both tensors, and build new ones instead of "
                   "changing w or v in place.",
              reference=_nesterov_update)


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


def _check_debiased_averages(fn):
    constant = torch.full((6,), 5.0)
    out = call(fn, constant, 0.9, name="debiased_averages")
    require(torch.is_tensor(out), f"return a tensor with one average per step, not a {type(out).__name__} "
                                  "(torch.stack a list of them)")
    require(out.shape == constant.shape, f"one average per value: expected shape {tuple(constant.shape)}, "
                                         f"got {tuple(out.shape)}")
    out = out.double()
    require(bool(torch.isfinite(out).all()), "an average is inf or nan: t counts from 1, so the first "
                                             "correction is 1 − β¹; with t = 0 you divide by 1 − β⁰ = 0")
    if close(out, _raw_averages(constant, 0.9), atol=1e-4):
        raise Wrong(f"no bias correction: a constant 5 gives averages {out[:3].tolist()}..., dragged "
                    "towards the starting 0. Divide the average at step t by 1 − βᵗ")
    if close(out, _compounded(constant, 0.9), atol=1e-3):
        raise Wrong(_COMPOUNDED)
    require(close(out, constant, atol=1e-4),
            f"a constant sequence of 5s must average to exactly 5 at every step once corrected; yours gives "
            f"{[round(x, 3) for x in out.tolist()]}. Is t the step number counted from 1, and β the weight of "
            "the OLD average: m = β·m + (1 − β)·x?")
    values = torch.tensor([1.0, -2.0, 3.0, 0.5, 4.0, -1.0, 2.0, 2.5])
    beta = 0.8
    out = call(fn, values, beta, name="debiased_averages").double()
    right = _debiased_averages(values.double(), beta)
    if close(out, _compounded(values.double(), beta), atol=1e-4):
        raise Wrong(_COMPOUNDED)
    require(close(out, right, atol=1e-4), f"with β = 0.8 on a varying sequence the largest gap from the "
                                          f"reference is {gap(out, right):.3g}")
    return "the first steps now average the data, not the zero the average started from."


q2 = Question("q2", "Adam's bias correction", _check_debiased_averages,
              hint="Loop over the values with t counted from 1. Carry the raw average m from step to step; divide "
                   "by 1 − βᵗ only the copy you collect for the output, then torch.stack the copies.",
              reference=_debiased_averages)


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
            f"lr_at should return one number (a float); at step {step} it returned {type(value).__name__}")
    return float(value)


def _same(a, b):
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _check_lr_at(fn):
    base, warmup, total = 0.4, 5, 25
    first = _lr_number(fn, 0, base, warmup, total)
    require(first != 0, "the learning rate at step 0 is 0: that step would be wasted (and LinearLR refuses "
                        "start_factor=0). Warm-up starts at start_factor·base_lr")
    require(_same(first, base * 0.1), f"at step 0 expected start_factor·base_lr = {base * 0.1:g}, got {first:g}")
    peak, late = _lr_number(fn, warmup, base, warmup, total), _lr_number(fn, 15, base, warmup, total)
    over_total = [base * (1 + math.cos(math.pi * x / total)) / 2 for x in (15, 15 - warmup)]
    if any(_same(late, wrong) for wrong in over_total):
        raise Wrong("the cosine runs over all total_steps; it should run over the steps left after warm-up, "
                    "total_steps − warmup_steps, measured from the end of warm-up")
    before = _lr_number(fn, warmup - 1, base, warmup, total)
    require(not _same(before, base), f"the peak {base:g} already comes at step {warmup - 1}: warm-up climbs "
                                     f"for warmup_steps = {warmup} steps, reaching base_lr at step {warmup}")
    require(_same(peak, base), f"at step warmup_steps = {warmup} the warm-up is over and the cosine starts at "
                               f"its top, base_lr = {base:g}; got {peak:g}")
    for config in [(base, warmup, total, 0.1), (0.1, 3, 12, 0.25)]:
        theirs = _torch_warmup_cosine(*config)
        mine = torch.tensor([_lr_number(fn, s, *config) for s in range(config[2])], dtype=torch.float64)
        if config[3] != 0.1:
            require(not _same(mine[0].item(), config[0] * 0.1),
                    f"with start_factor={config[3]} your step 0 is still 0.1·base_lr: use the start_factor "
                    "argument instead of a fixed 0.1")
        require(close(mine, theirs, atol=1e-9, rtol=1e-6),
                f"with base_lr={config[0]}, warmup_steps={config[1]}, total_steps={config[2]}, "
                f"start_factor={config[3]} your schedule leaves SequentialLR(LinearLR, CosineAnnealingLR)'s at "
                f"step {int((mine - theirs).abs().argmax())} by {gap(mine, theirs):.3g}")
    return "it matches SequentialLR(LinearLR, CosineAnnealingLR) step for step."


q3 = Question("q3", "warm-up, then cosine", _check_lr_at,
              hint="Two cases. Before warmup_steps: base_lr·(start_factor + (1 − start_factor)·step/warmup_steps). "
                   "After: base_lr·(1 + cos(π·p))/2 with p = (step − warmup_steps)/(total_steps − warmup_steps).",
              reference=_lr_at)


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
                "the best epoch and the epoch training stops at: `return best_epoch, stop_epoch`")
    require(all(isinstance(e, numbers.Integral) for e in out),
            f"epochs are whole numbers; got {out!r}")
    return int(out[0]), int(out[1])


def _check_early_stopping_epochs(fn):
    losses = [0.9, 0.7, 0.5, 0.55, 0.6, 0.62, 0.65, 0.3]
    got = _epochs(fn, losses, 3)
    require(got != (2, 5), "epochs count from 1, as fit's history does: the lowest loss 0.5 is epoch 3")
    require(got[0] <= got[1], f"your best epoch {got[0]} comes after the stop at epoch {got[1]}: an epoch after "
                              "the stop never runs, so its loss is never seen")
    require(got[0] == 3, f"the lowest validation loss before stopping is 0.5, at epoch 3; you said {got[0]}")
    require(got[1] != 5, "you stopped one epoch early: patience 3 allows three epochs without improvement "
                         "(4, 5 and 6) and stops after the third")
    require(got[1] != 7, "you stopped one epoch late: after epochs 4, 5 and 6 without improvement the patience "
                         "of 3 is used up, so training stops at epoch 6")
    require(got[1] == 6, f"training should stop at epoch 6; you said {got[1]}")
    ties = _epochs(fn, [0.9, 0.4, 0.4, 0.4, 0.4], 3)
    require(ties[0] == 2, "an equal loss is not an improvement: the best stays the first epoch that reached "
                          f"0.4 (epoch 2); you said {ties[0]}")
    require(ties[1] == 5, f"equal losses count as epochs without improvement: stop at epoch 5; you said {ties[1]}")
    never = _epochs(fn, [0.9, 0.8, 0.7, 0.75], 2)
    require(never == (3, 4), f"when patience never runs out, training runs all 4 epochs: expected (3, 4), "
                             f"got {never}")
    late = _epochs(fn, [1.0, 0.9, 0.95, 0.8, 0.85, 0.9], 2)
    require(late == (4, 6), "the count of epochs without improvement must restart at every improvement: with "
                            f"[1.0, 0.9, 0.95, 0.8, 0.85, 0.9] and patience 2 expected (4, 6), got {late}")


q4 = Question("q4", "early stopping", _check_early_stopping_epochs,
              hint="Walk through the losses with epoch counted from 1; keep the best loss and its epoch, and "
                   "a counter of epochs since it that restarts at 0 on every strict improvement.",
              reference=_early_stopping_epochs)
