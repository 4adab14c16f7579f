"""Discovery pages: registered Broca databases, the people in each, one person's actions."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from sanctum.auth.forms import EmptyForm
from sanctum.discovery import broca, service
from sanctum.discovery.forms import InvitePersonForm, LinkPersonForm, SourceForm
from sanctum.extensions import db
from sanctum.invitations.service import invitable_roles
from sanctum.models import BrocaLink, BrocaSource
from sanctum.rbac.service import has_permission
from sanctum.web.access import forbidden, permission_required
from sanctum.web.forms import apply_error, choices
from sanctum.web.render import render

bp = Blueprint("discovery", __name__, url_prefix="/admin/discovery")


def _me():
    return current_user._get_current_object()


def _source(source_id: int) -> BrocaSource:
    return db.session.get(BrocaSource, source_id) or abort(404)


def _index(status: int = 200, form=None):
    sources = [(source, service.source_health(source)) for source in service.list_sources()]
    return render("discovery/index.html", "discovery/_sources.html", status=status, sources=sources,
                  form=form or SourceForm(formdata=None), action_form=EmptyForm())


@bp.get("/")
@permission_required("users.manage")
def discovery_index():
    return _index()


@bp.post("/sources")
@permission_required("users.manage")
def discovery_register():
    form = SourceForm()
    if form.validate_on_submit():
        try:
            source = service.register_source(name=form.name.data, path=form.path.data, actor=_me())
        except service.DiscoveryError as exc:
            apply_error(form, exc)
        else:
            flash(f"“{source.name}” is registered. Sanctum reads it, and never writes to it.", "success")
            return redirect(url_for("discovery.discovery_source", source_id=source.id))
    return _index(422, form=form)


@bp.post("/sources/<int:source_id>/remove")
@permission_required("users.manage")
def discovery_remove(source_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    source = _source(source_id)
    name = source.name
    service.remove_source(source=source, actor=_me())
    flash(f"“{name}” is no longer registered; its links are forgotten. The file itself is untouched.", "success")
    return redirect(url_for("discovery.discovery_index"))


@bp.get("/sources/<int:source_id>")
@permission_required("users.manage")
def discovery_source(source_id: int):
    source = _source(source_id)
    view = request.args.get("view") if request.args.get("view") in service.VIEWS else "unlinked"
    q = (request.args.get("q") or "").strip()[:100]
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    listing, error = None, None
    try:
        listing = service.browse(source, view=view, q=q, page=page)
    except broca.BrocaError as exc:
        error = str(exc)
    return render("discovery/source.html", "discovery/_people.html", source=source, listing=listing, error=error,
                  view=view, q=q, counts=service.view_counts(source), action_form=EmptyForm(),
                  status=200)


def _person_page(source: BrocaSource, letta_user_id: int, status: int = 200, invite_form=None, link_form=None):
    try:
        person, link = service.find_person(source, letta_user_id)
    except broca.BrocaError as exc:
        return render("discovery/person.html", "discovery/_person.html", status=200, source=source, person=None,
                      link=None, error=str(exc), invite_form=None, link_form=None, action_form=EmptyForm())
    if person is None and link is None:
        abort(404)
    invite_form = invite_form or InvitePersonForm(formdata=None)
    roles = invitable_roles(_me())
    invite_form.role.choices = choices((r.name, r.name) for r in roles)
    if invite_form.role.data is None:
        invite_form.role.data = "user"
    return render("discovery/person.html", "discovery/_person.html", status=status, source=source, person=person,
                  link=link, error=None, invite_form=invite_form, link_form=link_form or LinkPersonForm(formdata=None),
                  action_form=EmptyForm(), may_invite=has_permission(_me(), "invitations.manage"))


@bp.get("/sources/<int:source_id>/people/<int:letta_user_id>")
@permission_required("users.manage")
def discovery_person(source_id: int, letta_user_id: int):
    return _person_page(_source(source_id), letta_user_id)


@bp.post("/sources/<int:source_id>/people/<int:letta_user_id>/invite")
@permission_required("users.manage")
def discovery_invite(source_id: int, letta_user_id: int):
    if not has_permission(_me(), "invitations.manage"):
        return forbidden("invitations.manage")  # inviting is the invitations permission's business too
    source = _source(source_id)
    form = InvitePersonForm()
    form.role.choices = choices((r.name, r.name) for r in invitable_roles(_me()))
    if form.validate_on_submit():
        try:
            invitation = service.invite_person(source=source, letta_user_id=letta_user_id, email=form.email.data,
                                               role=form.role.data, days=form.expires.data, actor=_me())
        except (service.DiscoveryError, broca.BrocaError) as exc:
            apply_error(form, exc)
        else:
            flash(f"Invitation sent to {invitation.email}.", "success")
            return redirect(url_for("discovery.discovery_source", source_id=source.id))
    return _person_page(source, letta_user_id, 422, invite_form=form)


@bp.post("/sources/<int:source_id>/people/<int:letta_user_id>/link")
@permission_required("users.manage")
def discovery_link(source_id: int, letta_user_id: int):
    source = _source(source_id)
    form = LinkPersonForm()
    if form.validate_on_submit():
        try:
            link = service.link_person(source=source, letta_user_id=letta_user_id, identifier=form.user.data,
                                       actor=_me())
        except (service.DiscoveryError, broca.BrocaError) as exc:
            apply_error(form, exc)
        else:
            flash(f"{link.label} is linked to {link.user.username}.", "success")
            return redirect(url_for("discovery.discovery_source", source_id=source.id))
    return _person_page(source, letta_user_id, 422, link_form=form)


@bp.post("/links/<int:link_id>/remove")
@permission_required("users.manage")
def discovery_unlink(link_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    link = db.session.get(BrocaLink, link_id) or abort(404)
    source_id, label = link.source_id, link.label
    service.unlink(link=link, actor=_me())
    flash(f"{label} is no longer linked.", "success")
    return redirect(url_for("discovery.discovery_source", source_id=source_id, view="linked"))
