"""`fit` for notes: train the spaCy NER on accepted entity spans; keep it only if it beats the previous model."""
from __future__ import annotations

import base64

from annotators.notes.ner import load_ner, predict_ner, train_ner


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


def fit_ner(accepted, label_config: dict, previous: dict | None) -> dict:
    """Every fifth accepted note is held out; the new model replaces the old one only if it scores at least as well
    there."""
    examples = _examples(accepted)
    held_out = examples[::5]
    train = [e for i, e in enumerate(examples) if i % 5]
    labels = [label["name"] for label in label_config.get("entity_labels", [])]
    blob, metrics = train_ner(train or examples, labels=labels)
    new_f1 = _f1(load_ner(blob), held_out)
    previous_f1 = None
    if previous and previous.get("ner_model"):
        previous_f1 = _f1(load_ner(base64.b64decode(previous["ner_model"])), held_out)
    return {"params": {"ner_model": base64.b64encode(blob).decode("ascii")},
            "metrics": {**metrics, "held_out_f1": new_f1, "previous_held_out_f1": previous_f1,
                        "held_out_notes": len(held_out), "trained_on": len(train or examples)},
            "better": previous_f1 is None or new_f1 >= previous_f1}
