"""PostgreSQL connections from the pool (server/db.py): pinged before use only after an idle spell, a stale one
replaced before any request sees it, and JSON written by orjson as the standard encoder would have written it."""
from __future__ import annotations

import importlib
import json
import time

import pytest
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import OperationalError

# The module itself (the package's `server.db` attribute is the app's database handle).
database = importlib.import_module("server.db")


@pytest.fixture
def engine(postgres_database):
    engine = database.make_engine(postgres_database)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine, monkeypatch) -> list[int]:
    seen: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection):
        seen.append(1)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return seen


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def terminate(url: str, pid: int) -> None:
    """End a backend from outside, as a server restart or an idle-session timeout does, and wait until it is gone."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            deadline = time.monotonic() + 10
            while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).scalar():
                assert time.monotonic() < deadline, "the backend did not end"
                time.sleep(0.02)
    finally:
        admin.dispose()


def test_a_connection_just_checked_in_is_not_pinged_again(engine, pings):
    first = backend_pid(engine)
    assert len(pings) == 1  # a connection the pool has not handed out before is pinged
    for _ in range(5):
        assert backend_pid(engine) == first
    assert len(pings) == 1


def test_a_connection_idle_past_the_window_is_pinged(engine, pings, monkeypatch):
    backend_pid(engine)
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.05)
    time.sleep(0.1)
    backend_pid(engine)
    assert len(pings) == 2


def test_a_stale_idle_connection_is_replaced_before_use(engine, pings, postgres_database, monkeypatch):
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)
    first = backend_pid(engine)
    terminate(postgres_database, first)
    second = backend_pid(engine)  # no error: the ping found the connection dead and the pool made a new one
    assert second != first
    assert len(pings) >= 2


def test_a_connection_that_died_within_the_window_fails_once_and_the_pool_recovers(engine, postgres_database,
                                                                                   monkeypatch):
    monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 3600.0)
    first = backend_pid(engine)
    terminate(postgres_database, first)
    with pytest.raises(OperationalError) as failed:
        backend_pid(engine)
    assert failed.value.connection_invalidated  # errors.py answers this 503 with Retry-After
    assert backend_pid(engine) != first


JSON_CASES = [
    {"labels": ["routine"], "nested": {"deep": [1, 2.5, None, True, False]}},
    {"text": "Émile – naïve café ✓ \u2028 \"quoted\" \\ back", "empty": {}, "list": []},
    {"big": 2 ** 70, "negative": -(2 ** 65), "exact": 12345678901234567890123},
    [1, "two", {"three": 3}],
    "a plain string",
    1.0e16,
]


@pytest.mark.parametrize("value", JSON_CASES)
def test_json_values_are_stored_as_the_standard_encoder_stored_them(engine, value):
    with engine.begin() as conn:
        stored = conn.execute(text("SELECT CAST(:v AS jsonb)").bindparams(bindparam("v", type_=JSONB)),
                              {"v": value}).scalar()
        standard = conn.execute(text("SELECT CAST(CAST(:v AS text) AS jsonb)"),
                                {"v": json.dumps(value)}).scalar()
    assert stored == standard == value


def test_integer_keys_are_written_as_strings_as_before(engine):
    with engine.begin() as conn:
        stored = conn.execute(text("SELECT CAST(:v AS jsonb)").bindparams(bindparam("v", type_=JSONB)),
                              {"v": {1: "one", "2": "two"}}).scalar()
    assert stored == {"1": "one", "2": "two"}


def test_what_the_standard_encoder_refused_is_still_refused(engine):
    import datetime

    # (raised by the encoder inside psycopg, as it was with the standard encoder there)
    with engine.begin() as conn, pytest.raises(TypeError, match="not JSON serializable"):
        conn.execute(text("SELECT CAST(:v AS jsonb)").bindparams(bindparam("v", type_=JSONB)),
                     {"v": {"when": datetime.datetime(2026, 1, 1)}})
