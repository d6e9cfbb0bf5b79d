"""The generic job kinds every modality gets: pre-annotation, training, export. Each handler gets a JobContext and
returns a JSON result. Other kinds register where they live (agreement in analytics, route in review,
ontology_load in ontology_service, a modality's own in its tasks.py), through server.jobs.kinds."""
from __future__ import annotations

import os
import tempfile

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from annotators.base import ITEM_FIELDS, ItemView, registry
from server.extensions import db
from server.item_views import item_view
from server.jobs.kinds import JobFailed, job_kind
from server.models import Annotation, Item, ModelVersion, Project
from server.workflow_config import merged_workflow

BATCH = 64


def pick_device() -> str:
    """CUDA when torch sees a device (GPU workers), else CPU. torch is imported only when a job needs it."""
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def _preannotate_wants_gpu(project: Project) -> bool:
    modality = registry.get(project.modality)
    return any(getattr(p, "wants_gpu", False) for p in modality.preannotators(project.label_config))


def _fit_wants_gpu(project: Project) -> bool:
    return bool(registry.get(project.modality).fit_wants_gpu)


def resources() -> dict:
    from server.ontology_service import store

    return {"ontologies": store()}


def _project(ctx) -> Project:
    project = db.session.get(Project, ctx.job.project_id)
    if project is None:
        raise JobFailed("the project of this job no longer exists")
    return project


def _insert_ignore(values: list[dict]) -> int:
    """Insert model drafts; a row whose idempotency key exists already is skipped (a re-run writes nothing twice)."""
    if not values:
        return 0
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    stmt = insert(Annotation).values(values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return db.session.execute(stmt).rowcount or 0


def _active_params(project_id: int, preannotator: str) -> tuple[str | None, dict | None]:
    mv = db.session.execute(select(ModelVersion).where(
        ModelVersion.project_id == project_id, ModelVersion.preannotator == preannotator,
        ModelVersion.active.is_(True)).order_by(ModelVersion.id.desc()).limit(1)).scalar_one_or_none()
    return (mv.version, mv.params) if mv else (None, None)


def _allowed_field(name: str, value) -> bool:
    allowed = ITEM_FIELDS.get(name)
    return isinstance(value, allowed) if isinstance(allowed, type) else value in (allowed or ())


def _set_item_fields(item_id: int, fields: dict) -> None:
    values = {k: v for k, v in fields.items() if k != "meta"}
    if "meta" in fields:
        item = db.session.get(Item, item_id)
        values["meta"] = {**(item.meta or {}), **fields["meta"]}
    db.session.execute(update(Item).where(Item.id == item_id).values(**values))


@job_kind("preannotate", wants_gpu=_preannotate_wants_gpu, user_startable=True)
def preannotate(ctx) -> dict:
    project = _project(ctx)
    modality = registry.get(project.modality)
    annotators = modality.preannotators(project.label_config)
    if not annotators:
        raise JobFailed(f"modality {modality.name!r} has no pre-annotator")
    device = pick_device()
    versions = []
    for annotator in annotators:
        version, params = _active_params(project.id, annotator.name)
        if version:
            annotator.version = version
        annotator.setup(device, project.label_config, params, resources())
        versions.append(f"{annotator.name}@{annotator.version}")
    db.session.commit()  # end the reads first: a deferred SQLite transaction cannot upgrade to a write while busy
    ctx.job.model_version = ",".join(versions)
    db.session.commit()

    stmt = select(Item).where(Item.project_id == project.id, Item.status == "ready")
    selection = ctx.job.params.get("items")
    if selection:
        stmt = stmt.where(Item.id.in_(selection))
    count = select(func.count()).select_from(Item).where(Item.project_id == project.id, Item.status == "ready")
    total = db.session.execute(count.where(Item.id.in_(selection)) if selection else count).scalar_one()
    written = done = last_id = 0
    limit = int(merged_workflow(project.workflow, None)["max_suggestions_per_item"])
    limited: list[dict] = []
    while True:
        items = db.session.execute(stmt.where(Item.id > last_id).order_by(Item.id).limit(BATCH)).scalars().all()
        if not items:
            break
        last_id = items[-1].id
        views = [item_view(i) for i in items]
        db.session.commit()  # no transaction stays open while the models run
        rows, scores, updates = [], {}, {}
        for annotator in annotators:
            key = f"{annotator.name}@{annotator.version}"
            for pred in annotator.predict(views):
                payload, dropped = modality.limit_suggestions(pred.payload, limit)
                payload = modality.validate_payload(payload, project.label_config)
                note = None
                if dropped:
                    limited.append({"item": pred.item_id, "dropped": dropped})
                    note = (f"The model proposed {dropped + limit:,} suggestions; the {limit:,} most confident are "
                            f"shown (per-item limit: workflow setting max_suggestions_per_item).")
                rows.append({"item_id": pred.item_id, "project_id": project.id, "source": "model",
                             "stage": "annotate", "status": "draft", "payload": payload, "score": pred.score,
                             "model_version": key, "version": 1, "idempotency_key": f"pre:{pred.item_id}:{key}",
                             "comment": note})
                fields = {k: v for k, v in pred.item_fields.items() if _allowed_field(k, v)}
                if fields:
                    updates.setdefault(pred.item_id, {}).update(fields)
                if pred.score is not None:
                    scores[pred.item_id] = min(scores.get(pred.item_id, 1.0), pred.score)
        written += _insert_ignore(rows)
        for item_id, score in scores.items():
            db.session.execute(update(Item).where(Item.id == item_id).values(priority=score))
        for item_id, fields in updates.items():
            _set_item_fields(item_id, fields)
        db.session.commit()
        done += len(items)
        ctx.progress(done, total)
    return {"items": done, "annotations_written": written, "device": device, "model_versions": versions,
            "limited": limited[:100], "items_limited": len(limited)}


def accepted_pairs(project: Project, stage: str = "reviewed") -> list[tuple[ItemView, dict]]:
    """Per item, the best version people stand behind, with its provenance on the view: gold (review or
    consensus), else (stage "reviewed") the latest submitted human version; "gold" keeps gold only."""
    sources = ("human", "consensus", "review")
    rows = db.session.execute(select(Annotation, Item).join(Item, Item.id == Annotation.item_id).where(
        Annotation.project_id == project.id, Annotation.source.in_(sources),
        Annotation.status.in_(("accepted", "submitted"))).order_by(Annotation.id)).all()
    chosen: dict[int, tuple[int, Annotation, Item]] = {}
    for ann, item in rows:
        rank = 2 if ann.stage == "gold" else 1
        if stage == "gold" and rank < 2:
            continue
        if item.id not in chosen or rank >= chosen[item.id][0]:
            chosen[item.id] = (rank, ann, item)
    names = _usernames(ann.author_id for _, ann, _ in chosen.values())
    out = []
    for _, ann, item in chosen.values():
        view = item_view(item)
        view.provenance = _provenance(ann, names)
        out.append((view, ann.payload))
    return out


def _usernames(ids) -> dict[int, str]:
    from server.models import User

    ids = {i for i in ids if i}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()) if ids else {}


