"""Broca databases registered for user discovery (seed 002), and who in them is whom here."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow
from sanctum.models.invitation import Invitation
from sanctum.models.user import User


class BrocaSource(db.Model):
    """A Broca SQLite file on the server. Sanctum only ever opens it read-only."""

    __tablename__ = "broca_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    created_by: Mapped[Optional[User]] = relationship(lazy="joined")


class BrocaLink(db.Model):
    """A Broca person (a `letta_users` row) tied to a Sanctum account, or invited to become one.

    `user_id` is set once linked (directly, or when the invitation is accepted). A row whose
    invitation was revoked or expired and that has no user counts as not linked.
    """

    __tablename__ = "broca_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("broca_sources.id", ondelete="CASCADE"))
    letta_user_id: Mapped[int] = mapped_column(Integer)
    # What the person was called in Broca when linked, so lists need not open the file.
    label: Mapped[str] = mapped_column(String(255))
    profiles: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"),
                                                         index=True)
    linked_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    linked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    user: Mapped[Optional[User]] = relationship(foreign_keys=[user_id], lazy="joined")
    invitation: Mapped[Optional[Invitation]] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("source_id", "letta_user_id", name="uq_broca_links_source_person"),
        Index("ix_broca_links_source_user", "source_id", "user_id"),
    )

    @property
    def state(self) -> str:
        if self.user_id is not None:
            return "linked"
        if self.invitation is not None and self.invitation.effective_status == "pending":
            return "invited"
        return "unlinked"
