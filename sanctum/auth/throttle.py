"""Temporary lockout with growing waits (SECURITY.md 6).

5 failures on one account → locked 1 minute; each further lockout doubles the
wait up to 15 minutes. Counted per account whatever the IP, so spreading a guess
across many addresses does not help. A success clears it; so does an admin.
Names that match no account are throttled the same way, so a lockout says
nothing about whether the account exists. (Per-IP limits are Flask-Limiter's.)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Optional

from flask import current_app
from sqlalchemy import delete

from sanctum.extensions import db, limiter
from sanctum.models import LoginThrottle, User
from sanctum.models.base import utcnow


def throttle_key(identifier: str, user: Optional[User]) -> str:
    return f"user:{user.id}" if user is not None else f"name:{identifier.strip().lower()[:250]}"


@dataclass
class Lock:
    seconds_left: int

    @property
    def wait_words(self) -> str:
        if self.seconds_left < 60:
            return f"{self.seconds_left} second{'s' if self.seconds_left != 1 else ''}"
        minutes = math.ceil(self.seconds_left / 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"


def too_many(what: str, source: str = "from your address") -> Callable[[], str]:
    """The 429 text: what was refused and how long to wait, in words (Flask-Limiter's own
    text is the bare limit, "10 per 1 minute")."""

    def message() -> str:
        limit = limiter.current_limit  # the limit just breached
        # Rounded as Flask-Limiter rounds its Retry-After header, so the two agree.
        seconds = int(limit.reset_at - time.time()) if limit is not None else 60
        return f"Too many {what} {source}. Try again in {Lock(max(seconds, 1)).wait_words}."

    return message


def limit_posts(config_key: str, what: str, *, source: str = "from your address",
                key_func: Optional[Callable[[], str]] = None):
    """A Flask-Limiter limit on POST, read from config at request time (per client address
    unless `key_func` says otherwise), whose 429 says what was refused and for how long."""
    extra = {"key_func": key_func} if key_func is not None else {}
    return limiter.limit(lambda: current_app.config[config_key], methods=["POST"],
                         error_message=too_many(what, source), **extra)


def current_lock(key: str) -> Optional[Lock]:
    row = db.session.get(LoginThrottle, key)
    if row is None or row.locked_until is None:
        return None
    left = (row.locked_until - utcnow()).total_seconds()
    return Lock(math.ceil(left)) if left > 0 else None


def register_failure(key: str, user: Optional[User]) -> Optional[Lock]:
    """Count a failure in the caller's transaction; returns the lock if this one caused it."""
    config = current_app.config
    _ensure_row(key)
    row = db.session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
    row.failures = (row.failures or 0) + 1
    lock = None
    if row.failures >= config["LOGIN_LOCKOUT_THRESHOLD"]:
        seconds = min(config["LOGIN_LOCKOUT_BASE_SECONDS"] * 2 ** (row.lockouts or 0), config["LOGIN_LOCKOUT_MAX_SECONDS"])
        row.locked_until = utcnow() + timedelta(seconds=seconds)
        row.lockouts = (row.lockouts or 0) + 1
        row.failures = 0
        lock = Lock(int(seconds))
    if user is not None:
        # Mirrored on the account so admins see it on the user's page.
        user.failed_login_attempts = (user.failed_login_attempts or 0) + 1
        user.locked_until = row.locked_until
    return lock


def _ensure_row(key: str) -> None:
    """Create the counter if missing; two first failures at once must both count, not collide."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(
        insert(LoginThrottle).values(key=key, failures=0, lockouts=0, updated_at=utcnow()).on_conflict_do_nothing()
    )


def clear(key: str, user: Optional[User] = None) -> None:
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
    if user is not None:
        user.failed_login_attempts = 0
        user.locked_until = None
