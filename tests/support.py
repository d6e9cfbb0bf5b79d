"""Helpers shared by test modules (import from here, not from conftest: several conftest.py files exist)."""
from __future__ import annotations

import contextlib
import os
import socket
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PASSWORD = "correct-horse-battery"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def postgres_admin_url() -> str | None:
    url = os.environ.get("CLINLABEL_TEST_POSTGRES_URL")
    if url:
        return url
    if _port_open("127.0.0.1", 5432):
        return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    return None


def redis_url() -> str | None:
    return "redis://127.0.0.1:6379/15" if _port_open("127.0.0.1", 6379) else None


def fresh_schema(url: str) -> None:
    from sqlalchemy import create_engine, text

    import server.models  # noqa: F401
    from server.db import Base

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
        Base.metadata.create_all(conn)
    engine.dispose()


def build_app(tmp_path, database_url, **overrides):
    from server import create_app
    from server.db import Base
    from server.extensions import db

    config = {"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url, "SECRET_KEY": "test-" + uuid.uuid4().hex,
              "BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}", "TESTING": True}
    config.update(overrides)
    app = create_app(config)
    if database_url.startswith("sqlite"):
        Base.metadata.create_all(db.engine)
    return app


def create_user(app, username: str, is_admin: bool = False, password: str = PASSWORD):
    from server.auth import hash_password
    from server.extensions import db
    from server.models import User

    with app.app_context():
        user = User(username=username, password_hash=hash_password(password), is_admin=is_admin)
        db.session.add(user)
        db.session.commit()
        return user.id


class Api:
    """A logged-in API caller: `api.get("/projects")` → (status, json)."""

    def __init__(self, client, token: str):
        self.client, self.token = client, token

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, json=None, **kw):
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        resp = self.client.open(f"/api/v1{path}", method=method, json=json, headers=headers, **kw)
        return resp.status_code, (resp.get_json(silent=True) if resp.data else None)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json, **kw)

    def patch(self, path, json=None, **kw):
        return self.call("PATCH", path, json, **kw)

    def delete(self, path, json=None, **kw):
        return self.call("DELETE", path, json, **kw)


def login(client, username: str, password: str = PASSWORD) -> Api:
    resp = client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert resp.status_code == 201, resp.get_json()
    return Api(client, resp.get_json()["token"])


def form_login(client, username: str, password: str = PASSWORD):
    """Log in through the /login form (with its CSRF token), as a browser does; returns the response."""
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


@contextlib.contextmanager
def sqlite_write_lock(database_url: str):
    """Another connection holds SQLite's write lock (a long import elsewhere) inside the block."""
    import sqlite3

    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield holder
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def add_texts(api: Api, project_id: int, texts: list[str]) -> list[int]:
    status, body = api.post(f"/projects/{project_id}/items", [{"text": t} for t in texts])
    assert status == 201, body
    return [c["id"] for c in body["created"]]


def huge_note(extra_spans: int = 4200) -> tuple[str, list[dict]]:
    """The walkthrough's long discharge summary: 1,000,000 characters, ~50,000 entity spans (every "fever", and
    the word before the first `extra_spans` of them)."""
    import re

    text = ("Patient denies fever. " * 46_000)[:1_000_000]
    starts = [m.start() for m in re.finditer("fever", text)]
    spans = [{"id": f"s{i}", "start": s, "end": s + 5, "label": "PROBLEM", "layer": "entity"}
             for i, s in enumerate(starts)]
    spans += [{"id": f"d{i}", "start": s - 7, "end": s - 1, "label": "PROBLEM", "layer": "entity"}
              for i, s in enumerate(starts[:extra_spans])]
    return text, spans
