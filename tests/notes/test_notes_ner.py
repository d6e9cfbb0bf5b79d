"""Terminology matching and the trainable spaCy NER."""
from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

import pytest

from annotators.notes.ner import load_ner, predict_ner, train_ner
from annotators.notes.term_matcher import TermMatcher

DATA = Path(__file__).resolve().parents[1] / "data" / "notes" / "ner_synthetic.jsonl"


def test_term_matcher_longest_match_case_insensitive_and_concepts():
    matcher = TermMatcher({
        "PROBLEM": ["diabetes", ("type 2 diabetes mellitus", {"terminology": "icd10cm", "code": "E11.9",
                                                              "name": "Type 2 diabetes mellitus without complications"}),
                    "heart failure", "congestive heart failure"],
        "MEDICATION": ["metformin", "insulin"],
        "ANATOMY": ["heart"],
    })
    text = "Type 2 Diabetes Mellitus on METFORMIN; congestive heart failure. Diabetes stable. Heart normal."
    spans = matcher.match(text)
    got = [(text[s["start"]:s["end"]], s["label"]) for s in spans]
    assert got == [("Type 2 Diabetes Mellitus", "PROBLEM"), ("METFORMIN", "MEDICATION"),
                   ("congestive heart failure", "PROBLEM"), ("Diabetes", "PROBLEM"), ("Heart", "ANATOMY")]
    assert spans[0]["concept"]["code"] == "E11.9" and spans[0]["candidates"][0]["code"] == "E11.9"
    assert spans[1]["concept"] is None
    assert all(s["layer"] == "entity" for s in spans)
    assert len({s["id"] for s in spans}) == len(spans)


def test_term_matcher_first_label_wins_on_identical_phrase():
    matcher = TermMatcher({"TEST": ["troponin"], "MEDICATION": ["troponin"]})
    assert [s["label"] for s in matcher.match("troponin pending")] == ["TEST"]


def test_term_matcher_empty_and_whitespace_phrases():
    matcher = TermMatcher({"PROBLEM": ["", "   ", "chest  pain"]})
    assert [s["text"] for s in matcher.match("Has chest pain.")] == ["chest pain"]


def test_term_matcher_drops_list_punctuation_of_dictionary_variants():
    matcher = TermMatcher({"MEDICATION": ["tobacco,", ",", "aspirin;"]})
    assert [s["text"] for s in matcher.match("Denies tobacco, takes aspirin; ok")] == ["tobacco", "aspirin"]


@pytest.fixture(scope="module")
def examples():
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["text"], row["spans"]) for row in rows]


@pytest.fixture(scope="module")
def trained(examples):
    started = time.monotonic()
    blob, metrics = train_ner(examples[:40], seed=3, n_iter=10, patience=2)
    return blob, metrics, time.monotonic() - started


def test_training_returns_spacy_bytes_and_held_out_metrics(trained):
    blob, metrics, seconds = trained
    assert isinstance(blob, bytes) and not blob.startswith(b"\x80")  # msgpack, not a pickle
    assert metrics["n_held_out"] == 8 and metrics["n_train"] + metrics["n_dev"] == 32
    assert 0.0 <= metrics["f1"] <= 1.0 and metrics["f1"] > 0.8
    json.dumps(metrics)  # plain JSON, storable as model parameters
    assert set(metrics["labels"]) == {"PROBLEM", "MEDICATION", "PROCEDURE", "TEST", "ANATOMY"}
    assert seconds < 120


def test_load_and_predict(trained, examples):
    blob, _metrics, _ = trained
    nlp = load_ner(blob)
    text, gold = examples[45]
    predicted = predict_ner(nlp, [text, "no entities here"])
    assert len(predicted) == 2
    found = {(s["start"], s["end"], s["label"]) for s in predicted[0]}
    expected = {(s["start"], s["end"], s["label"]) for s in gold}
    assert len(found & expected) / len(expected) > 0.5
    assert all(text[s["start"]:s["end"]] == s["text"] for s in predicted[0])


def test_training_is_deterministic_for_a_seed(examples):
    a = train_ner(examples[:12], seed=5, n_iter=2)[1]
    b = train_ner(examples[:12], seed=5, n_iter=2)[1]
    assert a["history"] == b["history"] and a["f1"] == b["f1"]


def test_load_rejects_foreign_blobs():
    with pytest.raises(ValueError):
        load_ner(pickle.dumps({"format": "clinlabel-notes-ner/1"}))
    with pytest.raises(ValueError):
        load_ner(b"not a model")


def test_training_needs_spans():
    with pytest.raises(ValueError):
        train_ner([("text without spans", [])], n_iter=1)


