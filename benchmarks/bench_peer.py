"""Side by side (issue 15 item 6): the same workload against our server (SQLite and PostgreSQL, `make run`'s
gunicorn) and, when one is given, a running Label Studio; the trivial-endpoint ceiling (a small static file) in the
same run. Workload: 10,000 synthetic notes of ~158 words imported in one request; 20 clients each taking items and
doing get + save (a first annotation with one span); one client's save alone; a JSON export of the 10,000.
Prints JSON: per target its figures, and a table with each figure's ratio to Label Studio's and to the ceiling.

Usage: python benchmarks/bench_peer.py [--notes 10000] [--clients 20] [--cycles 25] [--backends sqlite,postgresql]
       [--label-studio http://127.0.0.1:8080 --label-studio-token TOKEN]
(Label Studio: `pip install label-studio && label-studio start`; its token is on the account page.)
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from bench_server import make_pg_database, pct, pg_url  # noqa: E402

WORDS = ("patient admitted with shortness of breath and chest pain denies fever cough was started on aspirin "
         "metoprolol atorvastatin heparin drip troponin negative echo shows normal ejection fraction plan to "
         "continue home medications follow up in cardiology clinic blood pressure stable overnight").split()
LS_CONFIG = ('<View><Labels name="label" toName="text"><Label value="PROBLEM"/><Label value="DRUG"/></Labels>'
             '<Text name="text" value="$text"/></View>')


def notes(n: int) -> list[str]:
    rng = random.Random(5)
    return [" ".join(rng.choice(WORDS) for _ in range(158)) for _ in range(n)]


class Http:
    """One keep-alive connection per client; returns (status, parsed JSON or raw bytes)."""

    def __init__(self, base: str, headers: dict):
        url = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=600)
        self.headers = {"Content-Type": "application/json", **headers}

    def call(self, method: str, path: str, body=None, raw: bool = False):
        encoded = json.dumps(body) if body is not None else None
        try:
            self.conn.request(method, path, body=encoded, headers=self.headers)
            resp = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.conn.close()  # the server closed an idle keep-alive connection: open a new one, once
            self.conn.request(method, path, body=encoded, headers=self.headers)
            resp = self.conn.getresponse()
        data = resp.read()
        if raw or not data:
            return resp.status, data
        try:
            return resp.status, json.loads(data)
        except ValueError:
            return resp.status, data


class Ours:
    """Our API: next (take an item) -> get -> save a first annotation."""

    def __init__(self, server, clients: int):
        self.server = server
        self.admin = Http(server.url, {"Authorization": f"Bearer {server.token()}"})
        self.users = [f"peer{i}" for i in range(clients)]
        for user in self.users:
            self.admin.call("POST", "/api/v1/users", {"username": user, "password": "bench-password-1"})

    def import_notes(self, texts: list[str]) -> float:
        _, project = self.admin.call("POST", "/api/v1/projects", {"name": "peer bench", "modality": "notes"})
        self.project = project["id"]
        for user in self.users:
            self.admin.call("POST", f"/api/v1/projects/{self.project}/members", {"username": user, "role": "annotator"})
        records = [{"text": t} for t in texts]
        t0 = time.perf_counter()
        status, body = self.admin.call("POST", f"/api/v1/projects/{self.project}/items", records)
        took = time.perf_counter() - t0
        assert status in (201, 202), (status, str(body)[:300])
        if status == 202:  # a large upload imports as a job: wait for it, the time counts
            job = body.get("import_job_id") or body.get("job_id")
            while self.admin.call("GET", f"/api/v1/jobs/{job}")[1]["status"] in ("queued", "running"):
                time.sleep(0.1)
            took = time.perf_counter() - t0
        return took

    def client(self, n: int):
        http_ = Http(self.server.url, {"Authorization": f"Bearer {self.server.token(self.users[n], 'bench-password-1')}"})

        def cycle():
            status, item = http_.call("POST", f"/api/v1/projects/{self.project}/next")
            if status != 200:
                return [("next", status)]
            status_get, got = http_.call("GET", f"/api/v1/items/{item['id']}")
            first = (got.get("text") or "x").split(" ")[0] if isinstance(got, dict) else "x"
            payload = {"spans": [{"id": "s1", "start": 0, "end": len(first), "label": "PROBLEM", "layer": "entity"}]}
            status_save, _ = http_.call("POST", f"/api/v1/items/{item['id']}/annotations", {"payload": payload})
            return [("next", status), ("get", status_get), ("save", status_save)]
        return cycle

    def export(self) -> float:
        t0 = time.perf_counter()
        status, job = self.admin.call("POST", f"/api/v1/projects/{self.project}/exports",
                                      {"format": "jsonl"})
        assert status == 202, job
        while (state := self.admin.call("GET", f"/api/v1/jobs/{job['id']}")[1])["status"] in ("queued", "running"):
            time.sleep(0.05)
        self.admin.call("GET", f"/api/v1/exports/{job['id']}/file", raw=True)
        return time.perf_counter() - t0

    def ceiling_path(self) -> str:
        return "/static/js/api.js"


class LabelStudio:
    """Label Studio's API: get a task -> create an annotation with one span."""

    def __init__(self, url: str, token: str, clients: int):
        self.url, self.auth = url, {"Authorization": f"Token {token}"}
        self.admin = Http(url, self.auth)
        self.clients = clients

    def import_notes(self, texts: list[str]) -> float:
        _, project = self.admin.call("POST", "/api/projects", {"title": "peer bench", "label_config": LS_CONFIG})
        self.project = project["id"]
        t0 = time.perf_counter()
        status, body = self.admin.call("POST", f"/api/projects/{self.project}/import", [{"text": t} for t in texts])
        took = time.perf_counter() - t0
        assert status in (200, 201), (status, str(body)[:300])
        _, tasks = self.admin.call("GET", f"/api/tasks?project={self.project}&page_size={len(texts)}&fields=id")
        ids = [t["id"] for t in (tasks.get("tasks") if isinstance(tasks, dict) else tasks)]
        self.queues = [ids[n::self.clients] for n in range(self.clients)]
        return took

    def client(self, n: int):
        http_ = Http(self.url, self.auth)
        queue = iter(self.queues[n])

        def cycle():
            task = next(queue)
            status_get, got = http_.call("GET", f"/api/tasks/{task}")
            first = (got.get("data", {}).get("text") or "x").split(" ")[0] if isinstance(got, dict) else "x"
            result = [{"from_name": "label", "to_name": "text", "type": "labels",
                       "value": {"start": 0, "end": len(first), "text": first, "labels": ["PROBLEM"]}}]
            status_save, _ = http_.call("POST", f"/api/tasks/{task}/annotations", {"result": result})
            return [("get", status_get), ("save", status_save)]
        return cycle

    def export(self) -> float:
        t0 = time.perf_counter()
        self.admin.call("GET", f"/api/projects/{self.project}/export?exportType=JSON", raw=True)
        return time.perf_counter() - t0


