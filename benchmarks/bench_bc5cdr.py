"""Disease and chemical mention F1 of the clinical-notes pre-annotator on BC5CDR; prints one JSON object.

    .venv/bin/python benchmarks/bench_bc5cdr.py --corpus DIR [--splits devel,train] [--limit N] [--errors 30]
        [--obo doid.obo] [--obo mondo.obo] [--match-scopes EXACT,RELATED]

DIR holds `devel.tsv` (and `train.tsv`) of cambridgeltl/MTL-Bioinformatics-2016 `data/BC5CDR-IOB/` (token<TAB>IOB
tag, Disease/Chemical). Nothing is fetched: without a corpus (--corpus or the environment variable
CLINLABEL_BC5CDR_CORPUS) it prints {"skipped": ...}. The test split is kept aside for acceptance and never read here.

The IOB files have no document markers: sentences are separated by blank lines and the abstracts follow one another.
The stream is cut into pseudo-documents of `--block` sentences (default 10, about one abstract, which a block
boundary may cut), and each is annotated after the text of the block before it (not scored), so that a short form
defined in an earlier sentence ("... (PTH)") is known, as it is in the whole abstract; `--no-context` annotates each
block alone. Text and gold spans are rebuilt by the project's own CoNLL reader (tokens joined by one space,
sentences by a line break); the pipeline sees that text.

The pipeline is built as bench_ncbi builds it (default label config, shipped ICD-10-CM + HPO + drugs in a temporary
OntologyStore), without PHI detection unless `--with-phi` (PHI spans are never scored here). `--obo FILE` loads
an OBO file (DOID, MONDO: named by its `ontology:` header) into that temporary store as well, so the default PROBLEM
terminologies use it; `--match-scopes` sets which synonym scopes of those ontologies become phrases. PROBLEM spans are
scored against Disease mentions and MEDICATION spans against Chemical mentions, whatever their assertion. "exact"
needs the same start and end; "overlap" as in bench_ncbi. `--errors N` prints the N commonest missed and false
strings per type to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("OMP_NUM_THREADS", "1")

TYPES = {"Disease": "PROBLEM", "Chemical": "MEDICATION"}
SPLITS = ("devel", "train")  # never "test": the acceptance split


def load_split(path: Path, block: int) -> list[dict]:
    """Pseudo-documents of `block` sentences: {"text", "gold": {type: {(start, end)}}} through read_conll."""
    from annotators.notes.formats_conll import read_conll

    sentences = [s for s in path.read_text(encoding="utf-8").split("\n\n") if s.strip()]
    stream = "\n\n".join("-DOCSTART-\tO\n\n" + "\n\n".join(sentences[i:i + block])
                         for i in range(0, len(sentences), block))
    docs = []
    for item in read_conll(stream.encode("utf-8"), path.name):
        gold: dict[str, set] = {t: set() for t in TYPES}
        for payload in item.annotations:
            for span in payload["spans"]:
                gold[span["label"]].add((span["start"], span["end"]))
        docs.append({"text": item.text, "gold": gold})
    return docs


def _prf(tp_pred: int, n_pred: int, tp_gold: int, n_gold: int) -> dict:
    p = tp_pred / n_pred if n_pred else 0.0
    r = tp_gold / n_gold if n_gold else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4)}


def score(gold: list[set], predicted: list[set]) -> dict:
    n_gold = sum(len(g) for g in gold)
    n_pred = sum(len(p) for p in predicted)
    exact = sum(len(g & p) for g, p in zip(gold, predicted))
    overlap_pred = sum(sum(any(a < e and s < b for a, b in g) for s, e in p) for g, p in zip(gold, predicted))
    overlap_gold = sum(sum(any(a < e and s < b for a, b in p) for s, e in g) for g, p in zip(gold, predicted))
    return {"gold": n_gold, "predicted": n_pred, "exact": _prf(exact, n_pred, exact, n_gold),
            "overlap": _prf(overlap_pred, n_pred, overlap_gold, n_gold)}


def errors(docs: list[dict], predicted: list[dict], kind: str) -> tuple[Counter, Counter]:
    missed, false = Counter(), Counter()
    for doc, pred in zip(docs, predicted):
        gold, text = doc["gold"][kind], doc["text"]
        for s, e in gold - pred[kind]:
            missed[text[s:e]] += 1
        for s, e in pred[kind] - gold:
            false[text[s:e]] += 1
    return missed, false


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=os.environ.get("CLINLABEL_BC5CDR_CORPUS"))
    parser.add_argument("--splits", default="devel", help="comma-separated: devel, train (never test)")
    parser.add_argument("--block", type=int, default=10, help="sentences per pseudo-document")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pseudo-documents per split (0: all)")
    parser.add_argument("--no-context", action="store_true", help="annotate each block without the one before")
    parser.add_argument("--with-phi", action="store_true", help="run PHI detection too (slower; not scored)")
    parser.add_argument("--errors", type=int, default=0, help="print the N commonest missed/false strings to stderr")
    parser.add_argument("--obo", action="append", default=[], metavar="FILE",
                        help="an OBO file (e.g. doid.obo, mondo.obo) loaded into the run's temporary store")
    parser.add_argument("--match-scopes", default=None,
                        help="synonym scopes of the OBO disease ontologies that become phrases (default: EXACT)")
    args = parser.parse_args()
    directory = Path(args.corpus) if args.corpus else None
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    if any(s not in SPLITS for s in splits):
        parser.error(f"--splits: one of {', '.join(SPLITS)} (the test split is kept aside)")
    if directory is None or not all((directory / f"{s}.tsv").is_file() for s in splits):
        print(json.dumps({"skipped": "no BC5CDR corpus: pass --corpus DIR or set CLINLABEL_BC5CDR_CORPUS (DIR with "
                                     "devel.tsv/train.tsv of cambridgeltl/MTL-Bioinformatics-2016 data/BC5CDR-IOB)"}))
        return 0

    from annotators.notes.preannotate import ClinicalPipeline
    from annotators.notes.schema import default_label_config
    from ontologies import OntologyStore

    wall = time.perf_counter()
    result: dict = {"corpus": "BC5CDR (cambridgeltl/MTL-Bioinformatics-2016, IOB)", "block_sentences": args.block,
                    "labels": TYPES}
    with tempfile.TemporaryDirectory() as cache_dir:
        started = time.perf_counter()
        store = OntologyStore(cache_dir)
        store.ensure_shipped(["icd10cm", "hpo", "drugs"])
        result["obo"] = [store.import_files("obo", path) for path in args.obo]
        for entry in result["obo"]:
            entry.pop("warnings", None)
        if args.match_scopes:
            from annotators.notes import vocabularies

            vocabularies.MATCH_SCOPES = frozenset(s.strip().upper() for s in args.match_scopes.split(","))
            result["match_scopes"] = sorted(vocabularies.MATCH_SCOPES)
        result["ontologies_build_seconds"] = round(time.perf_counter() - started, 2)
        config = default_label_config()
        if not args.with_phi:
            config = {**config, "phi_labels": []}
        started = time.perf_counter()
        pipeline = ClinicalPipeline()
        pipeline.setup("cpu", config, None, {"ontologies": store})
        result["pipeline_setup_seconds"] = round(time.perf_counter() - started, 2)
        for split in splits:
            docs = load_split(directory / f"{split}.tsv", args.block)
            if args.limit:
                docs = docs[:args.limit]
            started = time.perf_counter()
            predicted = []
            for i, doc in enumerate(docs):
                context = "" if args.no_context or i == 0 else docs[i - 1]["text"] + "\n"
                payload, _ = pipeline.annotate(context + doc["text"])
                n = len(context)
                predicted.append({kind: {(s["start"] - n, s["end"] - n) for s in payload["spans"]
                                         if s.get("layer") == "entity" and s["label"] == label and s["start"] >= n}
                                  for kind, label in TYPES.items()})
            seconds = time.perf_counter() - started
            words = sum(len(d["text"].split()) for d in docs)
            # words/s counts the scored words only; with context every block is annotated twice
            out = {"documents": len(docs), "words": words, "words_per_s": round(words / seconds),
                   "context": not args.no_context}
            for kind in TYPES:
                out[kind] = score([d["gold"][kind] for d in docs], [p[kind] for p in predicted])
                if args.errors:
                    missed, false = errors(docs, predicted, kind)
                    print(f"# {split} {kind}: missed gold (exact)", file=sys.stderr)
                    for text, count in missed.most_common(args.errors):
                        print(f"{count:5d} {text!r}", file=sys.stderr)
                    print(f"# {split} {kind}: false predicted (exact)", file=sys.stderr)
                    for text, count in false.most_common(args.errors):
                        print(f"{count:5d} {text!r}", file=sys.stderr)
            result[split] = out
    result["total_seconds"] = round(time.perf_counter() - wall, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
