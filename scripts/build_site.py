"""Build the course's static site, with every notebook executed in the quick profile, offline.

    python scripts/build_site.py            (make site)  ->  _build/html/index.html

Copies site/ (configuration and front page), the chapters and the guides into _build/site-src,
then runs Sphinx with myst-nb, which executes each notebook in a fresh kernel. Warnings are errors,
so a broken internal link or a notebook that fails stops the build.
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
PAGES = ["chapters", "data/README.md", "docs/INSTRUCTORS.md", "GLOSSARY.md"]


def main() -> int:
    start = time.perf_counter()
    shutil.rmtree(SOURCE, ignore_errors=True)
    shutil.copytree(ROOT / "site", SOURCE)
    for page in PAGES:
        source, target = ROOT / page, SOURCE / page
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        elif source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    env = {**os.environ, "COURSE_PROFILE": "quick", "COURSE_HEADLESS": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    env.pop("COURSE_TESTING", None)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-j", "auto",
               str(SOURCE), str(OUTPUT)]
    result = subprocess.run(command, env=env)
    print(f"site {'built' if result.returncode == 0 else 'FAILED'} in {time.perf_counter() - start:.0f} s: {OUTPUT / 'index.html'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
