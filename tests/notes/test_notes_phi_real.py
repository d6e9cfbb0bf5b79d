"""PHI detection on real nursing notes (issue 13): a 50-note sample of the PhysioNet deid gold corpus (MIMIC nursing
notes, surrogate PHI; tests/data/notes/deid/SOURCE.md), scored any-overlap as in benchmarks/bench_phi_deid.py.
The floors are what the detector meets with a little room, so a regression on real notes shows up here."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotators.notes.phi import get_default_detector

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "notes" / "deid" / "deid_sample.jsonl"
HELD_OUT_PATIENTS = 15  # the acceptance notes: never in the sample
RECALL_FLOOR = 0.90  # measured 0.933 (issue 13 target: 0.97; 0.742 before the word-class rules, 0.899 before places)
PRECISION_FLOOR = 0.90  # measured 0.973 (issue 13 target: 0.80; 0.637 before)


@pytest.fixture(scope="module")
def scored():
    notes = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    detector = get_default_detector().setup()
    return notes, [detector.detect(n["text"]) for n in notes]


def _overlaps(a, b) -> bool:
    return a["start"] < b["end"] and a["end"] > b["start"]


def test_sample_shape(scored):
    notes, _ = scored
    assert 20 <= len(notes) <= 60
    assert all(n["patient"] > HELD_OUT_PATIENTS for n in notes)
    for note in notes:
        for span in note["spans"]:
            assert note["text"][span["start"]:span["end"]] == span["text"]


def test_recall_and_precision_floors(scored):
    notes, predictions = scored
    gold = [(s, p) for n, p in zip(notes, predictions) for s in n["spans"]]
    recall = sum(any(_overlaps(s, q) for q in p) for s, p in gold) / len(gold)
    predicted = [(q, n) for n, p in zip(notes, predictions) for q in p]
    precision = sum(any(_overlaps(q, s) for s in n["spans"]) for q, n in predicted) / max(1, len(predicted))
    assert recall >= RECALL_FLOOR, recall
    assert precision >= PRECISION_FLOOR, precision


def test_clinical_words_are_not_phi():
    detector = get_default_detector().setup()
    text = ("foley draining, abd soft, cont on levo. PS 10/5, 1/2 NS at 75. MAE 5/5. Carevue flowsheet. "
            "pt.received lasix.")
    assert detector.detect(text) == []


def test_nursing_note_cues():
    detector = get_default_detector().setup()
    text = ("dr smith aware. son bill called. Pager #12345. s/p MI 1990, echo 3/95. "
            "TRANSFERRED TO HALLORAN 4.")
    found = {p["text"] for p in detector.detect(text)}
    for expected in ("smith", "bill", "12345", "1990", "3/95", "HALLORAN 4"):
        assert any(expected in f for f in found), (expected, found)
