"""utils/training.py and utils/checkpoints.py: fit()'s history, scheduler order, early stopping,
restore_best, sums on the device, clipping, precision, freezing, atomic checkpoints, an exact resume
and the messages when a resume does not fit; evaluate() and accuracy(); plot_history().
Tiny models on tiny data: fast."""
import collections
import io
import math
import os
import random
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from utils import training  # noqa: E402
from utils.plots import plot_history  # noqa: E402
from utils.training import (CheckpointError, History, Precision, accuracy, choose_precision,  # noqa: E402
                            evaluate, fit, freeze, load_checkpoint, save_checkpoint, simulate_lost_session,
                            unfreeze)

SCHEDULER_WARNING = "lr_scheduler.step()` before `optimizer.step()"


def loaders(seed=0, n_train=100, batch_size=16):
    """A seeded 3-class problem in 8 features; 100 training rows make a short last batch."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n_train + 40, 8, generator=generator)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    train = DataLoader(TensorDataset(X[:n_train], y[:n_train]), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed))
    val = DataLoader(TensorDataset(X[n_train:], y[n_train:]), batch_size=batch_size)
    return train, val


def model_and_optimizer(width=16, seed=0, lr=0.1):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Dropout(0.3), nn.Linear(width, 3))
    return model, torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_accuracy_is_the_fraction_of_correct_argmaxes_as_a_tensor_usable_as_a_number():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, -1.0], [0.0, 1.0]])
    value = accuracy(logits, torch.tensor([0, 1, 1, 1]))
    assert torch.is_tensor(value) and value.ndim == 0  # fit() sums it without leaving the device
    assert float(value) == 0.75 and value.item() == 0.75 and f"{value:.2f}" == "0.75"
    assert float(accuracy(logits[:3], torch.tensor([0, 1, 1]))) == 2 / 3  # exact: Python's own 2 / 3


def test_history_holds_one_row_per_epoch():
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    history = fit(model, train, val, epochs=3, optimizer=optimizer, progress=False)
    assert isinstance(history, History) and len(history) == 3
    assert set(history[0]) == {"epoch", "train_loss", "train_metric", "val_loss", "val_metric", "lr", "seconds"}
    assert history.column("epoch") == [1, 2, 3] and history.column("lr") == [0.1] * 3
    assert all(0 <= row["val_metric"] <= 1 and row["seconds"] > 0 for row in history)
    assert history.column("train_loss")[-1] < history.column("train_loss")[0]
    assert history.best == min(history, key=lambda row: row["val_loss"])
    assert not history.stopped_early and history.metric_name == "accuracy"
    assert "3 epochs" in repr(history)
    # the validation numbers are evaluate()'s, averaged over the short last batch correctly
    result = evaluate(model, val)
    assert result["loss"] == pytest.approx(history[-1]["val_loss"], abs=1e-6)
    assert result["metric"] == pytest.approx(history[-1]["val_metric"])


def test_evaluate_weights_batches_by_size_uses_eval_mode_and_restores_it():
    train, _ = loaders()
    model, _ = model_and_optimizer()
    X, y = train.dataset.tensors
    model.eval()
    with torch.no_grad():
        whole = nn.functional.cross_entropy(model(X), y).item()
    model.train()
    result = evaluate(model, DataLoader(train.dataset, batch_size=32))  # 32 + 32 + 32 + 4
    assert result["loss"] == pytest.approx(whole, abs=1e-6)  # dropout was off: eval() mode
    assert model.training  # the caller's mode is restored
    assert evaluate(model, train, metric=None)["metric"] != evaluate(model, train)["metric"]


def test_scheduler_steps_after_the_optimizer_per_epoch():
    train, val = loaders()
    model, optimizer = model_and_optimizer(lr=0.4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(model, train, val, epochs=5, optimizer=optimizer, scheduler=scheduler, progress=False)
    assert not [w for w in caught if SCHEDULER_WARNING in str(w.message)]
    assert history.column("lr") == pytest.approx([0.4, 0.4, 0.2, 0.2, 0.1])
    assert scheduler.last_epoch == 5  # stepped once after every epoch, the last one too


def test_scheduler_steps_after_the_optimizer_per_batch():
    train, val = loaders()  # 7 batches per epoch
    model, optimizer = model_and_optimizer(lr=0.4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    used = []
    real_step = optimizer.step

    def recording_step(*args, **kwargs):
        used.append(optimizer.param_groups[0]["lr"])
        return real_step(*args, **kwargs)
    optimizer.step = recording_step
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit(model, train, val, epochs=2, optimizer=optimizer, scheduler=scheduler,
                      scheduler_step="batch", progress=False)
    assert not [w for w in caught if SCHEDULER_WARNING in str(w.message)]
    assert used == pytest.approx([0.4 * 0.5 ** (i // 3) for i in range(14)])  # the first step at 0.4
    assert history.column("lr") == pytest.approx([0.4, 0.4 * 0.5 ** (7 // 3)])


def test_the_warning_test_can_see_the_wrong_order():
    """Guard for the two tests above: the warning they look for is real and caught this way."""
    model, optimizer = model_and_optimizer()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheduler.step()
        optimizer.step()
    assert [w for w in caught if SCHEDULER_WARNING in str(w.message)]


def test_reduce_on_plateau_is_given_the_monitored_value():
    train, val = loaders()
    model, optimizer = model_and_optimizer(lr=0.4)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", patience=0, factor=0.5)
    history = fit(model, train, val, epochs=3, optimizer=optimizer, scheduler=scheduler,
                  metric=lambda out, y: 0.5, monitor="val_metric", mode="max", progress=False)
    assert history.column("lr") == pytest.approx([0.4, 0.4, 0.2])  # 0.5 never improves on 0.5
    with pytest.raises(ValueError, match="once per epoch"):
        fit(model, train, val, epochs=1, optimizer=optimizer, scheduler=scheduler, scheduler_step="batch")


def test_early_stopping_waits_patience_epochs_after_the_best(capsys):
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    constant = lambda out, y: 0.5  # noqa: E731  never improves after epoch 1
    history = fit(model, train, val, epochs=10, optimizer=optimizer, metric=constant,
                  monitor="val_metric", mode="max", early_stopping=2, restore_best=True)
    assert history.stopped_early and len(history) == 3 and history.best["epoch"] == 1
    assert "has not improved for 2 epochs" in capsys.readouterr().out
    steady = fit(model, train, val, epochs=4, optimizer=optimizer, early_stopping=10, restore_best=True,
                 progress=False)
    assert not steady.stopped_early and len(steady) == 4


def run_with_checkpoints(folder, *, epochs=6, resume=False, seed=0):
    train, val = loaders(seed=0)
    model, optimizer = model_and_optimizer(seed=seed)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = fit(model, train, val, epochs=epochs, optimizer=optimizer, scheduler=scheduler,
                  checkpoint_dir=folder, resume=resume, progress=False)
    return model, optimizer, history


def test_resume_after_an_interruption_matches_an_uninterrupted_run(tmp_path, capsys):
    model, optimizer, history = run_with_checkpoints(tmp_path / "whole")
    after_fit = []
    with simulate_lost_session(after_epoch=2) as lost:
        try:
            run_with_checkpoints(tmp_path / "split")
        except Exception:  # noqa: BLE001  a lost session cannot be caught like an error
            pytest.fail("simulate_lost_session raised an Exception")
        after_fit.append("ran")
    assert len(lost.history) == 2 and not after_fit  # the rest of the block was skipped, as in a lost kernel
    assert "Session lost after epoch 2 (simulated)" in capsys.readouterr().out
    assert torch.load(tmp_path / "split" / "last.pt", weights_only=True)["epoch"] == 2
    torch.manual_seed(99), np.random.seed(99), random.seed(99)  # a new session's streams differ
    resumed_model, resumed_optimizer, resumed = run_with_checkpoints(tmp_path / "split", resume=True, seed=7)
    assert without_seconds(resumed) == without_seconds(history)  # identical, not just close
    for mine, theirs in zip(model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(mine, theirs)
    momentum = [optimizer.state[p]["momentum_buffer"] for p in model.parameters()]
    resumed_momentum = [resumed_optimizer.state[p]["momentum_buffer"] for p in resumed_model.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(momentum, resumed_momentum))
    assert resumed_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


def test_checkpoints_hold_everything_and_load_with_weights_only(tmp_path):
    model, _, history = run_with_checkpoints(tmp_path, epochs=3)
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "epoch", "history", "rng"} <= set(last)
    assert last["epoch"] == 3 and last["history"] == list(history)
    assert {"torch", "numpy", "python", "loader"} <= set(last["rng"])
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["epoch"] == history.best["epoch"]
    fresh, _ = model_and_optimizer(seed=5)
    state = load_checkpoint(tmp_path / "last.pt", fresh)
    assert state["epoch"] == 3 and all(torch.equal(a, b) for a, b in zip(fresh.parameters(), model.parameters()))
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def test_a_write_that_fails_midway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    run_with_checkpoints(tmp_path, epochs=2)
    real_save = torch.save

    def half_then_crash(obj, file, *args, **kwargs):  # the session dies halfway through writing
        buffer = io.BytesIO()
        real_save(obj, buffer)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError("disk quota exceeded")
    monkeypatch.setattr(torch, "save", half_then_crash)
    with pytest.raises(OSError, match="quota"):
        run_with_checkpoints(tmp_path, epochs=4, resume=True)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 2  # still whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]
    with pytest.raises(CheckpointError, match="could not be read"):  # what a bare torch.save risks
        (tmp_path / "broken.pt").write_bytes(b"\x80\x02half")
        load_checkpoint(tmp_path / "broken.pt", model_and_optimizer()[0])


def test_save_checkpoint_replaces_a_file_in_one_step(tmp_path):
    target = tmp_path / "state.pt"
    save_checkpoint({"epoch": 1}, target)
    save_checkpoint({"epoch": 2}, target)
    assert torch.load(target, weights_only=True) == {"epoch": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["state.pt"]


def test_resume_with_a_different_model_says_so(tmp_path):
    run_with_checkpoints(tmp_path, epochs=1)
    train, val = loaders()
    wider, optimizer = model_and_optimizer(width=32)
    with pytest.raises(CheckpointError, match=r"different model: size mismatch for 0\.weight: \(16, 8\) in "
                                              r"the checkpoint, \(32, 8\) in this model.*new checkpoint_dir"):
        fit(wider, train, val, epochs=2, optimizer=optimizer, checkpoint_dir=tmp_path, resume=True)


def test_resume_with_nothing_to_resume_starts_fresh(tmp_path, capsys):
    _, _, history = run_with_checkpoints(tmp_path / "empty", epochs=2, resume=True)
    assert "holds no checkpoint yet: training starts at epoch 1" in capsys.readouterr().out
    assert len(history) == 2
    _, _, again = run_with_checkpoints(tmp_path / "empty", epochs=2, resume=True)  # already done
    assert without_seconds(again) == without_seconds(history)
    with pytest.raises(ValueError, match="needs checkpoint_dir"):
        fit(*model_and_optimizer()[:1], *loaders(), epochs=1, optimizer=model_and_optimizer()[1], resume=True)


def test_mistakes_in_the_arguments_are_named():
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    other_model, _ = model_and_optimizer()
    with pytest.raises(ValueError, match="made for another model"):
        fit(other_model, train, val, epochs=1, optimizer=optimizer)
    with pytest.raises(ValueError, match="choose one of"):
        fit(model, train, val, epochs=1, optimizer=optimizer, monitor="val_acc")
    with pytest.raises(ValueError, match="'epoch' or 'batch'"):
        fit(model, train, val, epochs=1, optimizer=optimizer, scheduler_step="step")


def test_amp_on_the_cpu_is_a_note_and_float32(capsys):
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    history = fit(model, train, val, epochs=1, optimizer=optimizer, amp=True, device="cpu", progress=False)
    assert "mixed precision needs a CUDA GPU" in capsys.readouterr().out
    assert math.isfinite(history[0]["train_loss"]) and next(model.parameters()).dtype == torch.float32


def test_without_validation_the_monitor_falls_back_to_training():
    train, _ = loaders()
    model, optimizer = model_and_optimizer()
    history = fit(model, train, None, epochs=2, optimizer=optimizer, early_stopping=5, restore_best=True,
                  progress=False)
    assert history.monitor == "train_loss" and math.isnan(history[0]["val_loss"])


def test_any_loss_and_metric_work():
    X = torch.linspace(-1, 1, 40).unsqueeze(1)
    data = DataLoader(TensorDataset(X, 3 * X), batch_size=8)
    model = nn.Linear(1, 1)
    mae = lambda out, y: (out - y).abs().mean().item()  # noqa: E731
    history = fit(model, data, data, epochs=30, optimizer=torch.optim.SGD(model.parameters(), lr=0.3),
                  loss_fn=nn.MSELoss(), metric=mae, progress=False)
    assert history[-1]["val_metric"] < 0.05 and history.metric_name == "<lambda>"


def test_progress_bar_is_one_line_over_epochs(capsys):
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    fit(model, train, val, epochs=2, optimizer=optimizer)
    err = capsys.readouterr().err
    assert "training" in err and "2/2" in err and "val accuracy" in err


def test_plot_history_draws_train_and_val_per_metric():
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    history = fit(model, train, val, epochs=3, optimizer=optimizer, progress=False)
    figure = plot_history(history, title="tiny run")
    loss_ax, metric_ax = figure.axes
    assert [line.get_label() for line in loss_ax.lines][:2] == ["training", "validation"]
    assert list(loss_ax.lines[1].get_ydata()) == history.column("val_loss")
    assert metric_ax.get_ylabel().startswith("accuracy") and loss_ax.get_xlabel() == "epoch"
    assert loss_ax.get_yscale() == "log" and metric_ax.get_yscale() == "linear"
    assert plot_history(history, title="linear", log_loss=False).axes[0].get_yscale() == "linear"
    assert len(plot_history(history, metrics=("lr",), title="lr").axes) == 1
    with pytest.raises(ValueError, match="no column"):
        plot_history(history, metrics=("f1",))


# ------------------------------------------------------------------ sums on the device

READS_FROM_THE_DEVICE = ("item", "tolist", "__float__", "__int__", "__bool__")


@pytest.mark.parametrize("metric", [accuracy, lambda out, y: 0.5], ids=["tensor metric", "float metric"])
def test_losses_and_metrics_are_read_once_per_epoch_not_per_batch(monkeypatch, metric):
    reads = collections.Counter()
    for name in READS_FROM_THE_DEVICE:  # each of these waits for a GPU to finish its queue
        def spy(tensor, *args, _real=getattr(torch.Tensor, name), _name=name, **kwargs):
            reads[_name] += 1
            return _real(tensor, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, spy)
    totals = []
    for n_train in (100, 300):  # 7 and 19 batches per epoch
        train, val = loaders(n_train=n_train)
        model, optimizer = model_and_optimizer()
        reads.clear()
        fit(model, train, val, epochs=2, optimizer=optimizer, metric=metric, progress=False)
        totals.append(dict(reads))
    assert totals[0] == totals[1]  # as many reads for 19 batches as for 7: none per batch


def test_a_metric_may_return_a_float_or_a_tensor():
    as_float = lambda out, y: float(accuracy(out, y))  # noqa: E731
    runs = []
    for metric in (accuracy, as_float):
        train, val = loaders()
        model, optimizer = model_and_optimizer()
        runs.append(without_seconds(fit(model, train, val, epochs=2, optimizer=optimizer, metric=metric,
                                        progress=False)))
    assert runs[0] == runs[1]
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    per_example = lambda out, y: (out.argmax(1) == y).float()  # noqa: E731  forgot the mean
    with pytest.raises(ValueError, match=r"returned a tensor of shape \(16,\): it must return one number per batch"):
        fit(model, train, val, epochs=1, optimizer=optimizer, metric=per_example, progress=False)
    with pytest.raises(ValueError, match="returned str 'high': it must return one number per batch"):
        fit(model, train, val, epochs=1, optimizer=optimizer, metric=lambda out, y: "high", progress=False)


# ----------------------------------------------------------------- back to the best epoch

def stops_early(folder=None, **options):
    """Early stopping on a metric that never improves after epoch 1: the best epoch is 1, the last 3."""
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    history = fit(model, train, val, epochs=10, optimizer=optimizer, metric=lambda out, y: 0.5,
                  monitor="val_metric", mode="max", early_stopping=2, checkpoint_dir=folder, progress=False,
                  **options)
    return model, history


def weights_after_one_epoch():
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    fit(model, train, val, epochs=1, optimizer=optimizer, progress=False)
    return model.state_dict()


@pytest.mark.parametrize("where", ["memory", "best.pt"])
def test_restore_best_puts_the_best_epochs_weights_back(tmp_path, monkeypatch, where):
    loaded = []
    real_load = training.load_checkpoint
    monkeypatch.setattr(training, "load_checkpoint", lambda path, *a, **k: loaded.append(path) or real_load(path, *a, **k))
    model, history = stops_early(tmp_path if where == "best.pt" else None, restore_best=True)
    assert history.stopped_early and history.best["epoch"] == 1 and len(history) == 3
    best = weights_after_one_epoch()
    assert all(torch.equal(best[name], tensor) for name, tensor in model.state_dict().items())
    assert loaded == ([tmp_path / "best.pt"] if where == "best.pt" else [])


def test_early_stopping_without_a_way_back_to_the_best_warns(tmp_path):
    with pytest.warns(UserWarning, match="keeps the last epoch's weights, 2 epochs past the best. Pass "
                                         "restore_best=True"):
        model, _ = stops_early()
    best = weights_after_one_epoch()
    assert not all(torch.equal(best[name], tensor) for name, tensor in model.state_dict().items())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither with restore_best nor with best.pt on disk
        stops_early(restore_best=True)
        stops_early(tmp_path)


# ------------------------------------------------------------------ the learning rate per step

def test_the_learning_rate_of_every_step_is_logged_with_one_cycle(tmp_path):
    epochs, steps = 4, 7  # 100 training rows in batches of 16

    def one_cycle(optimizer):
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=epochs * steps)

    def run(**options):
        train, val = loaders()
        model, optimizer = model_and_optimizer()
        return fit(model, train, val, epochs=epochs, optimizer=optimizer, scheduler=one_cycle(optimizer),
                   scheduler_step="batch", progress=False, **options)
    history = run()
    _, optimizer = model_and_optimizer()
    scheduler, expected = one_cycle(optimizer), []
    for _ in range(epochs * steps):  # the schedule itself, stepped by hand
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert history.lr_steps == expected and max(expected) == pytest.approx(0.5, rel=0.01)
    assert history.column("lr") == expected[::steps]  # the row keeps each epoch's first
    with simulate_lost_session(after_epoch=2):
        run(checkpoint_dir=tmp_path)
    assert run(checkpoint_dir=tmp_path, resume=True).lr_steps == expected  # kept in the checkpoint
    train, val = loaders()
    model, optimizer = model_and_optimizer()
    assert fit(model, train, val, epochs=1, optimizer=optimizer, progress=False).lr_steps == []


# ----------------------------------------------------------------------------- freezing

def with_batch_norm():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(),
                         nn.Linear(16, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def train_briefly(model):
    train, val = loaders()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    fit(model, train, val, epochs=2, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=False)
    return {name for name, tensor in model.state_dict().items() if not torch.equal(before[name], tensor)}


def test_a_frozen_batch_norm_keeps_its_running_statistics():
    model = with_batch_norm()
    freeze(model[:3])  # a slice is a new Sequential, but it holds the model's own layers
    changed = train_briefly(model)
    assert not changed & {"0.weight", "1.weight", "1.running_mean", "1.running_var", "1.num_batches_tracked"}
    assert {"3.weight", "4.running_mean", "4.running_var"} <= changed
    assert not model[1].weight.requires_grad and model[4].weight.requires_grad


def test_unfreeze_trains_a_part_of_a_frozen_model_again():
    model = with_batch_norm()
    freeze(model)
    unfreeze(model[3:])  # as chapter 13 unfreezes layer4 of a frozen backbone
    changed = train_briefly(model)
    assert not changed & {"0.weight", "1.running_mean", "1.running_var"}
    assert {"3.weight", "4.running_mean", "6.weight"} <= changed


def test_requires_grad_false_alone_lets_batch_norm_drift_and_fit_says_so():
    model = with_batch_norm()
    for parameter in model[:3].parameters():
        parameter.requires_grad_(False)
    with pytest.warns(UserWarning, match=r"batch norm 1 has requires_grad=False, but in train mode it still "
                                         r"updates its running statistics.*freeze\(module\)"):
        changed = train_briefly(model)
    assert {"1.running_mean", "1.running_var"} <= changed and "1.weight" not in changed


# ------------------------------------------------------------------- gradient clipping

def gradient_norms_at_each_step(optimizer) -> list:
    """Record the total gradient norm that each optimizer.step() sees."""
    norms, real_step = [], optimizer.step

    def recording_step(*args, **kwargs):
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])).item())
        return real_step(*args, **kwargs)
    optimizer.step = recording_step
    return norms


def clipped_run(clip_grad_norm, **options) -> list:
    train, val = loaders()
    model, optimizer = model_and_optimizer(lr=0.5)
    norms = gradient_norms_at_each_step(optimizer)
    fit(model, train, val, epochs=2, optimizer=optimizer, clip_grad_norm=clip_grad_norm, progress=False, **options)
    return norms


def test_clip_grad_norm_bounds_the_gradient_norm_of_every_step():
    free, clipped = clipped_run(None), clipped_run(0.05)
    assert free[0] > 0.05 and max(free) > 0.1  # without clipping the bound would be broken
    assert max(clipped) <= 0.05 * (1 + 1e-5)
    assert clipped[0] == pytest.approx(0.05, rel=1e-4)  # the same first batch, scaled down to the bound
    with pytest.raises(ValueError, match="clip_grad_norm=0: the largest gradient norm, a positive number"):
        clipped_run(0)


class SpyScaler:
    """A real GradScaler (on the CPU, scale 1024) that writes down the order of its calls."""

    def __init__(self, calls):
        self.real, self.calls = torch.amp.GradScaler("cpu", init_scale=2.0 ** 10), calls

    def scale(self, loss):
        self.calls.append("scale")
        return self.real.scale(loss)

    def unscale_(self, optimizer):
        self.calls.append("unscale_")
        self.real.unscale_(optimizer)

    def step(self, optimizer):
        self.calls.append("step")
        return self.real.step(optimizer)

    def update(self):
        self.calls.append("update")
        self.real.update()

    def get_scale(self):
        return self.real.get_scale()


@pytest.mark.parametrize("clip", [0.05, None])
def test_under_a_grad_scaler_gradients_are_unscaled_before_clipping(monkeypatch, clip):
    calls = []
    real_clip = nn.utils.clip_grad_norm_
    monkeypatch.setattr(nn.utils, "clip_grad_norm_", lambda *a, **k: calls.append("clip") or real_clip(*a, **k))
    monkeypatch.setattr(training, "choose_precision", lambda amp, device: Precision(None, scaler=True))
    monkeypatch.setattr(training, "_grad_scaler", lambda: SpyScaler(calls))
    norms = clipped_run(clip, amp="fp16")
    one_step = ["scale", "unscale_", "clip", "step", "update"] if clip else ["scale", "step", "update"]
    assert calls == one_step * 14  # 7 batches, 2 epochs
    if clip:  # clipped after unscaling: the bound holds for the true gradients (not 1024 times smaller)
        assert max(norms) <= 0.05 * (1 + 1e-5) and norms[0] == pytest.approx(0.05, rel=1e-4)


# ----------------------------------------------------------------------------- precision

@pytest.mark.parametrize("amp, native_bf16, dtype, scaler", [
    (False, True, None, False),
    (True, True, torch.bfloat16, False),  # bfloat16 has float32's range: no GradScaler
    (True, False, torch.float16, True),
    ("bf16", True, torch.bfloat16, False),
    ("bf16", False, torch.float16, True),
    ("fp16", True, torch.float16, True),
])
def test_precision_on_a_cuda_gpu(monkeypatch, amp, native_bf16, dtype, scaler):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: native_bf16)
    chosen = choose_precision(amp, torch.device("cuda"))  # a device object needs no GPU
    assert (chosen.dtype, chosen.scaler) == (dtype, scaler)
    assert (chosen.note is not None) == (amp == "bf16" and not native_bf16)


def test_emulated_bfloat16_is_not_chosen(monkeypatch):
    """A T4 runs bfloat16 only by emulation, slower than float16: is_bf16_supported() says True there."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert choose_precision(True, "cuda").dtype == torch.float16


