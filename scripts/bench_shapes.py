"""Measure Shapes-10: generation time, reading time per epoch, and how learnable it is.

    OMP_NUM_THREADS=2 python scripts/bench_shapes.py generate [--size 32] [--repeats 3]
    OMP_NUM_THREADS=2 python scripts/bench_shapes.py read [--size 32] [--repeats 5]
    OMP_NUM_THREADS=2 python scripts/bench_shapes.py learn [--size 32] [--epochs 15] [--seeds 0 1]

``learn`` trains two throwaway models, a plain CNN (three conv-ReLU-pool stages and a linear
layer) and a small ResNet (a stem and three residual stages, global average pooling), each
without and with flip-and-crop augmentation, on the training images (each image standardised on
its own), and prints train and validation accuracy and seconds per epoch. The set should be
learnable but not trivially: plain CNN < ResNet < CNN + augmentation < ResNet + augmentation.
Everything runs in a temporary data folder unless $COURSE_DATA is set.
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
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if "COURSE_DATA" not in os.environ:  # a temporary data folder, deleted at the end
    os.environ["COURSE_DATA"] = tempfile.mkdtemp(prefix="shapes-bench-")
    atexit.register(shutil.rmtree, os.environ["COURSE_DATA"], ignore_errors=True)
from utils.env import configure_threads, seed_everything  # noqa: E402
from utils.shapes import make_shapes, shapes_loaders  # noqa: E402


def standardise_each(image: torch.Tensor) -> torch.Tensor:
    """Each image on its own to mean 0 and standard deviation 1 (over all its pixels and channels)."""
    return (image - image.mean()) / image.std().clamp_min(1e-3)


def flip_and_crop(size: int):
    from torchvision.transforms import v2

    return v2.Compose([v2.RandomHorizontalFlip(), v2.RandomCrop(size, padding=size // 8, padding_mode="reflect")])


def plain_cnn(width: int = 16) -> nn.Module:
    def stage(c_in, c_out):
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2))

    return nn.Sequential(stage(3, width), stage(width, 2 * width), stage(2 * width, 4 * width),
                         nn.Flatten(), nn.LazyLinear(10))


class Block(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                                  nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        self.skip = (nn.Identity() if stride == 1 and c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def small_resnet(width: int = 16) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                         Block(width, width, 1), Block(width, 2 * width, 2), Block(2 * width, 4 * width, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 10))


def accuracy(model, loader) -> float:
    model.eval()
    right = total = 0
    with torch.no_grad():
        for X, y in loader:
            right += (model(X).argmax(1) == y).sum().item()
            total += len(y)
    return right / total


def train(make_model, loaders, epochs: int, seed: int):
    seed_everything(seed)
    model = make_model()
    model(next(iter(loaders.val))[0])  # shape the lazy layer
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=epochs * len(loaders.train))
    loss_fn = nn.CrossEntropyLoss()
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        model.train()
        for X, y in loaders.train:
            optimizer.zero_grad()
            loss_fn(model(X), y).backward()
            optimizer.step()
            schedule.step()
    seconds = (time.perf_counter() - started) / epochs, (time.process_time() - cpu_started) / epochs
    return accuracy(model, loaders.train), accuracy(model, loaders.val), seconds


def learn(args) -> None:
    plain = shapes_loaders(args.batch, size=args.size, transform=standardise_each, device="cpu")
    augmented = shapes_loaders(args.batch, size=args.size, transform=standardise_each,
                               augment=flip_and_crop(args.size), device="cpu")
    rows = [("plain CNN", plain_cnn, plain), ("small ResNet", small_resnet, plain),
            ("plain CNN + augmentation", plain_cnn, augmented), ("small ResNet + augmentation", small_resnet, augmented)]
    print(f"Shapes-10 at {args.size}×{args.size}, {args.epochs} epochs, seeds {args.seeds}, "
          f"{torch.get_num_threads()} thread(s)")
    print("| model | train accuracy | validation accuracy | seconds per epoch (wall / CPU) |")
    print("|---|---|---|---|")
    for name, make_model, loaders in (rows[i] for i in args.only):
        results = [train(make_model, loaders, args.epochs, seed) for seed in args.seeds]
        train_acc, val_acc, seconds = zip(*results)
        wall, cpu = zip(*seconds)
        print(f"| {name} | {' / '.join(f'{a:.1%}' for a in train_acc)} | {' / '.join(f'{a:.1%}' for a in val_acc)} "
              f"| {statistics.median(wall):.2f} / {statistics.median(cpu):.2f} |", flush=True)


def generate(args) -> None:
    times = []
    for repeat in range(args.repeats):
        root = Path(os.environ["COURSE_DATA"]) / f"generate-{repeat}"
        started = time.perf_counter()
        make_shapes(root, size=args.size, quiet=True)
        times.append(time.perf_counter() - started)
    print(f"generating 5,000 images of {args.size}×{args.size}: median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f}, {args.repeats} runs; the first loads the photos)")


def read(args) -> None:
    for in_memory in (False, True):
        loaders = shapes_loaders(128, size=args.size, in_memory=in_memory, device="cpu")
        walls, cpus = [], []
        for _ in range(args.repeats):
            started, cpu_started = time.perf_counter(), time.process_time()
            for _ in loaders.train:
                pass
            for _ in loaders.val:
                pass
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu_started)
        print(f"reading train + val ({len(loaders.train.dataset) + len(loaders.val.dataset):,} images of {args.size}×{args.size}) once, "
              f"{'in memory' if in_memory else 'from disk'}: median {statistics.median(walls):.3f} s wall "
              f"(min {min(walls):.3f}, max {max(walls):.3f}), {statistics.median(cpus):.3f} s CPU, {args.repeats} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("generate", "read", "learn"))
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--only", type=int, nargs="+", default=[0, 1, 2, 3], help="rows of the table to run (0–3)")
    args = parser.parse_args()
    configure_threads()
    {"generate": generate, "read": read, "learn": learn}[args.what](args)


if __name__ == "__main__":
    main()
