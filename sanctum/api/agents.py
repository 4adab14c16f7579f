"""Agents over the JSON API: list, read, create, change, delete, test. Keys go in, never out."""
from __future__ import annotations

from flask import abort, jsonify
from flask_login import current_user

from sanctum.agents import service
from sanctum.api import bp
from sanctum.api.common import invalid, json_body
from sanctum.rbac.service import has_permission
from sanctum.web.access import permission_required


def agent_json(agent) -> dict:
    data = {"id": agent.id, "name": agent.name, "display_name": agent.display_name, "description": agent.description,
            "avatar": agent.avatar, "status": agent.status, "is_active": agent.is_active}
    if has_permission(current_user, "agents.manage"):
        data.update({field: getattr(agent, field) for field in service.EDITABLE if field not in data})
        data.update(status_message=agent.status_message,
                    checked_at=agent.checked_at.isoformat() if agent.checked_at else None,
                    has_api_key=agent.has_api_key, bridge_key_prefix=agent.bridge_key_prefix,
                    roles=[r.name for r in agent.roles], users=[u.username for u in agent.users])
    return data


def _visible(agent_id: int):
    agent = service.get_agent(agent_id)
    if agent is None or not (has_permission(current_user, "agents.manage") or service.may_use(agent, current_user)):
        abort(404)
    return agent


@bp.get("/agents")
@permission_required("agents.view")
def agents_index():
    return jsonify(agents=[agent_json(a) for a in service.visible_agents(current_user)])


@bp.get("/agents/<int:agent_id>")
@permission_required("agents.view")
def agents_show(agent_id: int):
    return jsonify(agent_json(_visible(agent_id)))


@bp.post("/agents")
@permission_required("agents.manage")
def agents_create():
    body = json_body()
    key = body.pop("api_key", None)
    if key is not None and not isinstance(key, str):
        return invalid(service.AgentError("api_key must be a string.", "api_key"))
    try:
        agent = service.create_agent(data=body, actor=current_user._get_current_object(), api_key=key or None)
    except service.AgentError as exc:
        return invalid(exc, 409 if "already has that name" in str(exc) else 422)
    return jsonify(agent_json(agent)), 201


@bp.patch("/agents/<int:agent_id>")
@permission_required("agents.manage")
def agents_update(agent_id: int):
    agent = service.get_agent(agent_id) or abort(404)
    body = json_body()
    actor = current_user._get_current_object()
    unknown = set(body) - set(service.EDITABLE) - {"roles", "users", "api_key"}
    if unknown:
        return invalid(service.AgentError(f"Unknown field(s): {', '.join(sorted(unknown))}.", sorted(unknown)[0]))
    try:
        if "api_key" in body:
            key = body.pop("api_key")
            if key is None:
                service.clear_api_key(agent=agent, actor=actor)
            elif isinstance(key, str):
                service.set_api_key(agent=agent, key=key, actor=actor)
            else:
                raise service.AgentError("api_key must be a string, or null to clear it.", "api_key")
        if body:
            service.update_agent(agent=agent, data=body, actor=actor, partial=True)
    except service.AgentError as exc:
        return invalid(exc, 409 if "already has that name" in str(exc) else 422)
    return jsonify(agent_json(agent))


@bp.delete("/agents/<int:agent_id>")
@permission_required("agents.manage")
def agents_delete(agent_id: int):
    agent = service.get_agent(agent_id) or abort(404)
    service.delete_agent(agent=agent, actor=current_user._get_current_object())
    return "", 204


@bp.post("/agents/<int:agent_id>/test")
@permission_required("agents.manage")
def agents_test(agent_id: int):
    agent = service.get_agent(agent_id) or abort(404)
    ok, latency, message = service.test_agent(agent=agent, actor=current_user._get_current_object())
    return jsonify(ok=ok, latency_ms=latency, message=message, status=agent.status)
