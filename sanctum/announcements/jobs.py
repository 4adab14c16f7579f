"""The periodic announcement job (registered in the factory)."""
from __future__ import annotations

from sanctum import jobs
from sanctum.announcements import service


def start_due_announcements() -> None:
    counts = service.start_due_announcements()
    jobs.report_progress(1, 1, result=counts)
