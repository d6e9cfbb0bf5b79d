"""Round-trip loss per notes export format; prints one JSON object.

    .venv/bin/python benchmarks/bench_roundtrip.py

Exports the round-trip corpus (tests/notes/peer_corpus.py: 4 notes with overlapping, nested, crossing and
discontinuous spans, relations, attributes, assertions, concept ids with candidates, PHI, CRLF, tab, accents, CJK,
emoji) in every notes export format that has a reader, reads each file back with our importer (as an upload of that
file) and counts what did not come back: spans (extent + label), relations (type + both ends), attributes
(assertion and key=value attributes of the spans that came back) and concept ids (primary and candidates).
`cannot_carry` names what a peer format has no place for (annotators/notes/formats_export_peers.CANNOT_CARRY); a
loss outside that list is a writer or reader bug. A file our importer refuses reports `error`.
"""
from __future__ import annotations

import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "notes"))

from annotators.base import FormatError, ItemRejected  # noqa: E402
from annotators.notes.formats_export_peers import CANNOT_CARRY  # noqa: E402
from peer_corpus import corpus, export, loss, read_back  # noqa: E402

# deid_* write de-identified text without annotations: nothing to read back.
FORMATS = ("jsonl", "brat", "bioc", "label_studio", "spacy", "conll", "pubtator", "webanno", "iob2", "bioes",
           "doccano", "prodigy", "medcat")


def main() -> None:
    pairs = corpus()
    results = {}
    for fmt in FORMATS:
        t0 = time.perf_counter()
        data = export(fmt, pairs)
        t1 = time.perf_counter()
        try:
            items = read_back(fmt, data)
        except (FormatError, ItemRejected) as exc:
            results[fmt] = {"error": str(exc)[:300]}
            continue
        t2 = time.perf_counter()
        results[fmt] = {**loss(pairs, items), "export_ms": round((t1 - t0) * 1000, 1),
                        "import_ms": round((t2 - t1) * 1000, 1)}
        if fmt in CANNOT_CARRY:
            results[fmt]["cannot_carry"] = CANNOT_CARRY[fmt]
    spans = [s for _, p in pairs for s in (p or {"spans": []})["spans"]]
    print(json.dumps({
        "corpus": {"notes": len(pairs), "spans": len(spans),
                   "relations": sum(len((p or {}).get("relations") or []) for _, p in pairs)},
        "round_trip": results,
        "formats_without_loss": sorted(f for f, r in results.items() if "lost" in r and not any(r["lost"].values())),
    }))


if __name__ == "__main__":
    main()
