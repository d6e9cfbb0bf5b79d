"""Never lose a correction (notes, through the API on SQLite and PostgreSQL): a rubber-stamped model draft does not
outvote a corrector, PHI is its own layer, big notes route outside the request, drafts autosave without touching
submitted work."""
from __future__ import annotations

from support import huge_note, sqlite_write_lock

NOTE = ("Mr. John Carter has type 2 diabetes and hypertension. He denies chest pain. Started metformin 500 mg. "
        "Seen by Dr Lee on 3/4. Also asthma, gout and anemia; no fever, no cough.")


def span(sid, phrase, label, layer="entity", **extra):
    start = NOTE.index(phrase)
    return {"id": sid, "start": start, "end": start + len(phrase), "label": label, "layer": layer, "text": phrase,
            **extra}


MODEL = [span("s1", "type 2 diabetes", "PROBLEM"), span("s2", "hypertension", "PROBLEM"),
         span("s3", "chest pain", "PROBLEM", assertion="negated"), span("s4", "metformin", "MEDICATION"),
         span("s5", "asthma", "PROBLEM"), span("s6", "gout", "PROBLEM"), span("s7", "anemia", "PROBLEM"),
         span("s8", "fever", "PROBLEM", assertion="negated"), span("s9", "cough", "PROBLEM", assertion="negated"),
         span("p1", "John Carter", "NAME", "phi"), span("p2", "Lee", "NAME", "phi"), span("p3", "3/4", "DATE", "phi")]


def notes_project(admin, make_member, **workflow):
    wf = {"annotators_per_item": 2, "auto_consensus": True, "consensus_threshold": 0.9,
          "adjudication": "below_threshold", "adjudication_threshold": 0.8, **workflow}
    status, project = admin.post("/projects", {"name": "Corrections", "modality": "notes", "workflow": wf})
    assert status == 201, project
    pid = project["id"]
    return pid, make_member(pid, "ann1", "annotator"), make_member(pid, "ann2", "annotator"), \
        make_member(pid, "rev1", "reviewer")


def submit(api, pid, spans):
    status, item = api.post(f"/projects/{pid}/next")
    assert status == 200, item
    status, ann = api.post(f"/items/{item['id']}/annotations", {"payload": {"spans": spans, "relations": []},
                                                                "status": "submitted", "time_spent_ms": 900})
    assert status == 201, ann
    return item["id"], ann


def test_a_rubber_stamp_does_not_outvote_a_correction(admin, make_member):
    pid, a, b, reviewer = notes_project(admin, make_member)
    _, created = admin.post(f"/projects/{pid}/items", [{"text": NOTE, "name": "n"}])
    item_id = created["created"][0]["id"]
    submit(a, pid, MODEL)  # "Accept all"
    corrected = [s for s in MODEL if s["id"] != "s7"] + [span("c1", "500 mg", "DOSAGE")]
    corrected = [{**s, "assertion": "present"} if s["id"] == "s9" else s for s in corrected]
    submit(b, pid, corrected)
    _, item = admin.get(f"/items/{item_id}")
    assert item["stage"] in ("review", "adjudicate")  # agreement ~0.9, but ties are a person's call
    _, view = reviewer.get(f"/items/{item_id}/review")
    assert view["agreement"]["conflicts"] == 3 and view["agreement"]["layers"]["phi"] == 1.0
    _, curation = reviewer.get(f"/items/{item_id}/curation")
    assert curation["tied"] == 3
    assert reviewer.post(f"/items/{item_id}/decision", {"action": "merge"})[0] == 400  # no silent tie-break
    b_index = [v["author"] for v in curation["versions"]].index("ann2")
    choices = {u["id"]: next(i for i, o in enumerate(u["options"]) if b_index in o["versions"])
               for u in curation["units"] if u["default"] is None}
    status, preview = reviewer.post(f"/items/{item_id}/curation/preview", {"choices": choices})
    assert status == 200
    labels = sorted((s["start"], s["label"], s.get("assertion")) for s in preview["payload"]["spans"])
    assert labels == sorted((s["start"], s["label"], s.get("assertion")) for s in corrected)
    status, out = reviewer.post(f"/items/{item_id}/decision", {"action": "merge", "choices": choices})
    assert status == 200 and out["stage"] == "done"


