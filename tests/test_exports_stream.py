"""Streamed exports (issue 15, item 3; server/jobs/exports.py): each item's annotation is chosen as before, the rows
reach the writer as a generator fetched a batch at a time (never the whole list), JSONL written from the stored JSON
text is the same bytes, and an export may be gzipped (options.gzip) and downloads as application/gzip."""
from __future__ import annotations

import gzip
import io
import json

from sqlalchemy import event, select
from sqlalchemy.engine import cursor as sa_cursor

from support import add_texts, create_user

NOTE = "Chest pain since Monday. Denies fever. Caf\u00e9 au lait spots \u2014 see derm."


def _payload(label: str, note: str = NOTE) -> dict:
    start = note.index("Chest pain")
    return {"spans": [{"id": "s1", "start": start, "end": start + 10, "label": label, "layer": "entity"}],
            "relations": []}


def _project(admin, count: int) -> tuple[int, list[int]]:
    status, project = admin.post("/projects", {"name": "Exports", "modality": "notes"})
    assert status == 201, project
    return project["id"], add_texts(admin, project["id"], [f"{NOTE} Note {i}." for i in range(count)])


def _annotate(app, rows) -> None:
    """rows: (item id, project id, source, stage, status, author id, label), in the order they were written."""
    from server.extensions import db
    from server.models import Annotation

    with app.app_context():
        for item_id, project_id, source, stage, status, author, label in rows:
            db.session.add(Annotation(item_id=item_id, project_id=project_id, source=source, stage=stage,
                                      status=status, author_id=author, payload=_payload(label),
                                      model_version="ner@v3" if source == "model" else None))
            db.session.commit()


def _former_export(project, stage):
    """The selection the export job made before it streamed: accepted_pairs, then (stage "all") the latest model
    draft or import of each item left, sorted by item."""
    from server.extensions import db
    from server.item_views import item_view
    from server.jobs.handlers import _provenance, accepted_pairs
    from server.models import Annotation, Item

    pairs = accepted_pairs(project, stage)
    if stage == "all":
        have = {view.id for view, _ in pairs}
        latest = {}
        for ann, item in db.session.execute(select(Annotation, Item).join(Item, Item.id == Annotation.item_id).where(
                Annotation.project_id == project.id, Annotation.source.in_(("model", "import")))
                .order_by(Annotation.id)).all():
            if item.id not in have:
                view = item_view(item)
                view.provenance = _provenance(ann, {})
                latest[item.id] = (view, ann.payload)
        pairs += list(latest.values())
    return sorted(pairs, key=lambda pair: pair[0].id)


def test_each_item_exports_the_annotation_it_exported_before(app, admin):
    from server.extensions import db
    from server.jobs.exports import export_pairs
    from server.models import Project

    pid, items = _project(admin, 9)
    ann1, ann2, rev = (create_user(app, name) for name in ("ann1", "ann2", "rev1"))
    i1, i2, i3, i4, i5, i6, i7, i8, _ = items
    _annotate(app, [
        (i1, pid, "model", "annotate", "draft", None, "m1"),
        (i2, pid, "import", "annotate", "draft", None, "imp"), (i2, pid, "human", "annotate", "submitted", ann1, "h"),
        (i3, pid, "human", "annotate", "submitted", ann1, "h1"), (i3, pid, "model", "annotate", "draft", None, "m"),
        (i3, pid, "human", "annotate", "submitted", ann2, "h2"),
        (i4, pid, "consensus", "gold", "accepted", None, "gold"),
        (i4, pid, "human", "annotate", "submitted", ann1, "late"),
        (i5, pid, "model", "annotate", "draft", None, "m-old"), (i5, pid, "human", "annotate", "draft", ann1, "draft"),
        (i5, pid, "model", "annotate", "rejected", None, "m-new"),
        (i6, pid, "review", "gold", "accepted", rev, "rev"), (i6, pid, "consensus", "gold", "accepted", None, "cons"),
        (i7, pid, "human", "annotate", "rejected", ann1, "no"),
        (i8, pid, "human", "review", "accepted", ann2, "accepted"), (i8, pid, "import", "annotate", "draft", None, "i"),
    ])
    with app.app_context():
        project = db.session.get(Project, pid)
        for stage in ("all", "reviewed", "gold"):
            got = [(v.id, v.kind, v.text, v.meta, v.name, v.provenance, p) for v, p in export_pairs(pid, stage)]
            want = [(v.id, v.kind, v.text, v.meta, v.name, v.provenance, p) for v, p in _former_export(project, stage)]
            assert got == want, stage
        labels = {v.id: p["spans"][0]["label"] for v, p in export_pairs(pid, "all")}
        assert labels == {i1: "m1", i2: "h", i3: "h2", i4: "gold", i5: "m-new", i6: "cons", i8: "accepted"}


