"""A row per background job, so the UI can show what ran, what failed and why."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow

JOB_STATUSES = ("queued", "running", "succeeded", "failed")


class JobRecord(db.Model):
    __tablename__ = "job_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # dotted path of the job function
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    description: Mapped[Optional[str]] = mapped_column(String(255))
    # Who asked for it, when a person did: they may watch its progress without `jobs.view`.
    owner_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    timeout: Mapped[int] = mapped_column(Integer, default=300)
    error: Mapped[Optional[str]] = mapped_column(Text)
    progress_current: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[Optional[int]] = mapped_column(Integer)
    result: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    run_after: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_job_records_status_created", "status", "created_at"),)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    @property
    def duration_seconds(self) -> Optional[float]:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    def __repr__(self) -> str:
        return f"<JobRecord {self.id} {self.name} {self.status}>"
