"""Account rules: setup, sign-in, registration, passwords, email. Services own transactions."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sanctum import audit, metrics
from sanctum.auth import passwords, throttle
from sanctum.auth.sessions import active_sessions, hash_token, revoke_all_sessions, revoke_sessions
from sanctum.extensions import db
from sanctum.mail.service import queue_mail
from sanctum.models import AccountToken, User, UserSession
from sanctum.models.base import utcnow
from sanctum.rbac.service import role_by_name
from sanctum.settings.service import get_setting

GENERIC_LOGIN_FAILURE = "That username or password is not right."


class AccountError(ValueError):
    """A rule said no; the message is safe to show. `field` names the form field at fault."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


# ---------------------------------------------------------------- lookup

def find_user(identifier: str) -> Optional[User]:
    """By username (any case) or email."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    if "@" in identifier:
        return db.session.scalar(select(User).where(User.email == identifier.lower()))
    return db.session.scalar(select(User).where(func.lower(User.username) == identifier.lower()))


def has_users() -> bool:
    return db.session.scalar(select(User.id).limit(1)) is not None


def check_unique(username: str, email: str, *, exclude_id: Optional[int] = None) -> None:
    query = select(User).where((func.lower(User.username) == username.lower()) | (User.email == email.lower()))
    for other in db.session.scalars(query):
        if other.id == exclude_id:
            continue
        if other.username.lower() == username.lower():
            raise AccountError("That username is taken.", "username")
        raise AccountError("An account already uses that email address.", "email")


# ---------------------------------------------------------------- creating accounts

def create_user(*, username: str, email: str, password: str, role: str = "user", status: str = "active",
                display_name: Optional[str] = None, verified: bool = False, actor: Optional[User] = None,
                action: str = "user.created") -> User:
    """Create an account in the caller's transaction (policy-checked password, audited)."""
    username, email = username.strip(), email.strip().lower()
    check_unique(username, email)
    try:
        passwords.check_policy(password, context=(username, email))
    except passwords.PasswordRejected as exc:
        raise AccountError(str(exc), "password") from exc
    role_row = role_by_name(role)
    if role_row is None:
        raise AccountError(f"There is no role called {role!r}.", "role")
    now = utcnow()
    user = User(username=username, email=email, display_name=display_name or None,
                password_hash=passwords.hash_password(password), role=role_row, status=status,
                email_verified_at=now if verified else None, password_changed_at=now)
    db.session.add(user)
    db.session.flush()
    audit.record(action, actor=actor or user, target=user,
                 details={"username": username, "email": email, "role": role, "status": status})
    return user


def complete_setup(*, username: str, email: str, password: str) -> User:
    """The first admin, from the first-run page. Refused once any account exists."""
    if has_users():
        raise AccountError("Sanctum is already set up.")
    user = create_user(username=username, email=email, password=password, role="admin", verified=True,
                       action="auth.setup_completed")
    try:
        db.session.commit()
    except IntegrityError as exc:  # two people submitting setup at once
        db.session.rollback()
        raise AccountError("Sanctum is already set up.") from exc
    return user


def register(*, username: str, email: str, password: str, display_name: Optional[str] = None) -> User:
    """Self-service sign-up in `open` or `approval` mode; sends the verification mail."""
    mode = get_setting("registration_mode")
    if mode == "closed":
        raise AccountError("Sign-up is by invitation only.")
    user = create_user(username=username, email=email, password=password, display_name=display_name,
                       status="pending" if mode == "approval" else "active", action="auth.registered")
    send_verification(user)
    db.session.commit()
    return user


# ---------------------------------------------------------------- signing in

@dataclass
class LoginResult:
    user: Optional[User] = None
    error: Optional[str] = None


