"""Announcements: banners shown to an audience between a start and an optional end."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow
from sanctum.models.user import User

ANNOUNCEMENT_LEVELS = ("info", "warning", "critical")


class Announcement(db.Model):
    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown, sanitised when rendered
    level: Mapped[str] = mapped_column(String(20), default="info")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ends_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # Role names; empty means everyone. Names, not ids: the audience reads as it was written.
    audience_roles: Mapped[list] = mapped_column(JSON, default=list)
    # Set once the audience was notified (at publication, or by the job when a scheduled one starts).
    notified_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    created_by: Mapped[Optional[User]] = relationship()

    __table_args__ = (Index("ix_announcements_window", "starts_at", "ends_at"),)

    @property
    def for_everyone(self) -> bool:
        return not self.audience_roles

    @property
    def dismissible(self) -> bool:
        """Critical announcements stay until they end: they are the ones nobody may miss."""
        return self.level != "critical"

    def state(self, now: datetime) -> str:
        if self.ends_at is not None and self.ends_at <= now:
            return "ended"
        if self.starts_at > now:
            return "scheduled"
        return "current"

    def reaches(self, role_name: str) -> bool:
        return self.for_everyone or role_name in self.audience_roles

    def __repr__(self) -> str:
        return f"<Announcement {self.id} {self.level}>"


class AnnouncementDismissal(db.Model):
    __tablename__ = "announcement_dismissals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), index=True)
    dismissed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "announcement_id", name="uq_announcement_dismissals_user_id"),)
