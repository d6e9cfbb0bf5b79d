"""Ambiguous abbreviations (ED, RA, PCP, CA, CP) on our own written sentences (tests/data/notes/abbrev_cases.tsv,
shared with tests/notes/test_notes_abbrev_senses.py): accuracy of the context scorer against the table's prior alone
(the first expansion listed, which is what the term matcher's linking picked before), per abbreviation, and the
confusions. The cue lists were written with these sentences in view: this measures coverage of the cases, not
accuracy on unseen notes. Prints one JSON object."""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from annotators.notes.abbrev_senses import SENSES, best_sense, priors

    right, prior_right, total, confusions = Counter(), Counter(), Counter(), Counter()
    for line in (ROOT / "tests" / "data" / "notes" / "abbrev_cases.tsv").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        expected, abbr, sentence = line.split("\t")
        m = re.search(rf"(?<![\w-]){re.escape(abbr)}(?![A-Za-z0-9])", sentence)
        key = abbr.upper()
        got, _ = best_sense(sentence, m.start(), m.end())
        weights = priors(key)
        prior_sense = SENSES[key][weights.index(max(weights))].name
        total[key] += 1
        right[key] += got == expected
        prior_right[key] += prior_sense == expected
        if got != expected:
            confusions[f"{key}: {expected}->{got}"] += 1
    n = sum(total.values())
    print(json.dumps({"benchmark": "abbreviation_senses", "sentences": n,
                      "accuracy": round(sum(right.values()) / n, 3),
                      "prior_only_accuracy": round(sum(prior_right.values()) / n, 3),
                      "per_abbreviation": {k: {"n": total[k], "context": round(right[k] / total[k], 3),
                                               "prior_only": round(prior_right[k] / total[k], 3)}
                                           for k in sorted(total)},
                      "confusions": dict(confusions)}, indent=2))


if __name__ == "__main__":
    main()
