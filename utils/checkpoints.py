"""Checkpoints for ``fit()``: atomic writes, an exact resume, and a clear word when one does not fit.

Built in chapter 05 (the training loop); ``utils.training`` re-exports the public names, so
``from utils.training import save_checkpoint, load_checkpoint`` keeps working.

A checkpoint holds everything needed to continue: weights, optimizer, scheduler and GradScaler
state, the epoch, the history, every random number generator, and a description of the run
(optimizer type and settings, scheduler, monitor). ``resume_from()`` compares that description
with the call that resumes, so a changed optimizer, scheduler, monitor or number of epochs is named
in a message that says what to do, instead of failing deep inside PyTorch or, worse, continuing
silently with the checkpoint's settings instead of yours. ``simulate_lost_session()`` ends a run
after a chosen epoch, to try ``resume=True`` without waiting for Colab to drop the session.
"""
from __future__ import annotations

import contextlib
import glob
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from utils.distributed import print_once

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint", "simulate_lost_session"]

FORMAT = 2
#: Optimizer options that only choose an implementation: a resume may change them.
IMPLEMENTATION_OPTIONS = {"params", "foreach", "fused", "capturable", "differentiable"}
#: Options that the cyclic schedulers (OneCycleLR, CyclicLR) move during training, with lr.
CYCLED_OPTIONS = {"momentum", "betas"}
START_AFRESH = "or start afresh in a new checkpoint_dir"


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used: unreadable, unwritable, or from a run that differs from this one."""


# ------------------------------------------------------------------------------- writing

def save_checkpoint(state: dict, path) -> Path:
    """Write ``state`` with torch.save so that ``path`` always holds a whole checkpoint.

    The bytes go to a temporary file ``.NAME.PID.tmp`` in the same folder, are flushed and
    fsync'ed to the disk, and only then does ``os.replace`` swap the file in, in one step. A
    session lost mid-write leaves the previous checkpoint intact; the temporary file it leaves
    behind is removed by the next save. Built in chapter 05.
    """
    path = Path(path)
    _remove_stale_temporaries(path)
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


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.NAME.PID.tmp`` files whose writer is gone (killed mid-write); keep a running one's."""
    prefix = f".{path.name}."
    for stale in path.parent.glob(glob.escape(prefix) + "*.tmp"):
        pid = stale.name[len(prefix):-len(".tmp")]
        if pid.isdigit() and not _writer_is_running(int(pid)):
            with contextlib.suppress(OSError):  # on Windows a file still open cannot be deleted
                stale.unlink()


def _writer_is_running(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftover: this save is about to write that very name
    if os.name == "nt":
        return False  # os.kill would end the process there; an open file refuses to be deleted
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, but belongs to another user
    return True


def prepare_folder(checkpoint_dir) -> Path:
    """Create ``checkpoint_dir`` if needed and make sure it can be written, before any training.

    fit()'s part: a file in its place, a folder that cannot be created or written is named
    with what to do, before an epoch's work is lost to it.
    """
    folder = Path(checkpoint_dir).expanduser()
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"checkpoint_dir={str(folder)!r} is a file, not a folder. Give the path of a "
                              "folder (it is created if missing), e.g. "
                              f"{str(folder.with_name(folder.stem + '_checkpoints'))!r}.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointError(f"checkpoint_dir={str(folder)!r} cannot be created ({error.strerror or error}). "
                              "Choose a folder in a place you can write to, such as your home or "
                              "working folder (on Colab, under /content or your mounted Drive).") from None
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CheckpointError(f"checkpoint_dir={str(folder)!r} cannot be written ({error.strerror or error}). "
                              "Choose a folder you can write to, or change its permissions.") from None
    return folder


# ------------------------------------------------------------------------------- reading

def _read(path: Path) -> dict:
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
    return state


def _model_difference(saved: dict, model: nn.Module) -> str | None:
    current = model.state_dict()
    resized = [f"{name}: {tuple(saved[name].shape)} in the checkpoint, {tuple(tensor.shape)} in this model"
               for name, tensor in current.items()
               if name in saved and torch.is_tensor(saved[name]) and saved[name].shape != tensor.shape]
    missing = [name for name in current if name not in saved]
    unexpected = [name for name in saved if name not in current]
    parts = []
    if resized:
        parts.append("size mismatch for " + "; ".join(resized[:3]))
    if missing:
        parts.append(f"this model has {', '.join(missing[:3])}, which the checkpoint lacks")
    if unexpected:
        parts.append(f"the checkpoint has {', '.join(unexpected[:3])}, which this model lacks")
    return "; ".join(parts) or None


