"""Measure chapter 15's experiments: ViT against ResNet, pruning and quantisation on Shapes-10; distillation on digits.

    OMP_NUM_THREADS=1 python scripts/bench_modern.py [--seeds 0 1 2] [--only vit prune quant distill]

Shapes-10 is drawn in memory (``render_shapes``) at ``--size`` pixels, ``--train`` training and
``--test`` test images, each image standardised on its own (``standardise_each``). For each seed:

- vit:     a small ViT (``utils.vit``) and chapter 10's ResNet-8 (``resnet_for_small_images``) of about
           the same parameter count, each trained with AdamW and a cosine schedule. "Equal time" is
           equal training CPU seconds: the epoch counts (ResNet 6, ViT 10) were calibrated so that
           the two measured CPU times (``time.process_time``, ``_cpu``) agree within 15 % at one
           thread; ``cpu_ratio_vit_resnet`` reports it every run. Epochs, not a clock, decide when
           training stops, so the accuracies are the same every run at a given thread count;
- prune:   the seed's trained ResNet pruned globally by magnitude at several sparsities (no
           fine-tuning); test accuracy at each;
- quant:   the trained ViT's Linear layers quantised dynamically (accuracy, size), and an MLP on
           the flattened images: size and median CPU latency (batch 1 and 64) before and after;
- distill: on scikit-learn's 8×8 digits (``digits_splits(0)``: 1,077 train, 360 test), an MLP
           teacher trained on all 1,077 labels; students (one hidden layer of each ``--student-hidden``
           size) see only ``--labels-per-class`` labelled images of each class (drawn with the seed),
           trained on those labels alone, or distilled (``distill``, T and alpha below) on the same
           images, in the same batches and order, for the same epochs. This is Hinton et al.'s
           (2015) small-transfer-set setting: the teacher's soft targets act as a regulariser for a
           student with few labels. With all 1,077 labels the gain vanishes (a 64-32-10 student
           for 30 epochs, batch 32, lr 1e-2: 0.970 alone, 0.963 distilled, in a trial run).

Prints one line per run and a summary (mean, lowest-highest over the seeds).

Measured 2026-11-30 with the defaults, seeds 0, 1, 2: mean (lowest-highest), at OMP_NUM_THREADS=1
and 2 (2 threads with OMP_WAIT_POLICY=PASSIVE: with the default, OpenMP's spinning threads on this
machine, loaded 4-5 by other jobs, ran for minutes). CPU seconds of training per run:

                                             1 thread                   2 threads
    ResNet-8 w8 (19,954 params, 6 epochs)    0.669 (0.647-0.690) 4.4 s  0.666 (0.651-0.695) 13.6 s
    ViT d32×2, 4 heads (19,626, 10 epochs)   0.297 (0.288-0.307) 4.5 s  0.294 (0.280-0.307)  6.9 s
    CPU time ViT / ResNet                    1.02 (1.00-1.05)           0.51 (0.47-0.54)
    ResNet pruned, 10 / 20 / 30 / 50 %       0.673 / 0.653 / 0.632 / 0.439 (1 thread)
                   70 / 80 / 90 / 95 %       0.156 / 0.111 / 0.103 / 0.098
    ViT, Linear layers quantised             0.296 (0.288-0.306), size 0.511 of float32
    MLP 768-512-512-10 (661,514 params)      2,649 kB → 669 kB; batch 64 0.82 → 0.16 ms, batch 1 0.050 →
                                             0.052 ms (1 thread, median of 200)
    digits teacher 64-256-256-10 (85,002)    0.973 (0.972-0.975) 0.45 s   (identical at 2 threads, 0.61 s)
    students, 10 labels per class (100 images), 200 epochs, batch 16, lr 1e-2, T 4, alpha 0.9
    (identical accuracies at 1 and 2 threads):
        64-8-10    (610 params)   alone 0.798 (0.758-0.875)  distilled 0.837 (0.797-0.889)  gain 0.039 (0.014-0.067)
        64-16-10 (1,210 params)   alone 0.894 (0.883-0.903)  distilled 0.947 (0.944-0.950)  gain 0.053 (0.042-0.064)
        64-32-10 (2,410 params)   alone 0.895 (0.889-0.900)  distilled 0.957 (0.953-0.958)  gain 0.061 (0.056-0.069)
        64-64-10 (4,810 params)   alone 0.902 (0.897-0.906)  distilled 0.958 (0.953-0.961)  gain 0.056 (0.056-0.058)
    each student 0.42 s alone, 0.57-0.59 s distilled (1 thread; 0.57-0.67 and 0.81-0.91 s at 2);
    teacher and the four pairs together 4.5 s CPU at 1 thread, 6.5 s at 2.

At 2 threads these small convolutions cost the ResNet three times the CPU of one thread (wall time
equalled CPU time: no speed-up), while the ViT's matrix products lost less, so equal CPU time at one
thread is not equal at two on this machine; a chapter that wants "equal time" to hold for every
reader can run this comparison under ``torch.set_num_threads(1)``.
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
from utils.data import Splits, digits_splits, make_loaders  # noqa: E402
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


def mlp(*sizes: int) -> nn.Module:
    """Linear layers of the given sizes with a ReLU between each two: the digits' teacher and students."""
    layers = []
    for inputs, outputs in zip(sizes, sizes[1:]):
        layers += [nn.Linear(inputs, outputs), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def make_teacher(args) -> nn.Module:
    return mlp(64, args.teacher_hidden, args.teacher_hidden, 10)


def labels_per_class(dataset: TensorDataset, count: int, seed: int) -> TensorDataset:
    """``count`` examples of every class of ``dataset``, drawn at random with ``seed``, in their order."""
    inputs, labels = dataset.tensors
    generator = torch.Generator().manual_seed(seed)
    chosen = [members[torch.randperm(len(members), generator=generator)[:count]]
              for members in (torch.nonzero(labels == label).flatten() for label in labels.unique())]
    chosen = torch.cat(chosen).sort().values
    return TensorDataset(inputs[chosen], labels[chosen])


def train(model, loader, test_loader, epochs: int, lr: float, weight_decay: float = 0.0):
    """AdamW with a cosine schedule; returns (test accuracy, wall seconds, CPU seconds of training)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    began, cpu = time.perf_counter(), time.process_time()
    fit(model, loader, None, epochs=epochs, optimizer=optimizer, progress=False,
        scheduler=torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs))
    return evaluate(model, test_loader)["metric"], time.perf_counter() - began, time.process_time() - cpu


def summary(name: str, values) -> str:
    values = list(values)
    return (f"{name}: {statistics.mean(values):.4g} ({min(values):.4g}-{max(values):.4g})" if len(values) > 1
            else f"{name}: {values[0]:.4g}")


def run_seed(seed: int, args, loaders, only) -> dict:
    """ViT against ResNet, pruning and quantisation on Shapes-10 for one seed."""
    results = {}
    torch.manual_seed(seed)
    resnet = make_resnet(args)
    results["resnet_acc"], results["resnet_s"], results["resnet_cpu"] = train(
        resnet, loaders.train, loaders.test, args.resnet_epochs, args.resnet_lr)
    if "vit" in only or "quant" in only:
        torch.manual_seed(seed)
        vit = make_vit(args)
        results["vit_acc"], results["vit_s"], results["vit_cpu"] = train(
            vit, loaders.train, loaders.test, args.vit_epochs, args.vit_lr, weight_decay=0.05)
        results["cpu_ratio_vit_resnet"] = results["vit_cpu"] / results["resnet_cpu"]
    if "prune" in only:
        for row in prune_sweep(resnet, loaders.test, SPARSITIES):
            results[f"pruned_{row['asked']:.2f}"] = row["accuracy"]
            results[f"reached_{row['asked']:.2f}"] = row["reached"]
    if "quant" in only:
        quantised = quantize_linear_layers(vit)
        results["vit_q_acc"] = evaluate(quantised, loaders.test)["metric"]
        results["vit_size_ratio"] = model_size_bytes(quantised) / model_size_bytes(vit)
    return results


def distill_seed(seed: int, args, digits: Splits) -> dict:
    """The digits' teacher on every training label; students on a few labels, alone and distilled."""
    results = {}
    began, cpu = time.perf_counter(), time.process_time()
    loaders = make_loaders(digits, args.teacher_batch, device="cpu", seed=seed)
    torch.manual_seed(seed)
    teacher = make_teacher(args)
    results["teacher_acc"], results["teacher_s"], results["teacher_cpu"] = train(
        teacher, loaders.train, loaders.test, args.teacher_epochs, args.teacher_lr)
    few = digits._replace(train=labels_per_class(digits.train, args.labels_per_class, seed))
    for hidden in args.student_hidden:
        torch.manual_seed(seed)
        alone = mlp(64, hidden, 10)
        student = make_loaders(few, args.student_batch, device="cpu", seed=seed)
        results[f"h{hidden}_alone_acc"], results[f"h{hidden}_alone_s"], results[f"h{hidden}_alone_cpu"] = train(
            alone, student.train, student.test, args.student_epochs, args.student_lr)
        torch.manual_seed(seed)
        taught = mlp(64, hidden, 10)
        student = make_loaders(few, args.student_batch, device="cpu", seed=seed)  # the same batches, in the same order
        optimizer = torch.optim.AdamW(taught.parameters(), lr=args.student_lr)
        started, cpu_started = time.perf_counter(), time.process_time()
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, args.student_epochs)  # as train() uses
        distill(taught, teacher, student.train, epochs=args.student_epochs, optimizer=optimizer, scheduler=schedule,
                T=args.T, alpha=args.alpha)
        results[f"h{hidden}_distilled_s"] = time.perf_counter() - started
        results[f"h{hidden}_distilled_cpu"] = time.process_time() - cpu_started
        results[f"h{hidden}_distilled_acc"] = evaluate(taught, student.test)["metric"]
        results[f"h{hidden}_gain"] = results[f"h{hidden}_distilled_acc"] - results[f"h{hidden}_alone_acc"]
    results["distill_total_s"], results["distill_total_cpu"] = time.perf_counter() - began, time.process_time() - cpu
    return results


