"""People who sign in, and the server-side sessions that carry them."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sanctum.extensions import db
from sanctum.models.base import UTCDateTime, utcnow
from sanctum.models.rbac import Role

USER_STATUSES = ("active", "inactive", "locked", "pending")


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(254))  # stored lower-cased
    display_name: Mapped[Optional[str]] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(100))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    last_login: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    failed_login_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    email_verified_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # Bumped when role or grants change: sessions issued before it get a new id (SECURITY.md 9).
    privileges_changed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # Set while a temporary or permanent ban is in force (kept by sanctum.moderation.sanctions):
    # every way in asks `is_active`, so a ban ends sessions, tokens and sockets on every path,
    # and lapses on its own at the minute it ends, before the expiry job tidies up.
    banned_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    # Likewise while a post or topic restriction is in force: only then does can_post read sanctions.
    restricted_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    role: Mapped["Role"] = relationship(lazy="joined")
    sessions: Mapped[list["UserSession"]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                         passive_deletes=True)

    __table_args__ = (
        Index("uq_users_username_lower", func.lower(username), unique=True),
        Index("uq_users_email", "email", unique=True),
    )

    # Flask-Login protocol. The id Flask-Login keeps is the session token, never the user id:
    # see sanctum.auth.sessions.
    session_token = None  # set per request by the session loader; not a column
    current_session = None
    api_token = None  # the personal API token this request came with, if any

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.status == "active" and not self.is_banned

    @property
    def is_banned(self) -> bool:
        return self.banned_until is not None and self.banned_until > utcnow()

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> Optional[str]:
        return self.session_token

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


class UserSession(db.Model):
    """One signed-in browser or API client. Only the token's hash is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="browser")  # browser | api
    # API sessions rotate their refresh token into a new row of the same family; presenting a
    # rotated-away refresh token revokes the whole family (seed 000 "UserSession").
    family_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    refresh_token_hash: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    reuse_detected: Mapped[bool] = mapped_column(Boolean, default=False)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    ip: Mapped[Optional[str]] = mapped_column(String(64))
    user_agent: Mapped[Optional[str]] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[Optional[str]] = mapped_column(String(50))

    user: Mapped[User] = relationship(back_populates="sessions")

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()

    def __repr__(self) -> str:
        return f"<UserSession {self.id} user={self.user_id} {self.kind}>"


class LoginThrottle(db.Model):
    """Failed sign-ins per account key: `user:<id>` for real accounts, `name:<typed>` otherwise.

    Unknown names are throttled exactly like real ones, so the lockout reveals nothing.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    lockouts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AccountToken(db.Model):
    """Single-use tokens mailed to a person: verify an email, reset a password. Hash only."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))  # verify_email | reset_password
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[Optional[str]] = mapped_column(String(254))  # the address being verified
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)
