"""Training on several processes at once: DistributedDataParallel (DDP), started by ``torchrun``.

Introduced in chapter 15 (efficient and modern training); ``scripts/train_ddp.py`` uses all of it.
``torchrun --standalone --nproc_per_node=N script.py`` starts N copies of a script and tells each,
through environment variables, who it is: ``RANK`` (0 … N−1), ``LOCAL_RANK`` (which GPU on this
machine), ``WORLD_SIZE`` (N) and ``MASTER_ADDR``/``MASTER_PORT`` (where rank 0 waits for the rest).
Every process holds a whole copy of the model and trains on its own share of each batch;
``DistributedDataParallel`` averages the gradients of all copies during ``backward()``
(an all-reduce), so every optimizer step is the same in every process and the copies stay equal.

What a training script needs besides the wrapper, each a function here:

- ``init_distributed()`` / ``teardown()``: join the process group that torchrun describes (gloo on
  CPUs, NCCL on CUDA GPUs), or run as one plain process when started without torchrun;
- ``rank()``, ``world_size()``, ``is_main()``: who am I; rank 0 alone logs and writes checkpoints
  (``print_once``), and prepares data before the others read it (``main_first``);
- ``shard_sampler()``: each process its own share of the data: a ``DistributedSampler`` for
  training, whose order depends on the seed and the epoch only, never on the number of processes,
  so 2 processes × batch B see exactly the samples that 1 process × batch 2B sees (when the set's
  size is a multiple of the number of processes; otherwise a few samples are repeated); unpadded shards
  in order for evaluation, so that every example is counted once;
- ``batch_per_process()``: a global batch shared out equally, or a message saying why it cannot be;
- ``scaled_lr()``: the linear scaling rule of chapter 06 for the global batch, B × world size;
- ``sum_across_ranks()``, ``mean_across_ranks()``: a metric over all processes, with all_reduce;
- ``unwrap()``: the model inside the wrapper, whose ``state_dict`` any world size can load.

Every function also works in a single process without a process group (rank 0 of 1), so the same
script and ``fit()`` run with and without torchrun.
"""
from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DistributedSampler, Sampler

__all__ = ["Launch", "barrier", "batch_per_process", "epoch_seed", "init_distributed", "is_main", "main_first",
           "mean_across_ranks", "print_once", "rank", "scaled_lr", "shard_sampler", "sum_across_ranks", "teardown",
           "unwrap", "world_size"]

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
HOW_TO_START = "start the script with torchrun, e.g. torchrun --standalone --nproc_per_node=2 script.py"


@dataclass(frozen=True)
class Launch:
    """What ``init_distributed()`` found: this process's rank, its GPU's index, the world size, the
    backend ("gloo", "nccl", or None for a single process without a process group) and its device.
    Introduced in chapter 15."""

    rank: int
    local_rank: int
    world_size: int
    backend: str | None
    device: torch.device


def _environment_number(name: str) -> int:
    value = os.environ.get(name, "")
    if not value.isdigit():
        raise RuntimeError(f"the environment variable {name}={value!r} should be a whole number: torchrun sets it "
                           f"for every process it starts. Do not set it by hand; {HOW_TO_START}.")
    return int(value)


def _choose_backend(backend: str | None, local_rank: int) -> str:
    """gloo on CPUs; NCCL, which talks GPU to GPU, when there are CUDA GPUs."""
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend={backend!r}: choose 'gloo' (CPUs, or anywhere), 'nccl' (CUDA GPUs) or None "
                         "(NCCL where there are CUDA GPUs, else gloo)")
    if backend == "nccl":
        gpus = torch.cuda.device_count()
        if gpus == 0:
            raise RuntimeError("backend='nccl' needs CUDA GPUs and this machine has none: use backend='gloo' "
                               "to train on CPUs.")
        if local_rank >= gpus:
            raise RuntimeError(f"this process has LOCAL_RANK={local_rank}, but the machine has {gpus} GPU(s): "
                               f"torchrun started more processes than there are GPUs. Use "
                               f"--nproc_per_node={gpus} (one process per GPU).")
    return backend


