"""`flask` commands: setup (migrate + admin + demo), audit verify, worker helpers."""
from __future__ import annotations

import os
import secrets
import sys

import click
from flask import Flask, current_app
from sqlalchemy import select

from server.extensions import db

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def ensure_admin(username: str, password: str | None) -> str | None:
    """Create the site admin if missing; returns the generated password (shown once) or None."""
    from server import audit
    from server.auth import hash_password
    from server.models import User

    from server.passwords import new_account_problem
    from server.text_checks import identifier_key

    if db.session.execute(select(User).where(User.username_key == identifier_key(username))
                          ).scalar_one_or_none() is not None:
        return None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    problem = new_account_problem(username, password)
    if problem:
        raise click.ClickException(f"CLINLABEL_ADMIN_USER / CLINLABEL_ADMIN_PASSWORD: {problem}")
    db.session.add(User(username=username, password_hash=hash_password(password), is_admin=True))
    audit.record(db.session, actor="system", action="user.create", object_type="user", object_id=username,
                 details={"is_admin": True, "bootstrap": True})
    db.session.commit()
    return generated


def load_demo_projects(admin_username: str) -> list[str]:
    """One demo project per registered modality that offers one; skipped when it exists already."""
    from annotators.base import registry
    from server import audit
    from server.ingest import ingest_batch
    from server.models import Membership, Project, User
    from server.workflow_config import merged_workflow

    admin = db.session.execute(select(User).where(User.username == admin_username)).scalar_one()
    made = []
    for modality in registry.all():
        demo = modality.demo()
        if not demo:
            continue
        name = demo["name"]
        if db.session.execute(select(Project.id).where(Project.name == name)).first():
            continue
        project = Project(name=name, description=demo.get("description", ""), modality=modality.name,
                          label_config=modality.validate_label_config(demo.get("label_config")
                                                                      or modality.default_label_config),
                          workflow=merged_workflow(None, demo.get("workflow")), created_by=admin.id)
        db.session.add(project)
        db.session.flush()
        db.session.add(Membership(project_id=project.id, user_id=admin.id, role="admin"))
        created, failed = ingest_batch(project, modality, demo["inputs"])
        if failed:
            raise click.ClickException(f"demo items of {modality.name} failed: {failed}")
        audit.record(db.session, actor="system", action="project.create", object_type="project",
                     object_id=project.id, project_id=project.id, details={"demo": True, "items": len(created)})
        db.session.commit()
        from server.derive import start_derive

        start_derive(project, created, "system")  # media demos: probe and derivatives (then pre-annotation)
        if demo.get("preannotate"):
            from server.jobs.queue import start_job

            start_job(project, "preannotate", {}, "system", f"demo:{project.id}:preannotate", admin.id)
        made.append(name)
    return made


