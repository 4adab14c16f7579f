"""Banners over the page's socket: every signed-in tab listens on `announcements`; each event
re-renders that tab's own banners (its user's audience and dismissals applied)."""
from __future__ import annotations

from typing import Optional

from flask import current_app, render_template

from sanctum import live
from sanctum.announcements import CHANNEL


@live.channel(CHANNEL)
def may_listen(user, name: str) -> bool:
    from sanctum.rbac.service import has_permission

    return name == CHANNEL and has_permission(user, "account.manage")


def banners_html(user, *, oob: bool) -> str:
    from sanctum.announcements.service import banners_for

    with current_app.test_request_context():
        return render_template("announcements/_banners.html", announcements=banners_for(user), oob=oob)


@live.renderer(CHANNEL)
def render_event(connection, name: str, data: dict) -> Optional[str]:
    from sanctum.extensions import db
    from sanctum.models import User

    user = db.session.get(User, connection.user_id) if connection.user_id is not None else None
    if user is None:
        return None
    return banners_html(user, oob=True)
