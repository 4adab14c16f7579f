"""The Broca web-chat bridge queue: messages waiting for Broca, and replies it posted.

Chat sessions and messages proper are the chat feature's tables; this queue is what
the bridge protocol needs. A conversation is named by `session_key` (the protocol's
`session_id`); the chat feature links its sessions to these rows by that key.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow


class BridgeMessage(db.Model):
    __tablename__ = "bridge_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))  # inbound: for Broca (inbox) | outbound: Broca's reply
    session_key: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    uid: Mapped[Optional[str]] = mapped_column(String(32))  # the protocol's stable per-person id
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # inbound: handed to Broca (inbox) / answered by a reply on its session.
    # outbound: taken by whoever waited for the reply.
    delivered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    delivery_count: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_bridge_messages_queue", "agent_id", "direction", "answered_at", "id"),
        Index("ix_bridge_messages_session", "agent_id", "session_key", "id"),
    )
