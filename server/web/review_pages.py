"""Review, dashboard and ontology pages (shells; data comes from the API)."""
from __future__ import annotations

from flask import render_template

from annotators.base import registry
from server.permissions import can, require_project
from server.web.blueprint import web_bp


@web_bp.get("/projects/<int:project_id>/review")
def review_page(project_id: int):
    project, role = require_project(project_id, "review.decide")
    modality = registry.get(project.modality)
    return render_template("review.html", project=project, role=role, ui_module=modality.ui_module)


@web_bp.get("/projects/<int:project_id>/dashboard")
def dashboard_page(project_id: int):
    project, role = require_project(project_id, "agreement.view")
    return render_template("dashboard.html", project=project, role=role, can_quality=can(role, "quality.view"))


@web_bp.get("/projects/<int:project_id>/annotators/<int:user_id>")
def annotator_page(project_id: int, user_id: int):
    project, role = require_project(project_id, "quality.view")
    return render_template("annotator.html", project=project, role=role, user_id=user_id)


@web_bp.get("/projects/<int:project_id>/settings")
def settings_page(project_id: int):
    project, role = require_project(project_id, "project.edit")
    modality = registry.get(project.modality)
    return render_template("settings.html", project=project, role=role,
                           modality={**modality.describe(), "ui_module": modality.ui_module},
                           can_members=can(role, "members.edit"))


@web_bp.get("/ontologies")
def ontologies_page():
    return render_template("ontologies.html")
