"""Chapter 05 (the training loop) exercises: one step from several micro-batches (gradient accumulation),
the bugs of a training loop found and fixed, and a Dataset class for NumPy arrays."""
from __future__ import annotations

import numbers
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from utils.exercises import Wrong, Question, as_number, call, close, gap, require, say

CHAPTER = "05"


# q1 · one step from several micro-batches ----------------------------------------------------

def _accumulated_step(model, micro_batches, loss_fn, optimizer):
    total = sum(len(targets) for _, targets in micro_batches)
    optimizer.zero_grad()
    whole_loss = 0.0
    for inputs, targets in micro_batches:
        loss = loss_fn(model(inputs), targets) * len(targets) / total  # this micro-batch's share of the mean
        loss.backward()                                               # adds into .grad
        whole_loss += loss.item()
    optimizer.step()
    return whole_loss


def _problem(seed: int, sizes, optimizer: str = "sgd"):
    """A linear model whose .grad still holds an earlier batch's gradient (all ones), micro-batches of
    the given sizes, cross-entropy and an optimizer."""
    generator = torch.Generator().manual_seed(seed)
    model = nn.Linear(4, 3)
    with torch.no_grad():
        model.weight.copy_(torch.randn(3, 4, generator=generator))
        model.bias.copy_(torch.randn(3, generator=generator))
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)
    batches = [(torch.randn(n, 4, generator=generator), torch.randint(0, 3, (n,), generator=generator))
               for n in sizes]
    step = (torch.optim.SGD(model.parameters(), lr=0.5) if optimizer == "sgd"
            else torch.optim.Adam(model.parameters(), lr=0.05))
    return model, batches, nn.CrossEntropyLoss(), step


def _weights(model) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _after(answer, seed, sizes, optimizer="sgd") -> torch.Tensor:
    """The weights after ``answer`` ran on a fresh problem."""
    problem = _problem(seed, sizes, optimizer)
    answer(*problem)
    return _weights(problem[0])


def _one_big_batch(model, micro_batches, loss_fn, optimizer):
    """What accumulation must equal: one step on all the micro-batches together."""
    inputs = torch.cat([x for x, _ in micro_batches])
    targets = torch.cat([y for _, y in micro_batches])
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def _accumulating(*, clear="before", scale="share"):
    """Gradient accumulation with one of the variations learners write; the defaults are right."""
    def step(model, micro_batches, loss_fn, optimizer):
        total, count = sum(len(y) for _, y in micro_batches), len(micro_batches)
        if clear == "before":
            optimizer.zero_grad()
        for inputs, targets in micro_batches:
            if clear == "inside":
                optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            factor = {"share": len(targets) / total, "count": 1 / count, "none": 1.0}[scale]
            (loss * factor).backward()
        optimizer.step()
    return step


_WEIGHT_MISTAKES = [
    (_accumulating(clear="never"),
     "the update also used the gradient left in .grad from before your function was called: backward() ADDS "
     "into .grad, so clear it once with optimizer.zero_grad() before the first micro-batch",
     "这次更新还用上了调用你的函数之前就留在 .grad 里的梯度：backward() 会把梯度累加到 .grad 中，"
     "所以要在第一个微批次之前调用一次 optimizer.zero_grad() 把它清掉"),
    (_accumulating(clear="inside"),
     "only the last micro-batch's gradient reached the step: zero_grad() inside the loop wipes what the earlier "
     "backward() calls added up. Clear once, before the loop",
     "只有最后一个微批次的梯度进入了这一步：循环里的 zero_grad() 会清掉前面几次 backward() 累加的梯度。"
     "只在循环之前清一次"),
    (_accumulating(scale="none"),
     "the step is too large: each micro-batch's loss is a mean over its own examples, and adding their gradients "
     "adds those means. Scale each loss by its share of the examples, len(targets) / total, before backward()",
     "这一步太大了：每个微批次的损失都是对它自己那些样本的平均，把它们的梯度加起来就是把这些平均值相加。"
     "backward() 之前，把每个损失乘以它所占的样本比例 len(targets) / total"),
    (_accumulating(scale="count"),
     "you divided every loss by the number of micro-batches, but they hold different numbers of examples: the "
     "short one got the weight of a full one. Scale each loss by its share of the examples, len(targets) / total",
     "你把每个损失都除以微批次的个数，但各个微批次的样本数并不相同：短的那个得到了和满的一样的权重。"
     "请把每个损失乘以它所占的样本比例 len(targets) / total"),
]


