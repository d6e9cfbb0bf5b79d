"""Preparing media items: the sandboxed probe, then the modality's derivatives, stored as item assets.

An item with media whose modality probes media or declares derivatives is created "processing"; a `derive` job
(queued after the upload) measures it in a child process (server/sandbox.py), lets the modality refuse what it
cannot use (`check_media`), builds each derivative (sandboxed unless the derivative says otherwise) and stores the
files content-addressed as `Asset` rows. The item then becomes "ready" (and is pre-annotated when the project asks
for it), or "invalid" with a reason a person can act on. A crash or hang of the decoder never reaches the worker.
Re-running the job is safe: assets already built by the same producer version are kept.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile

from flask import current_app
from sqlalchemy import select, update

from annotators.base import ItemRejected, registry
from annotators.media import MediaInfo
from server import sandbox
from server.extensions import db
from server.item_views import item_view
from server.jobs.kinds import JobFailed, job_kind
from server.models import Asset, Item, Project

log = logging.getLogger("clinlabel.derive")


def start_derive(project, items, actor: str):
    """Queue the preparation of the items that need it (status "processing"); returns the job or None."""
    ids = [i.id for i in items if i.status == "processing"]
    if not ids:
        return None
    from server.jobs.queue import start_job

    return start_job(project, "derive", {"items": ids}, actor)


def _wants_gpu(project) -> bool:
    return any(d.queue == "gpu" for d in registry.get(project.modality).derivatives())


def _limits(config: dict, info: MediaInfo | None, timeout_s: int | None) -> dict:
    seconds = (info.duration_ms / 1000) if info else 0
    wall = timeout_s or int(max(int(config["SANDBOX_DERIVE_MIN_WALL_S"]), seconds * 2))  # a proxy encode may run at ~1x real time on a slow file
    return {"memory_mb": int(config["SANDBOX_MEMORY_MB"]), "cpu_s": max(int(config["SANDBOX_DERIVE_CPU_S"]), wall),
            "wall_s": wall}


def _view_dict(view) -> dict:
    return {"id": view.id, "kind": view.kind, "text": view.text, "meta": view.meta, "media_path": view.media_path,
            "media": view.media.to_dict() if view.media else None, "assets": view.assets}


def _build(derivative, view, out_dir: str, config: dict) -> dict:
    if derivative.sandboxed:
        target = f"{derivative.make.__module__}:{derivative.make.__qualname__}"
        if "<locals>" in target:
            raise JobFailed(f"derivative {derivative.name!r} must be a module-level function to run sandboxed")
        extra = [derivative.options] if derivative.options is not None else []
        result = sandbox.run("annotators.sandbox_child:call_derivative", [target, _view_dict(view), out_dir, *extra],
                             **_limits(config, view.media, derivative.timeout_s))
    else:
        result = derivative.make(view, out_dir, *([derivative.options] if derivative.options is not None else []))
    if isinstance(result, str):
        result = {"file": result}
    name = os.path.basename(str(result.get("file") or ""))
    path = os.path.join(out_dir, name)
    if not name or not os.path.isfile(path):
        raise sandbox.SandboxError(f"derivative {derivative.name!r} produced no file")
    return {"path": path, "media_type": result.get("media_type") or derivative.media_type,
            "meta": result.get("meta") or {}}


def prepare_item(item: Item, modality, label_config: dict, config: dict) -> tuple[str, str | None, float]:
    """Probe and derive one item: ("ready", None, media seconds) or ("invalid", reason, media seconds). Writes
    media_info and assets."""
    store = current_app.extensions["media"]
    existing = {a.name: a for a in db.session.execute(select(Asset).where(Asset.item_id == item.id)).scalars()}
    view = item_view(item, local_media=True, assets=list(existing.values()))
    db.session.commit()  # no transaction stays open while a child decodes
    if not view.media_path or not os.path.exists(view.media_path):
        return "invalid", "the media file is missing from storage", 0.0
    info = None
    try:
        info = MediaInfo.from_dict(sandbox.probe(view.media_path, config)) if modality.probe_media else None
        if info is not None:
            modality.check_media(info, label_config)
            view.media = info
            db.session.execute(update(Item).where(Item.id == item.id).values(media_info=info.to_dict()))
            db.session.commit()
        for derivative in modality.project_derivatives(label_config):
            if derivative.when is not None and not derivative.when(info):
                continue
            producer = f"{modality.name}/{derivative.name}@{derivative.version}"
            if derivative.name in existing and existing[derivative.name].producer == producer:
                continue
            out_dir = tempfile.mkdtemp(prefix="derive-", dir=_work_dir(config))
            try:
                built = _build(derivative, view, out_dir, config)
                digest, key, _, size = store.put_file(built["path"])
            finally:
                shutil.rmtree(out_dir, ignore_errors=True)
            _save_asset(item.id, derivative.name, built, digest, key, size, producer, existing.get(derivative.name))
            view.assets[derivative.name] = str(store.local_path(key))
    except (sandbox.SandboxError, ItemRejected) as exc:
        return "invalid", str(exc)[:500], (info.duration_ms / 1000 if info else 0.0)
    return "ready", None, (info.duration_ms / 1000 if info else 0.0)


def _work_dir(config: dict) -> str:
    folder = os.path.join(config["DATA_DIR"], "derive")
    os.makedirs(folder, exist_ok=True)
    return folder


def _save_asset(item_id, name, built, digest, key, size, producer, previous) -> None:
    if previous is not None:  # an asset of an older producer version is replaced
        db.session.delete(previous)
        db.session.flush()
    db.session.add(Asset(item_id=item_id, name=name, media_type=built["media_type"], size=size,
                         content_hash=digest, storage_key=key, producer=producer, meta=built["meta"]))
    db.session.commit()


@job_kind("derive", wants_gpu=_wants_gpu)
def derive_job(ctx) -> dict:
    project = db.session.get(Project, ctx.job.project_id)
    if project is None:
        raise JobFailed("the project of this job no longer exists")
    modality = registry.get(project.modality)
    label_config, config = project.label_config, current_app.config
    ids = [i for i in ctx.job.params.get("items", []) if isinstance(i, int)]
    ready, invalid = [], []
    seconds_done = 0.0
    for index, item_id in enumerate(ids):
        item = db.session.get(Item, item_id)
        if item is None or item.project_id != project.id or item.status not in ("processing", "ready"):
            db.session.commit()
            continue
        status, reason, seconds = prepare_item(item, modality, label_config, config)
        db.session.execute(update(Item).where(Item.id == item_id).values(status=status, status_reason=reason))
        db.session.commit()
        (ready if status == "ready" else invalid).append(item_id)
        seconds_done += seconds
        ctx.progress(index + 1, len(ids), detail={"done": round(seconds_done, 1), "unit": "media seconds",
                                                  "items": index + 1, "total_items": len(ids)})
    if ready and project.workflow.get("auto_preannotate") and modality.preannotators(label_config):
        from server.jobs.queue import start_job

        start_job(project, "preannotate", {"items": ready}, "system:derive")
    return {"ready": len(ready), "invalid": len(invalid), "invalid_items": invalid[:200],
            "media_seconds": round(seconds_done, 1)}