def test_missing_phi_is_its_own_disagreement(admin, make_member):
    pid, a, b, reviewer = notes_project(admin, make_member, annotators_per_item=3)
    c = make_member(pid, "ann3", "annotator")
    _, created = admin.post(f"/projects/{pid}/items", [{"text": NOTE, "name": "n"}])
    item_id = created["created"][0]["id"]
    entities = [s for s in MODEL if s["layer"] == "entity"]
    submit(a, pid, MODEL)
    submit(b, pid, MODEL)
    submit(c, pid, entities)  # marked no PHI at all; entities identical
    _, view = reviewer.get(f"/items/{item_id}/review")
    layers = view["agreement"]["layers"]
    assert layers["entities"] == 1.0 and layers["phi"] == 0.0
    assert "phi 0%" in view["agreement"]["reason"]
    assert admin.get(f"/items/{item_id}")[1]["stage"] == "adjudicate"  # the PHI layer is below 0.8


def test_three_annotators_with_a_clear_majority_reach_consensus(admin, make_member):
    pid, a, b, _ = notes_project(admin, make_member, annotators_per_item=3, consensus_threshold=0.8,
                                 adjudication_threshold=0.5)
    c = make_member(pid, "ann3", "annotator")
    _, created = admin.post(f"/projects/{pid}/items", [{"text": NOTE, "name": "n"}])
    item_id = created["created"][0]["id"]
    submit(a, pid, MODEL)
    submit(b, pid, MODEL)
    submit(c, pid, [s for s in MODEL if s["id"] != "s6"])
    assert admin.get(f"/items/{item_id}")[1]["stage"] == "done"
    _, anns = admin.get(f"/items/{item_id}/annotations")
    gold = [x for x in anns["items"] if x["stage"] == "gold"]
    assert len(gold) == 1 and len(gold[0]["payload"]["spans"]) == len(MODEL)


def test_a_huge_note_is_routed_by_a_job_and_the_submit_stays_small(admin, make_member):
    pid, a, b, reviewer = notes_project(admin, make_member)
    text, spans = huge_note(4000)
    assert len(text) == 1_000_000 and len(spans) >= 49_000
    _, created = admin.post(f"/projects/{pid}/items", [{"text": text, "name": "long discharge summary"}])
    item_id = created["created"][0]["id"]
    submit(a, pid, spans)
    submit(b, pid, spans[:-10])
    _, jobs = admin.get(f"/projects/{pid}/jobs")
    route = [j for j in jobs["items"] if j["kind"] == "route"]
    assert len(route) == 1 and route[0]["status"] == "succeeded"  # eager here; a worker's job in production
    assert admin.get(f"/items/{item_id}")[1]["stage"] == "review"  # 10 spans tied: the reviewer decides
    status, too_many = a.put(f"/items/{item_id}/draft", {"payload": {"spans": spans * 3, "relations": []},
                                                         "revision": 0})
    assert status == 400 and "spans" in too_many["error"]["message"]


def test_drafts_autosave_without_touching_submitted_work(admin, make_member):
    pid, a, b, _ = notes_project(admin, make_member)
    _, created = admin.post(f"/projects/{pid}/items", [{"text": NOTE, "name": "n"}])
    item_id = created["created"][0]["id"]
    assert a.get(f"/items/{item_id}/draft")[0] == 204
    body = {"payload": {"spans": MODEL[:2], "relations": []}, "revision": 0}
    status, draft = a.put(f"/items/{item_id}/draft", body)
    assert status == 200 and draft["revision"] == 1
    status, draft = a.put(f"/items/{item_id}/draft", {**body, "revision": 1, "payload": {"spans": MODEL[:3],
                                                                                       "relations": []}})
    assert status == 200 and draft["revision"] == 2
    status, stale = a.put(f"/items/{item_id}/draft", {**body, "revision": 1})  # another tab, behind
    assert status == 409 and "another tab" in stale["error"]["message"]
    assert a.put(f"/items/{item_id}/draft", {**body, "payload": {"spans": [{"id": 1}]}, "revision": 2})[0] == 400
    assert b.get(f"/items/{item_id}/draft")[0] == 204  # drafts are per person
    assert len(a.get(f"/items/{item_id}/draft")[1]["payload"]["spans"]) == 3  # survives a reload
    submit(a, pid, MODEL)
    assert a.get(f"/items/{item_id}/draft")[0] == 204  # spent by the save


