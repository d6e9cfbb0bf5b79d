"""Campaign checklist — access and PHI exposure: de-identification at ingest leaves nothing of the original."""
from __future__ import annotations

import io
import json

PATIENT = "John Carter"
MRN = "4455-1923"
NOTE = f"{PATIENT} (MRN {MRN}) seen on 03/02/2026 for chest pain. Denies fever."


def _deid_project(admin):
    from annotators.base import registry

    config = dict(registry.get("notes").default_label_config, deidentify_at_ingest=True)
    status, project = admin.post("/projects", {"name": "Deid", "modality": "notes", "label_config": config})
    assert status == 201, project
    return project["id"]


def _everything_stored(app) -> str:
    """Every text column of every row the upload wrote (items, uploads, annotations, audit details)."""
    from sqlalchemy import text

    from server.extensions import db

    dump = []
    with app.app_context():
        for table in ("items", "uploads", "annotations", "audit_events", "jobs"):
            for row in db.session.execute(text(f"SELECT * FROM {table}")).mappings():
                dump.append(json.dumps({k: str(v) for k, v in row.items()}))
        db.session.remove()
    return "\n".join(dump)


def test_deidentified_projects_keep_no_names_or_metadata_from_the_original(app, admin):
    pid = _deid_project(admin)
    records = [{"text": NOTE, "name": f"{PATIENT} {MRN}", "patient": PATIENT, "mrn": MRN, "ward": "5B"}]
    status, body = admin.post(f"/projects/{pid}/items", records)
    assert status == 201, body
    csv = f"text,patient,mrn\n\"{NOTE}\",{PATIENT},{MRN}\n".encode()
    resp = admin.client.post(f"/api/v1/projects/{pid}/items", headers=admin.headers(),
                             content_type="multipart/form-data",
                             data={"files": [(io.BytesIO(NOTE.encode()), f"{PATIENT} {MRN}.txt"),
                                             (io.BytesIO(csv), f"{PATIENT}.csv")]})
    assert resp.status_code == 201, resp.get_json()
    _, items = admin.get(f"/projects/{pid}/items")
    assert len(items["items"]) == 3
    for listed in items["items"]:
        _, item = admin.get(f"/items/{listed['id']}")
        shown = json.dumps(item)
        assert PATIENT not in shown and MRN not in shown, shown
        assert item["meta"] == {"deidentified_at_ingest": True} and item["name"].startswith("note-")
    stored = _everything_stored(app)
    assert PATIENT not in stored and MRN not in stored


def test_every_read_that_carries_phi_fields_is_audited(admin, make_member, labels_project):
    """Item lists (names, metadata), the review queue, comments and drafts: each read leaves an audit event."""
    pid = labels_project["id"]
    _, body = admin.post(f"/projects/{pid}/items", [{"text": "chest pain", "name": PATIENT, "meta": {"mrn": MRN}}])
    item_id = body["created"][0]["id"]
    reviewer = make_member(pid, "rev", "reviewer")
    annotator = make_member(pid, "ann", "annotator")
    annotator.post(f"/items/{item_id}/comments", {"text": "is this triage?"})
    annotator.put(f"/items/{item_id}/draft", {"stage": "annotate", "payload": {"labels": []}, "pending": []})

    def events(action):
        _, page = admin.get(f"/audit?action={action}&limit=50")
        return [e for e in page["items"] if e["action"] == action]

    before = {a: len(events(a)) for a in ("items.list", "review.queue.read", "comments.read", "draft.read")}
    assert admin.get(f"/projects/{pid}/items")[0] == 200
    assert reviewer.get(f"/projects/{pid}/review-queue")[0] == 200
    assert reviewer.get(f"/projects/{pid}/comments")[0] == 200
    status, _ = annotator.get(f"/items/{item_id}/draft?stage=annotate")
    after = {a: len(events(a)) for a in before}
    assert after["items.list"] == before["items.list"] + 1
    assert after["review.queue.read"] == before["review.queue.read"] + 1
    assert after["comments.read"] == before["comments.read"] + 1
    assert status != 200 or after["draft.read"] == before["draft.read"] + 1
    listed = events("items.list")[0]
    assert listed["actor"] == "root" and item_id in listed["details"]["items"]


