"""Where the course runs: profiles, device, seeding, threads and the one-call ``setup()``.

Built and explained in chapter 00 (setup); every notebook calls ``setup()`` in its first cell.
"""
from __future__ import annotations

import os
import platform as _platform
import random
import sys
from dataclasses import dataclass
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning. Spinning is a little faster on an idle machine, but a
# kernel that shares its cores (Colab's two vCPUs, a busy lab machine, the tests' parallel workers)
# crawls: on this course's 2-core test machine under load, chapter 07, a notebook of well under a
# minute, took 751 s with spinning threads. It must be set before torch starts its thread pool, so it
# sits here, before the import; OMP_WAIT_POLICY set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from utils.cpus import usable_cores  # noqa: E402
from utils.plots import apply_style  # noqa: E402
from utils.versions import PYTHON_MINIMUM, check_versions  # noqa: E402

PROFILES = ("quick", "full")
PROFILE_VARIABLE = "COURSE_PROFILE"
TESTING_VARIABLE = "COURSE_TESTING"
DETERMINISTIC_VARIABLE = "COURSE_DETERMINISTIC"


def under_tests() -> bool:
    """True when the course's test command runs this process (it sets COURSE_TESTING=1)."""
    return os.environ.get(TESTING_VARIABLE, "") not in ("", "0")


@dataclass(frozen=True)
class Profile:
    """How big the experiments are: ``quick`` (CPU, offline data) or ``full`` (GPU, real data).

    Introduced in chapter 00. Notebooks size their experiments with ``pick``::

        epochs = env.profile.pick(quick=5, full=30)
    """

    name: str
    reason: str

    def pick(self, *, quick, full):
        """The value for this profile: ``quick`` in the quick profile, ``full`` in the full one."""
        return quick if self.name == "quick" else full

    @property
    def quick(self) -> bool:
        return self.name == "quick"

    def __str__(self) -> str:
        return self.name


def profile() -> Profile:
    """Choose the profile: always ``quick`` under the tests, else $COURSE_PROFILE, else by GPU.

    An unknown name raises a ValueError that lists the valid ones.
    """
    requested = os.environ.get(PROFILE_VARIABLE, "").strip().lower()
    if requested and requested not in PROFILES:
        raise ValueError(
            f"{PROFILE_VARIABLE}={os.environ[PROFILE_VARIABLE]!r} is not a profile. "
            f"Valid profiles: {', '.join(PROFILES)}. "
            f"Set it with e.g. os.environ['{PROFILE_VARIABLE}'] = 'quick' before calling setup(), "
            f"or unset it to choose by hardware."
        )
    if under_tests():
        return Profile("quick", "the tests always run the quick profile")
    if requested:
        return Profile(requested, f"{PROFILE_VARIABLE}={requested}")
    if torch.cuda.is_available():
        return Profile("full", "a CUDA GPU is available")
    return Profile("quick", "no CUDA GPU; set COURSE_PROFILE=full to train on the real data anyway")


def choose_device(prefer: str | None = None) -> torch.device:
    """The fastest device here: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` (or $COURSE_DEVICE) asks for one; asking for a device that is not there is an
    error that says what is available and how to get a GPU.
    """
    prefer = (prefer or os.environ.get("COURSE_DEVICE", "")).strip().lower() or None
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if prefer is not None:
        kind = prefer.split(":")[0]
        if kind not in available:
            raise ValueError(f"unknown device {prefer!r}: choose one of cuda, mps, cpu")
        if not available[kind]:
            have = ", ".join(name for name, ok in available.items() if ok)
            raise RuntimeError(
                f"device {prefer!r} was asked for but is not available here (available: {have}). "
                "On Colab: Runtime → Change runtime type → GPU. On Kaggle: Settings → Accelerator. "
                "Or unset COURSE_DEVICE to use the CPU."
            )
        return torch.device(prefer)
    for kind in ("cuda", "mps"):
        if available[kind]:
            return torch.device(kind)
    return torch.device("cpu")


