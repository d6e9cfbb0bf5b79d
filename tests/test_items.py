"""Uploads: multipart and JSON, validation by content, per-file errors, atomic batches, listing with cursors."""
import io

from support import add_texts


def upload(api, project_id, files, query=""):
    resp = api.client.post(f"/api/v1/projects/{project_id}/items{query}",
                           headers={"Authorization": f"Bearer {api.token}"},
                           data={"files": [(io.BytesIO(data), name) for name, data in files]},
                           content_type="multipart/form-data")
    return resp.status_code, resp.get_json()


def test_multipart_upload_txt_jsonl_csv(admin, labels_project):
    pid = labels_project["id"]
    status, body = upload(admin, pid, [
        ("note.txt", "Chest pain since this morning.".encode()),
        ("batch.jsonl", b'{"text": "renew prescription", "ward": "A"}\n{"text": "fax records", "label": "admin"}\n'),
        ("sheet.csv", b"text,site\nsevere bleeding,north\nannual follow-up,south\n"),
        ("utf16.txt", "Stable asthma review.".encode("utf-16")),
    ])
    assert status == 201, body
    assert len(body["created"]) == 6 and body["failed"] == []
    status, listing = admin.get(f"/projects/{pid}/items?limit=100")
    metas = {i["name"]: i["meta"] for i in listing["items"]}
    assert metas["note.txt"] == {}
    assert metas["batch.jsonl#1"] == {"ward": "A"} and metas["sheet.csv#3"] == {"site": "south"}


def test_bad_files_are_listed_and_good_ones_kept(admin, labels_project):
    pid = labels_project["id"]
    status, body = upload(admin, pid, [
        ("ok.txt", b"routine review"),
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR"),
        ("latin1.txt", "caf\xe9".encode("latin-1")),
        ("empty.txt", b"   "),
        ("nocol.csv", b"body\nhello\n"),
        ("script.exe", b"MZ..."),
        ("badline.jsonl", b'{"text": "a"}\n{not json\n'),
    ])
    assert status == 201
    assert [c["name"] for c in body["created"]] == ["ok.txt"]
    errors = {f["name"]: f["error"] for f in body["failed"]}
    assert "binary" in errors["binary.txt"]
    assert "UTF-8" in errors["latin1.txt"]
    assert "empty" in errors["empty.txt"]
    assert "'text' column" in errors["nocol.csv"]
    assert "unsupported file type" in errors["script.exe"]
    assert "line 2" in errors["badline.jsonl"]


def test_path_separators_in_names_are_rejected(admin, labels_project):
    status, body = upload(admin, labels_project["id"], [("..\\..\\evil.txt", b"x y z")])
    # Werkzeug strips directories from multipart names it can recognise; what reaches us must not hold separators.
    assert status in (201, 422)
    for created in (body.get("created") or []):
        assert "/" not in created["name"] and "\\" not in created["name"]


def test_atomic_upload_creates_nothing_when_one_file_fails(admin, labels_project):
    pid = labels_project["id"]
    status, body = upload(admin, pid, [("good.txt", b"fine"), ("bad.txt", b"\x00\x01\x02")], "?atomic=true")
    assert status == 422 and body["created"] == []
    assert admin.get(f"/projects/{pid}/items")[1]["items"] == []


def test_all_failed_is_422_with_reasons(admin, labels_project):
    status, body = upload(admin, labels_project["id"], [("bad.txt", b"\x00\x01")])
    assert status == 422
    assert "no item was created" in body["error"]["message"] and body["failed"]


def test_json_upload_validation(admin, labels_project):
    pid = labels_project["id"]
    status, body = admin.post(f"/projects/{pid}/items", {"items": [{"text": "a"}, {"txt": "b"}, "c",
                                                                  {"text": "d", "label": "nope"}]})
    assert status == 201 and len(body["created"]) == 1
    reasons = " | ".join(f["error"] for f in body["failed"])
    assert "missing 'text'" in reasons and "JSON object" in reasons and "unknown label" in reasons
    assert admin.post(f"/projects/{pid}/items", [])[0] == 400
    assert admin.post(f"/projects/{pid}/items", {"items": "x"})[0] == 400


