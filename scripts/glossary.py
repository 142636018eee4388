"""Write GLOSSARY.md from the key-terms tables of every chapter.

    python scripts/glossary.py            rewrite GLOSSARY.md
    python scripts/glossary.py --check    exit 1 if GLOSSARY.md is out of date or a term has two Chinese names

One row per English term, sorted, with its Chinese name, the chapter that introduces it, and its
meaning as that chapter gives it. The structure test runs the check.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.notebook_format import key_terms  # noqa: E402

HEADER = """# Glossary · 术语表

Every key term of the course's notebooks, in English and Chinese, with the chapter that introduces
it. Written by `python scripts/glossary.py` from the chapters' key-terms tables; edit a chapter's
table, not this file.

| English | 中文 | chapter | meaning |
|---|---|---|---|
"""


def collect() -> tuple[dict, list[str]]:
    """Terms by lower-cased English name, and any conflicts between chapters' Chinese names."""
    terms, conflicts = {}, []
    for path in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")):
        chapter = path.name[:2]
        for english, chinese, meaning in key_terms(json.loads(path.read_text(encoding="utf-8"))):
            key = english.lower()
            if key in terms and terms[key]["zh"] != chinese:
                conflicts.append(f"{english!r}: {terms[key]['zh']} (chapter {terms[key]['chapter']}) vs "
                                 f"{chinese} (chapter {chapter})")
            terms.setdefault(key, {"en": english, "zh": chinese, "chapter": chapter, "meaning": meaning})
    return terms, conflicts


def render(terms: dict) -> str:
    rows = [f"| {t['en']} | {t['zh']} | {t['chapter']} | {t['meaning']} |" for _, t in sorted(terms.items())]
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    terms, conflicts = collect()
    for conflict in conflicts:
        print(f"two Chinese names for {conflict}: choose one in both chapters", file=sys.stderr)
    text, target = render(terms), ROOT / "GLOSSARY.md"
    if "--check" in argv:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print("GLOSSARY.md is out of date: run python scripts/glossary.py", file=sys.stderr)
            return 1
        return 1 if conflicts else 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote GLOSSARY.md: {len(terms)} terms")
    return 1 if conflicts else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
