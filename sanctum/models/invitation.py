"""Invitations (seed 001 "invitations"): single or from a CSV import, accepted once by their link."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow
from sanctum.models.rbac import Role
from sanctum.models.user import User

INVITATION_STATUSES = ("pending", "accepted", "revoked", "expired")


class Invitation(db.Model):
    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254))  # stored lower-cased
    # SET NULL: deleting a custom role must not fail on its old invitations; accepting one then
    # says the role is gone.
    role_id: Mapped[Optional[int]] = mapped_column(ForeignKey("roles.id", ondelete="SET NULL"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the mailed token
    status: Mapped[str] = mapped_column(String(20), default="pending")
    note: Mapped[Optional[str]] = mapped_column(String(500))  # for admins; never mailed
    valid_days: Mapped[int] = mapped_column(Integer, default=7)
    invited_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    batch_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invitation_batches.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    send_count: Mapped[int] = mapped_column(Integer, default=1)
    accepted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    accepted_user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    role: Mapped[Optional[Role]] = relationship(lazy="joined")
    invited_by: Mapped[Optional[User]] = relationship(foreign_keys=[invited_by_id], lazy="joined")

    __table_args__ = (
        # One live invitation per address; accepted, revoked and expired ones may pile up.
        Index("uq_invitations_pending_email", "email", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
        Index("ix_invitations_status_created", "status", "created_at"),
        Index("ix_invitations_status_expires", "status", "expires_at"),
        Index("ix_invitations_email", "email"),
    )

    @property
    def effective_status(self) -> str:
        """`expired` as soon as the time is up, before the expiry job gets to the row."""
        if self.status == "pending" and self.expires_at <= utcnow():
            return "expired"
        return self.status

    def __repr__(self) -> str:
        return f"<Invitation {self.id} {self.email} {self.status}>"


class InvitationBatch(db.Model):
    """A CSV upload. The file is kept in the database (not on a disk a worker on another host
    could not see) until the import job has read it, then dropped: the report rows remain."""

    __tablename__ = "invitation_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[Optional[str]] = mapped_column(Text)
    role_id: Mapped[Optional[int]] = mapped_column(ForeignKey("roles.id", ondelete="SET NULL"))
    valid_days: Mapped[int] = mapped_column(Integer, default=7)
    note: Mapped[Optional[str]] = mapped_column(String(500))
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    job_id: Mapped[Optional[int]] = mapped_column(Integer)  # the JobRecord running the import
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | finished | failed
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # outcome → rows
    notices: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. "ignored column: phone"
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    role: Mapped[Optional[Role]] = relationship(lazy="joined")
    created_by: Mapped[Optional[User]] = relationship(lazy="joined")

    @property
    def finished(self) -> bool:
        return self.status in ("finished", "failed")


class InvitationBatchRow(db.Model):
    """One line of an import's report: what happened to it and why."""

    __tablename__ = "invitation_batch_rows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("invitation_batches.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)  # line number in the file, header = 1
    email: Mapped[str] = mapped_column(String(254))
    outcome: Mapped[str] = mapped_column(String(20))  # created | duplicate | already_user | invalid
    detail: Mapped[Optional[str]] = mapped_column(String(255))
    invitation_id: Mapped[Optional[int]] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"))

    __table_args__ = (
        Index("ix_invitation_batch_rows_batch_line", "batch_id", "line"),
        Index("ix_invitation_batch_rows_batch_email", "batch_id", "email"),
        Index("ix_invitation_batch_rows_batch_outcome", "batch_id", "outcome"),
    )
