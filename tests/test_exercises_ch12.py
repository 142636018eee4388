"""Chapter 12 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import importlib

import torch
import torch.nn.functional as F
import torchattacks

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch12 as ex


def input_gradient(model, x, y):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(F.cross_entropy(model(x), y), x)[0]


# q1: FGSM by hand ------------------------------------------------------------------------------------

def fgsm(model, x, y, eps, *, sign=True, ascend=True, clip=True, eps_scale=1.0, predicted=False, l2=False,
         delta_only=False, attached=False):
    """A learner's FGSM, with one of their mistakes switched on."""
    if predicted:
        y = model(x).argmax(1)
    x = x.clone().requires_grad_(True)
    gradient = torch.autograd.grad(F.cross_entropy(model(x), y), x, create_graph=attached)[0]
    if l2:
        direction = gradient / gradient.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    else:
        direction = gradient.sign() if sign else gradient
    delta = (1 if ascend else -1) * eps * eps_scale * direction
    if delta_only:
        return delta.detach()
    out = x + delta
    out = out.clamp(0, 1) if clip else out
    return out if attached else out.detach()


def fgsm_by_torchattacks(model, x, y, eps):
    return torchattacks.FGSM(model, eps=eps)(x, y)


def fgsm_clamped_before_the_step(model, x, y, eps):
    """Clips the clean image (already in range), then steps: the result leaves [0, 1]."""
    return (x.clamp(0, 1) + eps * input_gradient(model, x, y).sign()).detach()


# q2: a targeted PGD attack --------------------------------------------------------------------------

def targeted(model, x, target, eps, alpha, steps, *, descend=True, ball=True, clip=True, extra=0, sign=True,
             size="alpha", detach_end=True, ball_around="original"):
    """A learner's targeted PGD, with one of their mistakes switched on."""
    x_adv = x.clone()
    for _ in range(steps + extra):
        x_adv = x_adv.detach().requires_grad_(True)
        gradient = torch.autograd.grad(F.cross_entropy(model(x_adv), target), x_adv)[0]
        step = (alpha if size == "alpha" else eps) * (gradient.sign() if sign else gradient)
        previous = x_adv.detach()
        x_adv = x_adv - step if descend else x_adv + step
        if ball:
            centre = x if ball_around == "original" else previous
            x_adv = torch.min(torch.max(x_adv, centre - eps), centre + eps)
        if clip:
            x_adv = x_adv.clamp(0, 1)
    return x_adv.detach() if detach_end else x_adv


def targeted_by_torchattacks(model, x, target, eps, alpha, steps):
    attack = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=False)
    attack.set_mode_targeted_by_label(quiet=True)
    return attack(x, target)


# q3: ε in three units --------------------------------------------------------------------------------

def units(eps_255, mean, std, *, levels=255, op="divide", minus_mean=False, from_255=False, one_std=False):
    """A learner's conversion, with one of their mistakes switched on."""
    pixels = eps_255 / levels
    std = torch.tensor(std)
    if one_std:
        std = torch.full_like(std, std.mean().item())
    base = eps_255 if from_255 else pixels
    if minus_mean:
        return pixels, (base - torch.tensor(mean)) / std
    return pixels, {"divide": base / std, "multiply": base * std, "variance": base / std ** 2}[op]


