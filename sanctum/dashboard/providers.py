"""The dashboard's own providers: accounts, sessions, jobs, sign-ins and the core services."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import url_for
from sqlalchemy import distinct, func, select

from sanctum import dashboard
from sanctum.audit.links import endpoint_url
from sanctum.dashboard.charts import count_per_day
from sanctum.extensions import db
from sanctum.models import AuditEvent, User, UserSession
from sanctum.models.base import utcnow
from sanctum.web.templating import can


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def audit_url(**filters) -> str | None:
    """The audit viewer filtered so, for who may read it: a number's "show me"."""
    return url_for("audit.audit_index", **filters) if can("audit.view") else None


@dashboard.stats("accounts", order=10)
def account_numbers(today: date):
    count = func.count()
    total = db.session.scalar(select(count).select_from(User))
    pending = db.session.scalar(select(count).select_from(User).where(User.status == "pending"))
    active = db.session.scalar(select(func.count(distinct(UserSession.user_id)))
                               .where(UserSession.last_used_at >= _start(today)))
    people = (endpoint_url("users.users_index") or endpoint_url("admin.users_attention")) if can("users.manage") else None
    yield dashboard.Stat("Users", total, people, hint="accounts of every status")
    yield dashboard.Stat("Active today", active, audit_url(action="auth.login_succeeded", since=today.isoformat()),
                         hint="used a session since midnight UTC")
    yield dashboard.Stat("Pending approval", pending,
                         endpoint_url("admin.users_attention") if can("users.manage") else None,
                         hint="waiting for an administrator", tone="warn" if pending else "")


@dashboard.stats("sessions", order=20)
def session_numbers(today: date):
    now = utcnow()
    active = db.session.scalar(select(func.count()).select_from(UserSession)
                               .where(UserSession.revoked_at.is_(None), UserSession.expires_at > now))
    failures = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "auth.login_failed", AuditEvent.created_at >= _start(today)))
    yield dashboard.Stat("Active sessions", active, audit_url(action="auth.", since=today.isoformat()),
                         hint="browsers and API clients signed in")
    yield dashboard.Stat("Failed sign-ins today", failures,
                         audit_url(action="auth.login_failed", since=today.isoformat()),
                         tone="warn" if failures else "")


@dashboard.stats("jobs", order=50)
def job_numbers(today: date):
    from sanctum.jobs.routes import job_counts

    counts = job_counts(failed_within=timedelta(hours=24))
    jobs_url = (lambda **kw: url_for("jobs.jobs_index", **kw)) if can("jobs.view") else (lambda **kw: None)
    yield dashboard.Stat("Queue depth", counts["queued"] + counts["running"], jobs_url(status="queued"),
                         hint=f"{counts['running']} running now")
    yield dashboard.Stat("Failed jobs (24 h)", counts["failed"], jobs_url(status="failed"),
                         tone="bad" if counts["failed"] else "ok")


@dashboard.chart("sign-ins", "Sign-ins per day", order=10)
def sign_in_chart(since: date, until: date):
    return {
        "Signed in": count_per_day(AuditEvent.created_at, since, until, AuditEvent.action == "auth.login_succeeded"),
        "Refused": count_per_day(AuditEvent.created_at, since, until, AuditEvent.action == "auth.login_failed"),
    }


@dashboard.health_check("database", "Database", order=10)
def database_health():
    from sanctum.ops.service import check_database

    check = check_database()
    detail = f"{check.get('dialect', '')} · {check['ms']} ms" if check["ok"] else check.get("error", "")
    return {"ok": check["ok"], "detail": detail}


@dashboard.health_check("workers", "Background jobs", order=20)
def jobs_health():
    from sanctum import jobs

    check = jobs.get_backend().health()
    if not check["ok"]:
        return {"ok": False, "detail": check.get("error", "unavailable")}
    if check["mode"] == "rq":
        return {"ok": True, "detail": f"RQ · {check['workers']} worker(s) · {check['queued']} queued"}
    return {"ok": True, "detail": f"in-process · {check['threads']} threads"}


@dashboard.health_check("events", "Live events", order=30)
def events_health():
    from sanctum import events

    check = events.get_bus().health()
    if not check["ok"]:
        return {"ok": False, "detail": check.get("error", "unavailable")}
    return {"ok": True, "detail": "Redis pub/sub" if check["mode"] == "redis" else "in memory (one process)"}
