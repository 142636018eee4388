"""The training loop as one reusable function: ``fit()``, ``evaluate()``, ``accuracy()``, checkpoints.

Built step by step in chapter 05 (the training loop); used from chapter 05 on. ``fit()`` runs the
loop chapter 05 writes by hand (zero_grad → forward → loss → backward → step, then a validation
pass under ``torch.no_grad()`` in ``eval()`` mode) and adds what a real run needs:

- a per-epoch ``History`` (losses, metrics, learning rate, seconds), with ``history.best``;
- a learning-rate scheduler stepped after the optimizer, per epoch or per batch;
- early stopping on a chosen column of the history;
- checkpoints ``best.pt`` and ``last.pt``, written atomically, holding everything needed to
  continue (weights, optimizer, scheduler, epoch, history and every random number generator),
  so ``resume=True`` after a lost session ends with exactly the numbers of an uninterrupted run;
- mixed precision on CUDA (``amp=True``) and one progress bar over the epochs.
"""
from __future__ import annotations

import contextlib
import math
import os
import random
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

__all__ = ["CheckpointError", "History", "TrainingInterrupted", "accuracy", "evaluate", "fit",
           "load_checkpoint", "save_checkpoint"]

COLUMNS = ("train_loss", "train_metric", "val_loss", "val_metric")


class TrainingInterrupted(RuntimeError):
    """Raised by ``fit(interrupt_after=k)`` after epoch k's checkpoint, to simulate a lost session.

    ``error.history`` holds the epochs trained before the interruption.
    """

    def __init__(self, message: str, history: "History"):
        super().__init__(message)
        self.history = history


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used: unreadable, or written by a different model or optimizer."""


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The fraction of rows whose largest logit is the target class (chapter 05)."""
    return (logits.argmax(dim=1) == targets).sum().item() / len(targets)


class History(list):
    """One dict per epoch: epoch, train_loss, train_metric, val_loss, val_metric, lr, seconds.

    ``best`` is the row with the lowest (``mode="min"``) or highest (``"max"``) ``monitor``
    value, the earliest on ties; ``stopped_early`` says whether early stopping ended the run;
    ``column("val_loss")`` is one column as a list. Built in chapter 05.
    """

    def __init__(self, rows=(), *, monitor: str = "val_loss", mode: str = "min",
                 metric_name: str = "metric", stopped_early: bool = False):
        super().__init__(dict(row) for row in rows)
        self.monitor, self.mode, self.metric_name = monitor, mode, metric_name
        self.stopped_early = stopped_early

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


# ----------------------------------------------------------------------------- checkpoints

def save_checkpoint(state: dict, path) -> Path:
    """Write ``state`` with torch.save so that ``path`` always holds a whole checkpoint.

    The bytes go to a temporary file in the same folder, are flushed and fsync'ed to the disk,
    and only then does ``os.replace`` swap the file in, in one step. A session lost mid-write
    leaves the previous checkpoint intact. Built in chapter 05.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    return path


def load_checkpoint(path, model: nn.Module, *, optimizer=None, scheduler=None) -> dict:
    """Load a ``fit()`` checkpoint into ``model`` (and optimizer, scheduler); return the whole state.

    Uses ``torch.load(weights_only=True)``: only tensors and plain values are read, never
    arbitrary pickled code. A checkpoint written by a different model, or an unreadable file,
    raises ``CheckpointError`` saying what to do. Built in chapter 05.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: train with fit(..., checkpoint_dir=...) first")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"{path} could not be read as a checkpoint ({type(error).__name__}). It is damaged or was not "
            "written by fit(): delete it, or use another checkpoint_dir. (Loading it with "
            "weights_only=False, as PyTorch's own message suggests, would run any code the file holds: "
            "only ever do that for a file you wrote yourself.)"
        ) from None
    if not isinstance(state, dict) or "model" not in state or "epoch" not in state:
        raise CheckpointError(f"{path} is not a checkpoint written by fit(); for a bare state_dict use "
                              "model.load_state_dict(torch.load(path, weights_only=True))")
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as error:
        detail = " ".join(line.strip() for line in str(error).splitlines()[1:3])
        raise CheckpointError(
            f"the checkpoint {path} was written by a different model: {detail} "
            f"Build the same model as before, or start afresh in a new checkpoint_dir "
            f"(or delete {path.parent})."
        ) from None
    try:
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"the checkpoint {path} was written with a different optimizer or "
                              f"scheduler ({error}). Use the same ones, or a new checkpoint_dir.") from None
    return state


