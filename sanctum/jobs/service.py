"""Enqueueing and running jobs, the same way in both backends."""
from __future__ import annotations

import logging
import threading
import time
import traceback
from datetime import timedelta
from typing import Any, Optional

from flask import Flask, current_app
from sqlalchemy import select
from werkzeug.utils import import_string

from sanctum import metrics
from sanctum.database import on_commit
from sanctum.extensions import db
from sanctum.models import JobRecord
from sanctum.models.base import utcnow

log = logging.getLogger(__name__)
_EXTENSION_KEY = "sanctum.jobs"
_current = threading.local()


def init_app(app: Flask) -> None:
    if app.config["REDIS_URL"]:
        from sanctum.jobs.rq_backend import RQBackend

        backend = RQBackend(app)
    else:
        from sanctum.jobs.inprocess import InProcessBackend

        backend = InProcessBackend(app)
    app.extensions[_EXTENSION_KEY] = backend


def get_backend(app: Optional[Flask] = None):
    return (app or current_app).extensions[_EXTENSION_KEY]


def enqueue(
    name: str,
    *args: Any,
    description: Optional[str] = None,
    max_attempts: Optional[int] = None,
    timeout: Optional[int] = None,
    delay: Optional[timedelta] = None,
    owner: Any = None,
) -> JobRecord:
    """Record a job in the current transaction; it is dispatched when that transaction commits.

    `args` must be JSON values (ids, short strings): the job loads what it needs. `owner`,
    the person who asked for it, may follow its progress (sanctum.jobs.routes).
    """
    import_string(name)  # fail now, in the caller, on a misspelt path
    config = current_app.config
    record = JobRecord(
        name=name,
        args=list(args),
        description=description,
        status="queued",
        max_attempts=max_attempts or config["JOB_MAX_ATTEMPTS"],
        timeout=timeout or config["JOB_TIMEOUT"],
        run_after=(utcnow() + delay) if delay else None,
        owner_id=getattr(owner, "id", None),
    )
    db.session.add(record)
    db.session.flush()
    _dispatch_on_commit(record, delay)
    return record


# The error a `queued` row carries when handing it to the queue failed (Redis down at commit):
# the jobs page says why it waits, and `requeue_stalled` dispatches it on its next pass
# instead of waiting JOB_LOST_AFTER as for a dispatch that may merely be in flight.
UNDISPATCHED = "Waiting for the job queue (Redis was unreachable when this job was accepted)."


def _dispatch_on_commit(record: JobRecord, delay: Optional[timedelta] = None) -> None:
    backend, record_id, timeout = get_backend(), record.id, record.timeout
    engine = db.engine

    def dispatch() -> None:
        try:
            backend.dispatch(record_id, delay=delay, timeout=timeout)
        except Exception:  # noqa: BLE001
            # The row stays `queued`; `requeue_stalled` hands it out again once Redis is back.
            log.exception("could not dispatch job %s; it stays queued", record_id)
            try:
                with engine.begin() as conn:
                    conn.execute(JobRecord.__table__.update()
                                 .where(JobRecord.id == record_id, JobRecord.status == "queued")
                                 .values(error=UNDISPATCHED))
            except Exception:  # noqa: BLE001 - then it is found after JOB_LOST_AFTER instead
                log.warning("could not mark job %s as undispatched", record_id, exc_info=True)

    on_commit(dispatch)


class JobError(ValueError):
    """Refused; the message is safe to show."""


def retry_job(record_id: int, *, actor: Any) -> JobRecord:
    """Run a failed job again from its first attempt. Audited; commits."""
    from sanctum import audit

    record = db.session.get(JobRecord, record_id, with_for_update=True, populate_existing=True)
    if record is None:
        raise LookupError("no such job")
    if record.status != "failed":
        raise JobError("Only a failed job can be retried.")
    record.status, record.attempts, record.finished_at, record.run_after = "queued", 0, None, None
    record.progress_current, record.result = 0, None
    audit.record("job.retried", actor=actor, target_type="job", target_id=record.id,
                 details={"name": record.name, "last_error": (record.error or "")[:500]})
    _dispatch_on_commit(record)
    db.session.commit()
    return record


class JobFailed(Exception):
    """Raised to RQ after the last attempt, so its failed registry agrees with our record."""


def run_job(record_id: int) -> Optional[str]:
    """Run one attempt of a recorded job. Idempotent: a finished or running job is left alone."""
    app = current_app._get_current_object()
    with app.app_context():
        record = db.session.get(JobRecord, record_id)
        if record is None or record.finished or record.status == "running":
            db.session.rollback()
            return None
        record.status = "running"
        record.attempts += 1
        record.started_at = utcnow()
        record.heartbeat_at = record.started_at
        record.error = None
        name, args = record.name, list(record.args)
        db.session.commit()

        _current.record_id = record_id
        heartbeat = _Heartbeat(db.engine, record_id, app.config["JOB_HEARTBEAT_INTERVAL"])
        heartbeat.start()
        started = time.perf_counter()
        try:
            import_string(name)(*args)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, then retried or raised
            db.session.rollback()
            log.warning("job %s (%s) attempt failed: %s", record_id, name, exc, exc_info=True)
            retry_in = _record_failure(record_id, exc)
            metrics.observe_job(name, "retrying" if retry_in is not None else "failed", time.perf_counter() - started)
            if retry_in is not None:
                get_backend(app).dispatch(record_id, delay=retry_in, timeout=record.timeout)
                return "retrying"
            raise JobFailed(f"job {record_id} ({name}) failed: {exc}") from exc
        finally:
            heartbeat.stop()
            _current.record_id = None
        record = db.session.get(JobRecord, record_id)
        record.status = "succeeded"
        record.finished_at = utcnow()
        db.session.commit()
        metrics.observe_job(name, "succeeded", time.perf_counter() - started)
        return "succeeded"


