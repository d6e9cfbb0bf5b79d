"""Server-side import ("connected storage"): a site admin names folders the server may read
(CLINLABEL_IMPORT_ROOTS, e.g. a NAS mount); a manager imports a folder or glob under one of them as a queued job.
Files are copied into content-addressed storage; every resolved path (symlinks included) must stay inside its
root; a rerun skips files already imported into the project (by content hash). With `mode: "reference"` media
files are not copied: the item keeps the file's path under the root (and its hash), for archives too big to
duplicate; the file must then stay where it is."""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from annotators.base import ItemInput, registry
from server.extensions import db
from server.ingest import file_stem, ingest_batch
from server.jobs.kinds import JobFailed, job_kind
from server.models import Item, Project

# Files per batch (one transaction each): at most BATCH files and about BATCH_BYTES of them, so what the worker
# holds in memory is bounded, and a batch's fixed costs (commit, progress, label mapping) are spread thin.
BATCH = 500
BATCH_BYTES = 32 * 1024 * 1024
MAX_FILES = 100_000
PROGRESS_EVERY_S = 0.5


def import_roots() -> dict[str, Path]:
    """name -> resolved folder, from CLINLABEL_IMPORT_ROOTS ("name=/path,other=/path" or plain paths)."""
    roots = {}
    for entry in filter(None, (e.strip() for e in current_app.config.get("IMPORT_ROOTS", "").split(","))):
        name, _, path = entry.partition("=") if "=" in entry else (os.path.basename(entry.rstrip("/")), "", entry)
        roots[name.strip()] = Path(path.strip()).resolve()
    return roots


def check_request(root: str, pattern: str) -> tuple[Path, str]:
    roots = import_roots()
    if root not in roots:
        available = ", ".join(sorted(roots)) or "none (the site admin sets CLINLABEL_IMPORT_ROOTS)"
        raise ValueError(f"unknown import root {root!r}; available: {available}")
    if not pattern or pattern.startswith("/") or ".." in Path(pattern).parts:
        raise ValueError("the glob must be relative to the root and may not contain '..'")
    return roots[root], pattern


def _candidates(root: Path, pattern: str) -> list[tuple[str, os.stat_result]]:
    """The files and symlinks matching the glob, in path order, each with its lstat (one system call per file;
    folders and other non-files are left out); at most MAX_FILES + 1 of them."""
    out = []
    # Sorted part by part, as pathlib sorts paths: with "/" as NUL (which no path holds, and which sorts before
    # every other character) plain string order is that order, without a list per path (10,000 paths: 13 -> 2 ms).
    for path in sorted((str(p) for p in root.glob(pattern)), key=lambda p: p.replace("/", "\0")):
        try:
            info = os.lstat(path)
        except OSError:  # gone since the glob listed it
            continue
        if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
            out.append((path, info))
            if len(out) > MAX_FILES:
                break
    return out


def _resolve(path: str, info: os.stat_result, prefix: str, folders: dict) -> tuple[str | None, int | None]:
    """(resolved path, size) of a candidate; (None, None) when it resolves outside the root, (path, None) when it
    is not a regular file. A regular file's resolved path is its folder's (resolved once per folder) plus its
    name, and its size is the lstat's; only symlinks are resolved and stat'ed one by one."""
    if stat.S_ISREG(info.st_mode):
        folder, name = os.path.split(path)
        if folder not in folders:
            real = os.path.realpath(folder)
            folders[folder] = real if (real + "/").startswith(prefix) else None
        if folders[folder] is None:
            return None, None
        return os.path.join(folders[folder], name), info.st_size
    resolved = os.path.realpath(path)
    if not resolved.startswith(prefix):
        return None, None
    try:
        target = os.stat(resolved)
    except OSError:
        return resolved, None
    return resolved, (target.st_size if stat.S_ISREG(target.st_mode) else None)