def _rng_state(train_loader) -> dict:
    """Every random stream as tensors and plain values, so weights_only=True can read it back."""
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    generator = getattr(train_loader, "generator", None)
    sampler_generator = getattr(getattr(train_loader, "sampler", None), "generator", None)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": {"keys": torch.from_numpy(numpy_state[1].astype(np.int64)), "pos": int(numpy_state[2]),
                  "has_gauss": int(numpy_state[3]), "cached_gaussian": float(numpy_state[4])},
        "python": {"version": python_state[0], "state": torch.tensor(python_state[1], dtype=torch.int64),
                   "gauss": python_state[2]},
        "loader": generator.get_state() if generator is not None else None,
        "sampler": (sampler_generator.get_state()
                    if sampler_generator is not None and sampler_generator is not generator else None),
    }


def _set_rng_state(state: dict, train_loader) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = state["numpy"]
    np.random.set_state(("MT19937", numpy_state["keys"].numpy().astype(np.uint32), numpy_state["pos"],
                         numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["state"].tolist()), python_state["gauss"]))
    generator = getattr(train_loader, "generator", None)
    if generator is not None and state["loader"] is not None:
        generator.set_state(state["loader"])
    sampler_generator = getattr(getattr(train_loader, "sampler", None), "generator", None)
    if sampler_generator is not None and state["sampler"] is not None:
        sampler_generator.set_state(state["sampler"])


# ---------------------------------------------------------------------------- the loop

def _device_of(model: nn.Module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _move(batch, device):
    inputs, targets = batch
    return inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)


def _evaluate(model, loader, loss_fn, metric, device, autocast) -> tuple[float, float]:
    was_training = model.training
    model.eval()  # dropout off, batch norm uses its running statistics
    total_loss = total_metric = 0.0
    count = 0
    with torch.no_grad():  # no graph: less memory, faster, and nothing can leak into .grad
        for batch in loader:
            inputs, targets = _move(batch, device)
            with autocast():
                outputs = model(inputs)
                loss = loss_fn(outputs, targets)
            n = len(targets)
            total_loss += loss.item() * n  # weight by batch size: the last batch may be short
            if metric is not None:
                total_metric += float(metric(outputs, targets)) * n
            count += n
    model.train(was_training)
    if count == 0:
        raise ValueError("the loader gave no batches: is its dataset empty?")
    return total_loss / count, (total_metric / count if metric is not None else math.nan)


def evaluate(model: nn.Module, loader, *, loss_fn=None, metric: Callable | None = accuracy,
             device=None) -> dict:
    """Average loss and metric of ``model`` over ``loader``, in eval() mode under no_grad().

    Averages are weighted by batch size, so a short last batch counts for what it holds.
    ``loss_fn=None`` means cross-entropy; the model's train/eval mode is restored afterwards.
    Returns ``{"loss": ..., "metric": ...}``. Built in chapter 05.
    """
    device = _device_of(model, device)
    model.to(device)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    loss, value = _evaluate(model, loader, loss_fn, metric, device, contextlib.nullcontext)
    return {"loss": loss, "metric": value}


def _train_epoch(model, loader, optimizer, loss_fn, metric, device, autocast, scaler, batch_scheduler):
    model.train()  # dropout on, batch norm uses and updates batch statistics
    total_loss = total_metric = 0.0
    count = 0
    for batch in loader:
        inputs, targets = _move(batch, device)
        optimizer.zero_grad(set_to_none=True)  # gradients accumulate unless cleared
        with autocast():
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
        stepped = True
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:  # mixed precision: scale the loss so small float16 gradients do not underflow
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scale = scaler.get_scale()
            scaler.update()
            stepped = scaler.get_scale() >= scale  # the scale drops when the step was skipped
        if batch_scheduler is not None and stepped:
            batch_scheduler.step()  # after optimizer.step(), never before
        n = len(targets)
        total_loss += loss.item() * n
        if metric is not None:  # on the detached outputs: no graph is built for it
            total_metric += float(metric(outputs.detach(), targets)) * n
        count += n
    if count == 0:
        raise ValueError("the training loader gave no batches: is its dataset empty?")
    return total_loss / count, (total_metric / count if metric is not None else math.nan)


