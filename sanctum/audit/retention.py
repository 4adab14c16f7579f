"""Retention: old audit events are purged in batches behind an anchor that keeps the chain whole.

The purge first appends an `audit.purged` event naming the last row it will delete and
that row's hash, commits it, then deletes up to that row in ascending batches. At every
moment the kept rows verify: `verify_chain` accepts a chain that starts at or before the
anchor's row and checks the first row after it links to the anchor's hash. Deleting rows
past the anchor, or the anchor itself, still shows.

On PostgreSQL a trigger refuses UPDATE and DELETE on `audit_events`; the purge's own
transactions set `sanctum.audit_purge` to be let through (migration 0006).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Optional

from flask import current_app
from sqlalchemy import delete, func, select, text

from sanctum import audit
from sanctum.audit.service import PURGE_ACTION
from sanctum.database import is_postgresql
from sanctum.extensions import db
from sanctum.models import AuditEvent
from sanctum.models.base import utcnow
from sanctum.settings.service import get_setting

RETENTION_SETTING = "audit_retention_days"
MAX_RETENTION_DAYS = 3650

# The setting itself is declared with the other retention settings (sanctum.settings.service).


def retention_days() -> int:
    try:
        return max(0, int(get_setting(RETENTION_SETTING)))
    except (TypeError, ValueError):
        return int(current_app.config["AUDIT_RETENTION_DAYS"])


def set_retention_days(days: int, *, actor) -> None:
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise ValueError(f"Keep events between 0 (forever) and {MAX_RETENTION_DAYS} days.")
    from sanctum.settings.service import set_setting

    set_setting(RETENTION_SETTING, days, actor=actor)
    db.session.commit()


@dataclass
class PurgeResult:
    deleted: int
    through_seq: Optional[int] = None
    anchor_seq: Optional[int] = None


def purge_expired(*, days: Optional[int] = None, batch_size: int = 5000,
                  progress: Optional[Callable[[int, int], None]] = None) -> PurgeResult:
    """Delete events older than the retention period (the setting unless `days` is given)."""
    days = retention_days() if days is None else days
    if days <= 0:
        return PurgeResult(0)
    cutoff = utcnow() - timedelta(days=days)
    first = db.session.scalar(select(func.min(AuditEvent.seq)))
    if first is None:
        return PurgeResult(0)
    # The first event young enough to keep, found through the created_at index.
    keep_from = db.session.scalar(
        select(AuditEvent.seq).where(AuditEvent.created_at >= cutoff).order_by(AuditEvent.created_at).limit(1)
    )
    through = (keep_from - 1) if keep_from is not None else db.session.scalar(select(func.max(AuditEvent.seq)))
    if through < first:
        db.session.rollback()
        return PurgeResult(0)
    through_hash = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == through))
    total = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.seq <= through))
    anchor = audit.record(PURGE_ACTION, target_type="audit_log", details={
        "through_seq": through, "through_hash": through_hash, "rows": total,
        "older_than": cutoff.isoformat(timespec="seconds"), "retention_days": days})
    db.session.commit()
    anchor_seq = anchor.seq

    deleted, low = 0, first
    while low <= through:
        high = min(low + batch_size - 1, through)
        allow_purge()
        result = db.session.execute(delete(AuditEvent).where(AuditEvent.seq >= low, AuditEvent.seq <= high))
        db.session.commit()
        deleted += result.rowcount or 0
        low = high + 1
        if progress is not None:
            progress(deleted, total)
    return PurgeResult(deleted, through, anchor_seq)


def allow_purge() -> None:
    """Let this transaction delete audit rows past the PostgreSQL append-only trigger."""
    if is_postgresql():
        db.session.execute(text("SELECT set_config('sanctum.audit_purge', 'on', true)"))
