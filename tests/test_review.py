"""The review workflow through the API for the labels modality: k blind annotators, routing, decisions, races,
agreement dashboard, annotator quality, progress."""
import threading

import pytest

from support import add_texts


def setup_project(admin, make_member, **workflow):
    wf = {"annotators_per_item": 2, "auto_consensus": True, "consensus_threshold": 0.99,
          "adjudication": "below_threshold", "adjudication_threshold": 0.5, **workflow}
    _, project = admin.post("/projects", {"name": "Review", "modality": "labels", "workflow": wf})
    pid = project["id"]
    a, b = make_member(pid, "ann1", "annotator"), make_member(pid, "ann2", "annotator")
    reviewer = make_member(pid, "rev1", "reviewer")
    return pid, a, b, reviewer


def annotate_all(api, pid, choose):
    while True:
        status, item = api.post(f"/projects/{pid}/next")
        if status == 204:
            return
        assert api.post(f"/items/{item['id']}/annotations",
                        {"payload": {"labels": [choose(item)]}, "time_spent_ms": 1500})[0] == 201


def test_agreeing_items_become_gold_and_disagreements_go_to_adjudication(admin, make_member):
    pid, a, b, reviewer = setup_project(admin, make_member)
    agree_id, disagree_id = add_texts(admin, pid, ["renew prescription", "severe bleeding"])
    annotate_all(a, pid, lambda item: "routine" if item["id"] == agree_id else "urgent")
    annotate_all(b, pid, lambda item: "routine" if item["id"] == agree_id else "admin")
    assert admin.get(f"/items/{agree_id}")[1]["stage"] == "done"
    assert admin.get(f"/items/{disagree_id}")[1]["stage"] == "adjudicate"
    _, queue = reviewer.get(f"/projects/{pid}/review-queue")
    assert [i["id"] for i in queue["items"]] == [disagree_id]
    assert "annotators agree 0%" in queue["items"][0]["reason"]
    _, view = reviewer.get(f"/items/{disagree_id}/review")
    assert {v["author"] for v in view["versions"]} == {"ann1", "ann2"}
    assert view["diff"] and view["diff"][0]["kind"] == "labels"
    status, taken = reviewer.post(f"/projects/{pid}/next?stage=adjudicate")
    assert status == 200 and taken["id"] == disagree_id
    urgent = next(v for v in view["versions"] if v["payload"] == {"labels": ["urgent"]})
    status, outcome = reviewer.post(f"/items/{disagree_id}/decision",
                                    {"action": "accept", "annotation_id": urgent["annotation_id"]})
    assert status == 200 and outcome["stage"] == "done"
    _, anns = admin.get(f"/items/{disagree_id}/annotations")
    gold = [x for x in anns["items"] if x["stage"] == "gold" and x["status"] == "accepted"]
    assert len(gold) == 1 and gold[0]["payload"] == {"labels": ["urgent"]}
    _, events = admin.get("/audit?action=review.decide")
    assert events["items"][0]["outcome"] == "success"


@pytest.mark.concurrent
def test_two_reviewers_deciding_at_once_one_wins(app, admin, make_member):
    pid, a, b, reviewer = setup_project(admin, make_member)
    other = make_member(pid, "rev2", "reviewer")
    (item_id,) = add_texts(admin, pid, ["fax the letter"])
    annotate_all(a, pid, lambda item: "admin")
    annotate_all(b, pid, lambda item: "urgent")
    _, view = reviewer.get(f"/items/{item_id}/review")
    results = []

    def decide(api, version):
        client = app.test_client()
        resp = client.post(f"/api/v1/items/{item_id}/decision", headers={"Authorization": f"Bearer {api.token}"},
                           json={"action": "accept", "annotation_id": version["annotation_id"]})
        results.append(resp.status_code)

    threads = [threading.Thread(target=decide, args=(api, v)) for api, v in zip((reviewer, other), view["versions"])]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == [200, 409]
    _, anns = admin.get(f"/items/{item_id}/annotations")
    assert len([x for x in anns["items"] if x["stage"] == "gold" and x["status"] == "accepted"]) == 1


