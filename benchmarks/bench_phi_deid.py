"""PHI detection on the PhysioNet deid gold corpus (MIMIC nursing notes with surrogate PHI); prints one JSON object.

    .venv/bin/python benchmarks/bench_phi_deid.py --corpus DIR [--limit N] [--errors 30]

DIR holds `id.text` and the typed gold `id-phi.phrase` (lines "patient note start end Type phrase", end exclusive),
as in the repository cliffordlab/DEID-2023 (GPL). Nothing is fetched: without a corpus (--corpus or the environment
variable CLINLABEL_DEID_CORPUS) it prints {"skipped": ...}. The notes of the first HELD_OUT_PATIENTS patients in file
order are kept aside for acceptance and never read here.

Scoring is any-overlap: a gold PHI span is found when some predicted span (any label) overlaps it; a predicted span
is correct when it overlaps some gold span. `--errors N` prints the N commonest false and missed strings to stderr
(the terminal only; they are never written to a file).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HELD_OUT_PATIENTS = 15  # patients 1..15 in file order: acceptance set, never read, never tuned on
_RECORD = re.compile(r"START_OF_RECORD=(\d+)\|\|\|\|(\d+)\|\|\|\|\n(.*?)\|\|\|\|END_OF_RECORD", re.S)


def load_corpus(directory: Path, skip_patients: int = HELD_OUT_PATIENTS) -> list[dict]:
    """Notes of the patients after the first `skip_patients` in file order, each with its typed gold spans."""
    text = (directory / "id.text").read_text(encoding="utf-8", errors="replace")
    order: list[int] = []
    notes = {}
    for match in _RECORD.finditer(text):
        patient, note = int(match[1]), int(match[2])
        if patient not in order:
            order.append(patient)
        if order.index(patient) < skip_patients:
            continue
        notes[(patient, note)] = {"patient": patient, "note": note, "text": match[3], "spans": []}
    for line in (directory / "id-phi.phrase").read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(" ", 5)
        if len(parts) < 5 or (int(parts[0]), int(parts[1])) not in notes:
            continue
        start, end = int(parts[2]), int(parts[3])
        notes[(int(parts[0]), int(parts[1]))]["spans"].append({"start": start, "end": end, "label": parts[4]})
    return list(notes.values())


def score(notes: list[dict], predictions: list[list[dict]]) -> dict:
    found, total = Counter(), Counter()
    true_pred, false_by_label, missed, false_strings = 0, Counter(), Counter(), Counter()
    true_by_label = Counter()
    for note, predicted in zip(notes, predictions):
        for span in note["spans"]:
            total[span["label"]] += 1
            hit = any(p["start"] < span["end"] and p["end"] > span["start"] for p in predicted)
            found[span["label"]] += hit
            if not hit:
                missed[(span["label"], note["text"][max(0, span["start"] - 25):span["end"] + 15])] += 1
        for p in predicted:
            if any(p["start"] < s["end"] and p["end"] > s["start"] for s in note["spans"]):
                true_pred += 1
                true_by_label[f'{p["label"]}/{p["attributes"]["source"]}'] += 1
            else:
                false_by_label[f'{p["label"]}/{p["attributes"]["source"]}'] += 1
                false_strings[(p["label"], p["text"])] += 1
    n_pred = sum(len(p) for p in predictions)
    return {
        "gold_spans": sum(total.values()),
        "recall": round(sum(found.values()) / max(1, sum(total.values())), 4),
        "recall_by_type": {k: round(found[k] / total[k], 4) for k in sorted(total)},
        "gold_by_type": dict(sorted(total.items())),
        "predicted_spans": n_pred,
        "precision": round(true_pred / max(1, n_pred), 4),
        "false_spans": n_pred - true_pred,
        "false_by_label_source": dict(false_by_label.most_common()),
        "true_by_label_source": dict(true_by_label.most_common()),
        "_false_strings": false_strings, "_missed": missed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=os.environ.get("CLINLABEL_DEID_CORPUS"))
    parser.add_argument("--limit", type=int, default=0, help="only the first N notes (0: all)")
    parser.add_argument("--errors", type=int, default=0, help="print the N commonest false/missed strings to stderr")
    args = parser.parse_args()
    directory = Path(args.corpus) if args.corpus else None
    if directory is None or not (directory / "id.text").is_file() or not (directory / "id-phi.phrase").is_file():
        print(json.dumps({"skipped": "no deid corpus: pass --corpus DIR or set CLINLABEL_DEID_CORPUS "
                                     "(DIR with id.text and id-phi.phrase from cliffordlab/DEID-2023)"}))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from annotators.notes.phi import get_default_detector

    notes = load_corpus(directory)
    if args.limit:
        notes = notes[:args.limit]
    detector = get_default_detector().setup()
    started = time.perf_counter()
    predictions = [detector.detect(n["text"]) for n in notes]
    elapsed = time.perf_counter() - started
    words = sum(len(n["text"].split()) for n in notes)
    result = score(notes, predictions)
    false_strings, missed = result.pop("_false_strings"), result.pop("_missed")
    result = {"corpus": "physionet-deid (cliffordlab/DEID-2023)", "held_out_patients_skipped": HELD_OUT_PATIENTS,
              "notes": len(notes), "words": words, "words_per_s": round(words / elapsed), **result}
    if args.errors:
        print("# top false spans (label, text):", file=sys.stderr)
        for (label, text), count in false_strings.most_common(args.errors):
            print(f"{count:5d} {label:10s} {text!r}", file=sys.stderr)
        print("# missed gold spans (type, context):", file=sys.stderr)
        for (label, context), count in missed.most_common(args.errors):
            print(f"{count:5d} {label:10s} {context!r}", file=sys.stderr)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
