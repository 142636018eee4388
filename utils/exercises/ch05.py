"""Chapter 05 (the training loop) exercises: one training step, an evaluation pass, a Dataset class."""
import numbers

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from utils.exercises import Question, Wrong, call, close, gap, require, say


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
                "tensors over an epoch keeps every batch's graph in memory. Return loss.item(), a Python float",
                zh="你返回了损失张量：它会让这一步的整个计算图一直存活，而在一个轮次里把这样的张量"
                   "累加起来，会把每个批次的计算图都留在内存中。请返回 loss.item()，一个 Python 浮点数")
        raise Wrong("you returned a tensor; return loss.item(), a plain Python float that holds no graph",
                    zh="你返回了一个张量；请返回 loss.item()，一个不带计算图的普通 Python 浮点数")
    require(isinstance(out, numbers.Real) and not isinstance(out, bool),
            f"return the loss as a Python float (loss.item()); got {type(out).__name__}",
            zh=f"请以 Python 浮点数（loss.item()）返回损失；得到的是 {type(out).__name__}")
    if torch.equal(after, before):
        emptied = all(p.grad is None or not p.grad.any() for p in model.parameters())
        require(not emptied, "the weights did not change and the gradients are empty: zero_grad() ran after "
                             "backward(), wiping the gradients before step() could use them. The order is "
                             "zero_grad → forward → loss → backward → step",
                zh="权重没有变，梯度也是空的：zero_grad() 在 backward() 之后才运行，"
                   "在 step() 用上梯度之前就把它们清掉了。正确的顺序是 "
                   "zero_grad → 前向传播 → 损失 → backward → step")
        raise Wrong("the weights did not change: backward() only computes the gradients, "
                    "optimizer.step() is what applies them. Did you call it?",
                    zh="权重没有变：backward() 只计算梯度，"
                       "真正应用梯度的是 optimizer.step()。你调用它了吗？")
    stale = _step_problem("sgd")
    stale_loss = stale[3](stale[0](stale[1]), stale[2])
    stale_loss.backward()  # no zero_grad: the new gradient is added to the ones left in .grad
    stale[4].step()
    require(not close(after, _weights(stale[0])),
            "the update also used the previous batch's gradient: backward() ADDS into .grad (p.grad += ...), "
            "so without optimizer.zero_grad() first, gradients from earlier batches pile up. Call "
            "optimizer.zero_grad() at the start of the step",
            zh="这次更新还用上了上一个批次的梯度：backward() 会把梯度累加到 .grad 中（p.grad += ...），"
               "所以不先调用 optimizer.zero_grad()，之前各批次的梯度就会越积越多。请在这一步开始时"
               "调用 optimizer.zero_grad()")
    require(close(after, expected, atol=1e-6),
            f"the weights after your step differ from one SGD step by up to {gap(after, expected):.3g}: "
            "one forward pass, one backward(), one optimizer.step()",
            zh=f"你这一步之后的权重与一次 SGD 更新的结果最多相差 {gap(after, expected):.3g}："
               "一次前向传播，一次 backward()，一次 optimizer.step()")
    with torch.no_grad():
        loss_after = loss_fn(reference[0](inputs), targets).item()
    require(abs(out - loss_after) > 1e-9 or abs(out - expected_loss) < 1e-9,
            "you returned the loss after the update (a second forward pass): return the loss of the "
            "batch you stepped on, computed before optimizer.step()",
            zh="你返回的是更新之后的损失（又做了一次前向传播）：请返回你用来更新的这个批次的"
               "损失，即在 optimizer.step() 之前算出的损失")
    require(abs(out - expected_loss) < 1e-6,
            f"you returned {out:.6f}, but the batch's loss was {expected_loss:.6f}: return loss.item()",
            zh=f"你返回了 {out:.6f}，但这个批次的损失是 {expected_loss:.6f}：请返回 loss.item()")
    adam = _step_problem("adam")
    call(fn, *adam, name="train_step")
    reference = _step_problem("adam")
    _train_step(*reference)
    require(close(_weights(adam[0]), _weights(reference[0]), atol=1e-6),
            "right with SGD but not with Adam: use the optimizer you are given (optimizer.step()), "
            "not a hand-written update such as p -= lr * p.grad",
            zh="用 SGD 时正确，用 Adam 时却不对：请使用传给你的优化器（optimizer.step()），"
               "而不是手写的更新，比如 p -= lr * p.grad")
    return say("These five lines are the heart of every training run in this course.",
               "这五行是本课程每一次训练的核心。")


