"""Write GLOSSARY.md from the key-terms tables of every chapter.

    python scripts/glossary.py            rewrite GLOSSARY.md
    python scripts/glossary.py --check    exit 1 if GLOSSARY.md is out of date, a term has two Chinese names,
                                          or a notebook or checker message uses a rejected variant

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


# One Chinese name per term, in the notebooks and in the checkers' messages: the course's name, then
# the variants other books use. A variant may appear only on a line that also gives the course's name
# ("感知机, also called 感知器").
VARIANTS = {
    "海森矩阵": ["黑塞矩阵"], "偏差修正": ["偏差校正"], "感知机": ["感知器"], "批归一化": ["批量归一化"],
    "感受野": ["接受野"], "池化": ["汇聚"], "随机失活": ["暂退法", "丢弃法"], "早停": ["提前停止"],
    "过拟合": ["过度拟合"], "数据增强": ["数据增广"], "反向传播": ["逆传播"], "学习率": ["学习速率"],
    "特征图": ["特征映射"], "权重衰减": ["权值衰减"], "微调": ["精调"], "对抗样本": ["对抗性样本"],
}


def stray_variants(texts: dict[str, str]) -> list[str]:
    """Where a text uses another book's name for a term without the course's name beside it."""
    found = []
    for where, text in texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            for name, others in VARIANTS.items():
                found += [f"{where}:{number}: {other} (the course writes {name})"
                          for other in others if other in line and name not in line]
    return found


def course_texts() -> dict[str, str]:
    """Every notebook cell's source and every checker module, by where they are."""
    texts = {}
    for path in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            source = cell["source"]
            texts[f"{path.name} cell {index}"] = source if isinstance(source, str) else "".join(source)
    for path in sorted((ROOT / "utils" / "exercises").glob("*.py")):
        texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return texts


def render(terms: dict) -> str:
    rows = [f"| {t['en']} | {t['zh']} | {t['chapter']} | {t['meaning']} |" for _, t in sorted(terms.items())]
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str]) -> int:
    terms, conflicts = collect()
    for conflict in conflicts:
        print(f"two Chinese names for {conflict}: choose one in both chapters", file=sys.stderr)
    text, target = render(terms), ROOT / "GLOSSARY.md"
    strays = stray_variants(course_texts())
    for stray in strays:
        print(f"another book's term: {stray}", file=sys.stderr)
    if "--check" in argv:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print("GLOSSARY.md is out of date: run python scripts/glossary.py", file=sys.stderr)
            return 1
        return 1 if conflicts or strays else 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote GLOSSARY.md: {len(terms)} terms")
    return 1 if conflicts or strays else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