def test_the_writer_gets_a_stream_fetched_a_batch_at_a_time(app, admin, monkeypatch):
    """A full list cannot pass: at the k-th pair at most one batch beyond k may exist, the statement runs with
    yield_per (on PostgreSQL a server-side cursor), and the writer gets an iterator, not a sequence."""
    from annotators.base import ItemView
    from annotators.notes import formats_export
    from server.extensions import db
    from server.jobs import exports

    pid, items = _project(admin, 30)
    _annotate(app, [(i, pid, "model", "annotate", "draft", None, "m") for i in items])
    monkeypatch.setattr(exports, "STREAM_BATCH", 4)
    views = []

    class CountedView(ItemView):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            views.append(self.id)

    monkeypatch.setattr(exports, "ItemView", CountedView)
    # Rows handed over by the database cursor (SQLAlchemy's fetch strategies: a plain cursor stepped by SQLite, a
    # buffered server-side cursor on PostgreSQL), for the export statement only.
    fetched = []
    for strategy in (sa_cursor.CursorFetchStrategy, sa_cursor.BufferedRowCursorFetchStrategy):
        for name in ("fetchmany", "fetchall"):
            def counting(self, result, *args, _method=getattr(strategy, name), **kwargs):
                rows = _method(self, result, *args, **kwargs)
                if _is_export(getattr(result.context, "statement", None) or ""):
                    fetched.append(len(rows))
                return rows
            monkeypatch.setattr(strategy, name, counting)
    seen = []

    def spy(pairs, config, out):
        assert not isinstance(pairs, (list, tuple)) and iter(pairs) is pairs
        for k, (view, payload) in enumerate(pairs, start=1):
            seen.append((k, len(views), sum(fetched)))
            out.write(b"%d\n" % view.id)

    monkeypatch.setattr(formats_export, "write_jsonl", spy)
    streamed = []

    def options(conn, cursor, statement, parameters, context, executemany):
        if _is_export(statement):
            streamed.append((context.execution_options.get("yield_per"), type(cursor).__name__))

    event.listen(db.engine, "before_cursor_execute", options)
    try:
        status, job = admin.post(f"/projects/{pid}/exports", {"format": "jsonl"})
    finally:
        event.remove(db.engine, "before_cursor_execute", options)
    assert status == 202 and admin.get(f"/jobs/{job['id']}")[1]["status"] == "succeeded"
    assert [k for k, _, _ in seen] == list(range(1, 31))
    # a batch of 4 is fetched and built before its first pair goes out
    assert all(made <= k + 3 and rows <= k + 3 for k, made, rows in seen), seen
    assert sum(fetched) == 30
    assert streamed and all(batch == 4 for batch, _ in streamed)
    if db.dialect == "postgresql":
        assert all(cursor == "ServerCursor" for _, cursor in streamed)


def _is_export(statement: str) -> bool:
    """The export's statement (the only one to select items.source_path in item order)."""
    return "items.source_path" in statement and statement.rstrip().endswith("ORDER BY items.id")


def _download(admin, pid, fmt, **options):
    status, job = admin.post(f"/projects/{pid}/exports", {"format": fmt, "options": {"stage": "all", **options}})
    assert status == 202, job
    job = admin.get(f"/jobs/{job['id']}")[1]
    assert job["status"] == "succeeded", job
    resp = admin.client.get(f"/api/v1/exports/{job['id']}/file", headers=admin.headers())
    assert resp.status_code == 200
    return job, resp