def init_distributed(backend: str | None = None) -> Launch:
    """Join the process group that torchrun describes in the environment, or run alone.

    Under torchrun (``WORLD_SIZE`` is set) this calls ``dist.init_process_group`` with ``backend``:
    None picks NCCL where there are CUDA GPUs, else gloo. With NCCL each process takes the GPU
    ``cuda:LOCAL_RANK`` (and makes it current); with gloo the device is the CPU. Without torchrun
    it returns rank 0 of 1, with no process group, so the same script runs as one plain process.
    Calling it again returns the group already joined. Introduced in chapter 15.
    """
    if "WORLD_SIZE" not in os.environ:
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return Launch(rank=0, local_rank=0, world_size=1, backend=None, device=device)
    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise RuntimeError(f"WORLD_SIZE is set, but {', '.join(missing)} is not: a distributed run needs all of "
                           f"{', '.join(TORCHRUN_VARIABLES)}, one set per process. torchrun sets them; "
                           f"{HOW_TO_START}. (A cluster such as PAI-DLC sets WORLD_SIZE and RANK per machine: "
                           "pass them to torchrun as --nnodes and --node_rank.)")
    local_rank = _environment_number("LOCAL_RANK")
    if dist.is_initialized():
        backend = dist.get_backend()
    else:
        backend = _choose_backend(backend, local_rank)
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend, rank=_environment_number("RANK"),
                                world_size=_environment_number("WORLD_SIZE"))
    device = torch.device("cuda", local_rank) if backend == "nccl" else torch.device("cpu")
    return Launch(rank=dist.get_rank(), local_rank=local_rank, world_size=dist.get_world_size(),
                  backend=backend, device=device)


def teardown() -> None:
    """Leave the process group (every process, at the end of the script); nothing to do alone (chapter 15)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _in_group() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's number, 0 … world_size() − 1; 0 without a process group (chapter 15)."""
    return dist.get_rank() if _in_group() else 0


def world_size() -> int:
    """How many processes train together; 1 without a process group (chapter 15)."""
    return dist.get_world_size() if _in_group() else 1


def is_main() -> bool:
    """True in rank 0, the one process that logs and writes checkpoints (chapter 15)."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process has come here; nothing to wait for alone (chapter 15)."""
    if _in_group() and dist.get_world_size() > 1:
        dist.barrier()


def print_once(*args, **kwargs) -> None:
    """``print`` in rank 0 only: N processes would print every line N times (chapter 15)."""
    if is_main():
        print(*args, **kwargs)


@contextlib.contextmanager
def main_first():
    """Run the block in rank 0 first, then in the others: rank 0 downloads or generates the data,
    the rest wait at a barrier and then find it ready (chapter 15)::

        with main_first():
            loaders = shapes_loaders(...)
    """
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


# ----------------------------------------------------------------------------- the data

