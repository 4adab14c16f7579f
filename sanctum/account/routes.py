"""One's own account: profile, email, password and sessions."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from sanctum.account.forms import EmailChangeForm, PasswordChangeForm, ProfileForm
from sanctum.auth import service
from sanctum.auth.forms import EmptyForm
from sanctum.auth.sessions import active_sessions
from sanctum.auth.throttle import limit_posts
from sanctum.web.access import permission_required
from sanctum.web.forms import apply_error
from sanctum.web.render import render

bp = Blueprint("account", __name__, url_prefix="/account")


def _me():
    return current_user._get_current_object()


def _profile_page(status=200, **forms):
    user = _me()
    forms.setdefault("profile_form", ProfileForm(obj=user, formdata=None))
    forms.setdefault("email_form", EmailChangeForm(formdata=None))
    forms.setdefault("password_form", PasswordChangeForm(formdata=None))
    return render("account/profile.html", "account/_profile_forms.html", status=status, user=user,
                  empty_form=EmptyForm(), **forms)


@bp.get("/")
@permission_required("account.manage")
def account_profile():
    return _profile_page()


@bp.post("/profile")
@permission_required("account.manage")
def account_update_profile():
    form = ProfileForm()
    if not form.validate_on_submit():
        return _profile_page(422, profile_form=form)
    service.update_profile(user=_me(), display_name=form.display_name.data or "")
    flash("Your profile is saved.", "success")
    return redirect(url_for("account.account_profile"))


# Each request mails a link to an address of the user's choosing: limited, so it cannot spam someone.
@bp.post("/email")
@permission_required("account.manage")
@limit_posts("MAIL_PER_ADDRESS_LIMIT", "confirmation mails", source="for your account",
             key_func=lambda: f"email-change:{current_user.id}")
def account_change_email():
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            service.request_email_change(user=_me(), password=form.password.data, new_email=form.email.data)
        except service.AccountError as exc:
            apply_error(form, exc)
        else:
            flash(f"We sent a confirmation link to {form.email.data.strip().lower()}. "
                  "Your address changes once you follow it.", "success")
            return redirect(url_for("account.account_profile"))
    return _profile_page(422, email_form=form)


@bp.post("/password")
@permission_required("account.manage")
def account_change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            ended = service.change_password(user=_me(), current=form.current_password.data,
                                            new=form.new_password.data)
        except service.AccountError as exc:
            apply_error(form, exc)
        else:
            others = f" {ended} other session{'s were' if ended != 1 else ' was'} signed out." if ended else ""
            flash("Your password is changed." + others, "success")
            return redirect(url_for("account.account_profile"))
    return _profile_page(422, password_form=form)


@bp.get("/sessions")
@permission_required("account.manage")
def account_sessions():
    user = _me()
    current_id = user.current_session.id
    # This browser first, then the others by last use: "where am I" before "where else".
    sessions = sorted(active_sessions(user.id), key=lambda row: row.id != current_id)
    return render("account/sessions.html", "account/_sessions_table.html", sessions=sessions,
                  current_id=current_id, form=EmptyForm())


@bp.post("/sessions/<int:session_id>/revoke")
@permission_required("account.manage")
def account_revoke_session(session_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _me()
    if session_id == user.current_session.id:
        flash("To end this session, sign out.", "warning")
        return redirect(url_for("account.account_sessions"))
    try:
        service.revoke_session(user=user, session_id=session_id, actor=user)
    except LookupError:
        abort(404)
    flash("That session is signed out.", "success")
    if request.headers.get("HX-Request") == "true":
        return account_sessions()
    return redirect(url_for("account.account_sessions"))


@bp.post("/sessions/revoke-others")
@permission_required("account.manage")
def account_revoke_other_sessions():
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _me()
    count = service.revoke_other_sessions(user=user, actor=user, keep=user.current_session)
    flash(f"Signed out {count} other session{'s' if count != 1 else ''}.", "success")
    if request.headers.get("HX-Request") == "true":
        return account_sessions()
    return redirect(url_for("account.account_sessions"))
