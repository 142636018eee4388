"""Measure chapter 15's experiments on Shapes-10: ViT against ResNet, pruning, quantisation, distillation.

    OMP_NUM_THREADS=2 python scripts/bench_modern.py [--seeds 0 1 2] [--only vit prune quant distill]

Data: Shapes-10 drawn in memory (``render_shapes``) at ``--size`` pixels, ``--train`` training and
``--test`` test images, each image standardised on its own (``standardise_each``). For each seed:

- vit:     a small ViT (``utils.vit``) and chapter 10's ResNet (``resnet_for_small_images``) of about
           the same parameter count, each trained with Adam for its number of epochs; test accuracy
           and training seconds, wall (``_s``) and CPU over all threads (``_cpu``, the steadier figure
           on a shared machine);
- prune:   the seed's trained ResNet pruned globally by magnitude at several sparsities (no
           fine-tuning); test accuracy at each;
- quant:   the trained ViT's Linear layers quantised dynamically (accuracy, size), and an MLP on
           the flattened images: size and median CPU latency (batch 1 and 64) before and after;
- distill: a small CNN student trained on the labels alone and with the ResNet as teacher
           (``distill``, T and alpha below), same epochs; test accuracy and parameter counts.

Prints one line per run and a summary (mean, lowest-highest over the seeds).

Measured 2026-11-30 with the defaults, OMP_NUM_THREADS=2, seeds 0, 1, 2 (mean, lowest-highest; the
accuracies are identical in two runs; the machine was loaded 3-6 by other jobs, so its seconds are not):

    ResNet-8 (width 12, 44,230 parameters, 8 epochs)   test accuracy 0.476 (0.452-0.490)
    ViT (dim 48, depth 2, 4 heads, 41,722, 15 epochs)  test accuracy 0.280 (0.272-0.284)
    ResNet pruned globally, no fine-tuning:            10 % 0.475, 20 % 0.469, 30 % 0.432, 50 % 0.348,
                                                       70 % 0.187, 80 % 0.115, 90 % 0.100
    ViT, Linear layers quantised:                      0.277 (0.276-0.279), size 0.405 of float32
    MLP 768-512-512-10 (661,514 parameters):           2,649 kB → 669 kB; batch 64 0.50 → 0.14 ms,
                                                       batch 1 0.053 → 0.053 ms (median of 200)
    student CNN (3,882 parameters, 10 epochs):         labels only 0.276 (0.230-0.306),
                                                       distilled (T 4, alpha 0.9) 0.282 (0.265-0.299)

With one thread on a less loaded machine the ResNet's 8 epochs took 5.0-9.8 s and the ViT's 15
epochs 7.3-10.8 s; the students 1.3-1.4 s (labels) and 2.6-2.8 s (distilled).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from utils.compress import (cpu_latency, distill, model_size_bytes, prune_sweep,  # noqa: E402
                            quantize_linear_layers)
from utils.data import Splits, make_loaders  # noqa: E402
from utils.pretrained import standardise_each  # noqa: E402
from utils.resnet import resnet_for_small_images  # noqa: E402
from utils.shapes import render_shapes  # noqa: E402
from utils.training import evaluate, fit  # noqa: E402
from utils.vit import VisionTransformer  # noqa: E402

SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def tensors(count: int, size: int, split: str):
    images, labels = render_shapes(count, size=size, seed=0, split=split)
    pixels = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    return TensorDataset(standardise_each(pixels), torch.from_numpy(labels).long())


def make_vit(args) -> nn.Module:
    return VisionTransformer(args.size, args.patch, dim=args.vit_dim, depth=args.vit_depth, heads=args.vit_heads,
                             mlp_ratio=2.0)


def make_resnet(args) -> nn.Module:
    return resnet_for_small_images(8, args.resnet_width, in_channels=3)


def make_student(args) -> nn.Module:
    w = args.student_width
    return nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(2 * w, 10))


def train(model, loaders, epochs: int, lr: float, weight_decay: float = 0.0):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    began, cpu = time.perf_counter(), time.process_time()
    fit(model, loaders.train, None, epochs=epochs, optimizer=optimizer, progress=False,
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs))
    return evaluate(model, loaders.test)["metric"], time.perf_counter() - began, time.process_time() - cpu


def summary(name: str, values) -> str:
    values = list(values)
    return (f"{name}: {statistics.mean(values):.4g} ({min(values):.4g}-{max(values):.4g})" if len(values) > 1
            else f"{name}: {values[0]:.4g}")


def run_seed(seed: int, args, loaders, only) -> dict:
    results = {}
    torch.manual_seed(seed)
    resnet = make_resnet(args)
    results["resnet_acc"], results["resnet_s"], results["resnet_cpu"] = train(resnet, loaders, args.resnet_epochs, args.lr)
    if "vit" in only or "quant" in only:
        torch.manual_seed(seed)
        vit = make_vit(args)
        results["vit_acc"], results["vit_s"], results["vit_cpu"] = train(vit, loaders, args.vit_epochs, args.vit_lr, weight_decay=0.05)
    if "prune" in only:
        for row in prune_sweep(resnet, loaders.test, SPARSITIES):
            results[f"pruned_{row['asked']:.2f}"] = row["accuracy"]
            results[f"reached_{row['asked']:.2f}"] = row["reached"]
    if "quant" in only:
        quantised = quantize_linear_layers(vit)
        results["vit_q_acc"] = evaluate(quantised, loaders.test)["metric"]
        results["vit_size_ratio"] = model_size_bytes(quantised) / model_size_bytes(vit)
    if "distill" in only:
        torch.manual_seed(seed)
        alone = make_student(args)
        results["student_acc"], results["student_s"], results["student_cpu"] = train(alone, loaders, args.student_epochs, args.lr)
        torch.manual_seed(seed)
        taught = make_student(args)
        optimizer = torch.optim.AdamW(taught.parameters(), lr=args.lr)
        began, cpu = time.perf_counter(), time.process_time()
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.student_epochs)  # as train() uses
        distill(taught, resnet, loaders.train, epochs=args.student_epochs, optimizer=optimizer, scheduler=schedule,
                T=args.T, alpha=args.alpha)
        results["distilled_s"], results["distilled_cpu"] = time.perf_counter() - began, time.process_time() - cpu
        results["distilled_acc"] = evaluate(taught, loaders.test)["metric"]
    return results


def quantised_mlp_timings(args) -> dict:
    torch.manual_seed(0)
    features = 3 * args.size * args.size
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(features, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                        nn.Linear(512, 10)).eval()
    quantised = quantize_linear_layers(mlp)
    out = {"mlp_params": parameters(mlp), "mlp_bytes": model_size_bytes(mlp), "mlp_q_bytes": model_size_bytes(quantised)}
    for batch in (1, 64):
        example = torch.rand(batch, 3, args.size, args.size)
        out[f"mlp_ms_b{batch}"] = cpu_latency(mlp, example, 200)
        out[f"mlp_q_ms_b{batch}"] = cpu_latency(quantised, example, 200)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", default=["vit", "prune", "quant", "distill"])
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--vit-lr", type=float, default=3e-3)
    parser.add_argument("--patch", type=int, default=4)
    parser.add_argument("--vit-dim", type=int, default=48)
    parser.add_argument("--vit-depth", type=int, default=2)
    parser.add_argument("--vit-heads", type=int, default=4)
    parser.add_argument("--vit-epochs", type=int, default=15)
    parser.add_argument("--resnet-width", type=int, default=12)
    parser.add_argument("--resnet-epochs", type=int, default=8)
    parser.add_argument("--student-width", type=int, default=8)
    parser.add_argument("--student-epochs", type=int, default=10)
    parser.add_argument("--T", type=float, default=4.0)
    parser.add_argument("--alpha", type=float, default=0.9)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    began = time.perf_counter()
    test = tensors(args.test, args.size, "test")
    splits = Splits(tensors(args.train, args.size, "train"), test, test)  # no validation: nothing is tuned per run
    print(f"threads {torch.get_num_threads()}; data drawn in {time.perf_counter() - began:.1f} s; "
          f"ResNet-8 w{args.resnet_width}: {parameters(make_resnet(args)):,} parameters; ViT d{args.vit_dim}×"
          f"{args.vit_depth}: {parameters(make_vit(args)):,}; student w{args.student_width}: "
          f"{parameters(make_student(args)):,}", flush=True)
    runs = []
    for seed in args.seeds:
        loaders = make_loaders(splits, args.batch, device="cpu", seed=seed)
        runs.append(run_seed(seed, args, loaders, args.only))
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in runs[-1].items()), flush=True)
    print("summary over seeds " + " ".join(map(str, args.seeds)))
    for key in runs[0]:
        print("  " + summary(key, [run[key] for run in runs]))
    if "quant" in args.only:
        for key, value in quantised_mlp_timings(args).items():
            print(f"  {key}: {value:.4g}")


if __name__ == "__main__":
    main()
