"""The checks every chapter's checkers share: types and shapes, tuples, numbers, a time limit,
functions an exercise forbids, and gradients compared with autograd.

Introduced with the exercise framework in chapter 00. Each helper raises ``Wrong`` (through
``require``) with a message in English and Chinese that says what is wrong and what to do, so a
chapter's checker is a short chain of these plus the checks specific to its question.
"""
from __future__ import annotations

import contextlib
import numbers
import signal
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch

from utils.exercises.core import NotAttempted, Wrong, require

__all__ = ["Forbidden", "as_number", "as_tensor", "call", "compare_gradients", "forbidden_use", "forbidding",
           "parts", "time_limit"]


# ------------------------------------------------------------------------------ types and shapes

def as_tensor(value, name: str, *, shape=None, dtype=None, floating: bool = False,
              what: str = "", what_zh: str = "") -> torch.Tensor:
    """``value`` as a tensor of the right shape and dtype, or a message that says which is wrong.

    ``shape`` is a tuple (``None`` entries match any size); ``what`` names the thing (e.g. "the new
    weights") in the messages.
    """
    thing, thing_zh = what or "the result", what_zh or "结果"
    require(torch.is_tensor(value),
            f"{name} should return {thing} as a tensor, not a {type(value).__name__}: stay in torch "
            "(no Python lists, NumPy arrays or .item())",
            zh=f"{name} 应当以张量形式返回{thing_zh}，而不是 {type(value).__name__}：全程留在 torch 中"
               "（不要用 Python 列表、NumPy 数组或 .item()）")
    if shape is not None:
        fits = value.ndim == len(shape) and all(s is None or s == n for s, n in zip(shape, value.shape))
        shown = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        require(fits, f"{thing} should have shape {shown}; {name} returned shape {tuple(value.shape)}",
                zh=f"{thing_zh}的形状应为 {shown}；{name} 返回的形状是 {tuple(value.shape)}")
    if floating:
        require(value.is_floating_point(),
                f"{thing} has dtype {value.dtype}: return floating-point numbers (.float()), the type that "
                "weights and gradients have",
                zh=f"{thing_zh}的数据类型是 {value.dtype}：请返回浮点数（.float()），权重和梯度都是这种类型")
    if dtype is not None:
        require(value.dtype == dtype, f"{thing} has dtype {value.dtype}, expected {dtype}",
                zh=f"{thing_zh}的数据类型是 {value.dtype}，应为 {dtype}")
    return value


def parts(value, count: int, name: str, what: str, what_zh: str, *, tensors: bool = True) -> tuple:
    """Unpack an answer that returns ``count`` things (``what`` names them, e.g. "(w_new, v_new)")."""
    require(isinstance(value, (tuple, list)) and len(value) == count,
            f"{name} should return {count} things, {what}; it returned "
            + (f"{len(value)}" if isinstance(value, (tuple, list)) else f"a {type(value).__name__}"),
            zh=f"{name} 应当返回 {count} 样东西：{what_zh}；它返回的是 "
               + (f"{len(value)} 样" if isinstance(value, (tuple, list)) else f"一个 {type(value).__name__}"))
    if tensors:
        kinds = [type(part).__name__ for part in value if not torch.is_tensor(part)]
        require(not kinds, f"{name} should return {count} tensors, {what}; some are {', '.join(kinds)}",
                zh=f"{name} 应当返回 {count} 个张量：{what_zh}；其中有的是 {', '.join(kinds)}")
    return tuple(value)


def as_number(value, name: str, *, integer: bool = False, what: str = "the result", what_zh: str = "结果"):
    """A one-element tensor, NumPy scalar or Python number as a Python int or float; else a message."""
    if torch.is_tensor(value):
        require(value.numel() == 1,
                f"{name} should return {what} as one number; it returned a tensor of shape {tuple(value.shape)}",
                zh=f"{name} 应当把{what_zh}作为一个数返回；它返回的是形状为 {tuple(value.shape)} 的张量")
        value = value.item()
    elif hasattr(value, "item") and not isinstance(value, (list, tuple, dict)):  # a NumPy scalar
        value = value.item()
    require(isinstance(value, numbers.Real) and not isinstance(value, bool),
            f"{name} should return {what} as a number; it returned {type(value).__name__}",
            zh=f"{name} 应当以数的形式返回{what_zh}；它返回的是 {type(value).__name__}")
    if integer:
        require(float(value).is_integer(),
                f"{name} should return {what} as a whole number; it returned {value!r}",
                zh=f"{name} 应当以整数形式返回{what_zh}；它返回的是 {value!r}")
        return int(value)
    return float(value)


