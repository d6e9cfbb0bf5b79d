"""Importing peers' corpora (issue 14): a generated 10,000-document corpus with ~30 mentions per document, written
in each format, read by our readers (documents/s, parse only), and imported end to end into a notes project on a
real server with its worker (upload -> background job -> items and import drafts stored; documents/s).
Target: >= 1,000 documents/s for JSONL, PubTator and BioC.

Usage: python benchmarks/bench_import.py [--docs 10000] [--no-server]
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

WORDS = ("patient", "denies", "reports", "history", "of", "with", "and", "the", "was", "started", "on", "for",
         "since", "today", "mild", "severe", "chronic", "acute", "left", "right")
MENTIONS = (("asthma", "Disease", "D001249"), ("aspirin", "Chemical", "D001241"), ("colon cancer", "Disease", "D003110"),
            ("metformin", "Chemical", "D008687"), ("hypertension", "Disease", "D006973"), ("warfarin", "Chemical", "D014859"))


def corpus(docs: int, mentions: int = 30, seed: int = 7) -> list[tuple[str, list[tuple[int, int, str, str]]]]:
    rng = random.Random(seed)
    out = []
    for _ in range(docs):
        parts, spans, at = [], [], 0
        for _ in range(mentions):
            filler = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))) + " "
            surface, label, code = rng.choice(MENTIONS)
            parts += [filler, surface, ". "]
            start = at + len(filler)
            spans.append((start, start + len(surface), label, code))
            at = start + len(surface) + 2
        out.append(("".join(parts).strip(), spans))
    return out


def as_jsonl(docs) -> bytes:
    return "".join(json.dumps({"text": text, "spans": [
        {"id": f"T{i}", "start": s, "end": e, "label": label, "layer": "entity",
         "concept": {"terminology": "MeSH", "code": code}} for i, (s, e, label, code) in enumerate(spans, 1)]}) + "\n"
        for text, spans in docs).encode()


def as_doccano(docs) -> bytes:
    return "".join(json.dumps({"text": text, "label": [[s, e, label] for s, e, label, _ in spans]}) + "\n"
                   for text, spans in docs).encode()


def as_pubtator(docs) -> bytes:
    out = io.StringIO()
    for n, (text, spans) in enumerate(docs, 1):
        # the title is the first sentence; PubTator offsets count title + one space + abstract
        cut = text.index(". ") + 1
        out.write(f"{n}|t|{text[:cut]}\n{n}|a|{text[cut + 1:]}\n")
        for s, e, label, code in spans:
            out.write(f"{n}\t{s}\t{e}\t{text[s:e]}\t{label}\t{code}\n")
        out.write("\n")
    return out.getvalue().encode()


def as_bioc(docs) -> bytes:
    from xml.sax.saxutils import escape

    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?><collection><source>bench</source><date>2026</date><key>k</key>')
    for n, (text, spans) in enumerate(docs, 1):
        out.write(f"<document><id>{n}</id><passage><offset>0</offset><text>{escape(text)}</text>")
        for i, (s, e, label, code) in enumerate(spans, 1):
            out.write(f'<annotation id="{i}"><infon key="type">{label}</infon><infon key="MESH">{code}</infon>'
                      f'<location offset="{s}" length="{e - s}"/><text>{escape(text[s:e])}</text></annotation>')
        out.write("</passage></document>")
    out.write("</collection>")
    return out.getvalue().encode()


FORMATS = {"jsonl": ("corpus.jsonl", as_jsonl), "doccano": ("doccano.jsonl", as_doccano),
           "pubtator": ("corpus.pubtator", as_pubtator), "bioc": ("corpus.xml", as_bioc)}


def parse_rate(name: str, data: bytes, docs: int) -> dict:
    from annotators.base import ItemInput, registry
    from annotators.notes.schema import default_label_config

    modality, config = registry.get("notes"), default_label_config()
    started = time.perf_counter()
    try:
        items = modality.ingest(ItemInput(name=name, data=data, size=len(data)), config)
    except Exception as exc:  # a reader still missing or refusing the file: say so in the figures
        return {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    seconds = time.perf_counter() - started
    spans = sum(len(p.get("spans", [])) for item in items for p in item.annotations)
    return {"documents": len(items), "spans": spans, "seconds": round(seconds, 3),
            "documents_per_s": round(len(items) / seconds), "ok": len(items) == docs}


def end_to_end(files: dict[str, bytes], docs: int) -> dict:
    from live import LiveServer, api, wait_job

    results = {}
    with tempfile.TemporaryDirectory() as tmp, LiveServer(os.path.join(tmp, "live")) as live:
        token = live.token()
        for fmt, (name, data) in files.items():
            pid = api(live, token, "POST", "/projects", {"name": f"import {fmt}", "modality": "notes"})["id"]
            plan = json.dumps({"labels": {"Disease": "PROBLEM", "Chemical": "MEDICATION"}})
            started = time.perf_counter()
            status, body = live.upload(f"/api/v1/projects/{pid}/items", [(name, data)], token, {"label_plan": plan})
            if status not in (201, 202):
                results[fmt] = {"error": f"HTTP {status}: {str(body)[:200]}"}
                continue
            created = len(body.get("created", []))
            if body.get("job_id") and status == 202:
                job = wait_job(live, token, body["job_id"], deadline_s=600)
                created = job["result"]["created"]
            seconds = time.perf_counter() - started
            results[fmt] = {"documents": created, "seconds": round(seconds, 2),
                            "documents_per_s": round(created / seconds), "ok": created == docs}
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    docs = corpus(args.docs)
    files = {fmt: (name, write(docs)) for fmt, (name, write) in FORMATS.items()}
    out = {"benchmark": "import", "documents": args.docs, "mentions_per_document": 30, "target_documents_per_s": 1000,
           "parse": {fmt: parse_rate(name, data, args.docs) for fmt, (name, data) in files.items()}}
    if not args.no_server:
        out["end_to_end"] = end_to_end({k: v for k, v in files.items() if "error" not in out["parse"][k]}, args.docs)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
