"""The notes modality end to end through the server: import, pre-annotation (PHI, entities, assertion, codes,
relations), export in every format, training a new model version, de-identification at ingest."""
import io
import json
import zipfile


def wait_done(api, job):
    status, job = api.get(f"/jobs/{job['id']}")
    assert job["status"] == "succeeded", job
    return job


NOTE = ("HPI: Mr. John Carter is a 67 year old man with type 2 diabetes mellitus and HTN. He denies chest pain. "
        "MRN 4455-1923. Seen at St. Mary's Hospital on 3/4.\nMedications: metformin 500 mg PO BID.\n"
        "Family History: Mother had breast cancer.\nAssessment/Plan: CHF exacerbation.")


def notes_project(api, **config):
    _, modality = api.get("/modalities")
    default = next(m for m in modality["items"] if m["name"] == "notes")["default_label_config"]
    status, project = api.post("/projects", {"name": "Notes", "modality": "notes",
                                             "label_config": {**default, **config}})
    assert status == 201, project
    return project["id"]


def test_preannotation_pipeline_through_the_queue(onto_admin):
    pid = notes_project(onto_admin)
    _, created = onto_admin.post(f"/projects/{pid}/items", [{"text": NOTE, "encounter": "E1"}])
    item_id = created["created"][0]["id"]
    status, job = onto_admin.post(f"/projects/{pid}/jobs", {"kind": "preannotate"})
    job = wait_done(onto_admin, job)
    assert job["model_version"] == "clinical-pipeline@1"
    _, anns = onto_admin.get(f"/items/{item_id}/annotations")
    payload = anns["items"][0]["payload"]
    spans = {(s["text"], s["label"]): s for s in payload["spans"]}
    assert spans[("chest pain", "PROBLEM")]["assertion"] == "negated"
    assert spans[("breast cancer", "PROBLEM")]["assertion"] == "family"
    assert spans[("metformin", "MEDICATION")]["concept"]["terminology"] == "drugs"
    assert spans[("HTN", "PROBLEM")]["concept"]["code"] == "I10"
    assert any(s["layer"] == "phi" and s["label"] == "NAME" for s in payload["spans"])
    assert any(s["layer"] == "phi" and "4455" in s["text"] for s in payload["spans"])
    types = {r["type"] for r in payload["relations"]}
    assert {"dosage", "route", "frequency"} <= types
    _, item = onto_admin.get(f"/items/{item_id}")
    assert item["deid_state"] == "done"


def test_every_export_format_downloads(onto_admin):
    pid = notes_project(onto_admin)
    _, created = onto_admin.post(f"/projects/{pid}/items", [{"text": NOTE}])
    onto_admin.post(f"/projects/{pid}/jobs", {"kind": "preannotate"})
    _, modalities = onto_admin.get("/modalities")
    formats = next(m for m in modalities["items"] if m["name"] == "notes")["export_formats"]
    assert {"jsonl", "spacy", "brat", "conll", "bioc", "label_studio"} <= set(formats)
    for fmt in formats:
        status, job = onto_admin.post(f"/projects/{pid}/exports", {"format": fmt})
        job = wait_done(onto_admin, job)
        resp = onto_admin.client.get(f"/api/v1/exports/{job['id']}/file",
                                     headers={"Authorization": f"Bearer {onto_admin.token}"})
        assert resp.status_code == 200 and resp.data, fmt
        assert "attachment" in resp.headers["Content-Disposition"]
        if fmt == "jsonl":
            record = json.loads(resp.data.decode().splitlines()[0])
            assert record["spans"] if "spans" in record else record["payload"]["spans"]
        if fmt.startswith("deid"):
            with zipfile.ZipFile(io.BytesIO(resp.data)) as z:
                text = z.read(z.namelist()[0]).decode()
            assert "John Carter" not in text and "4455-1923" not in text


def test_fit_trains_a_new_model_version(onto_admin):
    pid = notes_project(onto_admin)
    texts = [f"Patient {i} has pneumonia and asthma. Started azithromycin." for i in range(12)]
    _, created = onto_admin.post(f"/projects/{pid}/items", [{"text": t} for t in texts])
    for item, text in zip(created["created"], texts):
        spans = []
        for j, (word, label) in enumerate((("pneumonia", "PROBLEM"), ("asthma", "PROBLEM"),
                                           ("azithromycin", "MEDICATION"))):
            start = text.index(word)
            spans.append({"id": f"s{j}", "start": start, "end": start + len(word), "label": label,
                          "layer": "entity", "text": word, "assertion": "present"})
        assert onto_admin.post(f"/items/{item['id']}/annotations",
                               {"payload": {"spans": spans, "relations": []}})[0] == 201
    status, job = onto_admin.post(f"/projects/{pid}/jobs", {"kind": "fit"})
    job = wait_done(onto_admin, job)
    assert job["model_version"] == "clinical-pipeline@v1" and job["result"]["active"]
    status, job = onto_admin.post(f"/projects/{pid}/jobs", {"kind": "preannotate"})
    assert wait_done(onto_admin, job)["model_version"] == "clinical-pipeline@v1"


def test_deidentify_at_ingest_shows_only_masked_text(onto_admin):
    pid = notes_project(onto_admin, deidentify_at_ingest=True)
    _, created = onto_admin.post(f"/projects/{pid}/items", [{"text": NOTE}])
    _, item = onto_admin.get(f"/items/{created['created'][0]['id']}")
    assert "John Carter" not in item["text"] and "[NAME]" in item["text"]
    assert item["meta"]["deidentified_at_ingest"] is True


def test_bad_notes_get_per_file_errors(onto_admin):
    pid = notes_project(onto_admin)
    resp = onto_admin.client.post(
        f"/api/v1/projects/{pid}/items", headers={"Authorization": f"Bearer {onto_admin.token}"},
        content_type="multipart/form-data",
        data={"files": [(io.BytesIO(NOTE.encode()), "ok.txt"), (io.BytesIO(b""), "empty.txt"),
                        (io.BytesIO(b"\x00\x01\x02\x03"), "binary.txt"),
                        (io.BytesIO(b"x" * 2_100_000), "huge.txt"),
                        (io.BytesIO(b"T1\tPROBLEM 0 999\tx\n"), "bad.ann"),
                        (io.BytesIO(json.dumps([{"data": {"audio": "a.wav"}}]).encode()), "ls.json")]})
    body = resp.get_json()
    assert resp.status_code == 201 and [c["name"] for c in body["created"]] == ["ok.txt"]
    errors = {f["name"]: f["error"] for f in body["failed"]}
    assert set(errors) >= {"empty.txt", "binary.txt", "huge.txt", "ls.json"}
