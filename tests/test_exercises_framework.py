"""The exercise framework: verdicts, strictness, and what call() catches."""
import re

import pytest
import torch

from utils.exercises import ExerciseFailed, Question, call, close, gap, require


def _double(x):
    return x * 2


def _check_double(fn):
    out = call(fn, torch.tensor([1.0, 2.0]), name="double")
    require(torch.is_tensor(out), "return a tensor")
    require(close(out, [2.0, 4.0]), f"expected [2, 4], got {out.tolist()}")


question = Question("q9", "doubling", _check_double, chapter="99", hint="multiply by two", reference=_double)


@pytest.fixture
def report(monkeypatch):
    monkeypatch.setenv("COURSE_CHECKS", "report")


def test_right_answer_passes(capsys):
    assert question.check(lambda x: x + x).passed
    assert capsys.readouterr().out.startswith("✓ q9 (doubling): correct!")


def test_wrong_answer_speaks_and_never_passes(report, capsys):
    result = question.check(lambda x: x * 3)
    assert result.status == "incorrect" and not result
    assert "expected [2, 4], got [3.0, 6.0]" in capsys.readouterr().out


@pytest.mark.parametrize("empty", [None, "stub"])
def test_empty_answer_is_not_attempted(report, empty):
    def stub(x):
        raise NotImplementedError()
    result = question.check(None if empty is None else stub)
    assert result.status == "not attempted"
    assert "not attempted yet" in result.message and "ex.q9.hint()" in result.message


def test_strict_mode_fails_the_run_on_anything_but_a_pass():
    with pytest.raises(ExerciseFailed, match="not correct yet"):
        question.check(lambda x: x)
    with pytest.raises(ExerciseFailed, match="not attempted"):
        question.check(None)


@pytest.mark.parametrize("answer, message", [
    (lambda x: None, "returned None: did you forget the `return` line?"),
    (lambda x: x.mul_(2), "changed its input (argument 1) in place"),
    (lambda x: 1 / 0, "double raised ZeroDivisionError: division by zero"),
    (_double(torch.tensor([1.0])), "pass the function itself"),
])
def test_call_turns_common_mistakes_into_messages(report, answer, message):
    result = question.check(answer)
    assert result.status == "incorrect" and message in result.message


def test_hint_and_solution(capsys):
    question.hint()
    question.solution()
    printed = capsys.readouterr().out
    assert "Hint for q9 (doubling): multiply by two" in printed
    assert "def double(x):\n    return x * 2" in printed


def test_close_and_gap():
    assert close([1.0, 2.0], torch.tensor([1.0, 2.0 + 1e-9]))
    assert not close([1.0, 2.0], [1.0])  # shapes differ
    assert gap([1.0, 2.0], [1.5, 2.0]) == 0.5


def _check_with_chinese(fn):
    require(call(fn, torch.tensor([1.0]), name="double").item() == 2.0, "expected 2", zh="应当得到 2")


bilingual = Question("q8", "doubling", _check_with_chinese, chapter="99", hint="times two", hint_zh="乘以二",
                     reference=_double, title_zh="加倍")


@pytest.mark.parametrize("lang, present, absent", [
    ("en", ["✗ q8 (doubling) is not correct yet: expected 2"], ["应当"]),
    ("zh", ["✗ q8（加倍）还不正确：应当得到 2"], ["expected 2"]),
    ("both", ["expected 2", "应当得到 2"], []),
    ("klingon", ["expected 2"], ["应当"]),
])
def test_messages_follow_the_learners_language(report, monkeypatch, capsys, lang, present, absent):
    monkeypatch.setenv("COURSE_LANG", lang)
    bilingual.check(lambda x: x * 3)
    bilingual.hint()
    printed = capsys.readouterr().out
    assert all(text in printed for text in present) and not any(text in printed for text in absent)


def test_framework_messages_have_chinese(report, monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "zh")
    assert "尚未作答" in question.check(None).message
    assert "忘了写 `return`" in question.check(lambda x: None).message
    assert "原地修改" in question.check(lambda x: x.mul_(2)).message


# The shared checks and the case table --------------------------------------------------------

import threading  # noqa: E402

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from utils.exercises import (Case, Mistake, Wrong, as_number, as_tensor, forbidden_use, forbidding,  # noqa: E402
                             function_checker, parts, time_limit)
from utils.exercises.checks import TookTooLong  # noqa: E402

SIGMOID = forbidding("torch.sigmoid", ["torch.sigmoid", "torch.Tensor.sigmoid", "torch.nn.functional.sigmoid",
                                       "torch.special.expit", "torch.nn.Sigmoid"],
                     why="computes the sigmoid for you", why_zh="它替你算出了 sigmoid")
alias = torch.sigmoid


def _helper(z):
    return nn.Sigmoid()(z)


@pytest.mark.parametrize("answer", [
    lambda z: torch.sigmoid(z), lambda z: z.sigmoid(), lambda z: F.sigmoid(z), lambda z: alias(z),
    lambda z: getattr(torch, "sigmoid")(z), lambda z: torch.special.expit(z), lambda z: _helper(z),
    lambda z: nn.Sigmoid()(z),
])
def test_a_forbidden_function_is_found_in_any_spelling(answer):
    assert forbidden_use(answer, SIGMOID)


def test_an_answer_without_the_forbidden_function_is_not_flagged():
    def mine(z):
        sigmoid = 1 / (1 + torch.exp(-z))  # a local variable may carry the name; comments too: torch.sigmoid
        return sigmoid
    assert forbidden_use(mine, SIGMOID) is None


