"""Job functions for the tests. The RQ worker imports them by dotted path, like real jobs."""
from __future__ import annotations

import time

from sanctum import audit, jobs
from sanctum.extensions import db
from sanctum.models import JobRecord


def note(label: str) -> None:
    audit.record("test.job_ran", details={"label": label}, outcome="success")
    db.session.commit()


def flaky(fail_times: int) -> None:
    record = db.session.get(JobRecord, jobs.current_job_id())
    if record.attempts <= fail_times:
        raise RuntimeError(f"failing on purpose, attempt {record.attempts}")
    note(f"flaky succeeded on attempt {record.attempts}")


def always_fails() -> None:
    raise ValueError("this job never works")


def with_progress(total: int) -> None:
    for done in range(1, total + 1):
        jobs.report_progress(done, total)
    jobs.report_progress(total, total, result={"rows": total})


def slow(seconds: float) -> None:
    time.sleep(seconds)
