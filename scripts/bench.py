"""Run every chapter notebook in a fresh kernel, in the quick profile, and print a timing table.

    python scripts/bench.py [chapters/03_*.ipynb ...] [--markdown] [--timeout 600]

For each notebook: seconds from kernel start to the last cell, the expected-result checks
(``expect()``) that passed out of those run, and the exercise checks that passed. Notebooks run
one at a time so the timings are not disturbed by each other.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
EXPECT_LINE = re.compile(r"^([✓✗]) .+ = .*expected ", re.M)
CHECK_LINE = re.compile(r"^([✓✗◌]) q\d+ \(", re.M)


def printed_text(notebook) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append(output.get("text", ""))
    return "".join(parts)


def run(path: Path, timeout: int) -> dict:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start, error = time.perf_counter(), ""
    try:
        client.execute()
    except CellExecutionError as failure:
        error = str(failure).strip().splitlines()[-1][:120]
    seconds = time.perf_counter() - start
    text = printed_text(notebook)
    expects = EXPECT_LINE.findall(text)
    checks = CHECK_LINE.findall(text)
    return {"notebook": path.name, "seconds": seconds, "error": error,
            "expect": f"{expects.count('✓')}/{len(expects)}",
            "checks": f"{checks.count('✓')}/{len(checks)}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args()
    os.environ["COURSE_PROFILE"] = "quick"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as setup() and the tests do (utils/env.py says why)
    os.environ["COURSE_CHECKS"] = "report"
    os.environ.pop("COURSE_TESTING", None)
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    rows = []
    for path in notebooks:
        rows.append(run(path, args.timeout))
        row = rows[-1]
        print(f"{row['notebook']:32s} {row['seconds']:7.1f} s  expect {row['expect']:>6s}  "
              f"checks {row['checks']:>6s}  {row['error']}", flush=True)
    total = sum(r["seconds"] for r in rows)
    if args.markdown:
        print("\n| notebook | seconds | expect() passed | exercise checks passed |\n|---|---:|---:|---:|")
        for r in rows:
            print(f"| {r['notebook']} | {r['seconds']:.1f} | {r['expect']} | {r['checks']} |")
        print(f"| **total** | **{total:.1f}** | | |")
    else:
        print(f"{'total':32s} {total:7.1f} s")
    return 1 if any(r["error"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
