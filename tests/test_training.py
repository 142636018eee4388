"""utils/training.py: fit()'s history, scheduler order, early stopping, atomic checkpoints and an
exact resume; evaluate() and accuracy(); plot_history(). Tiny models on tiny data: fast."""
import io
import math
import random
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from utils.plots import plot_history  # noqa: E402
from utils.training import (CheckpointError, History, accuracy, evaluate, fit, load_checkpoint,  # noqa: E402
                            save_checkpoint, simulate_lost_session)

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


def test_accuracy_is_the_fraction_of_correct_argmaxes():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, -1.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == 0.75


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
                  monitor="val_metric", mode="max", early_stopping=2)
    assert history.stopped_early and len(history) == 3 and history.best["epoch"] == 1
    assert "has not improved for 2 epochs" in capsys.readouterr().out
    steady = fit(model, train, val, epochs=4, optimizer=optimizer, early_stopping=10, progress=False)
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
    with pytest.raises(CheckpointError, match="different model.*size mismatch.*new checkpoint_dir"):
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
    history = fit(model, train, None, epochs=2, optimizer=optimizer, early_stopping=5, progress=False)
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