def authenticate(identifier: str, password: str) -> LoginResult:
    """Check a sign-in attempt; count failures; audit either way. Commits."""
    user = find_user(identifier)
    key = throttle.throttle_key(identifier, user)
    lock = throttle.current_lock(key)
    password_hash = user.password_hash if user is not None else None
    # bcrypt takes a quarter of a second and may queue (passwords._bcrypt_gate): hand the pooled
    # connection back first, or a burst of sign-ins holds every connection and pages wait for
    # one. Nothing is pending here; the rows reload when next used.
    db.session.commit()
    if lock is not None:
        # Same answer for real and unknown names; no password is checked while locked.
        passwords.dummy_verify(password)
        metrics.signin_failed("locked")
        audit.record("auth.login_failed", actor=user, target=user, outcome="denied",
                     details={"identifier": identifier[:100], "reason": "locked"})
        db.session.commit()
        return LoginResult(error=f"Too many failed attempts. Try again in {lock.wait_words}.")

    if user is None:
        passwords.dummy_verify(password)
        ok = False
    else:
        ok = passwords.verify_password(password, password_hash)

    if not ok or user is None:
        new_lock = throttle.register_failure(key, user)
        metrics.signin_failed("unknown_user" if user is None else "bad_password")
        audit.record("auth.login_failed", actor=user, target=user, outcome="failure",
                     details={"identifier": identifier[:100], "reason": "unknown_user" if user is None else "bad_password"})
        if new_lock is not None:
            audit.record("auth.lockout", actor=user, target=user, outcome="denied",
                         details={"identifier": identifier[:100], "seconds": new_lock.seconds_left})
        db.session.commit()
        if new_lock is not None:
            return LoginResult(error=f"Too many failed attempts. Try again in {new_lock.wait_words}.")
        return LoginResult(error=GENERIC_LOGIN_FAILURE)

    # The password is right: from here on, saying why sign-in is refused reveals nothing new.
    if user.status != "active":
        reason = {"pending": "Your account is waiting for an administrator's approval.",
                  "inactive": "This account has been deactivated.",
                  "locked": "This account has been locked by an administrator."}[user.status]
        metrics.signin_failed(f"status_{user.status}")
        audit.record("auth.login_failed", actor=user, target=user, outcome="denied",
                     details={"identifier": identifier[:100], "reason": f"status_{user.status}"})
        db.session.commit()
        return LoginResult(error=reason)
    if user.is_banned:
        from sanctum.moderation.sanctions import current_ban, describe_end

        ban = current_ban(user)
        metrics.signin_failed("banned")
        audit.record("auth.login_failed", actor=user, target=user, outcome="denied",
                     details={"identifier": identifier[:100], "reason": "banned",
                              "sanction": getattr(ban, "id", None)})
        db.session.commit()
        if ban is None:
            return LoginResult(error="This account is banned.")
        return LoginResult(error=f"This account is banned {describe_end(ban)}. Reason: {ban.reason}")
    throttle.clear(key, user)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return LoginResult(user=user)


def record_login(user: User, session_row: UserSession) -> None:
    """Every way in (the login form, first-run setup) ends here once the session exists."""
    user.last_login = utcnow()
    db.session.flush()  # gives the new session row its id
    # "session" is the row's id; a key named session_id would be redacted as if it were the secret.
    audit.record("auth.login_succeeded", actor=user, target=user,
                 details={"session": session_row.id, "remember": session_row.remember})
    db.session.commit()


def record_logout(user: User) -> None:
    if user.current_session is not None:
        revoke_sessions([user.current_session], reason="logout")
    audit.record("auth.logout", actor=user, target=user,
                 details={"session": getattr(user.current_session, "id", None)})
    db.session.commit()


# ---------------------------------------------------------------- sessions

def revoke_session(*, user: User, session_id: int, actor: User) -> UserSession:
    """Revoke one of `user`'s sessions. Another user's id is simply not found (SECURITY.md 15)."""
    row = db.session.scalar(select(UserSession).where(UserSession.id == session_id, UserSession.user_id == user.id))
    if row is None or row.revoked_at is not None:
        raise LookupError("no such session")
    revoke_sessions([row], reason="revoked" if actor.id == user.id else "revoked_by_admin")
    audit.record("session.revoked", actor=actor, target=user, details={"session": row.id})
    db.session.commit()
    return row