class _Spy:
    """Counts what an answer does to a problem: forward passes that build a graph (their batch sizes),
    backward passes that reach the weights, and optimizer steps."""

    def __init__(self, problem):
        self.model, _, _, self.optimizer = problem
        self.forwards, self.backwards, self.steps = [], 0, 0
        self.model.register_forward_hook(self._forward)
        self.model.weight.register_hook(self._backward)
        original = self.optimizer.step

        def step(*args, **kwargs):
            self.steps += 1
            return original(*args, **kwargs)
        self.optimizer.step = step

    def _forward(self, module, args, out):
        if torch.is_grad_enabled():
            self.forwards.append(len(args[0]))

    def _backward(self, grad):
        self.backwards += 1


def _whole_loss(seed, sizes):
    model, batches, loss_fn, _ = _problem(seed, sizes)
    with torch.no_grad():
        losses = [(loss_fn(model(x), y).item(), len(y)) for x, y in batches]
    total = sum(n for _, n in losses)
    return losses, sum(loss * n for loss, n in losses) / total


def _check_returned_loss(out, seed, sizes):
    name = "accumulated_step"
    require(not torch.is_tensor(out),
            "you returned a tensor; return the loss as a Python float (add up loss.item() of each micro-batch): "
            "a tensor keeps every micro-batch's graph alive",
            zh="你返回了一个张量；请以 Python 浮点数返回损失（把每个微批次的 loss.item() 加起来）："
               "张量会让每个微批次的计算图一直存活")
    out = as_number(out, name, what="the whole batch's loss", what_zh="整个批次的损失")
    losses, whole = _whole_loss(seed, sizes)
    if abs(out - whole) < 1e-5:
        return
    total, last = sum(n for _, n in losses), losses[-1]
    require(abs(out - last[0]) > 1e-6 and abs(out - last[0] * last[1] / total) > 1e-6,
            "you returned the last micro-batch's loss; return the loss of the whole batch, the sum of every "
            "micro-batch's scaled loss",
            zh="你返回的是最后一个微批次的损失；请返回整个批次的损失，即每个微批次缩放后的损失之和")
    require(abs(out - sum(loss for loss, _ in losses) / len(losses)) > 1e-6,
            "you returned the plain mean of the micro-batches' losses, which gives the short micro-batch the weight "
            "of a full one: weight each by its number of examples",
            zh="你返回的是各微批次损失的简单平均，短的微批次因此得到了和满的一样的权重：请按样本数加权")
    require(abs(out - sum(loss for loss, _ in losses)) > 1e-6,
            "you added up the micro-batches' mean losses: return their weighted mean, the loss of the whole batch",
            zh="你把各微批次的平均损失直接加了起来：请返回它们的加权平均，即整个批次的损失")
    raise Wrong("the weights are right, but the returned loss is not the whole batch's loss before the step: add up "
                "each micro-batch's scaled loss.item() as you go",
                zh="权重是对的，但返回的损失不是更新之前整个批次的损失：在循环中把每个微批次缩放后的 "
                   "loss.item() 累加起来")