def test_a_forbidden_call_refuses_while_the_answer_runs_and_is_restored_after(report):
    hidden_away = {"f": torch.sigmoid}  # out of reach of the code reading: only the patch sees it
    checker = function_checker("s", lambda z: 1 / (1 + torch.exp(-z)), [Case(torch.zeros(3))], forbid=SIGMOID)
    q = Question("q7", "sigmoid", checker, chapter="99", hint="", reference=lambda z: z)
    result = q.check(lambda z: torch.Tensor.sigmoid(z) if False else hidden_away["f"](z))
    assert result.status == "incorrect" and "which computes the sigmoid for you" in result.message
    assert torch.sigmoid(torch.zeros(1)).item() == 0.5 and torch.zeros(1).sigmoid().item() == 0.5
    assert "sigmoid" not in vars(torch.Tensor)  # the shadow on the Tensor class is gone


def test_the_time_limit_stops_a_loop_on_the_main_thread_and_on_a_worker_thread():
    def spin():
        with time_limit(0.2):
            while True:
                pass
    with pytest.raises(TookTooLong):
        spin()
    caught = []

    def worker():
        try:
            spin()
        except TookTooLong:
            caught.append(True)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(5)
    assert caught == [True]


@pytest.mark.parametrize("value, integer, expected", [(3, True, 3), (torch.tensor(2.0), True, 2),
                                                     (torch.tensor([0.5]), False, 0.5)])
def test_as_number_accepts_numbers_and_one_element_tensors(value, integer, expected):
    assert as_number(value, "f", integer=integer) == expected


@pytest.mark.parametrize("value, integer, message", [(True, False, "as a number"), (2.5, True, "whole number"),
                                                     (torch.ones(2), False, "shape (2,)"), ("3", False, "as a number")])
def test_as_number_names_what_is_wrong(value, integer, message):
    with pytest.raises(Wrong, match=re.escape(message)):
        as_number(value, "f", integer=integer)


def test_as_tensor_and_parts_name_shape_dtype_and_count():
    with pytest.raises(Wrong, match=r"shape \(N, 3\)"):
        as_tensor(torch.ones(2, 2), "f", shape=(None, 3))
    with pytest.raises(Wrong, match="floating-point"):
        as_tensor(torch.ones(2, dtype=torch.long), "f", floating=True)
    with pytest.raises(Wrong, match="should return 2 things"):
        parts(torch.ones(2), 2, "f", "(a, b)", "(a, b)")
    assert parts((torch.ones(1), torch.zeros(1)), 2, "f", "(a, b)", "(a, b)")[1].item() == 0


def _square_checker(**options):
    cases = [Case(torch.tensor([1.0, 2.0]), note="the example"), Case(torch.tensor([-3.0, 0.5])),
             Case(torch.tensor([4.0, -1.0]), hidden=True)]
    mistakes = [Mistake(lambda x: 2 * x, "you doubled instead of squaring", "你把平方算成了乘二"),
                Mistake(lambda x: x.abs() ** 2 + (x < 0), "negative inputs go wrong", "负数输入出错")]
    checker = function_checker("square", lambda x: x ** 2, cases, mistakes=mistakes, **options)
    return Question("q6", "square", checker, chapter="99", hint="", reference=lambda x: x ** 2)


@pytest.mark.parametrize("answer, message", [
    (lambda x: 2 * x, "you doubled instead of squaring"),
    (lambda x: x.abs() ** 2 + (x < 0), "negative inputs go wrong"),
    (lambda x: torch.tensor([1.0, 4.0]), "the same result whatever its inputs"),
    (lambda x: x ** 2 if x[0] != 4 else x, "right on every case this check shows"),
    (lambda x: torch.where(x < 0, -(x ** 2), x ** 2), "gives a wrong result for x = [-3.0, 0.5]"),
])
def test_the_case_table_names_the_mistake(report, answer, message):
    result = _square_checker().check(answer)
    assert result.status == "incorrect" and message in result.message, result.message


def test_a_mistake_that_cannot_run_on_any_case_explains_nothing(report):
    cases = [Case(torch.tensor([1.0, 2.0])), Case(torch.tensor([-3.0, 0.5, 2.0]))]
    mistakes = [Mistake(lambda x: x @ torch.ones(5), "a mistake for inputs of length 5", "长度为 5 的输入的错误"),
                Mistake(lambda x: 2 * x, "you doubled instead of squaring", "你把平方算成了乘二")]
    checker = function_checker("square", lambda x: x ** 2, cases, mistakes=mistakes)
    question = Question("q7", "square", checker, chapter="99", hint="", reference=lambda x: x ** 2)
    result = question.check(lambda x: 2 * x)
    assert "you doubled instead of squaring" in result.message, result.message


def test_a_hidden_case_is_never_printed(report):
    result = _square_checker().check(lambda x: x ** 2 if x[0] != 4 else x)
    assert "4.0" not in result.message and "-1.0" not in result.message


def test_gradients_catch_a_detached_computation(report):
    q = _square_checker(gradients=True)
    assert q.check(lambda x: x * x).passed
    detached = q.check(lambda x: x * x.detach())
    assert detached.status == "incorrect" and "differs from autograd's" in detached.message
    no_grad = q.check(lambda x: (x ** 2).detach())
    assert no_grad.status == "incorrect" and "carries no gradient" in no_grad.message
