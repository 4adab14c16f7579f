"""Setup, sign in and out, sign-up, password reset and email verification pages."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from sanctum.auth import service
from sanctum.auth.forms import EmptyForm, ForgotForm, LoginForm, RegisterForm, ResetForm, SetupForm, TokenForm
from sanctum.auth.sessions import sign_in, sign_out
from sanctum.auth.throttle import limit_posts
from sanctum.settings.service import get_setting
from sanctum.web.access import permission_required, public, safe_next
from sanctum.web.forms import apply_error, invalid
from sanctum.web.render import render, wants_json

bp = Blueprint("auth", __name__)
_SETUP_EXEMPT = {"static", "auth.auth_setup", "ops.healthz", "ops.readyz", "metrics.metrics_index"}


def _submitted_email() -> str:
    return "address:" + (request.form.get("email") or "").strip().lower()[:254]


@bp.before_app_request
def require_setup():
    """Until the first admin exists, every page leads to /setup (SECURITY.md 7)."""
    if current_app.config.get("_SANCTUM_SET_UP") or request.endpoint in _SETUP_EXEMPT:
        return None
    if service.has_users():
        current_app.config["_SANCTUM_SET_UP"] = True
        return None
    if wants_json():
        abort(503, "Sanctum is not set up yet: create the first admin at /setup.")
    return redirect(url_for("auth.auth_setup"))


@bp.route("/setup", methods=["GET", "POST"])
@public
@limit_posts("ACCOUNT_RATE_LIMIT", "setup attempts")
def auth_setup():
    if service.has_users():
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = service.complete_setup(username=form.username.data, email=form.email.data,
                                          password=form.password.data)
        except service.AccountError as exc:
            apply_error(form, exc)
        else:
            row = sign_in(user, remember=False)
            service.record_login(user, row)
            flash("Sanctum is ready. You are signed in as its first administrator.", "success")
            return redirect(url_for("main.main_index"))
    return render("auth/setup.html", "auth/_setup_form.html", form=form, status=invalid(form))


@bp.route("/login", methods=["GET", "POST"])
@public
@limit_posts("LOGIN_RATE_LIMIT", "sign-in attempts")
def auth_login():
    target = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(target or url_for("main.main_index"))
    form = LoginForm(next=target)
    error = None
    if form.validate_on_submit():
        result = service.authenticate(form.identifier.data, form.password.data)
        if result.user is not None:
            row = sign_in(result.user, remember=form.remember.data)
            service.record_login(result.user, row)
            return redirect(target or url_for("main.main_index"))
        error = result.error
    status = 422 if (error or form.errors) else 200
    return render("auth/login.html", "auth/_login_form.html", form=form, error=error, status=status,
                  registration_mode=get_setting("registration_mode"))


@bp.post("/logout")
@public
def auth_logout():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        service.record_logout(current_user._get_current_object())
        sign_out()
        flash("You are signed out.", "success")
    return redirect(url_for("auth.auth_login"))


@bp.route("/register", methods=["GET", "POST"])
@public
@limit_posts("ACCOUNT_RATE_LIMIT", "sign-up attempts")
def auth_register():
    mode = get_setting("registration_mode")
    form = RegisterForm()
    if mode != "closed" and form.validate_on_submit():
        try:
            user = service.register(username=form.username.data, email=form.email.data,
                                    password=form.password.data, display_name=form.display_name.data)
        except service.AccountError as exc:
            apply_error(form, exc)
        else:
            if user.status == "pending":
                flash("Thanks! An administrator will review your account; we also sent you a link "
                      "to confirm your email address.", "success")
            else:
                flash("Your account is ready. We sent you a link to confirm your email address.", "success")
            return redirect(url_for("auth.auth_login"))
    return render("auth/register.html", "auth/_register_form.html", form=form, mode=mode, status=invalid(form))


@bp.route("/forgot", methods=["GET", "POST"])
@public
@limit_posts("ACCOUNT_RATE_LIMIT", "reset requests")
@limit_posts("MAIL_PER_ADDRESS_LIMIT", "reset requests", source="for that address", key_func=_submitted_email)
def auth_forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        service.request_password_reset(form.email.data)
        flash("If an account uses that address, a link to reset its password is on its way. "
              "It works once, for an hour.", "success")
        return redirect(url_for("auth.auth_login"))
    return render("auth/forgot.html", "auth/_forgot_form.html", form=form, status=invalid(form))


@bp.route("/reset", methods=["GET", "POST"])
@public
@limit_posts("ACCOUNT_RATE_LIMIT", "password changes")
def auth_reset():
    """The mailed link. GET only shows the form: nothing changes until it is submitted."""
    form = ResetForm(token=request.args.get("token", ""))
    link_error = None
    if form.validate_on_submit():
        try:
            service.reset_password(token=form.token.data, new=form.new_password.data)
        except service.AccountError as exc:
            if exc.field:
                apply_error(form, exc)
            else:
                link_error = str(exc)
        else:
            flash("Your password is changed and every session was signed out. Sign in with the new one.",
                  "success")
            return redirect(url_for("auth.auth_login"))
    elif request.method == "GET":
        try:
            service.check_reset_token(form.token.data)
        except service.AccountError as exc:
            link_error = str(exc)
    status = 422 if (link_error or form.errors) else 200
    return render("auth/reset.html", "auth/_reset_form.html", form=form, link_error=link_error, status=status)


@bp.route("/verify", methods=["GET", "POST"])
@public
@limit_posts("ACCOUNT_RATE_LIMIT", "confirmation attempts")
def auth_verify():
    """The mailed link shows a button; pressing it (POST) confirms the address."""
    form = TokenForm(token=request.args.get("token", ""))
    error = None
    if form.validate_on_submit():
        try:
            user = service.verify_email(form.token.data)
        except service.AccountError as exc:
            error = str(exc)
        else:
            flash(f"Thank you: {user.email} is confirmed.", "success")
            return redirect(url_for("main.main_index"))
    return render("auth/verify.html", "auth/_verify_form.html", form=form, error=error,
                  status=422 if error else 200)


@bp.post("/verify/resend")
@permission_required("account.manage")
@limit_posts("MAIL_PER_ADDRESS_LIMIT", "confirmation mails", source="for your account",
             key_func=lambda: f"resend:{current_user.id}")
def auth_verify_resend():
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        service.resend_verification(current_user._get_current_object())
    except service.AccountError as exc:
        flash(str(exc), "warning")
    else:
        flash(f"We sent a new confirmation link to {current_user.email}.", "success")
    return redirect(url_for("account.account_profile"))
