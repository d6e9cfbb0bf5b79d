"""A real Celery worker process: jobs complete with visible progress; killed workers lose nothing, duplicate nothing.

Runs on the embedded broker (SQLite) with SQLite, and on Redis with PostgreSQL when they answer.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from support import ROOT, build_app, create_user, login, redis_url

pytestmark = pytest.mark.worker


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(entry))
            except (OSError, IndexError):
                continue
    return out


class Worker:
    def __init__(self, env: dict, log_path: str):
        self.env, self.log_path, self.proc = env, log_path, None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "server.jobs.worker", "worker", "-Q",
             "{0}cpu,{0}gpu".format(self.env.get("CLINLABEL_QUEUE_PREFIX", "")), "-c", "1", "--without-mingle",
             "-P", "prefork", "--loglevel", "INFO", "-n", f"test-{time.time_ns()}@%h"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def pool_child(self, timeout=30) -> int:
        deadline = time.time() + timeout
        while time.time() < deadline:
            kids = children_of(self.proc.pid)
            if kids:
                return kids[0]
            time.sleep(0.1)
        raise AssertionError("worker pool child did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def output(self):
        with open(self.log_path, "rb") as fh:
            return fh.read().decode(errors="replace")


def _backends():
    yield pytest.param(("embedded", "sqlite"), id="embedded-sqlite")
    yield pytest.param(("redis", "postgresql"), id="redis-postgresql")


@pytest.fixture(params=list(_backends()))
def stack(request, tmp_path):
    broker_kind, db_kind = request.param
    if broker_kind == "redis":
        url = redis_url()
        if url is None:
            pytest.skip("Redis is not reachable on 127.0.0.1:6379")
        broker = url
    else:
        broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    if db_kind == "postgresql":
        from support import fresh_schema

        database = request.getfixturevalue("postgres_database")
        fresh_schema(database)
    else:
        database = f"sqlite:///{tmp_path / 'app.sqlite'}"
    prefix = f"t{os.getpid()}-{time.time_ns()}-"  # test runs sharing one Redis never see each other's jobs
    app = build_app(tmp_path, database, BROKER_URL=broker, JOB_LEASE_S=3, QUEUE_PREFIX=prefix)
    env = {**os.environ, "CLINLABEL_DATA_DIR": str(tmp_path / "data"), "CLINLABEL_DATABASE_URL": database,
           "CLINLABEL_BROKER_URL": broker, "CLINLABEL_SECRET_KEY": app.config["SECRET_KEY"],
           "CLINLABEL_AUDIT_KEY": app.config["AUDIT_KEY"],
           "CLINLABEL_JOB_LEASE_S": "3", "CLINLABEL_WORKER_BATCH_DELAY_MS": "40", "CLINLABEL_QUEUE_PREFIX": prefix}
    create_user(app, "boss", is_admin=True)
    api = login(app.test_client(), "boss")
    _, project = api.post("/projects", {"name": "Queue", "modality": "labels"})
    texts = [{"text": ["chest pain now", "renew prescription", "update address"][i % 3] + f" #{i}"} for i in range(640)]
    status, _ = api.post(f"/projects/{project['id']}/items", texts)
    assert status == 201
    worker = Worker(env, str(tmp_path / "worker.log"))
    yield app, api, project["id"], worker
    worker.stop()
    from server.extensions import db

    db.dispose()


def wait_for(api, job_id, states=("succeeded", "failed", "cancelled"), timeout=120, seen=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, job = api.get(f"/jobs/{job_id}")
        assert status == 200
        if seen is not None:
            seen.append(job["progress"])
        if job["status"] in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']} at {job['progress']}%")


def model_annotation_counts(app, project_id):
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import Annotation

    with app.app_context():
        rows = db.session.execute(select(Annotation.item_id, func.count()).where(
            Annotation.project_id == project_id, Annotation.source == "model").group_by(Annotation.item_id)).all()
        db.session.remove()
    return dict(rows)


def test_job_completes_with_visible_progress(stack):
    app, api, pid, worker = stack
    worker.start()
    status, job = api.post(f"/projects/{pid}/jobs", {"kind": "preannotate"})
    assert status == 202 and job["status"] == "queued"
    seen = []
    done = wait_for(api, job["id"], seen=seen)
    assert done["status"] == "succeeded", (done, worker.output()[-2000:])
    assert done["progress"] == 100 and done["model_version"] == "keywords@1"
    assert any(0 < p < 100 for p in seen), (sorted(set(seen)), done, worker.output()[-1500:])  # progress moved
    counts = model_annotation_counts(app, pid)
    assert len(counts) == 640 and set(counts.values()) == {1}
    status, health = api.get("/health")
    assert health["workers"] and health["queue"] == "ok"


def _start_and_wait_until_running(api, pid):
    _, job = api.post(f"/projects/{pid}/jobs", {"kind": "preannotate"})
    deadline = time.time() + 60
    while time.time() < deadline:
        _, state = api.get(f"/jobs/{job['id']}")
        if state["status"] == "running" and 5 <= state["progress"] < 60:
            return job["id"]
        time.sleep(0.02)
    raise AssertionError(f"job never got going: {state}")


def test_sigkill_of_pool_child_gives_exactly_one_result(stack):
    app, api, pid, worker = stack
    worker.start()
    child = worker.pool_child()
    job_id = _start_and_wait_until_running(api, pid)
    os.kill(child, signal.SIGKILL)
    done = wait_for(api, job_id)
    assert done["status"] == "succeeded", (done, worker.output()[-3000:])
    assert done["attempts"] >= 2, worker.output()[-3000:]
    counts = model_annotation_counts(app, pid)
    assert len(counts) == 640 and set(counts.values()) == {1}  # every item once, none twice


def test_sigkill_of_whole_worker_then_restart_recovers(stack):
    app, api, pid, worker = stack
    worker.start()
    worker.pool_child()
    job_id = _start_and_wait_until_running(api, pid)
    for pid_ in children_of(worker.proc.pid) + [worker.proc.pid]:
        os.kill(pid_, signal.SIGKILL)
    worker.proc.wait()
    _, stuck = api.get(f"/jobs/{job_id}")
    assert stuck["status"] == "running"  # the broker lost the message with the worker
    worker.log.close()
    worker.start()  # its reaper sees the expired lease and re-queues the job
    done = wait_for(api, job_id)
    assert done["status"] == "succeeded", (done, worker.output()[-3000:])
    counts = model_annotation_counts(app, pid)
    assert len(counts) == 640 and set(counts.values()) == {1}


def test_cancel_stops_a_running_job(stack):
    app, api, pid, worker = stack
    worker.start()
    job_id = _start_and_wait_until_running(api, pid)
    assert api.post(f"/jobs/{job_id}/cancel")[0] == 202
    done = wait_for(api, job_id)
    assert done["status"] == "cancelled"


_DECLARE = """
import sys, time, types
from server.jobs.celery_app import declare_embedded_queues
from server.jobs.queue import configure
configure(types.SimpleNamespace(config={"BROKER_URL": sys.argv[1], "QUEUE_PREFIX": "race-"}))
while time.time() < float(sys.argv[2]):
    time.sleep(0.001)
