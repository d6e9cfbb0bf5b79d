"""A PHI NER learnt from a project's accepted PHI spans (issue 13), beside the rules of phi.py.

The rules are tuned on nursing notes; a project's own notes name their sites, wards and people in their own ways, and
its annotators mark them. `fit_phi_ner` trains a spaCy NER on the accepted "phi"-layer spans (ner.train_ner) and
keeps it only when it beats the previous PHI model on held-out accepted notes; `add_phi_candidates` runs it after the
rules and only ADDS spans the rules missed: it never removes or relabels a rule's span, so a weak model can cost
precision but never recall (fail-closed).
"""
from __future__ import annotations

import base64

from annotators.notes.ner import load_ner, predict_ner, train_ner

PHI_NER_KEY = "phi_ner_model"  # the model's key in the pre-annotator's parameters (base64 of ner.model_to_bytes)
MIN_PHI_NOTES = 10  # fewer accepted notes with PHI spans than this: too little to learn from, no PHI model
HELD_OUT_EVERY = 5  # every fifth accepted note is held out to compare the new PHI model with the previous one


def phi_examples(accepted) -> list[tuple[str, list[dict]]]:
    """(text, phi-layer spans) of each accepted note with text."""
    return [(view.text or "", [s for s in payload.get("spans", []) if s.get("layer") == "phi"])
            for view, payload in accepted if view.text]


def overlap_scores(nlp, examples) -> dict[str, float]:
    """Any-overlap recall, precision and F1 of the model alone on gold PHI spans (the detector's own scoring: a PHI
    span is found when something covers part of it, whatever the label)."""
    predicted = predict_ner(nlp, [text for text, _ in examples], layer="phi") if examples else []
    found = n_gold = correct = n_pred = 0
    for (_, gold), pred in zip(examples, predicted):
        found += sum(any(p["start"] < g["end"] and g["start"] < p["end"] for p in pred) for g in gold)
        correct += sum(any(p["start"] < g["end"] and g["start"] < p["end"] for g in gold) for p in pred)
        n_gold, n_pred = n_gold + len(gold), n_pred + len(pred)
    recall, precision = found / n_gold if n_gold else 0.0, correct / n_pred if n_pred else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"recall": round(recall, 4), "precision": round(precision, 4), "f1": round(f1, 4)}


def fit_phi_ner(accepted, label_config: dict, previous: dict | None) -> tuple[dict, dict, bool]:
    """(params, metrics, improved): params hold the better of the new and the previous PHI model (any-overlap F1 on
    the held-out notes; the new one must score strictly higher), `improved` says the new one was kept."""
    old_blob = (previous or {}).get(PHI_NER_KEY)
    carried = {PHI_NER_KEY: old_blob} if old_blob else {}
    examples = phi_examples(accepted)
    with_phi = sum(1 for _, spans in examples if spans)
    if with_phi < MIN_PHI_NOTES:
        return carried, {"skipped": f"{with_phi} accepted notes with PHI spans, {MIN_PHI_NOTES} needed"}, False
    held_out = examples[::HELD_OUT_EVERY]
    train = [e for i, e in enumerate(examples) if i % HELD_OUT_EVERY]
    blob, metrics = train_ner(train, labels=list(label_config.get("phi_labels", [])), layer="phi")
    new = overlap_scores(load_ner(blob), held_out)
    old = overlap_scores(load_ner(base64.b64decode(old_blob)), held_out) if old_blob else None
    improved = old is None or new["f1"] > old["f1"]
    metrics = {**{k: v for k, v in metrics.items() if k != "history"}, "held_out_overlap": new,
               "previous_held_out_overlap": old, "held_out_notes": len(held_out), "kept": improved}
    return ({PHI_NER_KEY: base64.b64encode(blob).decode("ascii")} if improved else carried), metrics, improved


def load_phi_ner(params: dict | None):
    blob = (params or {}).get(PHI_NER_KEY)
    return load_ner(base64.b64decode(blob)) if blob else None


def add_phi_candidates(nlp, text: str, rule_spans: list[dict], id_prefix: str = "q") -> list[dict]:
    """The model's PHI spans that overlap no rule span (phi layer, source "phi_ner"); the rule spans stay as they
    are. Exceptions propagate: the caller treats them as a failed de-identification."""
    taken = [(s["start"], s["end"]) for s in rule_spans]
    added = []
    for span in predict_ner(nlp, [text], id_prefix=id_prefix, layer="phi")[0]:
        if span["text"].strip() and not any(a < span["end"] and span["start"] < b for a, b in taken):
            added.append({**span, "score": 0.5})
    return added
