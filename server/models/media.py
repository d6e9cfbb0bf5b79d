from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base
from server.models._types import JSONType, UTCDateTime, utcnow


class Asset(Base):
    """A file derived from an item's media by one of the modality's derivatives (waveform peaks, frame index,
    browser proxy, thumbnails), stored content-addressed like the media itself and served as ?variant=NAME."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("item_id", "name", name="uq_asset_item_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    media_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_key: Mapped[str] = mapped_column(String(200), nullable=False)
    producer: Mapped[str] = mapped_column(String(120), nullable=False)  # "modality/derivative@version"
    meta: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class PredictionCheckpoint(Base):
    """The last checkpoint of a long prediction (one item, one model version): the state `predict` resumes from
    after its worker was lost. The partial payload itself is the model draft annotation (status "partial")."""

    __tablename__ = "prediction_checkpoints"
    __table_args__ = (UniqueConstraint("item_id", "model_key", name="uq_checkpoint_item_model"),
                      Index("ix_checkpoints_item", "item_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), nullable=False)
    model_key: Mapped[str] = mapped_column(String(160), nullable=False)
    state: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