q1 = Question("q1", "one training step", _check_train_step, chapter="05",
              hint="Five lines, in this order: clear the old gradients, compute the outputs, the loss, "
                   "the gradients (backward), then let the optimizer update. Return the loss as a float.",
              reference=_train_step, title_zh="一个训练步",
              hint_zh="五行，按这个顺序：清除旧的梯度，计算输出，计算损失，计算梯度（backward），"
                      "再让优化器更新。以浮点数返回损失。")


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
        require(out.numel() == 1, f"return one number, the accuracy; yours has shape {tuple(out.shape)}",
                zh=f"请返回一个数，即准确率；你的形状是 {tuple(out.shape)}")
        out = out.item()
    require(isinstance(out, numbers.Real) and not isinstance(out, bool),
            f"return the accuracy as a number (a float); got {type(out).__name__}",
            zh=f"请以数（float）返回准确率；得到的是 {type(out).__name__}")
    require(model.calls, "the model was never called: run it on every batch of the loader",
            zh="模型从未被调用：请在 loader 的每个批次上运行它")
    require(not (1 < out <= 100), f"you returned {out:g}: return a fraction between 0 and 1, not a percentage",
            zh=f"你返回了 {out:g}：请返回 0 到 1 之间的比例，而不是百分数")
    require(not any(training for training, _ in model.calls),
            "the model was in training mode: dropout was still dropping units, so the accuracy is lower than "
            "the model's and changes from call to call. Call model.eval() before evaluating",
            zh="模型处于训练模式：dropout 仍在丢弃单元，所以准确率低于模型的实际水平，"
               "而且每次调用结果都不同。评估前请调用 model.eval()")
    require(not any(grad for _, grad in model.calls),
            "gradients were on during evaluation: every batch built a graph for backward() that is never "
            "used, costing memory and time. Wrap the loop in `with torch.no_grad():`",
            zh="评估时梯度是开着的：每个批次都为 backward() 构建了一张永远用不上的计算图，"
               "白白耗费内存和时间。请把循环放进 `with torch.no_grad():` 中")
    require(abs(out - 2 / 3) > 1e-6,
            "you averaged the per-batch accuracies (1, 1 and 0 here), but the last batch holds 2 examples, "
            "not 4: it got the same weight as a full batch. Count the correct predictions and divide by the "
            "total number of examples",
            zh="你对各批次的准确率取了平均（这里是 1、1 和 0），但最后一个批次只有 2 个样本，"
               "而不是 4 个：它却得到了和满批次一样的权重。请统计预测正确的个数，再除以"
               "样本总数")
    require(abs(out - 0.8) < 1e-6, f"got {out:.4f}, expected 0.8000 (8 of 10 right): did every batch count?",
            zh=f"得到 {out:.4f}，应为 0.8000（10 个中对 8 个）：每个批次都算进去了吗？")
    other = _probe_loader([(3, 1), (3, 3), (3, 2), (1, 1)], batch_size=3)  # 7 of 10
    again = float(call(fn, _Probe(), other, name="evaluate_accuracy"))
    require(abs(again - 0.7) < 1e-6, f"right for the first loader, but {again:.4f} instead of 0.7000 for "
                                     "another one: compute the accuracy from the loader you are given",
            zh=f"第一个 loader 正确，但另一个 loader 得到 {again:.4f} 而不是 0.7000："
               "请根据传给你的 loader 计算准确率")
    return say("This is evaluate() from utils.training, minus the loss.",
               "这就是 utils.training 中的 evaluate()，只是不计算损失。")


