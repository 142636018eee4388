"""scripts/nb.py: only the setup cell is replaced, cell ids survive edits, `new` starts a whole chapter."""
import nbformat
import pytest

from scripts import nb
from scripts.notebook_format import SETUP_CELL, is_setup_marker
from tests.notebook_shape import problems


@pytest.fixture
def course(tmp_path, monkeypatch):
    """chapters/ and .nbsrc/ in a temporary folder."""
    monkeypatch.setattr(nb, "CHAPTERS", tmp_path / "chapters")
    monkeypatch.setattr(nb, "SOURCES", tmp_path / ".nbsrc")
    (tmp_path / "chapters").mkdir()
    return tmp_path


def write_source(folder, name, cells):
    """A py:percent source from (kind, text) pairs."""
    def commented(body):
        return "\n".join("# " + line for line in body.splitlines())

    text = "".join(f"# %% [markdown]\n{commented(body)}\n\n" if kind == "md" else f"# %%\n{body}\n\n"
                   for kind, body in cells)
    path = folder / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("source, marker", [
    ("# Setup", True), ("# Setup: finds the helpers\nimport sys", True), ("# Setup  ", True),
    ("# Setup the optimizer\nopt = 1", False), ("# Setups", False), ("x = 1\n# Setup", False), ("", False)])
def test_what_marks_the_setup_cell(source, marker):
    assert is_setup_marker(source) is marker


def test_only_the_setup_cell_is_replaced(course):
    source = write_source(course, "42_a", [("md", "# 42 · A"), ("code", "# Setup"), ("code", "x = 1"),
                                           ("code", "# Setup the optimizer\nopt = 2"), ("code", "# Setup")])
    code = [c.source for c in nbformat.read(nb.build(source), as_version=4).cells if c.cell_type == "code"]
    assert code == [SETUP_CELL, "x = 1", "# Setup the optimizer\nopt = 2", "# Setup"]


def test_a_source_without_a_setup_cell_is_refused_with_the_fix(course):
    source = write_source(course, "42_a", [("md", "# 42 · A"), ("code", "# Setup the optimizer\nopt = 2")])
    with pytest.raises(nb.NotebookError, match=r"42_a.ipynb: the first code cell must be the setup cell, marked by "
                                               r"the line '# Setup'; it begins '# Setup the optimizer'"):
        nb.build(source)
    assert not (course / "chapters" / "42_a.ipynb").exists()


def test_cell_ids_survive_edits_around_them(course):
    cells = [("md", "# 42 · A"), ("code", "# Setup"), ("code", "x = 1"), ("md", "Why."), ("code", "y = 2"),
             ("code", "z = 3")]
    target = nb.build(write_source(course, "42_a", cells))
    before = {c.source: c.id for c in nbformat.read(target, as_version=4).cells}
    assert len(set(before.values())) == len(cells)

    edited = [("md", "A new first cell."), *cells[:2], ("code", "x = 10"), ("code", "brand_new = 0"), cells[3], cells[5]]
    after = nbformat.read(nb.build(write_source(course, "42_a", edited)), as_version=4).cells
    ids = {c.source: c.id for c in after}
    for unchanged in ("# 42 · A", SETUP_CELL, "Why.", "z = 3"):
        assert ids[unchanged] == before[unchanged], unchanged
    assert ids["x = 10"] == before["x = 1"]  # edited in place
    fresh = {ids["A new first cell."], ids["brand_new = 0"]}
    assert len(fresh) == 2 and not fresh & set(before.values())
    assert len({c.id for c in after}) == len(after)


def test_a_round_trip_through_the_source_changes_nothing(course):
    target = nb.build(write_source(course, "42_a", [("md", "# 42 · A"), ("code", "# Setup"), ("code", "x = 1")]))
    first = target.read_text(encoding="utf-8")
    assert nb.build(nb.to_source(target)) == target
    assert target.read_text(encoding="utf-8") == first


def test_new_starts_a_chapter_whose_only_problems_are_its_todos(course):
    source, notebook = nb.new_chapter("42_graph_nets")
    assert source == course / ".nbsrc" / "42_graph_nets.py" and notebook == course / "chapters" / "42_graph_nets.ipynb"
    found = problems(nbformat.read(notebook, as_version=4), notebook.name)
    assert len(found) == 1 and "TODO(s) left from `nb.py new`" in found[0], found


def test_new_refuses_a_taken_number_and_a_bad_name(course):
    nb.new_chapter("42_graph_nets")
    with pytest.raises(nb.NotebookError, match=r"chapter 42 exists already: chapters/42_graph_nets.ipynb"):
        nb.new_chapter("42_other")
    with pytest.raises(nb.NotebookError, match=r"'8_Convolution' is not a chapter name: expected NN_slug"):
        nb.new_chapter("8_Convolution")


def test_the_command_line_says_what_went_wrong(course, capsys):
    assert nb.main(["new", "8_conv"]) == 1
    assert "nb.py new: '8_conv' is not a chapter name" in capsys.readouterr().err
    assert nb.main(["frobnicate"]) == 2
