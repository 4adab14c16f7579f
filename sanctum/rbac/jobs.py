"""Periodic tidying of expired grants."""
from sanctum.rbac.service import deactivate_expired_grants


def expire_grants() -> None:
    deactivate_expired_grants()
