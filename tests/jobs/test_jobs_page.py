"""Can an admin see what ran, why a job failed, and run it again — and can anyone follow their own job?"""
from __future__ import annotations

from datetime import timedelta

from sanctum.extensions import db
from sanctum.models import JobRecord
from sanctum.models.base import utcnow
from tests.support.audit import last_event
from tests.support.queries import count_queries


def job(app, **columns) -> int:
    now = utcnow()
    values = dict(name="tests.jobs.sample_jobs.note", args=["again"], status="succeeded", attempts=1,
                  created_at=now, started_at=now, finished_at=now + timedelta(seconds=2.5))
    values.update(columns)
    with app.app_context():
        record = JobRecord(**values)
        db.session.add(record)
        db.session.commit()
        return record.id


def test_the_page_shows_type_status_duration_and_error(app, client, auth):
    job(app)
    failed = job(app, status="failed", attempts=3, error="Traceback …\nValueError: the SMTP server said no")
    auth.login("admin")
    body = client.get("/jobs/").get_data(as_text=True)
    assert "note" in body and "tests.jobs.sample_jobs.note" in body
    assert "2.5 s" in body and "ValueError: the SMTP server said no" in body
    assert f'aria-label="Retry job {failed}"' in body
    only_failed = client.get("/jobs/?status=failed").get_data(as_text=True)
    assert only_failed.count('<tr id="job-') == 1
    assert client.get("/jobs/?status=bogus").status_code == 404


def test_a_failed_job_is_retried_and_the_retry_audited(app, client, auth, wait_for_job):
    failed = job(app, status="failed", attempts=3, error="ValueError: once")
    auth.login("admin")
    response = auth.post(f"/jobs/{failed}/retry", page="/jobs/")
    assert response.status_code == 302
    record = wait_for_job(failed)
    assert record.status == "succeeded" and record.attempts == 1
    event = last_event(app, "job.retried")
    assert event.actor_label == "admin" and event.details["last_error"] == "ValueError: once"


def test_only_a_failed_job_can_be_retried(app, client, auth):
    done = job(app)
    auth.login("admin")
    auth.post(f"/jobs/{done}/retry", page="/jobs/")
    assert "Only a failed job can be retried." in client.get("/jobs/").get_data(as_text=True)
    assert last_event(app, "job.retried") is None
    assert auth.post("/jobs/9999/retry", page="/jobs/").status_code == 404


def test_the_progress_widget_polls_until_the_job_ends(app, client, auth):
    running = job(app, status="running", finished_at=None, progress_current=40, progress_total=160)
    auth.login("admin")
    htmx = {"HX-Request": "true"}
    response = client.get(f"/jobs/{running}/progress", headers=htmx)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in body
    assert "40 of 160 · 25%" in body and 'max="160" value="40"' in body
    with app.app_context():
        record = db.session.get(JobRecord, running)
        record.status, record.finished_at, record.progress_current = "succeeded", utcnow(), 160
        db.session.commit()
    response = client.get(f"/jobs/{running}/progress", headers=htmx)
    assert response.status_code == 286  # htmx stops polling
    assert "hx-trigger" not in response.get_data(as_text=True)
    assert client.get(f"/jobs/{running}/progress").status_code == 200  # without htmx: a page


def test_the_page_costs_a_fixed_number_of_queries(app, client, auth):
    for n in range(40):
        job(app, status=("failed" if n % 3 else "succeeded"), error="boom" if n % 3 else None)
    auth.login("admin")
    client.get("/jobs/")
    with count_queries(app) as statements:
        assert client.get("/jobs/").status_code == 200
    assert len(statements) <= 6, "\n".join(statements)
