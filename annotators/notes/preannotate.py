"""The clinical-notes pre-annotation pipeline: PHI, terminology matching (+ a trained NER), sections, assertion,
ontology linking, medication attribute relations. Models load in `setup`, never at import time."""
from __future__ import annotations

import base64
import logging
import threading
from typing import Sequence

from annotators.base import ItemView, Prediction
from annotators.notes import lexicon
from annotators.notes.assertion import assign_assertions
from annotators.notes.sections import detect_sections

log = logging.getLogger("clinlabel.notes")
_MATCHERS: dict[tuple, object] = {}  # phrase sets are large (≈100k); build once per worker process
_MATCHER_LOCK = threading.Lock()
MAX_PHRASE_WORDS = 6


def _label_terminologies(config: dict) -> dict[str, list[str]]:
    return {label["name"]: list(label.get("terminologies", [])) for label in config.get("entity_labels", [])}


def _phrases(config: dict, store) -> dict[str, list]:
    """Label → phrases (with their concept) from the bound terminologies, plus the built-in seeds and abbreviations."""
    from ontologies import load_abbreviations

    phrases: dict[str, list] = {}
    available = set(store.names()) if store is not None else set()
    for label, terminologies in _label_terminologies(config).items():
        entries: list = list(lexicon.SEED_PHRASES.get(label, []))
        for name in terminologies:
            if name not in available:
                continue
            index = store.index(name)
            for i, code in enumerate(index.codes):
                concept = {"terminology": name, "code": code, "name": index.concept_name(i)}
                for phrase in (index.concept_name(i), *index.concept_synonyms(i)):
                    if 3 <= len(phrase) and len(phrase.split()) <= MAX_PHRASE_WORDS:
                        entries.append((phrase, concept))
        entries += [p for p in (config.get("extra_phrases") or {}).get(label, [])]
        phrases[label] = entries
    problem = next((label for label, t in _label_terminologies(config).items() if "icd10cm" in t or "hpo" in t), None)
    if problem:
        # "htn", "chf": clinicians write abbreviations; link them through the search, which expands them too.
        phrases[problem] += [abbr for abbr in load_abbreviations() if len(abbr) >= 2 and abbr.isalpha()]
    return phrases


def _matcher(config: dict, store):
    from annotators.notes.ner import TermMatcher

    key = (repr(sorted(_label_terminologies(config).items())), repr(config.get("extra_phrases")),
           tuple(sorted((t["name"], t["version"]) for t in store.available())) if store is not None else ())
    with _MATCHER_LOCK:
        if key not in _MATCHERS:
            _MATCHERS.clear()
            _MATCHERS[key] = TermMatcher(_phrases(config, store))
        return _MATCHERS[key]


def _attribute_spans(text: str, entity_spans: list[dict]) -> tuple[list[dict], list[dict]]:
    """DOSAGE/ROUTE/FREQUENCY spans after a medication in the same sentence, with their relations."""
    meds = sorted((s for s in entity_spans if s["label"] == "MEDICATION"), key=lambda s: s["start"])
    spans, relations = [], []
    taken = [(s["start"], s["end"]) for s in entity_spans]
    for label, pattern in lexicon.ATTRIBUTE_PATTERNS.items():
        for m in pattern.finditer(text):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            head = None
            for med in meds:
                if med["end"] <= m.start() and not lexicon.SENTENCE_END.search(text, med["end"], m.start()):
                    head = med
            if head is None:
                continue  # a number or "daily" with no medication before it in the sentence is not an attribute
            span = {"id": f"a{len(spans) + 1}", "start": m.start(), "end": m.end(), "label": label,
                    "layer": "entity", "text": m.group(0), "attributes": {"source": "pattern"}}
            spans.append(span)
            taken.append((m.start(), m.end()))
            relations.append({"id": f"r{len(relations) + 1}", "type": lexicon.ATTRIBUTE_RELATIONS[label],
                              "head": head["id"], "tail": span["id"]})
    return spans, relations


def _unit(score) -> float:
    """Search scores are ranking scores (they can pass 1 with boosts); payload scores are confidences in [0, 1]."""
    return round(max(0.0, min(1.0, float(score))), 4)


class ClinicalPipeline:
    name = "clinical-pipeline"
    wants_gpu = False

    def __init__(self) -> None:
        self.version = "1"
        self.config: dict = {}
        self.store = None
        self.phi = None
        self.ner = None
        self.matcher = None

    def setup(self, device: str, label_config: dict, params: dict | None = None, resources: dict | None = None):
        from annotators.notes.phi import get_default_detector

        self.config = label_config
        self.store = (resources or {}).get("ontologies")
        self.phi = get_default_detector() if label_config.get("phi_labels") else None
        self.matcher = _matcher(label_config, self.store)
        blob = (params or {}).get("ner_model")
        if blob:
            from annotators.notes.ner import load_ner

            self.ner = load_ner(base64.b64decode(blob))
            if device == "cuda":
                log.info("spaCy NER runs on the CPU: no CUDA build of thinc is installed")

    def _link(self, spans: list[dict]) -> None:
        if self.store is None:
            return
        bound = _label_terminologies(self.config)
        available = set(self.store.names())
        for span in spans:
            terminologies = [t for t in bound.get(span["label"], []) if t in available]
            if not terminologies or span.get("layer") != "entity":
                continue
            try:
                found = self.store.candidates(span["text"], terminologies, k=5)
            except (ValueError, KeyError):
                continue
            if found:
                matched = span.get("concept")
                span["candidates"] = [{"terminology": c["terminology"], "code": c["code"], "name": c["name"],
                                       "score": _unit(c["score"])} for c in found]
                if matched and all((c["terminology"], c["code"]) != (matched["terminology"], matched["code"])
                                   for c in found):
                    span["candidates"].append({**matched, "score": 0.0})
                # The search ranks the code a coder would pick (billable leaf, "unspecified") above the phrase's
                # own concept, which is often a category.
                top = found[0]
                span["concept"] = {"terminology": top["terminology"], "code": top["code"], "name": top["name"]}
                span["score"] = _unit(found[0]["score"])

    def annotate(self, text: str) -> tuple[dict, str]:
        """Payload for one note and its de-identification state ('done' or 'failed': fail closed)."""
        from annotators.notes.phi import PhiError

        # A heading ("Family History:", "Allergies:") names a section, not a finding.
        entities = [s for s in self.matcher.match(text, id_prefix="t") if not text[s["end"]:s["end"] + 1] == ":"]
        if self.ner is not None:
            from annotators.notes.ner import predict_ner

            known = [(s["start"], s["end"]) for s in entities]
            for span in predict_ner(self.ner, [text], id_prefix="n")[0]:
                if not any(a < span["end"] and span["start"] < b for a, b in known):
                    entities.append(span)
        attributes, relations = _attribute_spans(text, entities)
        spans = entities + attributes
        assign_assertions(text, spans, detect_sections(text))
        self._link(spans)
        deid = "done"
        if self.phi is not None:
            try:
                spans += self.phi.detect(text, id_prefix="p")
            except PhiError:
                deid = "failed"
        for span in spans:
            span.setdefault("score", 1.0 if span.get("attributes", {}).get("source") else 0.5)
        return {"spans": spans, "relations": relations}, deid

    def predict(self, items: Sequence[ItemView]) -> list[Prediction]:
        out = []
        for item in items:
            payload, deid = self.annotate(item.text or "")
            scores = [s["score"] for s in payload["spans"] if s.get("layer") == "entity"]
            out.append(Prediction(item_id=item.id, payload=payload, score=min(scores) if scores else 0.0,
                                  item_updates={"deid_state": deid}))
        return out
