"""Ontology search over the HTTP API of the production server (gunicorn), printed as JSON: p50/p95 per query for
one client and for 4 concurrent clients, over the mentions of the coding benchmark list. Target p95 <= 20 ms."""
from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_server import Client, pct  # noqa: E402
from live import LiveServer  # noqa: E402


def mentions() -> list[str]:
    path = os.path.join(ROOT, "tests", "data", "ontologies", "coding_benchmark.tsv")
    with open(path, encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh, delimiter="\t") if r and not r[0].startswith("#")]
    return [r[0] for r in rows]


def run(server, token, queries, clients: int) -> dict:
    times: list[float] = []
    lock = threading.Lock()

    def worker(chunk):
        client = Client(server.port, token)
        for q in chunk:
            t0 = time.perf_counter()
            status, _ = client.call("GET", "/ontologies/search?" + urllib.parse.urlencode({"q": q, "limit": 10}))
            elapsed = time.perf_counter() - t0
            assert status == 200, status
            with lock:
                times.append(elapsed)

    chunks = [queries[i::clients] for i in range(clients)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return {"requests": len(times), "p50_ms": pct(times, 0.5), "p95_ms": pct(times, 0.95)}


def main() -> None:
    queries = mentions()
    with tempfile.TemporaryDirectory() as tmp:
        with LiveServer(os.path.join(tmp, "data"), extra_env={"CLINLABEL_WEB_WORKERS": "2"}) as server:
            token = server.token()
            run(server, token, queries[:40], 4)  # warm the indexes in every web worker
            out = {"benchmark": "ontology search over the API", "target_p95_ms": 20, "queries": len(queries),
                   "one_client": run(server, token, queries, 1), "four_clients": run(server, token, queries * 2, 4)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
