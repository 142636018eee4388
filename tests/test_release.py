"""The student release: stubs in place of solutions, refusals, nbgrader equivalence."""
import time
from pathlib import Path

import nbformat
import pytest

from utils import REPO
from utils.release import MarkerError, release, strip_solutions, student_notebook

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))


def test_a_solution_region_becomes_the_indented_nbgrader_stub():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n\nex.q1.check(f)"
    assert strip_solutions(source) == ("def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
                                       "\nex.q1.check(f)")


@pytest.mark.parametrize("source, problem", [
    ("### BEGIN SOLUTION\nx = 1", "without an END"),
    ("### END SOLUTION", "without a BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION", "nested"),
])
def test_unbalanced_or_nested_markers_are_refused(source, problem):
    with pytest.raises(MarkerError, match=problem):
        strip_solutions(source)


def test_instructor_only_cells_and_outputs_are_dropped():
    note = nbformat.v4.new_markdown_cell("Answers for the tutor", metadata={"tags": ["instructor-only"]})
    code = nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1")], execution_count=3)
    student = student_notebook(nbformat.v4.new_notebook(cells=[note, code]))
    assert [c.source for c in student.cells] == ["print(1)"]
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None


def _fake_course(tmp_path, source):
    (tmp_path / "chapters").mkdir(parents=True)
    (tmp_path / "utils").mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbformat.write(notebook, tmp_path / "chapters" / "00_a.ipynb")
    return tmp_path


def test_a_broken_notebook_stops_the_whole_release(tmp_path):
    course = _fake_course(tmp_path / "course", "def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    with pytest.raises(MarkerError, match=r"00_a.ipynb: code cell 1: ### BEGIN SOLUTION without an END"):
        release(tmp_path / "out", source=course)
    assert not (tmp_path / "out").exists()


def test_the_course_releases_quickly_and_completely(tmp_path):
    start = time.perf_counter()
    written = release(tmp_path / "student", repo="my-school/dl-2026")
    seconds = time.perf_counter() - start
    assert seconds < 10, f"the release took {seconds:.1f} s"
    assert [p.name for p in written] == [p.name for p in CHAPTERS]
    for name in ("README.md", "pyproject.toml", "utils/__init__.py", "utils/exercises/__init__.py"):
        assert (tmp_path / "student" / name).exists(), name
    assert "my-school/dl-2026" in (tmp_path / "student" / "utils" / "__init__.py").read_text()
    for path in written:
        notebook = nbformat.read(path, as_version=4)
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
        assert "BEGIN SOLUTION" not in code and code.count("raise NotImplementedError()") >= 3, path.name
        assert REPO not in markdown + code and "my-school/dl-2026" in markdown, path.name


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_nbgrader_clears_the_same_regions(path):
    from nbgrader.preprocessors import ClearSolutions

    instructor = nbformat.read(path, as_version=4)
    ours = student_notebook(instructor)
    theirs, _ = ClearSolutions(enforce_metadata=True).preprocess(nbformat.read(path, as_version=4), {})
    code = lambda nb: [c.source for c in nb.cells if c.cell_type == "code"]  # noqa: E731
    assert code(ours) == code(theirs)
