"""Chats in data exports and erasure (sanctum.privacy registry)."""
from __future__ import annotations

from sqlalchemy import delete, select, update

from sanctum.extensions import db
from sanctum.models import ChatMessage, ChatSession, Run, UsageDaily
from sanctum.privacy.registry import eraser, exporter


@exporter("chats", "Chats and messages", position=150)
def export_chats(user):
    chats = db.session.scalars(select(ChatSession).where(ChatSession.user_id == user.id)
                               .order_by(ChatSession.id)).all()
    ids = [c.id for c in chats]
    messages: dict[int, list] = {i: [] for i in ids}
    if ids:
        for m in db.session.scalars(select(ChatMessage).where(ChatMessage.chat_id.in_(ids)).order_by(ChatMessage.id)):
            messages[m.chat_id].append({"id": m.id, "role": m.role, "body": m.body, "status": m.status,
                                        "created_at": m.created_at.isoformat()})
    usage = db.session.scalars(select(UsageDaily).where(UsageDaily.user_id == user.id).order_by(UsageDaily.day)).all()
    return {
        "chats": [{"id": c.id, "title": c.title, "agent": c.agent.name, "created_at": c.created_at.isoformat(),
                   "messages": messages[c.id]} for c in chats],
        "usage": [{"day": u.day.isoformat(), "agent_id": u.agent_id, "messages": u.messages, "tokens_in": u.tokens_in,
                   "tokens_out": u.tokens_out} for u in usage],
    }


@eraser("chats")
def erase_chats(ctx):
    """Delete the person's chats, or keep them with their words blanked ("anonymise")."""
    user_id = ctx.user.id
    chat_ids = list(db.session.scalars(select(ChatSession.id).where(ChatSession.user_id == user_id)))
    if not chat_ids:
        return {"chats": 0}
    db.session.execute(update(Run).where(Run.chat_id.in_(chat_ids), Run.status.in_(("pending", "running")))
                       .values(cancel_requested=True))
    if ctx.chats_mode == "delete":
        db.session.execute(delete(ChatSession).where(ChatSession.id.in_(chat_ids)))
        return {"chats": len(chat_ids), "mode": "deleted"}
    db.session.execute(update(ChatMessage).where(ChatMessage.chat_id.in_(chat_ids), ChatMessage.role == "user")
                       .values(body="[erased]", author_id=None))
    db.session.execute(update(ChatSession).where(ChatSession.id.in_(chat_ids)).values(title="Erased chat"))
    return {"chats": len(chat_ids), "mode": "anonymised"}
