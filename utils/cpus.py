"""How many CPU cores this process can really use, to size PyTorch's threads (chapter 00).

Two things make the obvious count wrong. A container often sees every core of its host while a
cgroup quota lets it use only a few (Kaggle's and PAI-DSW's notebooks run so); and the two
hyper-threads of one physical core share its arithmetic units, so a thread for each of them makes
matrix code wait on itself. ``usable_cores()`` takes the smallest of three counts: the CPUs this
process may run on, the cgroup's CPU quota (rounded up), and the physical cores among those CPUs.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")
MEMBERSHIP = Path("/proc/self/cgroup")
CPU_TOPOLOGY = Path("/sys/devices/system/cpu")
#: Where cgroup v1 mounts the cpu controller (distributions differ).
V1_CPU_FOLDERS = ("cpu,cpuacct", "cpu", "cpuacct,cpu")


def usable_cores(*, cpus: list[int] | None = None, cgroup: Path = CGROUP, membership: Path = MEMBERSHIP,
                 topology: Path = CPU_TOPOLOGY) -> int:
    """The number of threads worth running here: allowed CPUs, cgroup quota and physical cores.

    Built in chapter 00, where ``setup()`` uses it. The keyword arguments stand in for the
    system's files in the tests.
    """
    cpus = _allowed_cpus() if cpus is None else cpus
    counts = [len(cpus), _physical_cores(cpus, topology)]
    quota = _cgroup_quota(cgroup, membership)
    if quota is not None:
        counts.append(math.ceil(quota))
    return max(1, min(counts))


def _allowed_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        return list(range(os.cpu_count() or 1))


def _physical_cores(cpus: list[int], topology: Path) -> int:
    """Distinct physical cores among ``cpus``: hyper-threads of one core list the same siblings."""
    cores = set()
    for cpu in cpus:
        siblings = _read(topology / f"cpu{cpu}" / "topology" / "thread_siblings_list")
        if siblings is None:
            return _physical_share(len(cpus))
        cores.add(siblings)
    return len(cores)


def _physical_share(logical: int) -> int:
    """Without Linux's topology files: scale by the machine's physical-to-logical ratio (psutil)."""
    try:
        import psutil
    except ImportError:
        return logical
    physical, everything = psutil.cpu_count(logical=False), psutil.cpu_count(logical=True)
    if not physical or not everything:
        return logical
    return max(1, logical * physical // everything)


def _cgroup_quota(cgroup: Path, membership: Path) -> float | None:
    """The tightest CPU quota over this process's cgroups, in CPUs (1.5 is one and a half), or None."""
    quotas = [quota for folder in _cgroup_folders(cgroup, membership)
              if (quota := _quota_in(folder)) is not None]
    return min(quotas) if quotas else None


def _cgroup_folders(cgroup: Path, membership: Path) -> list[Path]:
    """The folders whose quota applies: the process's own cgroup and its ancestors, v2 and v1.

    Inside a container the cgroup named in /proc/self/cgroup may not exist (the container sees
    its own cgroup at the mount's root), so the mount roots are always included.
    """
    bases = [cgroup] + [cgroup / name for name in V1_CPU_FOLDERS]
    paths = [""]
    for line in (_read(membership) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3 and (parts[1] == "" or "cpu" in parts[1].split(",")):
            paths.append(parts[2].strip("/"))
    folders = []
    for base in bases:
        for path in paths:
            folder = base
            for part in [p for p in path.split("/") if p]:
                folders.append(folder)
                folder = folder / part
            folders.append(folder)
    return list(dict.fromkeys(folder for folder in folders if folder.is_dir()))


def _quota_in(folder: Path) -> float | None:
    v2 = _read(folder / "cpu.max")  # cgroup v2: "max 100000" (no limit) or "150000 100000"
    if v2:
        quota, _, period = v2.partition(" ")
        if quota != "max" and _positive(quota) and _positive(period):
            return int(quota) / int(period)
        return None
    quota, period = _read(folder / "cpu.cfs_quota_us"), _read(folder / "cpu.cfs_period_us")  # v1: -1 = none
    if _positive(quota) and _positive(period):
        return int(quota) / int(period)
    return None


def _positive(text: str | None) -> bool:
    return bool(text) and text.isdigit() and int(text) > 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
