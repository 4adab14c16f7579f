"""Server-side sessions (SECURITY.md 8-13).

The browser holds a random 256-bit token inside Flask's signed session cookie
(HttpOnly, SameSite=Lax, Secure over TLS); the server keeps only its SHA-256 in
`user_sessions`. Flask-Login's "user id" IS that token, so its user loader goes
through the table on every request: a revoked, expired or idle session is signed
out on its next request, wherever it was revoked.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Iterable, Optional

from flask import current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import login_user, logout_user
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from sanctum import events
from sanctum.extensions import db, login_manager
from sanctum.models import User, UserSession
from sanctum.models.base import utcnow

REVOKED_CHANNEL = "auth:revoked"  # {"session_ids": [...]}: those sessions just ended
USER_CHANNEL = "auth:users"  # {"user_ids": [...]}: those users lost access (deactivated, banned, deleted)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits from the OS CSPRNG


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """Mark the cookie Secure whenever the request came over TLS (directly or via ProxyFix)."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def init_app(app) -> None:
    from sanctum.extensions import csrf

    app.session_interface = TlsAwareSessionInterface()
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side session row is the protection
    login_manager.login_view = "auth.auth_login"
    # CSRF is checked below, once we know whether the request came with a cookie or a bearer token.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False

    @app.before_request
    def authenticate_then_check_csrf():
        # Load (and touch) the session before the view runs, so the loader's small commit
        # never lands in the middle of the view's own transaction.
        from flask_login import current_user

        current_user._get_current_object()
        if needs_csrf_check():
            csrf.protect()


def needs_csrf_check() -> bool:
    """Every state-changing request carries the CSRF token (SECURITY.md 17), except where a
    forged cross-site request is impossible: a bearer token (browsers never attach one), or a
    JSON body to /api/ (a cross-site page cannot send one without a CORS preflight we refuse)."""
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE") or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return False
    if request.routing_exception is not None:
        return False  # no view will run: let routing answer 404/405
    if bearer_token() is not None:
        return False
    return not (request.path.startswith("/api/") and request.mimetype == "application/json")


def bearer_token() -> Optional[str]:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and request.path.startswith("/api/"):
        return header[7:].strip() or None
    return None


@login_manager.user_loader
def load_user(token: str) -> Optional[User]:
    if bearer_token() is not None:
        return None  # a bearer request is judged by its token alone, never by a cookie beside it
    return resume_session(token)


@login_manager.request_loader
def load_user_from_bearer(_request) -> Optional[User]:
    raw = bearer_token()
    if raw is None:
        return None
    from sanctum.tokens.service import authenticate_bearer

    return authenticate_bearer(raw, ip=request.remote_addr)


def lifetimes(remember: bool) -> tuple[timedelta, timedelta]:
    """(idle limit, absolute lifetime) for a session."""
    config = current_app.config
    if remember:
        return timedelta(days=config["SESSION_REMEMBER_IDLE_DAYS"]), timedelta(days=config["SESSION_REMEMBER_DAYS"])
    return timedelta(minutes=config["SESSION_IDLE_MINUTES"]), timedelta(hours=config["SESSION_ABSOLUTE_HOURS"])


def start_session(user: User, *, remember: bool, ip: Optional[str], user_agent: Optional[str],
                  kind: str = "browser", expires_at=None) -> tuple[UserSession, str]:
    """Create a session row; the caller commits. Returns the row and the raw token (shown once)."""
    token = new_token()
    now = utcnow()
    _idle, absolute = lifetimes(remember)
    row = UserSession(user=user, token_hash=hash_token(token), kind=kind, remember=remember,
                      ip=(ip or "")[:64] or None, user_agent=(user_agent or "")[:512] or None,
                      created_at=now, last_used_at=now, expires_at=expires_at or now + absolute)
    db.session.add(row)
    return row, token


