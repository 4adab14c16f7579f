"""The audit log viewer, its exports and chain state, and each user's own activity."""
from __future__ import annotations

import json
from typing import Optional

from flask import (Blueprint, Response, abort, flash, jsonify, redirect, request, send_file,
                   stream_with_context, url_for)
from flask_login import current_user
from sqlalchemy import select

from sanctum import audit, jobs
from sanctum.audit import query, retention
from sanctum.audit.forms import AuditFilterForm, RetentionForm
from sanctum.audit.jobs import EXPORT_JOB, FORMATS, VERIFY_JOB, export_path
from sanctum.audit.links import target_link
from sanctum.auth.forms import EmptyForm
from sanctum.dashboard.charts import bar_chart
from sanctum.extensions import db
from sanctum.jobs.routes import result_link
from sanctum.models import JobRecord
from sanctum.web.access import permission_required
from sanctum.web.errors import error_response
from sanctum.web.render import render, wants_partial

bp = Blueprint("audit", __name__)


def _me():
    return current_user._get_current_object()


def _filter_form(formdata=None) -> tuple[AuditFilterForm, query.AuditFilter]:
    form = AuditFilterForm(formdata=request.args if formdata is None else formdata)
    form.validate()
    return form, form.to_filter()


def _cursor(name: str) -> Optional[int]:
    value = request.args.get(name, type=int)
    return value if value is not None and value > 0 else None


# ---------------------------------------------------------------- the viewer

@bp.get("/audit/")
@permission_required("audit.view")
def audit_index():
    form, selected = _filter_form()
    result = query.page(selected, before=_cursor("before"), after=_cursor("after"))
    context = dict(form=form, selected=selected, result=result, links=_links(result.events),
                   status=422 if form.errors else 200)
    if wants_partial():
        return render("audit/events/index.html", "audit/events/_results.html", **context)
    return render("audit/events/index.html", "audit/events/_results.html", chain=chain_state(),
                  export_form=EmptyForm(), retention_form=RetentionForm(formdata=None, days=retention.retention_days()),
                  **context)


@bp.get("/audit/stats")
@permission_required("audit.view")
def audit_stats():
    form, selected = _filter_form()
    stats = query.stats(selected)
    return render("audit/events/stats.html", "audit/events/_stats.html", stats=stats, selected=selected,
                  stats_chart=bar_chart({"Events": stats.by_day}))


@bp.get("/audit/events/<int:seq>")
@permission_required("audit.view")
def audit_show(seq: int):
    event = query.get_event(seq) or abort(404)
    return _event_page(event, back=url_for("audit.audit_index"))


def _event_page(event, *, back: str, mine: bool = False):
    details = json.dumps(event.details, indent=2, sort_keys=True, ensure_ascii=False)
    return render("audit/events/show.html", "audit/events/_event.html", event=event, details=details,
                  links=_links([event]), back=back, mine=mine)


def _links(events) -> dict:
    """Where each actor and target on a page links to: one query for all the users among them."""
    ids = {e.actor_id for e in events} | {e.target_id for e in events if e.target_type == "user"}
    users = query.users_by_id(ids)
    return {"users": users, "target": {e.seq: target_link(e, users) for e in events}}


# ---------------------------------------------------------------- chain state

def chain_state() -> dict:
    """The newest verification (a job's result) and any verification under way."""
    # Both in one statement: the newest of each kind, chosen in subqueries, then their rows.
    newest = [select(JobRecord.id).where(JobRecord.name == VERIFY_JOB, condition).order_by(JobRecord.id.desc())
              .limit(1).subquery() for condition in (JobRecord.status == "succeeded",
                                                     JobRecord.status.in_(("queued", "running")))]
    rows = db.session.scalars(select(JobRecord).where(JobRecord.id.in_(
        select(newest[0].c.id).union_all(select(newest[1].c.id))))).all()
    last = next((r for r in rows if r.status == "succeeded"), None)
    running = next((r for r in rows if r.status in ("queued", "running")), None)
    head = db.session.get(audit.service.AuditChainHead, 1)
    return {"report": (last.result or None) if last else None, "checked_at": last.finished_at if last else None,
            "running": running, "head_seq": head.last_seq if head else 0,
            "head_hash": head.last_hash if head else audit.service.GENESIS_HASH}


@bp.post("/audit/verify")
@permission_required("audit.view")
def audit_verify():
    if not EmptyForm().validate_on_submit():
        abort(400)
    if chain_state()["running"] is None:
        jobs.enqueue(VERIFY_JOB, description="verify the audit chain", owner=_me())
        db.session.commit()
    if wants_partial():
        return render("audit/events/index.html", "audit/events/_chain.html", chain=chain_state(),
                      export_form=EmptyForm())
    flash("The chain is being verified; the result shows here when it is done.", "success")
    return redirect(url_for("audit.audit_index"))


