"""The seed endpoints, in the shapes of the original panel so old clients keep working.

    GET /api/agents            [{"id", "name", "description", "status"}]       agents.view
    GET /api/tools?category=   [{"id", "name", "description", "emoji", "status", "category"}]   tools.view
    GET /api/status            {"status", "version", "timestamp", "services"}   system.view

`id` is the agent's name or the tool's id string (the original's string keys). They
expose internal status, so they need the permission, from a session or a bearer token.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from flask import Blueprint, jsonify, request
from flask_login import current_user

from sanctum.agents.service import list_agents, visible_agents
from sanctum.models.base import utcnow
from sanctum.ops.service import readiness
from sanctum.tools.service import list_tools
from sanctum.web.access import permission_required

bp = Blueprint("legacy", __name__, url_prefix="/api")


def sanctum_version() -> str:
    try:
        return version("sanctum")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0"


def _agent_status(agent) -> str:
    return agent.status if agent.is_active else "Off"


@bp.get("/agents")
@permission_required("agents.view")
def agents_index():
    return jsonify([{"id": a.name, "name": a.label, "description": a.description, "status": _agent_status(a)}
                    for a in visible_agents(current_user)])


@bp.get("/tools")
@permission_required("tools.view")
def tools_index():
    category = (request.args.get("category") or "").strip().lower() or None
    return jsonify([{"id": t.slug, "name": t.name, "description": t.description, "emoji": t.emoji,
                     "status": t.status, "category": t.category} for t in list_tools(category)])


@bp.get("/status")
@permission_required("system.view")
def status_show():
    checks = readiness()
    database = "Healthy" if checks["database"]["ok"] else "Down"
    if checks["events"].get("mode") == "redis":
        redis = "Healthy" if checks["events"]["ok"] else "Down"
    else:
        redis = "Off"  # not configured: single-process mode
    workers = "Healthy" if checks["jobs"]["ok"] else "Down"
    agents = {a.name: _agent_status(a) for a in list_agents()}
    tools = {t.slug: t.status for t in list_tools()}
    core_ok = database == "Healthy" and workers == "Healthy" and redis != "Down"
    trouble = any(s in ("Down", "Degraded") for s in list(agents.values()) + list(tools.values()))
    overall = "Down" if database == "Down" else "Healthy" if core_ok and not trouble else "Degraded"
    return jsonify(status=overall, version=sanctum_version(), timestamp=utcnow().isoformat(timespec="seconds"),
                   services={"database": database, "redis": redis, "workers": workers, "agents": agents, "tools": tools})
