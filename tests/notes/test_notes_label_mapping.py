"""Label mapping at import: labels a project lacks are reported with counts, then mapped, added or dropped — never
the reason a migration is refused (issue 14, item 1)."""
from __future__ import annotations

import copy
import io
import json
import zipfile

import pytest

from annotators.notes.label_mapping import PlanError, apply, check_plan, label_name, unknown
from annotators.notes.schema import default_label_config

TEXT = "Aspirin induced asthma in a BRCA1 carrier."


def payload():
    return {"spans": [
        {"id": "T1", "start": 0, "end": 7, "label": "Chemical", "layer": "entity"},
        {"id": "T2", "start": 16, "end": 22, "label": "Disease", "layer": "entity"},
        {"id": "T3", "start": 28, "end": 33, "label": "Gene or protein", "layer": "entity"},
        {"id": "T4", "start": 16, "end": 22, "label": "PROBLEM", "layer": "entity"},
    ], "relations": [
        {"id": "R1", "type": "CID", "head": "T1", "tail": "T2"},
        {"id": "R2", "type": "location", "head": "T4", "tail": "T3"},
    ]}


def test_unknown_labels_are_counted_per_name():
    assert unknown([payload(), payload()], default_label_config()) == {
        "labels": {"Chemical": 2, "Disease": 2, "Gene or protein": 2}, "relations": {"CID": 2}}


def test_map_drop_and_count():
    config = default_label_config()
    payloads = [payload()]
    plan = check_plan({"labels": {"Chemical": "MEDICATION", "Disease": "PROBLEM"}})
    new_config, report = apply(payloads, config, plan, may_add=True)
    assert new_config is None  # nothing added
    labels = [(s["id"], s["label"]) for s in payloads[0]["spans"]]
    assert labels == [("T1", "MEDICATION"), ("T2", "PROBLEM"), ("T4", "PROBLEM")]
    assert report["mapped"] == {"Chemical→MEDICATION": 1, "Disease→PROBLEM": 1}
    assert report["dropped"]["labels"] == {"Gene or protein": 1} and report["dropped"]["spans"] == 1
    # CID is unknown (dropped); `location` lost its tail span with the dropped gene.
    assert payloads[0]["relations"] == [] and report["dropped"]["relations"] == 2
    assert report["dropped"]["relation_types"] == {"CID": 1, "an end span was dropped": 1}


def test_add_extends_the_config_with_valid_names_and_relation_rules():
    config = default_label_config()
    payloads = [payload()]
    new_config, report = apply(payloads, config, check_plan({"unknown": "add"}), may_add=True)
    names = [label["name"] for label in new_config["entity_labels"]]
    assert names[-3:] == ["Chemical", "Disease", "Gene_or_protein"]
    assert report["added"] == {"labels": ["Chemical", "Disease", "Gene_or_protein"], "relations": ["CID"]}
    assert {"name": "CID", "head": ["Chemical"], "tail": ["Disease"]} in new_config["relation_types"]
    # `location` is known but PROBLEM -> Gene_or_protein is new to its rule: widened, since adding is allowed.
    location = next(r for r in new_config["relation_types"] if r["name"] == "location")
    assert "Gene_or_protein" in location["tail"]
    assert config == default_label_config()  # the caller's configuration is not modified in place
    from annotators.base import registry

    registry.get("notes").validate_label_config(new_config)
    registry.get("notes").validate_payload(payloads[0], new_config)


def test_mapping_to_a_phi_label_moves_the_span_to_the_phi_layer():
    payloads = [{"spans": [{"id": "T1", "start": 0, "end": 4, "label": "Patient", "layer": "entity"}]}]
    apply(payloads, default_label_config(), check_plan({"labels": {"Patient": "NAME"}}), may_add=False)
    assert payloads[0]["spans"][0] == {"id": "T1", "start": 0, "end": 4, "label": "NAME", "layer": "phi"}


@pytest.mark.parametrize("plan, may_add, message", [
    ({"labels": {"Disease": "ILLNESS"}}, True, "'ILLNESS', which is not a label of this project"),
    ({"unknown": "reject"}, True, "labels unknown to this project: Chemical, Disease"),
    ({"labels": {"Disease": "+"}}, False, "needs permission"),
    ({"relations": {"CID": "causes"}}, True, "which this project does not have"),
])
def test_plans_that_cannot_apply_name_the_problem(plan, may_add, message):
    with pytest.raises(PlanError, match=message):
        apply([payload()], default_label_config(), check_plan(plan), may_add=may_add)


@pytest.mark.parametrize("plan, message", [
    ({"unknown": "keep"}, "'unknown' must be one of"), ({"labels": ["Disease"]}, "'labels' must be an object"),
    ({"labels": {"Disease": 3}}, "maps names to a label name"), ("x", "must be an object"),
])
def test_plan_shape_errors(plan, message):
    with pytest.raises(PlanError, match=message):
        check_plan(plan)