def test_taking_the_next_item_is_a_post_and_a_get_changes_nothing(app, admin, make_member, labels_project):
    from sqlalchemy import func, select

    from server.extensions import db
    from server.models import Assignment

    pid = labels_project["id"]
    admin.post(f"/projects/{pid}/items", [{"text": "chest pain"}])
    nurse = make_member(pid, "nurse", "annotator")
    status, reply = nurse.get(f"/projects/{pid}/next")  # a cross-site top-level GET carries SameSite=Lax cookies
    assert status == 405, reply
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Assignment)).scalar_one() == 0
        db.session.remove()
    status, item = nurse.post(f"/projects/{pid}/next")
    assert status == 200 and item["assignment"]["id"]


def test_anonymous_health_says_status_only(client, admin, app):
    from server.extensions import db
    from server.models import WorkerHeartbeat, utcnow

    with app.app_context():
        db.session.add(WorkerHeartbeat(worker="celery@ward-7-host:4242", queues="cpu,gpu", device="cuda:0",
                                       seen_at=utcnow()))
        db.session.commit()
        db.session.remove()
    anonymous = client.get("/api/v1/health").get_json()
    assert anonymous["workers_live"] >= 1 and "workers" not in anonymous
    assert "ward-7-host" not in json.dumps(anonymous) and "cuda" not in json.dumps(anonymous)
    _, detailed = admin.get("/health")
    assert any(w["worker"] == "celery@ward-7-host:4242" for w in detailed["workers"])
    assert detailed["gpu_routing"] == "gpu queue served"


def test_accepted_work_is_frozen_and_a_change_goes_through_a_new_review_round(admin, make_member):
    wf = {"annotators_per_item": 1, "peer_review": True}
    _, project = admin.post("/projects", {"name": "Frozen", "modality": "labels", "workflow": wf})
    pid = project["id"]
    author = make_member(pid, "author", "annotator")
    late = make_member(pid, "latecomer", "annotator")
    reviewer = make_member(pid, "checker", "reviewer")
    (item_id,) = [c["id"] for c in admin.post(f"/projects/{pid}/items", [{"text": "renew prescription"}])[1]["created"]]
    _, item = author.post(f"/projects/{pid}/next")
    _, ann = author.post(f"/items/{item_id}/annotations", {"payload": {"labels": ["routine"]}})
    assert reviewer.post(f"/items/{item_id}/decision", {"action": "accept", "annotation_id": ann["id"]})[0] == 200

    status, reply = author.put(f"/annotations/{ann['id']}", {"payload": {"labels": ["urgent"]},
                                                             "version": ann["version"], "status": "submitted"})
    assert status == 409 and reply["error"]["code"] == "frozen" and "revisions" in reply["error"]["message"]
    status, reply = late.post(f"/items/{item_id}/annotations", {"payload": {"labels": ["admin"]}})
    assert status == 409 and reply["error"]["code"] == "frozen"
    _, view = reviewer.get(f"/items/{item_id}/annotations")
    accepted = [a for a in view["items"] if a["status"] == "accepted"]
    assert {tuple(a["payload"]["labels"]) for a in accepted} == {("routine",)}  # nothing changed in place

    status, revision = author.post(f"/annotations/{ann['id']}/revisions", {"payload": {"labels": ["urgent"]}})
    assert status == 201 and revision["id"] != ann["id"]
    assert admin.get(f"/items/{item_id}")[1]["stage"] == "review"  # a new review round
    _, anns = admin.get(f"/items/{item_id}/annotations")
    assert [a["payload"] for a in anns["items"] if a["stage"] == "gold" and a["status"] == "accepted"] == \
        [{"labels": ["routine"]}]  # gold stays until a reviewer decides
    assert author.post(f"/annotations/{ann['id']}/revisions", {"payload": {"labels": ["admin"]}})[0] == 409
    status, edited = author.put(f"/annotations/{revision['id']}", {"payload": {"labels": ["admin"]},
                                                                    "version": revision["version"]})
    assert status == 200, edited  # the revision is open until the new round is decided
    assert late.post(f"/annotations/{ann['id']}/revisions", {"payload": {"labels": ["admin"]}})[0] == 404