def _model_draft(app, item_id, project_id, spans):
    from server.extensions import db
    from server.models import Annotation

    with app.app_context():
        db.session.add(Annotation(item_id=item_id, project_id=project_id, source="model", stage="annotate",
                                  status="draft", model_version="clinical@v1",
                                  payload={"spans": spans, "relations": []}))
        db.session.commit()


def test_accepted_unchanged_is_counted_per_span_and_sub_second_items_are_flagged(app, admin, make_member):
    pid, a, b, _ = notes_project(admin, make_member, annotators_per_item=1)
    _, created = admin.post(f"/projects/{pid}/items", [{"text": NOTE, "name": "n1"}, {"text": NOTE, "name": "n2"}])
    for row in created["created"]:
        _model_draft(app, row["id"], pid, [{**s, "score": 0.9} for s in MODEL])
    submit(a, pid, MODEL)  # accepted as is (the model's scores dropped: still unchanged)
    submit(a, pid, MODEL[:-2] + [span("x", "asthma", "TEST")])  # 12 drafted spans, 10 kept
    _, quality = admin.get(f"/projects/{pid}/annotators")
    row = next(r for r in quality["items"] if r["username"] == "ann1")
    assert row["preannotated_units"] == 24 and row["preannotations_accepted_unchanged"] == (12 + 9) / 24
    assert row["sub_second_items"] == 2


def test_exports_filter_by_stage_and_carry_provenance(app, admin, make_member):
    import json

    pid, a, b, reviewer = notes_project(admin, make_member)
    _, created = admin.post(f"/projects/{pid}/items", [{"text": NOTE, "name": "gold"}, {"text": NOTE, "name": "raw"}])
    gold_id, raw_id = (r["id"] for r in created["created"])
    _model_draft(app, raw_id, pid, MODEL)
    for api in (a, b):
        status, item = api.post(f"/projects/{pid}/next")
        assert item["id"] == gold_id
        api.post(f"/items/{gold_id}/annotations", {"payload": {"spans": MODEL, "relations": []}})
    assert admin.get(f"/items/{gold_id}")[1]["stage"] == "done"  # identical versions: consensus
    counts = {}
    for stage in ("gold", "reviewed", "all"):
        status, job = admin.post(f"/projects/{pid}/exports", {"format": "jsonl", "options": {"stage": stage}})
        assert status == 202 and job["params"]["options"]["stage"] == stage
        _, job = admin.get(f"/jobs/{job['id']}")
        resp = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers={"Authorization": f"Bearer {admin.token}"})
        assert resp.status_code == 200 and ".." not in resp.headers["Content-Disposition"]
        records = [json.loads(line) for line in resp.get_data(as_text=True).splitlines()]
        counts[stage] = {r["id"]: r["provenance"]["origin"] for r in records}
    assert counts["gold"] == counts["reviewed"] == {gold_id: "consensus"}
    assert counts["all"] == {gold_id: "consensus", raw_id: "model"}
    assert admin.post(f"/projects/{pid}/exports", {"format": "jsonl", "options": {"stage": "x"}})[0] == 400


def test_model_suggestions_are_capped_per_item_with_a_note(app, admin, make_member):
    from annotators.base import registry

    notes = registry.get("notes")
    spans = [{**span(f"s{i}", "fever", "PROBLEM"), "id": f"s{i}", "score": i / 100} for i in range(30)]
    payload = {"spans": spans, "relations": [{"id": "r1", "type": "dosage", "head": "s0", "tail": "s29"}]}
    limited, dropped = notes.limit_suggestions(payload, 10)
    assert dropped == 20 and [s["id"] for s in limited["spans"]] == [f"s{i}" for i in range(20, 30)]
    assert limited["relations"] == []  # s0 was left out
    status, body = admin.post("/projects", {"name": "x", "modality": "notes",
                                            "workflow": {"max_suggestions_per_item": 1}})
    assert status == 400 and "max_suggestions_per_item" in str(body)


def test_validation_errors_never_repeat_note_text(admin, make_member):
    pid, a, _, _ = notes_project(admin, make_member)
    _, created = admin.post(f"/projects/{pid}/items", [{"text": NOTE, "name": "n"}])
    item_id = created["created"][0]["id"]
    bad = {"spans": [{**MODEL[0], "start": "John Carter"}], "relations": []}
    status, body = a.put(f"/items/{item_id}/draft", {"payload": bad, "revision": 0})
    assert status == 400 and "John" not in body["error"]["message"]
    assert "must be of type integer" in body["error"]["message"]