def test_precision_without_a_cuda_gpu_is_float32_with_a_note():
    for device in ("cpu", "mps"):
        chosen = choose_precision(True, device)
        assert (chosen.dtype, chosen.scaler) == (None, False) and f"on {device} training runs in float32" in chosen.note
    assert choose_precision(False, "cpu") == Precision(None, scaler=False)
    with pytest.raises(ValueError, match="amp='float16': choose False, True .*'bf16' or 'fp16'"):
        choose_precision("float16", "cpu")


# --------------------------------------------------------------------------- a lost session

def test_a_lost_session_that_never_comes_says_so(tmp_path, capsys):
    with simulate_lost_session(after_epoch=6) as lost:
        run_with_checkpoints(tmp_path, epochs=6)  # epoch 6 is the last: nothing left to lose
    assert lost.history is None and "nothing was lost" in capsys.readouterr().out
    with pytest.raises(ValueError, match="after_epoch=0: the epoch after which the session is lost"):
        with simulate_lost_session(after_epoch=0):
            pass


# ------------------------------------------------------------------- stale temporary files

def test_a_killed_writers_temporary_file_is_removed_by_the_next_save(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / f".last.pt.{gone.pid}.tmp"
        busy = tmp_path / f".last.pt.{running.pid}.tmp"  # a writer still at work: not ours to delete
        other = tmp_path / f".best.pt.{gone.pid}.tmp"  # another file's: its own next save removes it
        for path in (stale, busy, other):
            path.write_bytes(b"half a checkpoint")
        save_checkpoint({"epoch": 1}, tmp_path / "last.pt")
        assert not stale.exists() and busy.exists() and other.exists()
    finally:
        running.kill()
        running.wait()


# -------------------------------------------------------- a resume that differs from the run

def train_with(folder, *, epochs=2, optimizer="SGD", lr=0.1, weight_decay=0.0, two_groups=False,
               scheduler="StepLR", monitor="val_loss", mode="min", resume=False):
    train, val = loaders()
    model, _ = model_and_optimizer()
    params = ([{"params": model[0].parameters()}, {"params": model[3].parameters()}] if two_groups
              else model.parameters())
    optimizer = getattr(torch.optim, optimizer)(params, lr=lr, weight_decay=weight_decay)
    schedulers = {"StepLR": lambda: torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5),
                  "CosineAnnealingLR": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4),
                  None: lambda: None}
    return fit(model, train, val, epochs=epochs, optimizer=optimizer, scheduler=schedulers[scheduler](),
               monitor=monitor, mode=mode, checkpoint_dir=folder, resume=resume, progress=False)


