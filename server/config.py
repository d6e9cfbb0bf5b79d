"""Configuration from CLINLABEL_* environment variables (a .env file is read too).

Secrets are never defaulted in code: a missing SECRET_KEY is generated once into the data directory.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_PORT = 8000


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"CLINLABEL_{name}", default)


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"CLINLABEL_{name} must be an integer, got {raw!r}") from None


def _secret_key(data_dir: Path, name: str = "secret_key") -> str:
    explicit = _env("SECRET_KEY") if name == "secret_key" else None
    if explicit:
        return explicit
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
        os.replace(tmp, path)
    return path.read_text().strip()


LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _cookie_secure() -> bool:
    raw = (_env("COOKIE_SECURE", "") or "").strip().lower()
    if raw:
        if raw not in {"0", "1", "true", "false", "yes", "no"}:
            raise SystemExit(f"CLINLABEL_COOKIE_SECURE must be 0 or 1, got {raw!r}")
        return raw in {"1", "true", "yes"}
    bind = (_env("BIND", "127.0.0.1") or "127.0.0.1").strip()
    return bind not in LOOPBACK and not bind.startswith("127.")


def load_config(overrides: dict | None = None) -> dict:
    overrides = dict(overrides or {})
    data_dir = Path(overrides.get("DATA_DIR") or _env("DATA_DIR", "var")).resolve()
    database_url = overrides.get("DATABASE_URL") or _env("DATABASE_URL") or f"sqlite:///{data_dir / 'clinlabel.sqlite'}"
    broker_url = overrides.get("BROKER_URL") or _env("BROKER_URL") or f"sqla+sqlite:///{data_dir / 'broker.sqlite'}"
    cfg = {
        "DATA_DIR": str(data_dir),
        "MEDIA_DIR": str(data_dir / "media"),
        "EXPORT_DIR": str(data_dir / "exports"),
        # Built terminology indexes (a read-mostly cache; several instances may share one folder).
        "ONTOLOGY_DIR": _env("ONTOLOGY_DIR") or str(data_dir / "ontologies"),
        "DATABASE_URL": database_url,
        "BROKER_URL": broker_url,
        "PORT": _int("PORT", DEFAULT_PORT),
        "ADMIN_USER": _env("ADMIN_USER", "admin"),
        "ADMIN_PASSWORD": _env("ADMIN_PASSWORD"),
        "MAX_UPLOAD_MB": _int("MAX_UPLOAD_MB", 200),
        "MAX_MEDIA_GB": float(_env("MAX_MEDIA_GB", "50")),
        "UPLOAD_EXPIRY_HOURS": _int("UPLOAD_EXPIRY_HOURS", 24),
        # Folders the server may import from ("name=/path,other=/path"); set by the site admin only.
        "IMPORT_ROOTS": _env("IMPORT_ROOTS", "") or "",
        # Media, assets and exports: a local folder (default, DATA_DIR/media) or s3://bucket/prefix.
        "MEDIA_URL": _env("MEDIA_URL", "") or "",
        "S3_ENDPOINT_URL": _env("S3_ENDPOINT_URL", "") or "",
        "S3_REGION": _env("S3_REGION", "") or "",
        "S3_ACCESS_KEY_ID": _env("S3_ACCESS_KEY_ID", "") or "",
        "S3_SECRET_ACCESS_KEY": _env("S3_SECRET_ACCESS_KEY", "") or "",
        "S3_PRESIGN": (_env("S3_PRESIGN", "") or "").lower() in {"1", "true", "yes"},
        # Limits of the child process that probes and decodes untrusted media (server/sandbox.py).
        "SANDBOX_MEMORY_MB": _int("SANDBOX_MEMORY_MB", 2048),
        "SANDBOX_PROBE_CPU_S": _int("SANDBOX_PROBE_CPU_S", 60),
        "SANDBOX_PROBE_WALL_S": _int("SANDBOX_PROBE_WALL_S", 120),
        "SANDBOX_DERIVE_CPU_S": _int("SANDBOX_DERIVE_CPU_S", 1800),
        "SANDBOX_DERIVE_MIN_WALL_S": _int("SANDBOX_DERIVE_MIN_WALL_S", 120),  # scaled up with the media duration
        # Files larger than this go through resumable tus uploads in chunks of TUS_CHUNK_MB (<= MAX_UPLOAD_MB).
        "TUS_THRESHOLD_MB": float(_env("TUS_THRESHOLD_MB", "8")),
        "TUS_CHUNK_MB": float(_env("TUS_CHUNK_MB", "8")),
        "IDLE_TIMEOUT_MIN": _int("IDLE_TIMEOUT_MIN", 30),
        "SESSION_MAX_HOURS": float(_env("SESSION_MAX_HOURS", "12")),  # absolute session lifetime
        "TOKEN_TTL_HOURS": _int("TOKEN_TTL_HOURS", 24 * 30),
        # Throttles with exponential back-off (server/login_guard.py): failures of one account from one client,
        # of one client over all accounts, and of one account from all clients (a distributed guess).
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_CLIENT_MAX_FAILURES": _int("LOGIN_CLIENT_MAX_FAILURES", 20),
        "LOGIN_ACCOUNT_MAX_FAILURES": _int("LOGIN_ACCOUNT_MAX_FAILURES", 50),
        # Reverse proxies in front of the app that append X-Forwarded-For (1 behind the shipped nginx config).
        "PROXY_COUNT": _int("PROXY_COUNT", 0),
        "LOGIN_LOCKOUT_MIN": _int("LOGIN_LOCKOUT_MIN", 15),
        "JOB_LEASE_S": _int("JOB_LEASE_S", 30),
        "ASSIGNMENT_LEASE_MIN": _int("ASSIGNMENT_LEASE_MIN", 60),
        "WORKER_BATCH_DELAY_MS": _int("WORKER_BATCH_DELAY_MS", 0),
        "ALLOW_SIGNUP": False,
        # Several deployments (or test runs) can share one Redis/RabbitMQ when their queue names differ.
        "QUEUE_PREFIX": _env("QUEUE_PREFIX", ""),
    }
    cfg.update(overrides)
    cfg["SECRET_KEY"] = overrides.get("SECRET_KEY") or _secret_key(data_dir)
    # The audit chain's HMAC key: never in the database. Set the same CLINLABEL_AUDIT_KEY on every machine.
    cfg["AUDIT_KEY"] = overrides.get("AUDIT_KEY") or _env("AUDIT_KEY") or _secret_key(data_dir, "audit_key")
    # Encrypts TOTP secrets at rest (server/two_factor.py): like the audit key, never in the database.
    cfg["TOTP_KEY"] = overrides.get("TOTP_KEY") or _env("TOTP_KEY") or _secret_key(data_dir, "totp_key")
    cfg.setdefault("AUDIT_CHECKPOINT_FILE", _env("AUDIT_CHECKPOINT_FILE") or str(data_dir / "audit-checkpoints.jsonl"))
    cfg.setdefault("AUDIT_CHECKPOINT_S", _int("AUDIT_CHECKPOINT_S", 60))
    # The audit sealer (server/audit_sealer.py): a thread per web process and in the worker. Tests run without it
    # and seal synchronously, so nothing changes under them while they read the chain.
    cfg.setdefault("AUDIT_SEALER", _env("AUDIT_SEALER", "0" if cfg.get("TESTING") else "1") != "0")
    cfg.setdefault("AUDIT_SEAL_INTERVAL_S", float(_env("AUDIT_SEAL_INTERVAL_S", "0.2")))
    cfg.setdefault("AUDIT_SEAL_GRACE_S", float(_env("AUDIT_SEAL_GRACE_S", "0.25")))
    # `flask audit verify` reports unsealed rows older than this as a problem: no sealer is running.
    cfg.setdefault("AUDIT_UNSEALED_ALERT_S", _int("AUDIT_UNSEALED_ALERT_S", 60))
    cfg["MAX_CONTENT_LENGTH"] = int(cfg["MAX_UPLOAD_MB"]) * 1024 * 1024
    # Werkzeug's multipart limits stop "100k tiny parts" and huge in-memory form fields early.
    cfg["MAX_FORM_PARTS"] = 2000
    cfg["MAX_FORM_MEMORY_SIZE"] = 2 * 1024 * 1024
    cfg["SESSION_COOKIE_HTTPONLY"] = True
    # Secure cookies travel over HTTPS only: on by default whenever the server listens beyond loopback (then it
    # must sit behind the TLS front in deploy/nginx); CLINLABEL_COOKIE_SECURE=0/1 overrides.
    cfg.setdefault("COOKIE_SECURE", _cookie_secure())
    cfg["SESSION_COOKIE_SECURE"] = cfg["REMEMBER_COOKIE_SECURE"] = bool(cfg["COOKIE_SECURE"])
    cfg["SESSION_COOKIE_SAMESITE"] = "Lax"
    cfg["WTF_CSRF_TIME_LIMIT"] = None  # the session idle timeout bounds the token's life
    return cfg
