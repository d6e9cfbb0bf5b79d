"""The annotator's hot path, per request type: SQL statements and web-process CPU ms, printed as JSON.

Requests an annotator makes all day (take the next item, open it, autosave a draft, save and submit, list items),
called through Flask's test client in this process, so the figures are the application's own cost (gunicorn's
HTTP parsing and access log are not in them; bench_server.py measures the whole server under 20 clients).
Statements are counted with SQLAlchemy's `before_cursor_execute` (SQLite's BEGINs apart, as `begins`; COMMIT is the
driver's own call and not counted), and `of_which_audit` are those issued while server.audit.record runs (the
per-request audit event: one INSERT, chained later by the sealer; pending writes it flushes count there too); CPU is
`time.process_time()` around each call, reported as p10, median and p90 over the cycles, and the audit's median.
`statements` is the most any cycle needed (the two-factor site setting, read once per 5 s per process, is left out).

Usage: python benchmarks/bench_hot_path.py [--cycles 200] [--items 2000] [--backends sqlite,postgresql] [--show]
(--show prints each request type's statements once, to stderr.)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

TARGETS = {"statements": "<= ~5 per request", "cpu_ms": "<= 2.5 per request"}
NOTE = ("Routine follow-up; patient stable on current medication; blood pressure controlled; review in clinic in "
        "three months. ") * 6


class Meter:
    """Counts what the app's engine runs while `on`: statements, and apart from them the BEGINs SQLite is sent
    (psycopg begins implicitly); keeps the texts of the current request."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.on, self.statements, self.begins, self.in_audit = False, [], 0, False
        self.audit_statements, self.audit_cpu = 0, 0.0
        event.listen(engine, "before_cursor_execute", self._seen)

    def reset(self) -> None:
        self.statements, self.begins, self.audit_statements, self.audit_cpu = [], 0, 0, 0.0

    def _seen(self, _conn, _cursor, statement, _params, _context, _many):
        if not self.on:
            return
        if statement.startswith("BEGIN"):
            self.begins += 1
            return
        self.statements.append(" ".join(statement.split())[:160])
        self.audit_statements += self.in_audit

    def wrap_audit(self) -> None:
        """Measure server.audit.record apart (the request's share of the audit trail)."""
        import time

        from server import audit

        original = audit.record

        def record(*args, **kwargs):
            self.in_audit = True
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.audit_cpu += time.process_time() - start
                self.in_audit = False

        audit.record = record


