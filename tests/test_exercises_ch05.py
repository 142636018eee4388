"""Chapter 05 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from tests.exercise_testing import report_only, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ch05 as ex


def test_a_class_stub_is_not_attempted():
    class Stub(Dataset):  # what the student release leaves: every method raises
        def __init__(self, images, labels):
            raise NotImplementedError()
    assert verdict(ex.q3, Stub)[0] == "not attempted"


# q1: one step from several micro-batches ----------------------------------------------------

def accumulate(*, clear="before", scale="share", steps="once", returned="whole", backward="each", join=False):
    """Gradient accumulation with one variation a learner writes; the defaults are right."""
    def accumulated_step(model, micro_batches, loss_fn, optimizer):
        total = sum(len(y) for _, y in micro_batches)
        if join:
            micro_batches = [(torch.cat([x for x, _ in micro_batches]), torch.cat([y for _, y in micro_batches]))]
        if clear == "before":
            optimizer.zero_grad()
        losses, scaled, summed = [], [], 0
        for inputs, targets in micro_batches:
            if clear == "inside":
                optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            factor = {"share": len(targets) / total, "count": 1 / len(micro_batches), "none": 1.0}[scale]
            if backward == "each":
                (loss * factor).backward()
            else:
                summed = summed + loss * factor
            losses.append(loss.item())
            scaled.append((loss * factor).item())
            if steps == "each":
                optimizer.step()
        if backward == "once":
            summed.backward()
        if steps == "once":
            optimizer.step()
        return {"whole": sum(scaled), "last": losses[-1], "plain mean": sum(losses) / len(losses),
                "sum": sum(losses), "tensor": torch.tensor(sum(scaled))}[returned]
    return accumulated_step


def by_hand_update(model, micro_batches, loss_fn, optimizer):
    total = sum(len(y) for _, y in micro_batches)
    optimizer.zero_grad()
    for inputs, targets in micro_batches:
        (loss_fn(model(inputs), targets) * len(targets) / total).backward()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter -= 0.5 * parameter.grad
    return 0.0


def loss_after_the_step(model, micro_batches, loss_fn, optimizer):
    accumulate()(model, micro_batches, loss_fn, optimizer)
    total = sum(len(y) for _, y in micro_batches)
    with torch.no_grad():
        return sum(loss_fn(model(x), y).item() * len(y) / total for x, y in micro_batches)


def first_problem_only(model, micro_batches, loss_fn, optimizer):
    """Right for three micro-batches; with another count it steps on the first micro-batch alone."""
    return accumulate()(model, micro_batches if len(micro_batches) == 3 else micro_batches[:1], loss_fn, optimizer)


CATALOGUE = {
    "q1": [
        (accumulate(clear="never"), "the gradient left in .grad from before"),
        (accumulate(clear="inside"), "zero_grad() inside the loop"),
        (accumulate(scale="none"), "Scale each loss by its share"),
        (accumulate(scale="count"), "the short one got the weight of a full one"),
        (accumulate(steps="each"), "accumulation makes ONE step"),
        (accumulate(steps="never"), "Did you call it?"),
        (by_hand_update, "not a hand-written update"),
        (accumulate(backward="once"), "called backward() once"),
        (accumulate(join=True), "joined the micro-batches into one batch"),
        (accumulate(returned="last"), "the last micro-batch's loss"),
        (accumulate(returned="plain mean"), "plain mean of the micro-batches' losses"),
        (accumulate(returned="sum"), "added up the micro-batches' mean losses"),
        (accumulate(returned="tensor"), "you returned a tensor"),
        (loss_after_the_step, "not the whole batch's loss before the step"),
        (first_problem_only, "right on the first problem but not on another one"),
    ],
}


def test_q1_accepts_model_zero_grad_and_a_mean_over_examples():
    def variant(model, micro_batches, loss_fn, optimizer):
        model.zero_grad(set_to_none=True)
        total = sum(len(y) for _, y in micro_batches)
        whole = 0.0
        for x, y in micro_batches:
            loss = torch.nn.functional.cross_entropy(model(x), y, reduction="sum") / total
            loss.backward()
            whole += loss.item()
        optimizer.step()
        return whole
    assert ex.q1.check(variant).passed


# q2: find the bugs in a training loop -------------------------------------------------------

def loop(*, schedule="after", eval_mode=True, train_mode="each epoch", no_grad=True, name="epoch",
         improves=">", saves="state_dict", returned="best", where="folder"):
    """The chapter's buggy loop with each bug fixed or not; the defaults are the fixed loop."""
    def train_and_keep_best(model, train_loader, val_loader, loss_fn, optimizer, scheduler, epochs, folder):
        best_acc = 0.0
        if train_mode == "once":
            model.train()
        for epoch in range(1, epochs + 1):
            if schedule == "before":
                scheduler.step()
            if train_mode == "each epoch":
                model.train()
            for images, labels in train_loader:
                optimizer.zero_grad()
                loss_fn(model(images), labels).backward()
                optimizer.step()
                if schedule == "every batch":
                    scheduler.step()
            if schedule == "after":
                scheduler.step()
            if eval_mode:
                model.eval()
            correct = 0
            with torch.set_grad_enabled(not no_grad):
                for images, labels in val_loader:
                    correct += (model(images).argmax(dim=1) == labels).sum().item()
            acc = correct / len(val_loader.dataset)
            if acc > best_acc or (improves == ">=" and acc == best_acc) or improves == "always":
                best_acc = max(acc, best_acc)
                file = {"epoch": f"epoch_{epoch:03d}.pt", "rounded": f"model_{round(best_acc, 2)}.pt",
                        "exact": f"model_{best_acc}.pt"}[name]
                path = Path(folder) / file if where == "folder" else Path(file)
                torch.save(model.state_dict() if saves == "state_dict" else model, path)
            last_acc = acc
        return {"best": best_acc, "last": last_acc, "percent": 100 * best_acc, "fixed": 0.95}[returned]
    return train_and_keep_best