class _Shard(Sampler):
    """Evaluation's share of rank r of W: examples r, r + W, r + 2W, …, in order, none repeated."""

    def __init__(self, dataset, rank: int, world_size: int):
        self.indices = range(rank, len(dataset), world_size)

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def shard_sampler(dataset, *, shuffle: bool, seed: int = 0) -> Sampler:
    """This process's share of ``dataset``: pass it to the DataLoader as ``sampler=`` (chapter 15).

    ``shuffle=True`` (training): a ``DistributedSampler``. Each epoch it shuffles all the indices
    with the generator seeded ``seed + epoch`` (call ``set_epoch(epoch)`` before each epoch;
    ``fit()`` does) and gives rank r every W-th of them from r on. The order depends on the seed
    and the epoch only, so one process with batch 2B sees, step by step, exactly the samples that
    two processes with batch B see together; a data set whose size is not a multiple of W is padded
    by repeating its first samples, so that every process takes as many steps.
    ``shuffle=False`` (evaluation): examples r, r + W, … in order, not padded, so that metrics
    summed across ranks (``sum_across_ranks``) count every example exactly once.
    Works without a process group too (rank 0 of 1: the whole set).
    """
    if len(dataset) < world_size():
        raise ValueError(f"the data set has {len(dataset)} examples, fewer than the {world_size()} processes: "
                         "every process needs at least one. Use fewer processes (--nproc_per_node) or more data.")
    if shuffle:
        return DistributedSampler(dataset, num_replicas=world_size(), rank=rank(), shuffle=True, seed=seed)
    return _Shard(dataset, rank(), world_size())


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of this rank's random numbers in ``epoch`` (augmentation, dropout) under DDP.

    Different in every rank (the same flips on every rank's images would waste half the
    augmentation) and a function of (seed, epoch, rank) only, so a run resumed at epoch e, with any
    number of processes, draws what an uninterrupted run with that many processes draws. ``fit()``
    seeds PyTorch's generator with it at the start of each epoch when the training loader's sampler
    is a ``DistributedSampler``. Introduced in chapter 15.
    """
    return (seed * 100_003 + epoch) * 1_009 + rank()  # distinct while ranks < 1009 and epochs < 100003


# ------------------------------------------------------------------- the learning rate

def batch_per_process(global_batch: int, processes: int | None = None) -> int:
    """Each process's share of ``global_batch``, the batch one optimizer step averages over (chapter 15).

    ``processes`` defaults to ``world_size()``. A global batch the processes cannot share equally
    raises ``ValueError`` naming numbers that would work: DDP averages the processes' gradients
    with equal weights, so unequal shares would weigh some examples more than others.
    """
    processes = world_size() if processes is None else processes
    if isinstance(global_batch, bool) or not isinstance(global_batch, int) or global_batch < 1:
        raise ValueError(f"global_batch={global_batch!r}: give a whole number of examples, at least 1")
    if global_batch % processes:
        near = [processes * k for k in (global_batch // processes, global_batch // processes + 1) if k > 0]
        raise ValueError(f"a global batch of {global_batch} cannot be shared equally by {processes} processes: "
                         f"use a multiple of {processes} (e.g. {' or '.join(map(str, near))}), or a number "
                         f"of processes that divides {global_batch}.")
    return global_batch // processes


def scaled_lr(base_lr: float, *, base_batch: int, batch_per_process: int, processes: int | None = None) -> float:
    """The linear scaling rule (chapter 06) for the global batch of ``processes`` × ``batch_per_process``.

    ``base_lr`` is a learning rate that works for batches of ``base_batch``; the global batch is
    what one optimizer step averages over, ``batch_per_process`` × the world size (``processes``,
    default ``world_size()``), and the rate grows with it: base_lr × global batch / base_batch.
    Warm it up over the first epoch or so, as chapter 06 does. Introduced in chapter 15.
    """
    processes = world_size() if processes is None else processes
    for name, value in (("base_batch", base_batch), ("batch_per_process", batch_per_process),
                        ("processes", processes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r}: give a whole number, at least 1")
    if not (isinstance(base_lr, (int, float)) and 0 < base_lr < math.inf):
        raise ValueError(f"base_lr={base_lr!r}: give the positive learning rate that suits batches of {base_batch}")
    return base_lr * batch_per_process * processes / base_batch


# ------------------------------------------------------------------------------ metrics

def sum_across_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """Replace ``tensor`` in place by its sum over all processes (an all_reduce), and return it.

    Every process must call it, in the same order (each waits for all the others). Without a
    process group it returns ``tensor`` unchanged. ``fit()`` sums its losses, metrics and counts
    this way once per epoch. Introduced in chapter 15.
    """
    if _in_group() and dist.get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def mean_across_ranks(value, count: int = 1) -> float:
    """The mean of ``value`` over all processes, each weighted by ``count`` (its number of examples).

    A process's ``value`` is its own mean over ``count`` examples; the result is the mean over all
    the examples of all processes, the same number in every process. Every process must call it.
    Introduced in chapter 15.
    """
    totals = torch.tensor([float(value) * count, float(count)], dtype=torch.float64)
    if _in_group() and dist.get_backend() == "nccl":
        totals = totals.cuda()  # NCCL reduces tensors on the GPU only
    total, examples = sum_across_ranks(totals).tolist()
    if examples == 0:
        raise ValueError("mean_across_ranks: no process had any examples (every count was 0)")
    return total / examples


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a ``DistributedDataParallel`` (or ``DataParallel``) wrapper; any other unchanged.

    The wrapper's ``state_dict`` prefixes every name with ``module.``; the inner model's has plain
    names, so a checkpoint written from it loads into a model trained with any number of
    processes, or none. Introduced in chapter 15.
    """
    while isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    return model