# ---------------------------------------------------------------- exports

@bp.post("/audit/exports")
@permission_required("audit.export")
def audit_export():
    if not EmptyForm().validate_on_submit():
        abort(400)
    fmt = request.form.get("format", "")
    form, selected = _filter_form(request.form)
    if fmt not in FORMATS or form.errors:
        return error_response(422, "Choose CSV or JSON lines, and a valid filter.")
    upto = query.head_seq()  # the export is the log as it stands now, without its own event
    record = jobs.enqueue(EXPORT_JOB, _me().id, fmt, selected.to_args(), upto, owner=_me(),
                          description=f"audit export ({fmt})")
    audit.record("audit.exported", actor=_me(), target_type="job", target_id=record.id,
                 details={"format": fmt, "filters": selected.to_args(), "through_seq": upto})
    db.session.commit()
    if wants_partial():
        return render("jobs/show.html", "audit/events/_export.html", job=record, link=None)
    return redirect(url_for("jobs.jobs_progress", job_id=record.id))


@bp.get("/audit/exports/<int:job_id>/download")
@permission_required("audit.export")
def audit_export_download(job_id: int):
    record = db.session.get(JobRecord, job_id)
    if record is None or record.name != EXPORT_JOB or record.owner_id != _me().id or record.status != "succeeded":
        abort(404)
    fmt = (record.result or {}).get("format") or record.args[1]
    path = export_path(record.id, fmt)
    if not path.exists():
        abort(404, "This export has expired; export again.")
    return send_file(path, mimetype=FORMATS[fmt][1], as_attachment=True,
                     download_name=f"sanctum-audit-{record.created_at:%Y%m%d-%H%M%S}.{FORMATS[fmt][0]}")


@result_link(EXPORT_JOB)
def _export_download(record: JobRecord):
    rows = (record.result or {}).get("rows", 0)
    return f"Download {rows:,} event{'s' if rows != 1 else ''}", url_for("audit.audit_export_download",
                                                                         job_id=record.id)


@result_link(VERIFY_JOB)
def _verify_result(record: JobRecord):
    return "See the chain state", url_for("audit.audit_index")


# ---------------------------------------------------------------- retention

@bp.post("/audit/retention")
@permission_required("settings.manage")
def audit_retention():
    form = RetentionForm()
    if form.validate_on_submit():
        retention.set_retention_days(form.days.data, actor=_me())
        flash("Audit events are kept forever." if form.days.data == 0 else
              f"Audit events are kept for {form.days.data} days.", "success")
        return redirect(url_for("audit.audit_index"))
    flash(" ".join(form.days.errors) or "That retention is not valid.", "error")
    return redirect(url_for("audit.audit_index"))


# ---------------------------------------------------------------- one's own activity

@bp.get("/account/activity")
@permission_required("account.manage")
def audit_activity():
    mine = query.AuditFilter(involving=_me().id, action=request.args.get("action", "")[:100])
    result = query.page(mine, before=_cursor("before"), after=_cursor("after"), size=30)
    return render("audit/activity/index.html", "audit/activity/_list.html", result=result, selected=mine)


@bp.get("/account/activity/<int:seq>")
@permission_required("account.manage")
def audit_activity_show(seq: int):
    event = query.get_event(seq, involving=_me().id) or abort(404)
    return _event_page(event, back=url_for("audit.audit_activity"), mine=True)


# ---------------------------------------------------------------- JSON API for scripts

@bp.get("/api/v1/audit/events")
@permission_required("audit.view")
def audit_api_events():
    form, selected = _filter_form()
    if form.errors:
        return error_response(422, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    result = query.page(selected, before=_cursor("before"), size=min(request.args.get("limit", 50, type=int) or 50, 500))
    return jsonify(events=[dict(zip(query.EXPORT_COLUMNS, query.as_row(e))) for e in result.events],
                   next_before=result.older)


@bp.get("/api/v1/audit/export")
@permission_required("audit.export")
def audit_api_export():
    """The filter's events streamed as they are read (constant memory), for scripts."""
    fmt = request.args.get("format", "jsonl")
    form, selected = _filter_form()
    if fmt not in FORMATS or form.errors:
        return error_response(422, "format is csv or jsonl, and the filter must be valid.")
    upto = query.head_seq()
    audit.record("audit.exported", actor=_me(), target_type="audit_log",
                 details={"format": fmt, "filters": selected.to_args(), "through_seq": upto, "via": "api"})
    db.session.commit()
    chunks = (text for text, _rows in query.export_chunks(selected, fmt, upto_seq=upto))
    return Response(stream_with_context(chunks), mimetype=FORMATS[fmt][1],
                    headers={"Content-Disposition": f"attachment; filename=sanctum-audit.{FORMATS[fmt][0]}"})


__all__ = ["bp", "chain_state"]