def test_overlapping_and_misaligned_training_spans_are_tolerated():
    text = "Severe chest pain radiating to left arm."
    spans = [{"start": 7, "end": 17, "label": "PROBLEM"}, {"start": 0, "end": 17, "label": "PROBLEM"},
             {"start": 32, "end": 37, "label": "ANATOMY"}, {"start": 2, "end": 4, "label": "ANATOMY"}]
    blob, metrics = train_ner([(text, spans)] * 3, n_iter=1)
    assert metrics["n_held_out"] == 0 and load_ner(blob)


def test_phrase_variants_spell_the_possessive_of_tokenised_text():
    """Text rebuilt from tokens (CoNLL imports) reads "Graves ' s disease"; the variant matches it."""
    from annotators.notes.lexicon import phrase_variants

    variants = phrase_variants("Menkes's syndrome", plural=False)
    assert "Menkes syndrome" in variants and "Menkes ' s syndrome" in variants


def test_adjective_forms_of_one_word_findings():
    from annotators.notes.lexicon import adjective_form

    assert adjective_form("Hypotension") == "hypotensive" and adjective_form("cirrhosis") == "cirrhotic"
    assert adjective_form("epilepsy") == "epileptic" and adjective_form("leukaemia") == "leukaemic"
    assert adjective_form("pain") is None and adjective_form("fever") is None


def test_morphological_problems_take_bare_toxicity_and_organ_toxic_adjectives():
    from annotators.notes.lexicon import MORPHOLOGICAL_PROBLEM

    text = "Toxicity was graded; ototoxic and hepatotoxic effects, not cytotoxic ones; pancreatitis."
    assert [m.group() for m in MORPHOLOGICAL_PROBLEM.finditer(text)] == ["Toxicity", "ototoxic", "hepatotoxic",
                                                                         "pancreatitis"]


def test_compound_codes_and_not_vitals_or_identifiers():
    from annotators.notes.lexicon import COMPOUND_CODE

    text = "Given XR-4412 and QZ 7781; later AB9921. HR 104, MRN 4455667, BP 130/85, ICD-10, PIN-5521: x."
    assert [m.group() for m in COMPOUND_CODE.finditer(text)] == ["XR-4412", "AB9921"]


def _span(text, sub, label, sid, concept=None, source="terminology"):
    start = text.index(sub)
    return {"id": sid, "start": start, "end": start + len(sub), "label": label, "layer": "entity", "text": sub,
            "concept": concept, "candidates": [], "attributes": {"source": source}}


def test_drug_induced_problem_splits_into_the_drug_and_the_problem():
    from annotators.notes.entity_rules import split_induced

    matcher = TermMatcher({"PROBLEM": ["neutropenia"], "MEDICATION": ["clozapine"]})
    text = "Developed clozapine-induced neutropenia last week."
    spans = split_induced(text, [_span(text, "clozapine-induced neutropenia", "PROBLEM", "t1")], matcher, "PROBLEM")
    assert [(s["text"], s["label"]) for s in spans] == [("clozapine", "MEDICATION"), ("neutropenia", "PROBLEM")]
    assert all(text[s["start"]:s["end"]] == s["text"] for s in spans)


def test_medication_spans_take_stereo_prefixes_and_leave_receptors_and_nucleic_acids():
    from annotators.notes.entity_rules import adjust_medications

    text = "On L - carnitine and D-serine; GABA receptor blockade; mRNA was measured."
    spans = [_span(text, "carnitine", "MEDICATION", "t1"), _span(text, "serine", "MEDICATION", "t2"),
             _span(text, "GABA receptor", "MEDICATION", "t3"), _span(text, "mRNA", "MEDICATION", "t4")]
    got = [(s["text"], text[s["start"]:s["end"]]) for s in adjust_medications(text, spans)]
    assert got == [("L - carnitine", "L - carnitine"), ("D-serine", "D-serine"), ("GABA", "GABA")]


def test_problems_take_in_organ_and_pathology_words_and_syndrome_tails():
    from annotators.notes.entity_rules import extend_problems

    text = "Noted hepatic toxicity, hemorrhagic colitis, pulmonary impairment and vascular leak syndrome; " \
           "cortical epileptic foci."
    spans = [_span(text, "toxicity", "PROBLEM", "m1"), _span(text, "colitis", "PROBLEM", "t1"),
             _span(text, "vascular leak", "PROBLEM", "t2"), _span(text, "epileptic", "PROBLEM", "t3")]
    got = {s["text"] for s in extend_problems(text, spans, "PROBLEM")}
    assert got == {"hepatic toxicity", "hemorrhagic colitis", "pulmonary impairment", "vascular leak syndrome",
                   "epileptic"}
