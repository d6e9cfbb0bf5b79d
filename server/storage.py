"""Content-addressed media storage: files live under their SHA-256.

Two backends with one interface: a folder (default; written temp-then-rename) and an S3-compatible bucket
(`CLINLABEL_MEDIA_URL=s3://bucket/prefix`), so web and workers on different machines share nothing but the
database, the broker and the bucket. Media, derived assets and exports all go through it. Workers read media as
local files (`local_path`): on S3 that is a per-machine cache filled on first use, verified by hash.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from flask import send_file

from server.storage_keys import CHUNK, _EXPORT, check_key, content_key, put_bytes


class MediaStore:
    """The filesystem backend (one folder; a shared NFS mount works too)."""

    kind = "filesystem"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def put(self, data: bytes) -> tuple[str, str, bool]:
        """Store bytes; returns (sha256, storage key, newly written). Storing the same bytes twice writes once."""
        return put_bytes(self, data)

    def put_file(self, source: str | os.PathLike) -> tuple[str, str, bool, int]:
        """Store a file's bytes, hashing while copying (never read whole into memory); returns (sha256, storage
        key, newly written, size). The source is left in place."""
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=incoming, prefix=".incoming-")
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            hexdigest = digest.hexdigest()
            key = content_key(hexdigest)
            target = self.root / key
            created = not target.exists()
            if created:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            return hexdigest, key, created, size
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def local_path(self, key: str) -> Path:
        return self.path(key)

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def send(self, key: str, mimetype: str, etag: str):
        """A response streaming the object with HTTP Range support."""
        return send_file(self.path(key), mimetype=mimetype, conditional=True, etag=etag, max_age=0)

    def remove_unreferenced(self, key: str) -> None:
        """Undo a put whose database transaction failed (no orphan files)."""
        try:
            self.path(key).unlink()
        except (FileNotFoundError, ValueError):
            pass

    # -- exports: named files, not content-addressed ----------------------------------------------------------
    def export_dir(self, config: dict) -> str:
        os.makedirs(config["EXPORT_DIR"], exist_ok=True)
        return config["EXPORT_DIR"]

    def save_export(self, config: dict, tmp_path: str, name: str) -> None:
        os.replace(tmp_path, os.path.join(self.export_dir(config), name))

    def send_export(self, config: dict, name: str, mimetype: str, download_name: str):
        path = os.path.join(config["EXPORT_DIR"], name)
        if not _EXPORT.match(name) or not os.path.exists(path):
            return None
        return send_file(path, mimetype=mimetype, as_attachment=True, download_name=download_name)


def create_store(config: dict):
    url = config.get("MEDIA_URL") or ""
    if url.startswith("s3://"):
        from server.storage_s3 import S3MediaStore

        return S3MediaStore(url, config)
    if url:
        raise SystemExit(f"CLINLABEL_MEDIA_URL must be empty (local folder) or s3://bucket/prefix, got {url!r}")
    return MediaStore(config["MEDIA_DIR"])
