"""Chapter 05 (the training loop) exercises: one training step, an evaluation pass, a Dataset class."""
import numbers

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from utils.exercises import Question, Wrong, call, close, gap, require


# q1 ------------------------------------------------------------------------------------------

def _train_step(model, inputs, targets, loss_fn, optimizer):
    optimizer.zero_grad()
    outputs = model(inputs)
    loss = loss_fn(outputs, targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_problem(optimizer_kind: str):
    """A small model whose .grad still holds the previous batch's gradients (all ones)."""
    generator = torch.Generator().manual_seed(5)
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.copy_(torch.randn(3, 4, generator=generator))
        model.bias.copy_(torch.randn(3, generator=generator))
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)  # left over from the batch before
    inputs = torch.randn(6, 4, generator=generator)
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    if optimizer_kind == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    return model, inputs, targets, nn.CrossEntropyLoss(), optimizer


def _weights(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _check_train_step(fn):
    model, inputs, targets, loss_fn, optimizer = _step_problem("sgd")
    before = _weights(model)
    out = call(fn, model, inputs, targets, loss_fn, optimizer, name="train_step")
    after = _weights(model)
    reference = _step_problem("sgd")
    expected_loss = _train_step(*reference)
    expected = _weights(reference[0])
    if torch.is_tensor(out):
        require(not out.requires_grad,
                "you returned the loss tensor: it keeps this step's whole graph alive, and summing such "
                "tensors over an epoch keeps every batch's graph in memory. Return loss.item(), a Python float")
        raise Wrong("you returned a tensor; return loss.item(), a plain Python float that holds no graph")
    require(isinstance(out, numbers.Real) and not isinstance(out, bool),
            f"return the loss as a Python float (loss.item()); got {type(out).__name__}")
    if torch.equal(after, before):
        emptied = all(p.grad is None or not p.grad.any() for p in model.parameters())
        require(not emptied, "the weights did not change and the gradients are empty: zero_grad() ran after "
                             "backward(), wiping the gradients before step() could use them. The order is "
                             "zero_grad → forward → loss → backward → step")
        raise Wrong("the weights did not change: backward() only computes the gradients, "
                    "optimizer.step() is what applies them. Did you call it?")
    stale = _step_problem("sgd")
    stale_loss = stale[3](stale[0](stale[1]), stale[2])
    stale_loss.backward()  # no zero_grad: the new gradient is added to the ones left in .grad
    stale[4].step()
    require(not close(after, _weights(stale[0])),
            "the update also used the previous batch's gradient: backward() ADDS into .grad (p.grad += ...), "
            "so without optimizer.zero_grad() first, gradients from earlier batches pile up. Call "
            "optimizer.zero_grad() at the start of the step")
    require(close(after, expected, atol=1e-6),
            f"the weights after your step differ from one SGD step by up to {gap(after, expected):.3g}: "
            "one forward pass, one backward(), one optimizer.step()")
    with torch.no_grad():
        loss_after = loss_fn(reference[0](inputs), targets).item()
    require(abs(out - loss_after) > 1e-9 or abs(out - expected_loss) < 1e-9,
            "you returned the loss after the update (a second forward pass): return the loss of the "
            "batch you stepped on, computed before optimizer.step()")
    require(abs(out - expected_loss) < 1e-6,
            f"you returned {out:.6f}, but the batch's loss was {expected_loss:.6f}: return loss.item()")
    adam = _step_problem("adam")
    call(fn, *adam, name="train_step")
    reference = _step_problem("adam")
    _train_step(*reference)
    require(close(_weights(adam[0]), _weights(reference[0]), atol=1e-6),
            "right with SGD but not with Adam: use the optimizer you are given (optimizer.step()), "
            "not a hand-written update such as p -= lr * p.grad")
    return "These five lines are the heart of every training run in this course."


q1 = Question("q1", "one training step", _check_train_step,
              hint="Five lines, in this order: clear the old gradients, compute the outputs, the loss, "
                   "the gradients (backward), then let the optimizer update. Return the loss as a float.",
              reference=_train_step)


# q2 ------------------------------------------------------------------------------------------

def _evaluate_accuracy(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, targets in loader:
            correct += (model(inputs).argmax(dim=1) == targets).sum().item()
            total += len(targets)
    return correct / total


class _Probe(nn.Module):
    """Logits equal to the inputs, then dropout; remembers the mode and grad mode of every call."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.dropout = nn.Dropout(0.5)
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_grad_enabled()))
        return self.dropout(x * self.scale)


def _probe_loader(correct_per_batch, batch_size):
    """Batches of `batch_size` (the last may be short); the first `correct` rows of each are right."""
    rows, labels = [], []
    for size, correct in correct_per_batch:
        for i in range(size):
            rows.append([3.0, 0.0] if i % 2 else [0.0, 3.0])
            label = int(rows[-1][1] > rows[-1][0])
            labels.append(label if i < correct else 1 - label)
    dataset = TensorDataset(torch.tensor(rows), torch.tensor(labels))
    return DataLoader(dataset, batch_size=batch_size)


def _check_evaluate_accuracy(fn):
    model = _Probe()
    model.train()
    loader = _probe_loader([(4, 4), (4, 4), (2, 0)], batch_size=4)  # 8 of 10 right
    out = call(fn, model, loader, name="evaluate_accuracy")
    if torch.is_tensor(out):
        require(out.numel() == 1, f"return one number, the accuracy; yours has shape {tuple(out.shape)}")
        out = out.item()
    require(isinstance(out, numbers.Real) and not isinstance(out, bool),
            f"return the accuracy as a number (a float); got {type(out).__name__}")
    require(model.calls, "the model was never called: run it on every batch of the loader")
    require(not (1 < out <= 100), f"you returned {out:g}: return a fraction between 0 and 1, not a percentage")
    require(not any(training for training, _ in model.calls),
            "the model was in training mode: dropout was still dropping units, so the accuracy is lower than "
            "the model's and changes from call to call. Call model.eval() before evaluating")
    require(not any(grad for _, grad in model.calls),
            "gradients were on during evaluation: every batch built a graph for backward() that is never "
            "used, costing memory and time. Wrap the loop in `with torch.no_grad():`")
    require(abs(out - 2 / 3) > 1e-6,
            "you averaged the per-batch accuracies (1, 1 and 0 here), but the last batch holds 2 examples, "
            "not 4: it got the same weight as a full batch. Count the correct predictions and divide by the "
            "total number of examples")
    require(abs(out - 0.8) < 1e-6, f"got {out:.4f}, expected 0.8000 (8 of 10 right): did every batch count?")
    other = _probe_loader([(3, 1), (3, 3), (3, 2), (1, 1)], batch_size=3)  # 7 of 10
    again = float(call(fn, _Probe(), other, name="evaluate_accuracy"))
    require(abs(again - 0.7) < 1e-6, f"right for the first loader, but {again:.4f} instead of 0.7000 for "
                                     "another one: compute the accuracy from the loader you are given")
    return "This is evaluate() from utils.training, minus the loss."


q2 = Question("q2", "an evaluation pass", _check_evaluate_accuracy,
              hint="Switch the model to evaluation mode, turn gradients off with a `with` block, and keep "
                   "two running counts over the batches: correct predictions and examples.",
              reference=_evaluate_accuracy)


# q3 ------------------------------------------------------------------------------------------

_DATASET_SOLUTION = '''\
class DigitsFromArrays(Dataset):
    def __init__(self, images, labels):
        self.images = torch.tensor(images, dtype=torch.float32) / 16  # a copy: the caller's array stays
        self.labels = torch.tensor(labels, dtype=torch.int64)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return self.images[index], self.labels[index]
'''


def _is_label(y) -> bool:
    if torch.is_tensor(y):
        return y.numel() == 1
    return isinstance(y, (numbers.Integral, np.integer, float, np.floating)) and not isinstance(y, bool)


def _check_dataset(cls):
    require(isinstance(cls, type), "pass the class itself (DigitsFromArrays), without creating an object "
                                   f"from it; got {type(cls).__name__}")
    images = (np.arange(5 * 64, dtype=np.float64).reshape(5, 64) * 7) % 17  # ink levels 0..16
    labels = np.array([3, 1, 4, 1, 5])
    original_images, original_labels = images.copy(), labels.copy()
    dataset = call(cls, images, labels, name="DigitsFromArrays(images, labels)")
    require(isinstance(dataset, Dataset), "make it a subclass of torch.utils.data.Dataset: "
                                          "class DigitsFromArrays(Dataset)")
    size = call(len, dataset, name="len(dataset)")
    require(size == 5, f"len(dataset) is {size}, expected 5: one example per image (row). "
                       "images.size counts every pixel; len(images) counts the rows")
    item = call(dataset.__getitem__, 2, name="dataset[2]")
    require(isinstance(item, (tuple, list)) and len(item) == 2,
            f"dataset[i] should return one pair (x, y); got {type(item).__name__}")
    x, y = item
    require(not (_is_label(x) and not _is_label(y)), "x and y are swapped: return (image, label), the order "
                                                      "the training loop unpacks them in")
    require(np.array_equal(images, original_images) and np.array_equal(labels, original_labels),
            "your class changed the caller's arrays in place (self.images /= 16 divides the array you were "
            "given, or a tensor sharing its memory). Make a new one: torch.tensor(images) / 16")
    require(torch.is_tensor(x), f"x is a {type(x).__name__}: return a tensor (torch.tensor(...)), so batches "
                                "and the model get tensors")
    require(x.shape == (64,), f"x has shape {tuple(x.shape)}, expected (64,): one image's 64 pixels")
    require(x.dtype == torch.float32, f"x is {x.dtype}: NumPy's float64 must become float32, the dtype of the "
                                      "model's weights (torch.tensor(images, dtype=torch.float32))")
    require(not close(x, torch.from_numpy(images[2])), "the pixels are still ink levels 0–16: divide by 16 "
                                                       "so they lie in [0, 1], like the chapter's data")
    require(close(x, torch.from_numpy(images[2] / 16)), "x is not image 2 divided by 16: return row `index`")
    require(torch.is_tensor(y) or isinstance(y, (numbers.Integral, np.integer)),
            f"the label is a {type(y).__name__}: return an integer (an int64 tensor or an int)")
    if torch.is_tensor(y):
        require(y.dtype == torch.int64, f"the label is {y.dtype}: CrossEntropyLoss wants class indices as "
                                        "int64 (torch.long), a float label fails in the loss")
    require(int(y) == 4, f"dataset[2] has label {int(y)}, expected 4: return labels[index]")
    xs, ys = next(iter(DataLoader(dataset, batch_size=4)))
    require(xs.shape == (4, 64) and ys.shape == (4,) and ys.dtype == torch.int64,
            f"a DataLoader over your dataset gives batches of shape {tuple(xs.shape)} and labels "
            f"{tuple(ys.shape)} {ys.dtype}; expected (4, 64) and (4,) int64")
    require(torch.equal(ys, torch.tensor([3, 1, 4, 1])), "the batch's labels are not the first four labels")
    return "A DataLoader batches any Dataset like this one; chapter 14 reads images from disk the same way."


q3 = Question("q3", "a Dataset class", _check_dataset,
              hint="__init__ keeps the data (converted once to float32 / int64 tensors, pixels divided by 16, "
                   "without changing the arrays you were given), __len__ counts the examples, __getitem__ "
                   "returns one (x, y) pair.",
              reference=_DATASET_SOLUTION)
