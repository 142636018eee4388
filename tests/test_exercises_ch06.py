"""Chapter 06 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import math

import torch

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch06 as ex


# q1: Nesterov momentum ------------------------------------------------------------------------

def heavy_ball(w, g, v, lr, mu):
    v = mu * v + g
    return w - lr * v, v


def exponential_average_velocity(w, g, v, lr, mu):
    v = mu * v + (1 - mu) * g
    return w - lr * (g + mu * v), v


def uphill(w, g, v, lr, mu):
    v = mu * v + g
    return w + lr * (g + mu * v), v


def cs231n_velocity(w, g, v, lr, mu):
    v_prev = v
    v = mu * v - lr * g
    return w - mu * v_prev + (1 + mu) * v, v


def returns_the_old_velocity(w, g, v, lr, mu):
    v_new = mu * v + g
    return w - lr * (g + mu * v_new), v


def swapped_outputs(w, g, v, lr, mu):
    v = mu * v + g
    return v, w - lr * (g + mu * v)


def lr_on_the_gradient_only(w, g, v, lr, mu):
    v = mu * v + g
    return w - lr * g - mu * v, v


def velocity_in_place(w, g, v, lr, mu):
    v.mul_(mu).add_(g)
    return w - lr * (g + mu * v), v


def velocity_without_the_mu_first_step(w, g, v, lr, mu):
    """Right values for the first call only when v is zero; the check's cases start from a nonzero v."""
    v = v + g
    return w - lr * (g + mu * v), v


def copied_from_the_first_case(w, g, v, lr, mu):
    return torch.tensor([0.8888, -2.1576, 0.6819]), torch.tensor([0.68, 0.64, -0.91])


# q2: Adam's bias correction -------------------------------------------------------------------

def no_correction(values, beta):
    m, out = 0.0, []
    for x in values:
        m = beta * m + (1 - beta) * x
        out.append(m)
    return torch.stack(out)


def t_from_zero(values, beta):
    m, out = 0.0, []
    for t, x in enumerate(values):
        m = beta * m + (1 - beta) * x
        out.append(m / (1 - beta**t))
    return torch.stack(out)


def t_from_two(values, beta):
    m, out = 0.0, []
    for t, x in enumerate(values, start=1):
        m = beta * m + (1 - beta) * x
        out.append(m / (1 - beta ** (t + 1)))
    return torch.stack(out)


def corrects_the_stored_average(values, beta):
    m, out = 0.0, []
    for t, x in enumerate(values, start=1):
        m = (beta * m + (1 - beta) * x) / (1 - beta**t)
        out.append(m)
    return torch.stack(out)


def swapped_weights(values, beta):
    m, out = 0.0, []
    for t, x in enumerate(values, start=1):
        m = (1 - beta) * m + beta * x
        out.append(m / (1 - beta**t))
    return torch.stack(out)


def no_power(values, beta):
    m, out = 0.0, []
    for x in values:
        m = beta * m + (1 - beta) * x
        out.append(m / (1 - beta))
    return torch.stack(out)


def only_the_last(values, beta):
    m = 0.0
    for t, x in enumerate(values, start=1):
        m = beta * m + (1 - beta) * x
    return m / (1 - beta**t)


def a_python_list(values, beta):
    m, out = 0.0, []
    for t, x in enumerate(values, start=1):
        m = beta * m + (1 - beta) * x.item()
        out.append(m / (1 - beta**t))
    return out


def returns_the_values(values, beta):  # "a constant averages to itself": right on the constant case only
    return values.clone()


# q3: warm-up, then cosine ---------------------------------------------------------------------

def warmup_from_zero(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    if step < warmup_steps:
        return base_lr * step / warmup_steps
    return base_lr * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps))) / 2


def fixed_start_factor(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    if step < warmup_steps:
        return base_lr * (0.1 + 0.9 * step / warmup_steps)
    return base_lr * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps))) / 2


def peak_one_step_early(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    if step < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * step / (warmup_steps - 1))
    return base_lr * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps))) / 2


def climbs_past_the_peak(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    if step < warmup_steps:
        return base_lr * start_factor + base_lr * step / warmup_steps
    return base_lr * (1 + math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps))) / 2


def cosine_over_all_steps(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    if step < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * step / warmup_steps)
    return base_lr * (1 + math.cos(math.pi * (step - warmup_steps) / total_steps)) / 2


def cosine_from_step_zero(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    if step < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * step / warmup_steps)
    return base_lr * (1 + math.cos(math.pi * step / (total_steps - warmup_steps))) / 2


def cosine_in_degrees(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    if step < warmup_steps:
        return base_lr * (start_factor + (1 - start_factor) * step / warmup_steps)
    return base_lr * (1 + math.cos(180 * (step - warmup_steps) / (total_steps - warmup_steps))) / 2


def a_list(step, base_lr, warmup_steps, total_steps, start_factor=0.1):
    return [ex._lr_at(step, base_lr, warmup_steps, total_steps, start_factor)]


# q4: early stopping ---------------------------------------------------------------------------

def epochs_from_zero(val_losses, patience):
    best_epoch, best, waited = 0, math.inf, 0
    for epoch, loss in enumerate(val_losses):
        if loss < best:
            best_epoch, best, waited = epoch, loss, 0
        else:
            waited += 1
            if waited == patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses) - 1


