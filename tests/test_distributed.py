"""DistributedDataParallel under torchrun (chapter 15): utils.distributed, fit()'s hooks, scripts/train_ddp.py.

The two-process runs use gloo on the CPU over loopback, started by torchrun as a subprocess
(``--standalone`` picks a free port), so they also run where the network is cut off
(scripts/offline.sh). They train LeNet-5, which has no batch norm: batch norm normalises over each
process's share of the batch, so a model with it would not train exactly as one process does.
"""
import contextlib
import functools
import importlib
import io
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from utils import distributed
from utils.training import fit

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_ddp.py"


@functools.cache
def script():
    """scripts/train_ddp.py as a module, imported on first use: the ranks that mp.spawn starts import
    this file again, and need none of what the script imports (torchvision among it)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    return importlib.import_module("train_ddp")

#: 256 images of 16×16, 8 steps of 32 per epoch; --lr 0.05 is for batches of 16, so the linear
#: scaling rule makes it 0.1 for the global batch of 32, with any number of processes.
RUN = ["--data", "shapes", "--model", "lenet", "--size", "16", "--train-size", "256", "--val-size", "64",
       "--no-augment", "--global-batch", "32", "--lr", "0.05", "--base-batch", "16", "--epochs", "4"]
SCALED_LR = 0.1
#: Two processes add their gradients in another order than one process does (float32 all-reduce),
#: so the weights may differ in the last bits: measured, at most 2.2e-8 after 16 or 32 SGD steps
#: (2 × 16 against 1 × 32, and either resume against the uninterrupted run). The bar is 1e-6, while
#: 16 steps move every layer's weights by more than 1e-3.
TOLERANCE = 1e-6


def torchrun(*args, processes=2) -> subprocess.Popen:
    """Start the script under torchrun with gloo on the CPU; ``finished()`` waits for it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             f"--nproc_per_node={processes}", str(SCRIPT), "--backend", "gloo", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finished(run: subprocess.Popen) -> str:
    """What a torchrun run printed on its standard output, once it has ended well."""
    try:
        stdout, stderr = run.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        run.kill()
        stdout, stderr = run.communicate()
    assert run.returncode == 0, f"torchrun failed ({run.returncode}):\n{(stdout + stderr)[-3000:]}"
    return stdout


def in_this_process(*args) -> str:
    """Run the script's main() here, as one process without torchrun; what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        script().main(list(args))
    return printed.getvalue()


def saved(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def largest_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[name] - b[name]).abs().max().item() for name in a)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every run once, shared by the tests below: 2 launches of torchrun, 3 runs in this process.

    The torchrun runs go on while this process trains, so their start-up (two Python processes
    importing torch) overlaps with work; the first run here writes Shapes-10 before either starts.
    """
    assert "WORLD_SIZE" not in os.environ
    folder = tmp_path_factory.mktemp("ddp")
    out = {"folder": folder}
    in_this_process(*RUN, "--checkpoint-dir", str(folder / "one_then_two"), "--stop-after", "2")
    out["one_after_2"] = saved(folder / "one_then_two" / "last.pt")
    two_then_one = torchrun(*RUN, "--checkpoint-dir", str(folder / "two_then_one"), "--stop-after", "2")
    one_then_two = torchrun(*RUN, "--checkpoint-dir", str(folder / "one_then_two"), "--resume")
    out["one"] = in_this_process(*RUN, "--checkpoint-dir", str(folder / "one"))
    out["two_stopped"] = finished(two_then_one)
    out["two_after_2"] = saved(folder / "two_then_one" / "last.pt")
    out["two_folder"] = sorted(p.name for p in (folder / "two_then_one").iterdir())
    in_this_process(*RUN, "--checkpoint-dir", str(folder / "two_then_one"), "--resume")
    finished(one_then_two)
    out["initial"] = script().build_model(script().parse_args(RUN), 16, distributed.init_distributed()).state_dict()
    return out


