"""Bearer credentials for scripts (SECURITY.md 8, 13; seed 000 "UserSession").

- Personal API tokens (`sct_pat_…`): named, scoped to a subset of the owner's
  permissions, optional expiry, shown once, stored hashed. Scopes are intersected
  with the owner's *current* permissions on every request, so a demotion narrows
  every token at once.
- API sessions (`sct_at_…` access + `sct_rt_…` refresh): from username and
  password. Refreshing rotates both into a new session row of the same family;
  presenting a refresh token that was already rotated away means it leaked, so the
  whole family is revoked and the event audited.
"""
from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Iterable, Optional


from sqlalchemy import select

from sanctum import audit
from sanctum.auth.sessions import hash_token, lifetimes, revoke_sessions, start_session
from sanctum.extensions import db
from sanctum.models import ApiToken, User, UserSession
from sanctum.models.base import utcnow
from sanctum.rbac.service import effective_permissions

PAT_PREFIX, ACCESS_PREFIX, REFRESH_PREFIX = "sct_pat_", "sct_at_", "sct_rt_"
ACCESS_MINUTES = 15
EXPIRY_CHOICES = {"7": "7 days", "30": "30 days", "90": "90 days", "365": "1 year", "never": "No expiry"}


class TokenError(ValueError):
    """Refused; the message is safe to show."""


# ---------------------------------------------------------------- personal tokens

def create_token(*, user: User, name: str, scopes: Iterable[str], expires_in_days: Optional[int],
                 actor: Optional[User] = None) -> tuple[ApiToken, str]:
    """Returns the row and the raw token, which is never retrievable again. Commits."""
    scopes = sorted(set(scopes))
    if not scopes:
        raise TokenError("Choose at least one permission for the token.")
    allowed = effective_permissions_of(user)
    beyond = [s for s in scopes if s not in allowed]
    if beyond:
        raise TokenError(f"A token cannot carry permissions you do not have: {', '.join(beyond)}.")
    raw = PAT_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(user_id=user.id, name=name.strip()[:100], token_hash=hash_token(raw), prefix=raw[:12],
                     scopes=scopes, created_at=now,
                     expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None)
    db.session.add(token)
    db.session.flush()
    audit.record("token.created", actor=actor or user, target=user,
                 details={"token_id": token.id, "name": token.name, "scopes": scopes,
                          "expires_at": token.expires_at.isoformat() if token.expires_at else None})
    db.session.commit()
    return token, raw


def effective_permissions_of(user: User) -> frozenset[str]:
    # Computed from the account itself, not from whatever credential made this request.
    return effective_permissions(user, ignore_credential=True)


def list_tokens(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    ))


def revoke_token(*, user: User, token_id: int, actor: User) -> ApiToken:
    token = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if token is None or token.revoked_at is not None:
        raise LookupError("no such token")
    token.revoked_at = utcnow()
    audit.record("token.revoked", actor=actor, target=user, details={"token_id": token.id, "name": token.name})
    db.session.commit()
    return token


# ---------------------------------------------------------------- bearer authentication

def authenticate_bearer(raw: str, *, ip: Optional[str]) -> Optional[User]:
    """The user behind a bearer credential, with `api_token` or `current_session` attached."""
    if raw.startswith(PAT_PREFIX):
        return _authenticate_pat(raw, ip)
    if raw.startswith(ACCESS_PREFIX):
        return _authenticate_access(raw, ip)
    return None


def _authenticate_pat(raw: str, ip: Optional[str]) -> Optional[User]:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None or not token.active or not token.user.is_active:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= 60:
        token.last_used_at, token.last_used_ip = now, (ip or "")[:64] or None
        db.session.commit()
    user = token.user
    user.api_token = token
    return user


def _authenticate_access(raw: str, ip: Optional[str]) -> Optional[User]:
    row = db.session.scalar(select(UserSession).where(UserSession.token_hash == hash_token(raw),
                                                      UserSession.kind == "api"))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.created_at + timedelta(minutes=ACCESS_MINUTES) <= now \
            or row.expires_at <= now or not row.user.is_active:
        return None
    user = row.user
    user.current_session = row
    return user


# ---------------------------------------------------------------- API sessions

def issue_api_session(user: User, *, ip: Optional[str], user_agent: Optional[str],
                      family_id: Optional[int] = None, expires_at=None) -> tuple[UserSession, str, str]:
    """A new access/refresh pair in a session row; the caller commits."""
    row, _unused = start_session(user, remember=True, ip=ip, user_agent=user_agent, kind="api",
                                 expires_at=expires_at)
    access, refresh = ACCESS_PREFIX + secrets.token_urlsafe(32), REFRESH_PREFIX + secrets.token_urlsafe(32)
    row.token_hash, row.refresh_token_hash = hash_token(access), hash_token(refresh)
    db.session.flush()
    row.family_id = family_id or row.id
    return row, access, refresh


def refresh_api_session(raw_refresh: str, *, ip: Optional[str], user_agent: Optional[str]) -> tuple[UserSession, str, str]:
    """Rotate a refresh token. A reused one revokes its family. Commits."""
    row = db.session.scalar(select(UserSession).where(UserSession.refresh_token_hash == hash_token(raw_refresh or ""),
                                                      UserSession.kind == "api"))
    if row is None:
        raise TokenError("That refresh token is not valid.")
    if row.revoked_at is not None:
        if row.revoked_reason == "rotated":
            family = db.session.scalars(select(UserSession).where(UserSession.family_id == row.family_id)).all()
            for member in family:
                member.reuse_detected = True
            ids = revoke_sessions(family, reason="refresh_reuse")
            audit.record("token.refresh_reuse_detected", actor=row.user, target=row.user, outcome="denied",
                         details={"family_id": row.family_id, "sessions_revoked": len(ids)}, ip=ip)
            db.session.commit()
        raise TokenError("That refresh token is not valid.")
    if row.expires_at <= utcnow() or not row.user.is_active:
        raise TokenError("That refresh token is not valid.")
    new, access, refresh = issue_api_session(row.user, ip=ip, user_agent=user_agent, family_id=row.family_id,
                                             expires_at=row.expires_at)
    row.revoked_at, row.revoked_reason = utcnow(), "rotated"
    audit.record("token.refreshed", actor=row.user, target=row.user,
                 details={"family_id": row.family_id, "session_id": new.id}, ip=ip)
    db.session.commit()
    return new, access, refresh


def api_session_lifetime() -> timedelta:
    return lifetimes(True)[1]


def end_api_session(user: User) -> None:
    row = user.current_session
    if row is None or row.kind != "api":
        raise TokenError("Only an API session can be ended this way.")
    revoke_sessions([row], reason="logout")
    audit.record("auth.logout", actor=user, target=user, details={"session_id": row.id, "kind": "api"})
    db.session.commit()


def access_expires_in() -> int:
    return ACCESS_MINUTES * 60


__all__ = ["EXPIRY_CHOICES", "TokenError", "authenticate_bearer", "create_token", "end_api_session",
           "issue_api_session", "list_tokens", "refresh_api_session", "revoke_token"]
