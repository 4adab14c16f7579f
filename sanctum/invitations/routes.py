"""Invitation pages: the admin list with its forms, CSV imports with their progress, and the
public accept page."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from sanctum.auth.forms import EmptyForm
from sanctum.extensions import db, limiter
from sanctum.invitations import importer, service
from sanctum.invitations.forms import AcceptForm, InvitationForm, InvitationImportForm
from sanctum.models import InvitationBatch
from sanctum.web.access import permission_required, public, safe_next
from sanctum.web.forms import apply_error, choices
from sanctum.web.render import render, wants_partial

bp = Blueprint("invitations", __name__)
STOP_POLLING = 286  # htmx stops an `every 1s` trigger when it gets this status


@bp.record_once
def _defaults(state) -> None:
    state.app.config.setdefault("INVITATION_IMPORT_MAX_ROWS", importer.MAX_ROWS)


def _me():
    return current_user._get_current_object()


def _with_roles(form, default: str = "user"):
    roles = service.invitable_roles(_me())
    form.role.choices = choices((r.name, r.name) for r in roles)
    if form.role.data is None and any(r.name == default for r in roles):
        form.role.data = default
    return form


def _filters() -> dict:
    status = request.args.get("status") or None
    if status not in service.STATUS_FILTERS:
        status = None
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    return {"status": status, "q": (request.args.get("q") or "").strip()[:254], "page": page}


def _index(status: int = 200, form=None, import_form=None):
    filters = _filters()
    listing = service.list_invitations(**filters)
    return render("invitations/index.html", "invitations/_list.html", status=status, listing=listing,
                  filters=filters, counts=service.status_counts(), batches=importer.recent_batches(),
                  form=form or _with_roles(InvitationForm(formdata=None)),
                  import_form=import_form or _with_roles(InvitationImportForm(formdata=None)),
                  action_form=EmptyForm())


@bp.get("/admin/invitations")
@permission_required("invitations.manage")
def invitations_index():
    return _index()


@bp.post("/admin/invitations")
@permission_required("invitations.manage")
def invitations_create():
    form = _with_roles(InvitationForm())
    if form.validate_on_submit():
        try:
            invitation = service.create_invitation(email=form.email.data, role=form.role.data,
                                                   days=form.expires.data, note=form.note.data or "", actor=_me())
        except service.InvitationError as exc:
            apply_error(form, exc)
        else:
            flash(f"Invitation sent to {invitation.email}.", "success")
            return redirect(url_for("invitations.invitations_index"))
    return _index(422, form=form)


@bp.post("/admin/invitations/import")
@permission_required("invitations.manage")
def invitations_import():
    form = _with_roles(InvitationImportForm())
    if form.validate_on_submit():
        upload = form.file.data
        try:
            batch = importer.start_import(filename=upload.filename or "", data=upload.read(), role=form.role.data,
                                          days=form.expires.data, note=form.note.data or "", actor=_me())
        except service.InvitationError as exc:
            apply_error(form, exc)
        else:
            return redirect(url_for("invitations.invitations_batch", batch_id=batch.id))
    return _index(422, import_form=form)


@bp.get("/admin/invitations/imports/<int:batch_id>")
@permission_required("invitations.manage")
def invitations_batch(batch_id: int):
    """The import's page; htmx polls it every second for the progress partial until it
    answers 286 with the finished report."""
    batch = db.session.get(InvitationBatch, batch_id) or abort(404)
    state, error = importer.batch_state(batch)
    outcome = request.args.get("outcome") if request.args.get("outcome") in importer.OUTCOMES else None
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    done = state in ("finished", "failed")
    rows, matching = importer.report_rows(batch, outcome=outcome, page=page) if done else ([], 0)
    status = STOP_POLLING if done and wants_partial() and request.headers.get("HX-Trigger") == "batch-progress" \
        else 200
    return render("invitations/batch.html", "invitations/_batch.html", status=status, batch=batch, state=state,
                  error=error, rows=rows, matching=matching, outcome=outcome, report_page=page, per_page=100,
                  labels=importer.OUTCOME_LABELS)


@bp.get("/admin/invitations/imports/<int:batch_id>/report.csv")
@permission_required("invitations.manage")
def invitations_batch_report(batch_id: int):
    batch = db.session.get(InvitationBatch, batch_id) or abort(404)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["line", "email", "outcome", "detail"])
    for row in importer.all_report_rows(batch):
        writer.writerow([row.line, _cell(row.email), row.outcome, _cell(row.detail or "")])
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="invitations-import-{batch.id}-report.csv"'})


def _cell(value: str) -> str:
    """Spreadsheets run cells starting with these as formulas: neutralise them."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.post("/admin/invitations/<int:invitation_id>/resend")
@permission_required("invitations.manage")
def invitations_resend(invitation_id: int):
    return _act(invitation_id, service.resend_invitation, "A new invitation link was sent to {email}; "
                                                          "the previous link no longer works.")


@bp.post("/admin/invitations/<int:invitation_id>/revoke")
@permission_required("invitations.manage")
def invitations_revoke(invitation_id: int):
    return _act(invitation_id, service.revoke_invitation, "The invitation to {email} is revoked.")


def _act(invitation_id: int, action, message: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    invitation = service.get_invitation(invitation_id) or abort(404)
    try:
        action(invitation=invitation, actor=_me())
    except service.InvitationError as exc:
        flash(str(exc), "warning")
    else:
        flash(message.format(email=invitation.email), "success")
    # Back to the list as it was filtered (a same-site path under the list only).
    back = safe_next(request.form.get("next"))
    if back is None or not back.startswith("/admin/invitations"):
        back = url_for("invitations.invitations_index")
    return redirect(back)


# ---------------------------------------------------------------- the invitee

def _accept_limit() -> str:
    return current_app.config["ACCOUNT_RATE_LIMIT"]


@bp.route("/invitations/accept", methods=["GET", "POST"])
@public
@limiter.limit(_accept_limit, methods=["POST"])
def invitations_accept():
    """GET shows the form (the token rides in the query string, never the path); POST accepts."""
    form = AcceptForm(token=request.args.get("token", ""))
    link_error, invitation = None, None
    if current_user.is_authenticated:
        return _no_referrer(render("invitations/accept.html", "invitations/_accept.html", form=form,
                                   invitation=None, link_error=None, signed_in=True, status=200))
    if form.validate_on_submit():
        try:
            user = service.accept_invitation(token=form.token.data, username=form.username.data,
                                             password=form.password.data, display_name=form.display_name.data)
        except service.InvitationError as exc:
            if exc.field:
                apply_error(form, exc)
            else:
                link_error = str(exc)
        else:
            flash(f"Welcome, {user.name}! Your account is ready: sign in with the username and password "
                  "you just chose.", "success")
            return redirect(url_for("auth.auth_login"))
    if link_error is None:
        try:
            invitation = service.live_invitation(form.token.data)
        except service.InvitationError as exc:
            link_error = str(exc)
    status = 422 if (link_error or form.errors) else 200
    return _no_referrer(render("invitations/accept.html", "invitations/_accept.html", form=form,
                               invitation=invitation, link_error=link_error, signed_in=False, status=status))


def _no_referrer(response):
    """This page's URL carries the token: links followed from it must not repeat it in a Referer."""
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
