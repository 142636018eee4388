"""The training loop as one reusable function: ``fit()``, ``evaluate()``, ``accuracy()``.

Built step by step in chapter 05 (the training loop); used from chapter 05 on. ``fit()`` runs the
loop chapter 05 writes by hand (zero_grad → forward → loss → backward → step, then a validation
pass under ``torch.no_grad()`` in ``eval()`` mode) and adds what a real run needs:

- a per-epoch ``History`` (losses, metrics, learning rate, seconds), with ``history.best``, and the
  learning rate of every step when the scheduler steps per batch (``history.lr_steps``);
- running sums kept on the device: one synchronisation per epoch, not one per batch;
- a learning-rate scheduler stepped after the optimizer, per epoch or per batch;
- early stopping on a chosen column of the history, and ``restore_best=True``;
- gradient clipping, and mixed precision on CUDA (bfloat16 where the GPU has it, else float16);
- ``freeze(module)``: a frozen part keeps its weights and, in eval mode, its batch-norm statistics;
- checkpoints (``utils.checkpoints``) so that ``resume=True`` after a lost session ends with exactly
  the numbers of an uninterrupted run, and ``simulate_lost_session()`` to try it;
- one progress bar over the epochs;
- DistributedDataParallel under torchrun (chapter 15, ``utils.distributed``): a ``DistributedSampler``
  gets ``set_epoch`` and seeds each rank's random numbers per epoch, losses and metrics are summed
  across ranks, and only rank 0 prints and writes checkpoints, from the unwrapped model, so that a
  run resumes with any number of processes.
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from utils import distributed
from utils.distributed import print_once
from utils.checkpoints import (CheckpointError, describe_run, load_checkpoint, lose_session_if_simulated,
                               prepare_folder, resume_from, save_checkpoint, simulate_lost_session, snapshot)

__all__ = ["CheckpointError", "History", "Precision", "accuracy", "choose_precision", "evaluate", "fit",
           "freeze", "load_checkpoint", "save_checkpoint", "simulate_lost_session", "unfreeze"]

COLUMNS = ("train_loss", "train_metric", "val_loss", "val_metric")
FROZEN = "_frozen_by_freeze"  # the mark freeze() leaves on every module it freezes
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def _sum_dtype(device: torch.device) -> torch.dtype:
    """float64, so sums on the device match Python's; Apple's MPS has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The fraction of rows whose largest logit is the target class, as a 0-d tensor (chapter 05).

    A tensor, so that ``fit()`` can add it up where it was computed without waiting for the GPU;
    ``float(accuracy(...))`` or ``.item()`` gives the Python number, and f-strings format it as one.
    It is float64 (float32 on Apple's MPS), so fit()'s averages equal a Python loop's exactly.
    """
    correct = (logits.argmax(dim=1) == targets).sum(dtype=_sum_dtype(logits.device))
    return correct / len(targets)


class History(list):
    """One dict per epoch: epoch, train_loss, train_metric, val_loss, val_metric, lr, seconds.

    ``best`` is the row with the lowest (``mode="min"``) or highest (``"max"``) ``monitor``
    value, the earliest on ties; ``stopped_early`` says whether early stopping ended the run;
    ``column("val_loss")`` is one column as a list; ``lr_steps`` is the learning rate of every
    optimizer step when the scheduler steps per batch (empty otherwise: the lr column says it
    all). Built in chapter 05.
    """

    def __init__(self, rows=(), *, monitor: str = "val_loss", mode: str = "min",
                 metric_name: str = "metric", stopped_early: bool = False, lr_steps=()):
        super().__init__(dict(row) for row in rows)
        self.monitor, self.mode, self.metric_name = monitor, mode, metric_name
        self.stopped_early = stopped_early
        self.lr_steps = list(lr_steps)

    def _better(self, value: float, than: float) -> bool:
        if math.isnan(value):
            return False
        return math.isnan(than) or (value < than if self.mode == "min" else value > than)

    @property
    def best(self) -> dict | None:
        best = None
        for row in self:
            if best is None or self._better(row[self.monitor], best[self.monitor]):
                best = row
        return best

    def column(self, key: str) -> list:
        return [row[key] for row in self]

    def __repr__(self) -> str:
        best = self.best
        where = f", best epoch {best['epoch']} ({self.monitor} {best[self.monitor]:.4g})" if best else ""
        return f"History({len(self)} epochs{where}{', stopped early' if self.stopped_early else ''})"


# ------------------------------------------------------------------------------- freezing

def freeze(module: nn.Module) -> nn.Module:
    """Freeze ``module``: no gradients for its parameters, and eval mode inside ``fit()``.

    ``requires_grad=False`` alone is not enough: ``model.train()`` puts batch norm back into
    training mode, where every batch overwrites its running statistics. ``fit()`` keeps every
    module frozen here (batch norm and dropout inside it too) in eval mode each epoch; in a loop of
    your own, call ``module.eval()`` after ``model.train()``. Works on a slice such as
    ``freeze(model[:4])``. Returns ``module``. Introduced in chapter 13 (transfer learning).
    """
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    for part in module.modules():
        setattr(part, FROZEN, True)
    return module.eval()


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo ``freeze()`` for ``module`` (e.g. ``layer4`` of a frozen backbone): it trains again.

    Introduced in chapter 13 (transfer learning). Returns ``module``.
    """
    for parameter in module.parameters():
        parameter.requires_grad_(True)
    for part in module.modules():
        part.__dict__.pop(FROZEN, None)
    return module


def _set_mode(model: nn.Module, training: bool) -> None:
    """``model.train(training)``, but frozen modules stay in eval mode."""
    model.train(training)
    if training:
        for part in model.modules():
            if getattr(part, FROZEN, False):
                part.training = False


def _warn_about_drifting_batch_norm(model: nn.Module) -> None:
    drifting = [name for name, part in model.named_modules()
                if isinstance(part, BATCH_NORMS) and part.track_running_stats and part.affine
                and not getattr(part, FROZEN, False) and not part.weight.requires_grad]
    if drifting:
        warnings.warn(f"batch norm {', '.join(drifting[:3])} has requires_grad=False, but in train mode it "
                      "still updates its running statistics with every batch. To keep a part of the model "
                      "as it is, freeze it with utils.training.freeze(module).", UserWarning, stacklevel=3)


# ------------------------------------------------------------------------------ precision

@dataclass(frozen=True)
class Precision:
    """How ``fit()`` computes: ``dtype`` for autocast (None: float32), whether a GradScaler is needed, a note."""

    dtype: torch.dtype | None
    scaler: bool
    note: str | None = None


def _native_bf16() -> bool:
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch before 2.4 has no including_emulation
        return torch.cuda.is_bf16_supported()


def choose_precision(amp, device) -> Precision:
    """What ``fit(amp=...)`` means on ``device`` (chapter 15 measures it).

    ``False``: float32. ``True``: on a CUDA GPU, bfloat16 autocast where the GPU computes in it
    natively (compute capability 8.0 and up: A100, RTX 30xx, H100), with no GradScaler, since
    bfloat16 has float32's range; else float16 with a GradScaler. ``"bf16"`` and ``"fp16"`` ask for
    one (``"bf16"`` falls back to float16, with a note, where the GPU lacks it). On the CPU or
    Apple's MPS: float32, with a note.
    """
    if amp not in (False, True, "bf16", "fp16"):
        raise ValueError(f"amp={amp!r}: choose False, True (the best the GPU offers), 'bf16' or 'fp16'")
    device = torch.device(device)
    if amp is False:
        return Precision(None, scaler=False)
    if device.type != "cuda":
        return Precision(None, scaler=False, note=f"amp={amp!r}: mixed precision needs a CUDA GPU, so on "
                                                  f"{device.type} training runs in float32.")
    if amp != "fp16" and _native_bf16():
        return Precision(torch.bfloat16, scaler=False)
    note = ("amp='bf16': this GPU does not compute in bfloat16 natively (that needs compute capability 8.0, "
            "e.g. an A100; a T4 has 7.5), so training uses float16 with a GradScaler." if amp == "bf16" else None)
    return Precision(torch.float16, scaler=True, note=note)


def _grad_scaler():
    if hasattr(torch.amp, "GradScaler"):  # torch 2.3 and newer
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


# ---------------------------------------------------------------------------- the loop

def _device_of(model: nn.Module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _move(batch, device):
    inputs, targets = batch
    return inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)


class _Sums(NamedTuple):
    """An epoch's loss and metric summed on the device, each batch weighted by its size."""

    loss: torch.Tensor
    metric: torch.Tensor
    count: int


def _zeros(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.zeros((), dtype=_sum_dtype(device), device=device),
            torch.zeros((), dtype=_sum_dtype(device), device=device))


def _add_metric(total: torch.Tensor, value, n: int, metric: Callable) -> None:
    """Add a batch's metric, a float or a one-number tensor, to ``total`` without leaving the device."""
    if torch.is_tensor(value):
        if value.numel() != 1:
            raise ValueError(f"the metric {getattr(metric, '__name__', metric)!r} returned a tensor of shape "
                             f"{tuple(value.shape)}: it must return one number per batch (a float or a 0-d "
                             "tensor), e.g. the mean over the batch")
        if value.requires_grad:  # a metric on outputs that still carry the graph: keep the sum free of it
            value = value.detach()
        total.add_(value.reshape(()) if value.ndim else value, alpha=n)
        return
    try:
        total.add_(float(value) * n)
    except (TypeError, ValueError):
        raise ValueError(f"the metric {getattr(metric, '__name__', metric)!r} returned "
                         f"{type(value).__name__} {value!r}: it must return one number per batch "
                         "(a float or a 0-d tensor)") from None


def _means(sums: list[_Sums], metric) -> list[float]:
    """Per-example means of each _Sums, read from the device in one copy: the epoch's only synchronisation.

    Under DDP the sums and counts of every rank are added up first (one all_reduce), so every rank
    gets the means over all the examples of all ranks.
    """
    totals = torch.stack([t for s in sums for t in (s.loss, s.metric)])
    counts = [s.count for s in sums]
    if distributed.world_size() > 1:
        both = torch.cat([totals, torch.tensor(counts, dtype=totals.dtype, device=totals.device)])
        values = distributed.sum_across_ranks(both).tolist()
        totals, counts = values[:len(totals)], values[len(totals):]
    else:
        totals = totals.tolist()
    means = []
    for index, count in enumerate(counts):
        means += [totals[2 * index] / count, totals[2 * index + 1] / count if metric is not None else math.nan]
    return means


def _evaluate(model, loader, loss_fn, metric, device, autocast) -> _Sums:
    was_training = model.training
    model.eval()  # dropout off, batch norm uses its running statistics
    loss_sum, metric_sum = _zeros(device)
    count = 0
    with torch.no_grad():  # no graph: less memory, faster, and nothing can leak into .grad
        for batch in loader:
            inputs, targets = _move(batch, device)
            with autocast():
                outputs = model(inputs)
                loss = loss_fn(outputs, targets)
            n = len(targets)
            loss_sum.add_(loss, alpha=n)  # weight by batch size: the last batch may be short
            if metric is not None:
                _add_metric(metric_sum, metric(outputs, targets), n, metric)
            count += n
    _set_mode(model, was_training)
    if count == 0:
        raise ValueError("the loader gave no batches: is its dataset empty?")
    return _Sums(loss_sum, metric_sum, count)


def evaluate(model: nn.Module, loader, *, loss_fn=None, metric: Callable | None = accuracy,
             device=None) -> dict:
    """Average loss and metric of ``model`` over ``loader``, in eval() mode under no_grad().

    Averages are weighted by batch size, so a short last batch counts for what it holds; they are
    summed on the device and read once, as in ``fit()``. ``loss_fn=None`` means cross-entropy; the
    model's train/eval mode is restored afterwards. Returns ``{"loss": ..., "metric": ...}`` (Python
    floats). Built in chapter 05.
    """
    device = _device_of(model, device)
    model.to(device)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    loss, value = _means([_evaluate(model, loader, loss_fn, metric, device, contextlib.nullcontext)], metric)
    return {"loss": loss, "metric": value}


class _Stepper:
    """One optimizer step from a batch's loss: backward → (unscale) → clip → step → batch scheduler."""

    def __init__(self, optimizer, scaler, clip_grad_norm, batch_scheduler, lr_steps: list):
        self.optimizer, self.scaler, self.max_norm = optimizer, scaler, clip_grad_norm
        self.parameters = [p for group in optimizer.param_groups for p in group["params"]]
        self.batch_scheduler, self.lr_steps = batch_scheduler, lr_steps

    def _clip(self) -> None:
        if self.max_norm is not None:  # rescale all gradients together so their norm is at most max_norm
            nn.utils.clip_grad_norm_(self.parameters, self.max_norm)

    def __call__(self, loss: torch.Tensor) -> None:
        optimizer, scaler = self.optimizer, self.scaler
        if self.batch_scheduler is not None:
            self.lr_steps.append(optimizer.param_groups[0]["lr"])
        stepped = True
        if scaler is None:
            loss.backward()
            self._clip()
            optimizer.step()
        else:  # float16: scale the loss so small gradients do not underflow
            scaler.scale(loss).backward()
            if self.max_norm is not None:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            self._clip()
            scale = scaler.get_scale() if self.batch_scheduler is not None else None  # a sync: only if needed
            scaler.step(optimizer)  # skipped when the gradients hold inf or NaN
            scaler.update()
            stepped = scale is None or scaler.get_scale() >= scale  # the scale drops when it was skipped
        if self.batch_scheduler is not None and stepped:
            self.batch_scheduler.step()  # after optimizer.step(), never before


def _train_epoch(model, loader, step: _Stepper, loss_fn, metric, device, autocast) -> _Sums:
    _set_mode(model, True)  # dropout on, batch norm uses and updates batch statistics (unless frozen)
    loss_sum, metric_sum = _zeros(device)
    count = 0
    for batch in loader:
        inputs, targets = _move(batch, device)
        step.optimizer.zero_grad(set_to_none=True)  # gradients accumulate unless cleared
        with autocast():
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
        step(loss)
        n = len(targets)
        loss_sum.add_(loss.detach(), alpha=n)  # stays on the device: no .item(), no waiting
        if metric is not None:  # on the detached outputs: no graph is built for it
            _add_metric(metric_sum, metric(outputs.detach(), targets), n, metric)
        count += n
    if count == 0:
        raise ValueError("the training loader gave no batches: is its dataset empty?")
    return _Sums(loss_sum, metric_sum, count)


def _start_epoch(loader, epoch: int) -> None:
    """Under DDP the epoch's order (``set_epoch``) and each rank's random numbers come from (seed, epoch)."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)  # without it, every epoch would repeat the first one's order
    if isinstance(sampler, DistributedSampler):
        torch.manual_seed(distributed.epoch_seed(sampler.seed, epoch))


def _progress_bar(total: int, initial: int, enabled: bool):
    """One bar over the epochs: a widget in a Jupyter front end, plain text elsewhere."""
    from utils.widgets import has_frontend

    if has_frontend():
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, initial=initial, desc="training", unit="epoch", disable=not enabled,
                leave=True, mininterval=0.5)


def _check_arguments(model, optimizer, epochs, scheduler, scheduler_step, early_stopping, monitor,
                     mode, checkpoint_dir, resume, clip_grad_norm):
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r}: give a whole number of epochs, at least 1")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step={scheduler_step!r}: choose 'epoch' or 'batch'")
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and scheduler_step == "batch":
        raise ValueError("ReduceLROnPlateau watches a validation number, so it steps once per epoch: "
                         "use scheduler_step='epoch'")
    if mode not in ("min", "max"):
        raise ValueError(f"mode={mode!r}: 'min' for losses, 'max' for accuracy-like metrics")
    if monitor not in COLUMNS:
        raise ValueError(f"monitor={monitor!r}: choose one of {', '.join(COLUMNS)}")
    if early_stopping is not None and (not isinstance(early_stopping, int) or early_stopping < 1):
        raise ValueError(f"early_stopping={early_stopping!r}: the patience is a number of epochs, at least 1")
    if clip_grad_norm is not None and not (isinstance(clip_grad_norm, (int, float)) and 0 < clip_grad_norm < math.inf):
        raise ValueError(f"clip_grad_norm={clip_grad_norm!r}: the largest gradient norm, a positive number "
                         "such as 1.0")
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir=..., the folder the interrupted run wrote to")
    owned = {id(p) for p in model.parameters()}
    if not any(id(p) in owned for group in optimizer.param_groups for p in group["params"]):
        raise ValueError("the optimizer holds none of this model's parameters: was it made for "
                         "another model? Create it after the model: torch.optim.SGD(model.parameters(), ...)")
    return plateau


def fit(model: nn.Module, train_loader, val_loader, *, epochs: int, optimizer, loss_fn=None,
        metric: Callable | None = accuracy, scheduler=None, scheduler_step: str = "epoch",
        device=None, early_stopping: int | None = None, monitor: str = "val_loss", mode: str = "min",
        checkpoint_dir=None, resume: bool = False, restore_best: bool = False,
        clip_grad_norm: float | None = None, amp: bool | str = False, progress: bool = True) -> History:
    """Train ``model`` for ``epochs``, validating after each, and return the ``History``.

    - ``loss_fn`` (default cross-entropy) and ``metric(outputs, targets)`` (default ``accuracy``;
      ``None`` for none; a float or a 0-d tensor) may be anything; batches are ``(inputs, targets)``.
    - ``scheduler`` is stepped after ``optimizer.step()``: once per epoch, or after every batch with
      ``scheduler_step="batch"`` (then ``history.lr_steps`` holds every step's learning rate).
      ReduceLROnPlateau is given the ``monitor`` value.
    - ``early_stopping=p`` stops when ``monitor`` has not improved (``mode`` "min" or "max") for p
      epochs; ``restore_best=True`` ends with the best epoch's weights in ``model`` (from ``best.pt``
      with a checkpoint_dir, else from a copy in memory). Without either, early stopping warns that
      the model keeps the last epoch's weights.
    - ``checkpoint_dir``: ``last.pt`` after every epoch, ``best.pt`` when ``monitor`` improves,
      both atomic. ``resume=True`` continues from ``last.pt``; when there is none it says so and
      starts at epoch 1, so the same cell works before and after a lost session. A resume that
      differs from the run that wrote ``last.pt`` (model, optimizer, scheduler, monitor, fewer
      epochs) is refused with a ``CheckpointError`` that says what differs.
    - ``clip_grad_norm=c`` rescales the gradients so their total norm is at most c (after unscaling
      them, under float16).
    - ``amp``: mixed precision on CUDA, see ``choose_precision``; elsewhere a note, and float32.
    - Modules frozen with ``freeze()`` stay in eval mode; ``device`` (default: where the model is)
      is where training runs. ``val_loader=None`` skips validation (val columns NaN; a val_
      monitor falls back to train_).
    - Under torchrun, with ``model`` wrapped in DistributedDataParallel and loaders sharded by
      ``utils.distributed.shard_sampler`` (chapter 15): every rank calls fit(); the history holds
      means over all ranks' examples; rank 0 alone prints and writes checkpoints, and any number of
      processes can resume them (keep the global batch to continue the same run).

    Built step by step in chapter 05; used from chapter 05 on.
    """
    if val_loader is None and monitor.startswith("val_"):
        monitor = "train_" + monitor[len("val_"):]
    plateau = _check_arguments(model, optimizer, epochs, scheduler, scheduler_step, early_stopping,
                               monitor, mode, checkpoint_dir, resume, clip_grad_norm)
    device = _device_of(model, device)
    model.to(device)
    plain = distributed.unwrap(model)  # checkpoints hold the model without DDP's "module." prefix
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    if isinstance(loss_fn, nn.Module):
        loss_fn.to(device)
    precision = choose_precision(amp, device)
    if precision.note:
        print_once(precision.note)
    scaler = _grad_scaler() if precision.scaler else None

    def autocast():
        return torch.autocast(device.type, dtype=precision.dtype) if precision.dtype else contextlib.nullcontext()

    run = describe_run(optimizer, scheduler, scheduler_step, monitor, mode)
    history = History(monitor=monitor, mode=mode, metric_name=getattr(metric, "__name__", "metric"))
    folder = prepare_folder(checkpoint_dir) if checkpoint_dir is not None else None
    if early_stopping is not None and folder is None and not restore_best:
        warnings.warn(f"early_stopping={early_stopping} without restore_best=True or a checkpoint_dir: when "
                      f"training stops, the model keeps the last epoch's weights, {early_stopping} epochs "
                      "past the best. Pass restore_best=True to end with the best epoch's weights.",
                      UserWarning, stacklevel=2)
    _warn_about_drifting_batch_norm(model)
    if folder is not None:
        last = folder / "last.pt"
        if resume and last.is_file():
            state = resume_from(last, model=plain, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                                train_loader=train_loader, run=run, epochs=epochs)
            history = History(state["history"], monitor=monitor, mode=mode, metric_name=history.metric_name,
                              stopped_early=state["stopped_early"], lr_steps=state.get("lr_steps", ()))
            print_once(f"Resuming from {last}: {state['epoch']} of {epochs} epochs were done.")
        elif resume:
            print_once(f"resume=True, but {folder} holds no checkpoint yet: training starts at epoch 1.")
        elif last.is_file():
            print_once(f"Note: {folder} holds an earlier run's checkpoints; resume=False starts afresh "
                       "and overwrites them.")

    step = _Stepper(optimizer, scaler, clip_grad_norm, scheduler if scheduler_step == "batch" else None,
                    history.lr_steps)
    best_weights = None
    done = len(history)
    bar = _progress_bar(epochs, min(done, epochs), progress and distributed.is_main())
    try:
        for epoch in range(done + 1, epochs + 1):
            if history.stopped_early:
                break
            began = time.perf_counter()
            _start_epoch(train_loader, epoch)
            lr = optimizer.param_groups[0]["lr"]
            sums = [_train_epoch(model, train_loader, step, loss_fn, metric, device, autocast)]
            if val_loader is not None:
                sums.append(_evaluate(model, val_loader, loss_fn, metric, device, autocast))
            means = _means(sums, metric) + [math.nan, math.nan] * (val_loader is None)
            train_loss, train_metric, val_loss, val_metric = means
            row = {"epoch": epoch, "train_loss": train_loss, "train_metric": train_metric,
                   "val_loss": val_loss, "val_metric": val_metric, "lr": lr,
                   "seconds": time.perf_counter() - began}
            if plateau:
                scheduler.step(row[monitor])
            elif scheduler is not None and scheduler_step == "epoch":
                scheduler.step()
            history.append(row)
            best = history.best
            if early_stopping is not None and epoch - best["epoch"] >= early_stopping:
                history.stopped_early = True
            if restore_best and folder is None and best is row:
                best_weights = {name: tensor.detach().clone() for name, tensor in plain.state_dict().items()}
            if folder is not None and distributed.is_main():  # one writer: every rank holds the same state
                state = snapshot(epoch=epoch, model=plain, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                                 history=history, train_loader=train_loader, run=run)
                if best is row:
                    save_checkpoint(state, folder / "best.pt")
                save_checkpoint(state, folder / "last.pt")
            bar.update(1)
            shown = f"train loss {train_loss:.4f}"
            if val_loader is not None:
                shown += f" · val loss {val_loss:.4f} · val {history.metric_name} {val_metric:.4f}"
            bar.set_postfix_str(shown, refresh=False)
            lose_session_if_simulated(epoch, epochs, history, folder)
    finally:
        bar.close()
    best = history.best
    if history.stopped_early and progress and early_stopping is not None:
        print_once(f"Early stopping after epoch {len(history)}: {monitor} has not improved for "
                   f"{early_stopping} epochs (best {best[monitor]:.4f} at epoch {best['epoch']}).")
    if restore_best and best is not None:
        if folder is not None:
            distributed.barrier()  # under DDP: until rank 0 has written best.pt
            load_checkpoint(folder / "best.pt", plain)
        elif best_weights is not None:
            plain.load_state_dict(best_weights)
        if progress:
            print_once(f"Restored the weights of epoch {best['epoch']}, the best by {monitor} "
                       f"({best[monitor]:.4f}).")
    return history
