"""Check agents and tools, keep a short history, announce changes on `system:health`.

A check result becomes the subject's status (Healthy, Degraded, Down); switched-off
subjects are Off and not checked; a tool without a health-check URL stays Ready.
Each change is published after commit as

    {"type": "health:changed", "kind": "agent"|"tool", "id", "name", "status",
     "previous", "message", "html": <out-of-band swap of its status pill>}
"""
from __future__ import annotations

import logging
import time
from urllib.parse import quote
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional, Union

import httpx
from flask import current_app, render_template
from sqlalchemy import delete, select

from sanctum import events
from sanctum.extensions import db
from sanctum.health import CHANNEL
from sanctum.models import Agent, HealthCheck, Tool
from sanctum.models.base import utcnow

log = logging.getLogger(__name__)
Subject = Union[Agent, Tool]
UNHEALTHY = ("Down",)  # Degraded (slow) still answers; Off and Ready were chosen by a person


@dataclass
class Result:
    status: str
    latency_ms: Optional[int]
    message: str

    @property
    def ok(self) -> bool:
        return self.status in ("Healthy", "Degraded")


def _kind(subject: Subject) -> str:
    return "agent" if isinstance(subject, Agent) else "tool"


def _speed(latency_ms: Optional[int]) -> str:
    slow = current_app.config["HEALTH_SLOW_MS"]
    return "Degraded" if latency_ms is not None and latency_ms > slow else "Healthy"


def probe_agent(agent: Agent) -> Result:
    from sanctum.agents.providers import PROVIDERS, ProviderError

    provider = PROVIDERS.get(agent.provider)
    if provider is None:
        return Result("Down", None, f"Unknown provider {agent.provider!r}.")
    try:
        ok, latency, message = provider.test_connection(agent)
    except ProviderError as exc:
        return Result("Down", None, str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken check is a finding, not a crash of the health job
        log.warning("connection test of agent %s failed", agent.id, exc_info=True)
        return Result("Down", None, f"The check itself failed: {exc.__class__.__name__}.")
    if not ok:
        return Result("Down", latency, message)
    status = _speed(latency)
    if status == "Degraded":
        message += f" (slow: {latency} ms)"
    return Result(status, latency, message)


def probe_tool(tool: Tool) -> Result:
    url = tool.health_check_url
    timeout = current_app.config["HEALTH_CHECK_TIMEOUT"]
    started = time.perf_counter()
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False, headers={"User-Agent": "Sanctum health"})
    except httpx.TimeoutException:
        return Result("Down", None, f"No answer within {timeout} s.")
    except httpx.HTTPError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else exc.__class__.__name__
        return Result("Down", None, f"Could not be reached ({reason}).")
    latency = int(round((time.perf_counter() - started) * 1000))
    if response.status_code >= 400:
        return Result("Degraded" if response.status_code < 500 else "Down", latency,
                      f"Answered HTTP {response.status_code}.")
    status = _speed(latency)
    return Result(status, latency, f"Answered HTTP {response.status_code} in {latency} ms.")


def record(subject: Subject, result: Result) -> bool:
    """Store a result as the subject's status and history (in the caller's transaction).

    Returns whether the status changed; a change is published once the caller commits.
    """
    now = utcnow()
    previous = subject.status
    subject.status, subject.status_message, subject.checked_at = result.status, result.message[:500], now
    kind = _kind(subject)
    db.session.add(HealthCheck(subject_type=kind, subject_id=subject.id, status=result.status,
                               latency_ms=result.latency_ms, message=result.message[:500], checked_at=now))
    db.session.flush()
    keep = current_app.config["HEALTH_HISTORY"]
    stale = select(HealthCheck.id).where(HealthCheck.subject_type == kind, HealthCheck.subject_id == subject.id) \
        .order_by(HealthCheck.checked_at.desc(), HealthCheck.id.desc()).offset(keep)
    old_ids = list(db.session.scalars(stale))
    if old_ids:
        db.session.execute(delete(HealthCheck).where(HealthCheck.id.in_(old_ids)))
    if previous != result.status:
        announce(subject, previous)
        if result.status in UNHEALTHY and previous not in UNHEALTHY:
            warn_managers(subject)
        return True
    return False


def warn_managers(subject: Subject) -> None:
    """Tell those who can fix it, once per fall into an unhealthy state (not on every check)."""
    from sanctum.notifications import notify_permission

    kind = _kind(subject)
    label = subject.label if kind == "agent" else subject.name
    link = f"/agents/{subject.id}" if kind == "agent" else f"/tools/?category={quote(subject.category)}"
    notify_permission(f"{kind}s.manage", f"{kind}.unhealthy", f"{kind.capitalize()} {label} is down",
                      body=subject.status_message, link=link)


def announce(subject: Subject, previous: Optional[str]) -> None:
    kind = _kind(subject)
    name = subject.name if kind == "agent" else subject.slug
    html = render_template("health/_status_oob.html", kind=kind, subject=subject)
    events.publish_on_commit(CHANNEL, {"type": "health:changed", "kind": kind, "id": subject.id, "name": name,
                                       "status": subject.status, "previous": previous,
                                       "message": subject.status_message, "html": html})


def check_agent(agent: Agent) -> Result:
    result = Result("Off", None, "Switched off by an administrator.") if not agent.is_active else probe_agent(agent)
    record(agent, result)
    return result


def check_tool(tool: Tool) -> Result:
    if not tool.is_enabled:
        result = Result("Off", None, "Disabled.")
    elif not tool.health_check_url:
        result = Result("Ready", None, "No health check configured.")
    else:
        result = probe_tool(tool)
    record(tool, result)
    return result


def _due(subject: Subject, now, force: bool) -> bool:
    if force or subject.checked_at is None:
        return True
    return subject.checked_at + timedelta(seconds=subject.health_check_interval or 60) <= now


def run_checks(*, force: bool = False) -> dict[str, int]:
    """Check every agent and tool that is due (all of them with `force`); commit after each."""
    now = utcnow()
    counts = {"checked": 0, "changed": 0}
    agent_ids = [a.id for a in db.session.scalars(select(Agent).order_by(Agent.id)) if _due(a, now, force)]
    tool_ids = [t.id for t in db.session.scalars(select(Tool).order_by(Tool.id)) if _due(t, now, force)]
    db.session.rollback()  # hold no transaction open while probing the network
    for model, ids, check in ((Agent, agent_ids, check_agent), (Tool, tool_ids, check_tool)):
        for subject_id in ids:
            subject = db.session.get(model, subject_id)
            if subject is None:
                continue
            before = subject.status
            check(subject)
            counts["checked"] += 1
            counts["changed"] += before != subject.status
            db.session.commit()
    return counts


def history(kind: str, subject_id: int, limit: int = 10) -> list[HealthCheck]:
    return list(db.session.scalars(select(HealthCheck).where(
        HealthCheck.subject_type == kind, HealthCheck.subject_id == subject_id)
        .order_by(HealthCheck.checked_at.desc(), HealthCheck.id.desc()).limit(limit)))