def _load_model(state: dict, model: nn.Module, path: Path) -> None:
    difference = _model_difference(state["model"], model)
    if difference is None:
        try:
            model.load_state_dict(state["model"])
            return
        except RuntimeError as error:
            difference = " ".join(line.strip() for line in str(error).splitlines()[1:3])
    raise CheckpointError(f"the checkpoint {path} was written by a different model: {difference}. Build the "
                          f"same model as before, {START_AFRESH} (or delete {path.parent}).")


def _load_optimizer_and_scheduler(state: dict, path: Path, optimizer, scheduler) -> None:
    try:
        if optimizer is not None:
            optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"the checkpoint {path} was written with a different optimizer or "
                              f"scheduler ({error}). Use the same ones, {START_AFRESH}.") from None


def load_checkpoint(path, model: nn.Module, *, optimizer=None, scheduler=None) -> dict:
    """Load a ``fit()`` checkpoint into ``model`` (and optimizer, scheduler); return the whole state.

    Uses ``torch.load(weights_only=True)``: only tensors and plain values are read, never
    arbitrary pickled code. A checkpoint written by a different model or optimizer, or an
    unreadable file, raises ``CheckpointError`` saying what to do. Built in chapter 05.
    """
    path = Path(path)
    state = _read(path)
    _load_model(state, model, path)
    if optimizer is not None:
        difference = _optimizer_difference(state.get("run", {}).get("optimizer"), describe_optimizer(optimizer),
                                           compare_settings=False)
        if difference:
            raise CheckpointError(f"the checkpoint {path} does not fit this optimizer: {difference}. "
                                  f"Use the same optimizer as the run that wrote it, {START_AFRESH}.")
    _load_optimizer_and_scheduler(state, path, optimizer, scheduler)
    return state


# ------------------------------------------------------------------ what a resume must match

def _plain(value):
    """A value torch.load(weights_only=True) can read back: numbers, strings, tensors and tuples of them."""
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_plain(item) for item in value)
    return repr(value)


def describe_optimizer(optimizer) -> dict:
    """fit()'s part: the optimizer's type, its parameter groups' sizes and settings, as saved."""
    return {"type": type(optimizer).__name__,
            "sizes": [len(group["params"]) for group in optimizer.param_groups],
            "settings": [{key: _plain(value) for key, value in group.items() if key not in IMPLEMENTATION_OPTIONS}
                         for group in optimizer.param_groups]}


def describe_run(optimizer, scheduler, scheduler_step: str, monitor: str, mode: str) -> dict:
    """fit()'s part: what a resumed call must repeat, stored in every checkpoint as ``run``."""
    return {"optimizer": describe_optimizer(optimizer),
            "scheduler": type(scheduler).__name__ if scheduler is not None else None,
            "scheduler_step": scheduler_step, "monitor": monitor, "mode": mode}


def _same(a, b) -> bool:
    if torch.is_tensor(a) or torch.is_tensor(b):
        return torch.is_tensor(a) and torch.is_tensor(b) and torch.equal(a.cpu(), b.cpu())
    return a == b


def _optimizer_difference(saved: dict | None, now: dict, *, compare_settings: bool,
                          scheduled: bool = False) -> str | None:
    if saved is None:
        return None  # a checkpoint written before runs were described
    if saved["type"] != now["type"]:
        return f"it was written with the optimizer {saved['type']}, and this call's optimizer is {now['type']}"
    if saved["sizes"] != now["sizes"]:
        return (f"its optimizer had {len(saved['sizes'])} parameter group(s) of {saved['sizes']} tensors, "
                f"and this call's has {len(now['sizes'])} of {now['sizes']}")
    if not compare_settings:
        return None
    for index, (then, given) in enumerate(zip(saved["settings"], now["settings"])):
        moved = ({"lr"} if scheduled else set()) | (CYCLED_OPTIONS if "max_momentum" in then else set())
        for key in sorted(then.keys() & given.keys() - moved):  # a scheduler's start, initial_lr, is compared
            if not _same(then[key], given[key]):
                return (f"its optimizer's parameter group {index} had {key}={then[key]!r}, and this call's "
                        f"has {key}={given[key]!r}")
    return None


def _scheduling(run: dict) -> tuple:
    return (run["scheduler"], run["scheduler_step"]) if run["scheduler"] is not None else (None, None)


def _describe_scheduler(run: dict) -> str:
    if run["scheduler"] is None:
        return "no scheduler"
    return f"a {run['scheduler']} scheduler stepped per {run['scheduler_step']}"