def quantised_mlp_timings(args) -> dict:
    torch.manual_seed(0)
    features = 3 * args.size * args.size
    network = nn.Sequential(nn.Flatten(), mlp(features, 512, 512, 10)).eval()
    quantised = quantize_linear_layers(network)
    out = {"mlp_params": parameters(network), "mlp_bytes": model_size_bytes(network),
           "mlp_q_bytes": model_size_bytes(quantised)}
    for batch in (1, 64):
        example = torch.rand(batch, 3, args.size, args.size)
        out[f"mlp_ms_b{batch}"] = cpu_latency(network, example, 200)
        out[f"mlp_q_ms_b{batch}"] = cpu_latency(quantised, example, 200)
    return out


def report(title: str, runs: list[dict], seeds) -> None:
    print(f"{title}: summary over seeds " + " ".join(map(str, seeds)))
    for key in runs[0]:
        print("  " + summary(key, [run[key] for run in runs]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", default=["vit", "prune", "quant", "distill"])
    shapes = parser.add_argument_group("Shapes-10: ViT against ResNet, pruning, quantisation")
    shapes.add_argument("--size", type=int, default=16)
    shapes.add_argument("--train", type=int, default=6000)
    shapes.add_argument("--test", type=int, default=1000)
    shapes.add_argument("--batch", type=int, default=128)
    shapes.add_argument("--resnet-width", type=int, default=8)
    shapes.add_argument("--resnet-epochs", type=int, default=6)
    shapes.add_argument("--resnet-lr", type=float, default=1e-2)
    shapes.add_argument("--patch", type=int, default=4)
    shapes.add_argument("--vit-dim", type=int, default=32)
    shapes.add_argument("--vit-depth", type=int, default=2)
    shapes.add_argument("--vit-heads", type=int, default=4)
    shapes.add_argument("--vit-epochs", type=int, default=10)
    shapes.add_argument("--vit-lr", type=float, default=2e-3)
    digits = parser.add_argument_group("digits: distillation")
    digits.add_argument("--teacher-hidden", type=int, default=256)
    digits.add_argument("--teacher-epochs", type=int, default=30)
    digits.add_argument("--teacher-batch", type=int, default=64)
    digits.add_argument("--teacher-lr", type=float, default=3e-3)
    digits.add_argument("--labels-per-class", type=int, default=10)
    digits.add_argument("--student-hidden", type=int, nargs="+", default=[8, 16, 32, 64])
    digits.add_argument("--student-epochs", type=int, default=200)
    digits.add_argument("--student-batch", type=int, default=16)
    digits.add_argument("--student-lr", type=float, default=1e-2)
    digits.add_argument("--T", type=float, default=4.0)
    digits.add_argument("--alpha", type=float, default=0.9)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    torch.set_flush_denormal(True)  # as setup() does in the notebooks
    print(f"threads {torch.get_num_threads()}", flush=True)
    if {"vit", "prune", "quant"} & set(args.only):
        began = time.perf_counter()
        test = tensors(args.test, args.size, "test")
        splits = Splits(tensors(args.train, args.size, "train"), test, test)  # nothing is tuned per run
        print(f"Shapes-10 drawn in {time.perf_counter() - began:.1f} s; ResNet-8 w{args.resnet_width}: "
              f"{parameters(make_resnet(args)):,} parameters; ViT d{args.vit_dim}×{args.vit_depth}: "
              f"{parameters(make_vit(args)):,}", flush=True)
        runs = []
        for seed in args.seeds:
            runs.append(run_seed(seed, args, make_loaders(splits, args.batch, device="cpu", seed=seed), args.only))
            print(f"seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in runs[-1].items()), flush=True)
        report("Shapes-10", runs, args.seeds)
        if "quant" in args.only:
            for key, value in quantised_mlp_timings(args).items():
                print(f"  {key}: {value:.4g}")
    if "distill" in args.only:
        digits = digits_splits(0)
        print(f"digits: teacher {parameters(make_teacher(args)):,} parameters on {len(digits.train)} labels; "
              f"students " + ", ".join(f"h{h} {parameters(mlp(64, h, 10)):,}" for h in args.student_hidden)
              + f" on {args.labels_per_class} labels per class", flush=True)
        runs = []
        for seed in args.seeds:
            runs.append(distill_seed(seed, args, digits))
            print(f"seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in runs[-1].items()), flush=True)
        report("digits", runs, args.seeds)


if __name__ == "__main__":
    main()
