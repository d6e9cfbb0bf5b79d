"""Server-side import ("connected storage"): a site admin names folders the server may read
(CLINLABEL_IMPORT_ROOTS, e.g. a NAS mount); a manager imports a folder or glob under one of them as a queued job.
Files are copied into content-addressed storage; every resolved path (symlinks included) must stay inside its
root; a rerun skips files already imported into the project (by content hash). With `mode: "reference"` media
files are not copied: the item keeps the file's path under the root (and its hash), for archives too big to
duplicate; the file must then stay where it is."""
from __future__ import annotations

import os
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from annotators.base import ItemInput, registry
from server.extensions import db
from server.ingest import file_stem, ingest_batch
from server.jobs.kinds import JobFailed, job_kind
from server.models import Item, Project

BATCH = 50
MAX_FILES = 100_000


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


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


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
    candidates = sorted(p for p in root.glob(pattern) if p.is_file() or p.is_symlink())[: MAX_FILES + 1]
    if len(candidates) > MAX_FILES:
        raise JobFailed(f"more than {MAX_FILES} files match; import a narrower glob")
    reference = ctx.job.params.get("mode") == "reference"
    known = set(db.session.execute(select(Item.content_hash).where(Item.project_id == project.id)).scalars())
    db.session.commit()
    prepared = []
    imported, skipped, failed, batch = 0, [], [], []
    plan, reports = ctx.job.params.get("label_plan") or {"unknown": "drop"}, []

    def flush():
        nonlocal imported
        if not batch:
            return
        inputs = [b[1] for b in batch]
        created, errors = ingest_batch(project, modality, inputs, skip_hashes=known, skipped=skipped,
                                       reference=reference, label_plan=plan, label_reports=reports,
                                       may_add_labels=bool(ctx.job.params.get("may_add_labels")))
        db.session.commit()
        prepared.extend(i for i in created if i.status == "processing")
        imported += len(created)
        failed.extend({"file": batch[e["index"]][0], "error": e["error"]} for e in errors if e["index"] is not None)
        failed.extend({"file": "", "error": e["error"]} for e in errors if e["index"] is None)
        batch.clear()

    for done, path in enumerate(candidates, 1):
        relative = str(path.relative_to(root)) if _inside(path, root) else path.name
        resolved = path.resolve()
        if not _inside(resolved, root):
            failed.append({"file": relative, "error": "resolves outside the import root (symlink); not imported"})
        elif not resolved.is_file():
            failed.append({"file": relative, "error": "not a regular file"})
        else:
            # A batch never separates files of the same base name (a recording and its transcript sidecar).
            if len(batch) >= BATCH and stem_of(batch[-1][1].name) != stem_of(resolved.name):
                flush()
            batch.append((relative, ItemInput(name=resolved.name, path=str(resolved), size=resolved.stat().st_size)))
        if done % BATCH == 0:
            ctx.progress(done, len(candidates))
    flush()
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
