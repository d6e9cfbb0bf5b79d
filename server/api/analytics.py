"""Agreement dashboard data (JSON, CSV, SVG), annotator quality, progress."""
from __future__ import annotations

import io

from flask import Response, request
from sqlalchemy import func, select

from annotators.csv_cells import safe_writer
from server import analytics, charts
from server.api.blueprint import api_bp
from server.auth import actor_name
from server.extensions import db
from server.jobs.queue import start_job
from server.models import AgreementSnapshot, ItemAgreement
from server.permissions import require_project


def _snapshots(project_id: int) -> list[AgreementSnapshot]:
    return db.session.execute(select(AgreementSnapshot).where(AgreementSnapshot.project_id == project_id)
                              .order_by(AgreementSnapshot.id.desc()).limit(100)).scalars().all()[::-1]


def refresh_if_stale(project) -> None:
    """Queue an agreement job when items were measured after the latest snapshot (never computed in the request)."""
    latest = db.session.execute(select(func.max(AgreementSnapshot.created_at)).where(
        AgreementSnapshot.project_id == project.id)).scalar()
    newest = db.session.execute(select(func.max(ItemAgreement.created_at)).where(
        ItemAgreement.project_id == project.id)).scalar()
    if newest is not None and (latest is None or newest > latest):
        start_job(project, "agreement", {}, actor_name(), f"agreement:{project.id}:{newest.isoformat()}")


@api_bp.get("/projects/<int:project_id>/agreement")
@api_bp.doc(summary="Latest agreement (modality metrics, per label, per annotator pair) and its history; "
                    "?format=csv for a download")
def get_agreement(project_id):
    project, _ = require_project(project_id, "agreement.view")
    refresh_if_stale(project)
    snaps = _snapshots(project_id)
    latest = snaps[-1] if snaps else None
    body = {"latest": {"created_at": latest.created_at.isoformat(), "items": latest.items, **latest.metrics}
            if latest else None,
            "history": [{"created_at": s.created_at.isoformat(), "items": s.items,
                         "mean_agreement": s.metrics.get("items_agreement", {}).get("mean_agreement")} for s in snaps],
            "live": {"items": analytics.item_summary(project_id), "pairs": analytics.pair_summary(project_id)}}
    if request.args.get("format") == "csv":
        out = io.StringIO()
        writer = safe_writer(out)
        writer.writerow(["scope", "name", "metric", "value"])
        for pair in body["live"]["pairs"]:
            writer.writerow(["pair", f"{pair['a']}|{pair['b']}", "agreement", pair["agreement"]])
            for key, value in pair.get("metrics", {}).items():
                writer.writerow(["pair", f"{pair['a']}|{pair['b']}", key, value])
        modality_metrics = (latest.metrics.get("modality") or {}) if latest else {}
        for scope in ("overall", "metrics"):
            for key, value in (modality_metrics.get(scope) or {}).items():
                if isinstance(value, (int, float)):
                    writer.writerow(["overall", "", key, value])
        for label, values in (modality_metrics.get("per_label") or {}).items():
            for key, value in (values or {}).items():
                if isinstance(value, (int, float)):
                    writer.writerow(["label", label, key, value])
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=agreement-{project_id}.csv"})
    return body


@api_bp.get("/projects/<int:project_id>/agreement/chart.svg")
@api_bp.doc(summary="Agreement over time (kind=history) or per annotator pair (kind=pairs), as SVG")
def agreement_chart(project_id):
    require_project(project_id, "agreement.view")
    if request.args.get("kind") == "pairs":
        svg = charts.bar_chart("Agreement per annotator pair",
                               [(f"{p['a']}–{p['b']}", p["agreement"]) for p in analytics.pair_summary(project_id)])
    else:
        points = [(s.created_at.strftime("%Y-%m-%d %H:%M"),
                   s.metrics.get("items_agreement", {}).get("mean_agreement") or 0.0) for s in _snapshots(project_id)]
        svg = charts.line_chart("Mean item agreement over time", points)
    return Response(svg, mimetype="image/svg+xml", headers={"Content-Security-Policy": "default-src 'none'"})


@api_bp.get("/projects/<int:project_id>/annotators")
@api_bp.doc(summary="Annotator quality: gold accuracy, peer agreement, speed, pre-annotations accepted unchanged")
def annotators(project_id):
    project, _ = require_project(project_id, "quality.view")
    return {"items": analytics.annotator_quality(project)}


@api_bp.get("/projects/<int:project_id>/annotators/<int:user_id>")
def annotator(project_id, user_id):
    project, _ = require_project(project_id, "quality.view")
    rows = analytics.annotator_quality(project, user_id)
    return rows[0] if rows else {"user_id": user_id, "items": 0}


@api_bp.get("/projects/<int:project_id>/progress")
@api_bp.doc(summary="Items per stage and annotator, burn-down, estimated completion, pilot report")
def progress(project_id):
    project, _ = require_project(project_id, "quality.view")
    return analytics.progress(project)
