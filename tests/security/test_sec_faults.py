"""Campaign checklist — faults: one user's big import must not stall everyone (SQLite reads never take the write
lock, validation happens before it, record caps, large uploads become jobs that resume where they stopped), and
jobs never fail on a transient database conflict."""
from __future__ import annotations

import io
import json
import os

import pytest
from sqlalchemy.exc import OperationalError

from support import create_user, login, sqlite_write_lock


@pytest.fixture
def write_lock_held(sqlite_app):
    """Another connection holds SQLite's write lock (a long import elsewhere) for the whole test."""
    with sqlite_write_lock(sqlite_app.config["DATABASE_URL"]) as holder:
        yield holder


def test_reads_and_refused_writes_do_not_wait_for_another_writer(sqlite_app):
    create_user(sqlite_app, "reader", is_admin=True)
    api = login(sqlite_app.test_client(), "reader")
    _, project = api.post("/projects", {"name": "Ward", "modality": "labels"})
    with sqlite_write_lock(sqlite_app.config["DATABASE_URL"]):
        assert api.get("/me")[0] == 200  # before: every request began with BEGIN IMMEDIATE and waited 30 s -> 503
        assert api.get(f"/projects/{project['id']}")[0] == 200
        status, reply = api.patch(f"/projects/{project['id']}", {"workflow": {"annotators_per_item": 99}})
        assert status == 400, reply  # validated before any write lock is asked for
        status, reply = api.post(f"/projects/{project['id']}/items", {"items": "not a list"})
        assert status == 400, reply
    assert api.patch(f"/projects/{project['id']}", {"description": "after"})[0] == 200


def test_json_uploads_have_a_record_cap(admin, labels_project):
    status, reply = admin.post(f"/projects/{labels_project['id']}/items", [{"text": "x"}] * 10_001)
    assert status == 413 and "JSONL" in reply["error"]["message"]


def _jsonl(lines: int, start: int = 0) -> bytes:
    return "".join(json.dumps({"text": f"call back about results {i}"}) + "\n"
                   for i in range(start, start + lines)).encode()


def _upload(api, pid, data: bytes, name="big.jsonl"):
    resp = api.client.post(f"/api/v1/projects/{pid}/items", headers=api.headers(), content_type="multipart/form-data",
                           data={"files": [(io.BytesIO(data), name)]})
    return resp.status_code, resp.get_json()


def test_a_large_upload_becomes_a_job_that_creates_every_record(admin, labels_project):
    pid = labels_project["id"]
    status, body = _upload(admin, pid, _jsonl(12_000))
    assert status == 202 and body["job_id"], body
    _, job = admin.get(f"/jobs/{body['job_id']}")
    assert job["status"] == "succeeded" and job["result"]["created"] == 12_000, job
    _, items = admin.get(f"/projects/{pid}/items?limit=1")
    _, progress = admin.get(f"/projects/{pid}/progress")
    assert progress["items"] == 12_000


def test_a_file_beyond_the_record_cap_is_refused_with_a_message(admin, labels_project):
    status, body = _upload(admin, labels_project["id"], _jsonl(100_001))
    assert status == 202
    _, job = admin.get(f"/jobs/{body['job_id']}")
    assert job["status"] == "failed" and "more than 100,000 records" in job["error"], job
    assert admin.get(f"/projects/{labels_project['id']}/progress")[1]["items"] == 0


def test_an_interrupted_import_resumes_after_the_last_committed_batch(sqlite_app):
    from server.extensions import db
    from server.jobs.runner import execute
    from server.models import Item, Job, Project

    with sqlite_app.app_context():
        project = Project(name="Resume", modality="labels", label_config={"labels": [{"name": "urgent"}]},
                          workflow={})
        db.session.add(project)
        db.session.commit()
        folder = os.path.join(sqlite_app.config["DATA_DIR"], "uploads")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "import-resume.tmp")
        with open(path, "wb") as fh:
            fh.write(_jsonl(2500))
        # The first 1,000 records were committed (with their position) before the worker was killed.
        for i in range(1000):
            db.session.add(Item(project_id=project.id, kind="text", name=f"big.jsonl#{i + 1}", content_hash=str(i),
                                text=f"call back about results {i}"))
        job = Job(project_id=project.id, kind="file_import", queue="cpu", status="queued", attempts=1,
                  params={"files": [{"path": path, "name": "big.jsonl"}], "atomic": False, "uploads": []},
                  progress_detail={"file": 0, "record": 1000, "created": 1000, "failed": []})
        db.session.add(job)
        db.session.commit()
        job_id, project_id = job.id, project.id
        assert execute(job_id) == "succeeded"
        texts = db.session.query(Item.text).filter(Item.project_id == project_id).all()
        assert len(texts) == 2500 and len({t for (t,) in texts}) == 2500  # nothing created twice, nothing lost
        assert db.session.get(Job, job_id).result["created"] == 2500
        db.session.remove()


def test_jobs_retry_transient_database_conflicts(sqlite_app, monkeypatch):
    from server.extensions import db
    from server.jobs import kinds
    from server.jobs.runner import execute
    from server.models import Job

    calls = []

    def flaky(ctx):
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("UPDATE jobs", {}, Exception("database is locked"))
        ctx.progress(1, 2)
        return {"tries": len(calls)}

    monkeypatch.setitem(kinds.KINDS, "flaky", kinds.JobKind("flaky", flaky))
    monkeypatch.setattr("server.jobs.runner.time.sleep", lambda s: None)
    with sqlite_app.app_context():
        job = Job(kind="flaky", queue="cpu", status="queued", params={})
        db.session.add(job)
        db.session.commit()
        assert execute(job.id) == "succeeded"
        assert db.session.get(Job, job.id).result == {"tries": 3}
        db.session.remove()
