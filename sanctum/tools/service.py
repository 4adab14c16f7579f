"""Tool rules: validation, audited changes, and importing manifest.json files. Services commit."""
from __future__ import annotations

import re
from typing import Any, Optional
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from sanctum import audit
from sanctum.extensions import db
from sanctum.models import HealthCheck, Tool, User

SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,49}$")
CATEGORY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
EDITABLE = ("slug", "name", "description", "emoji", "category", "route_path", "is_enabled", "health_check_url",
            "health_check_interval")
# The tab order: the panel's own tools first, the SMCP tools last, agents' in between.
FIRST, LAST = ("master",), ("smcp",)


class ToolError(ValueError):
    """Refused; the message is safe to show. `field` names the form field at fault."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


def list_tools(category: Optional[str] = None) -> list[Tool]:
    query = select(Tool).order_by(Tool.category, Tool.name)
    if category:
        query = query.where(Tool.category == category)
    return list(db.session.scalars(query))


def categories() -> list[tuple[str, int]]:
    """(category, number of tools), in tab order."""
    rows = db.session.execute(select(Tool.category, func.count(Tool.id)).group_by(Tool.category)).all()

    def order(row):
        name = row[0]
        return (0 if name in FIRST else 2 if name in LAST else 1, name)

    return sorted(((name, count) for name, count in rows), key=order)


def snapshot(tool: Tool) -> dict[str, Any]:
    return {name: getattr(tool, name) for name in EDITABLE}


def _text(value: Any, label: str, field: str, limit: int, required: bool = False) -> Optional[str]:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ToolError(f"{label} must be text.", field)
    value = value.strip()
    if required and not value:
        raise ToolError(f"{label} is required.", field)
    if len(value) > limit:
        raise ToolError(f"{label} is longer than {limit} characters.", field)
    return value or None


def clean(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    given = set(data) if partial else set(EDITABLE)
    out: dict[str, Any] = {}
    if "slug" in given:
        slug = (_text(data.get("slug"), "Id", "slug", 50, required=True) or "").lower()
        if not SLUG.match(slug):
            raise ToolError("Use lower-case letters, digits, '.', '-' and '_'.", "slug")
        out["slug"] = slug
    if "name" in given:
        out["name"] = _text(data.get("name"), "Name", "name", 100, required=True)
    if "description" in given:
        out["description"] = _text(data.get("description"), "Description", "description", 2000) or ""
    if "emoji" in given:
        out["emoji"] = _text(data.get("emoji"), "Emoji", "emoji", 16)
    if "category" in given:
        category = (_text(data.get("category"), "Category", "category", 50, required=True) or "").lower()
        if not CATEGORY.match(category):
            raise ToolError("A category is one word: lower-case letters, digits, '-' and '_'.", "category")
        out["category"] = category
    if "route_path" in given:
        route = _text(data.get("route_path"), "Route or URL", "route_path", 500)
        if route and not route.startswith("/") and urlsplit(route).scheme not in ("http", "https"):
            raise ToolError("Give a path in Sanctum (/tools/x) or an http(s):// URL.", "route_path")
        if route and route.startswith("//"):
            raise ToolError("Give a path in Sanctum (/tools/x) or an http(s):// URL.", "route_path")
        out["route_path"] = route
    if "health_check_url" in given:
        url = _text(data.get("health_check_url"), "Health-check URL", "health_check_url", 500)
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ToolError("The health-check URL must start with http:// or https://.", "health_check_url")
        out["health_check_url"] = url
    if "health_check_interval" in given:
        value = data.get("health_check_interval")
        try:
            value = 60 if value in (None, "") else int(value)
        except (TypeError, ValueError):
            raise ToolError("The interval must be a whole number of seconds.", "health_check_interval") from None
        if not 10 <= value <= 86400:
            raise ToolError("The interval must be between 10 and 86400 seconds.", "health_check_interval")
        out["health_check_interval"] = value
    if "is_enabled" in given:
        value = data.get("is_enabled", True)
        if not isinstance(value, bool) and value is not None:
            raise ToolError("is_enabled must be true or false.", "is_enabled")
        out["is_enabled"] = True if value is None else value
    return out


def _status_for(tool: Tool) -> None:
    """Off when disabled; Ready until a check says otherwise (or when there is nothing to check)."""
    if not tool.is_enabled:
        tool.status, tool.status_message = "Off", "Disabled."
    elif tool.status == "Off" or not tool.health_check_url:
        tool.status, tool.status_message, tool.checked_at = "Ready", None, None


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ToolError("Another tool already has that id.", "slug") from exc


def create_tool(*, data: dict[str, Any], actor: Optional[User], action: str = "tool.created") -> Tool:
    values = clean(data)
    if db.session.scalar(select(Tool.id).where(Tool.slug == values["slug"])) is not None:
        raise ToolError("Another tool already has that id.", "slug")
    tool = Tool(status="Ready", **values)
    _status_for(tool)
    db.session.add(tool)
    db.session.flush()
    audit.record(action, actor=actor, target=tool, details={"after": snapshot(tool)})
    _commit()
    return tool


def update_tool(*, tool: Tool, data: dict[str, Any], actor: Optional[User], partial: bool = False,
                commit: bool = True) -> bool:
    values = clean(data, partial=partial)
    if "slug" in values and values["slug"] != tool.slug and db.session.scalar(
            select(Tool.id).where(Tool.slug == values["slug"], Tool.id != tool.id)) is not None:
        raise ToolError("Another tool already has that id.", "slug")
    before = snapshot(tool)
    for field, value in values.items():
        setattr(tool, field, value)
    if before["is_enabled"] != tool.is_enabled or before["health_check_url"] != tool.health_check_url:
        _status_for(tool)
    after = snapshot(tool)
    changed = sorted(k for k in after if before[k] != after[k])
    if changed:
        audit.record("tool.updated", actor=actor, target=tool,
                     details={"before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}})
    if commit:
        _commit()
    return bool(changed)


def delete_tool(*, tool: Tool, actor: Optional[User]) -> None:
    details = {"before": snapshot(tool)}
    db.session.execute(delete(HealthCheck).where(HealthCheck.subject_type == "tool", HealthCheck.subject_id == tool.id))
    audit.record("tool.deleted", actor=actor, target=tool, details=details)
    db.session.delete(tool)
    db.session.commit()