def test_label_names_are_made_valid():
    assert label_name("Gene_expression") == "Gene_expression"
    assert label_name("Negative Regulation") == "Negative_Regulation"
    assert label_name("3-gene") == "L_3-gene"
    assert label_name("ß") == "label"


# --------------------------------------------------------------------------------------------------- the API
def _brat_zip(docs: int = 3) -> bytes:
    """NCBI-disease-like brat pairs: `Disease` spans the project does not have, and one `Modifier`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("annotation.conf", "[entities]\nDisease\nModifier\n[relations]\n[events]\n[attributes]\n")
        for n in range(docs):
            text = f"Familial adenomatous polyposis (case {n}) and colon cancer."
            archive.writestr(f"doc{n}.txt", text)
            archive.writestr(f"doc{n}.ann", "T1\tDisease 0 30\tFamilial adenomatous polyposis\n"
                                            f"T2\tModifier {text.index('colon')} {text.index('colon') + 12}\tcolon cancer\n")
    return buffer.getvalue()


def _post(api, path, files, form=None, query=""):
    data = {"files": [(io.BytesIO(content), name) for name, content in files], **(form or {})}
    resp = api.client.post(f"/api/v1{path}{query}", headers={"Authorization": f"Bearer {api.token}"},
                           data=data, content_type="multipart/form-data")
    return resp.status_code, resp.get_json()


@pytest.fixture
def notes_project(admin):
    status, body = admin.post("/projects", {"name": "NCBI disease", "modality": "notes"})
    assert status == 201, body
    return body["id"]


def _import_drafts(admin, pid):
    items = admin.get(f"/projects/{pid}/items?limit=100")[1]["items"]
    out = []
    for item in items:
        status, body = admin.get(f"/items/{item['id']}/annotations")
        assert status == 200, body
        out += [a["payload"] for a in body["items"] if a["source"] == "import"]
    return items, out


def test_upload_with_unknown_labels_is_not_refused(admin, notes_project):
    """The default drops what the project lacks and says so, with counts; the notes are imported."""
    status, body = _post(admin, f"/projects/{notes_project}/items", [("ncbi.zip", _brat_zip())])
    assert status == 201, body
    assert len(body["created"]) == 3
    assert body["labels"]["unknown"]["labels"] == {"Disease": 3, "Modifier": 3}
    assert body["labels"]["dropped"]["spans"] == 6
    items, drafts = _import_drafts(admin, notes_project)
    assert len(items) == 3 and drafts == []


def test_upload_with_a_mapping_and_adding(admin, notes_project):
    plan = {"labels": {"Disease": "PROBLEM"}, "unknown": "add"}
    status, body = _post(admin, f"/projects/{notes_project}/items", [("ncbi.zip", _brat_zip())],
                         {"label_plan": json.dumps(plan)})
    assert status == 201, body
    assert body["labels"]["mapped"] == {"Disease→PROBLEM": 3} and body["labels"]["added"]["labels"] == ["Modifier"]
    _, drafts = _import_drafts(admin, notes_project)
    assert sorted({s["label"] for d in drafts for s in d["spans"]}) == ["Modifier", "PROBLEM"]
    config = admin.get(f"/projects/{notes_project}")[1]["label_config"]
    assert "Modifier" in [label["name"] for label in config["entity_labels"]]
    status, events = admin.get("/audit?action=project.labels_added_by_import")
    assert status == 200 and events["items"][0]["details"]["added"]["labels"] == ["Modifier"]


def test_standing_plan_on_the_project_and_reject(admin, notes_project):
    status, body = admin.patch(f"/projects/{notes_project}",
                               {"workflow": {"import_label_plan": {"labels": {"Disease": "PROBLEM", "Modifier": None}}}})
    assert status == 200, body
    status, body = _post(admin, f"/projects/{notes_project}/items", [("a.zip", _brat_zip(2))])
    assert status == 201 and body["labels"]["mapped"] == {"Disease→PROBLEM": 2}
    assert body["labels"]["dropped"]["labels"] == {"Modifier": 2}
    # The request's plan wins over the project's: reject refuses, naming the labels; nothing is created.
    before = len(admin.get(f"/projects/{notes_project}/items?limit=100")[1]["items"])
    status, body = _post(admin, f"/projects/{notes_project}/items", [("b.zip", _brat_zip(2))],
                         {"label_plan": json.dumps({"labels": {"Disease": "DISORDER"}})})
    assert status == 422 and "'DISORDER', which is not a label of this project" in body["error"]["message"]
    assert len(admin.get(f"/projects/{notes_project}/items?limit=100")[1]["items"]) == before
    status, body = admin.patch(f"/projects/{notes_project}", {"workflow": {"import_label_plan": {"unknown": "keep"}}})
    assert status in (400, 422) and "'unknown' must be one of" in json.dumps(body)
    status, body = _post(admin, f"/projects/{notes_project}/items", [("c.zip", _brat_zip(1))],
                         {"label_plan": "{not json"})
    assert status == 400 and "label_plan is not valid JSON" in body["error"]["message"]


def test_preview_reports_labels_and_first_items_and_stores_nothing(admin, notes_project):
    status, body = _post(admin, f"/projects/{notes_project}/items/preview", [("ncbi.zip", _brat_zip(7))],
                         {"label_plan": json.dumps({"labels": {"Disease": "PROBLEM"}})})
    assert status == 200, body
    assert body["items"] == 7 and len(body["preview"]) == 5 and body["failed"] == []
    assert body["labels"]["unknown"]["labels"] == {"Disease": 7, "Modifier": 7}
    assert body["labels"]["mapped"] == {"Disease→PROBLEM": 7}
    first = body["preview"][0]
    spans = first["annotations"][0]["spans"]
    assert [(s["label"], first["text"][s["start"]:s["end"]]) for s in spans] == [
        ("Disease", "Familial adenomatous polyposis"), ("Modifier", "colon cancer")]  # as in the file
    assert admin.get(f"/projects/{notes_project}/items")[1]["items"] == []
    status, body = _post(admin, f"/projects/{notes_project}/items/preview", [("ncbi.zip", _brat_zip(1))],
                         {"label_plan": json.dumps({"labels": {"Disease": "NOPE"}})})
    assert status == 200 and "'NOPE', which is not a label" in body["label_error"]


def test_json_records_follow_the_plan_too(admin, notes_project):
    record = {"text": "Chest pain.", "spans": [
        {"id": "s1", "start": 0, "end": 10, "label": "Symptom", "layer": "entity"}]}
    status, body = admin.post(f"/projects/{notes_project}/items",
                              {"items": [copy.deepcopy(record)], "label_plan": {"labels": {"Symptom": "PROBLEM"}}})
    assert status == 201, body
    assert body["labels"]["mapped"] == {"Symptom→PROBLEM": 1}


def test_a_large_upload_imported_by_a_job_follows_the_plan(admin, notes_project):
    """More than 10,000 records go to a background job: it maps labels the same way and reports them."""
    line = json.dumps({"text": "Aspirin for pain.", "spans": [
        {"id": "s1", "start": 0, "end": 7, "label": "Chemical", "layer": "entity"},
        {"id": "s2", "start": 12, "end": 16, "label": "Symptom", "layer": "entity"}]})
    data = ("\n".join([line] * 10_001) + "\n").encode()
    plan = {"labels": {"Chemical": "MEDICATION"}, "unknown": "drop"}
    status, body = _post(admin, f"/projects/{notes_project}/items", [("big.jsonl", data)],
                         {"label_plan": json.dumps(plan)})
    assert status == 202, body
    status, job = admin.get(f"/jobs/{body['job_id']}")
    assert job["status"] == "succeeded", job
    labels = job["result"]["labels"]
    assert job["result"]["created"] == 10_001
    assert labels["mapped"] == {"Chemical→MEDICATION": 10_001} and labels["dropped"]["labels"] == {"Symptom": 10_001}


PEERS = __import__("pathlib").Path(__file__).parent.parent / "data" / "notes" / "peers"


def test_keep_valid_imports_the_good_documents_and_names_each_bad_one(admin, notes_project):
    """doccano's own sample (tests/data/sequence_labeling/example.jsonl) has a line without text: by default the
    file is refused naming that line; with keep_valid the other documents are imported."""
    doccano = (PEERS / "doccano" / "tests__data__sequence_labeling__example.jsonl").read_bytes()
    pubtator = (PEERS / "bc5cdr" / "CDR_sample.gold.head.PubTator").read_bytes().decode()
    blocks = pubtator.strip("\n").split("\n\n")
    first = blocks[0].split("\n")
    pmid = first[0].split("|")[0]
    broken = "\n".join(first + [f"{pmid}\t5\t999999\tx\tDisease\tD1"])  # offsets past the document
    bad_pubtator = ("\n\n".join([broken] + blocks[1:]) + "\n").encode()
    status, body = _post(admin, f"/projects/{notes_project}/items", [("doccano.jsonl", doccano)])
    assert status == 422 and "doccano.jsonl line 3: no 'text' field" in body["failed"][0]["error"]
    status, body = _post(admin, f"/projects/{notes_project}/items",
                         [("doccano.jsonl", doccano), ("cdr.pubtator", bad_pubtator)], {"keep_valid": "true"})
    assert status == 201, body
    errors = [f["error"] for f in body["failed"]]
    assert any("line 3: no 'text' field" in e for e in errors)
    assert any(f"document {pmid}" in e and "outside the document" in e for e in errors)
    lines = sum(1 for line in doccano.splitlines() if line.strip())
    assert len(body["created"]) == (lines - len([e for e in errors if "doccano" in e])) + len(blocks) - 1
    status, body = _post(admin, f"/projects/{notes_project}/items?atomic=true&keep_valid=true",
                         [("doccano.jsonl", doccano)])
    assert status == 400 and "contradict" in body["error"]["message"]
