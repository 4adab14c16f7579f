"""One user's access: their role and their direct, possibly expiring, grants."""
from __future__ import annotations

from datetime import timezone

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from sanctum.admin import bp
from sanctum.admin.forms import GrantForm, RoleAssignForm
from sanctum.auth.forms import EmptyForm
from sanctum.extensions import db
from sanctum.models import Role, User
from sanctum.rbac import service
from sanctum.rbac.service import effective_permissions
from sanctum.web.access import permission_required
from sanctum.web.forms import apply_error, choices
from sanctum.web.render import render


def _forms(user: User, role_form=None, grant_form=None):
    roles = db.session.scalars(select(Role).order_by(Role.is_builtin.desc(), Role.name)).all()
    role_form = role_form or RoleAssignForm(formdata=None, role=user.role_id)
    role_form.role.choices = choices((r.id, r.name) for r in roles)
    grant_form = grant_form or GrantForm(formdata=None)
    grant_form.permission.choices = choices((p.name, p.name) for p in service.all_permissions())
    return role_form, grant_form


def _page(user: User, status: int = 200, role_form=None, grant_form=None):
    role_form, grant_form = _forms(user, role_form, grant_form)
    return render("admin/access/show.html", "admin/access/_access.html", status=status, user=user,
                  role_form=role_form, grant_form=grant_form, grants=service.grants_of(user.id),
                  effective=sorted(effective_permissions(user, ignore_credential=True)), form=EmptyForm())


def _user(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


@bp.get("/access")
@permission_required("roles.manage")
def access_lookup():
    """Find a user by username or email and open their access page."""
    from sanctum.auth.service import find_user

    user = find_user(request.args.get("q", ""))
    if user is None:
        flash("No user has that username or email address.", "warning")
        return redirect(url_for("admin.roles_index"))
    return redirect(url_for("admin.access_show", user_id=user.id))


@bp.get("/users/<int:user_id>/access")
@permission_required("roles.manage")
def access_show(user_id: int):
    return _page(_user(user_id))


@bp.post("/users/<int:user_id>/role")
@permission_required("roles.manage")
def access_role(user_id: int):
    user = _user(user_id)
    role_form, _ = _forms(user, RoleAssignForm())
    if role_form.validate_on_submit():
        role = db.session.get(Role, role_form.role.data) or abort(404)
        try:
            service.change_role(user=user, role=role, actor=current_user._get_current_object())
        except service.RbacError as exc:
            apply_error(role_form, exc)
        else:
            flash(f"{user.username} is now {role.name}.", "success")
            return redirect(url_for("admin.access_show", user_id=user.id))
    return _page(user, 422, role_form=role_form)


@bp.post("/users/<int:user_id>/grants")
@permission_required("roles.manage")
def access_grant(user_id: int):
    user = _user(user_id)
    _, grant_form = _forms(user, grant_form=GrantForm())
    if grant_form.validate_on_submit():
        until = grant_form.expires_at.data
        try:
            service.grant_permission(user=user, permission=grant_form.permission.data,
                                     expires_at=until.replace(tzinfo=timezone.utc) if until else None,
                                     reason=grant_form.reason.data or "", actor=current_user._get_current_object())
        except service.RbacError as exc:
            apply_error(grant_form, exc)
        else:
            flash(f"{user.username} now has {grant_form.permission.data}.", "success")
            return redirect(url_for("admin.access_show", user_id=user.id))
    return _page(user, 422, grant_form=grant_form)


@bp.post("/users/<int:user_id>/grants/<int:grant_id>/revoke")
@permission_required("roles.manage")
def access_revoke(user_id: int, grant_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user(user_id)
    try:
        grant = service.revoke_grant(user=user, grant_id=grant_id, actor=current_user._get_current_object())
    except LookupError:
        abort(404)
    flash(f"{grant.permission.name} is revoked from {user.username}.", "success")
    if request.headers.get("HX-Request") == "true":
        return _page(user)
    return redirect(url_for("admin.access_show", user_id=user.id))
