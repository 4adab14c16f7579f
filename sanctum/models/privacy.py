"""Data rights (seed 003): exports of a person's data, and the record that an account was erased."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow
from sanctum.models.user import User


class DataExport(db.Model):
    """A JSON document of everything Sanctum holds about `user`, built by a job.

    Only `requested_by` may download it (the person themselves, or the admin who asked),
    and only until `expires_at`; then the document is dropped and the row says so.
    """

    __tablename__ = "data_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | ready | expired
    job_id: Mapped[Optional[int]] = mapped_column(Integer)
    content: Mapped[Optional[str]] = mapped_column(Text)
    size_bytes: Mapped[Optional[int]] = mapped_column(Integer)
    sections: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    download_count: Mapped[int] = mapped_column(Integer, default=0)
    last_downloaded_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")

    __table_args__ = (Index("ix_data_exports_status_expires", "status", "expires_at"),)


class UserErasure(db.Model):
    """That an account was erased, when, by whom and how its chats were treated.

    The user row stays (anonymised) so that ids in the audit log still point somewhere; the
    audit rows themselves are never touched: their chain must keep verifying.
    """

    __tablename__ = "user_erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    pseudonym: Mapped[str] = mapped_column(String(64))
    erased_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    chats_mode: Mapped[str] = mapped_column(String(20))  # anonymise | delete
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what each eraser did

    erased_by: Mapped[Optional[User]] = relationship(foreign_keys=[erased_by_id], lazy="joined")
