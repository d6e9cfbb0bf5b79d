from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base
from server.models._types import UTCDateTime, utcnow


class ConceptAlias(Base):
    """A mention people linked to a concept (learned from accepted annotations); ranks that concept first."""

    __tablename__ = "concept_aliases"
    __table_args__ = (
        UniqueConstraint("project_id", "mention", "terminology", "code", name="uq_concept_alias"),
        Index("ix_concept_alias_lookup", "project_id", "mention"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    mention: Mapped[str] = mapped_column(String(300), nullable=False)
    terminology: Mapped[str] = mapped_column(String(64), nullable=False)
    code: Mapped[str] = mapped_column(String(128), nullable=False)
    count: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
