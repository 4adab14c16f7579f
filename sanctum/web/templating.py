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
    ("Announcements", "announcements.announcements_index", "announcements.manage"),
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
                                 now=utcnow, live_degraded=degraded, unread_notifications=unread_notifications,
                                 announcement_banners=announcement_banners, socket_channels=socket_channels)
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


def unread_notifications() -> int:
    """The bell's count (see `_header`), only when a full page (base.html) is rendered."""
    return _header().unread if current_user.is_authenticated else 0


def announcement_banners() -> list:
    """The signed-in user's current banners (see `_header`)."""
    return _header().banners if current_user.is_authenticated else []


def _header():
    """Bell and banners come from one statement per page, fetched once and kept on `g`."""
    from flask import g

    from sanctum.announcements.service import Header, header_for

    if "_sanctum_header" not in g:
        g._sanctum_header = _or_when_database_fails(lambda: header_for(current_user._get_current_object()),
                                                    Header(unread=0, banners=[]))
    return g._sanctum_header


def _or_when_database_fails(read, fallback):
    """The error page extends base.html too: a database that is down must not break it again."""
    from sqlalchemy.exc import SQLAlchemyError

    from sanctum.extensions import db

    try:
        return read()
    except SQLAlchemyError:
        db.session.rollback()
        return fallback


def socket_channels(page_channels) -> list[str]:
    """What the page's one websocket joins: the page's own channels, then those every signed-in
    tab listens to (its user's notifications and announcements). Empty: no socket."""
    from sanctum.announcements import CHANNEL as ANNOUNCEMENTS
    from sanctum.notifications.service import channel_for

    channels = list(page_channels or [])
    if current_user.is_authenticated and can("account.manage"):
        channels += [ANNOUNCEMENTS, channel_for(current_user.id)]
    return channels


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
