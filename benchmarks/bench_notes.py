"""Benchmark of the notes NLP core; prints one JSON object.

    .venv/bin/python benchmarks/bench_notes.py [--notes 100] [--seed 0] [--write-data PATH]

Measures pre-annotation throughput on one core (PHI detection + terminology matching + sections + assertion, words
per second over synthetic notes) and NER training time on 100 synthetic notes with its held-out F1. Terms come from
the project's OntologyStore (built in a temporary cache), else from the small phrase list below. Mention F1 on the
NCBI disease corpus (shipped in tests/data/ncbi_disease) is measured by bench_ncbi.py.
`--write-data` writes the synthetic notes as JSONL (text + spans), the file the tests train on.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the brief asks

LEXICON = {
    "PROBLEM": ["hypertension", "type 2 diabetes mellitus", "congestive heart failure", "pneumonia", "atrial fibrillation",
                "chronic kidney disease", "asthma", "COPD exacerbation", "urinary tract infection", "cellulitis",
                "hyperlipidemia", "chest pain", "shortness of breath", "fever", "headache", "anemia", "sepsis",
                "deep vein thrombosis", "pulmonary embolism", "hypothyroidism", "osteoarthritis", "migraine",
                "major depressive disorder", "acute kidney injury", "gout", "syncope", "nausea", "back pain"],
    "MEDICATION": ["metformin", "lisinopril", "furosemide", "apixaban", "atorvastatin", "amlodipine", "insulin glargine",
                   "ceftriaxone", "azithromycin", "prednisone", "albuterol", "levothyroxine", "metoprolol",
                   "ondansetron", "acetaminophen", "heparin", "vancomycin", "sertraline", "allopurinol", "aspirin"],
    "PROCEDURE": ["colonoscopy", "cardiac catheterization", "appendectomy", "knee replacement", "intubation",
                  "central line placement", "hemodialysis", "thoracentesis", "lumbar puncture", "CABG"],
    "TEST": ["chest x-ray", "CT scan", "echocardiogram", "hemoglobin A1c", "troponin", "complete blood count",
             "basic metabolic panel", "urinalysis", "blood cultures", "MRI brain", "EKG", "lipid panel"],
    "ANATOMY": ["left lower lobe", "right knee", "abdomen", "left ventricle", "lumbar spine", "right arm", "liver",
                "kidneys", "colon", "left leg"],
}

TEMPLATES = [
    "Patient is a {age} year old with a history of {PROBLEM} and {PROBLEM}.",
    "She presents with {PROBLEM} for three days.",
    "Denies {PROBLEM} or {PROBLEM}.",
    "Started {MEDICATION} 20 mg daily and continued {MEDICATION}.",
    "{TEST} showed findings in the {ANATOMY} concerning for {PROBLEM}.",
    "Underwent {PROCEDURE} last year without complications.",
    "Plan: {TEST} tomorrow, continue {MEDICATION}, consider {PROCEDURE}.",
    "Mother had {PROBLEM}.",
    "Exam notable for tenderness of the {ANATOMY}.",
    "Ordered {TEST} and {TEST}; results pending.",
    "Discharged on {MEDICATION} for {PROBLEM}.",
    "Pain in the {ANATOMY} improved after {MEDICATION}.",
]


def synthetic_notes(n: int, seed: int = 0) -> list[tuple[str, list[dict]]]:
    """`n` notes of 6-10 template sentences each, with their entity spans."""
    rng = random.Random(seed)
    notes = []
    for _ in range(n):
        text, spans = "", []
        for template in rng.sample(TEMPLATES, rng.randint(6, 10)):
            sentence = template.replace("{age}", str(rng.randint(20, 88)))
            while "{" in sentence:
                head, rest = sentence.split("{", 1)
                label, tail = rest.split("}", 1)
                phrase = rng.choice(LEXICON[label])
                start = len(text) + len(head)
                spans.append({"id": f"s{len(spans) + 1}", "start": start, "end": start + len(phrase),
                              "label": label, "layer": "entity", "text": phrase})
                text += head + phrase
                sentence = tail
            text += sentence + (" " if rng.random() < 0.7 else "\n")
        notes.append((text.rstrip(), spans))
    return notes


def term_phrases(cache_dir: str) -> tuple[dict, str]:
    """Phrases per label from the project's OntologyStore (ICD-10-CM + HPO as PROBLEM, drugs as MEDICATION, each
    with its concept), or the built-in lexicon when ontologies/ is unavailable."""
    try:
        from ontologies.store import OntologyStore

        store = OntologyStore(cache_dir)
        store.ensure_shipped(["icd10cm", "hpo", "drugs"])
    except Exception as exc:  # ontologies/ absent or its data not installed: fall back, and say so
        return LEXICON, f"builtin ({type(exc).__name__})"
    phrases: dict[str, list] = {"PROBLEM": [], "MEDICATION": []}
    for name, label in (("icd10cm", "PROBLEM"), ("hpo", "PROBLEM"), ("drugs", "MEDICATION")):
        index = store.index(name)
        for i, code in enumerate(index.codes):
            concept = {"terminology": name, "code": code, "name": index.concept_name(i)}
            for phrase in [index.concept_name(i), *index.concept_synonyms(i)]:
                phrases[label].append((phrase, concept))
    for label in ("PROCEDURE", "TEST", "ANATOMY"):
        phrases[label] = LEXICON[label]
    return phrases, "ontologies.OntologyStore (icd10cm, hpo, drugs)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-data", type=Path)
    parser.add_argument("--builtin-terms", action="store_true", help="skip building the ontology indexes")
    args = parser.parse_args()
    notes = synthetic_notes(args.notes, args.seed)
    if args.write_data:
        with args.write_data.open("w", encoding="utf-8") as handle:
            for text, spans in notes:
                handle.write(json.dumps({"text": text, "spans": spans}) + "\n")

    from annotators.notes.assertion import assign_assertions
    from annotators.notes.ner import train_ner
    from annotators.notes.term_matcher import TermMatcher
    from annotators.notes.phi import get_default_detector
    from annotators.notes.sections import detect_sections

    phi_texts = [json.loads(line)["text"] for line in
                 (ROOT / "tests/data/notes/phi_gold.jsonl").read_text(encoding="utf-8").splitlines() if line]
    texts = [text for text, _ in notes] + phi_texts
    words = sum(len(t.split()) for t in texts)

    started = time.perf_counter()
    detector = get_default_detector().setup()
    phi_setup_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as cache_dir:
        started = time.perf_counter()
        phrases, phrase_source = (LEXICON, "builtin") if args.builtin_terms else term_phrases(cache_dir)
        terms_load_seconds = time.perf_counter() - started
    started = time.perf_counter()
    matcher = TermMatcher(phrases)
    matcher_build_seconds = time.perf_counter() - started

    timings = {"phi": 0.0, "terms": 0.0, "sections_assertion": 0.0}
    n_phi = n_terms = 0
    for text in texts:
        t0 = time.perf_counter()
        n_phi += len(detector.detect(text))
        t1 = time.perf_counter()
        spans = matcher.match(text)
        n_terms += len(spans)
        t2 = time.perf_counter()
        assign_assertions(text, spans, detect_sections(text))
        t3 = time.perf_counter()
        timings["phi"] += t1 - t0
        timings["terms"] += t2 - t1
        timings["sections_assertion"] += t3 - t2
    total = sum(timings.values())

    t0 = time.perf_counter()
    _blob, metrics = train_ner(notes, seed=args.seed, n_iter=15)
    train_seconds = time.perf_counter() - t0

    print(json.dumps({
        "notes": len(texts), "words": words, "phi_setup_seconds": round(phi_setup_seconds, 2),
        "phrase_source": phrase_source, "phrases": sum(len(v) for v in phrases.values()),
        "terms_load_seconds": round(terms_load_seconds, 2), "matcher_build_seconds": round(matcher_build_seconds, 2),
        "phi_spans": n_phi, "term_spans": n_terms,
        "preannotation_words_per_second": round(words / total, 1),
        "words_per_second_by_step": {k: round(words / v, 1) for k, v in timings.items() if v},
        "ner_train_notes": args.notes, "ner_train_seconds": round(train_seconds, 2),
        "ner_epochs": metrics["epochs"], "ner_held_out": {k: round(metrics[k], 4) for k in ("precision", "recall", "f1")},
        "ncbi_disease": "see the ncbi benchmark (bench_ncbi.py)",
    }))


if __name__ == "__main__":
    main()
