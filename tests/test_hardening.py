"""What must hold however a learner's session ends: no network, a killed write, a fresh start."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.ci import unavailable

ROOT = Path(__file__).resolve().parents[1]

WRITER = """
import sys, torch
from utils.training import save_checkpoint
epoch = int(sys.argv[2])
while True:
    epoch += 1
    save_checkpoint({"model": {"w": torch.full((1_000_000,), float(epoch))}, "epoch": epoch}, sys.argv[1])
    print(epoch, flush=True)
"""


def test_a_process_killed_while_writing_leaves_the_last_checkpoint_loadable(tmp_path):
    path = tmp_path / "last.pt"
    last_seen = 0
    for kill_after in (0.0, 0.05, 0.13):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(last_seen)],
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT)
        first = writer.stdout.readline()  # one whole checkpoint is on disk
        assert first.strip(), "the writer process printed nothing"
        time.sleep(kill_after)  # then kill it somewhere inside a later write
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        state = torch.load(path, weights_only=True)
        epoch = state["epoch"]
        assert epoch >= last_seen + 1 and torch.equal(state["model"]["w"], torch.full((1_000_000,), float(epoch)))
        last_seen = epoch
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["last.pt"]


def test_the_tests_run_cut_off_from_the_network():
    if not os.environ.get("COURSE_NETWORK_ISOLATED"):
        unavailable("not isolated: run through scripts/offline.sh (make test does, where unshare and ip can run "
                    "as root or through sudo)")
    with pytest.raises(OSError):
        socket.create_connection(("1.1.1.1", 443), timeout=3)
    with pytest.raises(OSError):
        socket.getaddrinfo("pypi.org", 443)


def test_every_run_starts_with_an_empty_data_folder():
    folder = Path(os.environ["COURSE_DATA"])
    assert folder.is_dir() and folder.resolve() != (ROOT / "data").resolve()


@pytest.mark.parametrize("ci, outcome", [("", pytest.skip.Exception), ("false", pytest.skip.Exception),
                                         ("true", pytest.fail.Exception), ("1", pytest.fail.Exception)])
def test_what_cannot_run_here_is_skipped_locally_and_fails_under_ci(monkeypatch, ci, outcome):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="no browser here"):
        unavailable("no browser here")
