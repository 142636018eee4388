"""The grader's verdict channel: a check reports to the grader through its own cell's outputs.

Used by the grader (``python -m utils.grading``, docs/INSTRUCTORS.md), by no chapter. For a learner
nothing here does anything: ``report()`` publishes only in a copy of this module that the grader's
guard loaded and opened.

The grader writes each check cell of the notebook it runs as one line that executes this file's
source text (read by the grader before any student code ran) with ``__name__ == "course_grader"``,
which calls ``guarded_check()``:

1. ``tampered()`` compares the checking machinery in the kernel (``ex``, every question's
   ``check`` and checker, the chapter's functions, ``require``, ``call``, ``expect``) with
   fingerprints that the grader computed in its own process, and publishes what differs;
2. ``load_fresh()`` loads utils/exercises and the chapter's module again from the grader's source
   text, under module names nothing has seen, their imports of each other resolved to the new
   copies, never looked up in ``sys.modules`` (where they stay only while they load);
3. the release's check line runs with ``ex`` bound to that copy, whose ``Question.check``
   publishes the verdict, stamped with the grader's one-off nonce for this cell.

The grader counts a verdict only in the cell that checks that question, and only with its nonce.
"""
from __future__ import annotations

import builtins
import hashlib
import inspect
import os
import sys
import types

#: The MIME type of the records: display_data outputs that only the grader reads (only its kernels print them).
MIME = "application/vnd.deep-learning-course.verdict+json"
#: The names the grader's check cell takes from the notebook's namespace.
CELL_NAMES = ("exec", "compile", "globals")

_nonce: str | None = None  # set by guarded_check(), in the fresh copy only


def autograding() -> bool:
    """True while nbgrader runs the notebook: autograde and validate set $NBGRADER_EXECUTION."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def report(chapter: str, result) -> None:
    """Publish one check's verdict for the grader; outside a guarded check, do nothing."""
    if _nonce is not None:
        _publish({"kind": "verdict", "nonce": _nonce, "chapter": chapter, "question": result.question,
                  "status": result.status, "message": result.message})


def _publish(record: dict) -> None:
    from IPython.display import publish_display_data

    publish_display_data({MIME: record})


def records(outputs: list) -> list[dict]:
    """The channel's records among one cell's outputs (each a dict), in order."""
    return [output["data"][MIME] for output in outputs
            if output.get("output_type") == "display_data" and isinstance(output.get("data", {}).get(MIME), dict)]


def _constant(value):
    if isinstance(value, types.CodeType):
        return _code_parts(value)
    if isinstance(value, frozenset):  # its order follows string hashing, which differs between processes
        return ("frozenset", sorted((_constant(item) for item in value), key=repr))
    if isinstance(value, tuple):
        return tuple(_constant(item) for item in value)
    return repr(value)


def _code_parts(code: types.CodeType) -> tuple:
    return (code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_argcount,
            code.co_kwonlyargcount, tuple(_constant(value) for value in code.co_consts))


def _fingerprint_code(code: types.CodeType) -> str:
    return hashlib.sha256(repr(_code_parts(code)).encode()).hexdigest()[:16]


def _qualname(code: types.CodeType) -> str:
    return getattr(code, "co_qualname", code.co_name)  # co_qualname since Python 3.11


def fingerprint(obj) -> str:
    """A short hash of a function's code (bytecode, constants, names): the same in every process."""
    code = getattr(getattr(obj, "__func__", obj), "__code__", None)
    if not isinstance(code, types.CodeType):
        return f"not a function: {type(obj).__name__}"
    return _fingerprint_code(code)


def where_defined(obj) -> str:
    """``module:qualified name`` of a function's code, the key ``source_fingerprints`` uses."""
    function = getattr(obj, "__func__", obj)
    code = getattr(function, "__code__", None)
    if not isinstance(code, types.CodeType):
        return f"not a function: {type(obj).__name__}"
    return f"{getattr(function, '__module__', '?')}:{_qualname(code)}"


def source_fingerprints(sources: dict[str, str]) -> dict[str, list[str]]:
    """Every function in the given modules' source text, compiled but never run: ``module:qualified
    name`` → its fingerprints. The grader reads its checkers this way, so it imports no torch."""
    table: dict[str, list[str]] = {}
    for module, source in sources.items():
        stack = [compile(source, module, "exec")]
        while stack:
            code = stack.pop()
            stack += [value for value in code.co_consts if isinstance(value, types.CodeType)]
            if code.co_name != "<module>":
                table.setdefault(f"{module}:{_qualname(code)}", []).append(_fingerprint_code(code))
    return table


def resolve(label: str, namespace: dict):
    """The object a dotted label names: ``utils.…`` from the loaded modules, anything else from ``namespace``."""
    parts = label.split(".")
    found, rest = namespace.get(parts[0]), parts[1:]
    if parts[0] == "utils":
        cut = next((n for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in sys.modules), 0)
        found, rest = sys.modules.get(".".join(parts[:cut])), parts[cut:]
    for part in rest:  # getattr_static: a property or __getattr__ planted by student code does not run here
        found = inspect.getattr_static(found, part, None)
    return found


def tampered(job: dict, namespace: dict) -> list[str]:
    """What differs from the grader's copy: names the check cell uses, ``ex``, and each labelled function."""
    changed = [f"{name} redefined" for name in CELL_NAMES if name in namespace]
    module_name = f"utils.exercises.ch{job['chapter']}"
    if namespace.get(job["alias"]) is not sys.modules.get(module_name):
        changed.append(f"{job['alias']} is not {module_name}")
    for label in job["labels"]:
        found = resolve(label, namespace)
        if fingerprint(found) not in job["expected"].get(where_defined(found), ()):
            changed.append(f"{label} changed")
    return changed


def load_fresh(sources: dict[str, str]) -> dict[str, types.ModuleType]:
    """Load each module anew from its source text (dependencies first), under names no code has seen."""
    fresh: dict[str, types.ModuleType] = {}
    real_import = builtins.__import__

    def import_fresh(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 0 and fromlist and name in fresh:
            return fresh[name]
        return real_import(name, globals, locals, fromlist, level)

    scope = dict(vars(builtins), __import__=import_fresh)
    try:
        for name, source in sources.items():
            module = fresh[name] = types.ModuleType(f"course_grader_fresh.{name}")
            module.__dict__["__builtins__"] = scope
            sys.modules[module.__name__] = module  # dataclasses look their module up while the class is made
            exec(compile(source, f"<the grader's copy of {name}>", "exec"), module.__dict__)
    finally:
        for module in fresh.values():
            sys.modules.pop(module.__name__, None)
    return fresh


def guarded_check(job: dict, namespace: dict) -> None:
    """Run one check cell's check with the chapter's checkers loaded afresh; publish what was tampered with."""
    _publish({"kind": "integrity", "nonce": job["nonce"], "question": job["question"],
              "changed": tampered(job, namespace)})
    fresh = load_fresh(job["sources"])
    fresh["utils.exercises.verdicts"]._nonce = job["nonce"]
    scope = dict(namespace, **{job["alias"]: fresh[f"utils.exercises.ch{job['chapter']}"]})
    exec(compile(job["check"], "<check cell>", "exec"), scope)


if __name__ == "course_grader":  # executed by a check cell the grader wrote (utils/grading.py)
    guarded_check(globals().pop("JOB"), globals().pop("USER_NS"))
