"""Campaign checklist — input: NUL and control characters, deep JSON and huge ids answer 400/404 with a message
naming the field, on both databases; no request body (note text, names) reaches a log."""
from __future__ import annotations

import io
import logging

import pytest

SECRET_NOTE = "Hemoglobin dropped; patient Zelda Quintrell-Oyelaran"


@pytest.mark.parametrize("value", ["\x00", "\x07", "\x0c", "\x1b[31m", "\x7f", "\x85"])
def test_control_characters_anywhere_in_a_body_are_refused(admin, labels_project, value):
    pid = labels_project["id"]
    cases = [
        (f"/projects/{pid}/items", [{"text": f"{SECRET_NOTE}{value}"}], "body[0].text"),
        (f"/projects/{pid}/items", [{"text": "ok", "meta": {"patient": f"Zelda{value}"}}], "body[0].meta.patient"),
        ("/projects", {"name": f"Ward{value}", "modality": "labels"}, "body.name"),
        ("/tokens", {"username": f"root{value}", "password": "x" * 12}, "body.username"),
    ]
    for path, body, where in cases:
        status, reply = admin.post(path, body)
        assert status == 400, (path, reply)
        message = reply["error"]["message"]
        assert where in message and SECRET_NOTE not in message and "Zelda" not in message


def test_tabs_and_line_breaks_stay_allowed(admin, labels_project):
    status, body = admin.post(f"/projects/{labels_project['id']}/items", [{"text": "a\tb\r\nc\nd"}])
    assert status == 201, body


def test_nul_in_an_uploaded_text_file_is_a_per_file_error(admin, labels_project):
    resp = admin.client.post(f"/api/v1/projects/{labels_project['id']}/items", headers=admin.headers(),
                             content_type="multipart/form-data",
                             data={"files": [(io.BytesIO(b"fine note"), "good.txt"),
                                             (io.BytesIO(b"bad\x00note"), "bad.txt")]})
    body = resp.get_json()
    assert resp.status_code == 201 and len(body["created"]) == 1 and any(w in body["failed"][0]["error"] for w in ("NUL", "binary")), body


def test_query_strings_with_controls_are_refused(admin, labels_project):
    status, reply = admin.get(f"/projects/{labels_project['id']}/items?status=ready%00")
    assert status == 400 and "status" in reply["error"]["message"]


def test_deep_json_is_a_400_even_before_login(client):
    deep = "[" * 100_000 + "]" * 100_000
    resp = client.post("/api/v1/tokens", data=deep, content_type="application/json")
    assert resp.status_code == 400 and "nested" in resp.get_json()["error"]["message"]
    shallow_but_deep = "[" * 80 + "]" * 80
    resp = client.post("/api/v1/tokens", data=shallow_but_deep, content_type="application/json")
    assert resp.status_code == 400


def test_no_request_body_reaches_the_log(app, admin, labels_project, caplog):
    """A failing write (an unknown item) and a refused one: the note text is in neither the log nor the reply."""
    caplog.set_level(logging.DEBUG)
    admin.post(f"/projects/{labels_project['id']}/items", [{"text": f"{SECRET_NOTE}\x00"}])
    admin.post("/items/999999/annotations", {"payload": {"labels": [SECRET_NOTE]}})
    admin.post(f"/projects/{labels_project['id']}/items", [{"text": SECRET_NOTE, "meta": {"x": SECRET_NOTE}}])
    assert SECRET_NOTE not in caplog.text and "Zelda" not in caplog.text


def test_database_errors_hide_their_parameters(app):
    from sqlalchemy import text

    from server.extensions import db

    with app.app_context():
        with pytest.raises(Exception) as info:
            db.session.execute(text("SELECT CAST(:v AS INTEGER) + nothing_here"), {"v": SECRET_NOTE})
        db.session.rollback()
    assert SECRET_NOTE not in str(info.value)


@pytest.mark.parametrize("path", ["/items/99999999999999999999", "/jobs/9223372036854775808", "/items/2147483648",
                                  "/projects/2147483648/items", "/items/" + "9" * 5000])
def test_ids_beyond_the_integer_range_are_404_before_and_after_login(client, admin, path):
    assert client.get(f"/api/v1{path}").status_code == 404
    status, reply = admin.get(path)
    assert status == 404 and reply["error"]["code"] == "not_found"


@pytest.mark.parametrize("cursor", ["a" * 300, "azk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ", "%%%", "k-1"])
def test_malformed_and_oversized_cursors_are_400(admin, labels_project, cursor):
    status, reply = admin.get(f"/projects/{labels_project['id']}/items?cursor={cursor}")
    assert status == 400 and "cursor" in reply["error"]["message"]