def _grad_scaler():
    if hasattr(torch.amp, "GradScaler"):  # torch 2.3 and newer
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


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
                     mode, checkpoint_dir, resume):
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
        checkpoint_dir=None, resume: bool = False, amp: bool = False, progress: bool = True,
        interrupt_after: int | None = None) -> History:
    """Train ``model`` for ``epochs``, validating after each, and return the ``History``.

    - ``loss_fn`` (default cross-entropy) and ``metric(outputs, targets) -> float`` (default
      ``accuracy``; ``None`` for none) may be anything; batches are ``(inputs, targets)`` pairs.
    - ``scheduler`` is stepped after ``optimizer.step()``: once per epoch, or after every batch with
      ``scheduler_step="batch"``. ReduceLROnPlateau is given the ``monitor`` value.
    - ``early_stopping=p`` stops when ``monitor`` has not improved (``mode`` "min" or "max") for p epochs.
    - ``checkpoint_dir``: ``last.pt`` after every epoch, ``best.pt`` when ``monitor`` improves,
      both atomic. ``resume=True`` continues from ``last.pt``; when there is none it says so and
      starts at epoch 1, so the same cell works before and after a lost session.
    - ``device``: where to train (default: where the model is); the model is moved there.
    - ``amp=True``: float16 autocast with a GradScaler on CUDA; elsewhere a note, and float32.
    - ``interrupt_after=k`` raises ``TrainingInterrupted`` after epoch k's checkpoint (a lost session).
    - ``val_loader=None`` skips validation (val columns NaN; a val_ monitor falls back to train_).

    Built step by step in chapter 05; used from chapter 05 on.
    """
    if val_loader is None and monitor.startswith("val_"):
        monitor = "train_" + monitor[len("val_"):]
    plateau = _check_arguments(model, optimizer, epochs, scheduler, scheduler_step, early_stopping,
                               monitor, mode, checkpoint_dir, resume)
    device = _device_of(model, device)
    model.to(device)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    if isinstance(loss_fn, nn.Module):
        loss_fn.to(device)
    use_amp = amp and device.type == "cuda"
    if amp and not use_amp:
        print(f"amp=True: mixed precision needs a CUDA GPU, so on {device.type} training runs in float32.")
    scaler = _grad_scaler() if use_amp else None

    def autocast():
        return torch.autocast("cuda", dtype=torch.float16) if use_amp else contextlib.nullcontext()

    history = History(monitor=monitor, mode=mode, metric_name=getattr(metric, "__name__", "metric"))
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        last = folder / "last.pt"
        if resume and last.is_file():
            state = load_checkpoint(last, model, optimizer=optimizer, scheduler=scheduler)
            if scaler is not None and state.get("scaler") is not None:
                scaler.load_state_dict(state["scaler"])
            _set_rng_state(state["rng"], train_loader)
            history = History(state["history"], monitor=monitor, mode=mode,
                              metric_name=history.metric_name, stopped_early=state["stopped_early"])
            print(f"Resuming from {last}: {state['epoch']} of {epochs} epochs were done.")
        elif resume:
            print(f"resume=True, but {folder} holds no checkpoint yet: training starts at epoch 1.")
        elif last.is_file():
            print(f"Note: {folder} holds an earlier run's checkpoints; resume=False starts afresh "
                  "and overwrites them.")

    batch_scheduler = scheduler if scheduler_step == "batch" else None
    done = len(history)
    bar = _progress_bar(epochs, min(done, epochs), progress)
    try:
        for epoch in range(done + 1, epochs + 1):
            if history.stopped_early:
                break
            began = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            train_loss, train_metric = _train_epoch(model, train_loader, optimizer, loss_fn, metric,
                                                    device, autocast, scaler, batch_scheduler)
            val_loss, val_metric = (math.nan, math.nan) if val_loader is None else \
                _evaluate(model, val_loader, loss_fn, metric, device, autocast)
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
            if folder is not None:
                state = {"format": 1, "epoch": epoch, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict() if scheduler is not None else None,
                         "scaler": scaler.state_dict() if scaler is not None else None,
                         "history": [dict(r) for r in history], "stopped_early": history.stopped_early,
                         "monitor": monitor, "mode": mode, "rng": _rng_state(train_loader)}
                if best is row:
                    save_checkpoint(state, folder / "best.pt")
                save_checkpoint(state, folder / "last.pt")
            bar.update(1)
            shown = f"train loss {train_loss:.4f}"
            if val_loader is not None:
                shown += f" · val loss {val_loss:.4f} · val {history.metric_name} {val_metric:.4f}"
            bar.set_postfix_str(shown, refresh=False)
            if interrupt_after is not None and epoch == interrupt_after and epoch < epochs:
                raise TrainingInterrupted(f"simulated lost session after epoch {epoch}: run fit() again "
                                          "with resume=True to continue", history)
    finally:
        bar.close()
    if history.stopped_early and progress and early_stopping is not None:
        best = history.best
        print(f"Early stopping after epoch {len(history)}: {monitor} has not improved for "
              f"{early_stopping} epochs (best {best[monitor]:.4f} at epoch {best['epoch']}).")
    return history
