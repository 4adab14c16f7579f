"""The moderation queue, live: who may listen to "moderation", and what an event becomes.

Events carry only ids; each moderator's socket renders the row itself (so nothing reaches a
socket whose user may no longer review). The queue page's script places the row: replaced
where it is, added when it matches the page's filter, removed when it leaves it.
"""
from __future__ import annotations

import json
from typing import Optional

from flask import current_app, render_template
from sqlalchemy.orm import joinedload
from sqlalchemy import select

from sanctum import live
from sanctum.extensions import db
from sanctum.models import ModerationItem
from sanctum.rbac.service import has_permission


@live.channel("moderation")
def may_listen(user, name: str) -> bool:
    return name == "moderation" and has_permission(user, "moderation.review")


@live.renderer("moderation")
def render_event(connection, name: str, data: dict) -> Optional[str]:
    if data.get("type") != "item":
        return None
    item = db.session.scalar(select(ModerationItem).options(
        joinedload(ModerationItem.user), joinedload(ModerationItem.agent), joinedload(ModerationItem.decided_by))
        .where(ModerationItem.id == data.get("id")))
    if item is None:
        return None
    from sanctum.moderation.service import open_count

    with current_app.test_request_context():
        html = render_template("moderation/_item_row.html", item=item)
    return json.dumps({"type": "moderation:item", "id": item.id, "state": item.state, "score": item.score,
                       "reason": item.reason, "agent": item.agent_id, "source": item.source,
                       "user": item.user.username.lower() if item.user else "", "decision": item.decision,
                       "decided_by": item.decided_by.name if item.decided_by else None,
                       "open_count": open_count(), "html": html})
