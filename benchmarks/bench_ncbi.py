"""Disease-mention F1 of the clinical-notes pre-annotator on the NCBI disease corpus; prints one JSON object.

    .venv/bin/python benchmarks/bench_ncbi.py [--train-docs 100] [--no-train]

The pipeline is built as the server builds it (default label config, shipped ICD-10-CM + HPO + drugs in a temporary
OntologyStore) and measured on the TEST split (100 abstracts): PROBLEM entity spans against all NCBI mentions
(SpecificDisease, DiseaseClass, CompositeMention, Modifier), whatever their assertion. Then the in-project NER is
trained with `fit_ner` (its defaults) on the first `--train-docs` abstracts of the TRAIN split, loaded into the
pipeline, and the test split is measured again, for the whole pipeline and for the NER alone. The test split is
never used for training or tuning.

Matching: "exact" needs the same start and end; "overlap" counts a predicted span correct when it overlaps a gold
mention (precision) and a gold mention found when a predicted span overlaps it (recall).
Data: tests/data/ncbi_disease (public domain, see its README.md).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("OMP_NUM_THREADS", "1")

DATA = ROOT / "tests" / "data" / "ncbi_disease"
TRAIN_FILE = DATA / "NCBItrainset_corpus.txt"
TEST_FILE = DATA / "NCBItestset_corpus.txt"


def parse_pubtator(path: Path) -> list[dict]:
    """Documents in file order: {"pmid", "text" (title + " " + abstract), "mentions": [(start, end, text, type)]}."""
    docs: list[dict] = []
    current: dict | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            current = None
            continue
        if "|t|" in line[:20] and line.split("|", 2)[1] == "t":
            pmid, _, title = line.split("|", 2)
            current = {"pmid": pmid, "title": title, "abstract": "", "mentions": []}
            docs.append(current)
        elif current is not None and "|a|" in line[:20] and line.split("|", 2)[1] == "a":
            current["abstract"] = line.split("|", 2)[2]
        elif current is not None:
            pmid, start, end, text, kind = line.split("\t")[:5]
            current["mentions"].append((int(start), int(end), text, kind))
    for doc in docs:
        doc["text"] = doc.pop("title") + " " + doc.pop("abstract")
        for start, end, mention, _ in doc["mentions"]:
            if doc["text"][start:end].split() != mention.split():  # one mention's text has extra trailing spaces
                raise ValueError(f"PMID {doc['pmid']}: offsets {start}-{end} do not match {mention!r}")
    return docs


def gold_payload(doc: dict) -> dict:
    """NCBI mentions as an accepted notes annotation: PROBLEM entity spans, asserted present."""
    spans = []
    for start, end, mention, _ in sorted(set(doc["mentions"])):
        spans.append({"id": f"g{len(spans) + 1}", "start": start, "end": end, "label": "PROBLEM", "layer": "entity",
                      "text": doc["text"][start:end], "assertion": "present"})
    return {"spans": spans, "relations": []}


def score(gold: list[set], predicted: list[set]) -> dict:
    """Micro precision/recall/F1 over documents, exact and overlap matching; sets hold (start, end)."""
    def prf(tp_pred: int, n_pred: int, tp_gold: int, n_gold: int) -> dict:
        p = tp_pred / n_pred if n_pred else 0.0
        r = tp_gold / n_gold if n_gold else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}

    n_gold = sum(len(g) for g in gold)
    n_pred = sum(len(p) for p in predicted)
    exact = sum(len(g & p) for g, p in zip(gold, predicted))
    overlap_pred = sum(sum(any(a < e and s < b for a, b in g) for s, e in p) for g, p in zip(gold, predicted))
    overlap_gold = sum(sum(any(a < e and s < b for a, b in p) for s, e in g) for g, p in zip(gold, predicted))
    return {"gold": n_gold, "predicted": n_pred, "exact": prf(exact, n_pred, exact, n_gold),
            "overlap": prf(overlap_pred, n_pred, overlap_gold, n_gold)}


def gold_sets(docs: list[dict]) -> list[set]:
    return [{(s, e) for s, e, _, _ in doc["mentions"]} for doc in docs]


def pipeline_problems(pipeline, docs: list[dict]) -> tuple[list[set], float]:
    started = time.perf_counter()
    out = []
    for doc in docs:
        payload, _ = pipeline.annotate(doc["text"])
        out.append({(s["start"], s["end"]) for s in payload["spans"]
                    if s.get("layer") == "entity" and s["label"] == "PROBLEM"})
    return out, time.perf_counter() - started


def build_pipeline(store, params: dict | None = None):
    from annotators.notes.preannotate import ClinicalPipeline
    from annotators.notes.schema import default_label_config

    pipeline = ClinicalPipeline()
    pipeline.setup("cpu", default_label_config(), params, {"ontologies": store})
    return pipeline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-docs", type=int, default=100, help="first N abstracts of the train split")
    parser.add_argument("--no-train", action="store_true")
    args = parser.parse_args()

    from annotators.base import ItemView
    from ontologies import OntologyStore

    wall = time.perf_counter()
    test_docs = parse_pubtator(TEST_FILE)
    train_docs = parse_pubtator(TRAIN_FILE)[:args.train_docs]
    gold = gold_sets(test_docs)
    result: dict = {"corpus": "NCBI disease (PubTator, original-data)", "test_abstracts": len(test_docs),
                    "test_words": sum(len(d["text"].split()) for d in test_docs)}
    with tempfile.TemporaryDirectory() as cache_dir:
        started = time.perf_counter()
        store = OntologyStore(cache_dir)
        store.ensure_shipped(["icd10cm", "hpo", "drugs"])
        result["ontologies_build_seconds"] = round(time.perf_counter() - started, 2)

        started = time.perf_counter()
        pipeline = build_pipeline(store)
        result["pipeline_setup_seconds"] = round(time.perf_counter() - started, 2)
        predicted, seconds = pipeline_problems(pipeline, test_docs)
        result["out_of_the_box"] = {**score(gold, predicted), "annotate_seconds": round(seconds, 2)}

        if not args.no_train:
            from annotators.notes.ner import load_ner, predict_ner
            from annotators.notes.schema import default_label_config
            from annotators.notes.training import fit_ner

            accepted = [(ItemView(id=i + 1, kind="note", text=doc["text"]), gold_payload(doc))
                        for i, doc in enumerate(train_docs)]
            started = time.perf_counter()
            outcome = fit_ner(accepted, default_label_config(), None)
            train_seconds = time.perf_counter() - started
            m = outcome["metrics"]
            result["training"] = {
                "train_abstracts": len(train_docs), "train_mentions": sum(len(d["mentions"]) for d in train_docs),
                "seconds": round(train_seconds, 2), "trained_on": m["trained_on"], "n_train": m["n_train"],
                "n_dev": m["n_dev"], "epochs": m["epochs"],
                "fit_held_out_f1": round(m["held_out_f1"], 4), "train_ner_held_out_f1": round(m["f1"], 4),
            }
            pipeline = build_pipeline(store, outcome["params"])
            predicted, seconds = pipeline_problems(pipeline, test_docs)
            result["after_training"] = {**score(gold, predicted), "annotate_seconds": round(seconds, 2)}

            import base64

            nlp = load_ner(base64.b64decode(outcome["params"]["ner_model"]))
            ner_spans = predict_ner(nlp, [d["text"] for d in test_docs])
            result["ner_only"] = score(gold, [{(s["start"], s["end"]) for s in spans if s["label"] == "PROBLEM"}
                                              for spans in ner_spans])
    result["total_seconds"] = round(time.perf_counter() - wall, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
