"""Effective permissions: the role's plus active, unexpired direct grants."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask import g, has_request_context
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from sanctum import audit
from sanctum.extensions import db
from sanctum.models import Permission, Role, User, UserPermission, role_permissions
from sanctum.models.base import utcnow


def effective_permissions(user: Optional[User], *, ignore_credential: bool = False) -> frozenset[str]:
    """Computed once per request (cached on `g`), so a change shows on the next request.

    A request made with a personal API token gets the token's scopes intersected with
    the owner's current permissions (`ignore_credential` asks for the owner's alone).
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cache = g.setdefault("_sanctum_permissions", {}) if has_request_context() else {}
    if user.id not in cache:
        cache[user.id] = _load(user.id, user.role_id)
    granted = cache[user.id]
    token = getattr(user, "api_token", None)
    if token is not None and not ignore_credential:
        return granted & frozenset(token.scopes)
    return granted


def forget_permissions() -> None:
    if has_request_context():
        g.pop("_sanctum_permissions", None)


def _load(user_id: int, role_id: int) -> frozenset[str]:
    now = utcnow()
    from_role = select(Permission.name).join(role_permissions).where(role_permissions.c.role_id == role_id)
    granted = (
        select(Permission.name)
        .join(UserPermission, UserPermission.permission_id == Permission.id)
        .where(
            UserPermission.user_id == user_id,
            UserPermission.is_active.is_(True),
            or_(UserPermission.expires_at.is_(None), UserPermission.expires_at > now),
        )
    )
    return frozenset(db.session.scalars(from_role.union(granted)))


def user_ids_holding(permission: str) -> list[int]:
    """Every active user holding `permission` by role or by an active, unexpired grant: one query
    (the rule of `_load`, asked the other way round)."""
    permission_id = select(Permission.id).where(Permission.name == permission).scalar_subquery()
    by_role = select(role_permissions.c.role_id).where(role_permissions.c.permission_id == permission_id)
    by_grant = select(UserPermission.user_id).where(
        UserPermission.permission_id == permission_id,
        UserPermission.is_active.is_(True),
        or_(UserPermission.expires_at.is_(None), UserPermission.expires_at > utcnow()),
    )
    return list(db.session.scalars(select(User.id).where(
        User.status == "active", or_(User.role_id.in_(by_role), User.id.in_(by_grant))).order_by(User.id)))


def has_permission(user: Optional[User], name: str) -> bool:
    return name in effective_permissions(user)


def role_by_name(name: str) -> Optional[Role]:
    return db.session.scalar(select(Role).where(Role.name == name))


# ---------------------------------------------------------------- administration
# Each change commits with an audit event holding before and after (SECURITY.md 23).

class RbacError(ValueError):
    """Refused; the message is safe to show. `field` names the form field at fault."""

    def __init__(self, message: str, field: Optional[str] = None):
        super().__init__(message)
        self.field = field


def all_permissions() -> list[Permission]:
    return list(db.session.scalars(select(Permission).order_by(Permission.name)))


def permissions_by_area(permissions: list[Permission]) -> dict[str, list[Permission]]:
    areas: dict[str, list[Permission]] = {}
    for permission in permissions:
        areas.setdefault(permission.area, []).append(permission)
    return areas


def list_roles() -> list[tuple[Role, int]]:
    """Roles with how many users hold each, built-in first."""
    counts = dict(db.session.execute(select(User.role_id, func.count()).group_by(User.role_id)).all())
    roles = db.session.scalars(select(Role).options(selectinload(Role.permissions))
                               .order_by(Role.is_builtin.desc(), Role.name)).all()
    return [(role, counts.get(role.id, 0)) for role in roles]


def _permission_rows(names: list[str]) -> list[Permission]:
    rows = list(db.session.scalars(select(Permission).where(Permission.name.in_(names))))
    unknown = set(names) - {p.name for p in rows}
    if unknown:
        raise RbacError(f"Unknown permission: {', '.join(sorted(unknown))}.", "permissions")
    dynamic = [p.name for p in rows if p.is_dynamic]
    if dynamic:
        raise RbacError(f"These are granted per user only: {', '.join(dynamic)}.", "permissions")
    return rows


def create_role(*, name: str, description: str, permissions: list[str], actor: User) -> Role:
    name = name.strip().lower()
    if db.session.scalar(select(Role.id).where(Role.name == name)) is not None:
        raise RbacError("A role with that name exists.", "name")
    role = Role(name=name, description=description.strip(), is_builtin=False,
                permissions=_permission_rows(permissions))
    db.session.add(role)
    db.session.flush()
    audit.record("role.created", actor=actor, target=role,
                 details={"after": {"name": name, "permissions": sorted(permissions)}})
    db.session.commit()
    return role


