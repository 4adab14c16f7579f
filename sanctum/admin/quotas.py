"""Daily chat quotas per role, and overrides for single users."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from sanctum.admin import bp
from sanctum.auth.forms import EmptyForm
from sanctum.auth.service import find_user
from sanctum.chat import service
from sanctum.extensions import db
from sanctum.models import Role, User
from sanctum.web.access import permission_required
from sanctum.web.render import render


def _limit(name: str):
    """'' means unlimited; anything else must be a whole number ≥ 0."""
    raw = (request.form.get(name) or "").strip()
    if raw == "":
        return None
    if not raw.isdigit():
        raise service.ChatError("Limits are whole numbers; leave a box empty for no limit.")
    return int(raw)


@bp.get("/quotas")
@permission_required("users.manage")
def quotas_index():
    return render("admin/quotas/index.html", "admin/quotas/_quotas.html", roles=service.role_quotas(),
                  overrides=service.user_quotas(), form=EmptyForm())


@bp.post("/quotas/roles/<int:role_id>")
@permission_required("users.manage")
def quotas_role(role_id: int):
    role = db.session.get(Role, role_id) or abort(404)
    try:
        service.set_quota(actor=current_user._get_current_object(), role_id=role.id,
                          messages_per_day=_limit("messages_per_day"), tokens_per_day=_limit("tokens_per_day"))
    except service.ChatError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Daily limits for {role.name} are saved.", "success")
    return redirect(url_for("admin.quotas_index"))


@bp.post("/quotas/users")
@permission_required("users.manage")
def quotas_user():
    user = find_user(request.form.get("username", ""))
    if user is None:
        flash("No user has that username or email address.", "error")
        return redirect(url_for("admin.quotas_index"))
    try:
        service.set_quota(actor=current_user._get_current_object(), user=user,
                          messages_per_day=_limit("messages_per_day"), tokens_per_day=_limit("tokens_per_day"))
    except service.ChatError as exc:
        flash(str(exc), "error")
    else:
        flash(f"{user.username} now has their own daily limits.", "success")
    return redirect(url_for("admin.quotas_index"))


@bp.post("/quotas/users/<int:user_id>/remove")
@permission_required("users.manage")
def quotas_user_remove(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    service.clear_user_quota(actor=current_user._get_current_object(), user=user)
    flash(f"{user.username} follows their role's limits again.", "success")
    return redirect(url_for("admin.quotas_index"))