@pytest.mark.parametrize("first, then, message", [
    ({}, {"optimizer": "Adam"}, r"it was written with the optimizer SGD, and this call's optimizer is Adam\. "
                                r"Resuming would silently continue with the checkpoint's optimizer state"),
    ({}, {"two_groups": True}, r"its optimizer had 1 parameter group\(s\) of \[4\] tensors, and this call's "
                               r"has 2 of \[2, 2\]\. .*Create the optimizer exactly as in the interrupted run"),
    ({}, {"weight_decay": 1e-4}, r"its optimizer's parameter group 0 had weight_decay=0\.0, and this call's has weight_decay=0\.0001"),
    ({"scheduler": None}, {"lr": 0.05}, r"its optimizer's parameter group 0 had lr=0\.1, and this call's has lr=0\.05"),
    ({}, {"scheduler": None}, r"it was written with a StepLR scheduler stepped per epoch, and this call has no "
                              r"scheduler\. Pass the same scheduler and scheduler_step"),
    ({"scheduler": None}, {"scheduler": "StepLR"}, r"it was written with no scheduler, and this call has a StepLR "
                                                   r"scheduler stepped per epoch\. Pass the same scheduler"),
    ({}, {"scheduler": "CosineAnnealingLR"}, r"it was written with a StepLR scheduler stepped per epoch, and "
                                             r"this call has a CosineAnnealingLR scheduler stepped per epoch"),
    ({}, {"monitor": "val_metric", "mode": "max"}, r"its best\.pt was chosen by monitor='val_loss', mode='min', and "
                                                   r"this call asks for monitor='val_metric', mode='max'\. Use the same"),
    ({}, {"epochs": 1}, r"it already holds 2 epochs, and this call asks for epochs=1\. Ask for epochs=2 or more "
                        r"\(epochs=2 returns the finished run at once\), or start afresh in a new checkpoint_dir"),
], ids=["optimizer type", "parameter groups", "optimizer settings", "learning rate", "scheduler dropped",
        "scheduler added", "scheduler type", "monitor and mode", "fewer epochs"])
