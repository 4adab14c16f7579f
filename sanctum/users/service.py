"""What an administrator does to accounts. Each action commits with its audit event.

Guards shared by every path (page, bulk, API): nobody changes their own status or
role by accident, and the last active administrator cannot be removed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import func, or_, select

from sanctum import audit, events
from sanctum.auth import throttle
from sanctum.auth.sessions import USER_CHANNEL, active_sessions, revoke_sessions
from sanctum.extensions import db
from sanctum.models import AuditEvent, Role, User
from sanctum.rbac import service as rbac

# action → (allowed from, resulting status, audit action)
TRANSITIONS = {
    "activate": (("inactive", "locked", "pending"), "active", "user.activated"),
    "deactivate": (("active", "locked", "pending"), "inactive", "user.deactivated"),
    "lock": (("active", "inactive"), "locked", "user.locked"),
    "unlock": (("locked",), "active", "user.unlocked"),
}
_ENDS_ACCESS = {"inactive", "locked"}


class UserAdminError(ValueError):
    """Refused; the message is safe to show."""


def get_user(user_id: int) -> Optional[User]:
    return db.session.get(User, user_id)


def _check_not_self(user: User, actor: User, what: str) -> None:
    if user.id == actor.id:
        raise UserAdminError(f"You cannot {what} your own account here.")


def _is_last_admin(user: User) -> bool:
    if user.role.name != "admin" or user.status != "active":
        return False
    others = db.session.scalar(select(func.count()).select_from(User).join(Role).where(
        Role.name == "admin", User.status == "active", User.id != user.id))
    return others == 0


def change_status(*, user: User, action: str, actor: User) -> None:
    """activate | deactivate | lock | unlock. Taking access away ends sessions and websockets."""
    if action not in TRANSITIONS:
        raise UserAdminError(f"Unknown action {action!r}.")
    allowed_from, new_status, audit_action = TRANSITIONS[action]
    _check_not_self(user, actor, action)
    if user.status not in allowed_from:
        raise UserAdminError(f"{user.username} is {user.status}; cannot {action}.")
    if new_status in _ENDS_ACCESS and _is_last_admin(user):
        raise UserAdminError("This is the last active administrator.")
    before = user.status
    user.status = new_status
    ended = []
    if new_status in _ENDS_ACCESS:
        ended = revoke_sessions(active_sessions(user.id), reason=f"user_{new_status}")
        events.publish_on_commit(USER_CHANNEL, {"user_ids": [user.id]})
    if action == "unlock":
        throttle.clear(throttle.throttle_key("", user), user)
    audit.record(audit_action, actor=actor, target=user,
                 details={"before": {"status": before}, "after": {"status": new_status}, "sessions_ended": len(ended)})
    db.session.commit()


def change_role(*, user: User, role_name: str, actor: User) -> None:
    role = rbac.role_by_name(role_name)
    if role is None:
        raise UserAdminError(f"There is no role called {role_name!r}.")
    try:
        rbac.change_role(user=user, role=role, actor=actor)
    except rbac.RbacError as exc:
        raise UserAdminError(str(exc)) from exc


def force_sign_out(*, user: User, actor: User) -> int:
    """End every session (browser and API) and close the user's open websockets."""
    ended = revoke_sessions(active_sessions(user.id), reason="signed_out_by_admin")
    events.publish_on_commit(USER_CHANNEL, {"user_ids": [user.id]})
    audit.record("session.revoked_all", actor=actor, target=user,
                 details={"count": len(ended), "reason": "signed_out_by_admin"})
    db.session.commit()
    return len(ended)


def update_profile(*, user: User, display_name: str, actor: User) -> None:
    before = user.display_name
    user.display_name = display_name.strip()[:100] or None
    audit.record("user.updated", actor=actor, target=user,
                 details={"before": {"display_name": before}, "after": {"display_name": user.display_name}})
    db.session.commit()


@dataclass
class BulkOutcome:
    user_id: int
    username: str
    ok: bool
    message: str


def bulk_apply(*, user_ids: list[int], action: str, actor: User, role_name: Optional[str] = None) -> list[BulkOutcome]:
    """Apply one action to many users; each succeeds or fails on its own, with a reason."""
    users = db.session.scalars(select(User).where(User.id.in_(user_ids)).order_by(User.id)).all()
    outcomes = []
    for user in users:
        try:
            if action == "role":
                if not role_name:
                    raise UserAdminError("Choose a role.")
                change_role(user=user, role_name=role_name, actor=actor)
                message = f"now {role_name}"
            else:
                change_status(user=user, action=action, actor=actor)
                message = f"now {user.status}"
            outcomes.append(BulkOutcome(user.id, user.username, True, message))
        except UserAdminError as exc:
            db.session.rollback()
            outcomes.append(BulkOutcome(user.id, user.username, False, str(exc)))
    return outcomes


def recent_events(user: User, limit: int = 20) -> list[AuditEvent]:
    """What this user did, and what was done to them, newest first."""
    return list(db.session.scalars(
        select(AuditEvent)
        .where(or_(AuditEvent.actor_id == user.id,
                   (AuditEvent.target_type == "user") & (AuditEvent.target_id == str(user.id))))
        .order_by(AuditEvent.seq.desc())
        .limit(limit)
    ))
