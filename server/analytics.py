"""Agreement snapshots (a queued job), annotator quality and progress analytics. Computed from stored rows:
ItemAgreement is written per item when its k-th version arrives, so the project job only aggregates."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import timedelta

from sqlalchemy import func, select

from annotators.base import registry
from server.db import immediate_writes
from server.extensions import db
from server.models import (AgreementSnapshot, Annotation, Assignment, Item, ItemAgreement, Project, ReviewComment,
                           User, as_utc, utcnow)
from server.item_views import item_view
from server.jobs.kinds import job_kind
from server.workflow_config import merged_workflow

BATCH = 2000


def _human_versions(project_id: int):
    """(item, author name, payload) of every submitted human version, latest per author, streamed in batches."""
    names = dict(db.session.execute(select(User.id, User.username)).all())
    last = 0
    while True:
        items = db.session.execute(select(Item).where(Item.project_id == project_id, Item.id > last)
                                   .order_by(Item.id).limit(BATCH)).scalars().all()
        if not items:
            return
        last = items[-1].id
        by_item = {i.id: i for i in items}
        rows = db.session.execute(select(Annotation).where(
            Annotation.item_id.in_(list(by_item)), Annotation.stage == "annotate", Annotation.source == "human",
            Annotation.status.in_(("submitted", "accepted"))).order_by(Annotation.id)).scalars().all()
        latest = {}
        for row in rows:
            latest[(row.item_id, row.author_id)] = row
        for (item_id, author_id), row in latest.items():
            yield by_item[item_id], names.get(author_id, "?"), row.payload


@job_kind("agreement", user_startable=True)
def agreement_job(ctx) -> dict:
    project = db.session.get(Project, ctx.job.project_id)
    modality = registry.get(project.modality)
    triples, per_item = [], Counter()
    for item, who, payload in _human_versions(project.id):
        triples.append((item_view(item), who, payload))
        per_item[item.id] += 1
    multi = [t for t in triples if per_item[t[0].id] > 1]
    ctx.progress(1, 3)
    report = modality.agree_many(multi, project.label_config).as_dict() if multi else {}
    ctx.progress(2, 3)
    pairs, items = pair_summary(project.id), item_summary(project.id)
    db.session.commit()  # the reads end here; the write below takes SQLite's lock up front (a worker's deferred
    # transaction that read first cannot upgrade to a write while the web server writes: "database is locked")
    with immediate_writes():
        snapshot = AgreementSnapshot(project_id=project.id, job_id=ctx.job.id, items=len({t[0].id for t in multi}),
                                     metrics={"modality": report, "pairs": pairs, "items_agreement": items})
        db.session.add(snapshot)
        db.session.commit()
    return {"snapshot": snapshot.id, "items": snapshot.items}


def item_summary(project_id: int) -> dict:
    """Items with several versions (those with pairs to compare), the same set agree_many measures; rows of
    single-version items (their agreement with the model only) are counted apart."""
    items = single = 0
    agreement = model = 0.0
    with_model = 0
    rows = db.session.execute(select(ItemAgreement.agreement, ItemAgreement.model_agreement, ItemAgreement.pairs)
                              .where(ItemAgreement.project_id == project_id)).yield_per(1000)
    for value, model_value, pairs in rows:
        if not pairs:
            single += 1
            continue
        items += 1
        agreement += value
        if model_value is not None:
            with_model += 1
            model += model_value
    return {"items": items, "single_version_items": single, "mean_agreement": agreement / items if items else None,
            "mean_model_agreement": model / with_model if with_model else None}


def pair_summary(project_id: int) -> list[dict]:
    """Mean agreement per annotator pair, and the mean of every other metric the modality's `agree` reports (WER,
    DER ...), from the per-item rows (cheap: no pairwise recomputation)."""
    sums: dict[tuple, list[float]] = defaultdict(list)
    others: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (pairs,) in db.session.execute(select(ItemAgreement.pairs).where(ItemAgreement.project_id == project_id)):
        for p in pairs:
            key = tuple(sorted((p["a"], p["b"])))
            sums[key].append(p["metrics"].get("agreement", 0.0))
            for name, value in p["metrics"].items():
                if name != "agreement" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    others[key][name].append(float(value))
    return [{"a": a, "b": b, "items": len(v), "agreement": sum(v) / len(v),
             "metrics": {name: sum(xs) / len(xs) for name, xs in sorted(others[(a, b)].items())}}
            for (a, b), v in sorted(sums.items())]


def annotator_quality(project: Project, user_id: int | None = None) -> list[dict]:
    modality = registry.get(project.modality)
    stmt = select(Annotation, Item).join(Item, Item.id == Annotation.item_id).where(
        Annotation.project_id == project.id, Annotation.source == "human", Annotation.stage == "annotate",
        Annotation.status.in_(("submitted", "accepted", "rejected")))
    if user_id is not None:
        stmt = stmt.where(Annotation.author_id == user_id)
    rows = db.session.execute(stmt).all()
    drafts = {}
    for ann in db.session.execute(select(Annotation).where(Annotation.project_id == project.id,
                                                           Annotation.source.in_(("model", "import")))).scalars():
        drafts.setdefault(ann.item_id, {})[ann.source] = ann.payload
    names = dict(db.session.execute(select(User.id, User.username)).all())
    peer = defaultdict(list)
    for (pairs,) in db.session.execute(select(ItemAgreement.pairs).where(ItemAgreement.project_id == project.id)):
        for p in pairs:
            peer[p["a"]].append(p["metrics"].get("agreement", 0.0))
            peer[p["b"]].append(p["metrics"].get("agreement", 0.0))
    stats = defaultdict(lambda: {"items": 0, "times": [], "unchanged": 0, "with_draft": 0, "gold": [], "sub_second": 0,
                                 "rejected": 0, "days": Counter()})
    for ann, item in rows:
        s = stats[ann.author_id]
        s["items"] += 1
        s["days"][as_utc(ann.created_at).date().isoformat()] += 1
        if ann.time_spent_ms:
            s["times"].append(ann.time_spent_ms / 1000)
        if ann.status == "rejected":
            s["rejected"] += 1
        if ann.time_spent_ms is not None and ann.time_spent_ms < 1000:
            s["sub_second"] += 1
        draft = drafts.get(item.id, {}).get("model")
        if draft is not None:
            unchanged, total = unchanged_units(modality, draft, ann.payload, item_view(item), project.label_config)
            s["with_draft"] += total
            s["unchanged"] += unchanged
        reference = drafts.get(item.id, {}).get("import") if item.is_gold_check else None
        if reference is not None:
            s["gold"].append(modality.agree(reference, ann.payload, item_view(item), project.label_config)
                             .get("agreement", 0.0))
    out = []
    for author_id, s in stats.items():
        name = names.get(author_id, "?")
        out.append({
            "user_id": author_id, "username": name, "items": s["items"],
            "median_seconds_per_item": statistics.median(s["times"]) if s["times"] else None,
            "items_per_active_day": s["items"] / len(s["days"]) if s["days"] else 0,
            "gold_accuracy": sum(s["gold"]) / len(s["gold"]) if s["gold"] else None, "gold_items": len(s["gold"]),
            "peer_agreement": sum(peer[name]) / len(peer[name]) if peer[name] else None,
            # per unit (a span, a segment): the share of the model's units the annotator left exactly as drafted
            "preannotations_accepted_unchanged": s["unchanged"] / s["with_draft"] if s["with_draft"] else None,
            "preannotated_units": s["with_draft"],
            "sub_second_items": s["sub_second"],
            "sent_back": s["rejected"], "per_day": dict(sorted(s["days"].items())),
        })
    return sorted(out, key=lambda r: r["username"])


def unchanged_units(modality, draft: dict, payload: dict, view, label_config: dict) -> tuple[int, int]:
    """(units of the model's draft the person kept exactly, units the draft had), compared unit by unit through
    the modality's curation units; whole-payload equality would count one changed span as a changed item."""
    unchanged = total = 0
    for unit in modality.curation_units([draft, payload], view, label_config):
        drafted = next((o for o in unit["options"] if 0 in o["versions"]), None)
        if drafted is None or drafted.get("spans") == []:
            continue  # the model marked nothing here
        total += 1
        unchanged += 1 in drafted["versions"]
    return unchanged, total


def progress(project: Project) -> dict:
    stages = dict(db.session.execute(select(Item.stage, func.count()).where(Item.project_id == project.id)
                                     .group_by(Item.stage)).all())
    total = sum(stages.values())
    done_rows = db.session.execute(select(Annotation.created_at).where(
        Annotation.project_id == project.id, Annotation.stage == "gold", Annotation.status == "accepted")).scalars()
    per_day = Counter(as_utc(t).date().isoformat() for t in done_rows)
    burn, remaining = [], total
    for day in sorted(per_day):
        remaining -= per_day[day]
        burn.append({"day": day, "done": per_day[day], "remaining": remaining})
    recent = [per_day[(utcnow() - timedelta(days=d)).date().isoformat()] for d in range(7)]
    rate = sum(recent) / 7
    left = total - stages.get("done", 0)
    per_annotator = dict(db.session.execute(
        select(User.username, func.count()).join(Assignment, Assignment.user_id == User.id)
        .where(Assignment.project_id == project.id, Assignment.status == "submitted").group_by(User.username)).all())
    return {"items": total, "per_stage": stages, "per_annotator": per_annotator, "burn_down": burn,
            "done_per_day_last_7": rate, "estimated_days_left": (left / rate) if rate else None,
            "pilot": pilot_report(project)}


def pilot_report(project: Project) -> dict | None:
    size = int(merged_workflow(project.workflow, None).get("pilot_size") or 0)
    if not size:
        return None
    ids = list(db.session.execute(select(Item.id).where(Item.project_id == project.id).order_by(Item.id)
                                  .limit(size)).scalars())
    times = [t / 1000 for t in db.session.execute(select(Annotation.time_spent_ms).where(
        Annotation.item_id.in_(ids), Annotation.source == "human", Annotation.time_spent_ms.is_not(None))).scalars()]
    agreements = list(db.session.execute(select(ItemAgreement.agreement).where(ItemAgreement.item_id.in_(ids)))
                      .scalars())
    questions = db.session.execute(select(ReviewComment).where(ReviewComment.item_id.in_(ids),
                                                               ReviewComment.kind == "question")).scalars().all()
    return {"items": len(ids), "median_seconds_per_item": statistics.median(times) if times else None,
            "mean_agreement": sum(agreements) / len(agreements) if agreements else None,
            "questions": [{"item_id": q.item_id, "text": q.text} for q in questions]}
