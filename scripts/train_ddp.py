"""Train a network with DistributedDataParallel: one process per GPU, or several CPU processes.

    torchrun --standalone --nproc_per_node=2 scripts/train_ddp.py --data shapes --epochs 2
    python scripts/train_ddp.py --data shapes --epochs 2 --batch-size 128     # the same run, one process

The script of chapter 15 (efficient and modern training). torchrun starts N copies of it; each
joins the process group (gloo on CPUs, NCCL on CUDA GPUs, chosen by ``utils.distributed``), takes
its own share of every batch (a ``DistributedSampler``), and trains a copy of the model wrapped
in ``DistributedDataParallel``, which averages the gradients of all copies in ``backward()``.
``fit()`` does the rest: ``set_epoch`` every epoch, losses and accuracies averaged over all ranks,
rank 0 alone printing and writing checkpoints.

- ``--batch-size`` is per process; the global batch, what one step averages over, is that times
  the number of processes, and the learning rate follows it by the linear scaling rule of chapter
  06: ``--lr`` is the rate for batches of ``--base-batch``, warmed up over ``--warmup-epochs``, then
  decayed along a cosine. ``--global-batch G`` fixes the global batch instead and shares it out
  (G / processes each), so the same command trains the same run with any number of processes.
- ``--checkpoint-dir`` keeps ``last.pt`` and ``best.pt``; ``--resume`` continues from ``last.pt``,
  with any number of processes, as long as the global batch stays the same (2 × 64 → 1 × 128):
  the script stops with the numbers to use when it does not. ``--stop-after EPOCH`` ends a run
  early, as a lost session or a pre-empted job would, to try it.
- Batch norm computes its statistics over each process's share of the batch, not the whole of it:
  on GPUs ``--sync-bn`` makes them global (SyncBatchNorm, CUDA only). ``--model lenet`` has no batch
  norm, so 2 processes × batch B train as 1 process × batch 2B, to float rounding (tests/test_distributed.py).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's utils/, also under torchrun
from utils import distributed  # noqa: E402
from utils.augment import preset  # noqa: E402
from utils.cnn import LeNet5  # noqa: E402
from utils.env import configure_threads, seed_everything  # noqa: E402
from utils.resnet import resnet_for_small_images  # noqa: E402
from utils.training import fit, simulate_lost_session  # noqa: E402

MODELS = {"resnet8": lambda size: resnet_for_small_images(8, in_channels=3),
          "resnet20": lambda size: resnet_for_small_images(20, in_channels=3),
          "lenet": lambda size: LeNet5(in_channels=3, input_size=size)}
RUN_FILE = "run.json"  # beside the checkpoints: the global batch a resume must keep


def _positive(kind):
    def parse(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} is not positive")
        return value
    return parse


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", choices=("shapes", "cifar10"), default="shapes",
                        help="Shapes-10 (generated, offline) or CIFAR-10 (downloaded)")
    parser.add_argument("--model", choices=tuple(MODELS), default="resnet8")
    parser.add_argument("--epochs", type=_positive(int), default=10)
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument("--batch-size", type=_positive(int), default=64, help="per process")
    batch.add_argument("--global-batch", type=_positive(int), default=None,
                       help="the batch of one step, shared out equally by the processes (instead of --batch-size)")
    parser.add_argument("--lr", type=_positive(float), default=0.1, help="learning rate for --base-batch")
    parser.add_argument("--base-batch", type=_positive(int), default=128)
    parser.add_argument("--warmup-epochs", type=float, default=1.0)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="no random crops and flips")
    parser.add_argument("--sync-bn", action="store_true", help="batch-norm statistics over all GPUs (CUDA only)")
    parser.add_argument("--checkpoint-dir", type=Path, default=None)
    parser.add_argument("--resume", action="store_true", help="continue from CHECKPOINT_DIR/last.pt")
    parser.add_argument("--stop-after", type=_positive(int), default=None, metavar="EPOCH",
                        help="end the run after this epoch, as a lost session or a pre-empted job would")
    parser.add_argument("--backend", choices=("auto", "gloo", "nccl"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=_positive(int), default=32, help="Shapes-10: image side in pixels")
    parser.add_argument("--train-size", type=_positive(int), default=3000, help="Shapes-10: training images")
    parser.add_argument("--val-size", type=_positive(int), default=1000, help="Shapes-10: validation images")
    args = parser.parse_args(argv)
    if args.resume and args.checkpoint_dir is None:
        parser.error("--resume needs --checkpoint-dir, the folder the interrupted run wrote to")
    if args.sync_bn and not torch.cuda.is_available():
        parser.error("--sync-bn needs CUDA GPUs: SyncBatchNorm does not run on CPUs")
    return args


def datasets(args):
    """(train, val) data sets; rank 0 generates or downloads them first, the others then read them."""
    from utils.imagesets import cifar10_loaders
    from utils.shapes import shapes_loaders

    size = 32 if args.data == "cifar10" else args.size
    augment = preset("cifar", size=size) if args.augment else None
    with distributed.main_first():
        if args.data == "cifar10":
            loaders = cifar10_loaders(augment=augment, device="cpu")
        else:
            loaders = shapes_loaders(size=size, train_size=args.train_size, val_size=args.val_size,
                                     test_size=args.val_size, augment=augment, device="cpu", seed=args.seed)
    return loaders.train.dataset, loaders.val.dataset, size


def sharded_loaders(args, train_set, val_set, device: torch.device):
    """Each process's loaders: a DistributedSampler's share for training, in-order shards for validation."""
    cuda = device.type == "cuda"
    train = DataLoader(train_set, batch_size=args.batch_size, pin_memory=cuda,
                       sampler=distributed.shard_sampler(train_set, shuffle=True, seed=args.seed))
    val = DataLoader(val_set, batch_size=max(256, args.batch_size), pin_memory=cuda,
                     sampler=distributed.shard_sampler(val_set, shuffle=False))
    return train, val


def check_global_batch(folder: Path, global_batch: int, resume: bool) -> None:
    """A resume must keep the global batch: the learning rate and every step depend on it."""
    run_file = folder / RUN_FILE
    if resume and run_file.is_file():
        before = json.loads(run_file.read_text())["global_batch"]
        if before != global_batch:
            processes = distributed.world_size()
            fix = (f"pass --global-batch {before} (--batch-size {before // processes} with {processes} process(es))"
                   if before % processes == 0 else f"pass --global-batch {before} with a number of processes "
                   f"that divides it")
            raise SystemExit(f"{folder} holds a run with a global batch of {before}, and this one has "
                             f"{processes} process(es) × {global_batch // processes} = {global_batch}. To continue "
                             f"that run, {fix}; or start afresh in a new --checkpoint-dir.")
    distributed.barrier()  # every rank has read the old file before rank 0 writes the new one
    if distributed.is_main():
        folder.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps({"global_batch": global_batch}))


def warmup_cosine(warmup_steps: int, total_steps: int):
    """The factor of the learning rate at each step: linear from 1/warmup_steps up to 1, then a cosine to 0."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


