"""Edit the course notebooks as scripts, never by hand.

    python scripts/nb.py build SRC.py [...]   jupytext py:percent source -> chapters/<name>.ipynb
    python scripts/nb.py source NOTEBOOK [...] chapters/<name>.ipynb -> .nbsrc/<name>.py to edit
    python scripts/nb.py sync                  put the canonical setup cell into every notebook
    python scripts/nb.py clean                 strip outputs and execution counts from every notebook

Every notebook leaves here with kernel ``python3``, no outputs, and the setup cell from
tests/notebook_shape.py as its first code cell (a source marks its place with a code cell
that starts with ``# Setup``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.notebook_shape import SETUP_CELL  # noqa: E402
from utils.release import answer_metadata, check_metadata, exercise_cells  # noqa: E402

CHAPTERS = ROOT / "chapters"
SOURCES = ROOT / ".nbsrc"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def normalise(notebook) -> None:
    """Kernel python3, outputs cleared, a "# Setup" cell replaced by the canonical one."""
    notebook.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.startswith("# Setup"):
            cell.source = SETUP_CELL


def build(source: Path) -> Path:
    notebook = jupytext.read(source, fmt="py:percent")
    target = CHAPTERS / (source.stem + ".ipynb")
    _save(notebook, target)
    return target


def _save(notebook, target: Path) -> None:
    normalise(notebook)
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
    for index, cell in enumerate(fresh.cells):
        cell.id = f"{target.stem[:2]}-{index:03d}"
    nbformat.write(fresh, target)


def to_source(notebook_path: Path) -> Path:
    SOURCES.mkdir(exist_ok=True)
    target = SOURCES / (notebook_path.stem + ".py")
    jupytext.write(nbformat.read(notebook_path, as_version=4), target, fmt="py:percent")
    return target


def all_notebooks() -> list[Path]:
    return sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("build", "source", "sync", "clean"):
        print(__doc__)
        return 2
    command, paths = argv[0], [Path(p) for p in argv[1:]]
    if command == "build":
        for path in paths:
            print("wrote", build(path).relative_to(ROOT))
    elif command == "source":
        for path in paths:
            print("wrote", to_source(path).relative_to(ROOT))
    else:  # sync and clean both rewrite every notebook in normal form
        for path in all_notebooks():
            notebook = nbformat.read(path, as_version=4)
            if command == "sync":
                for cell in notebook.cells:
                    if cell.cell_type == "code":
                        cell.source = SETUP_CELL
                        break
            _save(notebook, path)
            print("normalised", path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
