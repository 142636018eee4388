"""Chapter 06 checkers: a right answer passes, typical mistakes get their own message, a stub is not attempted."""
import math

import pytest
import torch

from utils.exercises import ch06 as ex
from tests.exercise_testing import assert_rejected, report_only, stub  # noqa: F401  (report_only is an autouse fixture)


# q1: Nesterov momentum ----------------------------------------------------------------------

def _velocity(v, g, mu):
    return mu * v + g


@pytest.mark.parametrize("answer, message", [
    (lambda w, g, v, lr, mu: (w - lr * _velocity(v, g, mu), _velocity(v, g, mu)), "heavy-ball momentum"),
    (lambda w, g, v, lr, mu: (w - lr * (g + mu * (mu * v + (1 - mu) * g)), mu * v + (1 - mu) * g),
     "exponential average"),
    (lambda w, g, v, lr, mu: (w + lr * (g + mu * _velocity(v, g, mu)), _velocity(v, g, mu)), "uphill"),
    (lambda w, g, v, lr, mu: w - lr * (g + mu * _velocity(v, g, mu)), "should return two things"),
])
def test_q1_rejects_typical_mistakes(answer, message):
    assert_rejected(ex.q1, answer, message)


def test_q1_rejects_an_in_place_velocity_update():
    def in_place(w, g, v, lr, mu):
        v.mul_(mu).add_(g)
        return w - lr * (g + mu * v), v
    assert_rejected(ex.q1, in_place, "in place")


def test_q1_success_names_torch_agreement():
    assert "nesterov=True" in ex.q1.check(ex.q1._reference).message


# q2: Adam's bias correction -----------------------------------------------------------------

def _averages(values, beta, *, correct=True, first_t=1, store_corrected=False):
    m, out = 0.0, []
    for t, x in enumerate(values, start=first_t):
        m = beta * m + (1 - beta) * x
        corrected = m / (1 - beta**t) if correct else m
        if store_corrected:
            m = corrected
        out.append(corrected)
    return torch.stack(out)


@pytest.mark.parametrize("answer, message", [
    (lambda values, beta: _averages(values, beta, correct=False), "no bias correction"),
    (lambda values, beta: _averages(values, beta, first_t=0), "t counts from 1"),
    (lambda values, beta: _averages(values, beta, store_corrected=True), "compounds"),
    (lambda values, beta: _averages(values, beta, first_t=2), "exactly 5 at every step"),
    (lambda values, beta: _averages(values, beta)[-1], "one average per value"),
])
def test_q2_rejects_typical_mistakes(answer, message):
    assert_rejected(ex.q2, answer, message)


def test_q2_rejects_swapped_weights():
    def swapped(values, beta):
        m, out = 0.0, []
        for t, x in enumerate(values, start=1):
            m = (1 - beta) * m + beta * x
            out.append(m / (1 - beta**t))
        return torch.stack(out)
    assert_rejected(ex.q2, swapped, "the OLD average")


# q3: warm-up then cosine --------------------------------------------------------------------

def _schedule(step, base_lr, warmup_steps, total_steps, start_factor=0.1, *, cosine_over_total=False,
              from_zero=False, peak_early=False, ignore_start=False, shifted=False):
    if step < warmup_steps:
        start = 0.0 if from_zero else (0.1 if ignore_start else start_factor)
        steps = warmup_steps - 1 if peak_early else warmup_steps
        return base_lr * (start + (1 - start) * min(1.0, step / steps))
    span = total_steps if cosine_over_total else total_steps - warmup_steps
    progress = (step - (warmup_steps if shifted or not cosine_over_total else 0)) / span
    return base_lr * (1 + math.cos(math.pi * progress)) / 2


@pytest.mark.parametrize("options, message", [
    (dict(from_zero=True), "is 0"),
    (dict(peak_early=True), "already comes at step 4"),
    (dict(cosine_over_total=True), "the steps left after warm-up"),
    (dict(cosine_over_total=True, shifted=True), "the steps left after warm-up"),
    (dict(ignore_start=True), "use the start_factor argument"),
])
def test_q3_rejects_typical_mistakes(options, message):
    assert_rejected(ex.q3, lambda *args: _schedule(*args, **options), message)


def test_q3_accepts_a_zero_dim_tensor_and_rejects_a_list():
    assert ex.q3.check(lambda *args: torch.tensor(ex.q3._reference(*args))).passed
    assert_rejected(ex.q3, lambda *args: [ex.q3._reference(*args)], "one number")


# q4: early stopping -------------------------------------------------------------------------

def _stopper(val_losses, patience, *, zero_based=False, allow_equal=False, off=0, best_over_all=False,
             no_reset=False):
    best_epoch, best, waited = 0, math.inf, 0
    stop = len(val_losses)
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best or (allow_equal and loss <= best):
            best_epoch, best = epoch, loss
            if not no_reset:
                waited = 0
        else:
            waited += 1
            if waited == patience + off:
                stop = epoch
                break
    if best_over_all:
        best_epoch = min(range(len(val_losses)), key=val_losses.__getitem__) + 1
    shift = 1 if zero_based else 0
    return best_epoch - shift, stop - shift


@pytest.mark.parametrize("options, message", [
    (dict(zero_based=True), "epochs count from 1"),
    (dict(best_over_all=True), "never seen"),
    (dict(off=-1), "one epoch early"),
    (dict(off=1), "one epoch late"),
    (dict(allow_equal=True), "an equal loss is not an improvement"),
    (dict(no_reset=True), "must restart at every improvement"),
])
def test_q4_rejects_typical_mistakes(options, message):
    assert_rejected(ex.q4, lambda losses, patience: _stopper(losses, patience, **options), message)


def test_q4_rejects_floats_for_epochs():
    assert_rejected(ex.q4, lambda losses, patience: (3.0, 6.0), "whole numbers")
