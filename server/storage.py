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
