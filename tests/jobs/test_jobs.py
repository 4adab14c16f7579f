"""Does a job run, retry and fail visibly — in-process and on a real RQ worker alike?"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sanctum import jobs
from sanctum.extensions import db
from sanctum.jobs.service import UNDISPATCHED, requeue_stalled
from sanctum.models import AuditEvent, JobRecord
from sanctum.models.base import utcnow


def labels(app) -> list[str]:
    with app.app_context():
        return [e.details["label"] for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "test.job_ran").order_by(AuditEvent.seq))]


def enqueue(app, name, *args, **options) -> int:
    with app.app_context():
        record = jobs.enqueue(name, *args, **options)
        db.session.commit()
        return record.id


def test_a_job_runs_after_commit_and_records_its_timings(app, wait_for_job):
    record = wait_for_job(enqueue(app, "tests.jobs.sample_jobs.note", "hello"))
    assert record.status == "succeeded"
    assert record.attempts == 1 and record.error is None
    assert record.started_at <= record.finished_at
    assert labels(app) == ["hello"]


def test_a_rolled_back_enqueue_never_runs(app, wait_for_job):
    with app.app_context():
        jobs.enqueue("tests.jobs.sample_jobs.note", "rolled back")
        db.session.rollback()
    marker = wait_for_job(enqueue(app, "tests.jobs.sample_jobs.note", "after"))
    assert marker.status == "succeeded"
    assert labels(app) == ["after"]
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(JobRecord)) == 1


def test_a_failing_job_is_retried_until_it_succeeds(app, wait_for_job):
    record = wait_for_job(enqueue(app, "tests.jobs.sample_jobs.flaky", 2, max_attempts=3))
    assert record.status == "succeeded"
    assert record.attempts == 3
    assert labels(app) == ["flaky succeeded on attempt 3"]


def test_a_job_that_keeps_failing_ends_failed_with_its_error(app, wait_for_job):
    record = wait_for_job(enqueue(app, "tests.jobs.sample_jobs.always_fails", max_attempts=2))
    assert record.status == "failed"
    assert record.attempts == 2
    assert record.error == "ValueError: this job never works"
    assert record.finished_at is not None


def test_a_misspelt_job_path_fails_in_the_caller(app):
    with app.app_context(), pytest.raises(ImportError):
        jobs.enqueue("tests.jobs.sample_jobs.no_such_job")


def test_a_job_reports_progress_and_a_result(app, wait_for_job):
    record = wait_for_job(enqueue(app, "tests.jobs.sample_jobs.with_progress", 5))
    assert record.status == "succeeded"
    assert (record.progress_current, record.progress_total) == (5, 5)
    assert record.result == {"rows": 5}


def test_a_delayed_job_waits(app, wait_for_job):
    started = utcnow()
    record = wait_for_job(enqueue(app, "tests.jobs.sample_jobs.note", "later", delay=timedelta(seconds=1.5)))
    assert record.status == "succeeded"
    assert (record.started_at - started).total_seconds() >= 1.0


def test_running_a_finished_job_again_does_nothing(app, wait_for_job):
    """Idempotent: a duplicate delivery of a finished job must not run it twice."""
    from sanctum.jobs.service import run_job

    record_id = enqueue(app, "tests.jobs.sample_jobs.note", "once")
    wait_for_job(record_id)
    with app.app_context():
        assert run_job(record_id) is None
    assert labels(app) == ["once"]


def test_a_job_whose_worker_died_is_retried(app, wait_for_job):
    """A `running` row with a silent heartbeat (SIGKILLed worker) is handed out again."""
    with app.app_context():
        record = JobRecord(name="tests.jobs.sample_jobs.note", args=["rescued"], status="running",
                           attempts=1, max_attempts=3, started_at=utcnow() - timedelta(minutes=5),
                           heartbeat_at=utcnow() - timedelta(minutes=5))
        db.session.add(record)
        db.session.commit()
        record_id = record.id
        assert requeue_stalled() == 1
    record = wait_for_job(record_id)
    assert record.status == "succeeded" and record.attempts == 2
    assert labels(app) == ["rescued"]


def test_a_job_accepted_while_the_queue_is_down_goes_out_on_the_next_recovery_pass(app, wait_for_job, monkeypatch):
    """Redis down at commit: the row is kept, says why it waits, and is dispatched by the next
    recovery pass once the queue answers (not JOB_LOST_AFTER later)."""
    backend = jobs.get_backend(app)
    working = backend.dispatch

    def unreachable(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to the queue. Connection refused.")

    monkeypatch.setattr(backend, "dispatch", unreachable)
    record_id = enqueue(app, "tests.jobs.sample_jobs.note", "late")
    with app.app_context():
        record = db.session.get(JobRecord, record_id)
        assert record.status == "queued" and record.error == UNDISPATCHED
    monkeypatch.setattr(backend, "dispatch", working)
    with app.app_context():
        assert requeue_stalled() == 1
    record = wait_for_job(record_id)
    assert record.status == "succeeded" and record.error is None
    assert labels(app) == ["late"]


def test_a_dead_job_with_no_attempts_left_ends_failed(app):
    with app.app_context():
        record = JobRecord(name="tests.jobs.sample_jobs.note", args=["x"], status="running",
                           attempts=3, max_attempts=3, heartbeat_at=utcnow() - timedelta(minutes=5))
        db.session.add(record)
        db.session.commit()
        requeue_stalled()
        db.session.refresh(record)
        assert record.status == "failed"
        assert "stopped before it finished" in record.error


def test_a_running_job_keeps_its_heartbeat_fresh(app, wait_for_job):
    record_id = enqueue(app, "tests.jobs.sample_jobs.slow", 2.5)
    running = wait_for_job(record_id, status=("running",))
    first_beat = running.heartbeat_at
    record = wait_for_job(record_id)
    assert record.status == "succeeded"
    assert record.heartbeat_at > first_beat