def test_a_resume_that_differs_from_the_interrupted_run_is_refused_with_what_differs(tmp_path, first, then, message):
    train_with(tmp_path, **first)
    written = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(CheckpointError, match=r"cannot resume from .*last\.pt: " + message):
        train_with(tmp_path, **{"epochs": 4, **first, **then, "resume": True})
    assert (tmp_path / "last.pt").read_bytes() == written  # nothing trained, nothing overwritten


def test_a_resume_with_more_epochs_continues(tmp_path, capsys):
    train_with(tmp_path, epochs=2)
    assert len(train_with(tmp_path, epochs=3, resume=True)) == 3
    assert "Resuming from" in capsys.readouterr().out


def test_loading_into_a_different_optimizer_says_so(tmp_path):
    train_with(tmp_path)
    model, _ = model_and_optimizer()
    with pytest.raises(CheckpointError, match=r"does not fit this optimizer: it was written with the optimizer SGD, "
                                              r"and this call's optimizer is Adam\. Use the same optimizer"):
        load_checkpoint(tmp_path / "last.pt", model, optimizer=torch.optim.Adam(model.parameters()))


def test_a_checkpoint_dir_that_is_a_file_says_so(tmp_path):
    (tmp_path / "run.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"checkpoint_dir='.*run\.pt' is a file, not a folder\. Give the "
                                              r"path of a folder .*'.*run_checkpoints'"):
        train_with(tmp_path / "run.pt")


def test_a_checkpoint_dir_that_cannot_be_created_says_so(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder")
    with pytest.raises(CheckpointError, match=r"checkpoint_dir='.*notes\.txt/run' cannot be created \(Not a "
                                              r"directory\)\. Choose a folder in a place you can write to"):
        train_with(tmp_path / "notes.txt" / "run")


def test_a_checkpoint_dir_that_cannot_be_written_says_so(tmp_path):
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o500)
    if os.access(read_only, os.W_OK):  # root writes anywhere, but not into /proc
        read_only = Path("/proc/self")
        if not read_only.is_dir():
            pytest.skip("running as an administrator, and there is no /proc to try instead")
    with pytest.raises(CheckpointError, match=r"checkpoint_dir='.*' cannot be written \(.+\)\. Choose a folder "
                                              r"you can write to"):
        train_with(read_only)