class _Heartbeat(threading.Thread):
    """Stamps `heartbeat_at` while a job runs, so a killed worker is noticed in seconds."""

    def __init__(self, engine, record_id: int, interval: float):
        super().__init__(name=f"job-heartbeat-{record_id}", daemon=True)
        self.engine, self.record_id, self.interval = engine, record_id, interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        JobRecord.__table__.update()
                        .where(JobRecord.id == self.record_id)
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # noqa: BLE001 - a missed beat only delays stall detection
                log.warning("job %s heartbeat failed", self.record_id, exc_info=True)

    def stop(self) -> None:
        self._stop_event.set()


def _record_failure(record_id: int, exc: Exception) -> Optional[timedelta]:
    record = db.session.get(JobRecord, record_id)
    record.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
    if record.attempts < record.max_attempts:
        backoff = current_app.config["JOB_RETRY_BACKOFF"]
        delay = timedelta(seconds=backoff[min(record.attempts - 1, len(backoff) - 1)])
        record.status = "queued"
        record.run_after = utcnow() + delay
        db.session.commit()
        return delay
    record.status = "failed"
    record.finished_at = utcnow()
    db.session.commit()
    return None


def current_job_id() -> Optional[int]:
    """The JobRecord id of the job running in this thread, or None outside a job."""
    return getattr(_current, "record_id", None)


def report_progress(current: int, total: Optional[int] = None, result: Optional[dict] = None) -> None:
    """Called from inside a job to update its progress widget; commits on its own."""
    record_id = getattr(_current, "record_id", None)
    if record_id is None:
        return
    with db.engine.begin() as conn:
        values: dict[str, Any] = {"progress_current": current, "heartbeat_at": utcnow()}
        if total is not None:
            values["progress_total"] = total
        if result is not None:
            values["result"] = result
        conn.execute(JobRecord.__table__.update().where(JobRecord.id == record_id).values(**values))


def requeue_stalled() -> int:
    """Hand out again what a crashed process left behind; returns how many rows it touched.

    A `queued` row whose dispatch failed (Redis down at commit: marked UNDISPATCHED) is
    dispatched on the next pass; one whose dispatch may have been lost otherwise (a
    restart, Redis emptied) once it has waited JOB_LOST_AFTER. A `running` row whose
    heartbeat stopped (SIGKILL, power loss) counts as a failed attempt: queued again
    while attempts remain, else failed.
    """
    now = utcnow()
    config = current_app.config
    silent_for = timedelta(seconds=config["JOB_HEARTBEAT_INTERVAL"] * 3)
    lost_after = timedelta(seconds=config["JOB_LOST_AFTER"])
    to_dispatch = list(
        db.session.scalars(
            select(JobRecord).where(
                JobRecord.status == "queued",
                (JobRecord.error == UNDISPATCHED) | (
                    (JobRecord.created_at < now - lost_after)
                    & (JobRecord.run_after.is_(None) | (JobRecord.run_after < now - lost_after))),
            )
        )
    )
    for record in to_dispatch:
        if record.error == UNDISPATCHED:
            record.error = None
    dead = db.session.scalars(
        select(JobRecord).where(JobRecord.status == "running", JobRecord.heartbeat_at < now - silent_for)
    ).all()
    failed = 0
    for record in dead:
        record.error = "the worker running this job stopped before it finished"
        if record.attempts < record.max_attempts:
            record.status = "queued"
            to_dispatch.append(record)
        else:
            record.status = "failed"
            record.finished_at = now
            failed += 1
    dispatch = [(r.id, r.timeout) for r in to_dispatch]
    db.session.commit()
    backend = get_backend()
    for record_id, timeout in dispatch:
        backend.dispatch(record_id, timeout=timeout)
    if dispatch or failed:
        log.warning("stalled jobs: %d dispatched again, %d failed", len(dispatch), failed)
    return len({record_id for record_id, _ in dispatch} | {r.id for r in dead})


def register_periodic(app: Flask, name: str, *, every: int, inline: bool = False) -> None:
    """Run job `name` (no arguments) every `every` seconds, once across all processes.

    `inline` runs it in the scheduler thread itself, with no job record: for quick, frequent
    chores (publishing system health) that would otherwise bury the jobs page.
    """
    import_string(name)
    key = "sanctum.periodic_inline" if inline else "sanctum.periodic"
    app.extensions.setdefault(key, {})[name] = every
