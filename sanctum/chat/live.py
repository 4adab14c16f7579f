"""The chat's live side: who may listen to `chat:<id>`, what each event becomes on a socket,
and the resync a reconnecting client asks for."""
from __future__ import annotations

import json
from typing import Optional

from flask import current_app, render_template
from sqlalchemy import select

from sanctum import live
from sanctum.extensions import db
from sanctum.models import ChatMessage, ChatSession, Run
from sanctum.rbac.service import has_permission


def _chat_id(name: str) -> Optional[int]:
    try:
        return int(name.split(":", 1)[1])
    except (IndexError, ValueError):
        return None


@live.channel("chat:")
def may_listen(user, name: str) -> bool:
    """Only the chat's owner, while they may chat."""
    chat_id = _chat_id(name)
    if chat_id is None or not has_permission(user, "chat.use"):
        return False
    return db.session.scalar(select(ChatSession.id).where(ChatSession.id == chat_id,
                                                          ChatSession.user_id == user.id)) is not None


def message_payload(message: ChatMessage, run: Optional[Run]) -> str:
    """A message as the client's chat script receives it: its id and its rendered fragment."""
    with current_app.test_request_context():
        html = render_template("chat/_message.html", message=message, run=run)
    return json.dumps({"type": "message", "id": message.id, "role": message.role, "status": message.status,
                       "length": len(message.body), "html": html})


@live.renderer("chat:")
def render_event(connection, name: str, data: dict) -> Optional[str]:
    if data.get("type") == "delta":
        return json.dumps(data)  # text only; the client escapes it
    if data.get("type") == "message":
        message = db.session.get(ChatMessage, data.get("id"))
        if message is None or message.chat_id != _chat_id(name):
            return None
        run = db.session.get(Run, message.run_id) if message.run_id else None
        return message_payload(message, run)
    return None


@live.message_handler("resync")
def resync(connection, message: dict) -> None:
    """Send what a reconnecting client missed: every message after `after`, plus the current
    text of any reply still being written (it resumes from there; offsets drop repeats)."""
    name = str(message.get("channel", ""))
    chat_id = _chat_id(name)
    if chat_id is None or not connection.may_listen(name):
        connection.send_json({"type": "error", "code": "forbidden", "message": "Cannot resync that chat."})
        return
    connection.join(name)
    try:
        after = max(int(message.get("after") or 0), 0)
    except (TypeError, ValueError):
        after = 0
    rows = db.session.scalars(select(ChatMessage).where(
        ChatMessage.chat_id == chat_id,
        (ChatMessage.id > after) | (ChatMessage.status == "streaming"),
    ).order_by(ChatMessage.id)).all()
    runs = {r.id: r for r in db.session.scalars(select(Run).where(Run.id.in_([m.run_id for m in rows if m.run_id])))}
    for row in rows:
        connection.send(message_payload(row, runs.get(row.run_id)))
    connection.send_json({"type": "resynced", "channel": name, "count": len(rows)})
