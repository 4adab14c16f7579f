"""What readiness means, shared by /readyz and the status pages."""
from __future__ import annotations

import time

from sqlalchemy import text

from sanctum import events, jobs
from sanctum.extensions import db


def readiness() -> dict[str, dict]:
    return {"database": check_database(), "jobs": jobs.get_backend().health(), "events": events.get_bus().health()}


def check_database() -> dict:
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
        db.session.rollback()
        return {"ok": False, "error": f"database unreachable: {exc.__class__.__name__}"}
    return {"ok": True, "dialect": db.engine.dialect.name, "ms": round((time.perf_counter() - started) * 1000, 1)}
