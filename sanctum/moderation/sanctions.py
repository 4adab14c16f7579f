"""Sanctions (seed 000): apply, change, lift and expire them, and enforce them everywhere.

Enforcement has two roads, both cheap:
- bans set `users.banned_until`, which `User.is_active` reads, so the session loader, API
  tokens, websockets and sign-in all refuse a banned user with no extra query; applying a
  ban also ends the user's sessions and closes their sockets at once;
- post and topic restrictions join `sanctum.chat.policy.can_post` (EXTRA_CHECKS), the one
  seam the page, the websocket and the API all ask before a message is accepted.
An expiry job ends sanctions on time; a ban stops working at its end time even before it runs.
Services commit; every change writes an audit event in the same transaction.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import select

from sanctum import audit, events
from sanctum.auth.sessions import USER_CHANNEL, active_sessions, revoke_sessions
from sanctum.chat.policy import EXTRA_CHECKS, PostCheck
from sanctum.extensions import db
from sanctum.models import Agent, Sanction, User
from sanctum.models.base import utcnow
from sanctum.models.moderation import BANS, SANCTION_TYPES
from sanctum.moderation.notify import notify
from sanctum.rbac.service import has_permission

RESTRICTIONS = ("post_restriction", "topic_restriction")
PERMANENT = datetime(9999, 12, 31, tzinfo=utcnow().tzinfo)


class SanctionError(ValueError):
    """Refused; the message is safe to show. `field` names the form field at fault."""

    def __init__(self, message: str, field: Optional[str] = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


def is_admin(user: User) -> bool:
    return has_permission(user, "roles.manage")


def check_may_sanction(actor: User, user: User) -> None:
    if actor.id == user.id:
        raise SanctionError("You cannot sanction yourself.", status=403)
    if is_admin(user) and not is_admin(actor):
        raise SanctionError("Moderators cannot sanction administrators.", status=403)


def in_force(user_id: int, now: Optional[datetime] = None) -> list[Sanction]:
    """The user's sanctions that bind right now, newest first."""
    now = now or utcnow()
    rows = db.session.scalars(select(Sanction).where(Sanction.user_id == user_id, Sanction.is_active.is_(True))
                              .order_by(Sanction.applied_at.desc(), Sanction.id.desc()))
    return [row for row in rows if row.in_force(now)]


def current_ban(user: User) -> Optional[Sanction]:
    """The ban that keeps this user out, if any (for the sign-in page's explanation)."""
    if not user.is_banned:
        return None
    bans = [s for s in in_force(user.id) if s.type in BANS]
    return max(bans, key=lambda s: s.expires_at or PERMANENT, default=None)


def describe_end(sanction: Sanction) -> str:
    return "for good" if sanction.expires_at is None else f"until {sanction.expires_at:%Y-%m-%d %H:%M} UTC"


def _refresh_ban(user: User, now: Optional[datetime] = None) -> None:
    """Mirror the sanctions in force onto the user row (see the module's docstring)."""
    now = now or utcnow()
    binding = in_force(user.id, now)
    bans = [s.expires_at or PERMANENT for s in binding if s.type in BANS]
    limits = [s.expires_at or PERMANENT for s in binding if s.type in RESTRICTIONS]
    user.banned_until = max(bans) if bans else None
    user.restricted_until = max(limits) if limits else None


def _clean(type_: str, reason: str, expires_at: Optional[datetime], agents: Iterable[Agent]) -> tuple:
    if type_ not in SANCTION_TYPES:
        raise SanctionError(f"Choose one of: {', '.join(SANCTION_TYPES)}.", "type")
    reason = (reason or "").strip()
    if not reason:
        raise SanctionError("Say why: the person sanctioned is shown this reason.", "reason")
    if len(reason) > 1000:
        raise SanctionError("Keep the reason under 1,000 characters.", "reason")
    if expires_at is not None and expires_at.tzinfo is None:
        raise SanctionError("The end time needs a time zone.", "expires_at")
    if type_ == "temporary_ban" and expires_at is None:
        raise SanctionError("A temporary ban needs an end time.", "expires_at")
    if type_ == "permanent_ban" and expires_at is not None:
        raise SanctionError("A permanent ban has no end time; use a temporary ban instead.", "expires_at")
    if type_ == "warning":
        expires_at = None
    if expires_at is not None and expires_at <= utcnow():
        raise SanctionError("The end time must be in the future.", "expires_at")
    agents = list(agents)
    if type_ == "topic_restriction" and not agents:
        raise SanctionError("Choose the agents this person is barred from.", "agent_ids")
    if type_ != "topic_restriction":
        agents = []
    return reason, expires_at, agents


def _snapshot(sanction: Sanction) -> dict:
    return {"type": sanction.type, "reason": sanction.reason, "is_active": sanction.is_active,
            "expires_at": sanction.expires_at.isoformat() if sanction.expires_at else None,
            "agents": sorted(a.name for a in sanction.agents)}


