"""Checkers as tables: test cases (inputs → expected), a catalogue of known mistakes, and the checks
every function exercise needs, in one call.

Introduced with the exercise framework in chapter 00, in the manner of learntools' test cases:

    q2 = Question("q2", "the output size of a convolution", chapter="08",
                  checker=function_checker(
                      "conv_output_size", _conv_output_size,
                      cases=[Case(32, 3, 1, 1, note="'same' padding"),
                             Case(7, 3, 2, 0, note="a stride that does not divide evenly"),
                             Case(13, 5, 3, 2, hidden=True)],
                      mistakes=[Mistake(lambda n, k, s, p: (n - k + 2 * p) / s + 1,
                                        "the size is a whole number: round down with //", zh="...")],
                      convert=whole_number),
                  ...)

For each case in order the answer is called (through ``call``: stubs, exceptions, in-place changes,
a time limit, forbidden functions), its result converted and compared with the reference's. At the
first case that differs, the checker looks for the known mistake that gives the same result there
and speaks its message; failing that, it says whether the answer looks hard-coded (it returned
another case's answer), and otherwise names the case by its inputs and note. A hidden case is never
printed. No message shows the expected result: the learner must find it, not copy it.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from utils.exercises.checks import Forbidden, call, compare_gradients, forbidden_use
from utils.exercises.core import Wrong, gap, require, say

__all__ = ["Case", "Mistake", "function_checker", "same"]


class Case:
    """One test case: the arguments an answer is called with, and what the case is about.

    ``note`` (and ``note_zh``) names what the case tests ("a score of exactly 0", "a stride of 2")
    and is said when the case fails. ``hidden=True`` keeps its inputs out of every message, so an
    answer that only fits the printed cases cannot pass.
    """

    def __init__(self, *args, note: str = "", note_zh: str = "", hidden: bool = False, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.note, self.note_zh, self.hidden = note, note_zh, hidden

    def fresh(self) -> tuple[tuple, dict]:
        """Copies of the arguments, so no call sees what an earlier one did to them."""
        copy = lambda value: value.detach().clone() if torch.is_tensor(value) else value  # noqa: E731
        return tuple(copy(a) for a in self.args), {k: copy(v) for k, v in self.kwargs.items()}

    def describe(self, names: Sequence[str]) -> tuple[str, str]:
        """How a failure message names this case, in English and Chinese."""
        if self.hidden:
            en, zh = "a further case, kept hidden so that it cannot be copied", "另一个不公开的测试用例（以免被照抄）"
        else:
            shown = ", ".join(f"{n} = {_short(v)}" for n, v in zip(names, self.args))
            shown += "".join(f", {k} = {_short(v)}" for k, v in self.kwargs.items())
            en, zh = shown, shown
        if self.note:
            en, zh = f"{en} ({self.note})", f"{zh}（{self.note_zh or self.note}）"
        return en, zh


def _short(value) -> str:
    if torch.is_tensor(value):
        if value.numel() <= 8:
            return str([round(v, 3) if isinstance(v, float) else v for v in value.tolist()])
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if len(repr(value)) <= 40 else type(value).__name__


@dataclass(frozen=True)
class Mistake:
    """A wrong answer a learner really writes, as a function with the answer's signature, and the
    message that names it. A checker speaks it when the learner's result equals the mistake's."""

    fn: Callable
    en: str
    zh: str


def same(actual, expected, *, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Equal within tolerance: tensors and floats by value and shape, tuples part by part, others by ==."""
    if isinstance(expected, (tuple, list)) and not torch.is_tensor(expected):
        return (isinstance(actual, (tuple, list)) and len(actual) == len(expected)
                and all(same(a, b, atol=atol, rtol=rtol) for a, b in zip(actual, expected)))
    if torch.is_tensor(expected) or isinstance(expected, float):
        if torch.is_tensor(expected) and not torch.is_tensor(actual):
            return False
        try:
            a = torch.as_tensor(actual, dtype=torch.float64)
            b = torch.as_tensor(expected, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            return False
        if a.shape != b.shape:
            return False
        both_nan = torch.isnan(a) & torch.isnan(b)
        return bool((torch.isclose(a, b, atol=atol, rtol=rtol) | both_nan).all())
    try:
        return bool(actual == expected)
    except (TypeError, RuntimeError, ValueError):
        return False


_UNKNOWN = object()  # a mistake that could not run on a case


def _argument_names(reference: Callable) -> list[str]:
    try:
        return list(inspect.signature(reference).parameters)
    except (TypeError, ValueError):
        return []


def _detached(value):
    if torch.is_tensor(value):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return type(value)(_detached(v) for v in value)
    return value


def _flat(value) -> torch.Tensor | None:
    """All floating-point tensor parts of a result, flattened into one vector (for gradients)."""
    parts = value if isinstance(value, (tuple, list)) else [value]
    tensors = [p.reshape(-1) for p in parts if torch.is_tensor(p) and p.is_floating_point()]
    return torch.cat(tensors) if tensors else None


def function_checker(name: str, reference: Callable, cases: Sequence[Case], *,
                     mistakes: Sequence[Mistake] = (), forbid: Forbidden | None = None,
                     convert: Callable | None = None, compare: Callable = same,
                     gradients: bool = False, then: Callable | None = None,
                     note: tuple[str, str] | None = None) -> Callable:
    """A checker for a function exercise, from a table of cases and a catalogue of mistakes.

    - ``name``: the learner's function's name, as messages say it.
    - ``reference``: the right answer; each case's expected result is the reference's.
    - ``convert(result, name)``: checks and normalises the answer's result before comparing (e.g.
      ``as_tensor``/``as_number``/``parts``), with a message when its type or shape is wrong.
    - ``compare(actual, expected) -> bool``: default ``same`` (tolerant for floats, exact otherwise).
    - ``mistakes``: known wrong answers; the first whose result matches the learner's speaks.
    - ``forbid``: library functions the exercise forbids (read from the code, and patched to raise).
    - ``gradients=True``: on every case, the answer's gradient with respect to its floating-point
      tensor arguments must equal the reference's (catches detached and no_grad computations).
    - ``then(fn)``: checks of the question's own that tables cannot express, run last; it may return a note.
    - ``note``: (English, Chinese) said on success when ``then`` returns nothing.
    """
    names = _argument_names(reference)
    visible = [case for case in cases if not case.hidden]

    def expected(case: Case):
        args, kwargs = case.fresh()
        return _detached(reference(*args, **kwargs))

    def result_of(fn, case: Case):
        args, kwargs = case.fresh()
        out = call(fn, *args, name=name, forbid=forbid, **kwargs)
        return convert(out, name) if convert is not None else out

    def mistake_results(mistake: Mistake) -> list:
        results = []
        for case in cases:
            args, kwargs = case.fresh()
            try:
                results.append(_detached(mistake.fn(*args, **kwargs)))
            except Exception:  # a mistake that cannot run on a case says nothing about it
                results.append(_UNKNOWN)
        return results

    def diagnose(outs: list, wants: list, failing: int) -> Wrong:
        """Name the learner's mistake from their results on every case, most specific first."""
        case, out, want = cases[failing], outs[failing], wants[failing]
        where, where_zh = case.describe(names)
        catalogue = [(mistake, mistake_results(mistake)) for mistake in mistakes]
        for mistake, theirs in catalogue:  # a known mistake that explains every result
            if theirs[failing] is not _UNKNOWN and not same_as(theirs[failing], want) and all(
                    t is _UNKNOWN or same_as(o, t) for o, t in zip(outs, theirs)):
                return Wrong(mistake.en, mistake.zh)
        if len(cases) > 1 and all(same_as(o, outs[0]) for o in outs) \
                and not all(same_as(w, wants[0]) for w in wants):
            return Wrong(f"{name} returns the same result whatever its inputs, though the cases have different "
                         "answers: is the result hard-coded, copied from an example? Compute it from the arguments",
                         f"无论输入是什么，{name} 都返回同一个结果，而各个用例的答案并不相同："
                         "结果是不是写死的、从例子里抄来的？请根据参数计算它")
        visible_right = all(same_as(o, w) for o, w, c in zip(outs, wants, cases) if not c.hidden)
        if case.hidden and visible_right:
            return Wrong(f"{name} is right on every case this check shows, but wrong on {where}. Make sure the "
                         "code computes the answer from its arguments in general, not only for the examples",
                         f"{name} 在本检查展示的每个用例上都正确，却在{where_zh}上出错。请确保代码是根据"
                         "参数一般地算出答案，而不只是对这几个例子成立")
        for mistake, theirs in catalogue:  # a known mistake that gives this case's wrong result
            if theirs[failing] is not _UNKNOWN and same_as(out, theirs[failing]) \
                    and not same_as(theirs[failing], want):
                return Wrong(mistake.en, mistake.zh)
        detail, detail_zh = "", ""
        try:
            if torch.is_tensor(out) and torch.is_tensor(want) and out.shape == want.shape:
                largest = gap(out, want)
                detail, detail_zh = f" (largest gap {largest:.3g})", f"（最大差距 {largest:.3g}）"
        except (TypeError, RuntimeError):
            pass
        return Wrong(f"{name} gives a wrong result for {where}{detail}. Work this case through by hand and "
                     "compare with what your code computes, step by step",
                     f"{name} 对 {where_zh} 给出的结果不对{detail_zh}。请手算这个用例，"
                     "一步步对照你的代码算出的结果")

    def same_as(a, b) -> bool:
        return a is not _UNKNOWN and b is not _UNKNOWN and compare(a, b)

    def checker(fn):
        if forbid is not None and fn is not None and callable(fn):
            found = forbidden_use(fn, forbid)
            if found:
                raise forbid.message(found)
        outs = [result_of(fn, case) for case in cases]
        wants = [expected(case) for case in cases]
        failing = next((i for i, (o, w) in enumerate(zip(outs, wants)) if not compare(o, w)), None)
        if failing is not None:
            raise diagnose(outs, wants, failing)
        if gradients:
            for number, case in enumerate(cases):
                _check_gradient(fn, case, number)
        extra = then(fn) if then is not None else None
        if extra:
            return extra
        return say(*note) if note else None

    def _check_gradient(fn, case: Case, number: int):
        args, kwargs = case.fresh()
        inputs = [a.requires_grad_(True) for a in args if torch.is_tensor(a) and a.is_floating_point()]
        if not inputs:
            return
        out = call(fn, *args, name=name, forbid=forbid, **kwargs)
        theirs = reference(*[a for a in args], **kwargs)
        mine, ref = _flat(out), _flat(theirs)
        require(mine is not None, f"{name} should return tensors that gradients can flow through",
                zh=f"{name} 应当返回梯度能够流过的张量")
        compare_gradients(mine, ref, inputs, name=name, seed=number)

    checker.cases = tuple(cases)
    checker.expected_results = lambda: [expected(case) for case in visible]  # for the leak test
    return checker
