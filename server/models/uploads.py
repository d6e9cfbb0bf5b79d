from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base
from server.models._types import JSONType, UTCDateTime, utcnow


class Upload(Base):
    """A resumable (tus 1.0) upload in progress: bytes land in a file under DATA_DIR/uploads until the upload is
    complete and turned into items; abandoned ones are swept after they expire."""

    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_expiry", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, unguessable
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    length: Mapped[int] = mapped_column(BigInteger, nullable=False)
    offset: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    filename: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    filetype: Mapped[str] = mapped_column(String(100), default="", nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="open", nullable=False)  # open | complete | importing | consumed
    item_ids: Mapped[list | None] = mapped_column(JSONType)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
