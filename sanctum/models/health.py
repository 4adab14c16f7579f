"""A short history of health checks per agent or tool (the newest few are kept)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow


class HealthCheck(db.Model):
    __tablename__ = "health_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(10))  # agent | tool
    subject_id: Mapped[int] = mapped_column(Integer)  # rows go with their subject (deleted by the service)
    status: Mapped[str] = mapped_column(String(20))
    latency_ms: Mapped[Optional[int]] = mapped_column(Integer)
    message: Mapped[Optional[str]] = mapped_column(String(500))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_health_checks_subject", "subject_type", "subject_id", "checked_at"),)
