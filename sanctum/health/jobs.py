"""The periodic health job (registered in the factory)."""
from __future__ import annotations

from sanctum import jobs
from sanctum.health import service


def check_health(force: bool = False) -> None:
    counts = service.run_checks(force=bool(force))
    jobs.report_progress(counts["checked"], counts["checked"], result=counts)