def test_imported_labels_become_import_drafts(admin, labels_project):
    pid = labels_project["id"]
    _, body = admin.post(f"/projects/{pid}/items", [{"text": "fax it", "label": "admin"}])
    item_id = body["created"][0]["id"]
    _, anns = admin.get(f"/items/{item_id}/annotations")
    assert [(a["source"], a["payload"]) for a in anns["items"]] == [("import", {"labels": ["admin"]})]


def test_list_filters_and_keyset_cursor(admin, labels_project):
    pid = labels_project["id"]
    ids = add_texts(admin, pid, [f"text {i}" for i in range(7)])
    seen, cursor = [], None
    while True:
        status, page = admin.get(f"/projects/{pid}/items?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    assert admin.get(f"/projects/{pid}/items?order_by=password")[0] == 400
    assert admin.get(f"/projects/{pid}/items?cursor=%27%3B+drop")[0] == 400
    assert admin.get(f"/projects/{pid}/items?stage=annotate&annotated=false")[1]["items"][0]["id"] == ids[0]
    assert admin.get(f"/projects/{pid}/items?limit=100000")[0] == 400


def test_item_read_is_audited_and_has_text(admin, labels_project):
    pid = labels_project["id"]
    (item_id,) = add_texts(admin, pid, ["routine follow-up"])
    status, item = admin.get(f"/items/{item_id}")
    assert status == 200 and item["text"] == "routine follow-up"
    _, events = admin.get("/audit?action=item.read")
    assert events["items"][0]["object_id"] == str(item_id)


def test_cross_project_access_is_404_and_audited(app, client, admin, labels_project, make_member):
    pid = labels_project["id"]
    (item_id,) = add_texts(admin, pid, ["secret"])
    _, other = admin.post("/projects", {"name": "Other", "modality": "labels"})
    outsider = make_member(other["id"], "outsider", "manager")
    for method, path in [("GET", f"/items/{item_id}"), ("GET", f"/items/{item_id}/annotations"),
                         ("DELETE", f"/items/{item_id}"), ("GET", f"/projects/{pid}"),
                         ("GET", f"/projects/{pid}/items"), ("PATCH", f"/projects/{pid}"),
                         ("POST", f"/items/{item_id}/annotations")]:
        body = {"payload": {"labels": ["urgent"]}} if method == "POST" else ({"name": "x"} if method == "PATCH" else None)
        status, resp = outsider.call(method, path, body)
        assert status == 404, (method, path, status)
    assert admin.get(f"/items/{item_id}")[0] == 200  # nothing was deleted
    _, events = admin.get("/audit")
    assert any(e["outcome"] == "denied" and e["actor"] == "outsider" for e in events["items"])
    _, listing = outsider.get("/projects")
    assert [p["id"] for p in listing["items"]] == [other["id"]]


def test_csv_export_neutralises_formulas_and_jsonl_is_unchanged(admin, labels_project):
    import csv as csv_module

    pid = labels_project["id"]
    (item_id,) = add_texts(admin, pid, ['=HYPERLINK("http://x","click") +1 "quoted", comma'])
    admin.post(f"/items/{item_id}/annotations", {"payload": {"labels": ["admin"]}})
    for fmt in ("csv", "jsonl"):
        status, job = admin.post(f"/projects/{pid}/exports", {"format": fmt})
        assert status == 202
        resp = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers={"Authorization": f"Bearer {admin.token}"})
        assert resp.status_code == 200
        body = resp.get_data(as_text=True)
        if fmt == "csv":
            rows = list(csv_module.reader(io.StringIO(body)))
            assert rows[1][1].startswith("'=HYPERLINK") and rows[1][2] == "admin"
        else:
            assert '"text": "=HYPERLINK' in body
    _, events = admin.get("/audit?action=export.download")
    assert len(events["items"]) == 2
