"""The course's notebook format, shared by the tools (nb.py, glossary.py) and the tests.

- ``SETUP_CELL``: the first code cell of every chapter, word for word. ``scripts/nb.py`` writes it
  in; the structure test holds every chapter to it. It names the helpers' version the notebook
  was written for, installs exactly that version where the helpers are missing, refuses a
  foreign package called ``utils`` with its path, and warns when the helpers differ.
- ``is_setup_marker(source)``: whether a code cell marks the setup cell's place in a source.
- ``key_terms(notebook)``: the rows of a chapter's key-terms table.
- ``chapter_source(number, slug)``: a new chapter's source with the full shape (``nb.py new``).

Importing this module imports neither torch nor Jupyter.
"""
from __future__ import annotations

import re

import utils

SETUP_TEMPLATE = '''\
# Setup: locally this only finds the course helpers; on Colab, Kaggle or Tianchi it installs
# them first, keeping the platform's own torch. Chapter 00 explains what setup() prints.
import importlib, importlib.util, subprocess, sys
from pathlib import Path
HELPERS = "{version}"  # the version of the course helpers (utils) this notebook was written for
if Path("../utils/env.py").exists():
    sys.path.insert(0, str(Path("..").resolve()))
if importlib.util.find_spec("utils") is None:
    url = f"git+https://github.com/{repo}@v{{HELPERS}}"
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", url]).returncode:
        raise RuntimeError(f"Could not install the course helpers from {{url}}. Check the internet "
                           "connection, or upload the course's utils/ folder next to this notebook.")
    importlib.invalidate_caches()
import utils
if not hasattr(utils, "check_helpers_version"):
    raise ImportError(f"The `utils` found at {{getattr(utils, '__file__', None) or list(utils.__path__)}} "
                      "is not the course's helpers but another package of that name. Rename that file or "
                      "folder (or pip uninstall that package), then restart the kernel and run this cell again.")
utils.check_helpers_version(HELPERS)
from utils import setup, expect
env = setup()'''

#: The first code cell of every notebook, word for word.
SETUP_CELL = SETUP_TEMPLATE.format(version=utils.__version__, repo=utils.REPO)

#: The first line of a source's setup cell: "# Setup" alone, or "# Setup:" and a comment.
SETUP_MARKER = re.compile(r"# Setup(:.*)?$")


def is_setup_marker(source: str) -> bool:
    """Whether a code cell's source marks the setup cell: its first line is ``# Setup`` or ``# Setup: ...``.

    "# Setup the optimizer" is an ordinary comment, not a marker.
    """
    return bool(SETUP_MARKER.fullmatch(source.split("\n", 1)[0].rstrip()))


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def key_terms(notebook: dict) -> list[tuple[str, str, str]]:
    """The (English, 中文, meaning) rows of the notebook's key-terms table."""
    markdown = "\n".join(_source(c) for c in notebook.get("cells", []) if c.get("cell_type") == "markdown")
    parts = re.split(r"^#+ .*key terms.*$", markdown, flags=re.I | re.M)
    if len(parts) < 2:
        return []
    rows = []
    for line in re.split(r"^#+ ", parts[1], flags=re.M)[0].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and line.strip().startswith("|") and not set(cells[0]) <= set("-: ") \
                and cells[0].lower() != "english":
            rows.append((cells[0], cells[1], cells[2]))
    return rows


CHAPTER_TEMPLATE = '''\
# %% [markdown]
# # {number} · {title}
#
# TODO: one paragraph on why this matters: what problem, and what the learner can do after.
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/{repo}/blob/main/chapters/{name}.ipynb)

# %% [markdown]
# ## Learning objectives
# After this chapter you can
# - TODO: three to six things the learner can do, each with a verb.
#
# ## Prerequisites
# TODO: the chapters and skills this one builds on.
#
# **Expected run time:** TODO: measure with `make bench`: about N s in the quick profile on a laptop CPU;
# about N min in the full profile on a GPU.

# %%
# Setup

# %%
import torch

from utils.exercises import ch{number} as ex

# %% [markdown]
# ## 1 · TODO: the first idea
# TODO: why (2–6 sentences, maths where it helps): what problem, what intuition. Give each key term
# once with its Chinese name, e.g. *receptive field (感受野)*.

# %%
# TODO: from scratch, in plain tensors.

# %%
# TODO: the PyTorch way, and a sentence printed to show both agree (torch.testing.assert_close).

# %%
# TODO: the experiment, seeded, with a plot (title, axis labels with units, a legend), and the
# result it must show:
expect(float("nan"), between=(0, 1), what="TODO: the experiment's result")

# %% [markdown]
# TODO: what the plot shows, with the numbers the expect() above holds true.

# %% [markdown]
# ## Exercises
# Each answer is a function; write its body between the solution markers, run the cell, then run
# the check below it. `ex.q1.hint()` points the way; `ex.q1.solution()` shows one answer.
#
# **q1.** TODO: the task (define the questions in utils/exercises/ch{number}.py).

# %%
def answer_one():
    ### BEGIN SOLUTION
    raise NotImplementedError("TODO: the reference answer")
    ### END SOLUTION

# %%
ex.q1.check(answer_one)

# %% [markdown]
# **q2.** TODO: the task.

# %%
def answer_two():
    ### BEGIN SOLUTION
    raise NotImplementedError("TODO: the reference answer")
    ### END SOLUTION

# %%
ex.q2.check(answer_two)

# %% [markdown]
# **q3.** TODO: the task.

# %%
def answer_three():
    ### BEGIN SOLUTION
    raise NotImplementedError("TODO: the reference answer")
    ### END SOLUTION

# %%
ex.q3.check(answer_three)

# %% [markdown]
# ## Summary
# - TODO: what the chapter showed, one line per idea.
#
# ## Key terms
# | English | 中文 | meaning |
# |---|---|---|
# | TODO term | TODO 术语 | TODO: one line |
#
# ## Further reading
# - TODO: the paper or documentation each section builds on.
'''


def chapter_source(number: str, slug: str) -> str:
    """A new chapter's py:percent source with every part of the shape, each marked TODO."""
    title = slug.replace("_", " ").capitalize()
    return CHAPTER_TEMPLATE.format(number=number, title=title, name=f"{number}_{slug}", repo=utils.REPO)
