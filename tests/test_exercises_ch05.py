"""Chapter 05 checkers: a right answer passes, typical mistakes get their own message, a stub is not attempted."""
import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from utils.exercises import ch05 as ex
from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)


def test_stubs_and_none_are_not_attempted():
    assert verdict(ex.q1, stub)[0] == "not attempted"
    assert verdict(ex.q2, stub)[0] == "not attempted"

    class Stub(Dataset):  # what the student release leaves: every method raises
        def __init__(self, images, labels):
            raise NotImplementedError()
    assert verdict(ex.q3, Stub)[0] == "not attempted"
    for question in (ex.q1, ex.q2, ex.q3):
        assert verdict(question, None)[0] == "not attempted"


def test_references_pass():
    assert ex.q1.check(ex._train_step).passed
    assert ex.q2.check(ex._evaluate_accuracy).passed
    namespace = {"Dataset": Dataset, "torch": torch}
    exec(ex._DATASET_SOLUTION, namespace)
    assert ex.q3.check(namespace["DigitsFromArrays"]).passed


# q1: one training step ----------------------------------------------------------------------

def step(order):
    """A train_step whose five lines run in `order` (a string of z f l b s), returning loss.item()."""
    def train_step(model, inputs, targets, loss_fn, optimizer):
        loss = None
        for action in order:
            if action == "z":
                optimizer.zero_grad()
            elif action == "f":
                outputs = model(inputs)
            elif action == "l":
                loss = loss_fn(outputs, targets)
            elif action == "b":
                loss.backward()
            elif action == "s":
                optimizer.step()
        return loss.item()
    return train_step


def test_q1_accepts_model_zero_grad_and_set_to_none():
    def variant(model, inputs, targets, loss_fn, optimizer):
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss.item()
    assert ex.q1.check(variant).passed


def manual_update(model, inputs, targets, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    return loss.item()


def loss_after_update(model, inputs, targets, loss_fn, optimizer):
    step("zflbs")(model, inputs, targets, loss_fn, optimizer)
    return loss_fn(model(inputs), targets).item()


def returns_tensor(model, inputs, targets, loss_fn, optimizer):
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss


@pytest.mark.parametrize("answer, message", [
    (step("flbs"), "gradients from earlier batches pile up"),  # forgot zero_grad
    (step("flbzs"), "zero_grad() ran after backward()"),
    (step("zflb"), "Did you call it?"),  # forgot step
    (step("zflbss"), "differ from one SGD step"),
    (returns_tensor, "keeps this step's whole graph alive"),
    (loss_after_update, "the loss after the update"),
    (manual_update, "not a hand-written update"),
])
def test_q1_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q1, answer)
    assert status == "incorrect" and message in text, text


# q2: an evaluation pass ---------------------------------------------------------------------

def evaluation(*, eval_mode=True, no_grad=True, weighted=True, percent=False):
    def evaluate_accuracy(model, loader):
        if eval_mode:
            model.eval()
        per_batch, correct, total = [], 0, 0
        with torch.set_grad_enabled(not no_grad):
            for inputs, targets in loader:
                right = (model(inputs).argmax(dim=1) == targets).sum().item()
                per_batch.append(right / len(targets))
                correct, total = correct + right, total + len(targets)
        accuracy = correct / total if weighted else sum(per_batch) / len(per_batch)
        return 100 * accuracy if percent else accuracy
    return evaluate_accuracy


def test_q2_accepts_inference_mode_and_a_tensor_result():
    def variant(model, loader):
        model.eval()
        with torch.inference_mode():
            hits = [(model(x).argmax(1) == y) for x, y in loader]
        return torch.cat(hits).float().mean()
    assert ex.q2.check(variant).passed


@pytest.mark.parametrize("answer, message", [
    (evaluation(eval_mode=False), "Call model.eval()"),
    (evaluation(no_grad=False), "torch.no_grad()"),
    (evaluation(weighted=False), "the last batch holds 2 examples"),
    (evaluation(percent=True), "not a percentage"),
    (lambda model, loader: 0.8, "never called"),
    (lambda model, loader: evaluation()(model, [next(iter(loader))]), "did every batch count?"),
])
def test_q2_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q2, answer)
    assert status == "incorrect" and message in text, text


# q3: a Dataset class ------------------------------------------------------------------------

def dataset_class(*, init=None, length=None, item=None, base=Dataset):
    class Attempt(base):
        def __init__(self, images, labels):
            if init is None:
                self.images = torch.tensor(images, dtype=torch.float32) / 16
                self.labels = torch.tensor(labels, dtype=torch.int64)
            else:
                init(self, images, labels)

        def __len__(self):
            return len(self.labels) if length is None else length(self)

        def __getitem__(self, index):
            return (self.images[index], self.labels[index]) if item is None else item(self, index)
    return Attempt


def in_place(self, images, labels):
    images /= 16  # divides the caller's array
    self.images = torch.tensor(images, dtype=torch.float32)
    self.labels = torch.tensor(labels)


@pytest.mark.parametrize("answer, message", [
    (dataset_class(length=lambda self: self.images.numel()), "expected 5"),
    (dataset_class(item=lambda self, i: (self.labels[i], self.images[i])), "swapped"),
    (dataset_class(init=in_place), "in place"),
    (dataset_class(init=lambda self, images, labels: setattr(self, "images", images / 16)
                   or setattr(self, "labels", labels)), "return a tensor"),
    (dataset_class(init=lambda self, images, labels: setattr(self, "images", torch.tensor(images) / 16)
                   or setattr(self, "labels", torch.tensor(labels))), "float32"),
    (dataset_class(init=lambda self, images, labels: setattr(self, "images", torch.tensor(images).float())
                   or setattr(self, "labels", torch.tensor(labels))), "divide by 16"),
    (dataset_class(item=lambda self, i: (self.images[i], self.labels[i].float())), "int64"),
    (dataset_class(item=lambda self, i: (self.images[i], self.labels[0])), "expected 4"),
    (dataset_class(item=lambda self, i: self.images[i]), "one pair (x, y)"),
    (dataset_class(base=object), "subclass of torch.utils.data.Dataset"),
])
def test_q3_rejects_typical_mistakes(answer, message):
    status, text = verdict(ex.q3, answer)
    assert status == "incorrect" and message in text, text


def test_q3_wants_the_class_not_an_instance():
    instance = dataset_class()(np.zeros((2, 64)), np.zeros(2))
    status, text = verdict(ex.q3, instance)
    assert status == "incorrect" and "pass the class itself" in text