def apply(*, actor: User, user: User, type_: str, reason: str, expires_at: Optional[datetime] = None,
          agents: Iterable[Agent] = (), item_id: Optional[int] = None, commit: bool = True) -> Sanction:
    check_may_sanction(actor, user)
    reason, expires_at, agents = _clean(type_, reason, expires_at, agents)
    sanction = Sanction(user_id=user.id, type=type_, reason=reason, applied_by_id=actor.id, applied_at=utcnow(),
                        expires_at=expires_at, is_active=type_ != "warning", item_id=item_id)
    sanction.agents = agents
    db.session.add(sanction)
    db.session.flush()
    ended = []
    _refresh_ban(user)
    if type_ in BANS:
        ended = revoke_sessions(active_sessions(user.id), reason="banned")
        events.publish_on_commit(USER_CHANNEL, {"user_ids": [user.id]})
    audit.record("sanction.applied", actor=actor, target=user,
                 details={"sanction": sanction.id, **_snapshot(sanction), "sessions_ended": len(ended),
                          "item": item_id})
    end = "" if type_ == "warning" else f" ({describe_end(sanction)})"
    notify([user.id], "sanction.applied", f"{sanction.label}{end}", body=reason, link=_standing())
    _publish(sanction)
    if commit:
        db.session.commit()
    return sanction


def update(*, actor: User, sanction: Sanction, reason: Optional[str] = None,
           expires_at: Optional[datetime] = None, clear_expiry: bool = False) -> Sanction:
    """Change the reason or the end time of a sanction still in force."""
    user = db.session.get(User, sanction.user_id)
    check_may_sanction(actor, user)
    if not sanction.is_active:
        raise SanctionError("This sanction has ended; apply a new one instead.", status=409)
    before = _snapshot(sanction)
    new_expiry = None if clear_expiry else (expires_at if expires_at is not None else sanction.expires_at)
    reason, new_expiry, _agents = _clean(sanction.type, reason if reason is not None else sanction.reason,
                                         new_expiry, sanction.agents)
    sanction.reason, sanction.expires_at = reason, new_expiry
    _refresh_ban(user)
    audit.record("sanction.updated", actor=actor, target=user,
                 details={"sanction": sanction.id, "before": before, "after": _snapshot(sanction)})
    notify([user.id], "sanction.updated", f"Your {sanction.label.lower()} was changed ({describe_end(sanction)})",
           body=sanction.reason, link=_standing())
    _publish(sanction)
    db.session.commit()
    return sanction


def lift(*, actor: User, sanction: Sanction, reason: str) -> Sanction:
    user = db.session.get(User, sanction.user_id)
    check_may_sanction(actor, user)
    if not sanction.is_active:
        raise SanctionError("This sanction has already ended.", status=409)
    reason = (reason or "").strip()
    if not reason:
        raise SanctionError("Say why the sanction is lifted.", "reason")
    _end(sanction, user, by=actor, reason=reason[:1000])
    audit.record("sanction.lifted", actor=actor, target=user,
                 details={"sanction": sanction.id, "type": sanction.type, "reason": reason[:1000]})
    notify([user.id], "sanction.lifted", f"Your {sanction.label.lower()} was lifted", body=reason[:1000],
           link=_standing())
    db.session.commit()
    return sanction


def _end(sanction: Sanction, user: User, *, by: Optional[User], reason: str) -> None:
    sanction.is_active, sanction.ended_at = False, utcnow()
    sanction.ended_by_id, sanction.end_reason = getattr(by, "id", None), reason
    db.session.flush()
    _refresh_ban(user)
    _publish(sanction)


def expire_due(now: Optional[datetime] = None) -> int:
    """End every sanction whose time is up (the periodic job). Audited, and the user is told."""
    now = now or utcnow()
    due = list(db.session.scalars(select(Sanction).where(Sanction.is_active.is_(True), Sanction.expires_at <= now)
                                  .order_by(Sanction.id).limit(500)))
    for sanction in due:
        user = db.session.get(User, sanction.user_id)
        _end(sanction, user, by=None, reason="expired")
        audit.record("sanction.expired", target=user, details={"sanction": sanction.id, "type": sanction.type})
        notify([user.id], "sanction.expired", f"Your {sanction.label.lower()} has ended")
    db.session.commit()
    return len(due)


def list_sanctions(*, user_id: Optional[int] = None, type_: Optional[str] = None, active: Optional[bool] = True,
                   limit: int = 100, before_id: Optional[int] = None) -> list[Sanction]:
    query = select(Sanction)
    if user_id is not None:
        query = query.where(Sanction.user_id == user_id)
    if type_:
        query = query.where(Sanction.type == type_)
    if active is not None:
        query = query.where(Sanction.is_active.is_(active))
    if before_id:
        query = query.where(Sanction.id < before_id)
    return list(db.session.scalars(query.order_by(Sanction.id.desc()).limit(limit)))


def _standing() -> Optional[str]:
    """Where a person reads about their sanctions (a link for notifications made in a request)."""
    from flask import has_request_context, url_for

    return url_for("moderation.my_standing") if has_request_context() else None


def _publish(sanction: Sanction) -> None:
    events.publish_on_commit("moderation", {"type": "sanction", "id": sanction.id, "user_id": sanction.user_id})


# ---------------------------------------------------------------- the can_post seam

def posting_restriction(user: User, agent: Agent) -> PostCheck:
    if user.restricted_until is None or user.restricted_until <= utcnow():
        return PostCheck(True)  # no restriction in force: no query
    for sanction in in_force(user.id):
        if sanction.type == "post_restriction":
            return PostCheck(False, f"You may read but not send messages {describe_end(sanction)}: {sanction.reason}")
        if sanction.type == "topic_restriction" and any(a.id == agent.id for a in sanction.agents):
            return PostCheck(False, f"You may not write to {agent.label} {describe_end(sanction)}: {sanction.reason}")
    return PostCheck(True)


if posting_restriction not in EXTRA_CHECKS:
    EXTRA_CHECKS.append(posting_restriction)
