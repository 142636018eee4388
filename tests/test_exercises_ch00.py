"""Chapter 00 checkers: the catalogue of wrong answers a learner really writes, and what else must hold."""
import random
import time

import numpy as np
import pytest
import torch

from tests.exercise_testing import report_only, stub, verdict  # noqa: F401  (report_only is an autouse fixture)
from utils.exercises import ExerciseFailed
from utils.exercises import ch00 as ex

# q1: a batch the model can use ----------------------------------------------------------------


def discards_the_result(features, labels, device):
    features.to(device=device, dtype=torch.float32)
    labels.to(device=device, dtype=torch.int64)
    return features, labels


def standardises_in_place(features, labels, device):
    features -= features.mean(dim=0)  # changes the caller's tensor
    return features.to(device=device, dtype=torch.float32), labels.to(device=device, dtype=torch.int64)


def only_the_visible_batches(features, labels, device):
    """Right on the cases a message could print; on anything larger it forgets the labels' dtype."""
    if len(features) <= 4:
        return ex._to_device(features, labels, device)
    return features.to(device=device, dtype=torch.float32), labels.to(device)


# q2: a reproducible train/validation split -------------------------------------------------------

def reseeds_the_global_stream(n, n_val, seed):
    torch.manual_seed(seed)
    order = torch.randperm(n)
    return order[n_val:], order[:n_val]


def numpy_global_seed(n, n_val, seed):
    np.random.seed(seed)
    order = torch.from_numpy(np.random.permutation(n))
    return order[n_val:], order[:n_val]


def unseeded(n, n_val, seed):
    order = torch.randperm(n)
    return order[n_val:], order[:n_val]


