"""Resumable uploads (tus 1.0) and uploads streamed to disk: create, append in chunks, resume after an interrupted
request, import as items (once), expire; the protocol's refusals."""
from __future__ import annotations

import base64
import os
import socket
from datetime import timedelta

import pytest

TUS = {"Tus-Resumable": "1.0.0"}


def meta(**values) -> str:
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in values.items())


def create(admin, pid, length, filename="notes.txt"):
    resp = admin.client.post("/api/v1/uploads", headers={**TUS, **admin.headers(), "Upload-Length": str(length),
                                                         "Upload-Metadata": meta(filename=filename, project=pid)})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.headers["Location"].rsplit("/", 1)[1]


def patch(admin, upload_id, offset, body, **extra):
    return admin.client.patch(f"/api/v1/uploads/{upload_id}", data=body, headers={
        **TUS, **admin.headers(), "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
        **extra})


def head(admin, upload_id):
    return admin.client.head(f"/api/v1/uploads/{upload_id}", headers={**TUS, **admin.headers()})


@pytest.fixture
def project(admin):
    _, body = admin.post("/projects", {"name": "tus", "modality": "labels"})
    return body["id"]


def test_chunks_resume_and_import_once(app, admin, project):
    content = ("renew prescription please\n" * 4000).encode()
    upload_id = create(admin, project, len(content))
    half = len(content) // 2
    assert patch(admin, upload_id, 0, content[:half]).headers["Upload-Offset"] == str(half)
    assert head(admin, upload_id).headers["Upload-Offset"] == str(half)
    stale = patch(admin, upload_id, 0, content[:10])  # a client that lost track: told where to resume
    assert stale.status_code == 409 and stale.headers["Upload-Offset"] == str(half)
    status, early = admin.post(f"/projects/{project}/items", {"uploads": [upload_id]})
    assert status == 409 and f"{half} of {len(content)} bytes" in early["error"]["message"]
    assert patch(admin, upload_id, half, content[half:]).status_code == 204
    status, body = admin.post(f"/projects/{project}/items", {"uploads": [upload_id]})
    assert status == 201 and len(body["created"]) == 1
    again = admin.post(f"/projects/{project}/items", {"uploads": [upload_id]})  # a retried request
    assert again[0] == 201 and [c["id"] for c in again[1]["created"]] == [c["id"] for c in body["created"]]
    with app.app_context():
        from server.api.uploads import upload_dir

        assert not [n for n in os.listdir(upload_dir()) if n.endswith(".part")]  # nothing left behind
    _, item = admin.get(f"/items/{body['created'][0]['id']}")
    assert item["name"] == "notes.txt" and item["text"].startswith("renew prescription")


def test_protocol_refusals(admin, make_member, project):
    no_version = admin.client.post("/api/v1/uploads", headers={**admin.headers(), "Upload-Length": "10",
                                                                 "Upload-Metadata": meta(project=project)})
    assert no_version.status_code == 412 and no_version.headers["Tus-Version"] == "1.0.0"
    too_big = admin.client.post("/api/v1/uploads", headers={**TUS, **admin.headers(), "Upload-Length": str(10**15),
                                                              "Upload-Metadata": meta(project=project)})
    assert too_big.status_code == 413 and "MAX_MEDIA_GB" in too_big.get_json()["error"]["message"]
    bad_meta = admin.client.post("/api/v1/uploads", headers={**TUS, **admin.headers(), "Upload-Length": "5",
                                                               "Upload-Metadata": "filename !!!"})
    assert bad_meta.status_code == 400
    upload_id = create(admin, project, 5)
    assert patch(admin, upload_id, 0, b"123456").status_code == 413  # more than declared
    assert head(admin, upload_id).headers["Upload-Offset"] == "0"
    wrong_type = admin.client.patch(f"/api/v1/uploads/{upload_id}", data=b"12",
                                    headers={**TUS, **admin.headers(), "Upload-Offset": "0"})
    assert wrong_type.status_code == 415
    stranger = make_member(project, "someone", "manager")
    assert head(stranger, upload_id).status_code == 404  # uploads are private to their uploader
    options = admin.client.options("/api/v1/uploads")
    assert "creation" in options.headers["Tus-Extension"] and options.headers["Tus-Version"] == "1.0.0"
    deleted = admin.client.delete(f"/api/v1/uploads/{upload_id}", headers={**TUS, **admin.headers()})
    assert deleted.status_code == 204 and head(admin, upload_id).status_code == 404


def test_expired_uploads_are_swept(app, admin, project):
    upload_id = create(admin, project, 100)
    patch(admin, upload_id, 0, b"x" * 40)
    with app.app_context():
        from server.api.uploads import sweep_expired, upload_dir, upload_path
        from server.models import utcnow

        open(os.path.join(upload_dir(), "deadbeef.part"), "wb").close()  # a file without a row
        assert sweep_expired(utcnow() + timedelta(days=2)) == 1
        assert not os.path.exists(upload_path(upload_id))
        assert not os.path.exists(os.path.join(upload_dir(), "deadbeef.part"))
    assert head(admin, upload_id).status_code == 404


def test_an_interrupted_patch_keeps_what_arrived_and_resumes(tmp_path, shipped_ontology_dir):
    """Against a real gunicorn: the connection drops halfway through a chunk; HEAD says how much arrived."""
    from live import LiveServer, api

    with LiveServer(str(tmp_path / "live")) as live:
        token = live.token()
        pid = api(live, token, "POST", "/projects", {"name": "tus", "modality": "labels"})["id"]
        content = b"follow-up in two weeks\n" * 30_000
        sock = socket.create_connection(("127.0.0.1", live.port))
        request = (f"POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                   f"Tus-Resumable: 1.0.0\r\nUpload-Length: {len(content)}\r\n"
                   f"Upload-Metadata: {meta(filename='big.txt', project=pid)}\r\nContent-Length: 0\r\n\r\n")
        sock.sendall(request.encode())
        reply = sock.recv(4096).decode()
        sock.close()
        upload_id = reply.split("Location: ")[1].split("\r\n")[0].rsplit("/", 1)[1]
        sent = len(content) // 2
        sock = socket.create_connection(("127.0.0.1", live.port))
        sock.sendall((f"PATCH /api/v1/uploads/{upload_id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                      f"Content-Length: {len(content)}\r\n\r\n").encode() + content[:sent])
        sock.close()  # the network drops
        import time
        import urllib.request

        offset = 0
        for _ in range(50):
            req = urllib.request.Request(f"{live.url}/api/v1/uploads/{upload_id}", method="HEAD",
                                         headers={"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"})
            with urllib.request.urlopen(req) as resp:
                offset = int(resp.headers["Upload-Offset"])
            if offset:
                break
            time.sleep(0.1)
        assert 0 < offset <= sent
        req = urllib.request.Request(f"{live.url}/api/v1/uploads/{upload_id}", method="PATCH", data=content[offset:],
                                     headers={"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0",
                                              "Upload-Offset": str(offset),
                                              "Content-Type": "application/offset+octet-stream"})
        with urllib.request.urlopen(req) as resp:
            assert resp.headers["Upload-Offset"] == str(len(content))
        created = api(live, token, "POST", f"/projects/{pid}/items", {"uploads": [upload_id]})["created"]
        item = api(live, token, "GET", f"/items/{created[0]['id']}")
        assert item["text"].strip() == content.decode().strip()
