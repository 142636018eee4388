"""Chapter 00's exercises: a right answer passes, typical mistakes get their own message, a stub is
"not attempted yet"."""
import numpy as np
import pytest
import torch

from utils.exercises import ExerciseFailed
from utils.exercises import ch00 as ex


@pytest.fixture
def report(monkeypatch):
    """Checks print and return their verdict instead of raising (the tests are strict otherwise)."""
    monkeypatch.setenv("COURSE_CHECKS", "report")


def stub(*args):
    raise NotImplementedError()


def verdict(question, answer):
    result = question.check(answer)
    return result.status, result.message


# q1: to_course_device(x, device) -------------------------------------------------------------

def test_q1_right_answers_pass(report):
    assert ex.q1.check(lambda x, device: x.to(device=device, dtype=torch.float32)).passed
    assert ex.q1.check(lambda x, device: x.float().to(device)).passed


@pytest.mark.parametrize("answer, message", [
    (lambda x, device: x.to(device), "expected torch.float32"),
    (lambda x, device: x.double().to(device), "expected torch.float32"),
    (lambda x, device: x.float().flatten().to(device), "the shape changed"),
    (lambda x, device: x.float(), "came back on cpu"),  # ignores the device it was given
    (lambda x, device: (x / x.max()).to(device), "the values changed"),
    (lambda x, device: x.to(device).tolist(), "return a tensor, not a list"),
    (lambda x, device: print(x.to(device, torch.float32)), "forget the `return`"),
])
def test_q1_typical_mistakes_are_named(report, answer, message):
    status, text = verdict(ex.q1, answer)
    assert status == "incorrect"
    assert message in text


def test_q1_in_place_change_of_the_input_is_caught(report):
    def in_place(x, device):
        x += 1
        return x.to(device=device, dtype=torch.float32)
    status, text = verdict(ex.q1, in_place)
    assert status == "incorrect" and "in place" in text


def test_q1_stub_is_not_attempted(report):
    assert verdict(ex.q1, stub)[0] == "not attempted"
    assert verdict(ex.q1, None)[0] == "not attempted"


# q2: seeded_sample(seed, n) -------------------------------------------------------------------

def right_sample(seed, n):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed))


def test_q2_right_answer_passes_and_leaves_the_global_stream_alone(report):
    state = torch.get_rng_state()
    assert ex.q2.check(right_sample).passed
    assert torch.equal(state, torch.get_rng_state())


def test_q2_fork_rng_answer_passes(report):
    def forked(seed, n):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return torch.randn(n)
    assert ex.q2.check(forked).passed


def reseeds_global(seed, n):
    torch.manual_seed(seed)
    return torch.randn(n)


@pytest.mark.parametrize("answer, message", [
    (reseeds_global, "reseeded the notebook's global random stream"),
    (lambda seed, n: torch.randn(n), "two calls with the same seed gave different numbers"),
    (lambda seed, n: torch.randn(n, generator=torch.Generator().manual_seed(0)), "seeds 7 and 8 gave the same"),
    (lambda seed, n: torch.rand(n, generator=torch.Generator().manual_seed(seed)), "torch.rand (uniform)"),
    (lambda seed, n: torch.randn(n, 1, generator=torch.Generator().manual_seed(seed)), "expected (5,)"),
    (lambda seed, n: torch.from_numpy(np.random.default_rng(seed).standard_normal(n)), "expected torch.float32"),
    (lambda seed, n: torch.randn(n, generator=torch.Generator().manual_seed(seed + 1)), "expected [-0.1468"),
])
def test_q2_typical_mistakes_are_named(report, answer, message):
    status, text = verdict(ex.q2, answer)
    assert status == "incorrect"
    assert message in text


def test_q2_stub_is_not_attempted(report):
    assert verdict(ex.q2, stub)[0] == "not attempted"


# q3: epochs_for(profile) ----------------------------------------------------------------------

def test_q3_right_answers_pass(report):
    assert ex.q3.check(lambda profile: profile.pick(quick=3, full=30)).passed
    assert ex.q3.check(lambda profile: 3 if profile.quick else 30).passed


@pytest.mark.parametrize("answer, message", [
    (lambda profile: profile.pick(quick=30, full=3), "the two are swapped"),
    (lambda profile: 3, "both profiles gave 3"),
    (lambda profile: profile.pick(quick=3.0, full=30.0), "return whole numbers of epochs"),
    (lambda profile: profile.pick(quick=5, full=50), "expected 3 and 30"),
    (lambda profile: profile.name.pick(quick=3, full=30), "raised AttributeError"),
])
def test_q3_typical_mistakes_are_named(report, answer, message):
    status, text = verdict(ex.q3, answer)
    assert status == "incorrect"
    assert message in text


def test_q3_stub_is_not_attempted(report):
    assert verdict(ex.q3, stub)[0] == "not attempted"


# strict mode, as the notebooks run under the tests ---------------------------------------------

def test_a_wrong_answer_fails_the_run_under_the_tests(monkeypatch):
    monkeypatch.setenv("COURSE_TESTING", "1")
    monkeypatch.delenv("COURSE_CHECKS", raising=False)
    with pytest.raises(ExerciseFailed, match="the two are swapped"):
        ex.q3.check(lambda profile: profile.pick(quick=30, full=3))


def test_hint_and_solution_help_without_a_traceback(capsys):
    ex.q2.hint()
    ex.q2.solution()
    printed = capsys.readouterr().out
    assert "torch.Generator" in printed
    assert "def seeded_sample(seed, n):" in printed