def fixed_seed(n, n_val, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    return order[n_val:], order[:n_val]


def not_shuffled(n, n_val, seed):
    order = torch.arange(n)
    return order[:n - n_val], order[n - n_val:]


def with_replacement(n, n_val, seed):
    order = torch.randint(n, (n,), generator=torch.Generator().manual_seed(seed))
    return order[n_val:], order[:n_val]


def two_shuffles(n, n_val, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=generator)[n_val:], torch.randperm(n, generator=generator)[:n_val]


def loses_one(n, n_val, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_val + 1:], order[:n_val]


def train_keeps_everything(n, n_val, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order, order[:n_val]


def swapped(n, n_val, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:n_val], order[n_val:]


def as_floats(n, n_val, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).float()
    return order[n_val:], order[:n_val]


def as_masks(n, n_val, seed):
    in_val = torch.zeros(n, dtype=torch.bool)
    in_val[torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:n_val]] = True
    return ~in_val, in_val


def python_random_seed(n, n_val, seed):
    random.seed(seed)
    order = list(range(n))
    random.shuffle(order)
    return torch.tensor(order[n_val:]), torch.tensor(order[:n_val])


# q3: a stopwatch for an asynchronous device --------------------------------------------------------

def never_waits(work, synchronize, clock, repeats):
    work()
    synchronize  # named, never called: the brackets are missing
    start = clock()
    for _ in range(repeats):
        work()
    synchronize
    return (clock() - start) / repeats


def wall_clock(work, synchronize, clock, repeats):
    work()
    synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    synchronize()
    return (time.perf_counter() - start) / repeats


def divides_by_one_less(work, synchronize, clock, repeats):
    work()
    synchronize()
    start = clock()
    for _ in range(repeats):
        work()
    synchronize()
    return (clock() - start) / (repeats - 1)


def copied_from_the_chapter(work, synchronize, clock, repeats):
    clock()
    return 0.25  # the chapter's pretend GPU


CATALOGUE = {
    "q1": [
        (discards_the_result, "returns a new tensor"),
        (lambda f, l, d: (f.to(d), l.to(d)), "kept their dtypes"),
        (lambda f, l, d: (f.float().to(d), l.float().to(d)), "refuses float labels"),
        (lambda f, l, d: (f.float().to(d), l.to(d)), "still float64"),
        (lambda f, l, d: (f.float().to(d), l.int().to(d)), "not int32"),
        (lambda f, l, d: (f.half().to(d), l.long().to(d)), "float16"),
        (lambda f, l, d: (f.float(), l.long()), "not to a fixed one"),
        (lambda f, l, d: (f.float().to("cpu"), l.long().to("cpu")), "not to a fixed one"),
        (lambda f, l, d: (f.float().to(d), l.long()), "labels stayed on the CPU"),
        (lambda f, l, d: (l.long().to(d), f.float().to(d)), "(features, labels)"),
        (lambda f, l, d: ((f / f.abs().max()).float().to(d), l.long().to(d)), "keep the numbers"),
        (lambda f, l, d: (f.float().to(d).tolist(), l.long().to(d).tolist()), "some are list"),
        (lambda f, l, d: f.float().to(d), "should return 2 things"),
        (standardises_in_place, "in place"),
        (only_the_visible_batches, "kept hidden"),
    ],
    "q2": [
        (reseeds_the_global_stream, "PyTorch's (torch.manual_seed"),
        (numpy_global_seed, "NumPy's (np.random.seed"),
        (python_random_seed, "Python's (random.seed"),
        (unseeded, "two calls with the same seed gave different splits"),
        (fixed_seed, "is the seed you were given really used?"),
        (not_shuffled, "that is not shuffled"),
        (with_replacement, "torch.randint draws with replacement"),
        (two_shuffles, "two separate shuffles overlap"),
        (loses_one, "off-by-one"),
        (train_keeps_everything, "validated on examples it trained on"),
        (swapped, "you returned (val, train)"),
        (as_floats, "indices are whole numbers"),
        (as_masks, "True/False masks"),
        (lambda n, n_val, seed: list(range(n))[n_val:], "should return 2 things"),
    ],
    "q3": [
        (ex._no_final_wait, "only the time to queue"),
        (never_waits, "only the time to queue"),
        (ex._no_warm_up, "one-off start-up cost"),
        (ex._clock_before_warm_up, "before the warm-up"),
        (ex._warm_up_still_running, "the warm-up was still running"),
        (ex._total, "divide by the number of calls"),
        (ex._one_call_more, "off-by-one"),
        (ex._clock_restarted, "restarted the clock"),
        (ex._milliseconds, "milliseconds"),
        (wall_clock, "never read the clock it was given"),
        (divides_by_one_less, "gives a wrong result for"),
        (copied_from_the_chapter, "is the result hard-coded"),
        (lambda work, synchronize, clock, repeats: str(clock()), "as a number"),
    ],
}


# what the catalogue cannot say: right answers written another way pass ----------------------------

@pytest.mark.parametrize("answer", [
    lambda f, l, d: (f.float().to(d), l.long().to(d)),
    lambda f, l, d: (f.to(d, torch.float32), l.to(d, torch.long)),
    lambda f, l, d: (torch.as_tensor(f, dtype=torch.float32, device=d), torch.as_tensor(l, device=d).long()),
])
def test_q1_accepts_other_spellings(answer):
    assert ex.q1.check(answer).passed


def numpy_generator(n, n_val, seed):
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    return order[n_val:], order[:n_val]


def forked_global(n, n_val, seed):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        order = torch.randperm(n)
    return order[:n - n_val], order[n - n_val:]


def sorted_parts(n, n_val, seed):
    train, val = ex._split_indices(n, n_val, seed)
    return train.sort().values, val.sort().values


@pytest.mark.parametrize("answer", [numpy_generator, forked_global, sorted_parts])
def test_q2_accepts_any_private_shuffle(answer):
    state = torch.get_rng_state()
    assert ex.q2.check(answer).passed
    assert torch.equal(state, torch.get_rng_state())


def per_call_times(work, synchronize, clock, repeats):
    """Times each call on its own, waiting after every one: slower on a real GPU, but right."""
    work()
    synchronize()
    times = []
    for _ in range(repeats):
        start = clock()
        work()
        synchronize()
        times.append(clock() - start)
    return times


@pytest.mark.parametrize("average", [lambda times: sum(times) / len(times), lambda times: torch.tensor(times).median()])
def test_q3_accepts_a_wait_after_every_call(average):
    assert ex.q3.check(lambda work, synchronize, clock, repeats:
                       average(per_call_times(work, synchronize, clock, repeats))).passed


def test_q3_the_pretend_device_number_never_gives_the_answer_away():
    assert "0.25" not in repr(ex._DEVICES[0].args[0])


@pytest.mark.parametrize("question", [ex.q1, ex.q2, ex.q3])
def test_a_stub_or_nothing_is_not_attempted(question):
    assert verdict(question, stub)[0] == "not attempted"
    assert verdict(question, None)[0] == "not attempted"


def test_a_wrong_answer_fails_the_run_under_the_tests(monkeypatch):
    monkeypatch.setenv("COURSE_TESTING", "1")
    monkeypatch.delenv("COURSE_CHECKS", raising=False)
    with pytest.raises(ExerciseFailed, match="one-off start-up cost"):
        ex.q3.check(ex._no_warm_up)


def test_hints_and_solutions_print(capsys):
    for question in (ex.q1, ex.q2, ex.q3):
        question.hint()
        question.solution()
    printed = capsys.readouterr().out
    assert "def to_device(features, labels, device):" in printed
    assert "def split_indices(n, n_val, seed):" in printed and "def seconds_per_call(" in printed
