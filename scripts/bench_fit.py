"""How much does fit() cost over a bare, hand-written training loop? (the bar: at most 10 %)

    OMP_NUM_THREADS=2 python scripts/bench_fit.py [--epochs 20] [--repeats 7]

Both train the same digits MLP (64 → 128 → 10, Adam) on the same loaders for the same epochs,
and both compute what fit()'s history holds: training loss and accuracy over the epoch, then
validation loss and accuracy in eval() mode under no_grad(). The runs are interleaved, one round
of every variant after another, each round in a rotated order, so that a change in the machine's
load, or a cost of going first, hits every variant alike. The overhead is the median over rounds
of each round's ratio to the bare loop (with its lowest and highest), with the progress bar off
and on (and, for information, with checkpoints written after every epoch), in wall-clock seconds
and in CPU seconds of this process, which other programs on a shared machine disturb far less.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.data import digits_loaders  # noqa: E402
from utils.env import configure_threads, seed_everything  # noqa: E402
from utils.training import fit  # noqa: E402


def model_and_optimizer():
    seed_everything(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    return model, torch.optim.Adam(model.parameters(), lr=3e-3)


def bare_loop(epochs: int) -> float:
    """The loop chapter 05 writes by hand, recording the same numbers; returns the last val accuracy."""
    model, optimizer = model_and_optimizer()
    train_loader, val_loader, _ = digits_loaders(device="cpu")
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        total_loss = total_correct = count = 0.0
        for inputs, targets in train_loader:
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = loss_fn(outputs, targets)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(targets)
            total_correct += (outputs.argmax(1) == targets).sum().item()
            count += len(targets)
        model.eval()
        val_loss = val_correct = val_count = 0.0
        with torch.no_grad():
            for inputs, targets in val_loader:
                outputs = model(inputs)
                val_loss += loss_fn(outputs, targets).item() * len(targets)
                val_correct += (outputs.argmax(1) == targets).sum().item()
                val_count += len(targets)
    return val_correct / val_count


def with_fit(epochs: int, *, progress: bool, checkpoints: bool = False) -> float:
    model, optimizer = model_and_optimizer()
    train_loader, val_loader, _ = digits_loaders(device="cpu")
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stderr(io.StringIO()):
        history = fit(model, train_loader, val_loader, epochs=epochs, optimizer=optimizer,
                      progress=progress, checkpoint_dir=folder if checkpoints else None)
    return history[-1]["val_metric"]


def _median_and_overhead(seconds: dict, name: str) -> str:
    """Median seconds, and the median of each round's ratio to the bare loop (with its extremes)."""
    median = f"{statistics.median(seconds[name]):7.3f}"
    if name == "bare loop":
        return median + " " * 30
    overheads = sorted(100 * (t / bare - 1) for t, bare in zip(seconds[name], seconds["bare loop"]))
    return f"{median} {statistics.median(overheads):+8.1f} % ({overheads[0]:+6.1f}, {overheads[-1]:+6.1f} %)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    threads = configure_threads()
    variants = {
        "bare loop": lambda: bare_loop(args.epochs),
        "fit(), progress bar off": lambda: with_fit(args.epochs, progress=False),
        "fit(), progress bar on": lambda: with_fit(args.epochs, progress=True),
        "fit(), bar on + checkpoints": lambda: with_fit(args.epochs, progress=True, checkpoints=True),
    }
    for run in variants.values():  # warm-up: imports, allocator, first-call costs
        run()
    wall = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    accuracies = {}
    names = list(variants)
    for round_number in range(1, args.repeats + 1):
        shift = round_number % len(names)  # each variant takes each place in the round in turn
        for name in names[shift:] + names[:shift]:
            started, cpu_started = time.perf_counter(), time.process_time()
            accuracies[name] = variants[name]()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
        print(f"round {round_number}/{args.repeats} (wall s): " + ", ".join(f"{name} {times[-1]:.3f}"
                                                                        for name, times in wall.items()),
              file=sys.stderr, flush=True)  # on a busy machine, what a cut-short run leaves
    print(f"digits MLP, {args.epochs} epochs, {args.repeats} runs each, {threads} thread(s), "
          f"torch {torch.__version__}")
    print(f"{'variant':28s} {'wall s':>7s} {'overhead (lowest, highest)':>29s} {'CPU s':>7s} "
          f"{'overhead (lowest, highest)':>29s} {'val acc':>8s}")
    for name in names:
        print(f"{name:28s} {_median_and_overhead(wall, name)} {_median_and_overhead(cpu, name)} "
              f"{accuracies[name]:8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
