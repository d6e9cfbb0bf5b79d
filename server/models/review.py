from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base
from server.models._types import JSONType, UTCDateTime, utcnow


class ItemAgreement(Base):
    """Agreement among an item's k versions, and with the model's draft; written when the k-th version arrives,
    so dashboards aggregate rows instead of recomputing every pair (incremental)."""

    __tablename__ = "item_agreements"
    __table_args__ = (Index("ix_item_agreements_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), nullable=False, unique=True)
    agreement: Mapped[float] = mapped_column(Float, nullable=False)
    model_agreement: Mapped[float | None] = mapped_column(Float)
    pairs: Mapped[list] = mapped_column(JSONType, nullable=False)  # [{a, b, metrics}]
    reason: Mapped[str] = mapped_column(String(300), default="", nullable=False)
    # Lowest pairwise value per layer the modality declares (e.g. entities, assertion, phi) and the number of
    # conflicts the majority merge could not resolve: auto-consensus needs every layer above threshold and none.
    layers: Mapped[dict | None] = mapped_column(JSONType)
    conflicts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class AnnotationDraft(Base):
    """Work in progress autosaved from the annotator's page: one per item, user and stage, separate from the
    annotation itself so an autosave never changes submitted work. `revision` rises with each save; a save
    from a stale tab gets 409 instead of overwriting newer edits. Deleted when the annotation is saved."""

    __tablename__ = "annotation_drafts"
    __table_args__ = (UniqueConstraint("item_id", "user_id", "stage", name="uq_annotation_draft"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    stage: Mapped[str] = mapped_column(String(16), nullable=False)
    payload: Mapped[dict] = mapped_column(JSONType, nullable=False)
    # What the payload cannot say, for the page to restore exactly (e.g. ids of model suggestions still undecided).
    ui_state: Mapped[dict | None] = mapped_column(JSONType)
    revision: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    base_annotation_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id", ondelete="SET NULL"))
    base_version: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class AgreementSnapshot(Base):
    """Project-level agreement computed by a queued job; the dashboard shows the latest and the history."""

    __tablename__ = "agreement_snapshots"
    __table_args__ = (Index("ix_agreement_snapshots_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    items: Mapped[int] = mapped_column(Integer, nullable=False)
    metrics: Mapped[dict] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class ReviewComment(Base):
    """A reviewer's note when sending work back, or a guideline question; shown in the annotator's queue."""

    __tablename__ = "review_comments"
    __table_args__ = (Index("ix_review_comments_user", "project_id", "to_user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), nullable=False)
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # send_back | question
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
