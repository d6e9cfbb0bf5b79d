"""Ambiguous abbreviations (ED, RA, PCP, CA, CP) read by their context: the scorer on our own sentences
(tests/data/notes/abbrev_cases.tsv, shared with benchmarks/bench_abbrev.py), the note's own definitions, the table's
prior, and the pipeline's spans (no ontology store: the spans carry the senses as candidates with their scores)."""
import re
from collections import Counter
from pathlib import Path

import pytest

from annotators.notes.abbrev_senses import SENSE_TERMINOLOGY, SENSES, best_sense, priors

CASES = Path(__file__).resolve().parents[1] / "data" / "notes" / "abbrev_cases.tsv"


def load_cases():
    out = []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            sense, abbr, sentence = line.split("\t")
            out.append((sense, abbr, sentence))
    return out


def locate(sentence, abbr):
    m = re.search(rf"(?<![\w-]){re.escape(abbr)}(?![A-Za-z0-9])", sentence)
    assert m, (abbr, sentence)
    return m.start(), m.end()


def test_the_cases_cover_every_sense_of_every_abbreviation():
    cases = load_cases()
    per_abbr = Counter(abbr.upper() for _, abbr, _ in cases)
    assert set(per_abbr) == set(SENSES) and min(per_abbr.values()) >= 5
    covered = {(abbr.upper(), sense) for sense, abbr, _ in cases}
    assert covered == {(abbr, s.name) for abbr, senses in SENSES.items() for s in senses}


@pytest.mark.parametrize("sense,abbr,sentence", load_cases(), ids=lambda v: v if len(v) < 25 else v[:25])
def test_sense_chosen_from_context_with_ordered_scores(sense, abbr, sentence):
    start, end = locate(sentence, abbr)
    chosen, ranked = best_sense(sentence, start, end)
    assert chosen == sense, ranked
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True) and sum(scores) <= 1 and all(0 <= s <= 1 for s in scores)
    assert {name for name, _ in ranked} == {s.name for s in SENSES[abbr.upper()]}


def test_no_context_falls_back_to_the_table_order():
    """Nothing around the abbreviation: the table's first expansion (ED: erectile dysfunction, CP: chest pain), and
    for PCP, which the table does not list, this module's order (primary care physician first)."""
    table = {"ed": ["erectile dysfunction", "emergency department"], "cp": ["chest pain", "cerebral palsy"]}
    assert best_sense("ED.", 0, 2, table)[0] == "erectile dysfunction"
    assert best_sense("CP.", 0, 2, table)[0] == "chest pain"
    assert best_sense("PCP.", 0, 3, table)[0] == "primary care physician"
    # the table decides the prior, not this module: reversed, the other sense wins the bare mention
    assert best_sense("ED.", 0, 2, {"ed": ["emergency department", "erectile dysfunction"]})[0] == \
        "emergency department"
    assert priors("RA")[0] > priors("RA")[1] > priors("RA")[2] and abs(sum(priors("RA")) - 1) < 1e-9


def test_the_notes_own_definition_outranks_the_cues():
    # cues say emergency department ("presented to the"), the definition says erectile dysfunction
    text = "Erectile dysfunction (ED) since 2019. He presented to the clinic about the ED again."
    start = text.index("ED again")
    chosen, ranked = best_sense(text, start, start + 2)
    assert chosen == "erectile dysfunction" and ranked[0][1] > 0.8
    text = "RA (right atrium) pressure normal. Sats 95% on RA."
    start = text.rindex("RA")
    assert best_sense(text, start, start + 2)[0] == "right atrium"


@pytest.fixture(scope="module")
def pipeline():
    from annotators.notes.preannotate import ClinicalPipeline
    from annotators.notes.schema import default_label_config

    p = ClinicalPipeline()
    p.setup("cpu", default_label_config(), None, None)
    return p


def abbreviation_spans(pipeline, text, abbr):
    payload, _ = pipeline.annotate(text)
    return [s for s in payload["spans"] if s["layer"] == "entity" and s["text"].upper().startswith(abbr)]


def test_pipeline_spans_carry_every_sense_with_scores(pipeline):
    import jsonschema

    from annotators.notes.schema import PAYLOAD_SCHEMA, default_label_config, semantic_errors

    text = "Spastic quadriplegic CP since birth, uses a wheelchair. Ovarian mass with CA-125 of 300."
    payload, _ = pipeline.annotate(text)
    [cp] = [s for s in payload["spans"] if s["text"] == "CP"]
    assert cp["label"] == "PROBLEM" and cp["attributes"]["sense"] == "cerebral palsy"
    assert [c["code"] for c in cp["candidates"]] == ["CP=cerebral palsy", "CP=chest pain"]
    assert cp["candidates"][0]["terminology"] == SENSE_TERMINOLOGY
    assert sum(c["score"] for c in cp["candidates"]) <= 1 and cp["score"] == cp["candidates"][0]["score"]
    [ca] = [s for s in payload["spans"] if s["text"].startswith("CA")]
    assert ca["text"] == "CA-125" and ca["label"] == "TEST"
    jsonschema.validate(payload, PAYLOAD_SCHEMA)
    assert semantic_errors(payload, default_label_config(), text) == []


def test_pipeline_emits_no_span_for_places_people_and_settings(pipeline):
    assert abbreviation_spans(pipeline, "Patient presented to the ED with fever.", "ED") == []
    assert abbreviation_spans(pipeline, "SpO2 98% on RA.", "RA") == []
    assert abbreviation_spans(pipeline, "Follow up with his PCP next week.", "PCP") == []
    [ed] = abbreviation_spans(pipeline, "Reports ED for a year, started sildenafil.", "ED")
    assert ed["label"] == "PROBLEM" and ed["attributes"]["sense"] == "erectile dysfunction"
    [ra] = abbreviation_spans(pipeline, "Echo: dilated RA and RV.", "RA")
    assert ra["label"] == "ANATOMY"
    [pcp] = abbreviation_spans(pipeline, "Urine drug screen positive for PCP and THC.", "PCP")
    assert pcp["label"] == "MEDICATION"


def test_pipeline_keeps_a_definition_as_something_else(pipeline):
    """Defined in the note as none of the senses, the abbreviation gets no sense span after the definition."""
    text = "Started cyclophosphamide (CP) in May. CP was stopped; no substernal pain."
    spans = abbreviation_spans(pipeline, text, "CP")
    assert all(s["attributes"].get("source") != "abbreviation-sense" for s in spans)