def test_a_gzipped_export_round_trips(app, admin):
    pid, items = _project(admin, 5)
    ann1 = create_user(app, "ann1")
    _annotate(app, [(i, pid, "human", "annotate", "submitted", ann1, "PROBLEM") for i in items[:3]]
              + [(i, pid, "model", "annotate", "draft", None, "PROBLEM") for i in items[3:]])
    for fmt, extension, media_type in (("jsonl", "jsonl", "application/x-ndjson"),
                                       ("conll", "conll", "text/plain; charset=utf-8")):
        _, plain = _download(admin, pid, fmt)
        job, packed = _download(admin, pid, fmt, gzip=True)
        assert job["result"]["file"].endswith(f".{extension}.gz") and job["result"]["gzip"] is True
        assert job["result"]["content_media_type"] == media_type and job["result"]["items"] == 5
        assert packed.headers["Content-Type"] == "application/gzip"
        assert packed.headers["Content-Disposition"].rstrip('"').endswith(f".{extension}.gz")
        assert plain.headers["Content-Type"].startswith(media_type.split(";")[0])
        assert gzip.decompress(packed.data) == plain.data and plain.data
    records = [json.loads(line) for line in gzip.decompress(_download(admin, pid, "jsonl", gzip=True)[1].data)
               .decode("utf-8").splitlines()]
    assert [r["id"] for r in records] == items and records[0]["text"].startswith("Chest pain")
    assert admin.post(f"/projects/{pid}/exports", {"format": "brat", "options": {"gzip": True}})[0] == 400
    assert admin.post(f"/projects/{pid}/exports", {"format": "jsonl", "options": {"gzip": "yes"}})[0] == 400


def test_jsonl_from_stored_json_text_is_the_same_bytes(app, admin):
    """The JSONL writer takes a payload as its stored JSON text where that text is what json.dumps(payload,
    ensure_ascii=False) writes; the file is the one json.dumps gives per record, fractions and all."""
    from annotators.notes.formats_export import write_jsonl
    from server.extensions import db
    from server.jobs.exports import export_pairs

    from server.models import Annotation

    pid, items = _project(admin, 4)
    _annotate(app, [(items[0], pid, "model", "annotate", "draft", None, "PROBLEM"),
                    (items[1], pid, "model", "annotate", "draft", None, "PROBL\u00c8ME"),  # stored escaped
                    (items[2], pid, "model", "annotate", "draft", None, 'quote " and \\ back'),
                    (items[3], pid, "model", "annotate", "draft", None, "PROBLEM")])
    with app.app_context():  # scores json.dumps writes as 1e-05 and 0.5 (jsonb: 0.00001)
        ann = db.session.execute(select(Annotation).where(Annotation.item_id == items[3])).scalar_one()
        ann.payload = {**ann.payload, "spans": [{**ann.payload["spans"][0], "score": 1e-05},
                                                {**ann.payload["spans"][0], "id": "s2", "score": 0.5}]}
        db.session.commit()
    job, resp = _download(admin, pid, "jsonl")
    with app.app_context():
        pairs = list(export_pairs(pid, "all"))
        expected = "".join(json.dumps({"id": v.id, "text": v.text, "meta": v.meta, "payload": p,
                                       "provenance": v.provenance}, ensure_ascii=False) + "\n" for v, p in pairs)
        texts = list(export_pairs(pid, "all", json_text=True))
        # SQLite keeps json.dumps' text, non-ASCII escaped: that payload is decoded; jsonb's text has it as it is
        assert [type(p) for _, p in texts] == ([str, dict, str, str] if db.dialect == "sqlite"
                                               else [str, str, str, dict])
        assert '"score": 1e-05' in resp.data.decode("utf-8")
    assert resp.data.decode("utf-8") == expected
    buffer = io.BytesIO()
    write_jsonl(iter(texts), {}, buffer)
    assert buffer.getvalue() == resp.data
