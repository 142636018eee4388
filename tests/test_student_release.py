"""Every student notebook runs top to bottom, and no checker in it reports success."""
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from utils.grading import questions_of
from utils.release import release

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def student_copy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("student")
    release(folder)
    return folder


@pytest.mark.parametrize("name", [p.name for p in CHAPTERS])
def test_student_notebook_runs_and_nothing_passes(student_copy, monkeypatch, name):
    monkeypatch.setenv("COURSE_CHECKS", "report")  # the kernel inherits it: stubs must not stop the run
    path = student_copy / "chapters" / name
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
    verdicts = {question: mark for mark, question in re.findall(r"^([✓✗◌]) (q\d+) \(", printed, re.M)}
    questions = questions_of(name[:2])
    assert sorted(verdicts) == sorted(questions), f"checked {sorted(verdicts)}, the chapter has {questions}"
    assert all(mark in "✗◌" for mark in verdicts.values()), verdicts
