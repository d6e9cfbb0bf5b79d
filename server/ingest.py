"""Turning uploads into items: validation per file, one transaction for the batch, no orphan files."""
from __future__ import annotations

import hashlib
import os
import logging
import unicodedata
from typing import NamedTuple

from flask import current_app

from annotators.base import DocumentErrors, FormatError, ItemInput, ItemRejected
from server.bulk_insert import insert_rows
from server.extensions import db
from server.models import Annotation, Item

log = logging.getLogger("clinlabel.ingest")
MAX_NAME = 255
CHUNK = 2000  # rows built and written at a time by store_staged


def spool(stream, chunk: int = 1024 * 1024) -> str:
    """Copy an uploaded part to a file of our own (werkzeug keeps small parts in memory): modalities get paths."""
    import os
    import tempfile

    folder = os.path.join(current_app.config["DATA_DIR"], "uploads")
    os.makedirs(folder, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=folder, prefix="spool-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            while data := stream.read(chunk):
                out.write(data)
    except BaseException:
        os.unlink(path)
        raise
    return path


def check_name(name: str) -> str:
    """Original names are metadata only (files are stored under their hash), but we refuse names that try tricks."""
    name = name or ""
    # The common case, printable ASCII, is NFC already and holds no control character: one test for both.
    plain = name.isascii() and name.isprintable()
    if not plain:
        name = unicodedata.normalize("NFC", name)
        if "\x00" in name:
            raise ItemRejected("file name contains a NUL byte")
    if "/" in name or "\\" in name:
        raise ItemRejected("file name contains a path separator")
    if name in {".", ".."} or name.startswith(".."):
        raise ItemRejected("file name is a relative path")
    if len(name) > MAX_NAME:
        raise ItemRejected(f"file name is longer than {MAX_NAME} characters")
    if not plain and any(unicodedata.category(c) == "Cc" for c in name):
        raise ItemRejected("file name contains control characters")
    return name


def _check_controls(ingested) -> None:
    """Text may hold tabs and line breaks, never NUL (PostgreSQL cannot store it; a binary file posing as text);
    names and metadata hold no control characters at all."""
    from server.text_checks import CONTROL, find_control

    if ingested.text and "\x00" in ingested.text:
        raise ItemRejected("the text contains NUL bytes (a binary file?)")
    if ingested.name and CONTROL.search(ingested.name):
        raise ItemRejected("the name contains control characters")
    meta = ingested.meta
    if not meta:
        return
    # Most metadata is flat (scalars under string keys): one search of the keys and string values together; a hit,
    # or any nesting, goes to find_control, which names the place.
    flat = all(isinstance(v, (str, int, float, bool)) or v is None for v in meta.values())
    if flat and all(isinstance(k, str) for k in meta) and not CONTROL.search(
            "".join(meta) + "".join(v for v in meta.values() if isinstance(v, str))):
        return
    problem = find_control(meta, root="meta")
    if problem:
        raise ItemRejected(problem)


def _hash_text(ingested) -> None:
    """A text item's content hash, computed while parsing (outside the write transaction): storing only reads it.
    Text that UTF-8 cannot encode (a lone surrogate from a JSON escape) is refused here, naming the item."""
    if ingested.media_path is None and ingested.media is None and ingested.content_hash is None:
        try:
            ingested.content_hash = hashlib.sha256((ingested.text or "").encode("utf-8")).hexdigest()
        except UnicodeEncodeError:
            raise ItemRejected("the text is not valid Unicode (a lone surrogate?)") from None


def file_stem(name: str) -> str:
    base = os.path.basename(name or "")
    return base.rsplit(".", 1)[0].casefold() if "." in base else base.casefold()


def attach_sidecars(modality, inputs: list[ItemInput], failed: list[dict]) -> set[int]:
    """Attach each sidecar (e.g. `visit.vtt`) to the media input with the same base name (`visit.wav`); returns
    the indexes of the inputs consumed that way. A sidecar without its media file is a per-file error."""
    extensions = tuple(e.lower() for e in getattr(modality, "sidecar_extensions", ()) or ())
    if not extensions:
        return set()
    media = {}
    for index, item_input in enumerate(inputs):
        if not (item_input.name or "").lower().endswith(extensions):
            media.setdefault(file_stem(item_input.name), item_input)
    used = set()
    # A modality may name its sidecars differently (Cholec80: `video01-phase.txt` belongs to `video01.mp4`).
    stem_of = getattr(modality, "sidecar_stem", None) or file_stem
    for index, item_input in enumerate(inputs):
        if (item_input.name or "").lower().endswith(extensions):
            used.add(index)
            target = media.get(stem_of(item_input.name))
            if target is None:
                failed.append({"index": index, "name": item_input.name,
                               "error": "an annotation file with no media file of the same name in this upload"})
            else:
                target.sidecars.append(item_input)
    return used


def ingest_batch(project, modality, inputs: list[ItemInput], atomic: bool = False,
                 skip_hashes: set | None = None, skipped: list | None = None, reference: bool = False,
                 label_plan: dict | None = None, may_add_labels: bool = False, label_reports: list | None = None):
    """Validate every input; create the valid ones in one transaction. Returns (created items, failed list).

    `failed` entries name the input (by position and escaped original name) and the reason, never content.
    With `atomic`, one failure means nothing is created. Imported annotations' labels unknown to the project follow
    `label_plan` (server/import_labels.py; default: dropped and counted in `label_reports`). With `reference`, media files stay where they are (server
    imports in place): only their hash and path are stored. With `skip_hashes`, items whose content hash is in it
    are not created again (their input index goes to `skipped`), and new hashes are added to it.
    """
    from server.import_labels import map_labels, store_config

    staged, failed = stage_inputs(project, modality, inputs)
    if atomic and failed:
        return [], failed
    try:
        new_config, report = map_labels(project, modality, staged, label_plan or {"unknown": "drop"}, may_add_labels)
    except ValueError as exc:
        return [], failed + [{"index": None, "name": "", "error": f"imported labels: {exc}"}]
    if label_reports is not None and report is not None:
        label_reports.append(report)
    store_config(project, new_config, report, "system:import", db.session)
    created, errors = store_staged(project, modality, inputs, staged, skip_hashes, skipped, reference)
    return created, failed + errors


def stage_inputs(project, modality, inputs: list[ItemInput], keep_valid: bool = False) -> tuple[list, list[dict]]:
    """Parse and validate without touching the database (so no lock is held meanwhile): (staged, failed) where
    staged holds (input index, IngestedItem). A file is accepted or refused whole, except that with `keep_valid`
    the valid documents of a multi-document file are kept and each bad one reported on its own."""
    failed: list[dict] = []
    staged = []
    attached = attach_sidecars(modality, inputs, failed)
    for index, item_input in enumerate(inputs):
        if index in attached:
            continue
        try:
            if item_input.data is not None or item_input.path is not None:
                item_input.name = check_name(item_input.name)
            for ingested in modality.ingest(item_input, project.label_config):
                _check_controls(ingested)
                _hash_text(ingested)
                staged.append((index, ingested))
        except DocumentErrors as exc:
            if not keep_valid:
                failed.append({"index": index, "name": item_input.name, "error": str(exc)[:500]})
                continue
            try:
                for ingested in exc.items:
                    _check_controls(ingested)
                    _hash_text(ingested)
            except ItemRejected as inner:
                failed.append({"index": index, "name": item_input.name, "error": str(inner)[:500]})
                continue
            staged.extend((index, ingested) for ingested in exc.items)
            failed.extend({"index": index, "name": item_input.name, "error": error[:500]} for error in exc.errors)
        except (ItemRejected, FormatError) as exc:
            failed.append({"index": index, "name": item_input.name, "error": str(exc)[:500]})
        except ValueError as exc:
            failed.append({"index": index, "name": item_input.name, "error": f"invalid input: {str(exc)[:400]}"})
    return staged, failed


def store_staged(project, modality, inputs: list[ItemInput], staged: list, skip_hashes: set | None = None,
                 skipped: list | None = None, reference: bool = False) -> tuple[list, list[dict]]:
    """Store staged items (and their imported annotations) in the caller's transaction: all or none of them.
    Returns rows (id, name, kind, status) of the created items, and the failures. Rows are built and written
    CHUNK at a time, so what a batch holds in memory beyond its parsed items does not grow with its size."""
    store = current_app.extensions["media"]
    new_files: list[str] = []
    created: list = []
    try:
        for begin in range(0, len(staged), CHUNK):
            created += _store_chunk(project, modality, inputs, staged[begin:begin + CHUNK], skip_hashes, skipped,
                                    reference, store, new_files)
    except ValueError as exc:
        db.session.rollback()
        for key in new_files:
            store.remove_unreferenced(key)
        return [], [{"index": None, "name": "", "error": f"imported annotations invalid: {exc}"}]
    except BaseException:
        db.session.rollback()
        for key in new_files:
            store.remove_unreferenced(key)
        raise
    return created, []


def _store_chunk(project, modality, inputs, staged, skip_hashes, skipped, reference, store, new_files) -> list:
    rows: list[dict] = []
    prepares = bool(modality.probe_media or modality.derivatives())
    kept = []  # the staged items created (the others were skipped as already imported)
    project_id = project.id  # read once: an ORM attribute costs a descriptor call per row
    for index, ing in staged:
        storage_key, size, source_path = None, 0, None
        if ing.media_path is not None and (ing.reference or reference) and ing.media_path == inputs[index].path:
            from server.storage_keys import hash_file

            digest, size = hash_file(ing.media_path)
            source_path = ing.media_path
        elif ing.media_path is not None:
            digest, storage_key, was_new, size = store.put_file(ing.media_path)
            if was_new:
                new_files.append(storage_key)
        elif ing.media is not None:
            digest, storage_key, was_new = store.put(ing.media)
            size = len(ing.media)
            if was_new:
                new_files.append(storage_key)
        else:
            digest = ing.content_hash or hashlib.sha256((ing.text or "").encode("utf-8")).hexdigest()
            size = len(ing.text or "")
        if skip_hashes is not None:
            if digest in skip_hashes:
                if skipped is not None:
                    skipped.append(index)
                continue
            skip_hashes.add(digest)
        rows.append(dict(
            project_id=project_id, kind=ing.kind, name=(ing.name or inputs[index].name)[:MAX_NAME],
            content_hash=digest, storage_key=storage_key, media_type=ing.media_type, size=size,
            text=ing.text, meta=ing.meta or {}, source_path=source_path,
            # media is probed and its derivatives built by a `derive` job before anyone annotates it
            status="processing" if prepares and (storage_key or source_path) else "ready",
        ))
        kept.append(ing)
    for ing in kept:  # checked before this chunk is written (a failure rolls back the chunks before it too)
        for payload in ing.annotations:
            if ing.schema_checked:
                modality.check_payload_semantics(payload, project.label_config)
            else:
                modality.validate_payload(payload, project.label_config)
    if not rows:
        return []
    # One COPY (PostgreSQL) or executemany (SQLite) per chunk instead of the unit of work's row-by-row flush; only
    # the columns callers read come back (whole items would decode every note's metadata again).
    connection = db.session.connection()
    ids = insert_rows(connection, Item.__table__, rows)
    created = [CreatedItem(i, row["name"], row["kind"], row["status"]) for i, row in zip(ids, rows)]
    annotations = [dict(item_id=item.id, project_id=project_id, source="import", stage="annotate",
                        status="draft", payload=payload, model_version="import")
                   for item, ing in zip(created, kept) for payload in ing.annotations]
    if annotations:
        insert_rows(connection, Annotation.__table__, annotations, want_ids=False)
    return created


class CreatedItem(NamedTuple):
    """What callers read of a created item (the shape of the rows INSERT ... RETURNING gave before)."""
    id: int
    name: str
    kind: str
    status: str