def test_send_back_with_comment_reaches_the_annotator(admin, make_member):
    pid, a, b, reviewer = setup_project(admin, make_member)
    (item_id,) = add_texts(admin, pid, ["appointment change"])
    annotate_all(a, pid, lambda item: "urgent")
    annotate_all(b, pid, lambda item: "admin")
    _, view = reviewer.get(f"/items/{item_id}/review")
    wrong = next(v for v in view["versions"] if v["author"] == "ann1")
    assert reviewer.post(f"/items/{item_id}/decision", {"action": "send_back",
                                                         "annotation_id": wrong["annotation_id"]})[0] == 400
    status, _ = reviewer.post(f"/items/{item_id}/decision", {"action": "send_back", "annotation_id":
                                                             wrong["annotation_id"], "comment": "see guideline 3"})
    assert status == 200
    _, comments = a.get(f"/projects/{pid}/comments")
    assert comments["items"][0]["text"] == "see guideline 3" and comments["items"][0]["item_id"] == item_id
    assert b.get(f"/projects/{pid}/comments")[1]["items"] == []
    status, again = a.post(f"/projects/{pid}/next")
    assert status == 200 and again["id"] == item_id
    _, mine = a.get(f"/items/{item_id}/annotations")
    my = next(x for x in mine["items"] if x["author"] == "ann1")
    assert a.put(f"/annotations/{my['id']}", {"payload": {"labels": ["admin"]}, "version": my["version"],
                                               "status": "submitted"})[0] == 200
    assert admin.get(f"/items/{item_id}")[1]["stage"] == "done"  # both agree now: auto-consensus


def test_edit_and_merge_decisions_and_annotator_cannot_decide(admin, make_member):
    pid, a, b, reviewer = setup_project(admin, make_member, adjudication="always")
    first, second = add_texts(admin, pid, ["one", "two"])
    annotate_all(a, pid, lambda item: "urgent")
    annotate_all(b, pid, lambda item: "routine")
    assert a.post(f"/items/{first}/decision", {"action": "merge"})[0] == 403
    assert reviewer.post(f"/items/{first}/decision", {"action": "edit", "payload": {"labels": ["nope"]}})[0] == 400
    assert reviewer.post(f"/items/{first}/decision", {"action": "edit", "payload": {"labels": ["admin"]}})[0] == 200
    status, body = reviewer.post(f"/items/{second}/decision", {"action": "merge"})  # a tie: nobody wins by order
    assert status == 400 and "tied" in body["error"]["message"]
    _, units = reviewer.get(f"/items/{second}/curation")
    assert units["tied"] == 1 and [o["versions"] for o in units["units"][0]["options"]] == [[0], [1]]
    routine = next(i for i, o in enumerate(units["units"][0]["options"]) if o["payload"] == {"labels": ["routine"]})
    _, preview = reviewer.post(f"/items/{second}/curation/preview", {"choices": {"whole": routine}})
    assert preview["payload"] == {"labels": ["routine"]}
    assert reviewer.post(f"/items/{second}/decision", {"action": "merge", "choices": {"whole": routine}})[0] == 200
    assert reviewer.post(f"/items/{second}/decision", {"action": "merge"})[0] == 409
    _, anns = admin.get(f"/items/{second}/annotations")
    assert [x["payload"] for x in anns["items"] if x["stage"] == "gold"] == [{"labels": ["routine"]}]


def test_peer_review_applies_whatever_k_and_a_change_after_gold_is_reviewed(admin, make_member):
    pid, a, b, reviewer = setup_project(admin, make_member, peer_review=True)
    (item_id,) = add_texts(admin, pid, ["renew prescription"])
    annotate_all(a, pid, lambda item: "routine")
    annotate_all(b, pid, lambda item: "routine")
    assert admin.get(f"/items/{item_id}")[1]["stage"] == "review"  # full agreement, still a reviewer's decision
    _, view = reviewer.get(f"/items/{item_id}/review")
    mine = next(v for v in view["versions"] if v["author"] == "ann1")
    assert reviewer.post(f"/items/{item_id}/decision", {"action": "accept", "annotation_id": mine["annotation_id"]})[0] == 200
    assert admin.get(f"/items/{item_id}")[1]["stage"] == "done"
    # ann1 corrects the item after it became gold: a new gold candidate, reviewed; gold is unchanged meanwhile
    status, ann = a.post(f"/annotations/{mine['annotation_id']}/revisions", {"payload": {"labels": ["urgent"]}})
    assert status == 201 and ann["status"] == "submitted"
    assert admin.get(f"/items/{item_id}")[1]["stage"] == "review"
    _, queue = reviewer.get(f"/projects/{pid}/review-queue")
    assert "edited after gold" in queue["items"][0]["reason"]
    _, anns = admin.get(f"/items/{item_id}/annotations")
    assert [x["payload"] for x in anns["items"] if x["stage"] == "gold" and x["status"] == "accepted"] == \
        [{"labels": ["routine"]}]
    assert reviewer.post(f"/items/{item_id}/decision", {"action": "accept", "annotation_id": ann["id"]})[0] == 200
    _, anns = admin.get(f"/items/{item_id}/annotations")
    assert [x["payload"] for x in anns["items"] if x["stage"] == "gold" and x["status"] == "accepted"] == \
        [{"labels": ["urgent"]}]