class Caller:
    """One annotator: a bearer token, or a session cookie with its CSRF token (as the UI calls the API)."""

    def __init__(self, client, token: str | None = None, csrf: str | None = None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {"X-CSRFToken": csrf}

    def __call__(self, method: str, path: str, body=None):
        resp = self.client.open(f"/api/v1{path}", method=method, json=body, headers=self.headers)
        return resp.status_code, (resp.get_json(silent=True) if resp.data else None)


def session_caller(app, username: str, password: str) -> Caller:
    client = app.test_client()
    resp = client.post("/api/v1/session", json={"username": username, "password": password})
    assert resp.status_code == 201, resp.get_json()
    return Caller(client, csrf=resp.get_json()["csrf_token"])


def setup(app, items: int) -> tuple[int, dict[str, Caller]]:
    from support import PASSWORD, create_user, login

    create_user(app, "hp-admin", is_admin=True)
    admin = login(app.test_client(), "hp-admin")
    status, project = admin.post("/projects", {"name": "hot path", "modality": "labels"})
    assert status == 201, project
    for start in range(0, items, 5000):
        status, body = admin.post(f"/projects/{project['id']}/items",
                                  [{"text": NOTE} for _ in range(min(5000, items - start))])
        assert status == 201, body
    callers = {}
    for kind in ("token", "session"):
        name = f"hp-{kind}"
        create_user(app, name)
        status, body = admin.post(f"/projects/{project['id']}/members", {"username": name, "role": "annotator"})
        assert status in (200, 201), body
        callers[kind] = (Caller(app.test_client(), token=login(app.test_client(), name).token) if kind == "token"
                         else session_caller(app, name, PASSWORD))
    return project["id"], callers


def measure(app, project_id: int, call: Caller, cycles: int, show: bool) -> dict:
    import time

    from server.extensions import db

    meter = Meter(db.engine)
    meter.wrap_audit()
    samples: dict[str, list[tuple]] = defaultdict(list)
    shown: set[str] = set()

    def timed(name: str, method: str, path: str, body=None, expect=(200, 201, 204)):
        meter.reset()
        meter.on = True
        start = time.process_time()
        status, out = call(method, path, body)
        elapsed = time.process_time() - start
        meter.on = False
        assert status in expect, (name, status, out)
        # Two-factor requirements are a site setting cached for 5 s per process: its refresh is not per request.
        statements = [s for s in meter.statements if "FROM site_settings" not in s]
        samples[name].append((len(statements), meter.begins, meter.audit_statements, elapsed * 1000,
                              meter.audit_cpu * 1000))
        if show and name not in shown:
            shown.add(name)
            print(f"--- {name}: {len(statements)} statements, {meter.begins} BEGIN", file=sys.stderr)
            for s in statements:
                print("   ", s, file=sys.stderr)
        return out

    payload = {"labels": ["routine"]}
    for cycle in range(cycles):
        item = timed("next", "POST", f"/projects/{project_id}/next")
        timed("next_again", "POST", f"/projects/{project_id}/next")  # a reload: the same lease, renewed
        iid = item["id"]
        timed("get_item", "GET", f"/items/{iid}")
        timed("get_annotations", "GET", f"/items/{iid}/annotations")
        timed("put_draft_first", "PUT", f"/items/{iid}/draft", {"payload": payload, "revision": 0})
        timed("put_draft", "PUT", f"/items/{iid}/draft", {"payload": payload, "revision": 1})
        timed("get_draft", "GET", f"/items/{iid}/draft")
        if cycle % 2:  # submit in one go (k = 1: the item becomes gold)
            timed("create_submitted", "POST", f"/items/{iid}/annotations", {"payload": payload})
        else:  # save, save again, then submit
            ann = timed("create_draft", "POST", f"/items/{iid}/annotations", {"payload": payload, "status": "draft"})
            ann = timed("update_draft", "PUT", f"/annotations/{ann['id']}",
                        {"payload": payload, "version": ann["version"], "status": "draft"})
            timed("update_submit", "PUT", f"/annotations/{ann['id']}",
                  {"payload": payload, "version": ann["version"], "status": "submitted"})
        timed("list_items", "GET", f"/projects/{project_id}/items?limit=50")
    return {name: summary(rows) for name, rows in samples.items()}


def seal_cost(app) -> dict:
    """The sealer's share, done outside the requests (a thread in the web process, here run once at the end):
    CPU and wall time per event it chained."""
    import time

    from server.audit_sealer import seal, unsealed_tail
    from server.extensions import db

    with app.app_context():
        waiting = unsealed_tail(db.session)["count"]
        db.session.rollback()
        cpu, wall = time.process_time(), time.perf_counter()
        sealed = seal(db.session)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        db.session.remove()
    return {"events": sealed, "waiting_before": waiting,
            "cpu_ms_per_event": round(cpu * 1000 / max(sealed, 1), 4),
            "wall_ms_per_event": round(wall * 1000 / max(sealed, 1), 4)}


def summary(rows: list[tuple]) -> dict:
    def p(values, q):
        values = sorted(values)
        return round(values[int(q * (len(values) - 1))], 3)

    statements, begins, audit_statements, cpu, audit_cpu = zip(*rows)
    # p10 too: on a shared machine other processes inflate the median; the low percentiles move less.
    return {"statements": max(statements), "begins": max(begins), "of_which_audit": max(audit_statements),
            "cpu_ms_p10": p(cpu, 0.1), "cpu_ms_p50": p(cpu, 0.5), "cpu_ms_p90": p(cpu, 0.9),
            "audit_cpu_ms_p50": p(audit_cpu, 0.5)}


def bench_backend(url: str, items: int, cycles: int, show: bool) -> dict:
    from support import build_app

    with tempfile.TemporaryDirectory() as tmp:
        import pathlib

        app = build_app(pathlib.Path(tmp), url)
        app.logger.disabled = True
        project_id, callers = setup(app, items)
        out = {}
        for kind, caller in callers.items():
            measure(app, project_id, caller, 5, False)  # warm up: imports, caches, the first-use compiles
            out[kind] = measure(app, project_id, caller, cycles, show and kind == "token")
        from server.extensions import db

        out["sealer"] = seal_cost(app)

        db.dispose()
        return out


def main() -> None:
    import logging

    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()
    items = max(args.items, 2 * (args.cycles + 5) + 10)  # every cycle takes two items (token and session caller)
    logging.disable(logging.INFO)
    result = {"benchmark": "hot_path", "cycles": args.cycles, "items": items, "targets": TARGETS}
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in backends:
            result["sqlite"] = bench_backend(f"sqlite:///{tmp}/hot.sqlite", items, args.cycles, args.show)
    if "postgresql" in backends:
        from bench_server import make_pg_database, pg_url
        from support import fresh_schema

        admin = pg_url()
        if admin:
            url, drop = make_pg_database(admin)
            try:
                fresh_schema(url)
                result["postgresql"] = bench_backend(url, items, args.cycles, args.show)
            finally:
                drop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
