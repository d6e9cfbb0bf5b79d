"""Exports streamed from the database into the export file (the `export` job kind lives in handlers.py).

One statement picks, per item, the annotation the export carries and returns only the columns writers read (no ORM
object per row); its rows are fetched STREAM_BATCH at a time (yield_per: a server-side cursor on PostgreSQL, a
lazily stepped cursor on SQLite) and reach the writer as a generator of (ItemView, payload), so the memory an
export takes does not grow with the number of items. The file may be gzipped (options.gzip).

Which annotation an item exports: gold (a reviewer's or consensus), else (stage "reviewed" or "all") the latest
submitted or accepted human version, else (stage "all") the latest model draft or import; stage "gold" keeps gold
only. Ties go to the latest version.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import json
import os
import re
import shutil
import tempfile
import zlib
from typing import Iterator

from flask import current_app, has_app_context
from sqlalchemy import Text, and_, case, cast, exists, func, or_, select, true, type_coerce
from sqlalchemy.orm import aliased

from annotators.base import ItemView
from annotators.media import MediaInfo
from server.extensions import db
from server.models import Annotation, Item, User
from server.sandbox import SandboxError

STREAM_BATCH = 1000  # rows fetched from the database at a time
# zlib level 3: 100,000 notes of JSONL (152 MB) compress 5.2x in 2.3 s of the second core; gzip's default, 6,
# gives 6.3x in 5.9 s, longer than the export itself.
GZIP_LEVEL = 3
GZIP_MEDIA_TYPE = "application/gzip"
PREPARE_WALL_FACTOR = 8  # wall-clock seconds an Exporter.prepare step may take per second of media
_FRACTION = re.compile(r"[0-9]\.[0-9]")
_PEOPLE = ("human", "consensus", "review")
_MACHINES = ("model", "import")


def provenance(source: str, stage: str, annotation_id: int, author: str | None, model_version: str | None) -> dict:
    """Who stands behind an exported annotation: human, model@version, consensus or a reviewer's gold."""
    if source == "model":
        return {"origin": "model", "model_version": model_version, "reviewed": False}
    if source == "import":
        return {"origin": "import", "reviewed": False}
    if stage == "gold":
        origin = {"consensus": "consensus", "review": "reviewer"}.get(source, "human")
        return {"origin": origin, "gold": True, "reviewed": origin == "reviewer", "by": author,
                "annotation_id": annotation_id}
    return {"origin": "human", "gold": False, "reviewed": False, "by": author, "annotation_id": annotation_id}


def _candidates(stage: str):
    """The annotations of an item an export may carry (on `candidate`), best first."""
    candidate = aliased(Annotation)
    people = and_(candidate.source.in_(_PEOPLE), candidate.status.in_(("accepted", "submitted")))
    gold = and_(people, candidate.stage == "gold")
    if stage == "gold":
        where, rank = gold, None
    elif stage == "reviewed":
        where, rank = people, case((candidate.stage == "gold", 1), else_=0)
    else:
        where, rank = or_(people, candidate.source.in_(_MACHINES)), case((gold, 2), (people, 1), else_=0)
    order = ([rank.desc()] if rank is not None else []) + [candidate.id.desc()]
    # Only item_id is compared with the outer row: with the project's id in here, SQLite walks
    # ix_annotations_author (every annotation of the project) per item instead of ix_annotations_item.
    return candidate, where, order


def export_statement(project_id: int, stage: str, dialect: str = "sqlite"):
    """(item columns, the chosen annotation's columns, its author's name) per exported item, in item order. JSON
    columns come as their text (decoded by export_pairs). On PostgreSQL the choice is a LATERAL subquery: with the
    scalar one its planner hashed every annotation of the table and sorted the whole result on disk (1.9 s for
    100,000 items, and nothing streams before the sort ends); LATERAL walks items in order, 0.65 s. SQLite has no
    LATERAL, and walks the scalar subquery per item in order."""
    candidate, where, order = _candidates(stage)
    # as text: SQLite keeps JSON as text (type_coerce: no SQL), PostgreSQL casts jsonb to it
    as_text = cast if dialect == "postgresql" else type_coerce
    item = (Item.id, Item.kind, Item.text, as_text(Item.meta, Text), Item.name, as_text(Item.media_info, Text),
            Item.storage_key, Item.source_path)
    if dialect == "postgresql":
        chosen = (select(candidate.id, cast(candidate.payload, Text).label("payload"), candidate.source,
                         candidate.stage, candidate.model_version, candidate.author_id)
                  .where(candidate.item_id == Item.id, where).order_by(*order).limit(1).lateral("chosen"))
        return (select(*item, chosen.c.payload, chosen.c.id, chosen.c.source, chosen.c.stage,
                       chosen.c.model_version, User.username)
                .select_from(Item).join(chosen, true()).outerjoin(User, User.id == chosen.c.author_id)
                .where(Item.project_id == project_id).order_by(Item.id))
    chosen_id = (select(candidate.id).where(candidate.item_id == Item.id, where).order_by(*order).limit(1)
                 .correlate(Item).scalar_subquery())
    return (select(*item, type_coerce(Annotation.payload, Text), Annotation.id, Annotation.source, Annotation.stage,
                   Annotation.model_version, User.username)
            .select_from(Item).join(Annotation, Annotation.id == chosen_id)
            .outerjoin(User, User.id == Annotation.author_id)
            .where(Item.project_id == project_id).order_by(Item.id))


