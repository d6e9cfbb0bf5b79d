"""GPU routing that never hangs: a job that wants a GPU goes to queue "gpu" only while a live worker consumes it;
otherwise it runs on "cpu" and says so. Modality contract pieces around it: available(), item fields, a broken
third-party entry point."""
from __future__ import annotations

import importlib.metadata
from datetime import timedelta

from annotators.base import ENTRY_POINT_GROUP, Prediction, Registry


def _heartbeat(app, queues: str, age_s: float, device: str = "cuda:0") -> None:
    from server.extensions import db
    from server.models import WorkerHeartbeat, utcnow

    with app.app_context():
        db.session.merge(WorkerHeartbeat(worker=f"gpu-box:{queues}", queues=queues, device=device,
                                         seen_at=utcnow() - timedelta(seconds=age_s)))
        db.session.commit()


def test_gpu_wanting_job_without_a_live_gpu_worker_runs_on_cpu_and_says_so(app, admin, make_member):
    status, project = admin.post("/projects", {"name": "gpu", "modality": "notes"})
    pid = project["id"]
    admin.post(f"/projects/{pid}/items", [{"text": "Denies chest pain."}, {"text": "History of asthma."}])
    _heartbeat(app, "gpu", age_s=600)  # a GPU worker that died ten minutes ago does not count
    status, job = admin.post(f"/projects/{pid}/jobs", {"kind": "fit"})  # notes: fit wants a GPU
    assert status == 202 and job["queue"] == "cpu" and "no live worker" in job["params"]["routing"]
    _heartbeat(app, "cpu,gpu", age_s=1)
    status, job = admin.post(f"/projects/{pid}/jobs", {"kind": "fit"})
    assert job["queue"] == "gpu" and "routing" not in job["params"]
    status, job = admin.post(f"/projects/{pid}/jobs", {"kind": "agreement"})
    assert job["queue"] == "cpu"


def test_modalities_describe_metrics_and_availability(admin):
    _, body = admin.get("/modalities")
    notes = next(m for m in (body["items"] if isinstance(body, dict) else body) if m["name"] == "notes")
    assert notes["available"] is True and notes["unavailable_reason"] == ""
    names = {m["name"] for m in notes["metrics"]}
    assert {"agreement", "span_exact_f1", "phi_span_exact_f1", "relation_f1"} <= names


def test_every_metric_agree_reports_is_declared():
    from annotators.base import ItemView, registry

    item = ItemView(id=1, kind="note", text="Denies chest pain.")
    samples = {"notes": {"spans": [{"id": "s", "start": 7, "end": 17, "label": "PROBLEM", "layer": "entity"}],
                         "relations": []},
               "labels": {"labels": ["urgent"]}}
    for name, payload in samples.items():
        modality = registry.get(name)
        declared = {m.name for m in modality.metric_specs}
        reported = set(modality.agree(payload, payload, item, modality.default_label_config))
        assert reported <= declared, (name, reported - declared)


def test_a_broken_entry_point_is_reported_and_skipped(monkeypatch):
    good = importlib.metadata.EntryPoint(name="stars", value="test_contract:Stars", group=ENTRY_POINT_GROUP)
    bad = importlib.metadata.EntryPoint(name="broken", value="no_such_package.plugin:Modality", group=ENTRY_POINT_GROUP)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None, **_: [bad, good] if group == ENTRY_POINT_GROUP else [])
    fresh = Registry()
    assert "stars" in fresh.names() and "notes" in fresh.names()
    assert "ModuleNotFoundError" in fresh.failed["broken"]


def test_prediction_item_fields_are_checked(app):
    from server.jobs.preannotate import _allowed_field

    assert Prediction(item_id=1, payload={}).item_fields == {}
    assert _allowed_field("deid_state", "done") and not _allowed_field("deid_state", "maybe")
    assert _allowed_field("meta", {"language": "en"}) and not _allowed_field("meta", "x")
    assert not _allowed_field("text", "rewritten")


def test_a_job_the_broker_never_took_is_re_sent_at_the_next_housekeeping_pass(app, admin, monkeypatch):
    """The broker refused the message twice: the job stays queued without a Celery id and the reaper sends it again
    after UNSENT_RESEND_S, not after the two minutes it waits for a message that may merely be slow."""
    from server.extensions import db
    from server.jobs import runner
    from server.models import Job

    _, project = admin.post("/projects", {"name": "lost", "modality": "labels"})
    admin.post(f"/projects/{project['id']}/items", [{"text": "renew prescription"}])

    def refuse(*_, **__):
        raise ConnectionError("broker down")

    with monkeypatch.context() as patched:
        patched.setattr(runner.run_job, "apply_async", refuse)
        status, job = admin.post(f"/projects/{project['id']}/jobs", {"kind": "preannotate"})
    assert status == 202 and job["status"] == "queued"
    with app.app_context():
        assert runner.reap()["resent"] == 0  # too early: it was created a moment ago
        row = db.session.get(Job, job["id"])
        assert row.celery_id is None
        row.created_at = row.created_at - timedelta(seconds=runner.UNSENT_RESEND_S + 1)
        db.session.commit()
        assert runner.reap()["resent"] == 1
    _, done = admin.get(f"/jobs/{job['id']}")
    assert done["status"] == "succeeded" and done["attempts"] == 1
