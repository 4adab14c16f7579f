"""Announcement administration (announcements.manage) and the banner's dismiss button (everyone)."""
from __future__ import annotations

from datetime import timezone
from typing import Optional
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from sanctum.announcements import live as _live  # noqa: F401  (registers the channel and its renderer)
from sanctum.announcements import service
from sanctum.announcements.forms import AnnouncementForm
from sanctum.auth.forms import EmptyForm
from sanctum.extensions import db
from sanctum.models import Announcement
from sanctum.models.base import utcnow
from sanctum.rbac.service import list_roles
from sanctum.web.access import permission_required, safe_next
from sanctum.web.forms import apply_error, choices
from sanctum.web.render import render, wants_partial

bp = Blueprint("announcements", __name__)


def _me():
    return current_user._get_current_object()


def _utc(value):
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _form(announcement: Optional[Announcement] = None, *, submitted: bool) -> AnnouncementForm:
    if submitted:
        form = AnnouncementForm()
    elif announcement is not None:
        form = AnnouncementForm(formdata=None, obj=announcement)
        form.audience.data = list(announcement.audience_roles or [])
        for name in ("starts_at", "ends_at"):
            value = getattr(announcement, name)
            getattr(form, name).data = value.replace(tzinfo=None) if value else None
    else:
        form = AnnouncementForm(formdata=None)
    form.audience.choices = choices((role.name, role.name) for role, _count in list_roles())
    return form


def _get(announcement_id: int) -> Announcement:
    return db.session.get(Announcement, announcement_id) or abort(404)


def _fields(form: AnnouncementForm) -> dict:
    return {"title": form.title.data or "", "body": form.body.data or "", "level": form.level.data,
            "starts_at": _utc(form.starts_at.data), "ends_at": _utc(form.ends_at.data),
            "roles": form.audience.data or []}


@bp.get("/admin/announcements/")
@permission_required("announcements.manage")
def announcements_index():
    return render("announcements/index.html", "announcements/_overview.html", overview=service.overview(),
                  now=utcnow(), action_form=EmptyForm())


@bp.route("/admin/announcements/new", methods=["GET", "POST"])
@permission_required("announcements.manage")
def announcements_new():
    form = _form(submitted=request.method == "POST")
    if form.validate_on_submit():
        try:
            announcement = service.create_announcement(**_fields(form), actor=_me())
        except service.AnnouncementError as exc:
            apply_error(form, exc)
        else:
            state = announcement.state(utcnow())
            flash(f"“{announcement.title}” is {'live' if state == 'current' else state}.", "success")
            return redirect(url_for("announcements.announcements_index"))
    return render("announcements/form.html", "announcements/_form.html", status=422 if form.errors else 200,
                  form=form, announcement=None)


@bp.route("/admin/announcements/<int:announcement_id>/edit", methods=["GET", "POST"])
@permission_required("announcements.manage")
def announcements_edit(announcement_id: int):
    announcement = _get(announcement_id)
    form = _form(announcement, submitted=request.method == "POST")
    if form.validate_on_submit():
        try:
            service.update_announcement(announcement=announcement, **_fields(form), actor=_me())
        except service.AnnouncementError as exc:
            apply_error(form, exc)
        else:
            flash(f"“{announcement.title}” was saved.", "success")
            return redirect(url_for("announcements.announcements_index"))
    return render("announcements/form.html", "announcements/_form.html", status=422 if form.errors else 200,
                  form=form, announcement=announcement)


def _action(announcement_id: int, act, done: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    announcement = _get(announcement_id)
    title = announcement.title
    try:
        act(announcement=announcement, actor=_me())
    except service.AnnouncementError as exc:
        flash(str(exc), "error")
    else:
        flash(f"“{title}” {done}.", "success")
    return redirect(url_for("announcements.announcements_index"))


@bp.post("/admin/announcements/<int:announcement_id>/end")
@permission_required("announcements.manage")
def announcements_end(announcement_id: int):
    return _action(announcement_id, service.end_announcement, "has ended")


@bp.post("/admin/announcements/<int:announcement_id>/delete")
@permission_required("announcements.manage")
def announcements_delete(announcement_id: int):
    return _action(announcement_id, service.delete_announcement, "was deleted")


@bp.post("/announcements/<int:announcement_id>/dismiss")
@permission_required("account.manage")
def announcements_dismiss(announcement_id: int):
    """Close a banner for good (for this user). htmx gets the banners back; a plain form the
    page it came from."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    user = _me()
    try:
        service.dismiss_announcement(user=user, announcement_id=announcement_id)
    except LookupError:
        abort(404)
    except service.AnnouncementError:
        abort(409)
    if wants_partial():
        return render("announcements/_banners.html", "announcements/_banners.html",
                      announcements=service.banners_for(user), oob=False)
    return redirect(_back())


def _back() -> str:
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if parts.netloc == request.host:
        target = safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
        if target:
            return target
    return url_for("main.main_index")
