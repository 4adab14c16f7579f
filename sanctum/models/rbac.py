"""Roles, permissions and direct grants (seed 000, RBAC section)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow

role_permissions = Table(
    "role_permissions",
    db.metadata,
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("permissions.id", ondelete="CASCADE"), primary_key=True),
)


class Permission(db.Model):
    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # dotted: "users.manage"
    description: Mapped[str] = mapped_column(String(255), default="")
    # Dynamic permissions are granted per user for a while (moderation duty), never by role.
    is_dynamic: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def area(self) -> str:
        return self.name.split(".", 1)[0]

    def __repr__(self) -> str:
        return f"<Permission {self.name}>"


class Role(db.Model):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    permissions: Mapped[list[Permission]] = relationship(secondary=role_permissions, order_by=Permission.name)

    def __repr__(self) -> str:
        return f"<Role {self.name}>"


class UserPermission(db.Model):
    """A permission granted to one user directly, optionally until `expires_at`."""

    __tablename__ = "user_permissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    permission_id: Mapped[int] = mapped_column(ForeignKey("permissions.id", ondelete="CASCADE"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    granted_by_user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_by_event: Mapped[Optional[str]] = mapped_column(String(100))  # e.g. "moderation.item:42"
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    permission: Mapped[Permission] = relationship()

    __table_args__ = (Index("ix_user_permissions_user_active", "user_id", "is_active"),)
