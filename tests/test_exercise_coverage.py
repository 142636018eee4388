"""Every chapter's questions are tested (right, wrong, empty) and asked in the notebook."""
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
