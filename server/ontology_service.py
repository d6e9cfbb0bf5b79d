"""The server's side of ontologies/: one OntologyStore per process, learned aliases, the load job."""
from __future__ import annotations

import os

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from server.events import gold_created
from server.extensions import db
from server.jobs.kinds import JobFailed, job_kind
from server.models import ConceptAlias, Project


def store():
    """The process's OntologyStore (indexes load lazily from the on-disk cache, < 1 s each)."""
    from ontologies import OntologyStore

    app = current_app._get_current_object()
    if "ontologies" not in app.extensions:
        app.extensions["ontologies"] = OntologyStore(app.config["ONTOLOGY_DIR"])
    return app.extensions["ontologies"]


def aliases_for(project: Project | None) -> dict[str, list[tuple[str, str]]]:
    """normalized mention → [(terminology, code)] most used first: this project's, plus shared projects' (opt-in)."""
    from ontologies import normalize_mention

    if project is None:
        return {}
    project_ids = [project.id]
    if (project.workflow or {}).get("share_aliases"):
        others = db.session.execute(select(Project.id, Project.workflow)).all()
        project_ids += [pid for pid, wf in others if pid != project.id and (wf or {}).get("share_aliases")]
    rows = db.session.execute(select(ConceptAlias).where(ConceptAlias.project_id.in_(project_ids))
                              .order_by(ConceptAlias.count.desc()).limit(20000)).scalars()
    out: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        out.setdefault(normalize_mention(row.mention), []).append((row.terminology, row.code))
    return out


def learn_aliases(project: Project, modality, payload: dict, item) -> int:
    """Record the accepted mention→concept pairs of a gold annotation."""
    from ontologies import normalize_mention

    hook = getattr(modality, "learned_aliases", None)
    if hook is None:
        return 0
    learned = 0
    for mention, terminology, code in hook(payload, item):
        key = normalize_mention(mention)[:300]
        if not key:
            continue
        bumped = db.session.execute(update(ConceptAlias).where(
            ConceptAlias.project_id == project.id, ConceptAlias.mention == key,
            ConceptAlias.terminology == terminology, ConceptAlias.code == code).values(count=ConceptAlias.count + 1))
        if not bumped.rowcount:
            try:
                with db.session.begin_nested():
                    db.session.add(ConceptAlias(project_id=project.id, mention=key, terminology=terminology,
                                                code=code))
            except IntegrityError:
                pass  # learned concurrently by another request: counted there
        learned += 1
    return learned


@gold_created.connect
def _learn_from_gold(project: Project, item, payload: dict, **_) -> None:
    from annotators.base import registry
    from server.item_views import item_view

    learn_aliases(project, registry.get(project.modality), payload, item_view(item))


@job_kind("ontology_load")
def load_job(ctx) -> dict:
    """Job handler: load user-supplied terminology files; all-or-nothing (the active version stays on failure)."""
    from ontologies import OntologyLoadError


    params = ctx.job.params
    folder = params["folder"]
    paths = [os.path.join(folder, name) for name in sorted(os.listdir(folder))]
    try:
        entry = store().import_files(params["format"], paths, name=params.get("name"), version=params.get("version"),
                                     progress=lambda pct: ctx.progress(int(pct), 100))
    except OntologyLoadError as exc:
        raise JobFailed(str(exc)) from None
    finally:
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass
        try:
            os.rmdir(folder)
        except OSError:
            pass
    return {"terminology": entry}
