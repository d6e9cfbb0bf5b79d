"""Assertion on our own written sentences (tests/data/notes/assertion_cases.tsv: conditionals, plans, long negated
lists, dated events, family, uncertainty; the NegEx/ConText kits are kept aside for acceptance): accuracy per
expected category, and the confusions. Prints one JSON object."""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from annotators.notes.assertion import assert_span

    right, total, confusions = Counter(), Counter(), Counter()
    for line in (ROOT / "tests" / "data" / "notes" / "assertion_cases.tsv").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        expected, entity, sentence = line.split("\t")
        start = sentence.index(entity)
        got = assert_span(sentence, start, start + len(entity))
        total[expected] += 1
        right[expected] += got == expected
        if got != expected:
            confusions[f"{expected}->{got}"] += 1
    print(json.dumps({"benchmark": "assertion", "sentences": sum(total.values()),
                      "accuracy": {k: round(right[k] / total[k], 3) for k in sorted(total)},
                      "counts": dict(sorted(total.items())), "confusions": dict(confusions)}, indent=2))


if __name__ == "__main__":
    main()
