"""Entity pre-annotation: a spaCy NER trained from accepted annotations (phrase matching is term_matcher.py).

Trained models travel as one msgpack blob holding the pipeline config and `nlp.to_bytes()`: spaCy's own
serialisation (no pickle). `load_ner` rebuilds only the pipeline shape we train (a tokenizer and one `ner`), so a
tampered blob cannot make spaCy construct other components.
"""
from __future__ import annotations

import random
import time
from typing import Sequence

MODEL_FORMAT = "clinlabel-notes-ner/1"


def _doc_with_entities(nlp, text: str, spans: Sequence[dict], layer: str = "entity"):
    """A training Doc: the spans of one layer snapped outward to token edges; overlaps keep the longest."""
    from spacy.util import filter_spans

    doc = nlp.make_doc(text)
    ents = []
    for span in spans:
        if span.get("layer", "entity") != layer:
            continue
        ent = doc.char_span(span["start"], span["end"], label=span["label"], alignment_mode="expand")
        if ent is not None and ent.text.strip():
            ents.append(ent)
    doc.ents = filter_spans(ents)
    return doc


def _split(examples: list, held_out: float, seed: int) -> tuple[list, list]:
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_test = max(1, int(round(len(examples) * held_out))) if len(examples) >= 5 else 0
    test_idx = set(order[:n_test])
    return ([examples[i] for i in order if i not in test_idx], [examples[i] for i in order if i in test_idx])


def _prf(nlp, docs) -> dict[str, float]:
    """Exact-match entity precision/recall/F1 of the pipeline on gold docs (spaCy's own scorer)."""
    from spacy.training import Example

    examples = [Example(nlp(doc.text), doc) for doc in docs]
    scores = nlp.get_pipe("ner").score(examples)
    per_type = {label: {k: round(float(v), 4) for k, v in s.items()}
                for label, s in (scores.get("ents_per_type") or {}).items()}
    return {"precision": float(scores["ents_p"] or 0.0), "recall": float(scores["ents_r"] or 0.0),
            "f1": float(scores["ents_f"] or 0.0), "per_label": per_type}


def train_ner(examples: Sequence[tuple[str, Sequence[dict]]], base_params: dict | None = None, seed: int = 0,
              n_iter: int = 15, held_out: float = 0.2, patience: int = 3, max_seconds: float = 240.0,
              labels: Sequence[str] | None = None, min_epochs: int = 5,
              layer: str = "entity") -> tuple[bytes, dict]:
    """Train a spaCy `ner` from (text, spans) pairs on the spans of one layer ("entity", or "phi" for the PHI
    model of phi_ner.py); returns (model blob, metrics on the held-out part).

    A dev tenth of the training part drives early stopping (F1 not improving for `patience` epochs, counted after
    `min_epochs`, since a fresh NER predicts nothing for its first epochs) and the best epoch's weights are kept;
    the held-out part is scored once at the end. `max_seconds` bounds the time spent. `base_params` may carry
    {"dropout", "batch_size", "learn_rate"}.
    """
    import spacy
    from spacy.training import Example
    from spacy.util import fix_random_seed, minibatch

    # Small batches and a brisk learning rate: accepted annotations come in tens of notes, not thousands.
    params = {"dropout": 0.2, "batch_size": 4, "learn_rate": 0.002, **(base_params or {})}
    started = time.monotonic()
    fix_random_seed(seed)
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    docs = [_doc_with_entities(nlp, text, spans, layer) for text, spans in examples if text.strip()]
    for label in sorted(set(labels or []) | {e.label_ for d in docs for e in d.ents}):
        ner.add_label(label)
    if not ner.labels:
        raise ValueError("no entity spans to learn from")
    train_docs, test_docs = _split(docs, held_out, seed)
    train_docs, dev_docs = _split(train_docs, 0.1, seed + 1) if len(train_docs) >= 20 else (train_docs, [])
    train_examples = [Example(nlp.make_doc(d.text), d) for d in train_docs]
    optimizer = nlp.initialize(lambda: train_examples)
    optimizer.learn_rate = float(params["learn_rate"])
    rng = random.Random(seed)
    best_f1, best_bytes, stale, history = -1.0, None, 0, []
    for epoch in range(n_iter):
        rng.shuffle(train_examples)
        losses: dict[str, float] = {}
        for batch in minibatch(train_examples, size=int(params["batch_size"])):
            nlp.update(batch, drop=float(params["dropout"]), sgd=optimizer, losses=losses)
        dev_f1 = _prf(nlp, dev_docs)["f1"] if dev_docs else -losses.get("ner", 0.0)
        history.append({"epoch": epoch + 1, "loss": round(float(losses.get("ner", 0.0)), 3),
                        "dev_f1": round(float(dev_f1), 4)})
        if dev_f1 > best_f1:
            best_f1, best_bytes, stale = dev_f1, nlp.get_pipe("ner").to_bytes(), 0
        else:
            stale += 1
        if (stale >= patience and epoch + 1 >= min_epochs) or time.monotonic() - started > max_seconds:
            break
    if best_bytes is not None:
        nlp.get_pipe("ner").from_bytes(best_bytes)
    metrics = _prf(nlp, test_docs) if test_docs else {"precision": 0.0, "recall": 0.0, "f1": 0.0, "per_label": {}}
    metrics.update({"n_train": len(train_docs), "n_dev": len(dev_docs), "n_held_out": len(test_docs),
                    "epochs": len(history), "history": history, "labels": list(ner.labels),
                    "seconds": round(time.monotonic() - started, 2), "seed": seed})
    return model_to_bytes(nlp), metrics


def model_to_bytes(nlp) -> bytes:
    import srsly

    return srsly.msgpack_dumps({"format": MODEL_FORMAT, "labels": list(nlp.get_pipe("ner").labels),
                                "model": nlp.to_bytes(exclude=["vocab"]), "vocab": nlp.vocab.to_bytes()})


def load_ner(blob: bytes):
    """Rebuild a model made by `train_ner`. Raises ValueError for anything else."""
    import spacy
    import srsly

    try:
        data = srsly.msgpack_loads(blob)
    except Exception as exc:
        raise ValueError("not a notes NER model") from exc
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        raise ValueError("not a notes NER model (unknown format)")
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for label in data.get("labels", []):
        ner.add_label(str(label))
    nlp.vocab.from_bytes(data["vocab"])
    nlp.initialize()  # allocates weights of the right shapes, replaced by from_bytes below
    nlp.from_bytes(data["model"], exclude=["vocab"])
    return nlp


def predict_ner(nlp, texts: Sequence[str], batch_size: int = 16, id_prefix: str = "n",
                layer: str = "entity") -> list[list[dict]]:
    """Spans of `layer` per text (offsets into the given text)."""
    out = []
    for doc in nlp.pipe(texts, batch_size=batch_size):
        out.append([{"id": f"{id_prefix}{i + 1}", "start": e.start_char, "end": e.end_char, "label": e.label_,
                     "layer": layer, "text": e.text,
                     "attributes": {"source": "ner" if layer == "entity" else f"{layer}_ner"}}
                    for i, e in enumerate(doc.ents)])
    return out
