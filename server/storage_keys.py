"""Storage keys and hashing shared by the storage backends (a leaf module)."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile

_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")
_EXPORT = re.compile(r"^export-\d+\.[A-Za-z0-9.]{1,16}$")
CHUNK = 1024 * 1024


def content_key(digest: str) -> str:
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


def hash_file(path: str | os.PathLike) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_key(key: str) -> str:
    if not _KEY.match(key or ""):
        raise ValueError("invalid storage key")
    return key


def put_bytes(store, data: bytes) -> tuple[str, str, bool]:
    """Small in-process content (demos, tests) goes through the backend's streaming `put_file`."""
    fd, tmp = tempfile.mkstemp(prefix=".incoming-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        digest, key, created, _ = store.put_file(tmp)
    finally:
        os.unlink(tmp)
    return digest, key, created