def buggy_as_given(model, train_loader, val_loader, loss_fn, optimizer, scheduler, epochs, folder):
    """The loop exactly as the notebook shows it."""
    best_acc = 0.0
    for epoch in range(epochs):
        scheduler.step()
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        correct = 0
        with torch.no_grad():
            for images, labels in val_loader:
                correct += (model(images).argmax(dim=1) == labels).sum().item()
        acc = correct / len(val_loader.dataset)
        if acc > best_acc:
            best_acc = acc
            torch.save(model.state_dict(), Path(folder) / f"model_{round(best_acc, 2)}.pt")
    return best_acc


CATALOGUE["q2"] = [
    (buggy_as_given, "validation ran in training mode"),
    (loop(eval_mode=False), "Call model.eval() before validating"),
    (loop(schedule="before"), "scheduler.step() ran before optimizer.step()"),
    (loop(name="rounded"), "overwrote an earlier one under the same name"),
    (loop(train_mode="once"), "training ran in evaluation mode"),
    (loop(schedule="every batch"), "not after every batch"),
    (loop(schedule="never"), "the learning rate never changed"),
    (loop(no_grad=False), "validation ran with gradients on"),
    (loop(improves=">="), "an equal accuracy is no improvement"),
    (loop(improves="always"), "a file per epoch is not asked for"),
    (loop(saves="model"), "save model.state_dict()"),
    (loop(returned="last"), "return the best validation accuracy"),
    (loop(returned="percent"), "not a percentage"),
    (loop(returned="fixed"), "the one whose checkpoint was saved last"),
    (loop(where="cwd"), "saved outside `folder`"),
]


def test_q2_accepts_names_from_the_exact_accuracy_and_a_scheduler_after_validation():
    assert ex.q2.check(loop(name="exact")).passed

    def later_schedule(model, train_loader, val_loader, loss_fn, optimizer, scheduler, epochs, folder):
        best = 0.0
        for epoch in range(epochs):
            model.train()
            for x, y in train_loader:
                loss = loss_fn(model(x), y)
                optimizer.zero_grad()   # the seeds' order: forward, loss, zero_grad, backward, step
                loss.backward()
                optimizer.step()
            model.eval()
            with torch.inference_mode():
                hits = sum((model(x).argmax(1) == y).sum().item() for x, y in val_loader)
            scheduler.step()
            if hits / len(val_loader.dataset) > best:
                best = hits / len(val_loader.dataset)
                torch.save(model.state_dict(), f"{folder}/best_epoch{epoch + 1}.pt")
        return best
    assert ex.q2.check(later_schedule).passed


def test_q2_leaves_no_file_behind_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ex.q2.check(loop(where="cwd"))
    assert list(tmp_path.iterdir()) == []


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


def first_five_only(self, images, labels):
    """Right for the data set the message shows; for any other, the rows are read in reverse."""
    rows = images if len(images) == 5 else images[::-1].copy()
    self.images = torch.tensor(rows, dtype=torch.float32) / 16
    self.labels = torch.tensor(labels, dtype=torch.int64)


CATALOGUE["q3"] = [
    (dataset_class(length=lambda self: self.images.numel()), "one example per image (row)"),
    (dataset_class(item=lambda self, i: (self.labels[i], self.images[i])), "swapped"),
    (dataset_class(init=in_place), "in place"),
    (dataset_class(init=lambda self, images, labels: setattr(self, "images", images / 16)
                   or setattr(self, "labels", labels)), "return a tensor"),
    (dataset_class(init=lambda self, images, labels: setattr(self, "images", torch.tensor(images) / 16)
                   or setattr(self, "labels", torch.tensor(labels))), "must become float32"),
    (dataset_class(init=lambda self, images, labels: setattr(self, "images", torch.tensor(images).float())
                   or setattr(self, "labels", torch.tensor(labels))), "divide by 16"),
    (dataset_class(item=lambda self, i: (self.images[i], self.labels[i].float())), "int64 (torch.long)"),
    (dataset_class(item=lambda self, i: (self.images[i], self.labels[0])), "return the label of row `index`"),
    (dataset_class(item=lambda self, i: (self.images[0], self.labels[i])), "return row `index`"),
    (dataset_class(item=lambda self, i: self.images[i]), "one pair (x, y)"),
    (dataset_class(item=lambda self, i: (self.images[i][None], self.labels[i])), "its 64 pixels in a row"),
    (dataset_class(base=object), "subclass of torch.utils.data.Dataset"),
    (dataset_class(init=first_five_only), "right for the first data set but not for another one"),
    (dataset_class()(np.zeros((2, 64)), np.zeros(2)), "pass the class itself"),
]