def test_changing_k_mid_project_applies_to_items_not_started(admin, make_member):
    pid, a, b, reviewer = setup_project(admin, make_member, annotators_per_item=1)
    first, second = add_texts(admin, pid, ["one", "two"])
    assert a.post(f"/projects/{pid}/next")[1]["id"] == first
    admin.patch(f"/projects/{pid}", {"workflow": {"annotators_per_item": 2}})
    a.post(f"/items/{first}/annotations", {"payload": {"labels": ["admin"]}})
    assert b.post(f"/projects/{pid}/next")[1]["id"] in (first, second)


def test_dashboard_quality_and_progress(admin, make_member):
    pid, a, b, reviewer = setup_project(admin, make_member, pilot_size=3)
    ids = add_texts(admin, pid, ["chest pain", "renew prescription", "update address", "fever and stiffness"])
    assert admin.post(f"/projects/{pid}/jobs", {"kind": "preannotate"})[0] == 202
    annotate_all(a, pid, lambda item: "urgent")
    annotate_all(b, pid, lambda item: "urgent" if item["id"] in ids[:2] else "admin")
    a.post(f"/items/{ids[0]}/comments", {"text": "is chest pain always urgent?"})
    status, agreement = admin.get(f"/projects/{pid}/agreement")  # queues the (eager) agreement job
    status, agreement = admin.get(f"/projects/{pid}/agreement")
    assert status == 200 and agreement["latest"]["items"] == 4
    modality = agreement["latest"]["modality"]
    assert modality["overall"]["percent_agreement"] == 0.5 and modality["per_pair"]["ann1 vs ann2"]["items"] == 4
    assert agreement["live"]["pairs"][0]["agreement"] == 0.5
    resp = admin.client.get(f"/api/v1/projects/{pid}/agreement?format=csv",
                            headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code == 200 and "pair,ann1|ann2,agreement,0.5" in resp.get_data(as_text=True)
    svg = admin.client.get(f"/api/v1/projects/{pid}/agreement/chart.svg?kind=pairs",
                           headers={"Authorization": f"Bearer {admin.token}"})
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data and b"ann1" in svg.data
    _, quality = admin.get(f"/projects/{pid}/annotators")
    rows = {r["username"]: r for r in quality["items"]}
    assert rows["ann1"]["items"] == 4 and rows["ann1"]["median_seconds_per_item"] == 1.5
    assert rows["ann1"]["peer_agreement"] == 0.5
    assert rows["ann1"]["preannotations_accepted_unchanged"] is not None
    _, progress = admin.get(f"/projects/{pid}/progress")
    assert progress["items"] == 4 and progress["per_stage"].get("done") == 2
    assert progress["pilot"]["items"] == 3 and progress["pilot"]["questions"][0]["item_id"] == ids[0]
    assert reviewer.get(f"/projects/{pid}/annotators")[0] == 403
    assert a.get(f"/projects/{pid}/agreement")[0] == 403


def test_a_manager_replaces_gold_directly_with_a_reason_and_an_audit_record(admin, make_member):
    pid, a, b, reviewer = setup_project(admin, make_member, annotators_per_item=1)
    manager = make_member(pid, "boss", "manager")
    (item_id,) = add_texts(admin, pid, ["renew prescription"])
    annotate_all(a, pid, lambda item: "routine")
    assert admin.get(f"/items/{item_id}")[1]["stage"] == "done"
    assert reviewer.put(f"/items/{item_id}/gold", {"payload": {"labels": ["urgent"]}, "comment": "policy"})[0] == 403
    assert manager.put(f"/items/{item_id}/gold", {"payload": {"labels": ["urgent"]}})[0] == 400  # reason required
    status, out = manager.put(f"/items/{item_id}/gold", {"payload": {"labels": ["urgent"]}, "comment": "policy"})
    assert status == 200 and out["previous_gold"] and out["stage"] == "done"
    _, anns = admin.get(f"/items/{item_id}/annotations")
    gold = [x for x in anns["items"] if x["stage"] == "gold"]
    assert [(x["payload"], x["status"]) for x in gold] == [({"labels": ["routine"]}, "superseded"),
                                                           ({"labels": ["urgent"]}, "accepted")]
    _, events = admin.get("/audit?action=gold.replace")
    assert events["items"][0]["details"]["previous_gold"] == out["previous_gold"]
