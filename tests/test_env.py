"""Profiles, device choice, seeding, threads, platform detection and setup()."""
import pytest
import torch

from utils import env
from utils.cpus import usable_cores


@pytest.fixture
def outside_tests(monkeypatch):
    """Pretend this process is a learner's kernel, not the test command."""
    monkeypatch.delenv(env.TESTING_VARIABLE, raising=False)
    monkeypatch.delenv(env.PROFILE_VARIABLE, raising=False)


def test_profile_is_quick_without_a_gpu(outside_tests, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert env.profile().name == "quick"


def test_profile_is_full_with_a_gpu(outside_tests, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    chosen = env.profile()
    assert chosen.name == "full" and "GPU" in chosen.reason


def test_profile_variable_wins_over_hardware(outside_tests, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(env.PROFILE_VARIABLE, "Quick ")
    assert env.profile().name == "quick"


def test_tests_always_run_quick(monkeypatch):
    monkeypatch.setenv(env.TESTING_VARIABLE, "1")
    monkeypatch.setenv(env.PROFILE_VARIABLE, "full")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert env.profile().name == "quick"


def test_unknown_profile_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv(env.PROFILE_VARIABLE, "fast")
    with pytest.raises(ValueError, match=r"'fast' is not a profile\. Valid profiles: quick, full"):
        env.profile()


def test_pick_chooses_by_profile():
    assert env.Profile("quick", "").pick(quick=3, full=30) == 3
    assert env.Profile("full", "").pick(quick=3, full=30) == 30


def test_seeding_twice_gives_identical_tensors():
    env.seed_everything(123)
    first = (torch.randn(5), torch.nn.Linear(4, 3).weight.detach().clone())
    env.seed_everything(123)
    second = (torch.randn(5), torch.nn.Linear(4, 3).weight.detach().clone())
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    env.seed_everything(124)
    assert not torch.equal(first[0], torch.randn(5))


@pytest.fixture
def kernel_flags():
    """Put torch's determinism flags back as they were: other tests rely on strict mode."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2:]


def strict_flags() -> bool | None:
    """True when torch is in strict mode, False in fast mode, None for a mixture (a bug)."""
    flags = (torch.are_deterministic_algorithms_enabled(), not torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic)
    return flags[0] if len(set(flags)) == 1 else None


def test_seeding_is_strict_in_the_quick_profile_and_under_the_tests(outside_tests, monkeypatch, kernel_flags):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(env.PROFILE_VARIABLE, "quick")
    assert env.seed_everything(0) is True and strict_flags() is True
    monkeypatch.setenv(env.PROFILE_VARIABLE, "full")
    monkeypatch.setenv(env.TESTING_VARIABLE, "1")  # the tests always run quick, whatever is asked
    assert env.seed_everything(0) is True and strict_flags() is True


def test_seeding_is_fast_in_the_full_profile_on_a_gpu_unless_strict_is_asked_for(outside_tests, monkeypatch,
                                                                                  kernel_flags):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(env.PROFILE_VARIABLE, "full")
    monkeypatch.delenv(env.DETERMINISTIC_VARIABLE, raising=False)
    assert env.seed_everything(0) is False and strict_flags() is False
    assert env.seed_everything(0, deterministic=True) is True and strict_flags() is True
    monkeypatch.setenv(env.DETERMINISTIC_VARIABLE, "1")
    assert env.seed_everything(0) is True and strict_flags() is True
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # full on a CPU: nothing to gain
    monkeypatch.delenv(env.DETERMINISTIC_VARIABLE)
    assert env.seed_everything(0) is True and strict_flags() is True


def test_setup_says_when_kernels_are_fast(outside_tests, monkeypatch, kernel_flags, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv(env.PROFILE_VARIABLE, "full")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    before = torch.get_num_threads()
    try:
        env.setup()
    finally:
        torch.set_num_threads(before)
    assert "Fast GPU kernels (cuDNN benchmark, non-deterministic)" in capsys.readouterr().out


def test_device_falls_back_to_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert env.choose_device() == torch.device("cpu")


def test_asking_for_a_missing_gpu_says_what_to_do(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="not available here.*Colab: Runtime"):
        env.choose_device("cuda")
    with pytest.raises(ValueError, match="choose one of cuda, mps, cpu"):
        env.choose_device("tpu")


def test_threads_follow_omp_num_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert env.configure_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert env.configure_threads() == usable_cores()
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("variable, platform", [
    ("COLAB_RELEASE_TAG", "Colab"), ("KAGGLE_KERNEL_RUN_TYPE", "Kaggle"), ("DSW_INSTANCE_ID", "Tianchi/DSW")])
def test_where_running_reads_the_platform(monkeypatch, variable, platform):
    monkeypatch.setenv(variable, "x")
    assert env.where_running() == platform


def test_setup_reports_profile_device_and_versions(capsys):
    before = torch.get_num_threads()
    try:
        found = env.setup(seed=5)
    finally:
        torch.set_num_threads(before)
    printed = capsys.readouterr().out
    assert "Profile quick (the tests always run the quick profile)" in printed
    assert f"device {found.device}" in printed and "packages at the tested version" in printed
    assert found.seed == 5 and found.profile.name == "quick"
