"""The exercise framework: verdicts, strictness, and what call() catches."""
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
