"""Assertion on written sentences (the NegEx/ConText kits are kept aside for acceptance): accuracy per expected
category and the confusions, per set. Prints one JSON object.

- `cases`: tests/data/notes/assertion_cases.tsv — our own sentences (conditionals, plans, long negated lists, dated
  events, family, uncertainty, real-note shapes) plus 356 written by a separate writer who saw neither the rules nor
  the kits; the tests require every one of them.
- `cases_with_known_misses`: the writer's 360 sentences scored together (`assertion_known_misses.tsv` holds the 4
  the rules get wrong), so the figure is not inflated by keeping only the ones that pass.
- `second_writer`: tests/data/notes/assertion_second_writer.tsv — 240 sentences by a second writer (who saw neither
  set nor the rules). First scored after the rules above were written: 0.883 overall (historical 0.843, hypothetical
  0.871); its errors were then read and general fixes made (numbers below are no longer unseen).
- `third_writer`: tests/data/notes/assertion_third_writer.tsv — 200 sentences in the style of dictated discharge
  summaries and reports by a third writer. First scored after the second round of fixes: 0.775 with the rules of
  the start of this work, 0.890 with those fixes (historical 0.886, hypothetical 0.74); then read and fixed like the
  second.
- `fifth_writer`: tests/data/notes/assertion_fifth_writer.tsv — 160 sentences by a fifth writer, most of them
  hypothetical (instructions, warnings, counselling, medication sigs, plans on results). First scored after all the
  fixes above: 0.869 (hypothetical 0.77, historical 0.94; with the rules of the start of this work 0.650,
  hypothetical 0.37); then read and fixed ("danger of", "possibility of", "may rarely cause", "hold X for").
- `negation`: tests/data/notes/negation_writer.tsv — 240 sentences (negated / affirmed, with long lists and
  distracting cues) by a fourth writer: negation precision, recall and F1. First scored: F1 0.946 with the rules of
  the start of this work, 0.958 with the temporal fixes above; then read and fixed (post-finding "denied",
  "negative", "not identified").
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data" / "notes"
WRITER_MARK = "# below: invented sentences written for this project by a separate writer"


def _lines(path: Path, after: str | None = None) -> list[tuple[str, str, str]]:
    rows, started = [], after is None
    for line in path.read_text(encoding="utf-8").splitlines():
        if after is not None and line.startswith(after):
            started = True
        if started and line and not line.startswith("#"):
            expected, entity, sentence = line.split("\t")
            rows.append((expected, entity, sentence))
    return rows


def score(rows: list[tuple[str, str, str]]) -> dict:
    from annotators.notes.assertion import assert_span

    right, total, confusions = Counter(), Counter(), Counter()
    for expected, entity, sentence in rows:
        start = sentence.index(entity)
        got = assert_span(sentence, start, start + len(entity))
        total[expected] += 1
        right[expected] += got == expected
        if got != expected:
            confusions[f"{expected}->{got}"] += 1
    return {"sentences": sum(total.values()), "overall": round(sum(right.values()) / max(1, sum(total.values())), 3),
            "accuracy": {k: round(right[k] / total[k], 3) for k in sorted(total)},
            "counts": dict(sorted(total.items())), "confusions": dict(confusions)}


def negation(rows: list[tuple[str, str, str]]) -> dict:
    from annotators.notes.assertion import assert_span

    tp = fp = fn = 0
    for expected, entity, sentence in rows:
        start = sentence.index(entity)
        got = assert_span(sentence, start, start + len(entity)) == "negated"
        tp += got and expected == "negated"
        fp += got and expected != "negated"
        fn += not got and expected == "negated"
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return {"sentences": len(rows), "precision": round(precision, 3), "recall": round(recall, 3),
            "f1": round(2 * precision * recall / max(1e-9, precision + recall), 3)}


def main() -> None:
    out = {"benchmark": "assertion", "cases": score(_lines(DATA / "assertion_cases.tsv")),
           "cases_with_known_misses": score(_lines(DATA / "assertion_cases.tsv", after=WRITER_MARK)
                                            + _lines(DATA / "assertion_known_misses.tsv"))}
    out["second_writer"] = score(_lines(DATA / "assertion_second_writer.tsv"))
    out["third_writer"] = score(_lines(DATA / "assertion_third_writer.tsv"))
    out["fifth_writer"] = score(_lines(DATA / "assertion_fifth_writer.tsv"))
    out["negation"] = negation(_lines(DATA / "negation_writer.tsv"))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
