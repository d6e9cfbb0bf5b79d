"""Completed tus uploads becoming items: which uploads a request may consume, and marking them consumed (a retried
request gets the same items back, nothing is imported twice)."""
from __future__ import annotations

import os

from flask import g

from annotators.base import ItemInput
from server.errors import ApiError
from server.extensions import db
from server.models import Upload


def consumable_uploads(project, ids) -> tuple[list[ItemInput], list[Upload]]:
    from server.api.uploads import upload_path

    if not isinstance(ids, list) or not ids or len(ids) > 1000 or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "'uploads' must be a list of 1 to 1000 upload ids")
    rows = {u.id: u for u in db.session.query(Upload).filter(Upload.id.in_(ids), Upload.user_id == g.user.id,
                                                               Upload.project_id == project.id)}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise ApiError(404, f"upload {missing[0][:32]!r} not found in this project (expired, or not yours)")
    uploads = [rows[i] for i in ids]
    unfinished = [u for u in uploads if u.status == "open"]
    if unfinished:
        u = unfinished[0]
        raise ApiError(409, f"upload {u.id} has {u.offset} of {u.length} bytes; finish it first (HEAD, then PATCH)")
    importing = [u for u in uploads if u.status == "importing"]
    if importing:
        raise ApiError(409, f"upload {importing[0].id} is being imported by a background job; see the project's jobs")
    if any(u.status == "consumed" for u in uploads) and not all(u.status == "consumed" for u in uploads):
        raise ApiError(409, "some of these uploads were already imported; send only the new ones")
    inputs = [ItemInput(name=u.filename, path=upload_path(u.id), size=u.length, content_type=u.filetype or None)
              for u in uploads if u.status == "complete"]
    return inputs, uploads


def mark_consumed(uploads: list[Upload], inputs: list[ItemInput], created) -> None:
    ids = [item.id for item in created]
    for upload in uploads:
        # the original file name may name the patient; the items keep what the modality decided to keep
        upload.status, upload.item_ids, upload.filename = "consumed", ids, ""
    for item_input in inputs:  # stored content-addressed now; the partial file is no longer needed
        if item_input.path and os.path.exists(item_input.path):
            os.unlink(item_input.path)