def _strict_by_default() -> bool:
    """Strict kernels, except in the full profile on a CUDA GPU (unless $COURSE_DETERMINISTIC=1)."""
    if os.environ.get(DETERMINISTIC_VARIABLE, "") not in ("", "0"):
        return True
    return not (profile().name == "full" and torch.cuda.is_available())


def seed_everything(seed: int = 0, *, deterministic: bool | None = None) -> bool:
    """Seed Python, NumPy and PyTorch, and choose exact or fast kernels (chapter 00).

    Strict (``deterministic=True``): PyTorch's deterministic algorithms where they exist (a
    warning names any that do not), no cuDNN benchmarking; two runs give identical numbers.
    Fast (``False``): ``cudnn.benchmark=True`` picks the quickest convolution algorithm for each
    shape, and non-deterministic kernels are allowed; a GPU run may then differ in the last digits.
    ``None`` (what ``setup()`` uses) decides by profile: strict in the quick profile (so always
    under the tests) and without a CUDA GPU; fast in the full profile on a CUDA GPU, unless
    $COURSE_DETERMINISTIC=1 asks for strict. Returns True when strict.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    strict = _strict_by_default() if deterministic is None else bool(deterministic)
    if strict:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(strict, warn_only=True)
    torch.backends.cudnn.benchmark = not strict
    torch.backends.cudnn.deterministic = strict
    return strict


def configure_threads() -> int:
    """Size PyTorch's CPU threads to the machine, and flush denormals (chapter 00).

    $OMP_NUM_THREADS wins when set (the test command sets one thread per parallel worker so
    kernels do not fight over cores); otherwise one thread per physical core this process may
    use, within its container's CPU quota (``utils.cpus.usable_cores``). Denormal floats, which
    appear when a sigmoid network stalls, are flushed to zero: without it such a run was 30x
    slower on this course's CPU.
    """
    requested = os.environ.get("OMP_NUM_THREADS", "")
    threads = int(requested) if requested.isdigit() and int(requested) > 0 else usable_cores()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    return threads


def where_running() -> str:
    """Which platform runs this kernel: Colab, Kaggle, Tianchi/DSW or local."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return "Colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "KAGGLE_URL_BASE" in os.environ:
        return "Kaggle"
    if any(key.startswith(("DSW_", "PAI_")) for key in os.environ) or Path("/mnt/workspace").is_dir():
        return "Tianchi/DSW"
    return "local"


@dataclass(frozen=True)
class Environment:
    """What ``setup()`` found and chose; notebooks read ``env.device`` and ``env.profile``."""

    platform: str
    device: torch.device
    profile: Profile
    threads: int
    seed: int
    versions_ok: bool


def setup(seed: int = 0, *, quiet: bool = False) -> Environment:
    """Prepare a notebook in one call: threads, seeds, device, profile, version check.

    Built in chapter 00; the first code cell of every notebook calls it. Prints where the
    notebook runs, the device, the profile and why, whether GPU kernels are fast rather than
    exact (see ``seed_everything``), and every package that differs from the tested set together
    with the command that fixes it.
    """
    threads = configure_threads()
    strict = seed_everything(seed)
    apply_style()
    device = choose_device()
    chosen = profile()
    reports = check_versions()
    where = where_running()
    python_ok = sys.version_info[:2] >= PYTHON_MINIMUM
    if not quiet:
        print(f"Running on {where} · device {device} · {threads} CPU thread(s) · seed {seed}")
        print(f"Profile {chosen.name} ({chosen.reason})")
        if not strict:
            print(f"Fast GPU kernels (cuDNN benchmark, non-deterministic): reruns may differ in the last "
                  f"digits; set {DETERMINISTIC_VARIABLE}=1 before setup() for exact repeats.")
        py = _platform.python_version()
        print(("✓" if python_ok else "✗") + f" Python {py}"
              + ("" if python_ok else f": the course needs {PYTHON_MINIMUM[0]}.{PYTHON_MINIMUM[1]} or newer"))
        for report in reports:
            if report.status != "tested":
                print(report.line())
        tested = sum(r.status == "tested" for r in reports)
        print(f"{tested} of {len(reports)} packages at the tested version")
    return Environment(where, device, chosen, threads, seed,
                       python_ok and all(r.ok for r in reports))
