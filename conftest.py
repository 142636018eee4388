"""Settings for every test run, unit tests and notebooks alike.

The notebook kernels that nbval starts inherit this process's environment, so setting it here
puts them in the quick profile, makes failed checks fail the run, and sizes their threads.
"""
import os

os.environ["COURSE_TESTING"] = "1"
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_configure(config):
    # With pytest-xdist each worker runs its own kernels: share the cores out, one or more each,
    # instead of letting every kernel start a thread per core (15x slower when oversubscribed).
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ["OMP_NUM_THREADS"] = str(max(1, cores // workers))