def run_clients(target, clients: int, cycles: int) -> dict:
    times: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    calls = [target.client(n) for n in range(clients)]

    def run(cycle):
        for _ in range(cycles):
            t0 = time.perf_counter()
            outcome = cycle()
            took = time.perf_counter() - t0
            with lock:
                times.setdefault("cycle", []).append(took / max(1, len(outcome)))
                errors.extend(f"{what} {status}" for what, status in outcome if status >= 400)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    started = time.perf_counter()
    [t.start() for t in threads]
    [t.join() for t in threads]
    elapsed = time.perf_counter() - started
    requests = sum(1 for _ in times.get("cycle", [])) * (3 if isinstance(target, Ours) else 2)
    return {"req_per_s": round(requests / elapsed, 1), "request_p95_ms": pct(times.get("cycle", [0]), 0.95),
            "errors": len(errors), "first_error": errors[0] if errors else None}


def single_save(target, cycles: int = 30) -> float:
    cycle = target.client(0)
    samples = []
    for _ in range(cycles):
        t0 = time.perf_counter()
        outcome = cycle()
        samples.append((time.perf_counter() - t0) / len(outcome))
    return pct(samples, 0.5)


def ceiling(base: str, path: str, clients: int, per_client: int = 300) -> float:
    def run():
        http_ = Http(base, {})
        for _ in range(per_client):
            http_.call("GET", path, raw=True)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    started = time.perf_counter()
    [t.start() for t in threads]
    [t.join() for t in threads]
    return round(clients * per_client / (time.perf_counter() - started), 1)


def measure(target, texts: list[str], clients: int, cycles: int) -> dict:
    took = target.import_notes(texts)
    out = {"import_items_per_s": round(len(texts) / took)}
    out["single_client_request_p50_ms"] = single_save(target)
    out.update({f"clients{clients}_{k}": v for k, v in run_clients(target, clients, cycles).items()})
    out["export_json_s"] = round(target.export(), 2)
    return out


def main() -> None:
    from live import LiveServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=25)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--label-studio")
    parser.add_argument("--label-studio-token")
    args = parser.parse_args()
    os.environ.setdefault("CLINLABEL_WORKER_WARM", "0")
    texts = notes(args.notes)
    results: dict[str, dict] = {}
    for backend in args.backends.split(","):
        database_url, drop = None, None
        if backend == "postgresql":
            admin_url = pg_url()
            if not admin_url:
                results[backend] = {"skipped": "PostgreSQL is not reachable on 127.0.0.1:5432"}
                continue
            database_url, drop = make_pg_database(admin_url)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                env = {"CLINLABEL_WEB_WORKERS": str(os.cpu_count() or 2)}
                with LiveServer(os.path.join(tmp, "data"), database_url=database_url, extra_env=env) as server:
                    target = Ours(server, args.clients)
                    results[f"ours_{backend}"] = measure(target, texts, args.clients, args.cycles)
                    results[f"ours_{backend}"]["ceiling_static_req_per_s"] = ceiling(server.url, target.ceiling_path(),
                                                                                     args.clients)
        finally:
            if drop:
                drop()
    if args.label_studio:
        results["label_studio"] = measure(LabelStudio(args.label_studio, args.label_studio_token, args.clients),
                                          texts, args.clients, args.cycles)
    table = {}
    peer = results.get("label_studio")
    for name, figures in results.items():
        if "skipped" in figures:
            continue
        row = {}
        for key, value in figures.items():
            if not isinstance(value, (int, float)) or key.endswith("errors"):
                continue
            row[key] = {"value": value}
            if peer and name != "label_studio" and isinstance(peer.get(key), (int, float)) and peer[key]:
                row[key]["x_label_studio"] = round(value / peer[key], 2)
        if "ceiling_static_req_per_s" in figures:
            row[f"clients{args.clients}_req_per_s"]["share_of_ceiling"] = round(
                figures[f"clients{args.clients}_req_per_s"] / figures["ceiling_static_req_per_s"], 3)
        table[name] = row
    print(json.dumps({"benchmark": "peer", "notes": args.notes, "clients": args.clients,
                      "label_studio": args.label_studio or "not given (our part only)",
                      "targets": {"req_per_s": ">= 1,000 PostgreSQL, >= 600 SQLite", "p95_ms": "<= 50",
                                  "import_items_per_s": ">= 25,000 SQLite, >= 15,000 PostgreSQL",
                                  "single_client_request_p50_ms": "<= 5"},
                      "results": results, "table": table}, indent=2))


if __name__ == "__main__":
    main()
