"""Measure the mini deepfake set: generation time, and how learnable each kind of fake is.

    OMP_NUM_THREADS=2 python scripts/bench_fakes.py [--size 32] [--train 3000] [--val 1000] [--epochs 4]
                                                    [--seeds 0 1 2] [--held-out noise|none]
                                                    [--runs finetune+hp finetune scratch+hp]

Generates the set (``utils.fakes.make_fakes``), then trains one detector per run and seed, a
ResNet with one output logit, on the training images, each image standardised on its own
(``standardise_each``), with AdamW, BCE-with-logits and a cosine learning rate. The runs:

- ``finetune+hp``: chapter 13's backbone (``pretrained_backbone()``, fc replaced), fed the image and
  its fixed high-pass residual (``utils.forensics.HighPass(keep_image=True)``; the stem convolution
  widened from 3 to 6 input channels, its new weights starting at zero);
- ``finetune``: the same backbone fed the image alone;
- ``scratch+hp`` / ``scratch``: the same network, randomly initialised.

It prints, per run, the AUC (``utils.metrics.roc_auc``) over the validation set without the
held-out kind, each kind of fake against the real validation images, the held-out kind's, and the
wall and CPU seconds of training; then the mean and spread over the seeds. Everything runs in a
temporary data folder unless $COURSE_DATA is set (the backbone is pre-trained there once).
"""
from __future__ import annotations

import argparse
import atexit
import copy
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
    os.environ["COURSE_DATA"] = tempfile.mkdtemp(prefix="fakes-bench-")
    atexit.register(shutil.rmtree, os.environ["COURSE_DATA"], ignore_errors=True)
from utils.fakes import FAKE_KINDS, make_fakes, read_kinds  # noqa: E402
from utils.ffdi import FFDIDataset  # noqa: E402
from utils.forensics import HighPass, average_log_spectrum  # noqa: E402
from utils.metrics import roc_auc  # noqa: E402
from utils.pretrained import pretrained_backbone, standardise_each  # noqa: E402
from utils.resnet import resnet_for_small_images  # noqa: E402

RUNS = ("finetune+hp", "finetune", "scratch+hp", "scratch")


class Standardise(nn.Module):
    def forward(self, images):
        return standardise_each(images)


def widen_stem(backbone: nn.Module) -> nn.Module:
    """The stem convolution takes 6 channels (image, residual): the image's weights kept, the residual's zero."""
    old = backbone.conv1
    new = nn.Conv2d(2 * old.in_channels, old.out_channels, old.kernel_size, old.stride, old.padding, bias=False)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:, :old.in_channels] = old.weight
    backbone.conv1 = new
    return backbone


def detector(run: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    high_pass = run.endswith("+hp")
    if run.startswith("finetune"):
        backbone = copy.deepcopy(pretrained_backbone(quiet=True))
        backbone.fc = nn.Linear(backbone.fc.in_features, 1)
        if high_pass:
            widen_stem(backbone)
    else:
        backbone = resnet_for_small_images(8, 16, in_channels=6 if high_pass else 3, num_classes=1)
    layers = [Standardise(), *([HighPass(keep_image=True)] if high_pass else []), backbone]
    return nn.Sequential(*layers)


def train(model, images, targets, *, epochs, batch_size, lr, seed):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    batches = len(images) // batch_size
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * batches)
    order = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(images), generator=order)[:batches * batch_size].view(batches, -1):
            x = images[batch]
            flip = torch.rand(len(x), generator=order) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            loss = F.binary_cross_entropy_with_logits(model(x).squeeze(1), targets[batch].float())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


@torch.no_grad()
def scores_of(model, images):
    return torch.cat([model(chunk).squeeze(1) for chunk in images.split(500)])


def aucs(scores, kinds, held_out):
    real = [i for i, kind in enumerate(kinds) if kind == "real"]
    result = {}
    for kind in FAKE_KINDS:
        fake = [i for i, k in enumerate(kinds) if k == kind]
        result[kind] = roc_auc(scores[real + fake], [0] * len(real) + [1] * len(fake))
    seen = [i for i, kind in enumerate(kinds) if kind != held_out]
    result["overall"] = roc_auc(scores[seen], [int(kinds[i] != "real") for i in seen])
    return result


def tensors(root, split):
    data = FFDIDataset(root / "phase1" / split, root / "phase1" / f"{split}_label.txt", in_memory=True)
    table = read_kinds(root, split)
    return data.images.float() / 255, data.targets, [table[name].kind for name in data.names]


def spectrum_peaks(images, kinds):
    """The frequencies where the upsampling fakes' mean log spectrum exceeds the real images' most."""
    real = average_log_spectrum(images[[k == "real" for k in kinds]])
    fake = average_log_spectrum(images[[k == "upsample" for k in kinds]])
    difference = fake - real
    size = difference.shape[0]
    top = torch.topk(difference.flatten(), 4)
    where = [(int(i) // size - size // 2, int(i) % size - size // 2) for i in top.indices]
    return where, top.values.tolist(), difference.abs().median().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--val", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--held-out", default="noise")
    parser.add_argument("--runs", nargs="+", default=list(RUNS[:3]), choices=RUNS)
    args = parser.parse_args()
    held_out = None if args.held_out == "none" else args.held_out
    torch.set_flush_denormal(True)

    started = time.perf_counter()
    root = make_fakes(size=args.size, train_size=args.train, val_size=args.val, held_out=held_out, quiet=True)
    print(f"generated {args.train + args.val} images of {args.size}×{args.size} in {time.perf_counter() - started:.2f} s "
          f"({root})")
    train_x, train_y, _ = tensors(root, "trainset")
    val_x, val_y, val_kinds = tensors(root, "valset")
    where, heights, median = spectrum_peaks(val_x, val_kinds)
    print(f"upsample − real log spectrum: largest at (row, col) frequencies {where}, by {[round(h, 2) for h in heights]} "
          f"(median |difference| {median:.3f})")
    if any(run.startswith("finetune") for run in args.runs):
        pretrained_backbone(quiet=True)  # pre-trained once, outside the timings
    columns = ["overall", *FAKE_KINDS]
    print(f"{'run':12} {'seed':>4} " + " ".join(f"{c + ('*' if c == held_out else ''):>9}" for c in columns)
          + f" {'wall s':>7} {'CPU s':>7}")
    results = {}
    for run in args.runs:
        for seed in args.seeds:
            model = detector(run, seed)
            wall, cpu = time.perf_counter(), time.process_time()
            train(model, train_x, train_y, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=seed)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            row = aucs(scores_of(model, val_x), val_kinds, held_out)
            row.update({"wall": wall, "cpu": cpu})
            results.setdefault(run, []).append(row)
            print(f"{run:12} {seed:>4} " + " ".join(f"{row[c]:9.3f}" for c in columns) + f" {wall:7.1f} {cpu:7.1f}",
                  flush=True)
    print("\nmean ± spread (max − min) over seeds", args.seeds, "; * = held out of training")
    for run, rows in results.items():
        cells = [f"{statistics.mean(r[c] for r in rows):.3f}±{max(r[c] for r in rows) - min(r[c] for r in rows):.3f}"
                 for c in [*columns, "wall", "cpu"]]
        print(f"{run:12} " + " ".join(f"{cell:>12}" for cell in cells))


if __name__ == "__main__":
    main()
