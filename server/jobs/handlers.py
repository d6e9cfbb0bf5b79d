"""The generic job kinds every modality gets: training and export (pre-annotation: server/jobs/preannotate.py). Each handler gets a JobContext and
returns a JSON result. Other kinds register where they live (agreement in analytics, route in review,
ontology_load in ontology_service, a modality's own in its tasks.py), through server.jobs.kinds."""
from __future__ import annotations

from sqlalchemy import select

from annotators.base import ItemView, registry
from server.extensions import db
from server.item_views import item_view
from server.jobs.exports import attach_assets, count_items, provenance, write_export
from server.jobs.kinds import JobFailed, job_kind
from server.models import Annotation, Item, ModelVersion, Project

BATCH = 64


def pick_device() -> str:
    """CUDA when torch sees a device (GPU workers), else CPU. torch is imported only when a job needs it."""
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def preannotate_wants_gpu(project: Project) -> bool:
    modality = registry.get(project.modality)
    return any(getattr(p, "wants_gpu", False) for p in modality.preannotators(project.label_config))


def _fit_wants_gpu(project: Project) -> bool:
    return bool(registry.get(project.modality).fit_wants_gpu)


def resources() -> dict:
    from server.ontology_service import store

    return {"ontologies": store()}


def job_project(ctx) -> Project:
    project = db.session.get(Project, ctx.job.project_id)
    if project is None:
        raise JobFailed("the project of this job no longer exists")
    return project


def active_params(project_id: int, preannotator: str) -> tuple[str | None, dict | None]:
    mv = db.session.execute(select(ModelVersion).where(
        ModelVersion.project_id == project_id, ModelVersion.preannotator == preannotator,
        ModelVersion.active.is_(True)).order_by(ModelVersion.id.desc()).limit(1)).scalar_one_or_none()
    return (mv.version, mv.params) if mv else (None, None)


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
    return provenance(ann.source, ann.stage, ann.id, names.get(ann.author_id), ann.model_version)


@job_kind("fit", wants_gpu=_fit_wants_gpu, user_startable=True, params={"preannotator": (str, 120)})
def fit(ctx) -> dict:
    project = job_project(ctx)
    modality = registry.get(project.modality)
    pairs = accepted_pairs(project)
    if len(pairs) < 2:
        raise JobFailed(f"fit needs at least 2 accepted annotations, the project has {len(pairs)}")
    if modality.fit_assets:
        attach_assets(pairs, modality.fit_assets)
    db.session.commit()  # end the reads before progress() writes (see preannotate)
    ctx.progress(1, 10)
    name = ctx.job.params.get("preannotator") or modality.preannotators(project.label_config)[0].name
    _, previous = active_params(project.id, name)
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
    """Streamed into the file (server/jobs/exports.py): the rows are never all in memory."""
    project = job_project(ctx)
    modality = registry.get(project.modality)
    fmt = ctx.job.params.get("format")
    exporter = modality.exporters().get(fmt)
    if exporter is None:
        raise JobFailed(f"unknown export format {fmt!r}; available: {', '.join(sorted(modality.exporters()))}")
    options = ctx.job.params.get("options", {})
    stage = options.get("stage", "all")
    compress = options.get("gzip") is True
    if compress and exporter.media_type == "application/zip":
        raise JobFailed(f"the {fmt} export is a zip archive already: it is not gzipped")
    total = count_items(project.id, stage)
    db.session.commit()  # end the reads before progress() writes (see preannotate)
    ctx.progress(0, max(1, total))
    result = write_export(exporter, project, stage, ctx.job.id, compress)
    return {**result, "format": fmt, "stage": stage}
