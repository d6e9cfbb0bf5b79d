from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from server.db import Base
from server.models._types import JSONType, UTCDateTime, utcnow
from server.text_checks import identifier_key


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    # NFKC + casefold + trim: `ADMIN`, ` admin ` and full-width `ａｄｍｉｎ` cannot be three accounts.
    username_key: Mapped[str] = mapped_column(String(80), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped by logout, password change, disabling and membership removal: every session cookie issued before
    # carries the old number and stops working at its next request (cookies are signed, not stored).
    session_version: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    # TOTP (RFC 6238): the secret is encrypted with a key kept outside the database (server/two_factor.py);
    # recovery codes are stored as SHA-256 digests and crossed out when used.
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # a code works once (no replay)
    recovery_codes: Mapped[list] = mapped_column(JSONType, default=list, nullable=False)

    tokens = relationship("ApiToken", back_populates="user", cascade="all, delete-orphan")

    @validates("username")
    def _keep_key(self, _key, value):
        self.username_key = identifier_key(value)
        return value

    # flask-login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Base):
    """Bearer token for scripts. Only a SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User", back_populates="tokens")


class LoginAttempt(Base):
    """Each password check, for throttling per client, per account and per (account, client); pruned daily."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_account", "username_key", "time"),
                      Index("ix_login_attempts_client", "client", "time"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    username_key: Mapped[str] = mapped_column(String(80), nullable=False)
    client: Mapped[str] = mapped_column(String(64), nullable=False)
    ok: Mapped[bool] = mapped_column(Boolean, nullable=False)


class SiteSetting(Base):
    """Site-wide settings a site admin changes at run time (e.g. which roles must use two-factor login)."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[dict] = mapped_column(JSONType, nullable=False)
