"""Tools over the JSON API: list (by category), read, create, change, delete."""
from __future__ import annotations

from flask import abort, jsonify, request
from flask_login import current_user

from sanctum.api import bp
from sanctum.api.common import invalid, json_body
from sanctum.extensions import db
from sanctum.models import Tool
from sanctum.tools import service
from sanctum.web.access import permission_required


def tool_json(tool: Tool) -> dict:
    return {"id": tool.id, "slug": tool.slug, "name": tool.name, "description": tool.description, "emoji": tool.emoji,
            "category": tool.category, "status": tool.status, "status_message": tool.status_message,
            "route_path": tool.route_path, "is_enabled": tool.is_enabled, "health_check_url": tool.health_check_url,
            "health_check_interval": tool.health_check_interval,
            "checked_at": tool.checked_at.isoformat() if tool.checked_at else None}


@bp.get("/tools")
@permission_required("tools.view")
def tools_index():
    category = (request.args.get("category") or "").strip().lower() or None
    return jsonify(tools=[tool_json(t) for t in service.list_tools(category)])


@bp.get("/tools/<int:tool_id>")
@permission_required("tools.view")
def tools_show(tool_id: int):
    return jsonify(tool_json(db.session.get(Tool, tool_id) or abort(404)))


@bp.post("/tools")
@permission_required("tools.manage")
def tools_create():
    try:
        tool = service.create_tool(data=json_body(), actor=current_user._get_current_object())
    except service.ToolError as exc:
        return invalid(exc, 409 if "already has that id" in str(exc) else 422)
    return jsonify(tool_json(tool)), 201


@bp.patch("/tools/<int:tool_id>")
@permission_required("tools.manage")
def tools_update(tool_id: int):
    tool = db.session.get(Tool, tool_id) or abort(404)
    body = json_body()
    unknown = set(body) - set(service.EDITABLE)
    if unknown:
        return invalid(service.ToolError(f"Unknown field(s): {', '.join(sorted(unknown))}.", sorted(unknown)[0]))
    try:
        service.update_tool(tool=tool, data=body, actor=current_user._get_current_object(), partial=True)
    except service.ToolError as exc:
        return invalid(exc, 409 if "already has that id" in str(exc) else 422)
    return jsonify(tool_json(tool))


@bp.delete("/tools/<int:tool_id>")
@permission_required("tools.manage")
def tools_delete(tool_id: int):
    tool = db.session.get(Tool, tool_id) or abort(404)
    service.delete_tool(tool=tool, actor=current_user._get_current_object())
    return "", 204
