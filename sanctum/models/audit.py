"""Audit events: append-only and hash-chained so that a changed or deleted row shows."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, cast
from sqlalchemy.orm import Mapped, mapped_column

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # Position in the chain: gapless, in commit order (see sanctum.audit.service).
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[Optional[int]] = mapped_column(Integer)
    actor_label: Mapped[Optional[str]] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[Optional[str]] = mapped_column(String(50))
    target_id: Mapped[Optional[str]] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20), default="success")
    ip: Mapped[Optional[str]] = mapped_column(String(64))
    user_agent: Mapped[Optional[str]] = mapped_column(String(512))
    request_id: Mapped[Optional[str]] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    # One index per viewer filter, each ending in `seq` so a filtered page is read in keyset
    # order straight from the index (sanctum.audit.query). Prefix filters (action "auth.",
    # ip "10.1.") use LIKE on PostgreSQL, hence the pattern operator class there.
    __table_args__ = (
        Index("ix_audit_events_action_seq", "action", "seq", postgresql_ops={"action": "varchar_pattern_ops"}),
        Index("ix_audit_events_actor_seq", "actor_id", "seq"),
        Index("ix_audit_events_target_seq", "target_type", "target_id", "seq"),
        Index("ix_audit_events_outcome_seq", "outcome", "seq"),
        Index("ix_audit_events_ip_seq", "ip", "seq", postgresql_ops={"ip": "varchar_pattern_ops"}),
        Index("ix_audit_events_created_at", "created_at"),
        # Free text over details on PostgreSQL, when migration 0006 could enable pg_trgm.
        Index("ix_audit_events_details_trgm", cast(details, Text).label("details_text"),
              postgresql_using="gin", postgresql_ops={"details_text": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    def __repr__(self) -> str:
        return f"<AuditEvent {self.seq} {self.action} {self.outcome}>"


class AuditChainHead(db.Model):
    """One row: the last sequence number and hash.

    Updating it first thing in `record()` takes a row lock (PostgreSQL) or the write
    lock (SQLite) until the caller's transaction ends, so concurrent writers append
    one after another and never fork the chain.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
