"""Moderation (seed 000): flags, the items moderators review, their history, screening rules
and sanctions."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sanctum.extensions import db
from sanctum.models.agent import Agent
from sanctum.models.base import UTCDateTime, utcnow
from sanctum.models.user import User

FLAG_REASONS = {  # reason: (label, weight in the item's score)
    "spam": ("Spam", 1),
    "abuse": ("Abuse or harassment", 3),
    "harmful": ("Harmful agent output", 3),
    "other": ("Something else", 1),
}
ITEM_STATES = ("open", "resolved")
DECISIONS = ("dismissed", "hidden", "warned", "sanctioned")
RULE_KINDS = ("term", "regex")
RULE_ACTIONS = {  # action: (label, weight of a hit in the item's score)
    "flag": ("Flag for review", 2),
    "hold": ("Hold from the agent until reviewed", 4),
    "block": ("Block, and tell the sender why", 5),
}
RULE_SCOPES = ("user", "agent", "both")
SANCTION_TYPES = {
    "warning": "Warning",
    "post_restriction": "May read, may not send",
    "topic_restriction": "Barred from named agents",
    "temporary_ban": "Temporary ban",
    "permanent_ban": "Permanent ban",
}
BANS = ("temporary_ban", "permanent_ban")

sanction_agents = Table(
    "sanction_agents",
    db.metadata,
    Column("sanction_id", ForeignKey("sanctions.id", ondelete="CASCADE"), primary_key=True),
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
)


class ModerationItem(db.Model):
    """One message under review: flags and screening hits gather here and raise its score."""

    __tablename__ = "moderation_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[Optional[int]] = mapped_column(ForeignKey("chat_messages.id", ondelete="SET NULL"),
                                                      unique=True)
    chat_id: Mapped[Optional[int]] = mapped_column(ForeignKey("chat_sessions.id", ondelete="SET NULL"))
    # Whose conversation it is (the person a sanction would reach), and the agent in it.
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    agent_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    message_role: Mapped[str] = mapped_column(String(10))  # user | agent
    excerpt: Mapped[str] = mapped_column(Text)  # the text as flagged: evidence outlives edits and deletion
    reason: Mapped[str] = mapped_column(String(40))  # the weightiest reason or screening category so far
    source: Mapped[str] = mapped_column(String(20))  # flag | screening | agent (a moderation agent's verdict)
    score: Mapped[int] = mapped_column(Integer, default=0)
    flag_count: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(10), default="open")
    held: Mapped[bool] = mapped_column(Boolean, default=False)  # the message waits for review before the agent sees it
    decision: Mapped[Optional[str]] = mapped_column(String(20))
    decision_reason: Mapped[Optional[str]] = mapped_column(String(1000))
    decided_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[Optional[User]] = relationship(foreign_keys=[user_id])
    agent: Mapped[Optional[Agent]] = relationship()
    decided_by: Mapped[Optional[User]] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (Index("ix_moderation_items_queue", "state", "score", "created_at"),)


class Flag(db.Model):
    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("moderation_items.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[Optional[int]] = mapped_column(ForeignKey("chat_messages.id", ondelete="SET NULL"))
    reporter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[Optional[str]] = mapped_column(String(1000))
    weight: Mapped[int] = mapped_column(Integer, default=1)
    outcome: Mapped[Optional[str]] = mapped_column(String(20))  # the decision, once there is one
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reporter: Mapped[Optional[User]] = relationship()

    __table_args__ = (UniqueConstraint("message_id", "reporter_id", name="uq_flags_message_reporter"),)


class ModerationAction(db.Model):
    """An item's history: every flag, hit and decision, with who and why."""

    __tablename__ = "moderation_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("moderation_items.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(30))
    reason: Mapped[Optional[str]] = mapped_column(String(1000))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[Optional[User]] = relationship()


class ScreeningRule(db.Model):
    __tablename__ = "screening_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # term | regex
    pattern: Mapped[str] = mapped_column(String(1000))
    category: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(10))  # flag | hold | block
    applies_to: Mapped[str] = mapped_column(String(10), default="user")  # user | agent | both
    block_message: Mapped[Optional[str]] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Sanction(db.Model):
    __tablename__ = "sanctions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(1000))
    applied_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    item_id: Mapped[Optional[int]] = mapped_column(ForeignKey("moderation_items.id", ondelete="SET NULL"))
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    ended_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    end_reason: Mapped[Optional[str]] = mapped_column(String(1000))  # "expired", or the lifter's words

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    applied_by: Mapped[Optional[User]] = relationship(foreign_keys=[applied_by_id])
    ended_by: Mapped[Optional[User]] = relationship(foreign_keys=[ended_by_id])
    agents: Mapped[list[Agent]] = relationship(secondary=sanction_agents, lazy="selectin")

    __table_args__ = (Index("ix_sanctions_user_active", "user_id", "is_active"),
                      Index("ix_sanctions_active_expires", "is_active", "expires_at"))

    @property
    def label(self) -> str:
        return SANCTION_TYPES.get(self.type, self.type)

    def in_force(self, now: datetime) -> bool:
        return self.is_active and (self.expires_at is None or self.expires_at > now)
