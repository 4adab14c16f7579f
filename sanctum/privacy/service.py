"""Exports of a person's data: requested, built by a job, downloaded by whoever asked, dropped
after a while. Each step is audited."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Optional

from flask import current_app
from sqlalchemy import select

from sanctum import audit, jobs
from sanctum.extensions import db
from sanctum.models import DataExport, JobRecord, User
from sanctum.models.base import utcnow
from sanctum.privacy.export import build_document

EXPORT_HOURS = 48


class PrivacyError(ValueError):
    """Refused; the message is safe to show. `field` names the form field at fault."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


def export_hours() -> int:
    return int(current_app.config.get("EXPORT_RETENTION_HOURS", EXPORT_HOURS))


def request_export(*, user: User, actor: User) -> DataExport:
    """Queue an export of `user`'s data for `actor` (the user themselves, or an admin). Commits."""
    unfinished = db.session.scalars(select(DataExport).where(
        DataExport.user_id == user.id, DataExport.requested_by_id == actor.id,
        DataExport.status.in_(("queued", "running"))))
    if any(export_state(other)[0] in ("queued", "running") for other in unfinished):
        raise PrivacyError("An export of this account is already being prepared.")
    export = DataExport(user_id=user.id, requested_by_id=actor.id, status="queued", sections=[])
    db.session.add(export)
    db.session.flush()
    record = jobs.enqueue("sanctum.privacy.jobs.build_export", export.id, description=f"data export {export.id}")
    export.job_id = record.id
    audit.record("privacy.export_requested", actor=actor, target=user,
                 details={"export_id": export.id, "by_admin": actor.id != user.id})
    db.session.commit()
    return export


def build_export(export_id: int) -> None:
    """The job body. Idempotent: a finished export is left alone; a retried one starts over."""
    export = db.session.get(DataExport, export_id)
    if export is None or export.status not in ("queued", "running"):
        return
    export.status = "running"
    user_id, requested_by_id = export.user_id, export.requested_by_id
    db.session.commit()
    document = build_document(user_id, requested_by_id, progress=jobs.report_progress)
    content = json.dumps(document, ensure_ascii=False, indent=1, default=str)
    export = db.session.get(DataExport, export_id)
    if export is None:  # erased while it was being built: nothing to keep
        db.session.rollback()
        return
    now = utcnow()
    export.content = content
    export.size_bytes = len(content.encode())
    export.sections = list(document["sections"])
    export.status, export.finished_at, export.expires_at = "ready", now, now + timedelta(hours=export_hours())
    audit.record("privacy.export_ready", actor=db.session.get(User, requested_by_id), target_type="user",
                 target_id=user_id, details={"export_id": export_id, "size_bytes": export.size_bytes,
                                             "sections": export.sections})
    db.session.commit()


def export_state(export: DataExport) -> tuple[str, Optional[str]]:
    """(status, error): `failed` when the job gave up, `expired` when the time is up."""
    if export.status == "ready" and export.expires_at and export.expires_at <= utcnow():
        return "expired", None
    if export.status in ("queued", "running") and export.job_id:
        record = db.session.get(JobRecord, export.job_id)
        if record is not None and record.status == "failed":
            return "failed", "Preparing the export failed. Try again; if it keeps failing, tell an administrator."
    return export.status, None


def owned_export(export_id: int, owner: User) -> Optional[DataExport]:
    """Only the person who asked for an export may see it: anyone else's id is simply not found."""
    return db.session.scalar(select(DataExport).where(DataExport.id == export_id,
                                                      DataExport.requested_by_id == owner.id))


def record_download(*, export: DataExport, actor: User) -> str:
    """The document, once its download is audited. Commits."""
    if export_state(export)[0] != "ready" or export.content is None:
        raise PrivacyError("This export is no longer available. Ask for a new one.")
    export.download_count += 1
    export.last_downloaded_at = utcnow()
    audit.record("privacy.export_downloaded", actor=actor, target_type="user", target_id=export.user_id,
                 details={"export_id": export.id, "size_bytes": export.size_bytes})
    content = export.content
    db.session.commit()
    return content


def exports_by(owner: User, *, user: Optional[User] = None, limit: int = 20) -> list[DataExport]:
    query = select(DataExport).where(DataExport.requested_by_id == owner.id)
    if user is not None:
        query = query.where(DataExport.user_id == user.id)
    return list(db.session.scalars(query.order_by(DataExport.id.desc()).limit(limit)))


def purge_expired_exports() -> int:
    """Periodic: drop documents whose download window closed."""
    rows = db.session.scalars(select(DataExport).where(DataExport.status == "ready",
                                                       DataExport.expires_at <= utcnow())).all()
    for export in rows:
        export.status, export.content = "expired", None
        audit.record("privacy.export_expired", target_type="user", target_id=export.user_id,
                     details={"export_id": export.id, "downloads": export.download_count})
    db.session.commit()
    return len(rows)
