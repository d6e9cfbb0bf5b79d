"""`fit` for notes: train the spaCy NER on accepted entity spans, and the PHI NER of phi_ner.py on accepted PHI spans.
Each model of a new version is the better of the new one and the previous one on held-out accepted notes; the version
becomes active when one of them improved."""
from __future__ import annotations

import base64

from annotators.notes.ner import load_ner, predict_ner, train_ner
from annotators.notes.phi_ner import fit_phi_ner


def _examples(accepted) -> list[tuple[str, list[dict]]]:
    return [(view.text or "", [s for s in payload.get("spans", []) if s.get("layer", "entity") == "entity"])
            for view, payload in accepted if view.text]


def _f1(nlp, examples) -> float:
    if not examples:
        return 0.0
    predicted = predict_ner(nlp, [text for text, _ in examples])
    tp = n_gold = n_pred = 0
    for (_, gold), pred in zip(examples, predicted):
        g = {(s["start"], s["end"], s["label"]) for s in gold}
        p = {(s["start"], s["end"], s["label"]) for s in pred}
        tp, n_gold, n_pred = tp + len(g & p), n_gold + len(g), n_pred + len(p)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _fit_entities(accepted, label_config: dict, previous: dict | None) -> tuple[dict, dict, bool] | None:
    """Every fifth accepted note is held out; the new model is kept if it scores at least as well there as the
    previous one (which is carried over otherwise). None when no accepted note has entity spans."""
    examples = _examples(accepted)
    if not any(spans for _, spans in examples):
        return None
    held_out = examples[::5]
    train = [e for i, e in enumerate(examples) if i % 5]
    labels = [label["name"] for label in label_config.get("entity_labels", [])]
    blob, metrics = train_ner(train or examples, labels=labels)
    new_f1 = _f1(load_ner(blob), held_out)
    previous_f1 = None
    old_blob = (previous or {}).get("ner_model")
    if old_blob:
        previous_f1 = _f1(load_ner(base64.b64decode(old_blob)), held_out)
    better = previous_f1 is None or new_f1 >= previous_f1
    params = {"ner_model": base64.b64encode(blob).decode("ascii") if better else old_blob}
    return params, {**metrics, "held_out_f1": new_f1, "previous_held_out_f1": previous_f1,
                    "held_out_notes": len(held_out), "trained_on": len(train or examples)}, better


def fit_ner(accepted, label_config: dict, previous: dict | None) -> dict | None:
    entities = _fit_entities(accepted, label_config, previous)
    phi_params, phi_metrics, phi_better = fit_phi_ner(accepted, label_config, previous) \
        if label_config.get("phi_labels") else ({}, {"skipped": "the project has no PHI labels"}, False)
    if entities is None and not phi_better:
        if not phi_params:
            raise ValueError("no entity or PHI spans to learn from")
        return {"params": phi_params, "metrics": {"phi": phi_metrics}, "better": False}
    params, metrics, better = entities or ({}, {}, False)
    return {"params": {**params, **phi_params}, "metrics": {**metrics, "phi": phi_metrics},
            "better": better or phi_better}
