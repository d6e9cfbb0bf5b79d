"""Server figures for issue 2, printed as JSON:

- bulk import of 10,000 text items through the API, items/s, on SQLite and PostgreSQL;
- server-side import of a folder of 10,000 small .txt files (CLINLABEL_IMPORT_ROOTS, a queued job), items/s from the
  request to the job's end, on SQLite and PostgreSQL;
- p50/p95 latency of "get my next item" and "save annotation" with 20 concurrent clients against the production
  server (gunicorn), on SQLite and PostgreSQL, with 10^3, 10^5 and 10^6 items in the project, and the throughput
  of that mix (req/s, with its p95), also while a client logs in every 0.25 s (latency_with_logins);
  benchmarks/bench_hot_path.py gives each request's statements and CPU.

Usage: python benchmarks/bench_server.py [--sizes 1000,100000,1000000] [--clients 20] [--requests 30]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from live import LiveServer  # noqa: E402


def pg_url() -> str | None:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return None
    return os.environ.get("CLINLABEL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def make_pg_database(admin_url: str) -> tuple[str, callable]:
    from sqlalchemy import create_engine, text

    name = f"clinlabel_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    return admin_url.rsplit("/", 1)[0] + "/" + name, drop


class Client:
    def __init__(self, port: int, token: str | None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body=None):
        self.conn.request(method, "/api/v1" + path, body=json.dumps(body) if body is not None else None,
                          headers=self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if data else None)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(round(q * (len(values) - 1))))] * 1000, 2)


def bulk_import(server: LiveServer, token: str, n: int = 10_000) -> dict:
    client = Client(server.port, token)
    _, project = client.call("POST", "/projects", {"name": f"import-{uuid.uuid4().hex[:6]}", "modality": "labels"})
    records = [{"text": f"Patient {i} reports routine follow-up; stable on medication; review in 3 months."}
               for i in range(n)]
    start = time.perf_counter()
    for chunk in range(0, n, 5000):
        status, body = client.call("POST", f"/projects/{project['id']}/items", records[chunk:chunk + 5000])
        assert status == 201, body
    elapsed = time.perf_counter() - start
    return {"items": n, "seconds": round(elapsed, 2), "items_per_s": round(n / elapsed)}


def make_import_root(folder: str, n: int = 10_000) -> str:
    os.makedirs(os.path.join(folder, "notes"), exist_ok=True)
    for i in range(n):
        with open(os.path.join(folder, "notes", f"note-{i:06d}.txt"), "w") as fh:
            fh.write(f"Patient {i} seen in clinic; stable on medication; routine review in 3 months.\n")
    return folder


def server_import(server: LiveServer, token: str, n: int) -> dict:
    from live import wait_job

    client = Client(server.port, token)
    _, project = client.call("POST", "/projects", {"name": f"nas-{uuid.uuid4().hex[:6]}", "modality": "labels"})
    start, started_at = time.perf_counter(), time.time()
    status, body = client.call("POST", f"/projects/{project['id']}/items",
                               {"import": {"root": "bench", "glob": "notes/*.txt"}})
    assert status == 202, body
    job = wait_job(server, token, body["job"]["id"], deadline_s=600)
    elapsed = time.perf_counter() - start
    assert job["result"]["imported"] == n, job["result"]
    from datetime import datetime

    created, began, finished = (datetime.fromisoformat(job[key]).timestamp()
                                for key in ("created_at", "started_at", "finished_at"))
    ran, to_end = finished - began, finished - started_at
    # items_per_s: from the request to the job's end as the client sees it (queueing and its 0.1 s polling
    # included); to_job_end_items_per_s: from the request to the job's recorded end (same machine, same clock);
    # job_items_per_s: the job's own run, from its start to its end.
    return {"items": n, "seconds": round(elapsed, 2), "items_per_s": round(n / elapsed),
            "to_job_end_seconds": round(to_end, 2), "to_job_end_items_per_s": round(n / to_end),
            "job_seconds": round(ran, 2), "job_items_per_s": round(n / ran) if ran > 0 else None,
            "queued_seconds": round(began - created, 2)}


def fill_project(database_url: str, project_id: int, total: int) -> None:
    """Insert items straight into the database (the API path is measured by bulk_import)."""
    from sqlalchemy import create_engine, func, insert, select

    import server.models as m

    engine = create_engine(database_url)
    with engine.begin() as conn:
        have = conn.execute(select(func.count()).select_from(m.Item).where(m.Item.project_id == project_id)).scalar()
    batch = 20_000
    text = "Routine follow-up; patient stable; continue current medication and review in clinic."
    while have < total:
        rows = [{"project_id": project_id, "kind": "text", "name": "", "content_hash": "0" * 64, "size": len(text),
                 "text": text, "meta": {}, "status": "ready", "deid_state": "none", "stage": "annotate",
                 "slots_taken": 0, "priority": 0.0, "is_gold_check": False}
                for _ in range(min(batch, total - have))]
        with engine.begin() as conn:
            conn.execute(insert(m.Item), rows)
        have += len(rows)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE items")
            conn.commit()
    engine.dispose()


def login_loop(server: LiveServer, username: str, stop: threading.Event, gap_s: float, times: list[float]) -> None:
    """Log in (POST /tokens) every `gap_s` until `stop`: the shift-start pattern, one password hash each."""
    client = Client(server.port, None)
    while not stop.is_set():
        t0 = time.perf_counter()
        status, body = client.call("POST", "/tokens", {"username": username, "password": "bench-password-1"})
        assert status == 201, body
        times.append(time.perf_counter() - t0)
        stop.wait(gap_s)


def latency(server: LiveServer, tokens: list[str], project_id: int, requests: int,
            login_as: str | None = None) -> dict:
    next_times: list[float] = []
    save_times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(token: str) -> None:
        client = Client(server.port, token)
        for _ in range(requests):
            t0 = time.perf_counter()
            status, item = client.call("POST", f"/projects/{project_id}/next")
            t1 = time.perf_counter()
            if status != 200:
                with lock:
                    errors.append(f"next {status}")
                return
            status, body = client.call("POST", f"/items/{item['id']}/annotations", {"payload": {"labels": ["routine"]}})
            t2 = time.perf_counter()
            with lock:
                next_times.append(t1 - t0)
                save_times.append(t2 - t1)
                if status != 201:
                    errors.append(f"save {status} {body}")

    threads = [threading.Thread(target=run, args=(t,)) for t in tokens]
    stop, login_times = threading.Event(), []
    if login_as:
        threads.append(threading.Thread(target=login_loop, args=(server, login_as, stop, 0.25, login_times)))
    started = time.perf_counter()
    [t.start() for t in threads]
    [t.join() for t in threads[:len(tokens)]]
    elapsed = time.perf_counter() - started
    stop.set()
    [t.join() for t in threads[len(tokens):]]
    both = next_times + save_times
    out = {"next_p50_ms": pct(next_times, 0.5), "next_p95_ms": pct(next_times, 0.95),
           "save_p50_ms": pct(save_times, 0.5), "save_p95_ms": pct(save_times, 0.95),
           "p95_ms": pct(both, 0.95), "req_per_s": round(len(both) / elapsed, 1),
           "samples": len(next_times), "errors": len(errors), "first_error": errors[0] if errors else None}
    if login_as:
        out.update({"logins": len(login_times), "login_p50_ms": pct(login_times, 0.5) if login_times else None})
    return out


def bench_backend(name: str, database_url: str | None, sizes: list[int], clients: int, requests: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        files = 10_000
        root = make_import_root(os.path.join(tmp, "nas"), files)
        env = {"CLINLABEL_WEB_WORKERS": os.environ.get("CLINLABEL_WEB_WORKERS", str(os.cpu_count() or 2)),
               "CLINLABEL_IMPORT_ROOTS": f"bench={root}"}
        with LiveServer(os.path.join(tmp, "data"), database_url=database_url, extra_env=env) as server:
            admin = server.token()
            out = {"bulk_import": bulk_import(server, admin), "server_import": server_import(server, admin, files)}
            if not sizes:
                return out
            db_url = database_url or f"sqlite:///{os.path.join(tmp, 'data', 'clinlabel.sqlite')}"
            client = Client(server.port, admin)
            _, project = client.call("POST", "/projects", {"name": "latency", "modality": "labels"})
            tokens = []
            for i in range(clients):
                user = f"bench{i}"
                client.call("POST", "/users", {"username": user, "password": "bench-password-1"})
                client.call("POST", f"/projects/{project['id']}/members", {"username": user, "role": "annotator"})
                tokens.append(server.token(user, "bench-password-1"))
            out["latency"] = {}
            taken = 0  # items each phase used up: every phase starts with at least `size` open items
            for size in sizes:
                fill_project(db_url, project["id"], size + taken)
                out["latency"][str(size)] = latency(server, tokens, project["id"], requests)
                taken += clients * requests
            # The same mix while someone logs in every 0.25 s (a shift starting): a password hash must not stall
            # the others' saves (it ran under SQLite's write lock before; see tests/test_hot_path.py).
            fill_project(db_url, project["id"], sizes[-1] + taken)
            out["latency_with_logins"] = latency(server, tokens, project["id"], requests, login_as="bench0")
            return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]  # --sizes "": the import figures only
    result = {"benchmark": "server", "clients": args.clients, "targets": {
        "bulk_import_items_per_s": ">= 25000 (SQLite), >= 15000 (PostgreSQL)",
        "server_import_items_per_s": ">= 25000 (SQLite), >= 15000 (PostgreSQL)", "latency_p95_ms_postgresql": "<= 50 at every size"}}
    backends = args.backends.split(",")
    if "sqlite" in backends:
        result["sqlite"] = bench_backend("sqlite", None, sizes, args.clients, args.requests)
    admin = pg_url() if "postgresql" in backends else None
    if admin:
        url, drop = make_pg_database(admin)
        try:
            result["postgresql"] = bench_backend("postgresql", url, sizes, args.clients, args.requests)
        finally:
            drop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