def sign_in(user: User, *, remember: bool) -> UserSession:
    """Begin a browser session for `user` in this response, discarding whatever came before."""
    session.clear()  # new CSRF token too: nothing from before sign-in survives (SECURITY.md 9)
    row, token = start_session(user, remember=remember, ip=request.remote_addr,
                               user_agent=request.headers.get("User-Agent"))
    session.permanent = remember  # a remembered session survives the browser closing
    user.session_token, user.current_session = token, row
    login_user(user, remember=False, force=True)
    return row


def sign_out() -> None:
    logout_user()
    session.clear()


def resume_session(token: Optional[str]) -> Optional[User]:
    if not token:
        return None
    row = db.session.scalar(
        select(UserSession).options(joinedload(UserSession.user)).where(UserSession.token_hash == hash_token(token))
    )
    if row is None or row.revoked_at is not None or row.kind != "browser":
        return None
    now = utcnow()
    idle, _absolute = lifetimes(row.remember)
    if row.expires_at <= now or row.last_used_at + idle <= now:
        row.revoked_at, row.revoked_reason = now, ("expired" if row.expires_at <= now else "idle")
        db.session.commit()
        return None
    user = row.user
    if not user.is_active:
        return None
    if user.privileges_changed_at and row.created_at < user.privileges_changed_at:
        row, token = _rotate(row, now)
    elif (now - row.last_used_at).total_seconds() >= current_app.config["SESSION_TOUCH_SECONDS"]:
        row.last_used_at = now
        row.ip = (request.remote_addr or "")[:64] or None
        db.session.commit()
    user.session_token, user.current_session = token, row
    return user


def _rotate(old: UserSession, now) -> tuple[UserSession, str]:
    """A new session id after a privilege change; the old id stops working at once."""
    new, token = start_session(old.user, remember=old.remember, ip=request.remote_addr,
                               user_agent=request.headers.get("User-Agent"), expires_at=old.expires_at)
    old.revoked_at, old.revoked_reason = now, "rotated"
    db.session.commit()
    session["_user_id"] = token  # Flask-Login's key for the id it keeps
    return new, token


def revoke_sessions(rows: Iterable[UserSession], *, reason: str) -> list[int]:
    """Revoke these sessions in the current transaction; their websockets close on commit."""
    now = utcnow()
    ids = []
    for row in rows:
        if row.revoked_at is None:
            row.revoked_at, row.revoked_reason = now, reason
            ids.append(row.id)
    if ids:
        events.publish_on_commit(REVOKED_CHANNEL, {"session_ids": ids})
    return ids


def active_sessions(user_id: int, *, kind: Optional[str] = None) -> list[UserSession]:
    query = (
        select(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None), UserSession.expires_at > utcnow())
        .order_by(UserSession.last_used_at.desc())
    )
    if kind:
        query = query.where(UserSession.kind == kind)
    return list(db.session.scalars(query))


def revoke_all_sessions(*, reason: str) -> int:
    """Everyone signs in again (an admin's emergency brake)."""
    ids = list(db.session.scalars(select(UserSession.id).where(UserSession.revoked_at.is_(None))))
    if ids:
        db.session.execute(update(UserSession).where(UserSession.id.in_(ids))
                           .values(revoked_at=utcnow(), revoked_reason=reason))
        events.publish_on_commit(REVOKED_CHANNEL, {"session_ids": ids})
    return len(ids)


def session_still_valid(session_id: Optional[int], user_id: Optional[int]) -> bool:
    """Cheap re-check for long-lived connections (websockets): no touch, no rotation."""
    if session_id is None or user_id is None:
        return False
    row = db.session.get(UserSession, session_id, populate_existing=True)
    if row is None or row.revoked_at is not None or row.user_id != user_id:
        return False
    idle, _absolute = lifetimes(row.remember)
    now = utcnow()
    user = db.session.get(User, user_id, populate_existing=True)
    return row.expires_at > now and row.last_used_at + idle > now and user is not None and user.is_active
