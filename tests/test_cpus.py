"""usable_cores() on fake /sys and /proc files: cgroup v1 and v2 quotas, hyper-threads, affinity."""
import pytest

from utils import cpus


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def machine(tmp_path):
    """A fake 8-CPU machine without hyper-threads, in no cgroup with a quota: everything is usable."""
    root = tmp_path / "cgroup"
    root.mkdir()
    for cpu in range(8):
        write(tmp_path / f"cpu/cpu{cpu}/topology/thread_siblings_list", f"{cpu}\n")
    write(tmp_path / "self_cgroup", "0::/\n")
    return {"cpus": list(range(8)), "cgroup": root, "membership": tmp_path / "self_cgroup",
            "topology": tmp_path / "cpu"}


def test_without_limits_every_allowed_cpu_is_used(machine):
    assert cpus.usable_cores(**machine) == 8


def test_affinity_limits(machine):
    assert cpus.usable_cores(**{**machine, "cpus": [2, 5, 7]}) == 3


@pytest.mark.parametrize("cpu_max, expected", [
    ("200000 100000\n", 2),   # Kaggle-like: two CPUs' worth of time on a many-core host
    ("150000 100000\n", 2),   # one and a half CPUs round up
    ("50000 100000\n", 1),    # half a CPU still gets one thread
    ("max 100000\n", 8),      # no limit
])
def test_cgroup_v2_quota(machine, cpu_max, expected):
    write(machine["cgroup"] / "cpu.max", cpu_max)
    assert cpus.usable_cores(**machine) == expected


def test_cgroup_v2_quota_of_the_process_own_group_and_its_parent(machine):
    write(machine["membership"], "0::/kubepods/pod1/box\n")
    write(machine["cgroup"] / "kubepods/pod1/box/cpu.max", "max 100000\n")
    write(machine["cgroup"] / "kubepods/pod1/cpu.max", "300000 100000\n")
    assert cpus.usable_cores(**machine) == 3


@pytest.mark.parametrize("folder", ["cpu,cpuacct", "cpu"])
def test_cgroup_v1_quota(machine, folder):
    write(machine["membership"], "4:memory:/box\n2:cpu,cpuacct:/docker/abc\n")
    write(machine["cgroup"] / folder / "cpu.cfs_quota_us", "400000\n")   # the container's own, at the mount root
    write(machine["cgroup"] / folder / "cpu.cfs_period_us", "100000\n")
    assert cpus.usable_cores(**machine) == 4


def test_cgroup_v1_without_a_quota(machine):
    write(machine["cgroup"] / "cpu/cpu.cfs_quota_us", "-1\n")
    write(machine["cgroup"] / "cpu/cpu.cfs_period_us", "100000\n")
    assert cpus.usable_cores(**machine) == 8


def test_hyper_threads_count_once(machine):
    for cpu in range(8):  # 4 cores, each with CPUs n and n+4, as Linux numbers them
        write(machine["topology"] / f"cpu{cpu}/topology/thread_siblings_list", f"{cpu % 4},{cpu % 4 + 4}\n")
    assert cpus.usable_cores(**machine) == 4
    assert cpus.usable_cores(**{**machine, "cpus": [0, 4]}) == 1      # two threads of one core
    assert cpus.usable_cores(**{**machine, "cpus": [0, 1, 2]}) == 3


def test_without_topology_files_psutil_gives_the_ratio(machine, tmp_path, monkeypatch):
    psutil = pytest.importorskip("psutil")
    counts = {True: 16, False: 8}
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: counts[logical])
    assert cpus.usable_cores(**{**machine, "topology": tmp_path / "missing"}) == 4


def test_garbage_in_the_files_is_ignored(machine):
    write(machine["cgroup"] / "cpu.max", "unlimited please\n")
    write(machine["membership"], "not a cgroup line\n")
    assert cpus.usable_cores(**machine) == 8


def test_this_machine():
    assert 1 <= cpus.usable_cores() <= len(cpus._allowed_cpus())
