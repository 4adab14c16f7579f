"""Roles: list, create, edit and delete custom roles."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from sanctum.admin import bp
from sanctum.admin.forms import RoleForm
from sanctum.auth.forms import EmptyForm
from sanctum.extensions import db
from sanctum.models import Role
from sanctum.rbac import service
from sanctum.web.access import permission_required
from sanctum.web.forms import apply_error, choices
from sanctum.web.render import render


def _role_form(role: Role | None = None) -> RoleForm:
    form = RoleForm(obj=role)
    permissions = service.all_permissions()
    form.permissions.choices = choices((p.name, p.name) for p in permissions if not p.is_dynamic)
    if role is not None and request.method == "GET":
        form.permissions.data = [p.name for p in role.permissions]
    form.grouped = service.permissions_by_area([p for p in permissions if not p.is_dynamic])
    return form


@bp.get("/roles")
@permission_required("roles.manage")
def roles_index():
    return render("admin/roles/index.html", "admin/roles/_table.html", roles=service.list_roles(), form=EmptyForm())


@bp.route("/roles/new", methods=["GET", "POST"])
@permission_required("roles.manage")
def roles_new():
    form = _role_form()
    if form.validate_on_submit():
        try:
            role = service.create_role(name=form.name.data, description=form.description.data or "",
                                       permissions=form.permissions.data or [], actor=current_user._get_current_object())
        except service.RbacError as exc:
            apply_error(form, exc)
        else:
            flash(f"The role “{role.name}” is created.", "success")
            return redirect(url_for("admin.roles_index"))
    return render("admin/roles/form.html", "admin/roles/_form.html", form=form, role=None,
                  status=422 if form.errors else 200)


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
@permission_required("roles.manage")
def roles_edit(role_id: int):
    role = db.session.get(Role, role_id) or abort(404)
    form = _role_form(role)
    form.name.data = role.name  # the name is the role's identity; it does not change
    if not role.is_builtin and form.validate_on_submit():
        try:
            service.update_role(role=role, description=form.description.data or "",
                                permissions=form.permissions.data or [], actor=current_user._get_current_object())
        except service.RbacError as exc:
            apply_error(form, exc)
        else:
            flash(f"The role “{role.name}” is saved.", "success")
            return redirect(url_for("admin.roles_index"))
    return render("admin/roles/form.html", "admin/roles/_form.html", form=form, role=role,
                  status=422 if form.errors else 200)


@bp.post("/roles/<int:role_id>/delete")
@permission_required("roles.manage")
def roles_delete(role_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    role = db.session.get(Role, role_id) or abort(404)
    name = role.name
    try:
        service.delete_role(role=role, actor=current_user._get_current_object())
    except service.RbacError as exc:
        flash(str(exc), "error")
    else:
        flash(f"The role “{name}” is deleted.", "success")
    return redirect(url_for("admin.roles_index"))