def test_a_huge_submit_on_postgresql_leaves_other_users_working(postgres_database, tmp_path, shipped_ontology_dir):
    """The walkthrough's case 1 on a real server (gunicorn + worker) with PostgreSQL: while the second annotator
    submits the 1M-character note, another user logs in and saves their own work; the note is routed by a job."""
    import threading
    import time

    from sqlalchemy import create_engine, text as sql

    from live import LiveServer, api

    engine = create_engine(postgres_database)
    with engine.begin() as conn:  # an empty schema: `flask setup` migrates it as a new deployment would
        conn.execute(sql("DROP SCHEMA public CASCADE"))
        conn.execute(sql("CREATE SCHEMA public"))
    engine.dispose()
    note, spans = huge_note()
    with LiveServer(str(tmp_path / "pg-live"), database_url=postgres_database) as live:
        admin = live.token()
        for name in ("ann1", "ann2", "other"):
            api(live, admin, "POST", "/users", {"username": name, "password": "a-long-password"})
        pid = api(live, admin, "POST", "/projects", {"name": "big", "modality": "notes",
                                                    "workflow": {"annotators_per_item": 2}})["id"]
        small = api(live, admin, "POST", "/projects", {"name": "small", "modality": "notes"})["id"]
        for name in ("ann1", "ann2"):
            api(live, admin, "POST", f"/projects/{pid}/members", {"username": name, "role": "annotator"})
        api(live, admin, "POST", f"/projects/{small}/members", {"username": "other", "role": "annotator"})
        item_id = api(live, admin, "POST", f"/projects/{pid}/items", [{"text": note}])["created"][0]["id"]
        api(live, admin, "POST", f"/projects/{small}/items", [{"text": NOTE}])
        tokens = {n: live.token(n, "a-long-password") for n in ("ann1", "ann2")}
        for name in ("ann1", "ann2"):
            api(live, tokens[name], "POST", f"/projects/{pid}/next")
        api(live, tokens["ann1"], "POST", f"/items/{item_id}/annotations", {"payload": {"spans": spans}})
        done = {}

        def second():
            done["status"] = live.request("POST", f"/api/v1/items/{item_id}/annotations",
                                          {"payload": {"spans": spans[:-30]}}, tokens["ann2"])[0]

        thread = threading.Thread(target=second)
        thread.start()
        other = live.token("other", "a-long-password")  # logging in works meanwhile
        mine = api(live, other, "POST", f"/projects/{small}/next")
        api(live, other, "POST", f"/items/{mine['id']}/annotations", {"payload": {"spans": MODEL[:3]}})
        thread.join(timeout=120)
        assert done.get("status") == 201
        deadline = time.time() + 120
        while api(live, admin, "GET", f"/items/{item_id}")["stage"] == "routing" and time.time() < deadline:
            time.sleep(0.3)
        assert api(live, admin, "GET", f"/items/{item_id}")["stage"] == "review"  # 30 tied spans
        assert "Traceback" not in live.read_log()


def test_curation_preview_reads_without_the_sqlite_write_lock(admin, make_member, database_url):
    """The preview is a POST (it takes the reviewer's choices) that writes nothing: it answers while another
    connection holds SQLite's write lock, instead of waiting (and making every writer wait) for it."""
    if not database_url.startswith("sqlite"):
        import pytest

        pytest.skip("SQLite's single writer lock")
    pid, a, b, reviewer = notes_project(admin, make_member)
    _, created = admin.post(f"/projects/{pid}/items", [{"text": NOTE, "name": "n"}])
    item_id = created["created"][0]["id"]
    submit(a, pid, MODEL)
    submit(b, pid, [s for s in MODEL if s["id"] != "s7"])
    _, curation = reviewer.get(f"/items/{item_id}/curation")
    choices = {u["id"]: 0 for u in curation["units"] if u["default"] is None}
    assert choices  # a tie to choose in: the preview merges, it does not only echo
    with sqlite_write_lock(database_url):
        status, preview = reviewer.post(f"/items/{item_id}/curation/preview", {"choices": choices})
    assert status == 200, preview
    merged = {(s["start"], s["label"]) for s in preview["payload"]["spans"]}
    assert merged >= {(s["start"], s["label"]) for s in MODEL if s["id"] != "s7"}
