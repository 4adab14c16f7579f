"""Tool cards (seed 002 `tools`), grouped by category in tabs."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow


class Tool(db.Model):
    __tablename__ = "tools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True)  # seed 002's string id; the seed API's `id`
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    emoji: Mapped[Optional[str]] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(50), index=True)  # master, an agent's name, smcp, …
    status: Mapped[str] = mapped_column(String(20), default="Ready")
    status_message: Mapped[Optional[str]] = mapped_column(String(500))
    checked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    route_path: Mapped[Optional[str]] = mapped_column(String(500))  # a path in Sanctum or a URL
    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    health_check_url: Mapped[Optional[str]] = mapped_column(String(500))
    health_check_interval: Mapped[int] = mapped_column(Integer, default=60)  # seconds
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_external(self) -> bool:
        return bool(self.route_path) and "://" in self.route_path

    def __repr__(self) -> str:
        return f"<Tool {self.slug}>"