def test_two_processes_with_batch_b_train_as_one_process_with_batch_2b(runs):
    two, one = runs["two_after_2"]["model"], runs["one_after_2"]["model"]
    assert min((two[name] - runs["initial"][name]).abs().max().item() for name in two) > 1e-3, "nothing trained"
    difference = largest_difference(two, one)
    assert difference <= TOLERANCE, f"after 2 epochs the weights of 2 × 16 and 1 × 32 differ by {difference:.2e}"
    history_two, history_one = runs["two_after_2"]["history"], runs["one_after_2"]["history"]
    for row_two, row_one in zip(history_two, history_one, strict=True):  # means over both ranks' examples
        for column in ("train_loss", "train_metric", "val_loss", "val_metric"):
            assert row_two[column] == pytest.approx(row_one[column], abs=1e-5), column


@pytest.mark.parametrize("resumed", ["two_then_one", "one_then_two"])
def test_a_run_resumed_with_another_number_of_processes_ends_as_an_uninterrupted_one(runs, resumed):
    uninterrupted = saved(runs["folder"] / "one" / "last.pt")
    finished = saved(runs["folder"] / resumed / "last.pt")
    assert finished["epoch"] == uninterrupted["epoch"] == 4
    difference = largest_difference(finished["model"], uninterrupted["model"])
    assert difference <= TOLERANCE, f"{resumed}: the resumed run's weights differ by {difference:.2e}"
    assert [row["val_loss"] for row in finished["history"]] == pytest.approx(
        [row["val_loss"] for row in uninterrupted["history"]], abs=1e-5)


def test_the_learning_rate_follows_the_global_batch(runs):
    for checkpoint in (runs["two_after_2"], runs["one_after_2"]):
        assert checkpoint["optimizer"]["param_groups"][0]["initial_lr"] == pytest.approx(SCALED_LR)
    assert "learning rate 0.05 × 32/16 = 0.1" in runs["two_stopped"]


def test_only_rank_zero_prints_and_writes_checkpoints(runs):
    output = runs["two_stopped"]
    assert output.count("2 process(es), gloo on cpu") == 1, output
    assert output.count("epoch 1: train loss") == 1, output
    assert output.count("Session lost after epoch 2") == 1, output
    assert runs["two_folder"] == ["best.pt", "last.pt", "run.json"]  # no other rank's temporary files


def test_without_torchrun_the_script_runs_as_one_process_and_says_so(runs):
    assert "No torchrun environment (WORLD_SIZE is not set): training as one process" in runs["one"]
    assert "torchrun --standalone --nproc_per_node=2 scripts/train_ddp.py" in runs["one"]


def test_a_resume_with_another_global_batch_is_refused_with_the_numbers_to_use(runs):
    other = list(RUN)
    other[other.index("--global-batch") + 1] = "64"
    with pytest.raises(SystemExit, match="global batch of 32, and this one has 1 process.*--global-batch 32"):
        in_this_process(*other, "--checkpoint-dir", str(runs["folder"] / "one"), "--resume")


# ------------------------------------------------------------------------ fit()'s hooks, one process

class Recorder(nn.Module):
    """A linear model that records the inputs of every training batch."""

    def __init__(self):
        super().__init__()
        self.linear, self.seen = nn.Linear(1, 2), []

    def forward(self, x):
        if self.training:
            self.seen += x[:, 0].long().tolist()
        return self.linear(x)


def recorded_epochs(epochs=2, n=12):
    data = TensorDataset(torch.arange(n, dtype=torch.float32)[:, None], torch.zeros(n, dtype=torch.long))
    sampler = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=3)
    model = Recorder()
    fit(model, DataLoader(data, batch_size=4, sampler=sampler), None, epochs=epochs,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0), progress=False)
    return [model.seen[i * n:(i + 1) * n] for i in range(epochs)], sampler


def test_fit_calls_set_epoch_so_every_epoch_has_its_own_order():
    (first, second), sampler = recorded_epochs()
    assert first != second, "every epoch repeats one order: set_epoch was not called"
    for epoch, order in ((1, first), (2, second)):
        sampler.set_epoch(epoch)
        assert order == list(sampler)


