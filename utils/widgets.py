"""Interactive widgets that still teach when no one can move them.

Introduced in chapter 01. ``show()`` displays an ipywidgets control; where no browser front
end is attached (the tests, the benchmark, a static site build) it also draws a static figure,
so every run of the notebook leaves the picture the widget would have shown.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

from IPython.display import display


def has_frontend() -> bool:
    """Whether a browser front end (JupyterLab, Colab, Kaggle, VS Code) is attached.

    $COURSE_HEADLESS=1 or 0 overrides the guess. Jupyter's server sets JPY_SESSION_NAME for
    the kernels it starts; nbclient, nbval and plain Python do not.
    """
    forced = os.environ.get("COURSE_HEADLESS", "")
    if forced in ("0", "1"):
        return forced == "0"
    return ("JPY_SESSION_NAME" in os.environ or "google.colab" in sys.modules
            or "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "VSCODE_PID" in os.environ)


def show(widget, *, static: Callable[[], None]) -> None:
    """Display ``widget``; when headless, also call ``static()`` to draw its default view."""
    display(widget)
    if not has_frontend():
        static()
