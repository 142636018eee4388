"""Measure what the course's pre-trained backbone buys: from scratch, frozen features, fine-tuning.

    OMP_NUM_THREADS=2 python scripts/bench_transfer.py [--labels 1 5 10 50] [--digits 100] [--seeds 0 1 2]

First it pre-trains the backbone from an empty cache (``utils.pretrained.pretrained_backbone``) and
reports its wall and CPU seconds. Then, for each target task and seed, it trains three models with
the same small budget of steps and reports test accuracy and the seconds each run took:

- scratch:   the same network, randomly initialised, every layer trained;
- frozen:    the pre-trained backbone frozen (``utils.training.freeze``, so batch norm stays in eval
             mode), a new linear head trained on its features;
- fine-tune: the pre-trained backbone with a new head, every layer trained, the backbone at a tenth
             of the head's learning rate (two parameter groups).

The related target is the ten novel shapes at each ``--labels`` count per class; the unrelated
target is the digits at ``--digits`` labels per class. Runs in a temporary data folder unless
$COURSE_DATA is set.

Measured 2026-11-30 on the shared 2-core machine (load 4-8), default settings, seeds 0, 1 and 2, 100
steps of 32 at lr 3e-3 (mean over seeds, lowest-highest):

    target   labels            scratch             frozen          fine-tune
    shapes        1  0.109 (0.10-0.12)  0.364 (0.32-0.39)  0.296 (0.26-0.33)
    shapes        5  0.131 (0.12-0.14)  0.429 (0.41-0.45)  0.360 (0.35-0.38)
    shapes       10  0.137 (0.11-0.15)  0.455 (0.44-0.48)  0.409 (0.40-0.43)
    shapes       50  0.189 (0.16-0.21)  0.473 (0.46-0.48)  0.460 (0.44-0.48)
    digits       10  0.899 (0.89-0.91)  0.482 (0.46-0.50)  0.858 (0.85-0.87)
    digits      100  0.956 (0.94-0.98)  0.436 (0.42-0.45)  0.904 (0.88-0.92)

Each target run took 0.6-25 s of wall time depending on the other engineers' load (a fraction of a
second to 3 s when the machine was quiet). Pre-training from an empty cache, default settings, 7 runs:
26-234 s wall and 27-100 s CPU; the four least disturbed took 26-63 s wall, 27-47 s CPU (farm-bench
medians of two sets of 3: 80 s and 67 s wall). Loading the cache: 0.02 s.
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if "COURSE_DATA" not in os.environ:  # a temporary data folder, deleted at the end
    os.environ["COURSE_DATA"] = tempfile.mkdtemp(prefix="transfer-bench-")
    atexit.register(shutil.rmtree, os.environ["COURSE_DATA"], ignore_errors=True)
from utils.env import configure_threads  # noqa: E402
from utils.pretrained import BackboneSettings, pretrained_backbone, target_task  # noqa: E402
from utils.resnet import resnet_for_small_images  # noqa: E402
from utils.training import freeze  # noqa: E402

MODES = ("scratch", "frozen", "fine-tune")


def model_for(mode: str, backbone_state: dict, settings: BackboneSettings, seed: int) -> tuple[nn.Module, list]:
    """The network for ``mode`` with a new 10-class head, and the optimizer's parameter groups."""
    torch.manual_seed(seed)
    model = resnet_for_small_images(settings.depth, settings.width, in_channels=3, num_classes=10)
    if mode != "scratch":
        model.load_state_dict(backbone_state)
        model.fc = nn.Linear(model.fc.in_features, 10)
    if mode == "frozen":
        freeze(model)
        model.fc.requires_grad_(True)
        return model, [{"params": model.fc.parameters()}]
    if mode == "fine-tune":
        backbone = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
        return model, [{"params": backbone, "lr_scale": 0.1}, {"params": model.fc.parameters()}]
    return model, [{"params": model.parameters()}]


def train_and_test(model: nn.Module, groups: list, task, *, steps: int, lr: float, batch_size: int, seed: int):
    """Train for ``steps`` AdamW steps on ``task.train``; test accuracy on ``task.test``."""
    for group in groups:
        group["lr"] = lr * group.pop("lr_scale", 1.0)
    optimizer = torch.optim.AdamW(groups, weight_decay=5e-4)
    images, labels = task.train.tensors
    order = torch.Generator().manual_seed(seed)
    model.train()
    if all(not p.requires_grad for name, p in model.named_parameters() if not name.startswith("fc.")):
        model.eval()  # a frozen backbone: batch norm keeps its pre-trained statistics
    for _ in range(steps):
        batch = torch.randperm(len(images), generator=order)[:batch_size]
        loss = F.cross_entropy(model(images[batch]), labels[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    test_images, test_labels = task.test.tensors
    with torch.no_grad():
        return (model(test_images).argmax(1) == test_labels).float().mean().item()


def timed(function, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="*", default=[1, 5, 10, 50])
    parser.add_argument("--digits", type=int, nargs="*", default=[100])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=BackboneSettings.images)
    parser.add_argument("--epochs", type=int, default=BackboneSettings.epochs)
    parser.add_argument("--pretrain-batch-size", type=int, default=BackboneSettings.batch_size)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    threads = configure_threads()
    settings = BackboneSettings(images=args.images, epochs=args.epochs, batch_size=args.pretrain_batch_size)
    print(f"torch {torch.__version__}, {threads} threads, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    backbone, wall, cpu = timed(pretrained_backbone, settings, quiet=True)
    print(f"pre-training from an empty cache ({settings}): {wall:.1f} s wall, {cpu:.1f} s CPU")
    _, wall, cpu = timed(pretrained_backbone, settings, quiet=True)
    print(f"loading it from the cache: {wall:.2f} s wall, {cpu:.2f} s CPU\n")
    state = backbone.state_dict()
    print(f"{'target':<8} {'labels':>6}  " + "  ".join(f"{mode:>17}" for mode in MODES) + "   s/run")
    targets = [("shapes", k) for k in args.labels] + [("digits", k) for k in args.digits]
    for name, labels_per_class in targets:
        scores, seconds = {mode: [] for mode in MODES}, []
        for seed in args.seeds:
            task = target_task(name, labels_per_class, seed=seed, size=settings.size)
            for mode in MODES:
                model, groups = model_for(mode, state, settings, seed)
                score, wall, _ = timed(train_and_test, model, groups, task, steps=args.steps, lr=args.lr,
                                       batch_size=args.batch_size, seed=seed)
                scores[mode].append(score)
                seconds.append(wall)
        cells = [f"{statistics.mean(s):.3f} ({min(s):.2f}-{max(s):.2f})" for s in scores.values()]
        print(f"{name:<8} {labels_per_class:>6}  " + "  ".join(f"{cell:>17}" for cell in cells)
              + f"   {statistics.median(seconds):.1f}", flush=True)
    print("\naccuracy on the fixed test set: mean over seeds (lowest-highest)", args.seeds)


if __name__ == "__main__":
    main()