CATALOGUE = {
    "q1": [
        (lambda *a: fgsm(*a, sign=False), "you stepped along the gradient itself"),
        (lambda *a: fgsm(*a, ascend=False), "you stepped against the gradient"),
        (lambda *a: fgsm(*a, clip=False), "some pixels leave the image range"),
        (fgsm_clamped_before_the_step, "some pixels leave the image range"),
        (lambda *a: fgsm(*a, eps_scale=1 / 255), "your step is 255 times too small"),
        (lambda *a: fgsm(*a, predicted=True), "you attacked the model's own predictions"),
        (lambda *a: fgsm(*a, l2=True), "that is the L2 attack (FGM)"),
        (lambda *a: fgsm(*a, delta_only=True), "you returned the perturbation δ"),
        (lambda *a: fgsm(*a, attached=True), "still attached to the autograd graph"),
        (fgsm_by_torchattacks, "runs a ready-made attack for you"),
        (lambda model, x, y, eps: (x + eps * input_gradient(model, x, y).sign()).clamp(0, 1).tolist(), "as a tensor"),
    ],
    "q2": [
        (lambda *a: targeted(*a, descend=False), "your steps raise the loss of the target class"),
        (lambda *a: targeted(*a, ball=False), "the images leave the ε-ball"),
        (lambda *a: targeted(*a, ball_around="previous"), "the images leave the ε-ball"),
        (lambda *a: targeted(*a, clip=False), "some pixels leave the image range"),
        (lambda *a: targeted(*a, extra=-1), "you took one step too few"),
        (lambda *a: targeted(*a, extra=1), "you took one step too many"),
        (lambda *a: targeted(*a, sign=False), "you stepped along the gradient itself"),
        (lambda *a: targeted(*a, size="eps"), "each of your steps has size ε"),
        (lambda *a: targeted(*a, detach_end=False), "still attached to the autograd graph"),
        (targeted_by_torchattacks, "runs a ready-made attack for you"),
    ],
    "q3": [
        (lambda *a: units(*a, levels=1), "eps_pixels is still in grey levels"),
        (lambda *a: units(*a, levels=256), "there are 256 grey levels but the largest is 255"),
        (lambda *a: units(*a, op="multiply"), "you multiplied by std"),
        (lambda *a: units(*a, minus_mean=True), "you subtracted the mean"),
        (lambda *a: units(*a, op="variance"), "you divided by std squared"),
        (lambda *a: units(*a, from_255=True), "eps_normalised is 255 times too large"),
        (lambda *a: units(*a, one_std=True), "every channel got the same budget"),
        (lambda eps_255, mean, std: units(eps_255, mean, std)[0], "should return 2 things"),
        (lambda eps_255, mean, std: (eps_255 / 255, eps_255 / 255 / sum(std) * len(std)), "as a tensor"),
        (lambda eps_255, mean, std: (8 / 255, 8 / 255 / torch.tensor([0.2470, 0.2435, 0.2616])),
         "is the result hard-coded"),
    ],
}


def test_q1_and_q2_references_equal_torchattacks():
    for case in ex.q1._checker.cases:
        model, x, y, eps = case.fresh()[0]
        assert torch.equal(ex._fgsm(model, x, y, eps), torchattacks.FGSM(model, eps=eps)(x, y))
    for case in ex.q2._checker.cases:
        model, x, target, eps, alpha, steps = case.fresh()[0]
        assert torch.equal(ex._targeted_pgd(model, x, target, eps, alpha, steps),
                           targeted_by_torchattacks(model, x, target, eps, alpha, steps))


def test_q2_reaches_the_target_class_more_often_than_the_clean_images():
    hits_clean = hits_attacked = 0
    for case in ex.q2._checker.cases:
        model, x, target, eps, alpha, steps = case.fresh()[0]
        attacked = ex._targeted_pgd(model, x, target, eps, alpha, steps)
        with torch.no_grad():
            hits_clean += (model(x).argmax(1) == target).sum().item()
            hits_attacked += (model(attacked).argmax(1) == target).sum().item()
    assert hits_attacked > hits_clean


def test_q3_budget_moves_a_normalised_image_by_eps_pixels():
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    eps_pixels, eps_normalised = ex._epsilon_units(8, mean, std)
    x = torch.rand(1, 3, 4, 4)
    z = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    moved = (z + eps_normalised.view(1, 3, 1, 1)) * torch.tensor(std).view(1, 3, 1, 1) + torch.tensor(mean).view(1, 3, 1, 1)
    torch.testing.assert_close(moved - x, torch.full_like(x, eps_pixels))


def test_the_checks_leave_the_learners_random_numbers_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    importlib.reload(ex)
    ex.q1.check(ex._fgsm)
    ex.q2.check(ex._targeted_pgd)
    assert torch.equal(torch.rand(3), expected)


def test_torchattacks_works_again_after_a_check():
    ex.q1.check(fgsm_by_torchattacks)
    case = ex.q1._checker.cases[0]
    model, x, y, eps = case.fresh()[0]
    assert torchattacks.FGSM(model, eps=eps)(x, y).shape == x.shape
    assert verdict(ex.q1, ex._fgsm)[0] == "correct"
