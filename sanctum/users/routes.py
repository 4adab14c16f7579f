"""User administration pages: the list with search, filters and bulk actions; one user's page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from sanctum.auth import service as accounts
from sanctum.auth.forms import EmptyForm
from sanctum.auth.sessions import active_sessions
from sanctum.extensions import db
from sanctum.models import Role
from sanctum.rbac.service import grants_of, has_permission
from sanctum.users import service
from sanctum.users.forms import BULK_ACTIONS, AdminProfileForm, BulkForm
from sanctum.users.listing import ACTIVE_WITHIN, SORTS, UserFilter, list_users
from sanctum.moderation.sanctions import list_sanctions
from sanctum.web.access import permission_required, safe_next
from sanctum.web.forms import choices
from sanctum.web.render import render

bp = Blueprint("users", __name__, url_prefix="/admin/users")


def _roles() -> list[Role]:
    return list(db.session.scalars(select(Role).order_by(Role.is_builtin.desc(), Role.name)))


def _bulk_form(roles: list[Role]) -> BulkForm:
    form = BulkForm()
    form.action.choices = choices(BULK_ACTIONS)
    form.role.choices = choices([("", "(for a role change)")] + [(r.name, r.name) for r in roles])
    return form


def _me():
    return current_user._get_current_object()


@bp.get("/")
@permission_required("users.view")
def users_index():
    filters = UserFilter.from_args(request.args)
    page = list_users(filters, after=request.args.get("after"), before=request.args.get("before"))
    roles = _roles()
    response = render("admin/users/index.html", "admin/users/_results.html", page=page, filters=filters,
                      roles=roles, sorts=SORTS, active_choices=ACTIVE_WITHIN, bulk_form=_bulk_form(roles),
                      can_bulk=has_permission(_me(), "users.manage"))
    # The address bar shows the canonical query (no empty fields) so it can be shared and bookmarked.
    cursor = {k: request.args[k] for k in ("after", "before") if request.args.get(k)}
    response.headers["HX-Push-Url"] = url_for("users.users_index", **filters.as_args(), **cursor)
    return response


@bp.post("/bulk")
@permission_required("users.manage")
def users_bulk():
    form = _bulk_form(_roles())
    back = safe_next(request.form.get("return_to")) or url_for("users.users_index")
    ids = [int(v) for v in request.form.getlist("user_ids") if v.isdigit()][:500]
    if not form.validate_on_submit() or not ids:
        flash("Select at least one user and an action.", "warning")
        return redirect(back)
    if form.action.data == "role" and not has_permission(_me(), "roles.manage"):
        abort(403)
    outcomes = service.bulk_apply(user_ids=ids, action=form.action.data, actor=_me(), role_name=form.role.data)
    done = [o for o in outcomes if o.ok]
    refused = [o for o in outcomes if not o.ok]
    if done:
        flash(f"{len(done)} user{'s' if len(done) != 1 else ''} updated: "
              + ", ".join(f"{o.username} {o.message}" for o in done[:10]) + ("…" if len(done) > 10 else ""), "success")
    for outcome in refused[:10]:
        flash(f"{outcome.username}: {outcome.message}", "warning")
    return redirect(back)


def _user_or_404(user_id: int):
    return service.get_user(user_id) or abort(404)


def _detail(user, status: int = 200, profile_form=None):
    return render(
        "admin/users/show.html", "admin/users/_detail.html", status=status, user=user,
        profile_form=profile_form or AdminProfileForm(formdata=None, obj=user), form=EmptyForm(),
        sessions=active_sessions(user.id), grants=grants_of(user.id), events=service.recent_events(user),
        transitions=[a for a, (allowed, _s, _e) in service.TRANSITIONS.items() if user.status in allowed],
        sanctions=list_sanctions(user_id=user.id, active=None, limit=10),
    )


@bp.get("/<int:user_id>")
@permission_required("users.manage")
def users_show(user_id: int):
    return _detail(_user_or_404(user_id))


def _act(user_id: int, action, success: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    try:
        result = action(user)
    except (service.UserAdminError, accounts.AccountError) as exc:
        db.session.rollback()
        flash(str(exc), "warning")
    else:
        flash(success.format(user=user, result=result), "success")
    return redirect(url_for("users.users_show", user_id=user_id))


@bp.post("/<int:user_id>/status/<action>")
@permission_required("users.manage")
def users_status(user_id: int, action: str):
    if action not in service.TRANSITIONS:
        abort(404)
    return _act(user_id, lambda user: service.change_status(user=user, action=action, actor=_me()),
                "{user.username} is now {user.status}.")


@bp.post("/<int:user_id>/approve")
@permission_required("users.manage")
def users_approve(user_id: int):
    return _act(user_id, lambda user: accounts.approve_account(user=user, actor=_me()),
                "{user.username} is approved and can sign in.")


@bp.post("/<int:user_id>/sign-out")
@permission_required("users.manage")
def users_sign_out(user_id: int):
    return _act(user_id, lambda user: service.force_sign_out(user=user, actor=_me()),
                "{user.username} is signed out everywhere ({result} session(s) ended).")


@bp.post("/<int:user_id>/unlock-sign-in")
@permission_required("users.manage")
def users_clear_lockout(user_id: int):
    return _act(user_id, lambda user: accounts.unlock_account(user=user, actor=_me()),
                "{user.username} may try signing in again.")


@bp.post("/<int:user_id>/password-reset")
@permission_required("users.manage")
def users_send_reset(user_id: int):
    def send(user):
        accounts.request_password_reset(user.email)
        return user.email

    return _act(user_id, send, "A password-reset link was sent to {result}.")


@bp.post("/<int:user_id>/sessions/<int:session_id>/revoke")
@permission_required("users.manage")
def users_revoke_session(user_id: int, session_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _user_or_404(user_id)
    try:
        accounts.revoke_session(user=user, session_id=session_id, actor=_me())
    except LookupError:
        abort(404)
    flash("That session is signed out.", "success")
    return redirect(url_for("users.users_show", user_id=user_id))


@bp.post("/<int:user_id>/profile")
@permission_required("users.manage")
def users_update(user_id: int):
    user = _user_or_404(user_id)
    form = AdminProfileForm()
    if not form.validate_on_submit():
        return _detail(user, 422, profile_form=form)
    service.update_profile(user=user, display_name=form.display_name.data or "", actor=_me())
    flash("Saved.", "success")
    return redirect(url_for("users.users_show", user_id=user_id))
