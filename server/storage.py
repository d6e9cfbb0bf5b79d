"""Content-addressed media storage: files live under their SHA-256, written temp-then-rename."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")


class MediaStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def put(self, data: bytes) -> tuple[str, str, bool]:
        """Store bytes; returns (sha256, storage key, newly written). Storing the same bytes twice writes once."""
        digest = hashlib.sha256(data).hexdigest()
        key = f"{digest[:2]}/{digest[2:4]}/{digest}"
        target = self.root / key
        created = not target.exists()
        if created:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        return digest, key, created

    def put_file(self, source: str | os.PathLike) -> tuple[str, str, bool, int]:
        """Store a file's bytes, hashing while copying (never read whole into memory); returns (sha256, storage
        key, newly written, size). The source is left in place."""
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=incoming, prefix=".incoming-")
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                while chunk := src.read(1024 * 1024):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            hexdigest = digest.hexdigest()
            key = f"{hexdigest[:2]}/{hexdigest[2:4]}/{hexdigest}"
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
        if not _KEY.match(key or ""):
            raise ValueError("invalid storage key")
        return self.root / key

    def remove_unreferenced(self, key: str) -> None:
        """Undo a put whose database transaction failed (no orphan files)."""
        try:
            self.path(key).unlink()
        except (FileNotFoundError, ValueError):
            pass
