"""Resumable uploads with the tus 1.0 protocol (core + creation, termination, expiration): large media arrive in
chunks that survive a dropped connection, streamed to disk (never held in memory), then become items through
POST /projects/{id}/items {"uploads": [ids]}.

One request is still bounded by CLINLABEL_MAX_UPLOAD_MB (so chunks are); a whole upload by CLINLABEL_MAX_MEDIA_GB.
"""
from __future__ import annotations

import base64
import binascii
import fcntl
import os
import secrets
import shutil
from datetime import timedelta

from flask import current_app, g, request
from sqlalchemy import update
from werkzeug.exceptions import ClientDisconnected

from server import audit
from server.api.blueprint import api_bp
from server.auth import actor_name
from server.errors import ApiError
from server.extensions import db
from server.models import Project, Upload, as_utc, utcnow
from server.permissions import require_project, require_user

TUS_VERSION = "1.0.0"
CHUNK = 1024 * 1024
FREE_SPACE_MARGIN = 256 * 1024 * 1024  # never fill the disk the database lives on


def upload_dir() -> str:
    path = os.path.join(current_app.config["DATA_DIR"], "uploads")
    os.makedirs(path, exist_ok=True)
    return path


def upload_path(upload_id: str) -> str:
    return os.path.join(upload_dir(), f"{upload_id}.part")


def _tus_headers(resp_headers: dict | None = None) -> dict:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **(resp_headers or {})}


def _require_tus() -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise ApiError(412, f"this server speaks tus {TUS_VERSION}; send the header Tus-Resumable: {TUS_VERSION}",
                       headers={"Tus-Version": TUS_VERSION})


