"""Never lose a correction: submit latency of a 1,000,000-character note with ~50,000 spans, on a real server
(gunicorn + Celery worker), SQLite and PostgreSQL, while another user keeps making small requests.

Figures: the second annotator's submit (the one that completes the item: k = 2), p50/p95 over the trials; the
time until the `route` job has measured and routed the item; the slowest small request (GET /me) another user made
meanwhile. Target: submit p95 <= 2 s, and nobody else blocked.

Usage: python benchmarks/bench_corrections.py [--trials 5]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

PASSWORD = "bench-corrections-pw"


def run(backend: str, database_url: str | None, trials: int) -> dict:
    from live import LiveServer, api

    from support import huge_note

    text, spans = huge_note()
    with tempfile.TemporaryDirectory() as tmp, LiveServer(tmp, database_url=database_url) as live:
        admin = live.token()
        for name in ("ann_a", "ann_b", "other"):
            api(live, admin, "POST", "/users", {"username": name, "password": PASSWORD})
        pid = api(live, admin, "POST", "/projects", {"name": "big", "modality": "notes",
                                                    "workflow": {"annotators_per_item": 2}})["id"]
        for name in ("ann_a", "ann_b", "other"):
            api(live, admin, "POST", f"/projects/{pid}/members", {"username": name, "role": "annotator"})
        tokens = {n: live.token(n, PASSWORD) for n in ("ann_a", "ann_b", "other")}
        submits, routed, others = [], [], []
        for _ in range(trials):
            item = api(live, admin, "POST", f"/projects/{pid}/items", [{"text": text, "name": "summary"}])
            item_id = item["created"][0]["id"]
            for who, payload in (("ann_a", spans), ("ann_b", spans[:-25])):
                api(live, tokens[who], "POST", f"/projects/{pid}/next")
                stop = threading.Event()

                def poke():
                    while not stop.is_set():
                        t0 = time.perf_counter()
                        api(live, tokens["other"], "GET", "/me")
                        others.append(time.perf_counter() - t0)
                        time.sleep(0.05)

                poker = threading.Thread(target=poke)
                poker.start()
                t0 = time.perf_counter()
                api(live, tokens[who], "POST", f"/items/{item_id}/annotations",
                    {"payload": {"spans": payload, "relations": []}})
                took = time.perf_counter() - t0
                while who == "ann_b" and api(live, admin, "GET", f"/items/{item_id}")["stage"] == "routing":
                    time.sleep(0.05)
                stop.set()
                poker.join()
                if who == "ann_b":
                    submits.append(took)
                    routed.append(time.perf_counter() - t0)
        submits.sort()
        routed.sort()
        others.sort()
        return {"backend": backend, "trials": trials, "spans": len(spans), "characters": len(text),
                "submit_p50_s": round(submits[len(submits) // 2], 3),
                "submit_p95_s": round(submits[max(0, int(len(submits) * 0.95) - 1)], 3),
                "submit_max_s": round(submits[-1], 3),
                "submit_to_routed_p50_s": round(routed[len(routed) // 2], 3),
                "other_user_requests": len(others), "other_user_max_ms": round(others[-1] * 1000, 1),
                "other_user_p95_ms": round(others[max(0, int(len(others) * 0.95) - 1)] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    out = {"benchmark": "corrections", "targets": {"submit_p95_s_1M_chars_50k_spans": "<= 2"},
           "sqlite": run("sqlite", None, args.trials)}
    import bench_server

    admin = bench_server.pg_url()
    if admin:
        url, drop = bench_server.make_pg_database(admin)
        try:
            out["postgresql"] = run("postgresql", url, args.trials)
        finally:
            drop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
