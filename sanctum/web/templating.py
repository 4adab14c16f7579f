"""Jinja filters and globals every template may use."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Flask, request, url_for
from flask_login import current_user

# (label, endpoint, permission): the main navigation, filtered by what the viewer may do.
NAVIGATION: list[tuple[str, str, str]] = [
    ("Home", "main.main_index", "system.view"),
    ("Dashboard", "dashboard.dashboard_index", "dashboard.view"),
    ("Chat", "chat.chat_index", "chat.use"),
    ("Users", "users.users_index", "users.view"),
    ("Agents", "agents.agents_index", "agents.view"),
    ("Tools", "tools.tools_index", "tools.view"),
    ("Moderation", "moderation.queue_index", "moderation.review"),
    ("Accounts", "admin.users_attention", "users.manage"),
    ("Roles", "admin.roles_index", "roles.manage"),
    ("Quotas", "admin.quotas_index", "users.manage"),
    ("Outbox", "admin.outbox_index", "mail.outbox"),
    ("Settings", "settings.settings_index", "settings.manage"),
    ("Audit", "audit.audit_index", "audit.view"),
    ("Jobs", "jobs.jobs_index", "jobs.view"),
    ("Invitations", "invitations.invitations_index", "invitations.manage"),
    ("Discovery", "discovery.discovery_index", "users.manage"),
    ("Data requests", "privacy.privacy_admin", "users.manage"),
]


@dataclass
class NavItem:
    label: str
    url: str
    current: bool


def init_app(app: Flask) -> None:
    from sanctum.events import degraded
    from sanctum.models.base import utcnow

    app.jinja_env.globals.update(app_name="Sanctum", htmx_config=HTMX_CONFIG, can=can, navigation=navigation,
                                 now=utcnow, live_degraded=degraded)
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["ago"] = time_ago
    app.jinja_env.filters["device"] = describe_device


def can(permission: str) -> bool:
    from sanctum.rbac.service import has_permission

    return has_permission(current_user, permission)


def navigation() -> list[NavItem]:
    items = []
    for label, endpoint, permission in NAVIGATION:
        if can(permission):
            url = url_for(endpoint)
            items.append(NavItem(label, url, request.endpoint == endpoint))
    return items


def format_datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    return value.strftime(fmt) if value else "—"


def time_ago(value: datetime | None) -> str:
    from sanctum.models.base import utcnow

    if value is None:
        return "never"
    seconds = int((utcnow() - value).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def describe_device(user_agent: str | None) -> str:
    """A short human name for a browser's User-Agent ("Firefox on Linux")."""
    ua = user_agent or ""
    if not ua:
        return "Unknown device"
    browser = next((name for token, name in (
        ("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"), ("Safari/", "Safari"), ("curl/", "curl"), ("python", "Python client"),
    ) if token.lower() in ua.lower()), "Browser")
    system = next((name for token, name in (
        ("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
        ("Mac OS X", "macOS"), ("Linux", "Linux"),
    ) if token in ua), None)
    return f"{browser} on {system}" if system else browser


HTMX_CONFIG = (
    '{"includeIndicatorStyles": false, "allowEval": false, "allowScriptTags": false,'
    ' "selfRequestsOnly": true, "historyCacheSize": 0,'
    ' "responseHandling": ['
    '{"code": "204", "swap": false},'
    '{"code": "[23]..", "swap": true},'
    '{"code": "422", "swap": true},'
    '{"code": "[45]..", "swap": false, "error": true}]}'
)