# ------------------------------------------------------------------------------ a time limit

#: Seconds a learner's function may run inside one check before it is stopped with a message.
TIME_LIMIT = 10.0


class TookTooLong(Exception):
    """A learner's function ran past the time limit (raised inside it, caught by ``call``)."""


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT):
    """Raise ``TookTooLong`` inside the code that runs for more than ``seconds``, on every platform.

    A wrong loop condition never ends; without a limit the check cell would hang in silence. On the
    main thread of a POSIX system a timer signal interrupts even a long C call; elsewhere (Windows, a
    worker thread) a trace function stops the Python code at its next line.
    """
    global _limit_active
    if seconds is None or seconds <= 0 or _limit_active:
        yield
        return
    _limit_active = True
    try:
        with _limit(seconds):
            yield
    finally:
        _limit_active = False


_limit_active = False


@contextlib.contextmanager
def _limit(seconds: float):
    if hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread():
        def stop(_signum, _frame):
            raise TookTooLong(seconds)

        previous = signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    deadline = time.monotonic() + seconds
    previous_trace = sys.gettrace()

    def trace(frame, event, arg):
        if time.monotonic() > deadline:
            raise TookTooLong(seconds)
        return trace

    frames, frame = [], sys._getframe()
    while frame is not None:  # the frames already running (the caller's loop) are traced too
        frames.append((frame, frame.f_trace))
        frame.f_trace = trace
        frame = frame.f_back
    sys.settrace(trace)
    try:
        yield
    finally:
        sys.settrace(previous_trace)
        for frame, previous in frames:
            frame.f_trace = previous


# ------------------------------------------------------------------------------ forbidden functions

@dataclass(frozen=True)
class Forbidden:
    """Library functions an exercise forbids because they do the exercise's work.

    ``objects`` are the functions and classes themselves (``torch.sigmoid``, ``nn.Sigmoid``, ...);
    ``names`` the attribute names that reach them in any spelling (``x.sigmoid()``,
    ``torch.special.expit``, ``getattr(torch, "sigmoid")``). ``why`` says why the exercise forbids
    them. ``forbidden_use`` finds them in an answer's code; ``patched`` makes them raise while the
    answer runs, which catches what the code alone does not show (a helper in another module).
    """

    what: str
    objects: tuple
    names: frozenset
    why: str
    why_zh: str
    patch: tuple = field(default=())  # (owner, attribute, shown) to make refuse while an answer runs

    @contextlib.contextmanager
    def patched(self):
        saved = []
        try:
            for owner, attribute, shown in self.patch:
                def refuse(*args, _shown=shown, **kwargs):
                    raise ForbiddenCall(_shown)

                saved.append((owner, attribute, attribute in vars(owner), getattr(owner, attribute)))
                setattr(owner, attribute, refuse)
            yield
        finally:
            for owner, attribute, own, original in reversed(saved):
                if own:
                    setattr(owner, attribute, original)
                else:  # it was inherited (a Tensor method): remove the shadow
                    delattr(owner, attribute)

    def message(self, found: str) -> Wrong:
        return Wrong(f"your answer uses {found}, which {self.why}. The exercise asks you to build it yourself "
                     f"from simpler operations; compare with {self.what} afterwards, outside your function",
                     f"你的答案用到了 {found}，而{self.why_zh}。本练习要求你用更基本的运算自己搭出来；"
                     f"之后可以在函数外面和 {self.what} 比较")


