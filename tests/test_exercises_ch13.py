"""Chapter 13 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import pytest
import torch
from torch import nn

from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch13 as ex
from utils.training import freeze, unfreeze


# q1: a new head on a frozen backbone ------------------------------------------------------------------

def head_then_freeze_then_unfreeze(model, num_classes):
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    freeze(model)
    unfreeze(model.fc)
    return model


def freeze_by_hand_and_forget_the_return(model, num_classes):
    freeze(model)
    model.fc = nn.Linear(model.fc.in_features, num_classes)


def head_elsewhere(model, num_classes):
    freeze(model)
    model.classifier = nn.Linear(model.fc.in_features, num_classes)
    del model.fc
    return model


# q2: parameter groups ---------------------------------------------------------------------------------

def groups_from_sets(model, head_lr, backbone_lr):
    head = set(model.fc.parameters())
    body = (p for p in model.parameters() if p.requires_grad and p not in head)
    return ({"params": body, "lr": backbone_lr}, {"params": model.fc.parameters(), "lr": head_lr})


def groups_without_lr(model, head_lr, backbone_lr):
    body = [p for name, p in model.named_parameters() if not name.startswith("fc.") and p.requires_grad]
    return [{"params": body, "lr": backbone_lr}, {"params": list(model.fc.parameters())}]


# q3: what each part trains ---------------------------------------------------------------------------

def counts_by_name(model):
    counts = {name: 0 for name, _ in model.named_children()}
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            counts[name.split(".")[0]] += parameter.numel()
    return counts


def counts_as_tensors(model):
    return {name: torch.tensor(count) for name, count in ex._trainable_by_part(model).items()}


CATALOGUE = {
    "q1": [
        (ex._head_hard_coded, "the new head's in_features is hard-coded"),
        (ex._head_frozen_too, "the new head is frozen too"),
        (ex._norms_in_train_mode, "the backbone's batch norms go back to training mode"),
        (ex._wrong_part_frozen, "requires_grad is switched off on the wrong part"),
        (ex._nothing_frozen, "the backbone is not frozen"),
        (ex._old_class_count, "one score per class of the new task"),
        (ex._stacked_on_the_old_head, "the old head is still there"),
        (freeze_by_hand_and_forget_the_return, "forget the `return`"),
        (head_elsewhere, "has no head called fc"),
        (lambda model, num_classes: "done", "should return the network (an nn.Module)"),
    ],
    "q2": [
        (ex._head_twice, "the head's parameters are in both groups"),
        (ex._same_rate, "the backbone's learning rate is not lowered"),
        (ex._swapped_rates, "the learning rates are swapped"),
        (ex._head_only, "the backbone's parameters are missing"),
        (ex._frozen_included, "frozen parameters are in a group"),
        (ex._head_by_position, "the head group does not hold all of model.fc's parameters"),
        (groups_without_lr, "each group needs its own 'params' and its own 'lr'"),
        (lambda model, head_lr, backbone_lr: model.parameters(), "should return a list of parameter groups"),
    ],
    "q3": [
        (ex._counted_tensors, "you counted tensors, not numbers"),
        (ex._ignored_requires_grad, "your counts include the frozen parameters"),
        (ex._counted_frozen, "you counted the frozen parameters instead of the trainable ones"),
        (ex._counted_state_dict, "state_dict() is not the list of parameters"),
        (ex._every_module, "you went through every module at every depth"),
        (ex._skipped_empty_parts, "parts without parameters (the ReLU, the pooling) are missing"),
        (ex._weights_only, "the biases are missing"),
        (lambda model: list(ex._trainable_by_part(model).values()), "should return a dictionary"),
        (lambda model: {k: v + 0.5 for k, v in ex._trainable_by_part(model).items()}, "as a whole number"),
    ],
}


@pytest.mark.parametrize("question, answer", [
    (ex.q1, ex._frozen_with_new_head), (ex.q1, head_then_freeze_then_unfreeze),
    (ex.q2, ex._parameter_groups), (ex.q2, groups_from_sets),
    (ex.q3, ex._trainable_by_part), (ex.q3, counts_by_name), (ex.q3, counts_as_tensors),
])
def test_right_answers_pass(question, answer):
    assert verdict(question, answer)[0] == "correct"


@pytest.mark.parametrize("question", [ex.q1, ex.q2, ex.q3])
def test_an_untouched_stub_is_not_attempted(question):
    assert verdict(question, stub)[0] == "not attempted"
    assert verdict(question, None)[0] == "not attempted"


@pytest.mark.parametrize("question", [ex.q1, ex.q2, ex.q3])
def test_every_question_has_a_hidden_case_and_varied_networks(question):
    cases = question._checker.cases
    assert any(case.hidden for case in cases) and len(cases) >= 4
    widths = {case.args[0].fc.in_features for case in cases}
    assert len(widths) == len(cases)  # a hard-coded width cannot pass


def test_a_case_gives_every_call_its_own_network():
    case = ex.q1._checker.cases[0]
    (first, _), _ = case.fresh()
    (second, _), _ = case.fresh()
    freeze(first)
    assert first is not second and all(p.requires_grad for p in second.parameters())


def test_only_the_learner_sees_the_hidden_case_fail():
    def right_on_the_visible_cases(model, num_classes):
        model = ex._frozen_with_new_head(model, num_classes)
        if model.fc.in_features == 24:  # the hidden backbone
            unfreeze(model.layer1)
        return model

    status, message = verdict(ex.q1, right_on_the_visible_cases)
    assert status == "incorrect" and "kept hidden" in message