def _run_difference(state: dict, model: nn.Module, now: dict, epochs: int) -> tuple[str, str] | None:
    """The first way this call differs from the run that wrote the checkpoint, and what to do."""
    model_difference = _model_difference(state["model"], model)
    if model_difference:
        return (f"it was written by a different model: {model_difference}",
                f"Build the same model as before, {START_AFRESH}")
    saved, done = state.get("run", {}), state["epoch"]
    scheduled = now["scheduler"] is not None
    difference = _optimizer_difference(saved.get("optimizer"), now["optimizer"], compare_settings=True,
                                       scheduled=scheduled)
    if difference:
        return difference, ("Resuming would silently continue with the checkpoint's optimizer state, not "
                            "yours. Create the optimizer exactly as in the interrupted run to continue, "
                            f"{START_AFRESH} (to start from these weights: load_checkpoint(path, model), "
                            "then fit() into a new folder)")
    if "scheduler" in saved and _scheduling(saved) != _scheduling(now):
        return (f"it was written with {_describe_scheduler(saved)}, and this call has {_describe_scheduler(now)}",
                f"Pass the same scheduler and scheduler_step as the interrupted run, {START_AFRESH}")
    if "monitor" in saved and (saved["monitor"], saved["mode"]) != (now["monitor"], now["mode"]):
        return (f"its best.pt was chosen by monitor={saved['monitor']!r}, mode={saved['mode']!r}, and this "
                f"call asks for monitor={now['monitor']!r}, mode={now['mode']!r}",
                f"Use the same monitor and mode to continue, {START_AFRESH}")
    if epochs < done:
        return (f"it already holds {done} epochs, and this call asks for epochs={epochs}",
                f"Ask for epochs={done} or more (epochs={done} returns the finished run at once), {START_AFRESH}")
    return None


def resume_from(path: Path, *, model: nn.Module, optimizer, scheduler, scaler, train_loader, run: dict,
                epochs: int) -> dict:
    """fit()'s part: check that this call repeats the run that wrote ``path``, then load all of it.

    Every difference (model, optimizer type or settings, scheduler, monitor and mode, fewer
    epochs than already done) raises ``CheckpointError`` naming it; nothing is loaded then.
    """
    state = _read(path)
    mismatch = _run_difference(state, model, run, epochs)
    if mismatch:
        difference, advice = mismatch
        raise CheckpointError(f"cannot resume from {path}: {difference}. {advice}.")
    _load_model(state, model, path)
    _load_optimizer_and_scheduler(state, path, optimizer, scheduler)
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    _set_rng_state(state["rng"], train_loader)
    return state


def snapshot(*, epoch: int, model: nn.Module, optimizer, scheduler, scaler, history, train_loader,
             run: dict) -> dict:
    """fit()'s part: the state saved after an epoch, tensors and plain values only."""
    return {"format": FORMAT, "epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None,
            "history": [dict(row) for row in history], "lr_steps": list(history.lr_steps),
            "stopped_early": history.stopped_early, "run": run, "rng": _rng_state(train_loader)}


# ----------------------------------------------------------------------- a lost session

class _SessionLost(BaseException):
    """simulate_lost_session()'s end of a run; not an Exception, so `except Exception` cannot stop it."""


class _LostSession:
    """What ``simulate_lost_session()`` yields: ``history`` holds the epochs done when it struck (else None)."""

    def __init__(self, after_epoch: int):
        self.after_epoch, self.history = after_epoch, None


_lost_session: _LostSession | None = None


@contextlib.contextmanager
def simulate_lost_session(after_epoch: int):
    """End the ``fit()`` inside the ``with`` block after epoch ``after_epoch``, as a lost session would.

    The epoch's checkpoint is written first, then training stops, the rest of the block is
    skipped and a line says what happened; running the same ``fit()`` again with ``resume=True``
    continues from ``last.pt``. Introduced in chapter 05::

        with simulate_lost_session(after_epoch=4) as lost:
            fit(..., epochs=10, checkpoint_dir=folder)
        len(lost.history)  # 4
    """
    global _lost_session
    if isinstance(after_epoch, bool) or not isinstance(after_epoch, int) or after_epoch < 1:
        raise ValueError(f"after_epoch={after_epoch!r}: the epoch after which the session is lost, at least 1")
    previous, _lost_session = _lost_session, _LostSession(after_epoch)
    lost = _lost_session
    try:
        yield lost
    except _SessionLost as message:
        print_once(message)
    finally:
        _lost_session = previous
    if lost.history is None:
        print_once(f"simulate_lost_session(after_epoch={after_epoch}): no fit() in the block reached epoch "
                   f"{after_epoch} with epochs left to train, so nothing was lost.")


def lose_session_if_simulated(epoch: int, epochs: int, history, folder) -> None:
    """fit()'s part: end the run here when simulate_lost_session() asked for this epoch."""
    if _lost_session is None or epoch != _lost_session.after_epoch or epoch >= epochs:
        return
    _lost_session.history = history
    kept = (f"{folder / 'last.pt'} holds {epoch} epochs: run the same fit() again with resume=True to "
            "continue" if folder is not None else "nothing was saved (no checkpoint_dir), so training "
            "would start again at epoch 1")
    raise _SessionLost(f"Session lost after epoch {epoch} (simulated); {kept}.")


# ------------------------------------------------------------------ random number generators

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
