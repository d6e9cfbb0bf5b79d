"""Annotations with versions, blind visibility, the next-item queue with k annotators, leases and skips."""
import threading

import pytest
from datetime import timedelta

from support import add_texts


def test_create_update_and_stale_version_conflict(admin, labels_project):
    (item_id,) = add_texts(admin, labels_project["id"], ["severe bleeding"])
    status, ann = admin.post(f"/items/{item_id}/annotations", {"payload": {"labels": ["urgent"]}, "status": "draft"})
    assert status == 201 and ann["version"] == 1
    status, ann2 = admin.put(f"/annotations/{ann['id']}", {"payload": {"labels": ["routine"]}, "version": 1})
    assert status == 200 and ann2["version"] == 2
    status, body = admin.put(f"/annotations/{ann['id']}", {"payload": {"labels": ["admin"]}, "version": 1})
    assert status == 409 and "version 2" in body["error"]["message"]
    _, anns = admin.get(f"/items/{item_id}/annotations")
    assert anns["items"][0]["payload"] == {"labels": ["routine"]}  # the stale write changed nothing
    status, body = admin.post(f"/items/{item_id}/annotations", {"payload": {"labels": ["urgent"]}})
    assert status == 409 and "PUT" in body["error"]["message"]


def test_payload_validation(admin, labels_project):
    (item_id,) = add_texts(admin, labels_project["id"], ["x"])
    for bad in ({"labels": ["nope"]}, {"labels": "urgent"}, {"labels": ["urgent", "admin"]}, {"other": 1}):
        status, body = admin.post(f"/items/{item_id}/annotations", {"payload": bad})
        assert status == 400, bad
        assert "payload" in body["error"]["message"]


def test_annotators_are_blind_to_each_other(admin, labels_project, make_member):
    pid = labels_project["id"]
    admin.patch(f"/projects/{pid}", {"workflow": {"annotators_per_item": 2, "auto_consensus": False}})
    (item_id,) = add_texts(admin, pid, ["fax the letter"])
    ann_a, ann_b = make_member(pid, "ann_a", "annotator"), make_member(pid, "ann_b", "annotator")
    reviewer = make_member(pid, "rev", "reviewer")
    assert ann_a.post(f"/items/{item_id}/annotations", {"payload": {"labels": ["admin"]}})[0] == 201
    _, seen_by_b = ann_b.get(f"/items/{item_id}/annotations")
    assert seen_by_b["items"] == []
    _, seen_by_reviewer = reviewer.get(f"/items/{item_id}/annotations")
    assert [a["author"] for a in seen_by_reviewer["items"]] == ["ann_a"]
    status, _ = ann_b.put(f"/annotations/{seen_by_reviewer['items'][0]['id']}", {"payload": {"labels": []}, "version": 1})
    assert status == 404


def test_next_item_respects_k_and_never_repeats(admin, labels_project, make_member):
    pid = labels_project["id"]
    admin.patch(f"/projects/{pid}", {"workflow": {"annotators_per_item": 2}})
    ids = add_texts(admin, pid, ["one", "two"])
    users = [make_member(pid, f"u{i}", "annotator") for i in range(3)]
    got = {}
    for u in users:
        seen = []
        while True:
            status, item = u.post(f"/projects/{pid}/next")
            if status == 204:
                break
            assert item["id"] not in seen
            seen.append(item["id"])
            assert u.post(f"/items/{item['id']}/annotations", {"payload": {"labels": ["routine"]}})[0] == 201
        got[u] = seen
    counts = {i: sum(i in s for s in got.values()) for i in ids}
    assert counts == {ids[0]: 2, ids[1]: 2}


def test_next_returns_the_current_lease_until_submitted(admin, labels_project, make_member):
    pid = labels_project["id"]
    add_texts(admin, pid, ["one", "two"])
    ann = make_member(pid, "ann", "annotator")
    first = ann.post(f"/projects/{pid}/next")[1]
    again = ann.post(f"/projects/{pid}/next")[1]
    assert first["id"] == again["id"]


@pytest.mark.concurrent
def test_two_annotators_race_for_the_last_slot(app, admin, labels_project, make_member):
    pid = labels_project["id"]
    add_texts(admin, pid, ["only item"])
    racers = [make_member(pid, f"r{i}", "annotator") for i in range(2)]
    results = []

    def take(api):
        client = app.test_client()
        resp = client.post(f"/api/v1/projects/{pid}/next", headers={"Authorization": f"Bearer {api.token}"})
        results.append(resp.status_code)

    threads = [threading.Thread(target=take, args=(r,)) for r in racers]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [200, 204]


