"""OntologyStore: the on-disk cache of built indexes, one active build per terminology, and the search API.

Layout under cache_dir:
    <terminology>/active.json          {"build": "<build dir>", "version": ...}, replaced atomically
    <terminology>/<version>-<id>/      meta.json, strings.json, attributes.json, arrays.npz
A new build is written to a temporary directory, renamed into place and only then made active, so a failed or
interrupted build never disturbs the version in use. The previous build is kept (another process may still be
reading its attributes lazily); older ones are deleted.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import threading
import time
import uuid
from typing import Callable, Iterable

from .index import INDEX_FORMAT, ConceptIndex
from .loaders import SHIPPED_VERSIONS, load_terminology
from .model import Terminology
from .search import run_search

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ACTIVE_FILE = "active.json"
# How often (seconds) to look for builds made by other processes.
REFRESH_INTERVAL = 1.0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:40] or "v"


class OntologyStore:
    def __init__(self, cache_dir: str):
        self.cache_dir = os.path.abspath(cache_dir)
        os.makedirs(self.cache_dir, exist_ok=True)
        self._indexes: dict[str, tuple[str, ConceptIndex]] = {}
        self._lock = threading.RLock()  # guards the loaded indexes
        self._writer = threading.RLock()  # with the file lock, serialises builds (see _build_lock)
        self._writer_depth = 0
        self._checked_at = 0.0

    # ----- catalogue ------------------------------------------------------------------------------------------
    def _active(self, name: str) -> dict | None:
        try:
            with open(os.path.join(self.cache_dir, name, ACTIVE_FILE), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def names(self) -> list[str]:
        """Terminologies with an active build."""
        try:
            entries = sorted(os.listdir(self.cache_dir))
        except OSError:
            return []
        return [entry for entry in entries if _NAME.match(entry) and self._active(entry)]

    def build_id(self, name: str) -> str | None:
        """The active build of a terminology (changes with every rebuild, even of the same version)."""
        return (self._active(name) or {}).get("build") if _NAME.match(name or "") else None

    def build_ids(self) -> tuple:
        """(name, build) of every active terminology: a key part for anything made from the store's contents."""
        return tuple((name, self.build_id(name)) for name in self.names())

    def available(self) -> list[dict]:
        """One entry per active terminology: name, version, licence, source, concept and name counts."""
        result = []
        for name in self.names():
            active = self._active(name)
            try:
                with open(os.path.join(self.cache_dir, name, active["build"], "meta.json"), encoding="utf-8") as fh:
                    meta = json.load(fh)
            except (OSError, ValueError, KeyError):
                continue
            result.append({"name": meta["name"], "version": meta["version"], "licence": meta["licence"],
                           "source": meta["source"], "concept_count": meta["concept_count"],
                           "name_count": meta["name_count"], "shipped": name in SHIPPED_VERSIONS,
                           "warnings": meta.get("warnings", [])})
        return result

    # ----- building -------------------------------------------------------------------------------------------
    def add(self, terminology: Terminology) -> dict:
        """Builds and activates an index for `terminology`; the previously active version stays in use until the
        new one is completely on disk."""
        name = terminology.name
        if not _NAME.match(name or ""):
            raise ValueError("terminology names use letters, digits, '_', '.', '-' (at most 64 characters)")
        index = ConceptIndex.build(terminology)
        home = os.path.join(self.cache_dir, name)
        os.makedirs(home, exist_ok=True)
        # Writing, activating and pruning happen under the cache lock, so that no process prunes a build that
        # another one has written but not yet activated. Building the index (the slow part) stays outside it.
        with self._build_lock():
            build = f"{_slug(terminology.version)}-{uuid.uuid4().hex[:8]}"
            staging = os.path.join(home, f".tmp-{build}")
            try:
                index.save(staging)
                os.rename(staging, os.path.join(home, build))
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            previous = (self._active(name) or {}).get("build")
            pointer = os.path.join(home, f".{ACTIVE_FILE}.{build}")
            with open(pointer, "w", encoding="utf-8") as handle:
                json.dump({"build": build, "version": terminology.version, "format": index.meta["format"]}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(pointer, os.path.join(home, ACTIVE_FILE))
            self._remove_old_builds(home, keep={build, previous})
        with self._lock:
            self._indexes.pop(name, None)
        return next(entry for entry in self.available() if entry["name"] == name)

    def import_files(self, fmt: str, paths, name: str | None = None, version: str | None = None,
                     progress: Callable[[int], None] | None = None, **options) -> dict:
        """load_terminology + add: raises OntologyLoadError (previous version untouched) on any bad input."""
        return self.add(load_terminology(fmt, paths, name=name, version=version, progress=progress, **options))

    def remove(self, name: str) -> None:
        if not _NAME.match(name or ""):
            raise ValueError("invalid terminology name")
        with self._lock:
            self._indexes.pop(name, None)
        shutil.rmtree(os.path.join(self.cache_dir, name), ignore_errors=True)

    def ensure_shipped(self, names: Iterable[str] | None = None,
                       progress: Callable[[str, int], None] | None = None) -> list[str]:
        """Builds the shipped terminologies whose installed data version has no active build; returns those built.
        A file lock keeps several server processes from building the same index at once."""
        wanted = list(names) if names is not None else list(SHIPPED_VERSIONS)
        built = []
        with self._build_lock():
            for name in wanted:
                if name not in SHIPPED_VERSIONS:
                    raise ValueError(f"{name!r} is not a shipped terminology")
                version = SHIPPED_VERSIONS[name]()
                active = self._active(name) or {}
                if active.get("version") == version and self._build_is_current(name, active):
                    continue
                callback = (lambda pct, _name=name: progress(_name, pct)) if progress else None
                self.add(load_terminology(name, None, version=version, progress=callback))
                built.append(name)
        return built

    def _build_is_current(self, name: str, active: dict) -> bool:
        meta_path = os.path.join(self.cache_dir, name, active.get("build", ""), "meta.json")
        return active.get("format") == INDEX_FORMAT and os.path.isfile(meta_path)

    @contextlib.contextmanager
    def _build_lock(self):
        """Exclusive across processes (flock) and threads; re-entrant within a thread (ensure_shipped -> add)."""
        with self._writer:
            self._writer_depth += 1
            try:
                if self._writer_depth > 1:
                    yield
                    return
                with open(os.path.join(self.cache_dir, ".build.lock"), "w") as handle:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                    try:
                        yield
                    finally:
                        fcntl.flock(handle, fcntl.LOCK_UN)
            finally:
                self._writer_depth -= 1

    @staticmethod
    def _remove_old_builds(home: str, keep: set) -> None:
        for entry in os.listdir(home):
            path = os.path.join(home, entry)
            if entry not in keep and os.path.isdir(path) and not entry.startswith(".tmp-"):
                shutil.rmtree(path, ignore_errors=True)

    # ----- loaded indexes -------------------------------------------------------------------------------------
    def index(self, name: str) -> ConceptIndex:
        """The active index of a terminology, loaded once and reloaded when another process activates a build."""
        with self._lock:
            now = time.monotonic()
            if now - self._checked_at > REFRESH_INTERVAL:
                self._checked_at = now
                for loaded, (build, _) in list(self._indexes.items()):
                    if (self._active(loaded) or {}).get("build") != build:
                        del self._indexes[loaded]
            cached = self._indexes.get(name)
            if cached is not None:
                return cached[1]
            active = self._active(name) if _NAME.match(name or "") else None
            if active is None:
                raise KeyError(f"unknown terminology {name!r}")
            index = ConceptIndex.load(os.path.join(self.cache_dir, name, active["build"]))
            self._indexes[name] = (active["build"], index)
            return index

    def load_all(self, names: Iterable[str] | None = None) -> list[ConceptIndex]:
        return [self.index(name) for name in (list(names) if names is not None else self.names())]

    # ----- queries --------------------------------------------------------------------------------------------
    def search(self, q: str, terminologies: Iterable[str] | None = None, limit: int = 10,
               billable_only: bool = False, semantic_type: str | None = None,
               aliases: dict | None = None) -> list[dict]:
        """Ranked concepts for a query: [{terminology, code, name, matched, score, billable, path}, ...].
        Raises QueryError for an empty or over-long query and KeyError for an unknown terminology."""
        return run_search(self.load_all(terminologies), q, limit=limit, billable_only=billable_only,
                          semantic_type=semantic_type, aliases=aliases)

    def candidates(self, mention: str, terminologies: Iterable[str] | None = None, k: int = 5,
                   aliases: dict | None = None) -> list[dict]:
        """Entity-linking candidates for a mention: the search without display paths and with a smaller pool."""
        return run_search(self.load_all(terminologies), mention, limit=k, aliases=aliases, with_path=False,
                          pool=12, prefix_pool=0)

    def concept(self, terminology: str, code: str) -> dict | None:
        """A concept with its synonyms, attributes, parents, children, ancestors and display path."""
        index = self.index(terminology)
        position = index.find_code(code)
        if position is None:
            return None

        def brief(items: list[int]) -> list[dict]:
            return [{"code": index.codes[i], "name": index.concept_name(i)} for i in items]

        return {"terminology": index.name, "version": index.version, "code": index.codes[position],
                "name": index.concept_name(position), "synonyms": index.concept_synonyms(position),
                "billable": index.is_billable(position), "semantic_types": index.semantic_types(position),
                "attributes": index.attributes()[position], "parents": brief(index.parents(position)),
                "children": brief(index.children(position)), "ancestors": brief(index.ancestors(position)),
                "path": brief(index.path(position))}
