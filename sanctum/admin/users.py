"""Accounts awaiting approval and sign-in lockouts (the full user admin builds on this)."""
from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_login import current_user
from sqlalchemy import select

from sanctum.admin import bp
from sanctum.auth import service
from sanctum.auth.forms import EmptyForm
from sanctum.extensions import db
from sanctum.models import User
from sanctum.models.base import utcnow
from sanctum.web.access import permission_required
from sanctum.web.render import render


def _user_or_404(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


@bp.get("/accounts")
@permission_required("users.manage")
def users_attention():
    """Accounts that need an admin: waiting for approval, or locked out of sign-in."""
    pending = db.session.scalars(select(User).where(User.status == "pending").order_by(User.created_at)).all()
    locked = db.session.scalars(
        select(User).where(User.locked_until > utcnow()).order_by(User.locked_until.desc())
    ).all()
    return render("admin/users/attention.html", "admin/users/_attention.html", pending=pending, locked=locked,
                  form=EmptyForm())


@bp.post("/accounts/<int:user_id>/approve")
@permission_required("users.manage")
def users_approve(user_id: int):
    return _act(user_id, service.approve_account, "{name} can sign in now.")


@bp.post("/accounts/<int:user_id>/reject")
@permission_required("users.manage")
def users_reject(user_id: int):
    return _act(user_id, service.reject_account, "{name}'s sign-up was rejected and removed.")


@bp.post("/accounts/<int:user_id>/unlock")
@permission_required("users.manage")
def users_unlock(user_id: int):
    return _act(user_id, service.unlock_account, "{name} may try signing in again.")


def _act(user_id: int, action, message: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    name = user.username
    try:
        action(user=user, actor=current_user._get_current_object())
    except service.AccountError as exc:
        flash(str(exc), "warning")
    else:
        flash(message.format(name=name), "success")
    return redirect(url_for("admin.users_attention"))