def best_of_the_whole_list(val_losses, patience):
    waited, best, stop = 0, math.inf, len(val_losses)
    for epoch, loss in enumerate(val_losses, start=1):
        waited = 0 if loss < best else waited + 1
        best = min(best, loss)
        if waited == patience:
            stop = epoch
            break
    return val_losses.index(min(val_losses)) + 1, stop


def stops_one_early(val_losses, patience):
    best_epoch, best, waited = 0, math.inf, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best_epoch, best, waited = epoch, loss, 0
        else:
            waited += 1
            if waited >= patience - 1:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


def stops_one_late(val_losses, patience):
    best_epoch, best, waited = 0, math.inf, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best_epoch, best, waited = epoch, loss, 0
        elif waited == patience:
            return best_epoch, epoch
        else:
            waited += 1
    return best_epoch, len(val_losses)


def equal_is_an_improvement(val_losses, patience):
    best_epoch, best, waited = 0, math.inf, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss <= best:
            best_epoch, best, waited = epoch, loss, 0
        else:
            waited += 1
            if waited == patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


def never_resets(val_losses, patience):
    best_epoch, best, bad_epochs = 0, math.inf, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best_epoch, best = epoch, loss
        else:
            bad_epochs += 1
            if bad_epochs == patience:
                return best_epoch, epoch
    return best_epoch, len(val_losses)


def best_plus_patience(val_losses, patience):
    best_epoch = val_losses.index(min(val_losses)) + 1
    best_epoch, best = 0, math.inf
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best_epoch, best = epoch, loss
        elif epoch - best_epoch >= patience:
            break
    return best_epoch, best_epoch + patience


def floats(val_losses, patience):
    best, stop = ex._early_stopping_epochs(val_losses, patience)
    return best + 0.5, float(stop)


def the_first_example(val_losses, patience):
    return 3, 6


CATALOGUE = {
    "q1": [
        (heavy_ball, "heavy-ball momentum"),
        (exponential_average_velocity, "exponential average"),
        (uphill, "uphill"),
        (cs231n_velocity, "the CS231n form"),
        (returns_the_old_velocity, "the velocity you return is the old one"),
        (swapped_outputs, "wrong order"),
        (lr_on_the_gradient_only, "the whole step is multiplied by lr"),
        (velocity_in_place, "in place"),
        (velocity_without_the_mu_first_step, "gives a wrong result for"),
        (copied_from_the_first_case, "hard-coded"),
        (lambda w, g, v, lr, mu: w - lr * (g + mu * (mu * v + g)), "should return 2 things"),
    ],
    "q2": [
        (no_correction, "no bias correction"),
        (t_from_zero, "t counts from 1"),
        (t_from_two, "one step behind"),
        (corrects_the_stored_average, "compounds"),
        (swapped_weights, "the OLD average"),
        (no_power, "the power grows with the step"),
        (only_the_last, "one average per value"),
        (a_python_list, "as a tensor"),
        (returns_the_values, "gives a wrong result for"),
    ],
    "q3": [
        (warmup_from_zero, "starts at 0"),
        (fixed_start_factor, "use the start_factor argument"),
        (peak_one_step_early, "one step early"),
        (climbs_past_the_peak, "climbs past base_lr"),
        (cosine_over_all_steps, "the steps left after warm-up"),
        (cosine_from_step_zero, "count it from the end of warm-up"),
        (cosine_in_degrees, "math.cos takes radians"),
        (a_list, "as a number"),
    ],
    "q4": [
        (epochs_from_zero, "epochs count from 1"),
        (best_of_the_whole_list, "never seen"),
        (stops_one_early, "one epoch early"),
        (stops_one_late, "one epoch late"),
        (equal_is_an_improvement, "an equal loss is not an improvement"),
        (never_resets, "must restart at every improvement"),
        (best_plus_patience, "not best + patience"),
        (floats, "whole number"),
        (the_first_example, "hard-coded"),
    ],
}


def test_q1_speaks_of_torch_when_right():
    assert "nesterov=True" in ex.q1.check(ex._nesterov_update).message


def test_q3_accepts_a_zero_dim_tensor():
    assert ex.q3.check(lambda *args: torch.tensor(ex._lr_at(*args))).passed


def test_q3_compares_every_step_with_sequential_lr():
    assert "SequentialLR" in ex.q3.check(ex._lr_at).message


def test_q4_accepts_a_loop_that_counts_down_the_patience():
    def counting_down(val_losses, patience):
        best_epoch, best, left = 0, math.inf, patience
        for epoch, loss in enumerate(val_losses, start=1):
            if loss < best:
                best_epoch, best, left = epoch, loss, patience
            else:
                left -= 1
                if left == 0:
                    return best_epoch, epoch
        return best_epoch, len(val_losses)
    assert ex.q4.check(counting_down).passed