def build_model(args, size: int, launch: distributed.Launch) -> nn.Module:
    seed_everything(args.seed)  # the same initial weights in every process (DDP also copies rank 0's)
    model = MODELS[args.model](size)
    if args.sync_bn and launch.world_size > 1:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model.to(launch.device)
    if launch.backend is None:
        return model
    return DistributedDataParallel(model, device_ids=[launch.local_rank] if launch.device.type == "cuda" else None)


def optimizer_and_schedule(args, model: nn.Module, lr: float, steps_per_epoch: int):
    """SGD with Nesterov momentum at the scaled rate ``lr``, warmed up, then decayed along a cosine, per step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=args.momentum, nesterov=True,
                                weight_decay=args.weight_decay)
    warmup = max(1, round(args.warmup_epochs * steps_per_epoch))
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup, args.epochs * steps_per_epoch))


def say_how_it_runs(launch: distributed.Launch) -> None:
    """Without torchrun, say that this is one plain process, and how to start several."""
    if launch.backend is None:
        print(f"No torchrun environment (WORLD_SIZE is not set): training as one process on {launch.device.type}. "
              f"To train with N processes, {distributed.HOW_TO_START.replace('script.py', 'scripts/train_ddp.py')}.")


def main(argv=None):
    """Parse the arguments, train, and return fit()'s History (the same in every process)."""
    args = parse_args(argv)
    configure_threads()
    launch = distributed.init_distributed(None if args.backend == "auto" else args.backend)
    try:
        say_how_it_runs(launch)
        if args.global_batch is not None:
            try:
                args.batch_size = distributed.batch_per_process(args.global_batch)
            except ValueError as error:
                raise SystemExit(f"--global-batch: {error}") from None
        train_set, val_set, size = datasets(args)
        model = build_model(args, size, launch)
        train, val = sharded_loaders(args, train_set, val_set, launch.device)
        global_batch = args.batch_size * launch.world_size
        lr = distributed.scaled_lr(args.lr, base_batch=args.base_batch, batch_per_process=args.batch_size)
        if args.checkpoint_dir is not None:
            check_global_batch(args.checkpoint_dir, global_batch, args.resume)
        distributed.print_once(
            f"{launch.world_size} process(es), {launch.backend or 'no process group'} on {launch.device.type} · "
            f"batch {args.batch_size} per process, {global_batch} in all · learning rate {args.lr:g} × "
            f"{global_batch}/{args.base_batch} = {lr:g} (the linear scaling rule) · {len(train_set)} training images")
        if launch.world_size > 1 and not args.sync_bn and args.model != "lenet":
            distributed.print_once("Note: each process's batch norm normalises over its own share of the batch "
                                   f"({args.batch_size} images), not all {global_batch}; --sync-bn on GPUs.")
        optimizer, scheduler = optimizer_and_schedule(args, model, lr, steps_per_epoch=len(train))
        history = None
        stopping = simulate_lost_session(args.stop_after) if args.stop_after else contextlib.nullcontext()
        with stopping as lost:
            history = fit(model, train, val, epochs=args.epochs, optimizer=optimizer, scheduler=scheduler,
                          scheduler_step="batch", device=launch.device, checkpoint_dir=args.checkpoint_dir,
                          resume=args.resume, progress=False)
        history = history if history is not None else lost.history
        for row in history:
            distributed.print_once(f"epoch {row['epoch']}: train loss {row['train_loss']:.4f} · val loss "
                                   f"{row['val_loss']:.4f} · val accuracy {row['val_metric']:.4f}")
        return history
    finally:
        distributed.teardown()


if __name__ == "__main__":
    main()
