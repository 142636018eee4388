"""Every chapter's questions are tested (right, wrong, empty) and asked in the notebook."""
import importlib
import re
from pathlib import Path

import pytest

from utils.grading import questions_of

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted((ROOT / "utils" / "exercises").glob("ch[0-9][0-9].py"))


@pytest.mark.parametrize("module", MODULES, ids=[m.stem for m in MODULES])
def test_each_question_has_tests_and_a_check_in_its_notebook(module):
    chapter = module.stem[2:]
    questions = questions_of(chapter)
    assert len(questions) >= 3, f"chapter {chapter} has {len(questions)} questions, the course asks for at least 3"
    tests = ROOT / "tests" / f"test_exercises_ch{chapter}.py"
    assert tests.exists(), f"{tests.name} is missing: test each question with a right, a wrong and an empty answer"
    text = tests.read_text(encoding="utf-8")
    untested = [q for q in questions if not re.search(rf"\b{q}\b", text)]
    assert not untested, f"{tests.name} never mentions {untested}"
    notebooks = list((ROOT / "chapters").glob(f"{chapter}_*.ipynb"))
    assert len(notebooks) == 1, f"expected one notebook for chapter {chapter}, found {notebooks}"
    source = notebooks[0].read_text(encoding="utf-8")
    unasked = [q for q in questions if f"ex.{q}.check(" not in source]
    assert not unasked, f"{notebooks[0].name} never calls check() for {unasked}"


@pytest.mark.parametrize("module", MODULES, ids=[m.stem for m in MODULES])
def test_every_message_is_bilingual(module):
    """Each require() carries zh=, each Question title_zh= and hint_zh= (COURSE_LANG picks)."""
    import ast

    tree = ast.parse(module.read_text(encoding="utf-8"))
    missing = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            keywords = {k.arg for k in node.keywords}
            if node.func.id in ("require", "Wrong") and "zh" not in keywords and len(node.args) < 3:
                missing.append(f"line {node.lineno}: {node.func.id}() without zh=")
            if node.func.id == "Question" and not {"title_zh", "hint_zh"} <= keywords:
                missing.append(f"line {node.lineno}: Question() without title_zh= and hint_zh=")
    assert not missing, f"{module.name}: " + "; ".join(missing[:10]) + (" …" if len(missing) > 10 else "")


from tests.exercise_testing import all_questions, report_only, stub, verdict  # noqa: E402,F401

QUESTIONS = all_questions()


@pytest.mark.parametrize("question", QUESTIONS, ids=[f"ch{q.chapter}-{q.name}" for q in QUESTIONS])
def test_reference_passes_and_a_stub_or_nothing_is_not_attempted(question):
    reference, is_class = question._reference, isinstance(question._reference, str)
    if is_class:  # the solution of a class exercise is shown as code: run it
        namespace = dict(vars(importlib.import_module(f"utils.exercises.ch{question.chapter}")))
        exec(reference, namespace)
        reference = namespace[re.search(r"^(?:class|def) (\w+)", reference, re.M).group(1)]
    assert question.check(reference).passed
    if not is_class:  # a class exercise's stub is a class; the student-release test runs that one
        assert verdict(question, stub)[0] == "not attempted"
    assert verdict(question, None)[0] == "not attempted"