def test_expired_lease_returns_the_item_to_the_pool(app, admin, labels_project, make_member):
    from server.extensions import db
    from server.models import Assignment, utcnow

    pid = labels_project["id"]
    (item_id,) = add_texts(admin, pid, ["abandoned"])
    slow, fast = make_member(pid, "slow", "annotator"), make_member(pid, "fast", "annotator")
    assert slow.post(f"/projects/{pid}/next")[1]["id"] == item_id
    assert fast.post(f"/projects/{pid}/next")[0] == 204
    with app.app_context():
        for a in db.session.query(Assignment).all():
            a.lease_expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert fast.post(f"/projects/{pid}/next")[1]["id"] == item_id
    # The slow annotator submits after their lease expired: the work is kept, nothing is lost.
    status, _ = slow.post(f"/items/{item_id}/annotations", {"payload": {"labels": ["admin"]}})
    assert status == 201


def test_skip_with_reason_frees_the_slot(admin, labels_project, make_member):
    pid = labels_project["id"]
    (item_id,) = add_texts(admin, pid, ["unclear"])
    a, b = make_member(pid, "a1", "annotator"), make_member(pid, "b1", "annotator")
    assert a.post(f"/projects/{pid}/next")[1]["id"] == item_id
    assert a.post(f"/items/{item_id}/skip", {"reason": "guideline unclear"})[0] == 204
    assert a.post(f"/projects/{pid}/next")[0] == 204  # never the same item twice
    assert b.post(f"/projects/{pid}/next")[1]["id"] == item_id


def test_single_annotator_submission_becomes_gold(admin, labels_project):
    pid = labels_project["id"]
    (item_id,) = add_texts(admin, pid, ["routine review"])
    admin.post(f"/items/{item_id}/annotations", {"payload": {"labels": ["routine"]}})
    _, item = admin.get(f"/items/{item_id}")
    assert item["stage"] == "done"
    _, anns = admin.get(f"/items/{item_id}/annotations")
    assert [a["stage"] for a in anns["items"]] == ["annotate", "gold"]


def test_removed_member_leases_are_released(admin, labels_project, make_member):
    pid = labels_project["id"]
    (item_id,) = add_texts(admin, pid, ["held"])
    leaver, other = make_member(pid, "leaver", "annotator"), make_member(pid, "other", "annotator")
    assert leaver.post(f"/projects/{pid}/next")[1]["id"] == item_id
    assert admin.delete(f"/projects/{pid}/members", {"username": "leaver"})[0] == 204
    assert other.post(f"/projects/{pid}/next")[1]["id"] == item_id
    assert leaver.get(f"/projects/{pid}")[0] == 404


@pytest.mark.concurrent
def test_the_same_first_annotation_sent_twice_at_once_is_stored_once_and_never_500(app, admin, make_member):
    """A double click, a retry after a timeout, two tabs: eight identical first saves of one item at the same
    instant. One is created (201), the others are told it exists (409); one annotation, one submitted slot."""
    from server.extensions import db
    from server.models import Annotation, Assignment, Item

    _, project = admin.post("/projects", {"name": "double click", "modality": "labels",
                                          "workflow": {"annotators_per_item": 2}})
    pid = project["id"]
    (item_id,) = add_texts(admin, pid, ["chest pain since this morning"])
    ann = make_member(pid, "twice", "annotator")
    assert ann.post(f"/projects/{pid}/next")[1]["id"] == item_id
    start, results = threading.Barrier(8), []

    def save():
        client = app.test_client()
        start.wait()
        resp = client.post(f"/api/v1/items/{item_id}/annotations", json={"payload": {"labels": ["urgent"]}},
                           headers={"Authorization": f"Bearer {ann.token}"})
        results.append((resp.status_code, ((resp.get_json() or {}).get("error") or {}).get("message", "")))

    threads = [threading.Thread(target=save) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [409] * 7, results
    assert all("already have annotation" in message for code, message in results if code == 409), results
    with app.app_context():
        humans = db.session.query(Annotation).filter_by(item_id=item_id, source="human", stage="annotate").count()
        assignments = db.session.query(Assignment).filter_by(item_id=item_id, status="submitted").count()
        taken = db.session.get(Item, item_id).slots_taken
        db.session.remove()
    assert (humans, assignments, taken) == (1, 1, 1)