def test_other_ranks_write_no_checkpoint_and_print_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    model = nn.Linear(4, 2)
    data = TensorDataset(torch.randn(8, 4), torch.zeros(8, dtype=torch.long))
    fit(model, DataLoader(data, batch_size=4), None, epochs=1, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        checkpoint_dir=tmp_path / "run", resume=True, amp=True)  # amp: a note rank 0 alone would print
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


# ------------------------------------------------------------------------------ the helpers

def test_scaled_lr_is_the_linear_scaling_rule():
    assert distributed.scaled_lr(0.1, base_batch=128, batch_per_process=64, processes=2) == pytest.approx(0.1)
    assert distributed.scaled_lr(0.1, base_batch=128, batch_per_process=64, processes=8) == pytest.approx(0.4)
    assert distributed.scaled_lr(0.1, base_batch=128, batch_per_process=64) == pytest.approx(0.05)  # 1 process
    with pytest.raises(ValueError, match="batch_per_process=0"):
        distributed.scaled_lr(0.1, base_batch=128, batch_per_process=0)
    with pytest.raises(ValueError, match="base_lr=-0.1"):
        distributed.scaled_lr(-0.1, base_batch=128, batch_per_process=64)


def test_a_global_batch_is_shared_equally_or_refused_with_numbers_that_work(monkeypatch):
    assert distributed.batch_per_process(128, 4) == 32
    assert distributed.batch_per_process(128) == 128
    with pytest.raises(ValueError, match=r"global batch of 100 cannot be shared equally by 3 processes.*99 or 102"):
        distributed.batch_per_process(100, 3)
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    with pytest.raises(SystemExit, match="--global-batch: a global batch of 32 cannot be shared equally by 3"):
        script().main(RUN)


def test_a_half_set_torchrun_environment_is_named(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(RuntimeError, match="WORLD_SIZE is set, but .*MASTER_ADDR.*torchrun --standalone"):
        distributed.init_distributed()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_nccl_without_a_gpu_is_refused_and_gloo_is_chosen(monkeypatch):
    for name, value in {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": "1"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match="backend='nccl' needs CUDA GPUs.*backend='gloo'"):
        distributed.init_distributed("nccl")
    assert distributed._choose_backend(None, 0) == "gloo"


def test_every_process_needs_a_share_of_the_data(monkeypatch):
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    with pytest.raises(ValueError, match="1 examples, fewer than the 2 processes"):
        distributed.shard_sampler([0], shuffle=False)


def test_without_a_process_group_the_helpers_are_one_process():
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.mean_across_ranks(0.5, count=10) == 0.5
    model = nn.Linear(2, 2)
    assert distributed.unwrap(nn.DataParallel(model)) is model


def _two_ranks(rank, port, folder):
    """Rank ``rank`` of 2, started from the environment torchrun would set; writes what it found."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    launch = distributed.init_distributed()
    with distributed.main_first():
        if distributed.is_main():
            (folder / "ready").write_text("rank 0 was first")
        found = (folder / "ready").read_text()
    dataset = list(range(5))
    results = {"launch": (launch.rank, launch.world_size, launch.backend),
               "mean": distributed.mean_across_ranks(float(rank + 1), count=rank + 1),  # (1·1 + 2·2) / 3
               "sum": distributed.sum_across_ranks(torch.tensor([rank + 1.0])).item(),
               "seed": distributed.epoch_seed(0, 1), "found": found,
               "shard": list(distributed.shard_sampler(dataset, shuffle=False))}
    torch.save(results, folder / f"rank{rank}.pt")
    distributed.teardown()


def test_two_ranks_join_from_the_environment_and_share_metrics(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(_two_ranks, args=(port, tmp_path), nprocs=2, join=True)
    zero, one = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert zero["launch"] == (0, 2, "gloo") and one["launch"] == (1, 2, "gloo")
    assert zero["mean"] == one["mean"] == pytest.approx(5 / 3)
    assert zero["sum"] == one["sum"] == 3.0
    assert zero["seed"] != one["seed"]  # each rank draws its own augmentation
    assert zero["found"] == one["found"] == "rank 0 was first"
    assert (zero["shard"], one["shard"]) == ([0, 2, 4], [1, 3])  # every example once, unpadded
