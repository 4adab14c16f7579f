"""Data-rights jobs: thin wrappers taking ids, as the jobs seam expects."""
from __future__ import annotations

from sanctum.privacy import service


def build_export(export_id: int) -> None:
    service.build_export(export_id)


def purge_expired_exports() -> None:
    """Periodic: drop export documents whose download window has closed."""
    service.purge_expired_exports()
