from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base
from server.models._types import JSONType, UTCDateTime, utcnow


class Item(Base):
    """One thing to annotate: a text (stored inline) or a media file (stored content-addressed on disk)."""

    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_project_id", "project_id", "id"),
        # "next item" walks this index: open items of a project in order, skipping full ones without a scan.
        Index("ix_items_queue", "project_id", "stage", "slots_taken", "id"),
        Index("ix_items_priority", "project_id", "stage", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(255), default="", nullable=False)  # original name, metadata only
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    storage_key: Mapped[str | None] = mapped_column(String(200))
    media_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    text: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    media_info: Mapped[dict | None] = mapped_column(JSONType)  # annotators.media.MediaInfo, from the sandboxed probe
    # Imported in place from a server folder: the file stays there (no copy); its hash is checked by the probe.
    source_path: Mapped[str | None] = mapped_column(String(1000))
    # processing (probe and derivatives running) | ready | invalid (status_reason says why)
    status: Mapped[str] = mapped_column(String(16), default="ready", nullable=False)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    deid_state: Mapped[str] = mapped_column(String(16), default="none", nullable=False)  # none|pending|done|failed
    stage: Mapped[str] = mapped_column(String(16), default="annotate", nullable=False)  # annotate|review|adjudicate|done
    slots_taken: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    priority: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)  # lower = sooner (uncertainty)
    is_gold_check: Mapped[bool] = mapped_column(default=False, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Annotation(Base):
    """One version of one author's annotation of an item. Edits bump `version` (optimistic concurrency)."""

    __tablename__ = "annotations"
    __table_args__ = (
        Index("ix_annotations_item", "item_id", "id"),
        Index("ix_annotations_project", "project_id", "id"),
        Index("ix_annotations_author", "project_id", "author_id"),
        UniqueConstraint("idempotency_key", name="uq_annotation_idempotency"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    model_version: Mapped[str | None] = mapped_column(String(120))  # "preannotator@version" for model drafts
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # human | model | import | consensus
    stage: Mapped[str] = mapped_column(String(16), nullable=False)  # annotate | review | adjudicate | gold
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # draft | submitted | accepted | rejected
    payload: Mapped[dict] = mapped_column(JSONType, nullable=False)
    score: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    comment: Mapped[str | None] = mapped_column(Text)
    time_spent_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class Assignment(Base):
    """A user's lease on an item at a stage. Expired leases return the slot to the pool."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("item_id", "user_id", "stage", name="uq_assignment"),
        Index("ix_assignments_user", "project_id", "user_id", "status"),
        Index("ix_assignments_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    stage: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="active", nullable=False)  # active|submitted|skipped|expired
    lease_expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
