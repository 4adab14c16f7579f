"""Agents: who they are, how to reach them (provider and connection), and who may use them."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow
from sanctum.models.rbac import Role
from sanctum.models.user import User

# Who may use an agent: any of these roles, or any of these named users. Both empty: only
# those who manage agents.
agent_roles = Table(
    "agent_roles",
    db.metadata,
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)
agent_users = Table(
    "agent_users",
    db.metadata,
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)

# Shared by agents and tools (seed 002 "Healthy"; Down and Off added for checks and switches).
STATUSES = ("Healthy", "Degraded", "Down", "Off", "Ready")


class Agent(db.Model):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)  # slug: "athena"; the seed API's `id`
    display_name: Mapped[Optional[str]] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    avatar: Mapped[Optional[str]] = mapped_column(String(16))  # an emoji
    status: Mapped[str] = mapped_column(String(20), default="Ready")
    status_message: Mapped[Optional[str]] = mapped_column(String(500))
    checked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    provider: Mapped[str] = mapped_column(String(20), default="builtin")
    base_url: Mapped[Optional[str]] = mapped_column(String(500))
    model: Mapped[Optional[str]] = mapped_column(String(200))
    external_id: Mapped[Optional[str]] = mapped_column(String(200))  # the Letta agent id
    system_prompt: Mapped[Optional[str]] = mapped_column(Text)
    temperature: Mapped[Optional[float]] = mapped_column(Float)
    connect_timeout: Mapped[float] = mapped_column(Float, default=5.0)
    read_timeout: Mapped[float] = mapped_column(Float, default=60.0)  # longest silence inside a reply
    total_timeout: Mapped[float] = mapped_column(Float, default=300.0)  # longest whole reply
    health_check_interval: Mapped[int] = mapped_column(Integer, default=300)  # seconds
    api_key_encrypted: Mapped[Optional[str]] = mapped_column(Text)  # Fernet token, never the key
    api_key_hint: Mapped[Optional[str]] = mapped_column(String(16))  # the mask shown in pages
    # Broca web-chat bridge: the key Broca presents (hashed), and when it last polled.
    bridge_key_hash: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    bridge_key_prefix: Mapped[Optional[str]] = mapped_column(String(16))
    bridge_last_poll_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    roles: Mapped[list[Role]] = relationship(secondary=agent_roles, order_by=Role.name)
    users: Mapped[list[User]] = relationship(secondary=agent_users, order_by=User.username)

    @property
    def label(self) -> str:
        return self.display_name or self.name

    @property
    def has_api_key(self) -> bool:
        return self.api_key_encrypted is not None

    @property
    def api_key(self) -> Optional[str]:
        """The decrypted key, for the provider call only; never render or log it."""
        from sanctum.crypto import decrypt

        return decrypt(self.api_key_encrypted)

    def __repr__(self) -> str:
        return f"<Agent {self.name}>"