def test_ids_beyond_the_integer_range_in_bodies_are_400(admin, labels_project):
    pid = labels_project["id"]
    status, reply = admin.post(f"/projects/{pid}/jobs", {"kind": "preannotate", "items": [2**40]})
    assert status == 400 and "items" in str(reply)
    status, reply = admin.get(f"/audit?project_id={2**40}")
    assert status == 400


def test_json_deeper_than_the_cap_is_400_on_every_route(admin, labels_project):
    deep: dict = {"x": 1}
    for _ in range(70):
        deep = {"d": deep}
    status, reply = admin.post(f"/projects/{labels_project['id']}/items", [{"text": "fine", "meta": deep}])
    assert status == 400 and "nested deeper" in reply["error"]["message"]
    shallow = {"d": {"d": {"d": "[[[[[[[[[[" * 20}}}  # brackets inside strings do not count as nesting
    status, reply = admin.post(f"/projects/{labels_project['id']}/items", [{"text": "fine", "meta": shallow}])
    assert status == 201, reply


def test_oversized_label_configs_params_and_payloads_are_refused_with_the_limit(admin, labels_project):
    pid = labels_project["id"]
    huge_config = {"labels": [{"name": "urgent", "description": "x" * 500, "keywords": ["k" * 80] * 500}] * 10}
    status, reply = admin.patch(f"/projects/{pid}", {"label_config": huge_config})
    assert status == 400 and "label_config" in str(reply) and "limit" in str(reply)
    status, reply = admin.post(f"/projects/{pid}/jobs", {"kind": "preannotate", "params": {"blob": "x" * 5_000_000}})
    assert status == 400 and "limit" in str(reply)
    _, project = admin.get(f"/projects/{pid}")
    assert len(str(project["label_config"])) < 10_000  # nothing of the refused config was stored


def test_job_params_are_validated_per_kind(admin, labels_project):
    pid = labels_project["id"]
    status, reply = admin.post(f"/projects/{pid}/jobs", {"kind": "preannotate", "params": {"items": [1, 2]}})
    assert status == 400 and "params.items is not a parameter of preannotate" in reply["error"]["message"]
    status, reply = admin.post(f"/projects/{pid}/jobs", {"kind": "fit", "params": {"preannotator": 7}})
    assert status == 400 and "params.preannotator must be a str" in reply["error"]["message"]
    status, reply = admin.post(f"/projects/{pid}/jobs", {"kind": "fit", "params": {"preannotator": "keywords"}})
    assert status == 202, reply


def test_every_csv_cell_is_safe_from_formula_injection(admin, make_member):
    import csv
    import io as _io

    from annotators.csv_cells import safe_cell

    for hostile in ("=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1",
                    " =1", "\uff1d1+1"):
        assert safe_cell(hostile).startswith("'"), hostile
    assert safe_cell(0.5) == 0.5 and safe_cell("urgent") == "urgent"
    config = {"labels": [{"name": "=SUM(1+2)"}, {"name": "@cmd|x"}]}
    _, project = admin.post("/projects", {"name": "CSV", "modality": "labels", "label_config": config,
                                          "workflow": {"annotators_per_item": 2}})
    pid = project["id"]
    a = make_member(pid, "=HYPERLINK(evil)", "annotator")
    b = make_member(pid, "+cmd|calc", "annotator")
    status, body = admin.post(f"/projects/{pid}/items", [{"text": "chest pain"}, {"text": "new address"}])
    for api, label in ((a, "=SUM(1+2)"), (b, "@cmd|x")):
        while True:
            status, item = api.post(f"/projects/{pid}/next")
            if status == 204:
                break
            assert api.post(f"/items/{item['id']}/annotations", {"payload": {"labels": [label]}})[0] == 201
    admin.get(f"/projects/{pid}/agreement")
    resp = admin.client.get(f"/api/v1/projects/{pid}/agreement?format=csv", headers=admin.headers())
    rows = list(csv.reader(_io.StringIO(resp.get_data(as_text=True))))
    cells = [cell for row in rows for cell in row]
    assert any("HYPERLINK" in c for c in cells)
    assert all(not c.lstrip(" ").startswith(("=", "+", "@", "-")) for c in cells if not _is_number(c)), rows
    _, job = admin.post(f"/projects/{pid}/exports", {"format": "csv", "options": {"stage": "all"}})
    export = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers=admin.headers())
    labels = [row[2] for row in csv.reader(_io.StringIO(export.get_data(as_text=True)))][1:]
    assert labels and all(cell.startswith("'") for cell in labels if cell), labels


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False
