"""Health of agents and tools: checks, a short history, and `system:health` events."""
from sanctum import live

CHANNEL = "system:health"


@live.channel("system:")
def _may_watch_health(user, name: str) -> bool:
    """Status changes of agents and tools, for those who may see status pages."""
    from sanctum.rbac.service import has_permission

    return name == CHANNEL and has_permission(user, "system.view")
