"""Ontology API: shipped terminologies, search with abbreviations, concept detail, admin import job, bad queries."""
import io
import os

from support import HERE


def test_list_and_search_finds_the_codes_a_coder_expects(onto_admin):
    status, listing = onto_admin.get("/ontologies")
    names = {t["name"] for t in listing["items"]}
    assert {"icd10cm", "hpo", "drugs", "consult_segments", "cholec80_phases"} <= names
    icd = next(t for t in listing["items"] if t["name"] == "icd10cm")
    assert icd["concept_count"] > 90000 and icd["licence"]
    expected = [("type 2 diabetes", "icd10cm", "E11.9"), ("htn", "icd10cm", "I10"),
                ("CHF exacerbation", "icd10cm", "I50.9"), ("seizure", "hpo", "HP:0001250")]
    for query, terminology, code in expected:
        status, found = onto_admin.get(f"/ontologies/search?q={query}&terminology={terminology}&limit=5")
        assert status == 200
        assert code in [r["code"] for r in found["items"]], (query, found["items"][:3])


def test_concept_detail_has_hierarchy(onto_admin):
    status, concept = onto_admin.get("/ontologies/icd10cm/concepts/E11.9")
    assert status == 200 and concept["code"] == "E11.9"
    assert concept["parents"] and concept["ancestors"]
    assert onto_admin.get("/ontologies/icd10cm/concepts/NOPE")[0] == 404
    assert onto_admin.get("/ontologies/unknown/concepts/X")[0] == 404


def test_odd_queries_never_500(onto_admin):
    for q in ["", "x" * 10000, "(((", ".*+?[", "'; DROP TABLE items; --", "%00", "\u202e"]:
        status, body = onto_admin.get("/ontologies/search", query_string={"q": q})
        assert status in (200, 400), (q[:20], status)
    assert onto_admin.get("/ontologies/search?q=pain&terminology=nope")[0] == 400
    assert onto_admin.get("/ontologies/search?q=pain&terminology=nope&terminology=mondo")[0] == 400
    # A label's terminologies that are not loaded (PROBLEM's mondo, doid by default) are skipped.
    status, found = onto_admin.get("/ontologies/search?q=htn&terminology=icd10cm&terminology=mondo&terminology=doid")
    assert status == 200 and "I10" in [r["code"] for r in found["items"]]
    assert onto_admin.get("/ontologies/search?q=pain&limit=1000")[0] == 400
    assert onto_admin.get("/ontologies/search?q=pain&order_by=x")[0] == 400


def test_admin_import_is_a_job_and_bad_files_keep_the_previous_version(onto_admin):
    def upload(name, data, fmt="tabular", term="local"):
        resp = onto_admin.client.post("/api/v1/ontologies/imports",
                                      headers={"Authorization": f"Bearer {onto_admin.token}"},
                                      data={"format": fmt, "name": term, "version": "1",
                                            "files": [(io.BytesIO(data), name)]},
                                      content_type="multipart/form-data")
        return resp.status_code, resp.get_json()

    with open(os.path.join(HERE, "data", "ontologies", "sample.csv"), "rb") as fh:
        good = fh.read()
    status, job = upload("sample.csv", good)
    assert status == 202
    status, job = onto_admin.get(f"/ontology-jobs/{job['id']}")
    assert job["status"] == "succeeded" and job["progress"] == 100
    before = {t["name"]: t for t in onto_admin.get("/ontologies")[1]["items"]}["local"]
    status, job = upload("broken.csv", b"code,name,parent\nA1,Alpha,\nA1,Again,\n")
    status, job = onto_admin.get(f"/ontology-jobs/{job['id']}")
    assert job["status"] == "failed" and "broken.csv" in job["error"] and "line" in job["error"]
    after = {t["name"]: t for t in onto_admin.get("/ontologies")[1]["items"]}["local"]
    assert after == before
    assert upload("x.csv", good, fmt="nope")[0] == 400
    assert upload("../evil.csv", good)[0] in (202, 400)


def test_learned_alias_ranks_first(onto_admin):
    status, project = onto_admin.post("/projects", {"name": "Notes", "modality": "notes"})
    pid = project["id"]
    text = "Pt with sugar disease."
    _, created = onto_admin.post(f"/projects/{pid}/items", [{"text": text}])
    item_id = created["created"][0]["id"]
    start = text.index("sugar disease")
    span = {"id": "s1", "start": start, "end": start + len("sugar disease"), "label": "PROBLEM", "layer": "entity",
            "text": "sugar disease", "assertion": "present",
            "concept": {"terminology": "icd10cm", "code": "E11.9", "name": "Type 2 diabetes mellitus"}}
    assert onto_admin.post(f"/items/{item_id}/annotations", {"payload": {"spans": [span], "relations": []}})[0] == 201
    _, found = onto_admin.get(f"/ontologies/search?q=sugar disease&terminology=icd10cm&project_id={pid}")
    assert found["items"][0]["code"] == "E11.9"
