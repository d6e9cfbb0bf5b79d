"""Errors raised by the ontologies package.

Messages name files by basename only (never a full path, which can reveal a user's home directory or a mount layout)
and never quote row content beyond identifiers, since user-supplied files may be licensed material.
"""
from __future__ import annotations

import os


class OntologyLoadError(ValueError):
    """A terminology file could not be loaded; nothing was kept from the failed load."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file = os.path.basename(file) if file else None
        self.line = line
        where = ""
        if self.file and line:
            where = f"{self.file} line {line}: "
        elif self.file:
            where = f"{self.file}: "
        super().__init__(where + message)


class QueryError(ValueError):
    """A search query is unusable (empty or too long)."""
