"""Erasing an account (the right to be forgotten).

The user row stays, anonymised, so the ids other rows and the audit log hold still lead
somewhere: the username becomes `deleted-<id>`, the email an undeliverable placeholder
under the reserved `.invalid` domain, the display name goes, the password can never match.
Everything that could still act for the person ends: sessions (and their open websockets),
API tokens, mailed links, grants. Features erase their own data through the registry.

Audit rows are hash-chained, so none is changed: the erasure is a new event, its details
free of the old username and email (writing them again would defeat the purpose). From
now on the account's events carry the pseudonym; `display_label` shows the pseudonym for
the older ones too.
"""
from __future__ import annotations

import secrets
from typing import Iterable, Optional

from sqlalchemy import delete, func, select, update

from sanctum import audit, events
from sanctum.auth.sessions import USER_CHANNEL, active_sessions, revoke_sessions
from sanctum.extensions import db
from sanctum.models import (
    AccountToken,
    ApiToken,
    DataExport,
    LoginThrottle,
    Mail,
    Role,
    User,
    UserErasure,
    UserPermission,
    UserSession,
)
from sanctum.models.base import utcnow
from sanctum.privacy.registry import ERASERS, ErasureContext
from sanctum.privacy.service import PrivacyError
from sanctum.settings.service import get_setting

PLACEHOLDER_DOMAIN = "erased.invalid"  # RFC 2606: never deliverable


def pseudonym(user_id: int) -> str:
    return f"deleted-{user_id}"


def is_erased(user_id: int) -> bool:
    return db.session.scalar(select(UserErasure.id).where(UserErasure.user_id == user_id)) is not None


def erasure_of(user_id: int) -> Optional[UserErasure]:
    return db.session.scalar(select(UserErasure).where(UserErasure.user_id == user_id))


def display_label(actor_id: Optional[int], label: Optional[str]) -> Optional[str]:
    """How an audit row's actor should be shown: erased accounts by their pseudonym."""
    if actor_id is not None and is_erased(actor_id):
        return pseudonym(actor_id)
    return label


def pseudonyms_for(user_ids: Iterable[int]) -> dict[int, str]:
    """For a page of audit rows at once: {user id: pseudonym} of those ids that were erased."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(UserErasure.user_id, UserErasure.pseudonym)
                                   .where(UserErasure.user_id.in_(ids))).all())


def refusal(user: User, actor: User) -> Optional[str]:
    """Why `actor` may not erase `user`, or None."""
    if user.id == actor.id:
        return "You cannot erase your own account. Ask another administrator."
    if is_erased(user.id):
        return "This account is already erased."
    if user.role.name == "admin" and user.status == "active":
        others = db.session.scalar(select(func.count()).select_from(User).join(Role).where(
            Role.name == "admin", User.status == "active", User.id != user.id))
        if not others:
            return "This is the last active administrator; make someone else admin first."
    return None


def erase_user(*, user: User, actor: User, confirm: str) -> UserErasure:
    """Anonymise `user` and end everything that acts for them, in one audited transaction."""
    if (confirm or "").strip() != user.username:
        raise PrivacyError("That is not the username of this account.", "confirm")
    reason = refusal(user, actor)
    if reason:
        raise PrivacyError(reason)
    now = utcnow()
    name = _free_pseudonym(user.id)
    ctx = ErasureContext(user=user, actor=actor, old_email=user.email, pseudonym=name,
                         placeholder_email=f"{name}@{PLACEHOLDER_DOMAIN}",
                         chats_mode=get_setting("erasure_chats"), now=now)
    before = {"status": user.status, "role": user.role.name, "email_verified": user.email_verified,
              "had_display_name": user.display_name is not None}
    summary = _end_access(user, now)
    summary.update(_erase_account_data(ctx))
    for key, fn in ERASERS.items():
        summary[key] = fn(ctx)

    user.username, user.email, user.display_name = name, ctx.placeholder_email, None
    user.password_hash = "!erased:" + secrets.token_hex(16)  # not a bcrypt hash: nothing can ever match
    user.status, user.email_verified_at, user.locked_until = "inactive", None, None
    user.failed_login_attempts, user.privileges_changed_at = 0, now
    erasure = UserErasure(user_id=user.id, pseudonym=name, erased_by_id=actor.id, erased_at=now,
                          chats_mode=ctx.chats_mode, summary=summary)
    db.session.add(erasure)
    # Open websockets of this user close on commit, in whichever process holds them.
    events.publish_on_commit(USER_CHANNEL, {"user_ids": [user.id]})
    audit.record("user.erased", actor=actor, target=user, details={
        "pseudonym": name, "chats": ctx.chats_mode, "summary": summary, "before": before,
        "after": {"status": "inactive", "username": name, "email": ctx.placeholder_email}})
    db.session.commit()
    return erasure


def _free_pseudonym(user_id: int) -> str:
    name = pseudonym(user_id)
    # Someone may have chosen this very username; keep usernames unique.
    while db.session.scalar(select(User.id).where(func.lower(User.username) == name.lower(),
                                                  User.id != user_id)) is not None:
        name = f"{pseudonym(user_id)}-{secrets.token_hex(2)}"
    return name


def _end_access(user: User, now) -> dict:
    ended = revoke_sessions(active_sessions(user.id), reason="erased")
    # The rows hold IP addresses and browsers: gone once revoked (revocation is published above).
    sessions = db.session.execute(delete(UserSession).where(UserSession.user_id == user.id)).rowcount
    tokens = db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id)).rowcount
    links = db.session.execute(delete(AccountToken).where(AccountToken.user_id == user.id)).rowcount
    grants = db.session.execute(
        update(UserPermission).where(UserPermission.user_id == user.id, UserPermission.is_active.is_(True))
        .values(is_active=False, revoked_at=now).execution_options(synchronize_session=False)).rowcount
    db.session.execute(delete(LoginThrottle).where(LoginThrottle.key == f"user:{user.id}"))
    return {"sessions_ended": len(ended), "sessions_deleted": sessions, "api_credentials_deleted": tokens,
            "mailed_links_deleted": links, "grants_revoked": grants}


def _erase_account_data(ctx: ErasureContext) -> dict:
    mails = db.session.execute(
        update(Mail).where(Mail.to_address == ctx.old_email)
        .values(to_address=ctx.placeholder_email, body=None).execution_options(synchronize_session=False)).rowcount
    exports = db.session.execute(delete(DataExport).where(
        (DataExport.user_id == ctx.user.id) | (DataExport.requested_by_id == ctx.user.id))).rowcount
    return {"mails_anonymised": mails, "exports_deleted": exports}
