"""The bridge queue: what Broca's web_chat plugin polls, and where its replies land.

Inbound messages (for Broca) are handed out by the inbox until a reply arrives on
their session; one handed out but not answered within BRIDGE_REDELIVER_SECONDS is
handed out again (the plugin drops duplicates it has seen), so a Broca restart
loses nothing. Replies are committed first, then announced on `bridge:<agent id>`.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from datetime import datetime, timedelta
from typing import Optional

from flask import current_app
from sqlalchemy import case, func, select, update

from sanctum import audit, events
from sanctum.auth.sessions import hash_token
from sanctum.extensions import db
from sanctum.models import Agent, BridgeMessage, User
from sanctum.models.base import utcnow

KEY_PREFIX = "sct_brg_"
SESSION_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
MAX_REPLY = 32_000
ACTIVE_MINUTES = 30  # the protocol's session timeout


class BridgeError(ValueError):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def channel(agent_id: int) -> str:
    return f"bridge:{agent_id}"


def new_session_key() -> str:
    return f"session_{int(time.time()):x}_{secrets.token_hex(6)}"


def uid_for(user_id: Optional[int], session_key: str) -> str:
    """The protocol's stable 16-hex-digit id for a person (per session for anonymous ones)."""
    seed = f"sanctum-user:{user_id}" if user_id else f"sanctum-session:{session_key}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- keys

def generate_key(*, agent: Agent, actor: Optional[User]) -> str:
    """A new bridge key for `agent`, replacing any old one. Shown once; only the hash is kept. Commits."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    had = agent.bridge_key_hash is not None
    agent.bridge_key_hash, agent.bridge_key_prefix = hash_token(raw), raw[:12]
    audit.record("agent.bridge_key_replaced" if had else "agent.bridge_key_created", actor=actor, target=agent,
                 details={"prefix": agent.bridge_key_prefix})
    db.session.commit()
    return raw


def revoke_key(*, agent: Agent, actor: Optional[User]) -> None:
    if agent.bridge_key_hash is None:
        return
    agent.bridge_key_hash = agent.bridge_key_prefix = None
    audit.record("agent.bridge_key_revoked", actor=actor, target=agent)
    db.session.commit()


def agent_for_key(raw: str) -> Optional[Agent]:
    digest = hash_token(raw or "")
    agent = db.session.scalar(select(Agent).where(Agent.bridge_key_hash == digest))
    # The lookup is by hash (no timing signal about the key); compare again in constant time anyway.
    if agent is None or not hmac.compare_digest(agent.bridge_key_hash or "", digest):
        return None
    return agent


# ---------------------------------------------------------------- Sanctum → Broca

def queue_for_broca(*, agent_id: int, session_key: str, body: str, user_id: Optional[int] = None) -> int:
    """Queue a message for the agent's inbox; commits (Broca may poll at any moment)."""
    if not SESSION_KEY.match(session_key or ""):
        raise BridgeError("Invalid session ID format")
    message = BridgeMessage(agent_id=agent_id, direction="inbound", session_key=session_key, body=body,
                            uid=uid_for(user_id, session_key), user_id=user_id)
    db.session.add(message)
    db.session.commit()
    return message.id


def inbox(*, agent: Agent, limit: int, offset: int, since: Optional[datetime]) -> tuple[list[BridgeMessage], int]:
    """Unanswered messages for Broca, oldest first, marked as handed out. Commits."""
    now = utcnow()
    redeliver_before = now - timedelta(seconds=current_app.config["BRIDGE_REDELIVER_SECONDS"])
    conditions = [BridgeMessage.agent_id == agent.id, BridgeMessage.direction == "inbound",
                  BridgeMessage.answered_at.is_(None),
                  BridgeMessage.delivered_at.is_(None) | (BridgeMessage.delivered_at < redeliver_before)]
    if since is not None:
        conditions.append(BridgeMessage.created_at > since)
    total = db.session.scalar(select(func.count(BridgeMessage.id)).where(*conditions))
    rows = list(db.session.scalars(select(BridgeMessage).where(*conditions).order_by(BridgeMessage.id)
                                   .limit(limit).offset(offset)))
    if rows:
        db.session.execute(update(BridgeMessage).where(BridgeMessage.id.in_([r.id for r in rows]))
                           .values(delivered_at=now, delivery_count=BridgeMessage.delivery_count + 1))
    agent.bridge_last_poll_at = now
    db.session.commit()
    return rows, total