def _check_accumulated_step(fn):
    seed, sizes = 11, (4, 4, 2)
    problem = _problem(seed, sizes)
    spy = _Spy(problem)
    out = call(fn, *problem, name="accumulated_step")
    require(spy.forwards != [sum(sizes)],
            "you joined the micro-batches into one batch of them all: that is exactly the batch that does not fit in "
            "memory. Run the model on each micro-batch separately and let backward() add up the gradients",
            zh="你把微批次拼成了一个大批次：而这正是放不进内存的那个批次。请分别在每个微批次上运行模型，"
               "让 backward() 把梯度累加起来")
    require(sorted(spy.forwards) == sorted(sizes),
            f"the model ran {len(spy.forwards)} times on batches of {spy.forwards} examples; run it once on each "
            f"of the {len(sizes)} micro-batches",
            zh=f"模型运行了 {len(spy.forwards)} 次，批次大小为 {spy.forwards}；请在 {len(sizes)} 个微批次上"
               "各运行一次")
    require(spy.backwards != 1,
            "you added up the losses and called backward() once: every micro-batch's graph stayed in memory until "
            "then, which is what accumulation avoids. Call backward() on each micro-batch's loss right away; .grad "
            "adds them up",
            zh="你把损失加起来只调用了一次 backward()：在那之前每个微批次的计算图都留在内存里，而累积梯度"
               "正是为了避免这一点。请对每个微批次的损失立即调用 backward()；.grad 会把它们加起来")
    require(spy.steps <= 1,
            f"optimizer.step() ran {spy.steps} times: accumulation makes ONE step, after the last micro-batch's "
            "backward()", zh=f"optimizer.step() 运行了 {spy.steps} 次：累积梯度只走一步，在最后一个微批次的 backward() 之后")
    mine, expected = _weights(problem[0]), _after(_one_big_batch, seed, sizes)
    if spy.steps == 0:
        require(not torch.equal(mine, _weights(_problem(seed, sizes)[0])),
                "the weights did not change: backward() only computes the gradients, optimizer.step() applies them. "
                "Did you call it?",
                zh="权重没有变：backward() 只计算梯度，optimizer.step() 才应用它们。你调用它了吗？")
        raise Wrong("the weights changed but optimizer.step() never ran: use the optimizer you are given, not a "
                    "hand-written update such as p -= lr * p.grad",
                    zh="权重变了，但 optimizer.step() 从未运行：请使用传给你的优化器，而不是手写的更新，"
                       "比如 p -= lr * p.grad")
    for mistake, en, zh in _WEIGHT_MISTAKES:
        require(not close(mine, _after(mistake, seed, sizes), atol=1e-6), en, zh=zh)
    require(close(mine, expected, atol=1e-6),
            f"the weights after your step differ from one step on the whole batch by up to {gap(mine, expected):.3g}: "
            "clear .grad once, run forward and backward on each micro-batch with its loss scaled by its share of "
            "the examples, then step once",
            zh=f"你这一步之后的权重与在整个批次上走一步的结果最多相差 {gap(mine, expected):.3g}："
               "先清一次 .grad，在每个微批次上做前向和反向传播（损失乘以它所占的样本比例），最后只走一步")
    _check_returned_loss(out, seed, sizes)
    for seed, sizes, optimizer in ((12, (3, 5), "adam"), (13, (2, 6, 6, 1), "sgd")):
        problem = _problem(seed, sizes, optimizer)
        call(fn, *problem, name="accumulated_step")
        require(close(_weights(problem[0]), _after(_one_big_batch, seed, sizes, optimizer), atol=1e-6),
                "right on the first problem but not on another one (other micro-batch sizes, and Adam as the "
                "optimizer): compute from the micro-batches you are given, and let optimizer.step() apply the update",
                zh="第一个问题正确，另一个问题却不对（微批次大小不同，优化器换成了 Adam）："
                   "请根据传给你的微批次计算，并让 optimizer.step() 完成更新")
    return say("Four micro-batches of 64, accumulated this way, give the step of one batch of 256 in the memory of 64.",
               "这样累积四个大小为 64 的微批次，就能用 64 的内存得到一个大小为 256 的批次的那一步。")


q1 = Question("q1", "one step from several micro-batches", _check_accumulated_step, chapter=CHAPTER,
              hint="backward() adds into .grad. Clear it once; for each micro-batch, run the model and scale its loss "
                   "so that all the scaled losses add up to the mean over every example; one step at the end.",
              reference=_accumulated_step, title_zh="用几个微批次走一步",
              hint_zh="backward() 会累加到 .grad 中。先清一次；对每个微批次运行模型，并把它的损失缩放，"
                      "让所有缩放后的损失加起来正好是全部样本上的平均；最后只走一步。")


