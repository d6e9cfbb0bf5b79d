"""The PHI NER learnt from accepted PHI spans (phi_ner.py): trained by the notes `fit`, kept only when it beats the
previous one on held-out notes, and used only to add spans the rules missed. Notes and names are invented."""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from annotators.notes import phi_ner
from annotators.notes.phi_ner import PHI_NER_KEY, add_phi_candidates, fit_phi_ner, load_phi_ner
from annotators.notes.schema import default_label_config
from annotators.notes.training import fit_ner

_SITES = ["Quillmont", "Brackenhurst", "Tovaris", "Wendlemoor", "Ashgrove", "Corvelle", "Drummerton", "Fallowmere"]
_PEOPLE = ["Ilse", "Marek", "Odalys", "Teodor", "Yevette", "Bronagh", "Caspar", "Delphine"]
_TEMPLATES = [
    "Pt came over from {site} overnight, stable. {person} visited and was updated.",
    "Plan: back to {site} when stable. Called {person} with an update.",
    "Seen at {site} last week for the same complaint; {person} at bedside.",
    "Report given to {site} nurse. {person} will visit in am.",
]


def _note(rng: random.Random) -> tuple[str, list[dict]]:
    template, site, person = rng.choice(_TEMPLATES), rng.choice(_SITES), rng.choice(_PEOPLE)
    text = template.format(site=site, person=person)
    spans = [{"start": text.index(site), "end": text.index(site) + len(site), "label": "HOSPITAL", "layer": "phi"},
             {"start": text.index(person), "end": text.index(person) + len(person), "label": "NAME", "layer": "phi"}]
    return text, spans


def _accepted(n: int, seed: int = 1):
    rng = random.Random(seed)
    return [(SimpleNamespace(text=text), {"spans": spans}) for text, spans in (_note(rng) for _ in range(n))]


@pytest.fixture(scope="module")
def first_fit():
    return fit_phi_ner(_accepted(40), default_label_config(), None)


def test_fit_trains_a_phi_model_and_scores_it_on_held_out_notes(first_fit):
    params, metrics, improved = first_fit
    assert improved and PHI_NER_KEY in params and metrics["held_out_notes"] == 8
    assert metrics["held_out_overlap"]["recall"] > 0.5  # the model learnt the project's sites and people
    assert load_phi_ner(params) is not None


def test_a_new_model_must_beat_the_previous_one(first_fit, monkeypatch):
    params, _metrics, _ = first_fit
    scores = iter([{"recall": 0.5, "precision": 0.5, "f1": 0.5}, {"recall": 0.9, "precision": 0.9, "f1": 0.9}])
    monkeypatch.setattr(phi_ner, "overlap_scores", lambda nlp, examples: next(scores))
    again, metrics, improved = fit_phi_ner(_accepted(40, seed=2), default_label_config(), params)
    assert not improved and again[PHI_NER_KEY] == params[PHI_NER_KEY]  # the previous model is carried over
    assert metrics["previous_held_out_overlap"]["f1"] == 0.9


def test_too_few_notes_train_nothing_and_keep_the_previous_model():
    params, metrics, improved = fit_phi_ner(_accepted(5), default_label_config(), {PHI_NER_KEY: "b2xk"})
    assert not improved and params == {PHI_NER_KEY: "b2xk"} and "skipped" in metrics


def test_the_model_only_adds_spans(first_fit):
    nlp = load_phi_ner(first_fit[0])
    text = "Pt came over from Tovaris overnight, stable. Marek visited and was updated."
    rule = [{"start": 0, "end": 25, "label": "LOCATION", "layer": "phi"}]  # a rule span covering "Tovaris"
    added = add_phi_candidates(nlp, text, rule)
    assert all(not (s["start"] < 25) for s in added)  # nothing overlapping the rule's span
    assert all(s["layer"] == "phi" and s["attributes"]["source"] == "phi_ner" for s in added)
    assert "Marek" in [s["text"] for s in added]


def test_notes_fit_trains_phi_alone_when_no_entities_are_marked():
    outcome = fit_ner(_accepted(20), default_label_config(), None)
    assert outcome["better"] and PHI_NER_KEY in outcome["params"] and "ner_model" not in outcome["params"]


def test_pipeline_adds_learnt_phi_and_fails_closed(first_fit):
    from annotators.notes.preannotate import ClinicalPipeline

    pipeline = ClinicalPipeline()
    pipeline.setup("cpu", default_label_config(), params=first_fit[0])
    text = "Report given to Wendlemoor nurse. Dr. Okafor aware. Yevette will visit in am."
    payload, deid = pipeline.annotate(text)
    phi = [s for s in payload["spans"] if s["layer"] == "phi"]
    assert deid == "done" and "Okafor" in [s["text"] for s in phi]  # the rules' span stays
    assert any(s["attributes"]["source"] == "phi_ner" for s in phi)

    def broken(*args, **kwargs):
        raise RuntimeError("model failure")

    pipeline.phi_ner = SimpleNamespace(pipe=broken)
    payload, deid = pipeline.annotate(text)
    assert deid == "failed" and "Okafor" in [s["text"] for s in payload["spans"] if s["layer"] == "phi"]