def _provenance(ann: Annotation, names: dict[int, str]) -> dict:
    """Who stands behind an exported annotation: human, model@version, consensus or a reviewer's gold."""
    if ann.source == "model":
        return {"origin": "model", "model_version": ann.model_version, "reviewed": False}
    if ann.source == "import":
        return {"origin": "import", "reviewed": False}
    if ann.stage == "gold":
        origin = {"consensus": "consensus", "review": "reviewer"}.get(ann.source, "human")
        return {"origin": origin, "gold": True, "reviewed": origin == "reviewer",
                "by": names.get(ann.author_id), "annotation_id": ann.id}
    return {"origin": "human", "gold": False, "reviewed": False, "by": names.get(ann.author_id),
            "annotation_id": ann.id}


@job_kind("fit", wants_gpu=_fit_wants_gpu, user_startable=True)
def fit(ctx) -> dict:
    project = _project(ctx)
    modality = registry.get(project.modality)
    pairs = accepted_pairs(project)
    if len(pairs) < 2:
        raise JobFailed(f"fit needs at least 2 accepted annotations, the project has {len(pairs)}")
    db.session.commit()  # end the reads before progress() writes (see preannotate)
    ctx.progress(1, 10)
    name = ctx.job.params.get("preannotator") or modality.preannotators(project.label_config)[0].name
    _, previous = _active_params(project.id, name)
    outcome = modality.fit(pairs, project.label_config, previous)
    if outcome is None:
        raise JobFailed(f"modality {modality.name!r} has nothing to train")
    count = db.session.query(ModelVersion).filter_by(project_id=project.id, preannotator=name).count()
    version = f"v{count + 1}"
    db.session.commit()  # end the reads before writing (see preannotate)
    better = bool(outcome.get("better", True))
    if better:
        db.session.query(ModelVersion).filter_by(project_id=project.id, preannotator=name).update({"active": False})
    mv = ModelVersion(project_id=project.id, preannotator=name, version=version, params=outcome.get("params", {}),
                      metrics=outcome.get("metrics", {}), active=better, job_id=ctx.job.id)
    db.session.add(mv)
    ctx.job.model_version = f"{name}@{version}"
    db.session.commit()
    return {"model_version": f"{name}@{version}", "active": better, "metrics": mv.metrics, "trained_on": len(pairs)}


@job_kind("export")
def export(ctx) -> dict:
    project = _project(ctx)
    modality = registry.get(project.modality)
    fmt = ctx.job.params.get("format")
    exporter = modality.exporters().get(fmt)
    if exporter is None:
        raise JobFailed(f"unknown export format {fmt!r}; available: {', '.join(sorted(modality.exporters()))}")
    stage = ctx.job.params.get("options", {}).get("stage", "all")
    pairs = accepted_pairs(project, stage)
    if stage == "all":
        have = {view.id for view, _ in pairs}
        latest_model: dict[int, tuple[ItemView, dict]] = {}
        rows = db.session.execute(select(Annotation, Item).join(Item, Item.id == Annotation.item_id).where(
            Annotation.project_id == project.id, Annotation.source.in_(("model", "import")))
            .order_by(Annotation.id)).all()
        for ann, item in rows:
            if item.id not in have:
                view = item_view(item)
                view.provenance = _provenance(ann, {})
                latest_model[item.id] = (view, ann.payload)
        pairs += list(latest_model.values())
    pairs.sort(key=lambda pair: pair[0].id)
    db.session.commit()  # end the reads before progress() writes (see preannotate)
    ctx.progress(len(pairs) // 2, max(1, len(pairs)))
    store = current_app.extensions["media"]
    out_dir = store.export_dir(current_app.config)
    name = f"export-{ctx.job.id}.{exporter.extension.lstrip('.')}"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as fh:
            exporter.write(pairs, project.label_config, fh)
        size = os.path.getsize(tmp)
        store.save_export(current_app.config, tmp, name)  # a local rename, or an upload to the bucket
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    origins: dict[str, int] = {}
    for view, _ in pairs:
        origins[view.provenance["origin"]] = origins.get(view.provenance["origin"], 0) + 1
    return {"file": name, "format": fmt, "stage": stage, "items": len(pairs),
            "origins": origins, "media_type": exporter.media_type, "size": size}
