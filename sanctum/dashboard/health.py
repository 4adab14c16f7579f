"""System health: every registered check, run together, published live on `dashboard:health`.

The scheduler runs `publish_health` every few seconds (inline, no job record). Dashboards
open a websocket on the channel and get the panel as an htmx out-of-band swap.
"""
from __future__ import annotations

import logging
import time

from flask import render_template

from sanctum import dashboard, events, live
from sanctum.models.base import utcnow

log = logging.getLogger(__name__)
# Not `system:health` (agent and tool status pills, for everyone who sees status pages): this
# panel shows the whole system and is for dashboard viewers only.
CHANNEL = "dashboard:health"


@live.channel(CHANNEL)
def may_watch_health(user, name: str) -> bool:
    from sanctum.rbac.service import has_permission

    return name == CHANNEL and has_permission(user, "dashboard.view")


def snapshot() -> list[dict]:
    rows = []
    for provider in sorted(dashboard.HEALTH.values()):
        started = time.perf_counter()
        try:
            check = dict(provider.function())
        except Exception as exc:  # noqa: BLE001 - a broken check is a red row, not a broken page
            log.warning("health check %s failed", provider.key, exc_info=True)
            check = {"ok": False, "detail": f"check failed: {exc.__class__.__name__}"}
        check.update(key=provider.key, title=provider.title, ms=round((time.perf_counter() - started) * 1000, 1))
        rows.append(check)
    return rows


def render_panel(checks: list[dict], *, oob: bool = False) -> str:
    return render_template("dashboard/_health.html", checks=checks, checked_at=utcnow(), oob=oob)


def publish_health() -> bool:
    """Check everything and push the panel to every dashboard open anywhere."""
    checks = snapshot()
    return events.publish(CHANNEL, {"type": "dashboard:health", "html": render_panel(checks, oob=True),
                                    "checks": {c["key"]: c["ok"] for c in checks}})