def count_items(project_id: int, stage: str) -> int:
    candidate, where, _ = _candidates(stage)
    has = exists().where(candidate.item_id == Item.id, where)
    return db.session.execute(select(func.count()).select_from(Item).where(Item.project_id == project_id, has)
                              ).scalar_one()


def _json_text(raw: str, exact: bool) -> str | dict:
    """A stored payload for a writer that takes JSON text: the text itself where it is what json.dumps(payload,
    ensure_ascii=False) writes for the decoded payload, else decoded. SQLite keeps the text json.dumps wrote (with
    ensure_ascii, so it is the same text when nothing was escaped: no \\u in it). PostgreSQL writes jsonb back out
    with the same separators and escapes, but numbers as decimals ("0.00001", where json.dumps writes 1e-05): a
    payload with a fraction in it (or "digit.digit" in a string) is decoded. `exact`: the text is json.dumps'."""
    if raw.startswith('{"') and "\\u" not in raw and (exact or not _FRACTION.search(raw)):
        return raw
    return json.loads(raw)


def export_pairs(project_id: int, stage: str, assets: tuple[str, ...] = (), json_text: bool = False,
                 media_keys: dict | None = None) -> Iterator[tuple[ItemView, dict | str]]:
    """(item view with provenance, payload) per exported item, streamed. `assets`: derived assets the writer
    reads, filled in per batch. `json_text`: the writer takes a payload as JSON text (a str) too, which spares
    decoding and encoding it again (write_jsonl: 40 % of its time). `media_keys`: filled with item id -> storage
    key where the view has no local media path (S3: the media is fetched one item at a time, when needed)."""
    store = current_app.extensions["media"] if has_app_context() else None
    cheap = store is not None and store.kind == "filesystem"
    # JSON columns come as text and are decoded here: what SQLAlchemy's JSON type does on SQLite, in half the
    # time psycopg and SQLAlchemy take to decode jsonb on PostgreSQL (1.1 s against 2.1 s for 100,000 rows), and a
    # payload a writer takes as text need not be decoded at all (json_text; _json_text says when).
    # SQLite: the text SQLAlchemy wrote with json.dumps, unless the engine was given another serializer
    exact = db.dialect == "sqlite" and getattr(db.engine.dialect, "_json_serializer", None) is None
    json_text = json_text and (exact or db.dialect == "postgresql")
    result = db.session.execute(export_statement(project_id, stage, db.dialect),
                                execution_options={"yield_per": STREAM_BATCH})
    loads = json.loads
    try:
        for rows in result.partitions():
            batch = []
            for (item_id, kind, text, meta, name, media_info, storage_key, source_path, payload, annotation_id,
                 source, stage_, model_version, author) in rows:
                meta = loads(meta) if meta is not None else None
                media_info = loads(media_info) if media_info is not None else None
                if not json_text and payload is not None:
                    payload = loads(payload)
                view = ItemView(id=item_id, kind=kind, text=text, meta=meta or {}, name=name or "",
                                media=MediaInfo.from_dict(media_info) if media_info else None)
                # as server.item_views.item_view: a media path only where that costs nothing (filesystem)
                if storage_key and cheap:
                    view.media_path = str(store.local_path(storage_key))
                elif source_path:
                    view.media_path = source_path
                elif storage_key and media_keys is not None:
                    media_keys[item_id] = storage_key
                view.provenance = provenance(source, stage_, annotation_id, author, model_version)
                batch.append((view, _json_text(payload, exact) if json_text and payload is not None else payload))
            if assets:
                attach_assets(batch, assets)
            yield from batch
    finally:
        result.close()


def attach_assets(pairs: list[tuple[ItemView, dict]], names: tuple[str, ...]) -> None:
    """Local paths of the derived assets an exporter reads (a redacted recording is written from the decoded PCM;
    on S3 storage they are fetched into the worker's cache)."""
    from server.models import Asset

    store = current_app.extensions["media"]
    views = {view.id: view for view, _ in pairs}
    for ids in (list(views)[i:i + 500] for i in range(0, len(views), 500)):
        for asset in db.session.execute(select(Asset).where(Asset.item_id.in_(ids), Asset.name.in_(names))).scalars():
            views[asset.item_id].assets[asset.name] = str(store.local_path(asset.storage_key))


