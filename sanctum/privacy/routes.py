"""Data-rights pages: "Export my data" in the account area; exports and erasure for admins."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from sanctum.auth.forms import EmptyForm
from sanctum.auth.service import find_user
from sanctum.extensions import db
from sanctum.models import JobRecord, User, UserErasure
from sanctum.privacy import erasure, service
from sanctum.privacy.export import section_labels
from sanctum.privacy.forms import EraseForm, ErasureSettingsForm
from sanctum.settings.service import get_setting, set_setting
from sanctum.web.access import permission_required
from sanctum.web.forms import apply_error
from sanctum.web.render import render, wants_partial

bp = Blueprint("privacy", __name__)
STOP_POLLING = 286


@bp.record_once
def _defaults(state) -> None:
    state.app.config.setdefault("EXPORT_RETENTION_HOURS", service.EXPORT_HOURS)
    state.app.config.setdefault("ERASURE_CHATS", "anonymise")


def _me() -> User:
    return current_user._get_current_object()


# ---------------------------------------------------------------- one's own data

@bp.get("/account/data")
@permission_required("account.manage")
def privacy_data():
    me = _me()
    return render("privacy/data.html", "privacy/_data.html", exports=service.exports_by(me, user=me),
                  state=service.export_state, sections=section_labels(), hours=service.export_hours(),
                  form=EmptyForm())


@bp.post("/account/data/exports")
@permission_required("account.manage")
def privacy_export_mine():
    if not EmptyForm().validate_on_submit():
        abort(400)
    me = _me()
    try:
        export = service.request_export(user=me, actor=me)
    except service.PrivacyError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("privacy.privacy_data"))
    return redirect(url_for("privacy.privacy_export", export_id=export.id))


@bp.get("/account/data/exports/<int:export_id>")
@permission_required("account.manage")
def privacy_export(export_id: int):
    """The export's progress widget: htmx polls it every second until it answers 286."""
    export = service.owned_export(export_id, _me()) or abort(404)
    state, error = service.export_state(export)
    done = state not in ("queued", "running")
    status = STOP_POLLING if done and wants_partial() and request.headers.get("HX-Trigger") == "export-progress" \
        else 200
    progress = db.session.get(JobRecord, export.job_id) if export.job_id else None
    return render("privacy/export.html", "privacy/_export.html", status=status, export=export, state=state,
                  error=error, progress=progress)


@bp.get("/account/data/exports/<int:export_id>/download")
@permission_required("account.manage")
def privacy_download(export_id: int):
    me = _me()
    export = service.owned_export(export_id, me) or abort(404)
    try:
        content = service.record_download(export=export, actor=me)
    except service.PrivacyError as exc:
        abort(410, str(exc))
    stamp = export.finished_at.strftime("%Y%m%d-%H%M")
    return Response(content, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="sanctum-export-user{export.user_id}-{stamp}.json"'})


# ---------------------------------------------------------------- administrators

@bp.get("/admin/privacy")
@permission_required("users.manage")
def privacy_admin():
    q = (request.args.get("q") or "").strip()
    if q:
        user = find_user(q)
        if user is not None:
            return redirect(url_for("privacy.privacy_user", user_id=user.id))
        flash("No account has that username or email address.", "warning")
    erasures = db.session.scalars(select(UserErasure).order_by(UserErasure.id.desc()).limit(20)).all()
    return render("privacy/admin.html", "privacy/_admin.html", q=q, erasures=erasures,
                  exports=service.exports_by(_me()), state=service.export_state,
                  settings_form=ErasureSettingsForm(formdata=None, chats=get_setting("erasure_chats")))


@bp.post("/admin/privacy/settings")
@permission_required("settings.manage")
def privacy_settings():
    form = ErasureSettingsForm()
    if not form.validate_on_submit():
        abort(422, "Choose what erasure does to chats.")
    set_setting("erasure_chats", form.chats.data, actor=_me())
    db.session.commit()
    flash("Saved: erasing an account now " + ("anonymises" if form.chats.data == "anonymise" else "deletes")
          + " its chats.", "success")
    return redirect(url_for("privacy.privacy_admin"))


def _user_page(user: User, status: int = 200, erase_form=None):
    me = _me()
    erase_form = erase_form or EraseForm(formdata=None)
    erase_form.confirm.description = f"Type {user.username} exactly: erasing cannot be undone."
    return render("privacy/user.html", "privacy/_user.html", status=status, user=user,
                  erased=erasure.erasure_of(user.id), refusal=erasure.refusal(user, me),
                  exports=service.exports_by(me, user=user), state=service.export_state,
                  erase_form=erase_form, form=EmptyForm(),
                  chats_mode=get_setting("erasure_chats"))


@bp.get("/admin/privacy/users/<int:user_id>")
@permission_required("users.manage")
def privacy_user(user_id: int):
    return _user_page(db.session.get(User, user_id) or abort(404))


@bp.post("/admin/privacy/users/<int:user_id>/export")
@permission_required("users.manage")
def privacy_export_user(user_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = db.session.get(User, user_id) or abort(404)
    try:
        export = service.request_export(user=user, actor=_me())
    except service.PrivacyError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("privacy.privacy_user", user_id=user.id))
    return redirect(url_for("privacy.privacy_export", export_id=export.id))


@bp.post("/admin/privacy/users/<int:user_id>/erase")
@permission_required("users.manage")
def privacy_erase(user_id: int):
    user = db.session.get(User, user_id) or abort(404)
    form = EraseForm()
    if form.validate_on_submit():
        try:
            record = erasure.erase_user(user=user, actor=_me(), confirm=form.confirm.data)
        except service.PrivacyError as exc:
            apply_error(form, exc)
        else:
            flash(f"Account #{user.id} is erased: it now appears as {record.pseudonym}, its sessions are "
                  "ended and its personal data is gone.", "success")
            return redirect(url_for("privacy.privacy_admin"))
    return _user_page(user, 422, erase_form=form)
