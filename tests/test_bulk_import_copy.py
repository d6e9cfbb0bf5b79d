"""Bulk imports through server/bulk_insert.py (sqlite3's executemany on SQLite, a binary COPY on PostgreSQL), on
both backends: thousands of items over several chunks keep their order, ids and content hashes; a bad record or a
database error leaves nothing half-written; duplicate content is found across a server import's batches; reads
go on while an import holds the write transaction."""
from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import func, select

from server import ingest, server_import

N = 5000  # more than two store_staged chunks (ingest.CHUNK)


def _items(app, pid: int) -> list:
    from server.extensions import db
    from server.models import Item

    with app.app_context():
        rows = db.session.execute(select(Item.id, Item.name, Item.text, Item.content_hash, Item.size, Item.status)
                                  .where(Item.project_id == pid).order_by(Item.id)).all()
        db.session.commit()
        return rows


def _uploads_audited(app, pid: int) -> list:
    from server.extensions import db
    from server.models import AuditEvent

    with app.app_context():
        rows = db.session.execute(select(AuditEvent.details).where(AuditEvent.action == "items.upload",
                                                                   AuditEvent.project_id == pid)).scalars().all()
        db.session.commit()
        return rows


def test_a_large_batch_keeps_order_ids_and_hashes(app, admin, labels_project):
    assert N > 2 * ingest.CHUNK
    pid = labels_project["id"]
    records = [{"text": f"Patient {i} stable; review in {i % 12} months.", "name": f"n{i:05d}",
                "meta": {"ward": i % 7}} for i in range(N)]
    records[4321] = {"text": records[17]["text"], "name": "same text as n00017"}  # direct posts keep duplicates
    status, body = admin.post(f"/projects/{pid}/items", records)
    assert status == 201 and body["failed"] == [], body
    ids = [c["id"] for c in body["created"]]
    assert len(ids) == N and ids == sorted(set(ids))
    assert [c["name"] for c in body["created"]] == [r["name"] for r in records]
    rows = _items(app, pid)
    assert [r.id for r in rows] == ids
    for row, record in zip(rows, records):
        assert (row.name, row.text, row.status) == (record["name"], record["text"], "ready")
        assert row.content_hash == hashlib.sha256(record["text"].encode()).hexdigest()
        assert row.size == len(record["text"])
    _, item = admin.get(f"/items/{ids[2500]}")
    assert item["meta"] == {"ward": 2500 % 7} and item["stage"] == "annotate"
    assert _uploads_audited(app, pid) == [{"created": N, "failed": 0}]