def forbidding(what: str, paths: Iterable[str], *, why: str, why_zh: str, names: Iterable[str] = ()) -> Forbidden:
    """A ``Forbidden`` from dotted paths ("torch.sigmoid", "torch.Tensor.sigmoid", "torch.nn.Sigmoid").

    Each path's object is forbidden, its last name is forbidden in any spelling, and while an answer
    runs the attribute is replaced by a function that refuses.
    """
    import importlib

    objects, patch, forbidden_names = [], [], set(names)
    for path in paths:
        parts_ = path.split(".")
        for split in range(len(parts_) - 1, 0, -1):
            try:
                owner = importlib.import_module(".".join(parts_[:split]))
            except ImportError:
                continue
            for attribute in parts_[split:-1]:
                owner = getattr(owner, attribute)
            break
        objects.append(getattr(owner, parts_[-1]))
        patch.append((owner, parts_[-1], path))
        forbidden_names.add(parts_[-1])
    return Forbidden(what, tuple(objects), frozenset(forbidden_names), why, why_zh, tuple(patch))


class ForbiddenCall(Exception):
    """A forbidden library function was called while an answer ran (see ``Forbidden.patched``)."""


def _code_objects(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_objects(constant)


def _same_object(a, b) -> bool:
    try:
        return a is b or (callable(a) and a == b)
    except Exception:  # some objects refuse comparison
        return False


def forbidden_use(fn, forbidden: Forbidden, *, _seen=None) -> str | None:
    """How ``fn`` reaches a forbidden function, read from its compiled code (comments do not count).

    Looks at every name and attribute the code (and any function nested in it) uses, at string
    constants (``getattr(torch, "sigmoid")``), at what its global names and closure cells hold (an
    alias such as ``s = torch.sigmoid`` or ``from torch import sigmoid as s``), and at the code of
    the learner's own helper functions it calls. Returns a short description, or None.
    """
    _seen = set() if _seen is None else _seen
    code = getattr(fn, "__code__", None)
    if code is None or id(code) in _seen:
        if isinstance(fn, type):  # a class answer: look at each of its methods
            for member in vars(fn).values():
                found = forbidden_use(member, forbidden, _seen=_seen)
                if found:
                    return found
        return None
    _seen.add(id(code))
    namespace = dict(getattr(fn, "__globals__", {}))
    cells = [cell.cell_contents for cell in (getattr(fn, "__closure__", None) or ()) if _filled(cell)]
    for each in _code_objects(code):
        for name in each.co_names:
            if name in forbidden.names:
                return f"`{name}`"
            value = namespace.get(name)
            if any(_same_object(value, obj) for obj in forbidden.objects):
                return f"`{name}` (another name for {forbidden.what})"
            if isinstance(value, types.FunctionType) and value.__globals__ is fn.__globals__:
                found = forbidden_use(value, forbidden, _seen=_seen)  # the learner's own helper
                if found:
                    return f"{found} (inside your helper {value.__name__})"
        for constant in each.co_consts:
            if isinstance(constant, str) and constant in forbidden.names:
                return f'"{constant}"'
    for value in cells:
        if any(_same_object(value, obj) for obj in forbidden.objects):
            return f"{forbidden.what} (held in a variable)"
    return None


def _filled(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


# ------------------------------------------------------------------------------ gradients

def compare_gradients(output: torch.Tensor, expected: torch.Tensor, inputs: list, *, name: str,
                      atol: float = 1e-5, seed: int = 0) -> None:
    """Require that ``output`` has the gradient ``expected`` has with respect to ``inputs``.

    Both are reduced with the same random weights (so every output entry matters) and
    differentiated; a result that carries no gradient, or a gradient that differs (statistics
    computed under ``no_grad`` or ``.detach()``ed, a constant where a variable belongs), is a
    message that prints the largest gap, as karpathy's ``cmp()`` does.
    """
    require(output.requires_grad,
            f"right values, but {name}'s result carries no gradient: nothing in it can be trained. Stay in torch "
            "operations on the inputs (no torch.no_grad(), .detach(), .item(), .data or NumPy inside)",
            zh=f"数值正确，但 {name} 的结果没有携带梯度：其中没有任何东西能被训练。请全程对输入使用 torch "
               "运算（函数里不要用 torch.no_grad()、.detach()、.item()、.data 或 NumPy）")
    weights = torch.randn(expected.shape, generator=torch.Generator().manual_seed(seed), dtype=expected.dtype)
    theirs = torch.autograd.grad((expected * weights).sum(), inputs, allow_unused=True, retain_graph=True)
    mine = torch.autograd.grad((output * weights.to(output.dtype)).sum(), inputs, allow_unused=True,
                               retain_graph=True)
    for position, (a, b) in enumerate(zip(mine, theirs)):
        a = torch.zeros_like(inputs[position]) if a is None else a
        b = torch.zeros_like(inputs[position]) if b is None else b
        largest = (a.double() - b.double()).abs().max().item()
        require(largest <= atol + 1e-4 * b.abs().max().item(),
                f"right values, but the gradient of {name}'s result differs from autograd's gradient of the "
                f"reference by up to {largest:.3g}. Part of the computation is treated as a constant: was "
                "something computed under torch.no_grad(), .detach()ed, or taken through .item()?",
                zh=f"数值正确，但 {name} 结果的梯度与参考答案经 autograd 得到的梯度最多相差 {largest:.3g}。"
                   "有一部分计算被当成了常数：是否有东西在 torch.no_grad() 下计算、被 .detach()，"
                   "或经过了 .item()？")


# ------------------------------------------------------------------------------ calling an answer

def _snapshot(value):
    return value.detach().clone() if torch.is_tensor(value) else None


def call(fn: Callable, *args, name: str = "your function", forbid: Forbidden | None = None,
         limit: float | None = None, **kwargs):
    """Call the learner's ``fn`` the way a checker should.

    A stub that raises NotImplementedError becomes "not attempted"; any other exception becomes a
    message naming it; a function still running after ``limit`` seconds is stopped with a message;
    a forbidden library function called inside (``forbid``) is a message saying why it is
    forbidden; an input tensor changed in place is an error of its own, because the caller's data
    must not change under them; ``None`` returned means a missing ``return``.
    """
    if fn is None:
        raise NotAttempted()
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__}: pass the function itself, "
                    f"without calling it (write f, not f())",
                    f"需要一个函数，却得到了 {type(fn).__name__}：请传入函数本身，不要调用它（写 f，而不是 f()）")
    limit = TIME_LIMIT if limit is None else limit
    before = [_snapshot(a) for a in args]
    guard = forbid.patched() if forbid is not None else contextlib.nullcontext()
    try:
        with guard, time_limit(limit):
            result = fn(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted() from None
    except TookTooLong:
        raise Wrong(f"{name} was still running after {limit:g} s, so the check stopped it. Does a loop in it "
                    "ever end? Check the condition that should stop it, and that the loop changes what the "
                    "condition reads",
                    f"{name} 运行了 {limit:g} 秒仍未结束，检查把它停了下来。其中的循环会结束吗？"
                    "检查应当让它停下的条件，以及循环有没有改变条件所读取的量") from None
    except ForbiddenCall as error:
        raise forbid.message(f"`{error.args[0]}`") from None
    except Wrong:
        raise
    except Exception as error:  # the learner's code failed: say how, without a deep traceback
        raise Wrong(f"{name} raised {type(error).__name__}: {error}",
                    f"{name} 抛出了 {type(error).__name__}：{error}") from None
    for position, (arg, old) in enumerate(zip(args, before)):
        if old is not None and (arg.shape != old.shape or not torch.equal(arg.detach(), old)):
            raise Wrong(f"{name} changed its input (argument {position + 1}) in place. The right "
                        f"values are not enough: the caller's tensor must stay as it was. Work on a "
                        f"copy (x.clone()) or use out-of-place operations (x = x + 1, not x += 1).",
                        f"{name} 原地修改了它的输入（第 {position + 1} 个参数）。只有正确的值还不够：调用者的"
                        f"张量必须保持原样。请在副本上操作（x.clone()），或使用非原地运算（x = x + 1，而不是 x += 1）。")
    if result is None:
        raise Wrong(f"{name} returned None: did you forget the `return` line?",
                    f"{name} 返回了 None：是不是忘了写 `return` 这一行？")
    return result
