"""Shared fixtures: offline guard, databases (SQLite always, PostgreSQL when it answers), app, users, tokens."""
from __future__ import annotations

import os
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from offline_guard import install as install_offline_guard  # noqa: E402
from support import (  # noqa: E402,F401
    PASSWORD, Api, add_texts, build_app, create_user, fresh_schema, login, postgres_admin_url, redis_url,
)

# Offline for everything this process and its children do (children load tests/offline/sitecustomize.py).
install_offline_guard()
os.environ["PYTHONPATH"] = os.pathsep.join([os.path.join(HERE, "offline"), ROOT, os.environ.get("PYTHONPATH", "")])
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["TLDEXTRACT_CACHE"] = os.path.join(HERE, ".tldextract-cache")
# Workers the tests start (two dozen) skip loading the notes models before forking (4 s each on 2 cores);
# tests/test_worker.py::test_worker_warms_models_before_forking starts one that does, as `make run` does.
os.environ.setdefault("CLINLABEL_WORKER_WARM", "0")



@pytest.fixture(scope="session")
def postgres_database():
    """A database of our own for this test session, dropped at the end."""
    admin_url = postgres_admin_url()
    if admin_url is None:
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (set CLINLABEL_TEST_POSTGRES_URL)")
    from sqlalchemy import create_engine, text

    name = f"clinlabel_test_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


# `make test-fast` runs SQLite only; CI and `make test` run both.
BACKENDS = [b for b in os.environ.get("CLINLABEL_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


_pg_schema_clean = {"clean": False}  # the session database holds an empty schema (no test committed into it)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """Database-facing tests run on both backends. On PostgreSQL the schema is rebuilt only after a test that
    really committed (the `app` fixture otherwise runs each test inside a transaction it rolls back)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.sqlite'}"
    url = request.getfixturevalue("postgres_database")
    if not _pg_schema_clean["clean"]:
        fresh_schema(url)
    return url


@pytest.fixture(autouse=True)
def _pg_dirty_tracker(request):
    """Any test that touched the session's PostgreSQL database without the rolled-back `app` (live servers,
    workers, second connections) leaves it dirty: the next test gets a fresh schema."""
    yield
    if "postgres_database" in request.fixturenames:
        _pg_schema_clean["clean"] = bool(getattr(request.node, "_pg_rolled_back", False))


def _run_in_rolled_back_transaction(database):
    """indico's pattern: bind the app's session to one connection inside a transaction; every commit the code
    makes becomes a savepoint, and the whole test is rolled back at the end (no schema rebuild per test)."""
    from sqlalchemy.orm import scoped_session, sessionmaker

    database.session.remove()
    connection = database.engine.connect()
    outer = connection.begin()
    database.session = scoped_session(sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                                                   expire_on_commit=False))

    def undo() -> bool:
        database.session.remove()
        clean = outer.is_active
        if clean:
            outer.rollback()
        connection.close()
        return clean
    return undo


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'app.sqlite'}"


@pytest.fixture
def app(request, tmp_path, database_url):
    """The app with eager jobs. On PostgreSQL each test runs in a transaction rolled back afterwards, except tests
    marked `concurrent` (several connections must see each other's commits)."""
    app = build_app(tmp_path, database_url, JOBS_EAGER=True)
    undo = None
    if database_url.startswith("postgresql") and request.node.get_closest_marker("concurrent") is None:
        undo = _run_in_rolled_back_transaction(app.extensions["clinlabel_db"])
    yield app
    from server.extensions import db

    if undo is not None:
        request.node._pg_rolled_back = undo()
    db.dispose()


@pytest.fixture
def sqlite_app(tmp_path, sqlite_url):
    app = build_app(tmp_path, sqlite_url, JOBS_EAGER=True)
    yield app
    from server.extensions import db

    db.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin(app, client):
    create_user(app, "root", is_admin=True)
    return login(client, "root")


@pytest.fixture
def make_member(app, client, admin):
    """make_member(project_id, username, role) -> Api logged in as that user."""

    def make(project_id: int, username: str, role: str) -> Api:
        create_user(app, username)
        status, body = admin.post(f"/projects/{project_id}/members", {"username": username, "role": role})
        assert status in (200, 201), body
        return login(client, username)

    return make


@pytest.fixture
def labels_project(admin):
    status, body = admin.post("/projects", {"name": "Triage", "modality": "labels"})
    assert status == 201, body
    return body




@pytest.fixture(scope="session")
def shipped_ontology_dir(tmp_path_factory):
    """ICD-10-CM, HPO, drugs and the small built-ins, indexed once for the session (as `flask setup` does)."""
    from ontologies import OntologyStore

    import live

    folder = tmp_path_factory.mktemp("ontologies")
    OntologyStore(str(folder)).ensure_shipped()
    live.SHARED_ONTOLOGY_DIR = str(folder)
    return str(folder)


@pytest.fixture
def onto_app(tmp_path, sqlite_url, shipped_ontology_dir):
    app = build_app(tmp_path, sqlite_url, JOBS_EAGER=True, ONTOLOGY_DIR=shipped_ontology_dir)
    yield app
    from server.extensions import db

    db.dispose()


@pytest.fixture
def onto_admin(onto_app):
    create_user(onto_app, "root", is_admin=True)
    return login(onto_app.test_client(), "root")


# ------------------------------------------------------------------ browser tests: one live server per module

@pytest.fixture(scope="module")
def live(tmp_path_factory, shipped_ontology_dir):
    from live import CHROMIUM, LiveServer

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with LiveServer(str(tmp_path_factory.mktemp("browser-live"))) as server:
        yield server


@pytest.fixture(scope="module")
def token(live):
    return live.token()


@pytest.fixture(scope="module")
def browser(live):
    from playwright.sync_api import sync_playwright

    from live import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()
