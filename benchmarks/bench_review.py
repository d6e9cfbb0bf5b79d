"""Review-workflow figures for issue 5, printed as JSON:

- project agreement job over 10,000 doubly-annotated notes (notes modality metrics), seconds;
- incremental update: time to record one item's agreement when its second version arrives (API call), p50/p95;
- "next item" latency with 50 concurrent annotators on PostgreSQL with 10^6 items (bench_server's harness).

Usage: python benchmarks/bench_review.py [--notes 10000] [--skip-latency]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

WORDS = "patient reports chest pain and shortness of breath denies fever started metformin for diabetes".split()
LABELS = ["PROBLEM", "MEDICATION", "TEST"]


def note_and_payloads(rng: random.Random) -> tuple[str, dict, dict]:
    text = " ".join(rng.choice(WORDS) for _ in range(120))
    spans_a, spans_b = [], []
    pos = 0
    for n in range(12):
        start = text.index(" ", pos) + 1 if " " in text[pos:] else pos
        end = text.find(" ", start)
        if end < 0:
            break
        span = {"id": f"s{n}", "start": start, "end": end, "label": rng.choice(LABELS), "layer": "entity",
                "text": text[start:end], "assertion": "present"}
        spans_a.append(span)
        if rng.random() < 0.85:
            spans_b.append(dict(span, label=span["label"] if rng.random() < 0.9 else rng.choice(LABELS)))
        pos = end + rng.randint(5, 40)
        if pos >= len(text):
            break
    return text, {"spans": spans_a, "relations": []}, {"spans": spans_b, "relations": []}


def agreement_at_scale(n: int) -> dict:
    from sqlalchemy import insert

    from server.extensions import db
    from server.models import Annotation, Item, ItemAgreement, User
    from support import build_app, create_user, login

    with tempfile.TemporaryDirectory() as tmp:
        from pathlib import Path

        app = build_app(Path(tmp), f"sqlite:///{tmp}/bench.sqlite", JOBS_EAGER=True)
        create_user(app, "boss", is_admin=True)
        api = login(app.test_client(), "boss")
        _, project = api.post("/projects", {"name": "agreement", "modality": "notes",
                                            "workflow": {"annotators_per_item": 2}})
        pid = project["id"]
        a_id, b_id = create_user(app, "ann_a"), create_user(app, "ann_b")
        for name in ("ann_a", "ann_b"):
            api.post(f"/projects/{pid}/members", {"username": name, "role": "annotator"})
        rng = random.Random(7)
        with app.app_context():
            rows = [note_and_payloads(rng) for _ in range(n)]
            items = [{"project_id": pid, "kind": "note", "name": "", "content_hash": "0" * 64, "size": len(t),
                      "text": t, "meta": {}, "status": "ready", "deid_state": "none", "stage": "review",
                      "slots_taken": 0, "priority": 0.0, "is_gold_check": False} for t, _, _ in rows]
            db.session.execute(insert(Item), items)
            db.session.commit()
            ids = [i for (i,) in db.session.query(Item.id).filter(Item.project_id == pid).order_by(Item.id)]
            anns, measured = [], []
            from server.models import Project
            from server.review import assess, measure

            for item_id, (_, pa, pb) in zip(ids, rows):
                anns.append({"item_id": item_id, "project_id": pid, "author_id": a_id, "source": "human",
                             "stage": "annotate", "status": "submitted", "payload": pa, "version": 1})
                anns.append({"item_id": item_id, "project_id": pid, "author_id": b_id, "source": "human",
                             "stage": "annotate", "status": "submitted", "payload": pb, "version": 1})
            db.session.execute(insert(Annotation), anns)
            db.session.commit()
            proj = db.session.get(Project, pid)
            # Per-item agreement rows are what submissions write incrementally; fill them as submissions would.
            t0 = time.perf_counter()
            from server.review import latest_human_versions

            for item in db.session.query(Item).filter(Item.project_id == pid).yield_per(500):
                measure(proj, item, assess(proj, item, latest_human_versions(item.id)))
            db.session.commit()
            per_item_fill = time.perf_counter() - t0
        start = time.perf_counter()
        status, job = api.post(f"/projects/{pid}/jobs", {"kind": "agreement"})
        elapsed = time.perf_counter() - start
        _, job = api.get(f"/jobs/{job['id']}")
        assert job["status"] == "succeeded", job
        # Incremental: one more note whose second version arrives through the API.
        samples = []
        ann_a, ann_b = login(app.test_client(), "ann_a"), login(app.test_client(), "ann_b")
        for _ in range(20):
            text, pa, pb = note_and_payloads(rng)
            _, created = api.post(f"/projects/{pid}/items", [{"text": text}])
            item_id = created["created"][0]["id"]
            ann_a.post(f"/items/{item_id}/annotations", {"payload": pa})
            t0 = time.perf_counter()
            ann_b.post(f"/items/{item_id}/annotations", {"payload": pb})
            samples.append(time.perf_counter() - t0)
        with app.app_context():
            stored = db.session.query(ItemAgreement).filter(ItemAgreement.project_id == pid).count()
        samples.sort()
        return {"notes": n, "agreement_job_s": round(elapsed, 2), "per_item_rows": stored,
                "per_item_fill_s": round(per_item_fill, 2), "metrics": job["result"],
                "incremental_update_p50_s": round(samples[len(samples) // 2], 3),
                "incremental_update_p95_s": round(samples[int(len(samples) * 0.95) - 1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=10000)
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    out = {"benchmark": "review", "targets": {"agreement_job_s_10k_notes": "<= 60",
                                              "incremental_update_s": "<= 1", "next_p95_ms_50_clients_1e6": "<= 50"}}
    out["agreement"] = agreement_at_scale(args.notes)
    if not args.skip_latency:
        import bench_server

        admin = bench_server.pg_url()
        if admin:
            url, drop = bench_server.make_pg_database(admin)
            try:
                result = bench_server.bench_backend("postgresql", url, [1_000_000], 50, 10)
                out["next_item_50_clients_postgresql_1e6"] = result["latency"]["1000000"]
            finally:
                drop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