def register_cli(app: Flask) -> None:
    from server.cli_users import register_user_cli

    register_user_cli(app)

    @app.cli.command("setup")
    @click.option("--demo/--no-demo", default=True, help="load a demo project per modality")
    def setup_command(demo: bool):
        """Apply migrations, create the admin account, load demo projects (idempotent)."""
        from server.jobs.queue import configure

        configure(current_app)
        os.makedirs(current_app.config["DATA_DIR"], exist_ok=True)
        upgrade_database(current_app.config["DATABASE_URL"])
        user = current_app.config["ADMIN_USER"]
        generated = ensure_admin(user, current_app.config["ADMIN_PASSWORD"])
        if generated:
            click.echo("=" * 64)
            click.echo(f"  Admin account created: {user} / {generated}")
            click.echo("  This password is shown once. Change it after logging in.")
            click.echo("=" * 64)
        from server.ontology_service import store

        built = store().ensure_shipped()
        click.echo(f"terminologies ready: {', '.join(store().names())}" + (f" (built {', '.join(built)})" if built else ""))
        from annotators.notes.preannotate import prepare_default_matcher

        # Compiled once here (tens of seconds on first set-up), so a worker loads it in seconds at start.
        click.echo(f"term matcher for the default labels ready ({prepare_default_matcher(store()):.1f} s)")
        from annotators.consult import weights

        for name in weights.installed():  # converted once from the installed package; no download, ever
            click.echo(f"whisper {name}: {weights.checkpoint_path(name)}")
        if demo:
            for name in load_demo_projects(user):
                click.echo(f"demo project loaded: {name}")
        from server.audit_sealer import seal

        seal(db.session)  # this command's own events, before any web server or worker runs
        click.echo("setup done")

    audit_group = click.Group("audit", help="Audit trail tools.")

    @audit_group.command("verify")
    def audit_verify():
        """Seal, walk the hash chain and check the unsealed tail; exit 1 and name the first altered row if it is
        broken, or the problem with the tail."""
        from server.audit import verify

        result = verify(db.session)
        if result.get("warning"):
            click.echo(f"WARNING: {result['warning']}", err=True)
        tail = result.get("unsealed") or {"count": 0, "oldest_age_s": 0}
        waiting = (f"{tail['count']} unsealed (oldest {tail['oldest_age_s']:.1f} s)" if tail["count"]
                   else "none unsealed")
        if result["ok"]:
            click.echo(f"audit chain intact: {result['checked']} events, {result.get('checkpoints', 0)} signed "
                       f"checkpoints, {result.get('unanchored_tail', 0)} events after the last checkpoint, "
                       f"{waiting}")
            return
        where = f" at event {result['first_bad_seq']}" if result["first_bad_seq"] else ""
        click.echo(f"audit chain BROKEN{where}: {result['reason']}", err=True)
        sys.exit(1)

    @audit_group.command("seal")
    def audit_seal():
        """Chain the unsealed events now (the web server and the worker do it within a second)."""
        from server.audit_sealer import seal

        click.echo(f"sealed {seal(db.session)} events")

    @audit_group.command("checkpoint")
    def audit_checkpoint():
        """Append a signed checkpoint of the chain's head to the checkpoint file (the worker does it every minute)."""
        from server.audit_anchor import write_checkpoint

        entry = write_checkpoint(db.session)
        click.echo(f"checkpoint at event {entry['seq']}" if entry else "head unchanged since the last checkpoint")

    @audit_group.command("export-checkpoints")
    @click.argument("target", type=click.Path(dir_okay=False, writable=True))
    def audit_export_checkpoints(target):
        """Copy the signed checkpoints to a file a compliance officer keeps (outside this server)."""
        import shutil

        source = current_app.config["AUDIT_CHECKPOINT_FILE"]
        if not os.path.exists(source):
            click.echo("no checkpoints yet (run `flask audit checkpoint`)", err=True)
            sys.exit(1)
        shutil.copyfile(source, target)
        click.echo(f"copied {source} to {target}")

    app.cli.add_command(audit_group)

    @app.cli.command("db-grant-app-role")
    @click.argument("role")
    def db_grant_app_role(role):
        """PostgreSQL: give ROLE what the app needs and nothing that could rewrite the audit trail (run as owner)."""
        from server.db_roles import grant_app_role

        if db.dialect != "postgresql":
            click.echo("database roles apply to PostgreSQL only", err=True)
            sys.exit(1)
        with db.engine.begin() as conn:
            grant_app_role(conn, role)
        click.echo(f"granted the app's rights to {role}; set CLINLABEL_DATABASE_URL to connect as {role}")

    ontology_group = click.Group("ontology", help="Terminologies: list and load user-supplied files.")

    @ontology_group.command("list")
    def ontology_list():
        from server.ontology_service import store

        for entry in store().available():
            click.echo(f"{entry['name']}\t{entry['version']}\t{entry['concept_count']} concepts\t{entry['licence']}")

    @ontology_group.command("load")
    @click.argument("fmt")
    @click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
    @click.option("--name", default=None)
    @click.option("--version", "version_", default=None)
    @click.option("--wait/--no-wait", default=True, help="run the job here and wait (default) or only queue it")
    def ontology_load(fmt, paths, name, version_, wait):
        """Load terminology files (umls, snomed, rxnorm, loinc, obo, owl, tabular) as a job with progress."""
        import shutil
        import uuid

        from server.jobs.queue import start_job
        from server.jobs.runner import execute
        from server.models import Job

        folder = os.path.join(current_app.config["DATA_DIR"], "ontology-uploads", uuid.uuid4().hex)
        os.makedirs(folder)
        for path in paths:
            if os.path.isdir(path):
                for entry in sorted(os.listdir(path)):
                    if os.path.isfile(os.path.join(path, entry)):
                        shutil.copy(os.path.join(path, entry), folder)
            else:
                shutil.copy(path, folder)
        job = start_job(None, "ontology_load", {"folder": folder, "format": fmt, "name": name, "version": version_},
                        "cli")
        if not wait:
            click.echo(f"queued job {job.id}")
            return
        if job.status == "queued":
            execute(job.id)
        job = db.session.get(Job, job.id)
        db.session.refresh(job)
        if job.status != "succeeded":
            raise click.ClickException(job.error or job.status)
        click.echo(f"loaded {job.result['terminology']['name']} {job.result['terminology']['version']}: "
                   f"{job.result['terminology']['concept_count']} concepts")

    app.cli.add_command(ontology_group)

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--admin", is_flag=True)
    @click.password_option()
    def create_user(username: str, admin: bool, password: str):
        """Create a user from the command line."""
        from server import audit
        from server.auth import hash_password
        from server.models import User
        from server.passwords import new_account_problem
        from server.text_checks import identifier_key

        problem = new_account_problem(username, password)
        if problem:
            raise click.ClickException(problem)
        if db.session.execute(select(User.id).where(User.username_key == identifier_key(username))).first():
            raise click.ClickException(f"username {username!r} is taken (names ignore case, width and spaces)")
        db.session.add(User(username=username, password_hash=hash_password(password), is_admin=admin))
        audit.record(db.session, actor="cli", action="user.create", object_type="user", object_id=username)
        db.session.commit()
        click.echo(f"user {username} created")
