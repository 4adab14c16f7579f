"""Outgoing mail. Sent by a job over SMTP, or kept in the outbox when no SMTP is configured."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow


class Mail(db.Model):
    __tablename__ = "mails"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    # Cleared once sent over SMTP: bodies carry single-use links that need not outlive delivery.
    body: Mapped[Optional[str]] = mapped_column(Text)
    transport: Mapped[str] = mapped_column(String(10))  # smtp | outbox
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | sent | failed | kept
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_mails_created_at", "created_at"),)
