"""Edit the course notebooks as scripts, never by hand.

    python scripts/nb.py new NN_slug           start chapter NN: .nbsrc/NN_slug.py and chapters/NN_slug.ipynb
                                               with every part of the shape, each marked TODO
    python scripts/nb.py build SRC.py [...]   jupytext py:percent source -> chapters/<name>.ipynb
    python scripts/nb.py source NOTEBOOK [...] chapters/<name>.ipynb -> .nbsrc/<name>.py to edit
    python scripts/nb.py sync                  put the canonical setup cell into every notebook
    python scripts/nb.py clean                 strip outputs and execution counts from every notebook

Every notebook leaves here with kernel ``python3``, no outputs, and the setup cell from
scripts/notebook_format.py as its first code cell: in a source, the first code cell marks its place
with the line ``# Setup`` (or ``# Setup: ...``); no other cell is touched. A cell keeps its id
from one save to the next, also when cells are added, removed or edited around it.
"""
from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.notebook_format import SETUP_CELL, chapter_source, is_setup_marker  # noqa: E402
from utils.release import answer_metadata, check_metadata, exercise_cells  # noqa: E402

CHAPTERS = ROOT / "chapters"
SOURCES = ROOT / ".nbsrc"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CHAPTER_NAME = re.compile(r"(\d{2})_([a-z0-9]+(?:_[a-z0-9]+)*)")


class NotebookError(ValueError):
    """A notebook or source the tools cannot save as it is; the message says what to change."""


def normalise(notebook, name: str) -> None:
    """Kernel python3, and the first code cell, marked ``# Setup``, replaced by the canonical one."""
    notebook.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or not is_setup_marker(code[0].source):
        first = code[0].source.split("\n", 1)[0] if code else "(no code cell)"
        raise NotebookError(f"{name}: the first code cell must be the setup cell, marked by the line "
                            f"'# Setup'; it begins {first!r}. Put a code cell with '# Setup' before it.")
    code[0].source = SETUP_CELL


def build(source: Path) -> Path:
    notebook = jupytext.read(source, fmt="py:percent")
    target = CHAPTERS / (source.stem + ".ipynb")
    _save(notebook, target)
    return target


def _save(notebook, target: Path) -> None:
    normalise(notebook, target.name)
    fresh = nbformat.v4.new_notebook(metadata=notebook.metadata)
    for cell in notebook.cells:
        maker = nbformat.v4.new_code_cell if cell.cell_type == "code" else nbformat.v4.new_markdown_cell
        new = maker(cell.source)
        if cell.metadata.get("tags"):
            new.metadata["tags"] = list(cell.metadata["tags"])
        fresh.cells.append(new)
    # nbgrader's metadata: answers are solution cells, checks locked autograded test cells (1 point each)
    for question, exercise in exercise_cells(fresh.cells).items():
        if exercise.answer is not None:
            fresh.cells[exercise.answer].metadata["nbgrader"] = answer_metadata(question)
        fresh.cells[exercise.check].metadata["nbgrader"] = check_metadata(question)
    previous = nbformat.read(target, as_version=4).cells if target.exists() else []
    for cell, cell_id in zip(fresh.cells, carry_ids(fresh.cells, previous, prefix=target.stem[:2])):
        cell.id = cell_id
    nbformat.write(fresh, target)


def carry_ids(cells, previous, *, prefix: str) -> list[str]:
    """Ids for ``cells``: each keeps the id of the cell it was in ``previous``, new ones get fresh ids.

    A cell is the same cell when its type and source are unchanged, or when it was edited in
    place (it sits where an old cell of its type was, between two unchanged cells). Fresh ids
    continue the notebook's numbering, ``<prefix>-<n>``, past every id in use.
    """
    def key(cell):
        return cell.cell_type, cell.source

    ids: list[str | None] = [None] * len(cells)
    matcher = difflib.SequenceMatcher(a=[key(c) for c in previous], b=[key(c) for c in cells], autojunk=False)
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            for old, new in zip(range(old_start, old_end), range(new_start, new_end)):
                ids[new] = previous[old].id
        elif tag == "replace":  # edited cells pair up in order, by type; the rest are new or gone
            unpaired = list(range(old_start, old_end))
            for new in range(new_start, new_end):
                same_type = [old for old in unpaired if previous[old].cell_type == cells[new].cell_type]
                if same_type:
                    ids[new] = previous[same_type[0]].id
                    unpaired = unpaired[unpaired.index(same_type[0]) + 1:]
    numbers = [int(match.group(1)) for cell_id in ids + [c.id for c in previous]
               if cell_id and (match := re.fullmatch(rf"{re.escape(prefix)}-(\d+)", cell_id))]
    next_number = max(numbers, default=-1) + 1
    for index, cell_id in enumerate(ids):
        if cell_id is None:
            ids[index] = f"{prefix}-{next_number:03d}"
            next_number += 1
    return ids


def to_source(notebook_path: Path) -> Path:
    SOURCES.mkdir(exist_ok=True)
    target = SOURCES / (notebook_path.stem + ".py")
    jupytext.write(nbformat.read(notebook_path, as_version=4), target, fmt="py:percent")
    return target


def new_chapter(name: str) -> list[Path]:
    """Start chapter ``NN_slug``: its source with the full shape, and the notebook built from it."""
    match = CHAPTER_NAME.fullmatch(name)
    if not match:
        raise NotebookError(f"{name!r} is not a chapter name: expected NN_slug, two digits and lower-case "
                            "words joined by _, e.g. 08_convolution")
    number = match.group(1)
    taken = sorted(CHAPTERS.glob(f"{number}_*.ipynb")) + sorted(SOURCES.glob(f"{number}_*.py"))
    if taken:
        raise NotebookError(f"chapter {number} exists already: {taken[0].parent.name}/{taken[0].name}. "
                            "Choose the next free number, or edit that chapter.")
    SOURCES.mkdir(exist_ok=True)
    source = SOURCES / f"{name}.py"
    source.write_text(chapter_source(number, match.group(2)), encoding="utf-8")
    return [source, build(source)]


def all_notebooks() -> list[Path]:
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("new", "build", "source", "sync", "clean"):
        print(__doc__)
        return 2
    command, paths = argv[0], [Path(p) for p in argv[1:]]
    try:
        if command == "new":
            if len(argv) != 2:
                raise NotebookError("usage: python scripts/nb.py new NN_slug, e.g. 08_convolution")
            numbers = [int(p.name[:2]) for p in all_notebooks()]
            for path in new_chapter(argv[1]):
                print("wrote", path.relative_to(ROOT))
            if int(argv[1][:2]) != len(numbers):
                print(f"note: chapters are numbered densely and the next free number is {len(numbers):02d}; "
                      "the structure test fails on a gap")
            print(f"Next: write the TODOs in .nbsrc/{argv[1]}.py, its questions in utils/exercises/ch{argv[1][:2]}.py "
                  f"and their tests in tests/test_exercises_ch{argv[1][:2]}.py, then build again.")
        elif command == "build":
            for path in paths:
                print("wrote", build(path).relative_to(ROOT))
        elif command == "source":
            for path in paths:
                print("wrote", to_source(path).relative_to(ROOT))
        else:  # sync and clean both rewrite every notebook in normal form, sync with the current setup cell
            for path in all_notebooks():
                _save(nbformat.read(path, as_version=4), path)
                print("normalised", path.relative_to(ROOT))
    except NotebookError as error:
        print(f"nb.py {command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
