"""Checkers tested as mutation testing tests code: every catalogued wrong answer is rejected with the
message that names its mistake, in both languages, and no message gives the expected answer away."""
import importlib
import re

import pytest

from tests.exercise_testing import MODULES, all_questions, leaked_answers, report_only, verdict  # noqa: F401

CJK = re.compile(r"[\u4e00-\u9fff]")
MINIMUM = 6


def _catalogues():
    found = {}
    for name in MODULES:
        try:
            tests = importlib.import_module(f"tests.test_exercises_{name}")
        except ModuleNotFoundError:
            continue
        found[name[2:]] = getattr(tests, "CATALOGUE", {})
    return found


CATALOGUES = _catalogues()
QUESTIONS = {(q.chapter, q.name): q for q in all_questions()}
ENTRIES = [(chapter, question, index, answer, fragment)
           for chapter, catalogue in CATALOGUES.items()
           for question, entries in catalogue.items()
           for index, (answer, fragment) in enumerate(entries)]


@pytest.mark.parametrize("chapter, question", sorted(QUESTIONS), ids=[f"ch{c}-{q}" for c, q in sorted(QUESTIONS)])
def test_every_question_has_a_catalogue_of_distinct_mistakes(chapter, question):
    entries = CATALOGUES.get(chapter, {}).get(question, [])
    fragments = {fragment for _, fragment in entries}
    assert len(fragments) >= MINIMUM, (f"chapter {chapter} {question}: {len(fragments)} distinct catalogued mistakes "
                                       f"in tests/test_exercises_ch{chapter}.py, the course asks for {MINIMUM}")


@pytest.mark.parametrize("chapter, question, index, answer, fragment", ENTRIES,
                         ids=[f"ch{c}-{q}-{i}" for c, q, i, _, _ in ENTRIES])
def test_a_catalogued_mistake_is_rejected_with_its_own_message(monkeypatch, chapter, question, index, answer, fragment):
    monkeypatch.setenv("COURSE_LANG", "both")
    status, text = verdict(QUESTIONS[chapter, question], answer)
    assert status == "incorrect", f"accepted: {text}"
    assert fragment in text, text
    assert CJK.search(text.split("\n", 1)[-1]), f"no Chinese beside the English: {text}"
    leaks = [shown for shown in leaked_answers(QUESTIONS[chapter, question]) if shown in text]
    assert not leaks, f"the message gives the expected answer away ({leaks}): {text}"