declare_embedded_queues()
"""


def test_processes_declaring_the_embedded_broker_at_once_all_start(tmp_path):
    """A web process publishing while a worker starts both create kombu's queue rows; unserialised, the loser's
    worker died at start-up ("UNIQUE constraint failed: kombu_queue.name") and the job sat queued."""
    import sqlite3

    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    start = str(time.time() + 4)
    procs = [subprocess.Popen([sys.executable, "-c", _DECLARE, broker, start], cwd=ROOT, stderr=subprocess.PIPE)
             for _ in range(6)]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-600:] for e in errors if e]
    with sqlite3.connect(tmp_path / "broker.sqlite") as conn:
        names = sorted(n for (n,) in conn.execute("SELECT name FROM kombu_queue"))
    assert names == ["race-cpu", "race-gpu"]


def test_the_embedded_broker_is_polled_often_enough_that_a_job_starts_promptly(tmp_path):
    """The worker's drain loop sleeps for its transport's polling interval whenever every queue was empty. Setting it
    on kombu's Channel (as we once did) changed nothing: the transport kept its 1 s default and every job waited
    0.5 s on average before it started."""
    import types

    from server.jobs.queue import EMBEDDED_POLL_S, celery, configure

    configure(types.SimpleNamespace(config={"BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
                                            "QUEUE_PREFIX": "poll-"}))
    with celery.connection_for_read() as conn:
        assert conn.transport.polling_interval == EMBEDDED_POLL_S <= 0.1


def test_worker_warms_models_before_forking(tmp_path):
    """`make run`'s worker loads the notes models (spaCy, Presidio, the term matcher) in its main process before the
    pool forks: the pool process that runs a new upload's first pre-annotation finds them loaded."""
    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    database = f"sqlite:///{tmp_path / 'app.sqlite'}"
    app = build_app(tmp_path, database, BROKER_URL=broker)
    env = {**os.environ, "CLINLABEL_DATA_DIR": str(tmp_path / "data"), "CLINLABEL_DATABASE_URL": database,
           "CLINLABEL_BROKER_URL": broker, "CLINLABEL_SECRET_KEY": app.config["SECRET_KEY"],
           "CLINLABEL_AUDIT_KEY": app.config["AUDIT_KEY"], "CLINLABEL_WORKER_WARM": "1"}
    create_user(app, "boss", is_admin=True)
    api = login(app.test_client(), "boss")
    _, project = api.post("/projects", {"name": "Warm", "modality": "notes"})
    status, _ = api.post(f"/projects/{project['id']}/items", [
        {"text": "Seen by Dr. Adams on 3/4/2021 for chest pain; started aspirin."}])
    assert status == 201
    worker = Worker(env, str(tmp_path / "worker.log")).start()
    try:
        status, job = api.post(f"/projects/{project['id']}/jobs", {"kind": "preannotate"})
        assert status == 202
        done = wait_for(api, job["id"], timeout=180)
        assert done["status"] == "succeeded", (done, worker.output()[-2000:])
        log = worker.output()
        assert "models warmed before the pool forks" in log and "'notes': " in log, log[-2000:]
        assert "loading the PHI models in this process (cold" not in log, log[-2000:]
        assert model_annotation_counts(app, project["id"])
    finally:
        worker.stop()
        from server.extensions import db

        db.dispose()