def test_a_bad_record_in_the_middle_leaves_nothing_with_atomic(app, admin, labels_project):
    pid = labels_project["id"]
    records = [{"text": f"note {i}"} for i in range(N)]
    records[N // 2] = {"text": "a note", "labels": ["no-such-label"]}
    status, body = admin.post(f"/projects/{pid}/items?atomic=true", records)
    assert status == 422, body
    assert f"record {N // 2 + 1}: unknown label(s) ['no-such-label']" in body["error"]["message"]
    assert _items(app, pid) == [] and _uploads_audited(app, pid) == []
    # Without atomic, the others are stored and the bad one is reported by position.
    status, body = admin.post(f"/projects/{pid}/items", records)
    assert status == 201 and len(body["created"]) == N - 1
    assert [f["index"] for f in body["failed"]] == [N // 2]


def test_a_database_error_in_a_later_chunk_rolls_back_the_earlier_ones(app, admin, labels_project, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from server.bulk_insert import insert_rows

    pid = labels_project["id"]
    calls = []

    def failing_second_chunk(connection, table, rows, want_ids=True):
        calls.append(len(rows))
        if len(calls) == 2:
            rows = [dict(row) for row in rows]
            rows[100]["kind"] = None  # NOT NULL: the database refuses the chunk
        return insert_rows(connection, table, rows, want_ids)

    monkeypatch.setattr(ingest, "insert_rows", failing_second_chunk)
    status, body = admin.post(f"/projects/{pid}/items", [{"text": f"note {i}"} for i in range(N)])
    assert status == 500 and calls[:2] == [ingest.CHUNK, ingest.CHUNK], (status, body)
    assert "note" not in str(body)  # no row content in the answer
    assert _items(app, pid) == [] and _uploads_audited(app, pid) == []
    monkeypatch.undo()
    # The driver's error arrives as SQLAlchemy's own type, whichever path inserted.
    from server.extensions import db
    from server.models import Item

    with app.app_context():
        rows = [dict(project_id=pid, kind="text", name=f"r{i}", content_hash="0" * 64, text="x", meta={})
                for i in range(50)]
        rows[25]["kind"] = None
        with pytest.raises(IntegrityError):
            insert_rows(db.session.connection(), Item.__table__, rows)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Item).where(Item.project_id == pid)) == 0
        db.session.commit()


def test_server_import_finds_duplicates_across_batches(app, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(server_import, "BATCH", 40)
    root = tmp_path / "nas"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    for i in range(150):
        (root / "a" / f"{i:03d}.txt").write_text(f"Note {i}: stable.")
    for i in range(30):  # same content as a/ files imported in earlier batches, and new ones
        (root / "b" / f"{i:03d}.txt").write_text(f"Note {i * 5}: stable." if i % 2 else f"Other note {i}.")
    app.config["IMPORT_ROOTS"] = f"nas={root}"
    _, project = admin.post("/projects", {"name": "nas", "modality": "labels"})
    pid = project["id"]
    status, body = admin.post(f"/projects/{pid}/items", {"import": {"root": "nas", "glob": "**/*.txt"}})
    assert status == 202
    result = admin.get(f"/jobs/{body['job']['id']}")[1]["result"]
    assert (result["matched"], result["imported"], result["skipped_already_imported"]) == (180, 165, 15), result
    rows = _items(app, pid)
    expected = [f"{i:03d}.txt" for i in range(150)] + [f"{i:03d}.txt" for i in range(0, 30, 2)]
    assert [r.name for r in rows] == expected  # path order, ids ascending
    assert all(r.content_hash == hashlib.sha256(r.text.encode()).hexdigest() for r in rows)
    assert len({r.content_hash for r in rows}) == 165
    _, body = admin.post(f"/projects/{pid}/items", {"import": {"root": "nas", "glob": "**/*.txt"}})
    result = admin.get(f"/jobs/{body['job']['id']}")[1]["result"]
    assert (result["imported"], result["skipped_already_imported"]) == (0, 180)


@pytest.mark.concurrent
def test_reads_go_on_while_an_import_holds_the_write_transaction(app, admin, labels_project, monkeypatch):
    """The import pauses inside its write transaction (after its first chunk is written) until a reading request
    has been answered: a read that waited for the writer's lock would never be answered, and the import's wait
    would run out."""
    pid = labels_project["id"]
    writing, read_done = threading.Event(), threading.Event()
    real_insert = ingest.insert_rows

    def pausing_insert(connection, table, rows, want_ids=True):
        ids = real_insert(connection, table, rows, want_ids)
        if not writing.is_set():
            writing.set()
            read_done.wait(60)
        return ids

    monkeypatch.setattr(ingest, "insert_rows", pausing_insert)
    answers = []

    def read():
        writing.wait(60)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {admin.token}"}
        answers.append(client.get(f"/api/v1/projects/{pid}", headers=headers).status_code)
        answers.append(client.get("/api/v1/projects", headers=headers).status_code)
        read_done.set()

    reader = threading.Thread(target=read)
    reader.start()
    status, body = admin.post(f"/projects/{pid}/items", [{"text": f"note {i}"} for i in range(N)])
    reader.join()
    assert read_done.is_set() and answers == [200, 200]
    assert status == 201 and len(body["created"]) == N
    assert len(_items(app, pid)) == N
