"""Invitation jobs: thin wrappers taking ids, as the jobs seam expects."""
from __future__ import annotations

from sanctum.invitations import importer, service


def import_invitations(batch_id: int) -> None:
    importer.run_import(batch_id)


def expire_invitations() -> None:
    """Periodic: mark pending invitations whose time is up as expired."""
    service.expire_invitations()
