"""Coding accuracy on a list of mentions with the code a coder would choose (top-1 / top-5)."""
from __future__ import annotations

from typing import Callable


def load_benchmark(path: str) -> list[dict]:
    """Rows of a TSV: mention, terminology, expected code, note ('#' lines are comments)."""
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                raise ValueError(f"line {line_no}: expected mention, terminology, code")
            rows.append({"mention": parts[0], "terminology": parts[1], "code": parts[2],
                         "note": parts[3] if len(parts) > 3 else ""})
    return rows


def evaluate(search: Callable[[str, list[str]], list[dict]], rows: list[dict], k: int = 5) -> dict:
    """`search(mention, [terminology])` returns ranked result dicts; reports top-1/top-k and the misses."""
    top1 = topk = 0
    misses = []
    for row in rows:
        codes = [result["code"] for result in search(row["mention"], [row["terminology"]])[:k]]
        if codes[:1] == [row["code"]]:
            top1 += 1
        if row["code"] in codes:
            topk += 1
        else:
            misses.append({"mention": row["mention"], "expected": row["code"], "got": codes})
    total = len(rows) or 1
    return {"n": len(rows), "top1": top1 / total, f"top{k}": topk / total, "misses": misses}
