"""Bulk invitations from a CSV upload, run as a job with a per-row report.

The upload is checked and stored in the database at once (a worker on another host reads
it from there); the job then works through the rows in chunks, committing each chunk's
invitations together with its report rows. A retried job resumes after the last committed
chunk, so no row is invited twice.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import case, func, select

from sanctum import audit, jobs
from sanctum.extensions import db
from sanctum.invitations import csvimport
from sanctum.invitations.service import (
    InvitationError,
    expire_stale,
    facts,
    invitable_roles,
    normalise_email,
    prepare,
    role_for,
    send,
    valid_days,
)
from sanctum.models import Invitation, InvitationBatch, InvitationBatchRow, JobRecord, Role, User
from sanctum.models.base import utcnow
from sanctum.rbac.service import has_permission

OUTCOMES = ("created", "duplicate", "already_user", "invalid")
OUTCOME_LABELS = {"created": "Invited", "duplicate": "Duplicate", "already_user": "Already a user",
                  "invalid": "Invalid"}
CHUNK = 250
MAX_ROWS = 10_000


def start_import(*, filename: str, data: bytes, role: str, days, note: str, actor: User) -> InvitationBatch:
    """Check the file as a whole, store it and enqueue the import. Commits."""
    try:
        text = csvimport.decode(data)
        parsed = csvimport.parse(text)
    except csvimport.CsvError as exc:
        raise InvitationError(str(exc), "file") from exc
    limit = max_rows()
    if len(parsed.rows) > limit:
        raise InvitationError(f"The file has {len(parsed.rows):,} rows; import at most {limit:,} at a time.", "file")
    chosen = role_for(role, actor)
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1] or "upload.csv"  # old browsers send paths
    batch = InvitationBatch(filename=name[-255:], content=text,
                            role=chosen, valid_days=valid_days(days), note=(note or "").strip()[:500] or None,
                            created_by_id=actor.id, status="queued", total_rows=len(parsed.rows),
                            processed_rows=0, counts={k: 0 for k in OUTCOMES}, notices=parsed.notices)
    db.session.add(batch)
    db.session.flush()
    record = jobs.enqueue("sanctum.invitations.jobs.import_invitations", batch.id,
                          description=f"invitation import {batch.id}")
    batch.job_id = record.id
    audit.record("invitation.import_started", actor=actor, target=batch, details={
        "filename": batch.filename, "rows": batch.total_rows, "role": chosen.name, "valid_days": batch.valid_days})
    db.session.commit()
    return batch


def max_rows() -> int:
    from flask import current_app

    return int(current_app.config.get("INVITATION_IMPORT_MAX_ROWS", MAX_ROWS))


def run_import(batch_id: int) -> None:
    """The job body. Idempotent: a finished batch is left alone, a half-done one resumes."""
    batch = db.session.get(InvitationBatch, batch_id)
    if batch is None or batch.finished:
        return
    actor = batch.created_by
    if actor is None or not actor.is_active or not has_permission(actor, "invitations.manage"):
        _finish(batch, actor, error="The person who started this import may no longer invite people.")
        return
    if batch.role is None:
        _finish(batch, actor, error="The default role of this import no longer exists.")
        return
    batch.status = "running"
    db.session.commit()
    rows = csvimport.parse(batch.content or "").rows
    allowed = invitable_roles(actor)
    for start in range(batch.processed_rows, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        _import_chunk(batch, chunk, actor, allowed)
        batch.processed_rows = start + len(chunk)
        db.session.commit()
        jobs.report_progress(batch.processed_rows, batch.total_rows, result=dict(batch.counts))
    _finish(batch, actor)


def _import_chunk(batch: InvitationBatch, chunk: list[csvimport.CsvRow], actor: User, allowed: list[Role]) -> None:
    judged: list[tuple[csvimport.CsvRow, str, Optional[str]]] = []  # row, email, problem
    for row in chunk:
        if row.problem:
            judged.append((row, row.email, f"Line {row.line} {row.problem}."))
            continue
        try:
            judged.append((row, normalise_email(row.email), None))
        except InvitationError:
            judged.append((row, row.email, "Not a valid email address." if row.email else "No email address."))
    emails = sorted({email for _row, email, problem in judged if problem is None})
    users, pending, earlier = _known(batch, emails)

    counts = dict(batch.counts)
    created: list[tuple[Invitation, str]] = []
    report: list[tuple[csvimport.CsvRow, str, str, Optional[str], Optional[Invitation]]] = []
    for row, email, problem in judged:
        invitation = None
        if problem:
            outcome, detail = "invalid", problem
        elif email in earlier:
            outcome, detail = "duplicate", "Appears earlier in the file."
        elif email in users:
            outcome, detail = "already_user", "An account already uses this address."
        elif email in pending:
            outcome, detail = "duplicate", "Already has a pending invitation."
        else:
            try:
                role = role_for(row.role, actor, allowed) if row.role else batch.role
            except InvitationError as exc:
                outcome, detail = "invalid", str(exc)
            else:
                invitation, token = prepare(email=email, role=role, days=batch.valid_days,
                                            note=row.note or batch.note, actor=actor, batch_id=batch.id)
                created.append((invitation, token))
                outcome, detail = "created", None
                earlier.add(email)
        counts[outcome] = counts.get(outcome, 0) + 1
        report.append((row, email, outcome, detail, invitation))
    # One INSERT for the chunk's invitations, then their mails, then the report rows.
    db.session.add_all(invitation for invitation, _token in created)
    db.session.flush()
    for invitation, token in created:
        send(invitation, token, actor)
    db.session.add_all(InvitationBatchRow(batch_id=batch.id, line=row.line, email=email[:254], outcome=outcome,
                                          detail=detail and detail[:255], invitation_id=invitation and invitation.id)
                       for row, email, outcome, detail, invitation in report)
    if created:
        # One audit event per chunk, naming each invitation: a 10,000-row import stays a
        # minute's work, and every invitation is still in the tamper-evident log.
        audit.record("invitation.created", actor=actor, target=batch, details={
            "batch_id": batch.id, "after": [facts(invitation) | {"id": invitation.id} for invitation, _t in created]})
    batch.counts = counts


def _known(batch: InvitationBatch, emails: list[str]) -> tuple[set[str], set[str], set[str]]:
    """Of these addresses: which have accounts, which a live invitation, which this file
    already invited (in an earlier chunk, or an earlier attempt of this job)."""
    if not emails:
        return set(), set(), set()
    users = set(db.session.scalars(select(User.email).where(User.email.in_(emails))))
    expire_stale(emails)
    pending = set(db.session.scalars(select(Invitation.email).where(
        Invitation.email.in_(emails), Invitation.status == "pending")))
    earlier = set(db.session.scalars(select(InvitationBatchRow.email).where(
        InvitationBatchRow.batch_id == batch.id, InvitationBatchRow.outcome == "created",
        InvitationBatchRow.email.in_(emails))))
    return users, pending, earlier


def _finish(batch: InvitationBatch, actor: Optional[User], error: Optional[str] = None) -> None:
    batch.status = "failed" if error else "finished"
    batch.error = error
    batch.finished_at = utcnow()
    batch.content = None  # the report rows keep what is needed; the file need not outlive the job
    audit.record("invitation.import_finished", actor=actor, target=batch, outcome="failure" if error else "success",
                 details={"counts": dict(batch.counts), "rows": batch.total_rows, "error": error})
    db.session.commit()
    jobs.report_progress(batch.processed_rows, batch.total_rows, result={"batch_id": batch.id, **batch.counts})


# ---------------------------------------------------------------- reading a batch

def batch_state(batch: InvitationBatch) -> tuple[str, Optional[str]]:
    """(status, error), taking a job that died for good into account."""
    if batch.finished:
        return batch.status, batch.error
    record = db.session.get(JobRecord, batch.job_id) if batch.job_id else None
    if record is not None and record.status == "failed":
        return "failed", "The import stopped with an error and was not retried further: " + (record.error or "")
    return batch.status, None


def report_rows(batch: InvitationBatch, *, outcome: Optional[str], page: int, per_page: int = 100):
    query = select(InvitationBatchRow).where(InvitationBatchRow.batch_id == batch.id)
    count = select(func.count()).select_from(InvitationBatchRow).where(InvitationBatchRow.batch_id == batch.id)
    if outcome in OUTCOMES:
        query = query.where(InvitationBatchRow.outcome == outcome)
        count = count.where(InvitationBatchRow.outcome == outcome)
    # Rows that need a look (invalid, duplicate, already a user) come before the invited ones.
    needs_look = case((InvitationBatchRow.outcome == "created", 1), else_=0)
    rows = db.session.scalars(query.order_by(needs_look, InvitationBatchRow.line).offset((page - 1) * per_page)
                              .limit(per_page)).all()
    return rows, db.session.scalar(count)


def all_report_rows(batch: InvitationBatch):
    return db.session.scalars(select(InvitationBatchRow).where(InvitationBatchRow.batch_id == batch.id)
                              .order_by(InvitationBatchRow.line)).yield_per(1000)


def recent_batches(limit: int = 5) -> list[InvitationBatch]:
    return list(db.session.scalars(select(InvitationBatch).order_by(InvitationBatch.id.desc()).limit(limit)))
