"""What the grader flags in a student's answer cell for the instructor's review, without running it.

Used by the grader (``python -m utils.grading``, docs/INSTRUCTORS.md), by no chapter. Student code runs
in the same process as the checker, so some tampering can only be seen, not stopped: this scan reads
each answer cell (in the grader's own process, outside the kernel) and names, in one short phrase
each, what an answer has no need for: reaching into the interpreter (``builtins``, ``sys``, ``gc``,
``ctypes``, ``inspect``, ``importlib``, ``exec``/``eval``, ``globals()``, dunder attributes),
changing objects the cell did not create (``ex.q1.check = ...``, ``torch.allclose = ...``), writing
files (except into a folder the answer's function was given), the environment, the course's checking machinery (``utils.exercises``, ``expect``,
``require``, ``Question``...), and the notebook's input history. The course's reference answers
raise none of these (tests/test_grading.py).
"""
from __future__ import annotations

import ast
import re

RISKY_MODULES = {"builtins", "gc", "ctypes", "inspect", "importlib", "sys", "types", "unittest", "mock",
                 "IPython", "marshal", "pickle", "threading", "multiprocessing", "atexit", "signal",
                 "subprocess", "shutil", "socket"}
COURSE_MODULES = ("utils.exercises", "utils.grading", "utils.expect", "utils.release", "utils.submission",
                  "utils.answer_scan")
RISKY_NAMES = {"exec", "eval", "compile", "__import__", "globals", "vars", "setattr", "delattr", "getattr",
               "get_ipython", "display", "publish_display_data", "breakpoint", "__builtins__"}
COURSE_NAMES = {"expect", "Question", "require", "ExerciseFailed", "_reference", "_checker"}
HISTORY = re.compile(r"_i+|_i\d+|_ih|_oh|_dh|In|Out|_\d+")
BENIGN_DUNDERS = {"__init__", "__len__", "__getitem__", "__iter__", "__next__", "__call__", "__repr__",
                  "__str__", "__name__", "__doc__"}
WRITERS = {"write_text", "write_bytes", "touch", "unlink", "rmdir", "rmtree", "rename", "mkdir", "savez",
           "savetxt", "save"}