# ---------------------------------------------------------------- Broca → Sanctum

def post_reply(*, agent: Agent, session_key: str, body: str) -> BridgeMessage:
    """Store Broca's reply on a session it was sent; announce it after commit."""
    if not isinstance(session_key, str) or not SESSION_KEY.match(session_key):
        raise BridgeError("Invalid session ID format")
    if not isinstance(body, str) or not body.strip():
        raise BridgeError("The response must be a non-empty string")
    if len(body) > MAX_REPLY:
        raise BridgeError(f"The response is longer than {MAX_REPLY} characters", 413)
    known = db.session.scalar(select(BridgeMessage.id).where(
        BridgeMessage.agent_id == agent.id, BridgeMessage.session_key == session_key,
        BridgeMessage.direction == "inbound").limit(1))
    if known is None:
        raise BridgeError("Session not found", 404)
    now = utcnow()
    reply = BridgeMessage(agent_id=agent.id, direction="outbound", session_key=session_key, body=body,
                          created_at=now)
    db.session.add(reply)
    db.session.execute(update(BridgeMessage).where(
        BridgeMessage.agent_id == agent.id, BridgeMessage.session_key == session_key,
        BridgeMessage.direction == "inbound", BridgeMessage.answered_at.is_(None)).values(answered_at=now))
    db.session.flush()
    events.publish_on_commit(channel(agent.id), {"type": "bridge:reply", "agent_id": agent.id,
                                                 "session_key": session_key, "message_id": reply.id})
    db.session.commit()
    return reply


def wait_for_reply(*, agent_id: int, session_key: str, after_id: int, timeout: float) -> Optional[str]:
    """Block until Broca replies on `session_key` (after message `after_id`), or `timeout` passes.

    The event wakes us early; the database is the truth, read again every second, since
    events are at-most-once.
    """
    woke = threading.Event()

    def on_reply(_channel: str, data: dict) -> None:
        if data.get("session_key") == session_key:
            woke.set()

    subscription = events.subscribe(channel(agent_id), on_reply)
    deadline = time.monotonic() + timeout
    try:
        while True:
            db.session.rollback()  # a fresh snapshot each round
            reply = db.session.scalar(select(BridgeMessage).where(
                BridgeMessage.agent_id == agent_id, BridgeMessage.session_key == session_key,
                BridgeMessage.direction == "outbound", BridgeMessage.id > after_id,
                BridgeMessage.delivered_at.is_(None)).order_by(BridgeMessage.id).limit(1))
            if reply is not None:
                reply.delivered_at = utcnow()
                body = reply.body
                db.session.commit()
                return body
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            woke.wait(min(1.0, left))
            woke.clear()
    finally:
        subscription.close()


# ---------------------------------------------------------------- admin views

def sessions(*, agent_ids: list[int], limit: int, offset: int, active_only: bool) -> tuple[list[dict], int]:
    m = BridgeMessage
    grouped = (select(m.agent_id, m.session_key, func.min(m.created_at).label("created_at"),
                      func.max(m.created_at).label("last_active"),
                      func.sum(case((m.direction == "inbound", 1), else_=0)).label("message_count"),
                      func.sum(case((m.direction == "outbound", 1), else_=0)).label("response_count"),
                      func.max(m.uid).label("uid"))
               .where(m.agent_id.in_(agent_ids)).group_by(m.agent_id, m.session_key))
    if active_only:
        grouped = grouped.having(func.max(m.created_at) >= utcnow() - timedelta(minutes=ACTIVE_MINUTES))
    sub = grouped.subquery()
    total = db.session.scalar(select(func.count()).select_from(sub))
    rows = db.session.execute(select(sub).order_by(sub.c.last_active.desc()).limit(limit).offset(offset)).all()
    return [dict(row._mapping) for row in rows], total


def session_messages(*, agent_ids: list[int], session_key: str) -> list[BridgeMessage]:
    return list(db.session.scalars(select(BridgeMessage).where(
        BridgeMessage.agent_id.in_(agent_ids), BridgeMessage.session_key == session_key).order_by(BridgeMessage.id)))