# q2 · the bugs of a training loop ------------------------------------------------------------

def _train_and_keep_best(model, train_loader, val_loader, loss_fn, optimizer, scheduler, epochs, folder):
    best_acc = 0.0
    for epoch in range(1, epochs + 1):
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        scheduler.step()                 # after the epoch's optimizer steps, not before them
        model.eval()                     # dropout and batch norm in evaluation mode for validation
        with torch.no_grad():
            correct = sum((model(images).argmax(dim=1) == labels).sum().item() for images, labels in val_loader)
        acc = correct / len(val_loader.dataset)
        if acc > best_acc:
            best_acc = acc
            torch.save(model.state_dict(), Path(folder) / f"epoch_{epoch:03d}.pt")  # a name no epoch shares
    return best_acc


class _Scripted(nn.Module):
    """A model whose validation accuracy after each epoch follows a script, and which records every call.

    Rows are [phase, value]: phase 1 for training rows, 0 for validation rows, whose value is the row's
    index. All validation labels are 0; after e epochs (counted in optimizer steps) the first
    ``accuracies[e - 1]·n`` validation rows are predicted right and the others wrong.
    """

    def __init__(self, accuracies, val_size, steps_per_epoch, events):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.dropout = nn.Dropout(0.5)
        self.accuracies, self.val_size, self.steps_per_epoch, self.events = accuracies, val_size, steps_per_epoch, events
        self.calls = []  # (phase, training mode, gradients on)

    def forward(self, x):
        validation = bool((x[:, 0] == 0).all())
        self.calls.append(("validation" if validation else "training", self.training, torch.is_grad_enabled()))
        if not validation:
            return self.dropout(self.scale * torch.stack([x[:, 1], -x[:, 1]], dim=1))
        steps = sum(1 for event in self.events if event[0] == "step")
        epoch = min(max(steps // self.steps_per_epoch, 1), len(self.accuracies))
        right = round(self.accuracies[epoch - 1] * self.val_size)
        sign = torch.where(x[:, 1] < right, 1.0, -1.0)
        return 10 * torch.stack([sign, -sign], dim=1) + 0 * self.scale


class _SpiedStepLR(torch.optim.lr_scheduler.StepLR):
    """StepLR that writes ("schedule",) into ``events`` at every step after construction."""

    events = None

    def step(self, epoch=None):
        if self.events is not None:
            self.events.append(("schedule",))
        super().step(epoch)


def _spied_optimizer(kind: str, parameters, lr: float, events: list):
    """An SGD or Adam that writes ("step", learning rate) into ``events`` at every step."""
    base = torch.optim.SGD if kind == "sgd" else torch.optim.Adam

    class Spied(base):
        def step(self, closure=None):
            events.append(("step", self.param_groups[0]["lr"]))
            return super().step(closure)
    Spied.__name__ = Spied.__qualname__ = base.__name__
    return Spied(parameters, lr=lr)


class _Run:
    """One scripted training run of the learner's loop: what it was given and what it did."""

    def __init__(self, accuracies, *, optimizer="sgd", lr=0.1, gamma=0.5, val_size=5000):
        self.accuracies, self.epochs, self.lr, self.gamma = list(accuracies), len(accuracies), lr, gamma
        self.events = []
        train = TensorDataset(torch.tensor([[1.0, 1.0], [1.0, -1.0]] * 4), torch.tensor([0, 1] * 4))
        val = TensorDataset(torch.stack([torch.zeros(val_size), torch.arange(val_size, dtype=torch.float32)], 1),
                            torch.zeros(val_size, dtype=torch.int64))
        self.train_loader, self.val_loader = DataLoader(train, batch_size=4), DataLoader(val, batch_size=1000)
        self.model = _Scripted(self.accuracies, val_size, len(self.train_loader), self.events)
        self.optimizer = _spied_optimizer(optimizer, self.model.parameters(), lr, self.events)
        self.scheduler = _SpiedStepLR(self.optimizer, step_size=1, gamma=gamma)
        self.scheduler.events = self.events
        self.improvements = sum(1 for i, a in enumerate(self.accuracies) if a > max([0.0] + self.accuracies[:i]))

    def run(self, fn):
        """Call fn in a fresh folder (the working directory too, so that stray files land there) and return
        what it returned, the files in its folder and the files it left elsewhere."""
        with tempfile.TemporaryDirectory(prefix="course-05-q2-") as place:
            folder, before = Path(place) / "checkpoints", os.getcwd()
            folder.mkdir()
            os.chdir(place)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = call(fn, self.model, self.train_loader, self.val_loader, nn.CrossEntropyLoss(),
                               self.optimizer, self.scheduler, self.epochs, folder, name="train_and_keep_best")
            finally:
                os.chdir(before)
            saved = {path.name: _loadable(path) for path in sorted(folder.iterdir())}
            stray = sorted(path.name for path in Path(place).iterdir() if path != folder)
        return out, saved, stray


def _loadable(path: Path):
    try:
        state = torch.load(path, weights_only=True)
    except Exception:
        return False
    return isinstance(state, dict) and "scale" in state


def _check_modes(run: _Run):
    calls = run.model.calls
    training = [call_ for call_ in calls if call_[0] == "training"]
    validation = [call_ for call_ in calls if call_[0] == "validation"]
    require(training, "the model never ran on train_loader: train on every batch of it in each epoch",
            zh="模型从未在 train_loader 上运行：每个轮次都要在它的每个批次上训练")
    require(validation, "the model never ran on val_loader: measure the validation accuracy after each epoch",
            zh="模型从未在 val_loader 上运行：每个轮次之后都要测量验证准确率")
    require(not any(mode for _, mode, _ in validation),
            "validation ran in training mode: dropout was still dropping units and batch norm still used batch "
            "statistics, so the accuracy that picks the checkpoint was that of a damaged model. Call model.eval() "
            "before validating",
            zh="验证是在训练模式下运行的：dropout 仍在丢弃单元，批归一化仍在使用批次统计量，"
               "所以用来挑选检查点的准确率是一个受损模型的准确率。验证之前请调用 model.eval()")
    require(all(mode for _, mode, _ in training),
            "from the second epoch on, training ran in evaluation mode: model.eval() stays in force until "
            "model.train() is called. Call model.train() at the start of every epoch",
            zh="从第二个轮次起，训练是在评估模式下运行的：model.eval() 会一直生效，直到调用 model.train()。"
               "请在每个轮次开始时调用 model.train()")
    require(not any(grad for _, _, grad in validation),
            "validation ran with gradients on: every batch built a graph that no backward() uses. Keep the "
            "validation loop inside `with torch.no_grad():`",
            zh="验证时梯度是开着的：每个批次都构建了一张没有 backward() 会用到的计算图。"
               "请把验证循环放在 `with torch.no_grad():` 里面")


def _check_schedule(run: _Run):
    events, per_epoch = run.events, len(run.train_loader)
    schedules = sum(1 for event in events if event[0] == "schedule")
    require(schedules, "the learning rate never changed: the loop must step the scheduler, once per epoch",
            zh="学习率从未改变：循环必须让调度器前进，每个轮次一次")
    first_step = next((i for i, event in enumerate(events) if event[0] == "step"), len(events))
    first_schedule = next(i for i, event in enumerate(events) if event[0] == "schedule")
    require(first_schedule > first_step,
            "scheduler.step() ran before optimizer.step(): the first epoch already trained at the second epoch's "
            "learning rate, one value of the schedule was skipped (PyTorch warns about exactly this). Step the "
            "scheduler after the epoch's optimizer steps",
            zh="scheduler.step() 在 optimizer.step() 之前运行了：第一个轮次就已经用第二个轮次的学习率在训练，"
               "调度表的一个值被跳过了（PyTorch 正是为此发出警告）。请在本轮次的 optimizer.step() 之后再让调度器前进")
    require(schedules <= run.epochs,
            f"the scheduler was stepped {schedules} times in {run.epochs} epochs: StepLR counts epochs, so step it "
            "once per epoch, after the loop over the batches, not after every batch",
            zh=f"{run.epochs} 个轮次里调度器前进了 {schedules} 次：StepLR 按轮次计数，"
               "所以每个轮次只让它前进一次，放在批次循环之后，而不是每个批次之后")
    rates = [event[1] for event in events if event[0] == "step"]
    expected = [run.lr * run.gamma ** (step // per_epoch) for step in range(run.epochs * per_epoch)]
    require(len(rates) == len(expected) and all(abs(a - b) < 1e-12 for a, b in zip(rates, expected)),
            "the learning rate did not follow the schedule epoch by epoch: train every epoch on all of train_loader "
            "with one optimizer.step() per batch, and step the scheduler once at the end of each epoch",
            zh="学习率没有逐个轮次地按调度表变化：每个轮次在整个 train_loader 上训练、每个批次一次 "
               "optimizer.step()，并在每个轮次结束时让调度器前进一次")


def _check_checkpoints(run: _Run, saved: dict, stray: list):
    require(not stray, f"files were saved outside `folder` ({', '.join(stray)}): build each path from it, "
                       "Path(folder) / name",
            zh=f"有文件保存在了 `folder` 之外（{', '.join(stray)}）：每个路径都要由它构造，Path(folder) / name")
    require(saved, "no checkpoint was saved in `folder`: save the model's state dict there whenever the validation "
                   "accuracy improves",
            zh="`folder` 里没有保存任何检查点：每当验证准确率提高时，都要把模型的状态字典保存到那里")
    require(all(saved.values()),
            "a checkpoint cannot be read with torch.load(path, weights_only=True): save model.state_dict(), a "
            "dictionary of tensors, not the model object",
            zh="有检查点无法用 torch.load(path, weights_only=True) 读取：请保存 model.state_dict()，"
               "一个由张量组成的字典，而不是模型对象本身")
    require(len(saved) >= run.improvements,
            f"the validation accuracy improved {run.improvements} times, but only {len(saved)} checkpoint files are "
            "left: a later save overwrote an earlier one under the same name. A name made from a rounded accuracy, "
            "round(best_acc, 2), is the same for 0.9 and 0.9002. Name each file by its epoch",
            zh=f"验证准确率提高了 {run.improvements} 次，但只剩下 {len(saved)} 个检查点文件：后一次保存用同一个"
               "名字覆盖了前一次。由四舍五入后的准确率 round(best_acc, 2) 构成的名字，对 0.9 和 0.9002 "
               "是一样的。请用轮次给每个文件命名")
    require(len(saved) == run.improvements,
            f"{len(saved)} checkpoint files for {run.improvements} improvements: save only when the accuracy beats "
            "the best so far, strictly (an equal accuracy is no improvement, and a file per epoch is not asked for)",
            zh=f"准确率提高了 {run.improvements} 次，却有 {len(saved)} 个检查点文件：只有当准确率严格超过"
               "目前最好的值时才保存（相等不算提高，也不要求每个轮次都存一个文件）")


def _check_returned(run: _Run, out):
    out = as_number(out, "train_and_keep_best", what="the best validation accuracy", what_zh="最好的验证准确率")
    best = max(run.accuracies)
    require(abs(out - 100 * best) > 1e-9, "return the accuracy as a fraction between 0 and 1, not a percentage",
            zh="请以 0 到 1 之间的比例返回准确率，而不是百分数")
    require(abs(out - best) < 1e-9,
            "the function must return the best validation accuracy of the run, the one whose checkpoint was saved "
            "last", zh="函数必须返回这次训练中最好的验证准确率，也就是最后一个被保存的检查点所对应的那个")


def _check_training_loop(fn):
    runs = [_Run([0.5, 0.9, 0.9002, 0.95, 0.95, 0.93]),
            _Run([0.3, 0.6, 0.6004, 0.58], optimizer="adam", lr=0.01, gamma=0.1)]  # never printed
    for run in runs:
        out, saved, stray = run.run(fn)
        _check_modes(run)
        _check_schedule(run)
        _check_checkpoints(run, saved, stray)
        _check_returned(run, out)
    return say("Three bugs, none of which raises an error: each quietly changes which checkpoint you keep.",
               "三个错误，没有一个会报错：每一个都悄悄改变了你最终保留的检查点。")


q2 = Question("q2", "find the bugs in a training loop", _check_training_loop, chapter=CHAPTER,
              hint="Read it line by line against the loop of section 6 and fit()'s listing in section 8, asking of "
                   "each line when it runs, in which mode the model is then, and what it leaves on disk.",
              reference=_train_and_keep_best, title_zh="找出训练循环中的错误",
              hint_zh="对照第 6 节的循环和第 8 节中 fit() 的代码逐行阅读，对每一行都问一问：它什么时候运行，"
                      "那时模型处于哪种模式，它在磁盘上留下了什么。")


# q3 · a Dataset class ------------------------------------------------------------------------

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


def _arrays(count: int, seed: int):
    """``count`` images of 64 ink levels 0..16 (float64, as scikit-learn gives them) and integer labels."""
    generator = np.random.default_rng(seed)  # count <= 10: every image gets another label
    return generator.integers(0, 17, size=(count, 64)).astype(np.float64), generator.permutation(10)[:count]


def _check_dataset(cls):
    require(isinstance(cls, type), "pass the class itself (DigitsFromArrays), without creating an object "
                                   f"from it; got {type(cls).__name__}",
            zh="请传入类本身（DigitsFromArrays），不要用它创建对象；"
               f"得到的是 {type(cls).__name__}")
    images, labels = _arrays(5, seed=0)
    original_images, original_labels = images.copy(), labels.copy()
    dataset = call(cls, images, labels, name="DigitsFromArrays(images, labels)")
    require(isinstance(dataset, Dataset), "make it a subclass of torch.utils.data.Dataset: "
                                          "class DigitsFromArrays(Dataset)",
            zh="把它写成 torch.utils.data.Dataset 的子类：class DigitsFromArrays(Dataset)")
    size = call(len, dataset, name="len(dataset)")
    require(size == len(images), f"len(dataset) is {size} for {len(images)} images: one example per image (row). "
                                 "images.size counts every pixel; len(images) counts the rows",
            zh=f"{len(images)} 张图像的 len(dataset) 是 {size}：每张图像（每一行）是一个样本。"
               "images.size 数的是全部像素；len(images) 数的是行数")
    item = call(dataset.__getitem__, 2, name="dataset[2]")
    require(isinstance(item, (tuple, list)) and len(item) == 2,
            f"dataset[i] should return one pair (x, y); got {type(item).__name__}",
            zh=f"dataset[i] 应当返回一对 (x, y)；得到的是 {type(item).__name__}")
    x, y = item
    require(not (_is_label(x) and not _is_label(y)), "x and y are swapped: return (image, label), the order "
                                                      "the training loop unpacks them in",
            zh="x 和 y 弄反了：请返回 (image, label)，这是训练循环解包它们的顺序")
    require(np.array_equal(images, original_images) and np.array_equal(labels, original_labels),
            "your class changed the caller's arrays in place (self.images /= 16 divides the array you were "
            "given, or a tensor sharing its memory). Make a new one: torch.tensor(images) / 16",
            zh="你的类原地修改了调用者的数组（self.images /= 16 会除传给你的那个数组，"
               "或与它共享内存的张量）。请新建一个：torch.tensor(images) / 16")
    require(torch.is_tensor(x), f"x is a {type(x).__name__}: return a tensor (torch.tensor(...)), so batches "
                                "and the model get tensors",
            zh=f"x 是 {type(x).__name__}：请返回张量（torch.tensor(...)），这样批次和模型拿到的都是张量")
    require(x.shape == (64,), f"x has shape {tuple(x.shape)}: return one image, its 64 pixels in a row",
            zh=f"x 的形状是 {tuple(x.shape)}：请返回一张图像，即排成一行的 64 个像素")
    require(x.dtype == torch.float32, f"x is {x.dtype}: NumPy's float64 must become float32, the dtype of the "
                                      "model's weights (torch.tensor(images, dtype=torch.float32))",
            zh=f"x 的数据类型是 {x.dtype}：NumPy 的 float64 必须转成 float32，即模型权重的数据类型"
               "（torch.tensor(images, dtype=torch.float32)）")
    require(not close(x, torch.from_numpy(images[2])), "the pixels are still ink levels 0–16: divide by 16 "
                                                       "so they lie in [0, 1], like the chapter's data",
            zh="像素仍是 0–16 的墨水浓度：除以 16，让它们落在 [0, 1] 内，和本章的数据一样")
    require(close(x, torch.from_numpy(images[2] / 16)), "x is not image `index` divided by 16: return row `index`",
            zh="x 不是第 `index` 张图像除以 16：请返回第 `index` 行")
    require(torch.is_tensor(y) or isinstance(y, (numbers.Integral, np.integer)),
            f"the label is a {type(y).__name__}: return an integer (an int64 tensor or an int)",
            zh=f"标签是 {type(y).__name__}：请返回整数（int64 张量或 int）")
    if torch.is_tensor(y):
        require(y.dtype == torch.int64, f"the label is {y.dtype}: CrossEntropyLoss wants class indices as "
                                        "int64 (torch.long), a float label fails in the loss",
                zh=f"标签的数据类型是 {y.dtype}：CrossEntropyLoss 要求类别索引为 int64（torch.long），"
                   "浮点标签会在计算损失时出错")
    require(int(y) == labels[2], "dataset[2]'s label is not labels[2]: return the label of row `index`",
            zh="dataset[2] 的标签不是 labels[2]：请返回第 `index` 行的标签")
    images, labels = _arrays(9, seed=1)  # another data set, never printed
    xs, ys = next(iter(DataLoader(call(cls, images, labels, name="DigitsFromArrays(images, labels)"), batch_size=4)))
    require(xs.shape == (4, 64) and ys.shape == (4,) and ys.dtype == torch.int64,
            f"a DataLoader over your dataset gives batches of shape {tuple(xs.shape)} with labels of shape "
            f"{tuple(ys.shape)} and dtype {ys.dtype}: each example should be 64 pixels and one int64 label",
            zh=f"在你的数据集上用 DataLoader 得到的批次形状是 {tuple(xs.shape)}，标签形状是 {tuple(ys.shape)}、"
               f"数据类型是 {ys.dtype}：每个样本应是 64 个像素和一个 int64 标签")
    require(torch.equal(ys, torch.from_numpy(labels[:4])) and close(xs, torch.from_numpy(images[:4] / 16)),
            "right for the first data set but not for another one: compute every example from the arrays you "
            "are given",
            zh="第一个数据集正确，另一个却不对：每个样本都要由传给你的数组计算")
    return say("A DataLoader batches any Dataset like this one; chapter 14 reads images from disk the same way.",
               "DataLoader 可以把任何像这样的 Dataset 组成批次；第 14 章用同样的方式从磁盘读取图像。")


q3 = Question("q3", "a Dataset class", _check_dataset, chapter=CHAPTER,
              hint="__init__ keeps the data (converted once to float32 / int64 tensors, pixels divided by 16, "
                   "without changing the arrays you were given), __len__ counts the examples, __getitem__ "
                   "returns one (x, y) pair.",
              reference=_DATASET_SOLUTION, title_zh="一个 Dataset 类",
              hint_zh="__init__ 保存数据（一次性转换为 float32 / int64 张量，像素除以 16，且不改变传给你的数组），"
                      "__len__ 统计样本数，__getitem__ 返回一对 (x, y)。")
