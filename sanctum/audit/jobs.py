"""Audit housekeeping and exports, run as jobs."""
from __future__ import annotations

import os
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import text

from sanctum import audit, jobs
from sanctum.audit import query, retention
from sanctum.audit.service import verify_chain as walk_chain
from sanctum.extensions import db

EXPORT_JOB = "sanctum.audit.jobs.export_events"
VERIFY_JOB = "sanctum.audit.jobs.verify_chain"
FORMATS = {"csv": ("csv", "text/csv"), "jsonl": ("jsonl", "application/x-ndjson")}


def purge_expired() -> None:
    """Daily: events past the retention setting, then finished export files past their hours."""
    result = retention.purge_expired(progress=lambda done, total: jobs.report_progress(done, total))
    removed = remove_old_exports()
    if db.engine.dialect.name == "sqlite":
        # SQLite plans from statistics only once they exist; keep them fresh (autovacuum does this
        # for PostgreSQL).
        db.session.execute(text("PRAGMA optimize"))
        db.session.commit()
    jobs.report_progress(result.deleted, result.deleted, result={"deleted": result.deleted,
                                                                "through_seq": result.through_seq,
                                                                "exports_removed": removed})


def verify_chain() -> None:
    """Walk the chain; the result on this job's record is the chain state the viewer shows."""
    total = query.head_seq()
    report = walk_chain(progress=lambda checked: jobs.report_progress(checked, total))
    if not report.ok:
        audit.record("audit.verify_failed", outcome="failure", target_type="audit_log",
                     details={"first_bad_seq": report.first_bad_seq, "reason": report.reason})
        db.session.commit()
    jobs.report_progress(report.checked, total, result=report.as_dict())


def export_events(owner_id: int, fmt: str, filters: dict, upto_seq: int) -> None:
    """Write the filter's rows up to `upto_seq` to a file, batch by batch; retried attempts start over."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    selected = query.AuditFilter.from_args(filters)
    total = query.count(selected, upto_seq=upto_seq)
    path = export_path(jobs.current_job_id(), fmt)
    partial = path.with_name(path.name + ".part")
    written, reported = 0, 0.0
    with open(partial, "w", encoding="utf-8", newline="") as out:
        for text, rows in query.export_chunks(selected, fmt, upto_seq=upto_seq):
            out.write(text)
            written += rows
            if time.monotonic() - reported > 0.5:
                jobs.report_progress(written, total)
                reported = time.monotonic()
    os.replace(partial, path)
    jobs.report_progress(written, total, result={"file": path.name, "rows": written, "format": fmt,
                                                 "owner_id": owner_id})


def export_dir() -> Path:
    folder = Path(current_app.config["AUDIT_EXPORT_DIR"] or Path(current_app.instance_path) / "exports")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_path(job_id: int, fmt: str) -> Path:
    return export_dir() / f"audit-export-{int(job_id)}.{FORMATS[fmt][0]}"


def remove_old_exports() -> int:
    cutoff = time.time() - float(current_app.config["AUDIT_EXPORT_HOURS"]) * 3600
    removed = 0
    for path in export_dir().glob("audit-export-*"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
