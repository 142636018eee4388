"""Every chapter has the notebook shape of COURSE.md; a broken notebook is caught."""
import copy
import json
from pathlib import Path

import nbformat
import pytest

from tests.notebook_shape import SETUP_CELL, badge_url, marker_problems, problems

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_has_the_course_shape(path):
    assert problems(json.loads(path.read_text(encoding="utf-8")), path.name) == []


def test_chapters_are_numbered_densely():
    numbers = [int(p.name[:2]) for p in CHAPTERS]
    assert numbers == list(range(len(numbers))), f"chapter numbers {numbers} have a gap"


def good_notebook() -> dict:
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    exercise = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"
    cells = [
        md(f"# 42 · A chapter\n\nWhy it matters.\n\n[![Open In Colab](badge.svg)]({badge_url('42_a.ipynb')})"),
        md("## Learning objectives\n- one\n\n## Prerequisites\nNone.\n\n"
           "**Expected run time:** 5 s in the quick profile on a CPU; 10 s in the full profile on a GPU."),
        code(SETUP_CELL),
        code("expect(1, between=(0, 2), what='one')"),
        md("## Exercises"),
        *[cell for _ in range(3) for cell in (code(exercise), code("ex.q1.check(f)"))],
        md("## Summary\nDone.\n\n## Key terms\n| English | Chinese | meaning |\n|---|---|---|\n"
           "| neuron | 神经元 | a unit |\n\n## Further reading\n- a book"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return json.loads(json.dumps(notebook))


def test_a_good_notebook_passes():
    assert problems(good_notebook(), "42_a.ipynb") == []


def _break(change):
    notebook = copy.deepcopy(good_notebook())
    change(notebook["cells"], notebook)
    return problems(notebook, "42_a.ipynb")


@pytest.mark.parametrize("change, expected", [
    (lambda c, nb: c[0].update(source="# A chapter"), "the first cell must be the title"),
    (lambda c, nb: c[0].update(source=c[0]["source"].replace("# 42", "# 41")), "title number 41 differs"),
    (lambda c, nb: c[0].update(source="# 42 · A chapter"), "no Open-in-Colab badge"),
    (lambda c, nb: c[1].update(source="**Expected run time:** 5 s"), "no 'learning objectives' heading"),
    (lambda c, nb: c[1].update(source="## Learning objectives\n## Prerequisites"), "no expected run time"),
    (lambda c, nb: c[2].update(source="import utils"), "must be the course's setup cell"),
    (lambda c, nb: c[3].update(outputs=[{"output_type": "stream", "name": "stdout", "text": "1"}]), "stored outputs"),
    (lambda c, nb: nb["metadata"]["kernelspec"].update(name="conda-env"), "kernel name is 'conda-env'"),
    (lambda c, nb: c[-1].update(source=c[-1]["source"].replace("神经元", "neuron")), "no Chinese names"),
    (lambda c, nb: c[-1].update(source="## Summary"), "no 'key terms' heading"),
    (lambda c, nb: c[3].update(source="x = 1"), "no experiment states its expected result"),
    (lambda c, nb: c[3].update(source="expect(1, between=(0, 2), what='x')\n" + "x = 1\n" * 25), "split it"),
    (lambda c, nb: [cell.update(source="pass") for cell in c[5:11:2]], "0 exercises with solution markers"),
    (lambda c, nb: c[4].update(source="## Exercises\nWrite between ### BEGIN SOLUTION and the end."), "spells out a solution marker"),
])
def test_a_broken_notebook_is_caught(change, expected):
    found = _break(change)
    assert any(expected in problem for problem in found), found


def test_unbalanced_or_nested_markers_are_caught():
    nested = "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION"
    assert "code cell 1: nested ### BEGIN SOLUTION" in marker_problems([nested])
    assert marker_problems(["### BEGIN SOLUTION\nx = 1"]) == ["code cell 1: ### BEGIN SOLUTION without an END"]
    assert marker_problems(["### END SOLUTION"]) == ["code cell 1: ### END SOLUTION without a BEGIN"]


def test_glossary_holds_every_key_term_with_one_chinese_name(capsys):
    from scripts.glossary import main

    assert main(["--check"]) == 0, capsys.readouterr().err


def test_another_books_name_for_a_term_is_found_in_a_checker_message():
    from scripts.glossary import stray_variants

    message = 'Mistake(f, "no bias correction", "没有做偏差校正")'
    assert stray_variants({"utils/exercises/ch06.py": message}) == [
        "utils/exercises/ch06.py:1: 偏差校正 (the course writes 偏差修正)"]
    assert stray_variants({"ch02 cell 3": "感知机 (also called 感知器)"}) == []


def test_key_terms_are_read_from_the_table():
    from scripts.notebook_format import key_terms

    notebook = good_notebook()
    assert key_terms(notebook) == [("neuron", "神经元", "a unit")]
