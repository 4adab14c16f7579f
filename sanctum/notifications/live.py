"""The bell's live side: only the owner listens on `notifications:<id>`, and each event becomes a
fresh bell (its count read from the database, so a lost event heals with the next one)."""
from __future__ import annotations

from typing import Optional

from flask import current_app, render_template

from sanctum import live
from sanctum.notifications.service import unread_count


def _owner_id(name: str) -> Optional[int]:
    try:
        return int(name.split(":", 1)[1])
    except (IndexError, ValueError):
        return None


@live.channel("notifications:")
def may_listen(user, name: str) -> bool:
    """Only the owner, while they may use their account."""
    from sanctum.rbac.service import has_permission

    return _owner_id(name) == user.id and has_permission(user, "account.manage")


def bell_html(user_id: int, *, oob: bool) -> str:
    with current_app.test_request_context():
        return render_template("notifications/_bell.html", unread=unread_count(user_id), oob=oob)


@live.renderer("notifications:")
def render_event(connection, name: str, data: dict) -> Optional[str]:
    owner = _owner_id(name)
    if owner is None or owner != connection.user_id:
        return None
    return bell_html(owner, oob=True)