@job_kind("server_import")
def server_import_job(ctx) -> dict:
    project = db.session.get(Project, ctx.job.project_id)
    if project is None:
        raise JobFailed("the project of this import no longer exists")
    modality = registry.get(project.modality)
    stem_of = getattr(modality, "sidecar_stem", None) or file_stem  # as ingest pairs sidecars with their media
    try:
        root, pattern = check_request(ctx.job.params.get("root", ""), ctx.job.params.get("glob", ""))
    except ValueError as exc:
        raise JobFailed(str(exc)) from None
    # A re-run after a transient conflict resumes after the last committed batch, over the same listing, with that
    # batch's tallies: files an earlier run of this job stored count as imported, not as "already imported".
    state = ctx.state.setdefault("server_import", {"next": 0, "imported": 0, "lists": ([], [], [], []),
                                                    "lengths": (0, 0, 0, 0)})
    candidates = state.get("candidates") or _candidates(root, pattern)
    state["candidates"] = candidates
    if len(candidates) > MAX_FILES:
        raise JobFailed(f"more than {MAX_FILES} files match; import a narrower glob")
    reference = ctx.job.params.get("mode") == "reference"
    known = set(db.session.execute(select(Item.content_hash).where(Item.project_id == project.id)).scalars())
    db.session.commit()
    for kept, length in zip(state["lists"], state["lengths"]):
        del kept[length:]
    skipped, failed, prepared, reports = state["lists"]
    imported, batch, batch_bytes = state["imported"], [], 0
    plan = ctx.job.params.get("label_plan") or {"unknown": "drop"}

    def flush(upto: int):
        nonlocal imported, batch_bytes
        if batch:
            inputs = [b[1] for b in batch]
            created, errors = ingest_batch(project, modality, inputs, skip_hashes=known, skipped=skipped,
                                           reference=reference, label_plan=plan, label_reports=reports,
                                           may_add_labels=bool(ctx.job.params.get("may_add_labels")))
            db.session.commit()
            prepared.extend(i for i in created if i.status == "processing")
            imported += len(created)
            failed.extend({"file": batch[e["index"]][0], "error": e["error"]} for e in errors
                          if e["index"] is not None)
            failed.extend({"file": "", "error": e["error"]} for e in errors if e["index"] is None)
            batch.clear()
            batch_bytes = 0
        state.update(next=upto, imported=imported, lengths=tuple(len(kept) for kept in state["lists"]))

    reported = time.monotonic()
    prefix = str(root).rstrip("/") + "/"
    folders: dict[str, str | None] = {}  # folder -> its resolved path when that lies inside the root, else None
    for done, (path, info) in enumerate(candidates[state["next"]:], state["next"] + 1):
        relative = path[len(prefix):] if path.startswith(prefix) else os.path.basename(path)
        resolved, size = _resolve(path, info, prefix, folders)
        if resolved is None:
            failed.append({"file": relative, "error": "resolves outside the import root (symlink); not imported"})
        elif size is None:
            failed.append({"file": relative, "error": "not a regular file"})
        else:
            name = os.path.basename(resolved)
            # A batch never separates files of the same base name (a recording and its transcript sidecar).
            if (len(batch) >= BATCH or batch_bytes >= BATCH_BYTES) and stem_of(batch[-1][1].name) != stem_of(name):
                flush(done - 1)  # the files before this one
            batch.append((relative, ItemInput(name=name, path=resolved, size=size)))
            batch_bytes += size
        # Progress renews the job's lease and notices a cancel: every BATCH files, but not more than twice a second
        # (each report is three short transactions of its own).
        if done % BATCH == 0 and time.monotonic() - reported >= PROGRESS_EVERY_S:
            ctx.progress(done, len(candidates))
            reported = time.monotonic()
    flush(len(candidates))
    if prepared:
        from server.derive import start_derive

        start_derive(project, prepared, "system:server_import")
    return {"mode": "reference" if reference else "copy", "root": ctx.job.params["root"], "glob": pattern, "matched": len(candidates), "imported": imported,
            "skipped_already_imported": len(skipped), "failed": failed[:200], "failed_count": len(failed),
            "labels": _merged(reports)}


def _merged(reports: list[dict]) -> dict | None:
    from server.import_labels import merge_reports

    total = None
    for report in reports:
        total = merge_reports(total, report)
    return total