CHANNEL = "deep-learning-course"  # the grader's verdict MIME type, utils/exercises/verdicts.py
ALLOWED_ON_QUESTIONS = {"check", "hint", "solution"}
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def parse(source: str) -> ast.Module | None:
    """The cell as Python (IPython's magics and ``!`` commands turned into calls); None if it does not parse."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return None


def scan(source: str, *, alias: str = "ex") -> list[str]:
    """Why an answer cell needs a human look, one short phrase each (empty when nothing stands out)."""
    tree = parse(source)
    if tree is None:
        return []
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    found = []
    for node in ast.walk(tree):
        found += _flags(node, alias, parents)
    found += _changes_from_outside(tree, parents)
    return list(dict.fromkeys(found))


def _risky_import(name: str) -> bool:
    return name.split(".")[0] in RISKY_MODULES or name.startswith(COURSE_MODULES) or name == "os.environ"


def _imports(node) -> list[str]:
    """``import a.b`` -> a.b; ``from a import b`` -> a when a is risky itself, else each a.b that is."""
    if isinstance(node, ast.Import):
        return [name.name for name in node.names if _risky_import(name.name)]
    module = node.module or ""
    if _risky_import(module):
        return [module]
    return [f"{module}.{name.name}" for name in node.names if _risky_import(f"{module}.{name.name}")]


def _flags(node, alias: str, parents: dict) -> list[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [f"imports {name}" for name in _imports(node)]
    if isinstance(node, ast.Name):
        return _name_flags(node, alias, parents)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or getattr(node, "asname", None):
        bound = node.asname if isinstance(node, ast.alias) else node.name  # import ... as NAME, def NAME
        return [f"redefines {bound}"] if bound in RISKY_NAMES | COURSE_NAMES | {alias} else []
    if isinstance(node, ast.Attribute):
        return _attribute_flags(node)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [f"mentions {word} in a string" for word in (*COURSE_MODULES, *COURSE_NAMES, CHANNEL)
                if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", node.value)]
    if isinstance(node, ast.Call):
        return ["writes a file"] if _writes(node) and not _into_a_folder_it_was_given(node, parents) else []
    return []


def _name_flags(node: ast.Name, alias: str, parents: dict) -> list[str]:
    name, storing = node.id, not isinstance(node.ctx, ast.Load)
    if name == alias:
        return [f"rebinds {alias}"] if storing else _alias_use(node, parents)
    if name in RISKY_NAMES or name in RISKY_MODULES:
        return [f"redefines {name}" if storing else f"uses {name}"]
    if name in COURSE_NAMES:
        return [f"mentions {name}"]
    if HISTORY.fullmatch(name) and not storing:
        return [f"reads the notebook's history ({name})"]
    if name.startswith("__") and name.endswith("__") and name not in BENIGN_DUNDERS:
        return [f"uses {name}"]
    return []


def _alias_use(node: ast.Name, parents: dict) -> list[str]:
    """``ex.qN.check(...)``, ``.hint()`` and ``.solution()`` are fine in an answer cell; anything else is not."""
    question, method = parents.get(node), None
    if isinstance(question, ast.Attribute) and re.fullmatch(r"q\d+", question.attr):
        method = parents.get(question)
    if isinstance(method, ast.Attribute) and method.attr in ALLOWED_ON_QUESTIONS \
            and isinstance(parents.get(method), ast.Call) and parents[method].func is method:
        return []
    top = node
    while isinstance(parents.get(top), ast.Attribute):
        top = parents[top]
    return [f"uses {ast.unparse(top)}"]


def _attribute_flags(node: ast.Attribute) -> list[str]:
    attr = node.attr
    if attr.startswith("__") and attr.endswith("__") and attr not in BENIGN_DUNDERS:
        return [f"uses .{attr}"]
    if attr in COURSE_NAMES:
        return [f"mentions {attr}"]
    if isinstance(node.value, ast.Name) and node.value.id == "os" and attr != "path":
        return [f"uses os.{attr}"]
    return []


def _into_a_folder_it_was_given(call: ast.Call, parents: dict) -> bool:
    """``torch.save(state, Path(folder) / name)`` inside ``def f(..., folder)``: the exercise asked for the file.

    The path must start from one of the enclosing function's parameters and never climb out of it (no
    ``..``, no absolute part); anything else that writes is flagged.
    """
    function = parents.get(call)
    while function is not None and not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
        function = parents.get(function)
    if function is None or not isinstance(call.func, ast.Attribute) or call.func.attr != "save" \
            or len(call.args) < 2:
        return False
    given = {arg.arg for arg in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)}
    path = call.args[1]
    base = path
    while isinstance(base, ast.BinOp) and isinstance(base.op, ast.Div):
        base = base.left
    if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "Path" \
            and len(base.args) == 1:
        base = base.args[0]
    climbs = any(isinstance(node, ast.Constant) and isinstance(node.value, str)
                 and (".." in node.value or node.value.startswith(("/", "\\", "~")))
                 for node in ast.walk(path))
    return isinstance(base, ast.Name) and base.id in given and not climbs


def _writes(call: ast.Call) -> bool:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if name == "open":
        modes = [arg for arg in call.args[1:2] if isinstance(arg, ast.Constant)]
        modes += [kw.value for kw in call.keywords if kw.arg == "mode" and isinstance(kw.value, ast.Constant)]
        modes += [arg for arg in call.args[:1] if isinstance(func, ast.Attribute) and isinstance(arg, ast.Constant)]
        return any(isinstance(mode.value, str) and set(mode.value) & set("wax+") for mode in modes)
    return name in WRITERS


def _bound(scope) -> set[str]:
    """Names a scope binds itself (assignments, loops, defs, parameters), not counting imports."""
    names = set()
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        arguments = scope.args
        names |= {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
        names |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a}
    body = scope.body if isinstance(scope.body, list) else [scope.body]
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _targets(node) -> list:
    if isinstance(node, (ast.Assign, ast.Delete)):
        found = list(node.targets)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        found = [node.target]
    else:
        return []
    while any(isinstance(t, (ast.Tuple, ast.List)) for t in found):
        found = [e for t in found for e in (t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t])]
    return [t for t in found if isinstance(t, (ast.Attribute, ast.Subscript))]


def _changes_from_outside(tree: ast.Module, parents: dict) -> list[str]:
    """``x.attr = ...`` or ``x[key] = ...`` where the cell did not create ``x`` itself (an import does not count)."""
    found, bound = [], {tree: _bound(tree)}
    for node in ast.walk(tree):
        for target in _targets(node):
            root, scope, created = _root(target), parents.get(node), set(bound[tree])
            while scope is not None:
                if isinstance(scope, SCOPES):
                    created |= bound.setdefault(scope, _bound(scope))
                scope = parents.get(scope)
            if not (isinstance(root, ast.Name) and root.id in created):
                found.append(f"changes {ast.unparse(target)[:60]}")
    return found


def copied_from_solution(source: str, reference: str, *, min_nodes: int = 60) -> bool:
    """Whether the answer holds a definition whose code equals the reference's (what ``solution()`` prints).

    Names of the definition itself aside, the comparison is exact (the same variable names too), and
    only for references of at least ``min_nodes`` AST nodes: a one-line answer is what anyone would write.
    """
    wanted, answer = parse(reference), parse(source)
    if wanted is None or answer is None:
        return False
    definitions = [node for node in wanted.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    if len(definitions) != 1 or sum(1 for _ in ast.walk(definitions[0])) < min_nodes:
        return False
    target = _anonymous(definitions[0])
    return any(_anonymous(node) == target for node in answer.body if isinstance(node, type(definitions[0])))


def _anonymous(definition) -> str:
    return ast.dump(ast.Module(body=definition.body, type_ignores=[])) + ast.dump(getattr(definition, "args", ast.Pass()))
