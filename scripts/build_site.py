"""Build the course's static site, with every notebook executed in the quick profile, offline.

    python scripts/build_site.py            (make site)  ->  _build/html/index.html

Copies site/ (configuration, front page, the local badge image), the chapters and the guides into
_build/site-src, then runs Sphinx with myst-nb, which executes each notebook in a fresh kernel.
Warnings are errors, so a broken internal link or a notebook that fails stops the build.

The site works without the internet: its maths is rendered by a MathJax bundled with the site
(sphinx-mathjax-offline), and the chapters' "Open in Colab" badge shows a copy of the image
shipped in site/_static instead of the one on colab.research.google.com.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "_build" / "site-src"
OUTPUT = ROOT / "_build" / "html"
GUIDES = ["data/README.md", "docs/INSTRUCTORS.md", "docs/TOOLING.md", "GLOSSARY.md"]
BADGE_ONLINE = "https://colab.research.google.com/assets/colab-badge.svg"
BADGE_LOCAL = "../_static/colab-badge.svg"  # relative to chapters/


def prepare(source: Path, chapters: list[Path]) -> None:
    """Lay out the site's sources in ``source``: site/, the given chapters (badge made local), the guides."""
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(ROOT / "site", source)
    (source / "chapters").mkdir()
    for chapter in chapters:
        text = chapter.read_text(encoding="utf-8")
        (source / "chapters" / chapter.name).write_text(text.replace(BADGE_ONLINE, BADGE_LOCAL), encoding="utf-8")
    for page in GUIDES:
        target = source / page
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / page, target)


# Warnings are errors. No "-j": sphinx-mathjax-offline does not declare itself safe for parallel reading,
# and Sphinx warns about that, which -W would turn into a failed build.
STRICT = ("-W", "--keep-going")


def sphinx(source: Path, output: Path, *options: str) -> int:
    """Run Sphinx's HTML builder, notebooks executed in the quick profile; return its exit code."""
    env = {**os.environ, "COURSE_PROFILE": "quick", "COURSE_HEADLESS": "1",
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    env.pop("COURSE_TESTING", None)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", *options, str(source), str(output)]
    return subprocess.run(command, env=env).returncode


def main() -> int:
    start = time.perf_counter()
    prepare(SOURCE, sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")))
    code = sphinx(SOURCE, OUTPUT, *STRICT)
    print(f"site {'built' if code == 0 else 'FAILED'} in {time.perf_counter() - start:.0f} s: {OUTPUT / 'index.html'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
