"""The jobs page: recent job records, retrying a failed one, and the progress widget.

The widget (`jobs/_progress.html`) polls `/jobs/<id>/progress` every second and stops when
the job finishes (HTTP 286). Features show it for their own jobs (the audit export does)
and register what a finished job links to:

    @result_link("sanctum.audit.jobs.export_events")
    def _download(record): return "Download", url_for(...)
"""
from __future__ import annotations

from datetime import timedelta
from typing import Callable, Optional

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from sanctum.auth.forms import EmptyForm
from sanctum.extensions import db
from sanctum.jobs import service
from sanctum.models import JobRecord
from sanctum.models.base import utcnow
from sanctum.rbac.service import has_permission
from sanctum.web.access import permission_required
from sanctum.web.render import render, wants_partial

bp = Blueprint("jobs", __name__, url_prefix="/jobs")
PAGE_SIZE = 50
STATUSES = ("failed", "running", "queued", "succeeded")
ResultLink = Callable[[JobRecord], Optional[tuple[str, str]]]
RESULT_LINKS: dict[str, ResultLink] = {}


def result_link(job_name: str) -> Callable[[ResultLink], ResultLink]:
    """Register what a finished job of this kind links to: (label, url) or None."""

    def register(maker: ResultLink) -> ResultLink:
        RESULT_LINKS[job_name] = maker
        return maker

    return register


def link_for(record: JobRecord) -> Optional[tuple[str, str]]:
    maker = RESULT_LINKS.get(record.name)
    return maker(record) if maker and record.status == "succeeded" else None


def job_counts(failed_within: Optional[timedelta] = None) -> dict[str, int]:
    """Queued, running and failed job records (failed ones since `failed_within` ago, if given)."""
    counts = dict(db.session.execute(
        select(JobRecord.status, func.count()).where(JobRecord.status.in_(("queued", "running")))
        .group_by(JobRecord.status)).all())
    failed = select(func.count()).select_from(JobRecord).where(JobRecord.status == "failed")
    if failed_within is not None:
        failed = failed.where(JobRecord.finished_at >= utcnow() - failed_within)
    return {"queued": counts.get("queued", 0), "running": counts.get("running", 0),
            "failed": db.session.scalar(failed)}


@bp.get("/")
@permission_required("jobs.view")
def jobs_index():
    status = request.args.get("status", "")
    if status and status not in STATUSES:
        abort(404)
    before = request.args.get("before", type=int)
    query = select(JobRecord).order_by(JobRecord.id.desc()).limit(PAGE_SIZE + 1)
    if status:
        query = query.where(JobRecord.status == status)
    if before:
        query = query.where(JobRecord.id < before)
    rows = list(db.session.scalars(query))
    records = rows[:PAGE_SIZE]
    return render("jobs/index.html", "jobs/_table.html", records=records, current=status, statuses=STATUSES,
                  older=records[-1].id if len(rows) > PAGE_SIZE else None, counts=job_counts(),
                  form=EmptyForm(), link_for=link_for)


@bp.get("/<int:job_id>/progress")
@permission_required("account.manage")
def jobs_progress(job_id: int):
    record = _visible(job_id)
    response = render("jobs/show.html", "jobs/_progress.html", job=record, link=link_for(record))
    if record.finished and wants_partial():
        response.status_code = 286  # htmx: stop polling, keep this last state
    return response


@bp.post("/<int:job_id>/retry")
@permission_required("jobs.view")
def jobs_retry(job_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        record = service.retry_job(job_id, actor=current_user._get_current_object())
    except LookupError:
        abort(404)
    except service.JobError as exc:
        flash(str(exc), "warning")
    else:
        flash(f"Job {record.id} is queued again.", "success")
    return redirect(url_for("jobs.jobs_index", status=request.args.get("status") or None))


def _visible(job_id: int) -> JobRecord:
    """Its owner follows a job; so does anyone who may see every job. Others get 404."""
    record = db.session.get(JobRecord, job_id)
    user = current_user._get_current_object()
    if record is None or (record.owner_id != user.id and not has_permission(user, "jobs.view")):
        abort(404)
    return record


def job_label(name: str) -> str:
    """`sanctum.mail.jobs.send_mail` → `send mail`, for people; the dotted path stays beside it."""
    return name.rsplit(".", 1)[-1].replace("_", " ")


@bp.app_template_filter("job_label")
def _job_label_filter(name: str) -> str:
    return job_label(name)


@bp.app_template_filter("duration")
def duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min"