def _metadata(raw: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated "key base64value" pairs."""
    out = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(400, f"Upload-Metadata value of {key[:40]!r} is not base64-encoded UTF-8") from None
    return out


def _mine(upload_id: str) -> Upload:
    require_user()
    upload = db.session.get(Upload, upload_id) if len(upload_id) <= 32 else None
    if upload is None or upload.user_id != g.user.id:
        raise ApiError(404, "upload not found (it may have expired)", headers=_tus_headers())
    if upload.status == "open" and as_utc(upload.expires_at) < utcnow():
        raise ApiError(410, "this upload expired; start it again", headers=_tus_headers())
    return upload


@api_bp.route("/uploads", methods=["OPTIONS"])
@api_bp.doc(summary="tus discovery: version, extensions, maximum size")
def uploads_options():
    max_size = int(current_app.config["MAX_MEDIA_GB"] * 1024 ** 3)
    return "", 204, _tus_headers({"Tus-Version": TUS_VERSION, "Tus-Extension": "creation,termination,expiration",
                                  "Tus-Max-Size": str(max_size)})


@api_bp.post("/uploads")
@api_bp.doc(summary="tus creation: Upload-Length and Upload-Metadata (filename, filetype, project) → Location")
def create_upload():
    _require_tus()
    meta = _metadata(request.headers.get("Upload-Metadata", ""))
    try:
        project_id = int(meta.get("project") or request.args.get("project", ""))
    except ValueError:
        raise ApiError(400, "name the project in Upload-Metadata ('project') or ?project=") from None
    project, _ = require_project(project_id, "items.upload")
    try:
        length = int(request.headers.get("Upload-Length", ""))
    except ValueError:
        raise ApiError(400, "Upload-Length must be the upload's size in bytes (deferred lengths are not supported)") \
            from None
    limit = int(current_app.config["MAX_MEDIA_GB"] * 1024 ** 3)
    if length < 0:
        raise ApiError(400, "Upload-Length cannot be negative")
    if length > limit:
        raise ApiError(413, f"the upload is {length} bytes; the limit is {limit} (CLINLABEL_MAX_MEDIA_GB)")
    free = shutil.disk_usage(upload_dir()).free
    if length + FREE_SPACE_MARGIN > free:
        raise ApiError(507, f"not enough disk space for {length} bytes; free space is {free} bytes")
    upload = Upload(id=secrets.token_hex(16), project_id=project.id, user_id=g.user.id, length=length,
                    filename=(meta.get("filename") or "")[:255], filetype=(meta.get("filetype") or "")[:100],
                    expires_at=utcnow() + timedelta(hours=current_app.config["UPLOAD_EXPIRY_HOURS"]))
    open(upload_path(upload.id), "wb").close()
    db.session.add(upload)
    audit.record(db.session, actor=actor_name(), action="upload.create", object_type="upload", object_id=upload.id,
                 project_id=project.id, details={"length": length})
    db.session.commit()
    return "", 201, _tus_headers({"Location": f"/api/v1/uploads/{upload.id}", "Upload-Offset": "0",
                                  "Upload-Expires": upload.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")})


@api_bp.route("/uploads/<string:upload_id>", methods=["HEAD"])
@api_bp.doc(summary="tus: how many bytes the server has (resume from there)")
def head_upload(upload_id):
    upload = _mine(upload_id)
    return "", 200, _tus_headers({"Upload-Offset": str(upload.offset), "Upload-Length": str(upload.length)})


@api_bp.patch("/uploads/<string:upload_id>")
@api_bp.doc(summary="tus: append bytes at Upload-Offset (Content-Type: application/offset+octet-stream)")
def patch_upload(upload_id):
    require_user()
    _require_tus()
    if request.mimetype != "application/offset+octet-stream":
        raise ApiError(415, "send the bytes as Content-Type: application/offset+octet-stream",
                       headers=_tus_headers())
    upload = _mine(upload_id)
    try:
        sent_offset = int(request.headers.get("Upload-Offset", ""))
    except ValueError:
        raise ApiError(400, "Upload-Offset must be a byte offset", headers=_tus_headers()) from None
    if upload.status != "open":
        raise ApiError(409, f"this upload is {upload.status}; nothing more can be appended", headers=_tus_headers())
    if sent_offset != upload.offset:
        raise ApiError(409, f"Upload-Offset is {sent_offset} but the server has {upload.offset} bytes; resume from "
                            f"{upload.offset} (HEAD tells)", headers=_tus_headers({"Upload-Offset": str(upload.offset)}))
    start, length, path = upload.offset, upload.length, upload_path(upload.id)
    db.session.commit()  # no transaction stays open while bytes stream in
    written = _append(path, start, length)
    done = db.session.execute(update(Upload).where(Upload.id == upload_id, Upload.offset == start).values(
        offset=start + written, status="complete" if start + written == length else "open"))
    if done.rowcount != 1:
        db.session.rollback()
        raise ApiError(409, "another request appended to this upload at the same time; HEAD and resume",
                       headers=_tus_headers())
    db.session.commit()
    return "", 204, _tus_headers({"Upload-Offset": str(start + written)})


def _append(path: str, start: int, length: int) -> int:
    """Stream the request body to the file at `start`; bytes that arrived before a dropped connection count."""
    written = 0
    with open(path, "r+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ApiError(423, "another request is appending to this upload; retry after it ends",
                           headers=_tus_headers()) from None
        fh.truncate(start)  # bytes past the recorded offset came from an interrupted request: resume cleanly
        fh.seek(start)
        try:
            while True:
                chunk = request.stream.read(CHUNK)
                if not chunk:
                    break
                if start + written + len(chunk) > length:
                    raise ApiError(413, f"more bytes than the declared Upload-Length ({length})",
                                   headers=_tus_headers())
                fh.write(chunk)
                written += len(chunk)
        except ClientDisconnected:
            pass  # the client went away mid-chunk: keep what arrived; it resumes from the offset HEAD reports
        except OSError as exc:
            if getattr(exc, "errno", None) == 28:  # ENOSPC
                fh.truncate(start)
                raise ApiError(507, "the disk is full; nothing of this chunk was kept",
                               headers=_tus_headers()) from None
            # the client went away mid-chunk: keep what arrived, the client resumes from the offset HEAD reports
        fh.flush()
        os.fsync(fh.fileno())
    return written


@api_bp.delete("/uploads/<string:upload_id>")
@api_bp.doc(summary="tus termination: abandon an upload and free its space")
def delete_upload(upload_id):
    require_user()
    _require_tus()
    upload = _mine(upload_id)
    remove_upload(upload)
    db.session.commit()
    return "", 204, _tus_headers()


def remove_upload(upload: Upload) -> None:
    try:
        os.unlink(upload_path(upload.id))
    except FileNotFoundError:
        pass
    db.session.delete(upload)


def sweep_expired(now=None) -> int:
    """Remove abandoned uploads (rows and files) and stray partial files; run by the worker's housekeeping."""
    now = now or utcnow()
    expired = db.session.query(Upload).filter(Upload.status.notin_(("consumed", "importing")),
                                              Upload.expires_at < now).limit(500).all()
    for upload in expired:
        remove_upload(upload)
    db.session.commit()
    known = {u for (u,) in db.session.query(Upload.id)}
    for name in os.listdir(upload_dir()):
        if name.endswith(".part") and name[:-5] not in known:
            os.unlink(os.path.join(upload_dir(), name))
    return len(expired)


def project_of(upload: Upload) -> Project:
    return db.session.get(Project, upload.project_id)