def revoke_other_sessions(*, user: User, actor: User, keep: Optional[UserSession] = None,
                          reason: str = "signed_out_everywhere") -> int:
    rows = [row for row in active_sessions(user.id) if keep is None or row.id != keep.id]
    ids = revoke_sessions(rows, reason=reason)
    audit.record("session.revoked_all", actor=actor, target=user,
                 details={"count": len(ids), "kept_current": keep is not None, "reason": reason})
    db.session.commit()
    return len(ids)


def revoke_everyones_sessions(*, actor: User) -> int:
    """The emergency brake: every session ends, the admin's own included, and everyone signs in again."""
    count = revoke_all_sessions(reason="revoked_everywhere")
    audit.record("session.revoked_everyone", actor=actor, details={"count": count})
    db.session.commit()
    return count


def unlock_account(*, user: User, actor: User) -> None:
    """An admin lifts a sign-in lockout (the account's failures are forgotten)."""
    throttle.clear(throttle.throttle_key("", user), user)
    audit.record("user.unlocked", actor=actor, target=user)
    db.session.commit()


def approve_account(*, user: User, actor: User) -> None:
    if user.status != "pending":
        raise AccountError("Only accounts waiting for approval can be approved.")
    user.status = "active"
    audit.record("user.approved", actor=actor, target=user, details={"before": "pending", "after": "active"})
    db.session.commit()


def reject_account(*, user: User, actor: User) -> None:
    if user.status != "pending":
        raise AccountError("Only accounts waiting for approval can be rejected.")
    audit.record("user.rejected", actor=actor, target_type="user", target_id=user.id,
                 details={"username": user.username, "email": user.email})
    db.session.delete(user)
    db.session.commit()


# ---------------------------------------------------------------- passwords

def change_password(*, user: User, current: str, new: str) -> int:
    """Needs the current password; ends every other session. Returns how many ended."""
    if not passwords.verify_password(current, user.password_hash):
        audit.record("auth.password_change_failed", actor=user, target=user, outcome="failure")
        db.session.commit()
        raise AccountError("Your current password is not right.", "current_password")
    _set_password(user, new)
    rows = [row for row in active_sessions(user.id) if row.id != getattr(user.current_session, "id", None)]
    ended = revoke_sessions(rows, reason="password_changed")
    audit.record("auth.password_changed", actor=user, target=user, details={"sessions_ended": len(ended)})
    db.session.commit()
    return len(ended)


def _set_password(user: User, new: str) -> None:
    try:
        passwords.check_policy(new, context=(user.username, user.email))
    except passwords.PasswordRejected as exc:
        raise AccountError(str(exc), "new_password") from exc
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = utcnow()


def request_password_reset(email: str) -> None:
    """Same outcome whether or not the address has an account (SECURITY.md 5). Commits."""
    email = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(User.email == email)) if email else None
    if user is None or user.status in ("inactive",):
        # No dummy hashing here: the mail-sending path hashes nothing either (the mail goes
        # out in a job), so a bcrypt call would make the unknown address the slow one.
        audit.record("auth.password_reset_requested", outcome="failure",
                     details={"email": email[:254], "reason": "no_account" if user is None else "inactive"})
        db.session.commit()
        return
    token = _issue_token(user, "reset_password", timedelta(minutes=current_app.config["RESET_TOKEN_MINUTES"]))
    queue_mail(to=user.email, subject="Reset your Sanctum password", template="mail/reset_password.txt",
               user=user, link=external_url("auth.auth_reset", token=token),
               minutes=current_app.config["RESET_TOKEN_MINUTES"])
    audit.record("auth.password_reset_requested", actor=user, target=user)
    db.session.commit()


