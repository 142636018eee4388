"""The shape every chapter notebook must have (../shared/COURSE.md, "A notebook, top to bottom").

``problems(notebook, filename)`` lists what a notebook lacks; the structure test asserts the
list is empty for every chapter, and that a broken notebook is caught.
"""
from __future__ import annotations

import re

from scripts.notebook_format import SETUP_CELL
from utils import REPO
from utils.release import marker_problems  # noqa: F401  (re-exported for the structure test)

TITLE = re.compile(r"^# (\d{2}) · \S")
CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_CELL_LINES = 20


def badge_url(filename: str) -> str:
    return f"https://colab.research.google.com/github/{REPO}/blob/main/chapters/{filename}"


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _headings(markdown: str, pattern: str) -> bool:
    return bool(re.search(rf"^#+ .*{pattern}", markdown, re.I | re.M))


def problems(notebook: dict, filename: str) -> list[str]:
    """Everything ``notebook`` (parsed JSON) lacks of the course's notebook shape."""
    cells = notebook.get("cells", [])
    markdown_cells = [_source(c) for c in cells if c.get("cell_type") == "markdown"]
    code_cells = [_source(c) for c in cells if c.get("cell_type") == "code"]
    markdown, code = "\n".join(markdown_cells), "\n".join(code_cells)
    found = []

    kernel = notebook.get("metadata", {}).get("kernelspec", {}).get("name")
    if kernel != "python3":
        found.append(f"kernel name is {kernel!r}, expected 'python3'")
    stored = sum(1 for c in cells if c.get("cell_type") == "code" and (c.get("outputs") or c.get("execution_count")))
    if stored:
        found.append(f"{stored} code cells have stored outputs: clear them (python scripts/nb.py clean)")

    title = TITLE.match(markdown_cells[0]) if markdown_cells and cells[0].get("cell_type") == "markdown" else None
    if not title:
        found.append("the first cell must be the title, '# NN · Title'")
    elif title.group(1) != filename[:2]:
        found.append(f"title number {title.group(1)} differs from the file name {filename}")
    if badge_url(filename) not in markdown:
        found.append(f"no Open-in-Colab badge linking to {badge_url(filename)}")
    for label, pattern in [("learning objectives", "objectives"), ("prerequisites", "prerequisites"),
                           ("summary", "summary"), ("key terms", "key terms"),
                           ("further reading", "further reading"), ("exercises", "exercises")]:
        if not _headings(markdown, pattern):
            found.append(f"no '{label}' heading")
    if not re.search(r"run time", markdown, re.I) or not all(w in markdown for w in ("quick", "CPU", "full", "GPU")):
        found.append("no expected run time for quick (CPU) and full (GPU)")
    after_key_terms = re.split(r"^#+ .*key terms.*$", markdown, flags=re.I | re.M)
    if len(after_key_terms) > 1 and not CJK.search(after_key_terms[1]):
        found.append("the key terms carry no Chinese names")

    if not code_cells or code_cells[0] != SETUP_CELL:
        found.append("the first code cell must be the course's setup cell (python scripts/nb.py sync)")
    todos = sum(source.count("TODO") for source in markdown_cells + code_cells)
    if todos:
        found.append(f"{todos} TODO(s) left from `nb.py new`: write those parts")
    found += marker_problems(code_cells)
    for number, source in enumerate(markdown_cells, 1):
        if "BEGIN SOLUTION" in source or "END SOLUTION" in source:
            found.append(f"markdown cell {number} spells out a solution marker: nbgrader would take that line "
                         "for a solution region. Write 'the solution markers' instead")
    if code.count("### BEGIN SOLUTION") < 3:
        found.append(f"{code.count('### BEGIN SOLUTION')} exercises with solution markers, need at least 3")
    if len(re.findall(r"\.check\(", code)) < 3:
        found.append("fewer than 3 exercise check() calls")
    if "expect(" not in code.replace(SETUP_CELL, ""):
        found.append("no experiment states its expected result with expect()")
    for number, source in enumerate(code_cells, 1):
        lines = [line for line in source.splitlines() if line.strip()]
        if number > 1 and len(lines) > MAX_CELL_LINES:
            found.append(f"code cell {number} has {len(lines)} lines (at most {MAX_CELL_LINES}): split it")
    return found
