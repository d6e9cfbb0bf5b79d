"""Server-side import from a configured folder (CLINLABEL_IMPORT_ROOTS): a queued job with progress, paths that
must stay inside the root (symlinks too), and reruns that skip what was already imported."""
from __future__ import annotations

import os


def make_root(tmp_path):
    root = tmp_path / "nas"
    (root / "ward5").mkdir(parents=True)
    (root / "ward5" / "a.txt").write_text("Denies chest pain. History of asthma.")
    (root / "ward5" / "b.txt").write_text("Renew metformin 500 mg.")
    (root / "ward5" / "empty.txt").write_text("")
    (root / "other.txt").write_text("Not in the folder asked for.")
    secret = tmp_path / "secret.txt"
    secret.write_text("Outside the root.")
    os.symlink(secret, root / "ward5" / "escape.txt")
    return root


def test_import_a_folder_then_rerun_skips_what_is_there(app, admin, tmp_path):
    root = make_root(tmp_path)
    app.config["IMPORT_ROOTS"] = f"nas={root}"
    _, project = admin.post("/projects", {"name": "nas", "modality": "notes"})
    pid = project["id"]
    assert admin.get(f"/projects/{pid}/import-roots")[1]["items"] == [{"name": "nas"}]
    status, body = admin.post(f"/projects/{pid}/items", {"import": {"root": "nas", "glob": "ward5/*.txt"}})
    assert status == 202
    _, job = admin.get(f"/jobs/{body['job']['id']}")
    result = job["result"]
    assert job["status"] == "succeeded" and result["matched"] == 4 and result["imported"] == 2
    errors = {f["file"]: f["error"] for f in result["failed"]}
    assert "outside the import root" in errors["ward5/escape.txt"] and "empty" in errors["ward5/empty.txt"]
    names = sorted(i["name"] for i in admin.get(f"/projects/{pid}/items")[1]["items"])
    assert names == ["a.txt", "b.txt"]
    (root / "ward5" / "c.txt").write_text("New note: gout.")
    _, body = admin.post(f"/projects/{pid}/items", {"import": {"root": "nas", "glob": "ward5/*.txt"}})
    result = admin.get(f"/jobs/{body['job']['id']}")[1]["result"]
    assert result["imported"] == 1 and result["skipped_already_imported"] == 2


def test_import_requests_that_are_refused(app, admin, make_member, tmp_path):
    root = make_root(tmp_path)
    app.config["IMPORT_ROOTS"] = f"nas={root}"
    _, project = admin.post("/projects", {"name": "nas", "modality": "notes"})
    pid = project["id"]
    for spec, message in (({"root": "elsewhere", "glob": "*.txt"}, "unknown import root"),
                          ({"root": "nas", "glob": "../*.txt"}, "may not contain '..'"),
                          ({"root": "nas", "glob": "/etc/*"}, "relative to the root"),
                          ("nas", "must be")):
        status, body = admin.post(f"/projects/{pid}/items", {"import": spec})
        assert status == 400 and message in body["error"]["message"], body
    annotator = make_member(pid, "ann", "annotator")
    assert annotator.post(f"/projects/{pid}/items", {"import": {"root": "nas", "glob": "*"}})[0] == 403


def test_candidates_come_in_pathlib_order(tmp_path):
    """Files are imported in the order pathlib sorts their paths (part by part): "a/z" before "a-b", "a" before
    "a/b"; names the string order of whole paths would misplace."""
    from pathlib import Path

    from server.server_import import _candidates

    names = ["a/z.txt", "a-b.txt", "a.txt", "a/b/c.txt", "a!/x.txt", "b.txt", "A.txt", "a/b.txt"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    got = [path for path, _ in _candidates(tmp_path, "**/*.txt")]
    assert got == [str(p) for p in sorted(Path(tmp_path, n) for n in names)]


def test_a_transient_conflict_mid_import_resumes_and_counts_every_file_once(app, admin, tmp_path, monkeypatch):
    """SQLite's "database is locked" (or a PostgreSQL serialization failure) after some batches were committed
    re-runs the job's handler: it goes on after the last committed batch, and the report counts the earlier
    batches' files as imported by this job (not as "already imported")."""
    from sqlalchemy.exc import OperationalError

    from server import server_import

    root = tmp_path / "nas"
    (root / "notes").mkdir(parents=True)
    for i in range(7):
        (root / "notes" / f"n{i}.txt").write_text(f"Note {i}: stable, review in clinic.")
    (root / "notes" / "blank.txt").write_text("")
    app.config["IMPORT_ROOTS"] = f"nas={root}"
    monkeypatch.setattr(server_import, "BATCH", 3)
    calls, real = [], server_import.ingest_batch

    def locked_once(*args, **kwargs):
        calls.append(len(args[2]))
        if len(calls) == 2:
            raise OperationalError("INSERT INTO items", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(server_import, "ingest_batch", locked_once)
    _, project = admin.post("/projects", {"name": "nas", "modality": "notes"})
    status, body = admin.post(f"/projects/{project['id']}/items", {"import": {"root": "nas", "glob": "notes/*"}})
    assert status == 202
    _, job = admin.get(f"/jobs/{body['job']['id']}")
    result = job["result"]
    assert job["status"] == "succeeded", job
    assert (result["matched"], result["imported"], result["skipped_already_imported"]) == (8, 7, 0), result
    assert [f["file"] for f in result["failed"]] == ["notes/blank.txt"]
    # The retry began with the batch that failed: the first batch's files were neither read nor stored again.
    assert calls == [3, 3, 3, 2], calls
    names = sorted(i["name"] for i in admin.get(f"/projects/{project['id']}/items")[1]["items"])
    assert names == [f"n{i}.txt" for i in range(7)]