def reset_password(*, token: str, new: str) -> User:
    """Single use; ends every session the account had."""
    row = _live_token(token, "reset_password")
    user = db.session.get(User, row.user_id)
    _set_password(user, new)
    row.used_at = utcnow()
    ended = revoke_sessions(active_sessions(user.id), reason="password_reset")
    # Following the mailed link proves the address.
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    throttle.clear(throttle.throttle_key("", user), user)
    audit.record("auth.password_reset_completed", actor=user, target=user, details={"sessions_ended": len(ended)})
    db.session.commit()
    return user


def check_reset_token(token: str) -> None:
    _live_token(token, "reset_password")


# ---------------------------------------------------------------- email

def send_verification(user: User, email: Optional[str] = None) -> None:
    """Mail a link proving `email` (default: the account's). Caller commits."""
    email = email or user.email
    token = _issue_token(user, "verify_email", timedelta(hours=current_app.config["VERIFY_TOKEN_HOURS"]), email=email)
    queue_mail(to=email, subject="Confirm your email address for Sanctum", template="mail/verify_email.txt",
               user=user, link=external_url("auth.auth_verify", token=token),
               hours=current_app.config["VERIFY_TOKEN_HOURS"], changing=email != user.email)


def verify_email(token: str) -> User:
    row = _live_token(token, "verify_email")
    user = db.session.get(User, row.user_id)
    row.used_at = utcnow()
    if row.email and row.email != user.email:
        check_unique(user.username, row.email, exclude_id=user.id)
        before = user.email
        user.email = row.email
        audit.record("auth.email_changed", actor=user, target=user, details={"before": before, "after": row.email})
    user.email_verified_at = utcnow()
    audit.record("auth.email_verified", actor=user, target=user, details={"email": user.email})
    db.session.commit()
    return user


def request_email_change(*, user: User, password: str, new_email: str) -> None:
    """Needs the password; the new address takes effect once its link is followed."""
    if not passwords.verify_password(password, user.password_hash):
        audit.record("auth.email_change_failed", actor=user, target=user, outcome="failure")
        db.session.commit()
        raise AccountError("Your password is not right.", "password")
    new_email = new_email.strip().lower()
    if new_email == user.email:
        raise AccountError("That is already your email address.", "email")
    check_unique(user.username, new_email, exclude_id=user.id)
    send_verification(user, new_email)
    audit.record("auth.email_change_requested", actor=user, target=user, details={"new_email": new_email})
    db.session.commit()


def resend_verification(user: User) -> None:
    if user.email_verified_at is not None:
        raise AccountError("Your email address is already confirmed.")
    send_verification(user)
    db.session.commit()


def update_profile(*, user: User, display_name: str) -> None:
    before = user.display_name
    user.display_name = display_name.strip() or None
    audit.record("user.profile_updated", actor=user, target=user,
                 details={"before": {"display_name": before}, "after": {"display_name": user.display_name}})
    db.session.commit()


# ---------------------------------------------------------------- tokens

def _issue_token(user: User, purpose: str, lifetime: timedelta, email: Optional[str] = None) -> str:
    """A new single-use token; earlier unused ones for the same purpose stop working."""
    now = utcnow()
    for old in db.session.scalars(select(AccountToken).where(
            AccountToken.user_id == user.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))):
        old.used_at = now
    token = secrets.token_urlsafe(32)
    db.session.add(AccountToken(user_id=user.id, purpose=purpose, token_hash=hash_token(token), email=email,
                                created_at=now, expires_at=now + lifetime))
    return token


def _live_token(token: str, purpose: str) -> AccountToken:
    row = db.session.scalar(select(AccountToken).where(AccountToken.token_hash == hash_token(token or ""),
                                                       AccountToken.purpose == purpose))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise AccountError("This link has expired or was already used. Ask for a new one.")
    return row


def external_url(endpoint: str, **values) -> str:
    """Links in mail come from the configured base URL, never from the request's Host header,
    and are built the same way inside a request, a job or a CLI command."""
    base = urlsplit(get_setting("base_url"))
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path.rstrip("/") or "/",
                                       url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)