q2 = Question("q2", "an evaluation pass", _check_evaluate_accuracy, chapter="05",
              hint="Switch the model to evaluation mode, turn gradients off with a `with` block, and keep "
                   "two running counts over the batches: correct predictions and examples.",
              reference=_evaluate_accuracy, title_zh="一次评估",
              hint_zh="把模型切换到评估模式，用 `with` 语句块关闭梯度，并在各批次上维护"
                      "两个累计计数：预测正确的个数和样本个数。")


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
                                   f"from it; got {type(cls).__name__}",
            zh="请传入类本身（DigitsFromArrays），不要用它创建对象；"
               f"得到的是 {type(cls).__name__}")
    images = (np.arange(5 * 64, dtype=np.float64).reshape(5, 64) * 7) % 17  # ink levels 0..16
    labels = np.array([3, 1, 4, 1, 5])
    original_images, original_labels = images.copy(), labels.copy()
    dataset = call(cls, images, labels, name="DigitsFromArrays(images, labels)")
    require(isinstance(dataset, Dataset), "make it a subclass of torch.utils.data.Dataset: "
                                          "class DigitsFromArrays(Dataset)",
            zh="把它写成 torch.utils.data.Dataset 的子类："
               "class DigitsFromArrays(Dataset)")
    size = call(len, dataset, name="len(dataset)")
    require(size == 5, f"len(dataset) is {size}, expected 5: one example per image (row). "
                       "images.size counts every pixel; len(images) counts the rows",
            zh=f"len(dataset) 是 {size}，应为 5：每张图像（每一行）是一个样本。"
               "images.size 数的是全部像素；len(images) 数的是行数")
    item = call(dataset.__getitem__, 2, name="dataset[2]")
    require(isinstance(item, (tuple, list)) and len(item) == 2,
            f"dataset[i] should return one pair (x, y); got {type(item).__name__}",
            zh=f"dataset[i] 应当返回一对 (x, y)；得到的是 {type(item).__name__}")
    x, y = item
    require(not (_is_label(x) and not _is_label(y)), "x and y are swapped: return (image, label), the order "
                                                      "the training loop unpacks them in",
            zh="x 和 y 弄反了：请返回 (image, label)，"
               "这是训练循环解包它们的顺序")
    require(np.array_equal(images, original_images) and np.array_equal(labels, original_labels),
            "your class changed the caller's arrays in place (self.images /= 16 divides the array you were "
            "given, or a tensor sharing its memory). Make a new one: torch.tensor(images) / 16",
            zh="你的类原地修改了调用者的数组（self.images /= 16 会除传给你的那个数组，"
               "或与它共享内存的张量）。请新建一个：torch.tensor(images) / 16")
    require(torch.is_tensor(x), f"x is a {type(x).__name__}: return a tensor (torch.tensor(...)), so batches "
                                "and the model get tensors",
            zh=f"x 是 {type(x).__name__}：请返回张量（torch.tensor(...)），这样批次"
               "和模型拿到的都是张量")
    require(x.shape == (64,), f"x has shape {tuple(x.shape)}, expected (64,): one image's 64 pixels",
            zh=f"x 的形状是 {tuple(x.shape)}，应为 (64,)：一张图像的 64 个像素")
    require(x.dtype == torch.float32, f"x is {x.dtype}: NumPy's float64 must become float32, the dtype of the "
                                      "model's weights (torch.tensor(images, dtype=torch.float32))",
            zh=f"x 的数据类型是 {x.dtype}：NumPy 的 float64 必须转成 float32，即模型"
               "权重的数据类型（torch.tensor(images, dtype=torch.float32)）")
    require(not close(x, torch.from_numpy(images[2])), "the pixels are still ink levels 0–16: divide by 16 "
                                                       "so they lie in [0, 1], like the chapter's data",
            zh="像素仍是 0–16 的墨水浓度：除以 16，"
               "让它们落在 [0, 1] 内，和本章的数据一样")
    require(close(x, torch.from_numpy(images[2] / 16)), "x is not image 2 divided by 16: return row `index`",
            zh="x 不是第 2 张图像除以 16：请返回第 `index` 行")
    require(torch.is_tensor(y) or isinstance(y, (numbers.Integral, np.integer)),
            f"the label is a {type(y).__name__}: return an integer (an int64 tensor or an int)",
            zh=f"标签是 {type(y).__name__}：请返回整数（int64 张量或 int）")
    if torch.is_tensor(y):
        require(y.dtype == torch.int64, f"the label is {y.dtype}: CrossEntropyLoss wants class indices as "
                                        "int64 (torch.long), a float label fails in the loss",
                zh=f"标签的数据类型是 {y.dtype}：CrossEntropyLoss 要求类别索引为 "
                   "int64（torch.long），浮点标签会在计算损失时出错")
    require(int(y) == 4, f"dataset[2] has label {int(y)}, expected 4: return labels[index]",
            zh=f"dataset[2] 的标签是 {int(y)}，应为 4：请返回 labels[index]")
    xs, ys = next(iter(DataLoader(dataset, batch_size=4)))
    require(xs.shape == (4, 64) and ys.shape == (4,) and ys.dtype == torch.int64,
            f"a DataLoader over your dataset gives batches of shape {tuple(xs.shape)} and labels "
            f"{tuple(ys.shape)} {ys.dtype}; expected (4, 64) and (4,) int64",
            zh=f"在你的数据集上用 DataLoader 得到的批次形状是 {tuple(xs.shape)}，标签是 "
               f"{tuple(ys.shape)} {ys.dtype}；应为 (4, 64) 和 (4,) int64")
    require(torch.equal(ys, torch.tensor([3, 1, 4, 1])), "the batch's labels are not the first four labels",
            zh="这个批次的标签不是前四个标签")
    return say("A DataLoader batches any Dataset like this one; chapter 14 reads images from disk the same way.",
               "DataLoader 可以把任何像这样的 Dataset 组成批次；第 14 章用同样的方式从磁盘读取图像。")


q3 = Question("q3", "a Dataset class", _check_dataset, chapter="05",
              hint="__init__ keeps the data (converted once to float32 / int64 tensors, pixels divided by 16, "
                   "without changing the arrays you were given), __len__ counts the examples, __getitem__ "
                   "returns one (x, y) pair.",
              reference=_DATASET_SOLUTION, title_zh="一个 Dataset 类",
              hint_zh="__init__ 保存数据（一次性转换为 float32 / int64 张量，像素除以 16，且不改变传给你的数组），"
                      "__len__ 统计样本数，__getitem__ 返回一对 (x, y)。")