class _GzipSink(io.RawIOBase):
    """A gzip stream (RFC 1952: zlib's gzip container, no file name, mtime 0, so one export gives one file)
    compressed on a second thread: zlib lets go of the GIL while it compresses, so on two cores compression runs
    beside the writer instead of after each write. One thread compresses the chunks in order; at most `ahead`
    wait, so memory stays bounded."""

    CHUNK = 1 << 20

    def __init__(self, fh, level: int, ahead: int = 4):
        from concurrent.futures import ThreadPoolExecutor

        self.fh, self.ahead = fh, ahead
        self.zlib = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # 16+: the gzip container
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="export-gzip")
        self.pending: list = []
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.buffer += data
        if len(self.buffer) >= self.CHUNK:
            self._submit(self.zlib.compress, bytes(self.buffer))
            self.buffer.clear()
        return len(data)

    def _submit(self, fn, *args) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        while len(self.pending) > self.ahead:
            self.fh.write(self.pending.pop(0).result())

    def close(self) -> None:
        if self.closed:
            return
        try:
            if self.buffer:
                self._submit(self.zlib.compress, bytes(self.buffer))
            self._submit(self.zlib.flush)
            for future in self.pending:
                self.fh.write(future.result())
        finally:
            self.pending = []
            self.pool.shutdown(wait=True)
            super().close()


class _Tally:
    """Counts what passes to the writer: items and their origins (the job's result)."""

    def __init__(self, pairs: Iterator[tuple[ItemView, dict]]):
        self.pairs, self.items, self.origins = pairs, 0, {}

    def __iter__(self):
        origins = self.origins
        for pair in self.pairs:
            origin = pair[0].provenance["origin"]
            origins[origin] = origins.get(origin, 0) + 1
            self.items += 1
            yield pair


@contextlib.contextmanager
def _heap_frozen():
    """The objects alive before the export (modules, models: 140,000 in a worker, 356,000 once spaCy's pipeline is
    loaded) are left out of the garbage collector's full passes while it runs: an export allocates millions of
    short-lived objects, and each full pass walked that whole heap again (a CoNLL export of 100,000 notes took
    11.6 s with them, 9.2 s without). Where something froze the heap already (a worker that freezes it before
    forking), it is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _prepared(pairs, exporter, label_config: dict, media_keys: dict, work_dir: str):
    """Runs the exporter's per-item media step (Exporter.prepare) in the media sandbox, one item at a time, with
    the derive job's limits: the worker never decodes an untrusted file itself, and a file that crashes or hangs
    the decoder fails that item, not the export. Each result is deleted once the writer asks for the next item."""
    from annotators.media import Derivative
    from server.derive import _build

    store = current_app.extensions["media"]
    step = Derivative(exporter.name, exporter.prepare, "application/octet-stream", options=label_config)
    for view, payload in pairs:
        out_dir = tempfile.mkdtemp(prefix="item-", dir=work_dir)
        try:
            key = media_keys.pop(view.id, None)
            if key and not view.media_path:
                view.media_path = str(store.local_path(key))
            if not view.media_path or not os.path.exists(view.media_path):
                view.meta = {**view.meta, "prepare_error": "the media file is missing from storage"}
            else:
                # a re-encode of full-size footage may run slower than real time: 8x the duration before it is stopped
                seconds = view.media.duration_ms / 1000 if view.media else 0
                wall = int(max(int(current_app.config["SANDBOX_DERIVE_MIN_WALL_S"]), seconds * PREPARE_WALL_FACTOR))
                try:
                    built = _build(dataclasses.replace(step, timeout_s=wall), view, out_dir, current_app.config)
                    view.assets[exporter.name] = built["path"]
                    view.meta = {**view.meta, "prepared": built["meta"]}
                except SandboxError as exc:
                    view.meta = {**view.meta, "prepare_error": str(exc)[:300]}
            yield view, payload
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)


def write_export(exporter, project, stage: str, job_id: int, compress: bool) -> dict:
    """Streams the export into a temporary file beside its final place, then moves it there (a rename, or an
    upload to the bucket). Returns the job's result."""
    store = current_app.extensions["media"]
    out_dir = store.export_dir(current_app.config)
    name = f"export-{job_id}.{exporter.extension.lstrip('.')}" + (".gz" if compress else "")
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".partial-")
    json_text = getattr(exporter.write, "accepts_json_text", False)
    media_keys: dict | None = {} if exporter.prepare is not None else None
    pairs = export_pairs(project.id, stage, exporter.assets, json_text, media_keys)
    work_dir = None
    if exporter.prepare is not None:
        work_dir = tempfile.mkdtemp(prefix=".prepare-", dir=out_dir)
        pairs = _prepared(pairs, exporter, project.label_config, media_keys, work_dir)
    tally = _Tally(pairs)
    try:
        with _heap_frozen(), os.fdopen(fd, "wb", buffering=1 << 20) as fh:
            if compress:
                with _GzipSink(fh, GZIP_LEVEL) as sink:
                    exporter.write(iter(tally), project.label_config, sink)
            else:
                exporter.write(iter(tally), project.label_config, fh)
        size = os.path.getsize(tmp)
        store.save_export(current_app.config, tmp, name)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    finally:
        if work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    result = {"file": name, "items": tally.items, "origins": tally.origins, "size": size,
              "media_type": GZIP_MEDIA_TYPE if compress else exporter.media_type}
    if compress:
        result.update(gzip=True, content_media_type=exporter.media_type)
    return result