def update_role(*, role: Role, description: str, permissions: list[str], actor: User) -> Role:
    if role.is_builtin:
        raise RbacError("Built-in roles are fixed; create a custom role instead.")
    before = {"description": role.description, "permissions": sorted(p.name for p in role.permissions)}
    role.description = description.strip()
    role.permissions = _permission_rows(permissions)
    _privileges_changed(select(User).where(User.role_id == role.id))
    audit.record("role.updated", actor=actor, target=role, details={
        "before": before, "after": {"description": role.description, "permissions": sorted(permissions)}})
    db.session.commit()
    return role


def delete_role(*, role: Role, actor: User) -> None:
    if role.is_builtin:
        raise RbacError("Built-in roles cannot be deleted.")
    holders = db.session.scalar(select(func.count()).select_from(User).where(User.role_id == role.id))
    if holders:
        raise RbacError(f"{holders} user{'s hold' if holders != 1 else ' holds'} this role; move them first.")
    audit.record("role.deleted", actor=actor, target=role,
                 details={"before": {"name": role.name, "permissions": sorted(p.name for p in role.permissions)}})
    db.session.delete(role)
    db.session.commit()


def change_role(*, user: User, role: Role, actor: User) -> None:
    """Give `user` another role; their sessions get new ids on the next request (SECURITY.md 9)."""
    if user.role_id == role.id:
        return
    if user.id == actor.id:
        raise RbacError("You cannot change your own role.", "role")
    if user.role.name == "admin" and role.name != "admin" and _admin_count() <= 1:
        raise RbacError("This is the last administrator; make someone else admin first.", "role")
    before = user.role.name
    user.role = role
    user.privileges_changed_at = utcnow()
    audit.record("role.assigned", actor=actor, target=user, details={"before": before, "after": role.name})
    db.session.commit()


def _admin_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User).join(Role)
                             .where(Role.name == "admin", User.status == "active"))


def grants_of(user_id: int) -> list[UserPermission]:
    return list(db.session.scalars(
        select(UserPermission).options(joinedload(UserPermission.permission))
        .where(UserPermission.user_id == user_id, UserPermission.is_active.is_(True))
        .order_by(UserPermission.granted_at.desc())
    ))


def grant_permission(*, user: User, permission: str, expires_at: Optional[datetime], actor: User,
                     reason: str = "", granted_by_event: Optional[str] = None) -> UserPermission:
    row = db.session.scalar(select(Permission).where(Permission.name == permission))
    if row is None:
        raise RbacError("Unknown permission.", "permission")
    if expires_at is not None and expires_at <= utcnow():
        raise RbacError("The end must be in the future.", "expires_at")
    if user.id == actor.id:
        raise RbacError("You cannot grant permissions to yourself.", "permission")
    grant = UserPermission(user_id=user.id, permission=row, expires_at=expires_at, granted_by_user_id=actor.id,
                           granted_by_event=granted_by_event, is_active=True)
    db.session.add(grant)
    db.session.flush()
    user.privileges_changed_at = utcnow()
    audit.record("grant.created", actor=actor, target=user, details={
        "grant_id": grant.id, "permission": permission, "reason": reason[:500],
        "expires_at": expires_at.isoformat() if expires_at else None})
    db.session.commit()
    return grant


def revoke_grant(*, user: User, grant_id: int, actor: User) -> UserPermission:
    grant = db.session.scalar(select(UserPermission).where(UserPermission.id == grant_id,
                                                           UserPermission.user_id == user.id))
    if grant is None or not grant.is_active:
        raise LookupError("no such grant")
    grant.is_active, grant.revoked_at = False, utcnow()
    audit.record("grant.revoked", actor=actor, target=user,
                 details={"grant_id": grant.id, "permission": grant.permission.name})
    db.session.commit()
    return grant


def deactivate_expired_grants() -> int:
    """Expired grants already stop working (the query ignores them); this tidies and audits."""
    now = utcnow()
    expired = db.session.scalars(select(UserPermission).options(joinedload(UserPermission.permission)).where(
        UserPermission.is_active.is_(True), UserPermission.expires_at.is_not(None), UserPermission.expires_at <= now)
    ).all()
    for grant in expired:
        grant.is_active = False
        audit.record("grant.expired", target_type="user", target_id=grant.user_id,
                     details={"grant_id": grant.id, "permission": grant.permission.name,
                              "expired_at": grant.expires_at.isoformat()})
    db.session.commit()
    return len(expired)


def _privileges_changed(query) -> None:
    now = utcnow()
    for user in db.session.scalars(query):
        user.privileges_changed_at = now
