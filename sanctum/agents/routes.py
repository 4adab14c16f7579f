"""Agent pages: list, show, create, edit, keys, connection test, switch off, delete."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from sanctum.agents import service
from sanctum.agents.forms import AgentForm, ApiKeyForm
from sanctum.agents.providers import PROVIDERS
from sanctum.auth.forms import EmptyForm
from sanctum.bridge import service as bridge
from sanctum.health import CHANNEL
from sanctum.health.service import history
from sanctum.models import Agent
from sanctum.rbac.service import has_permission
from sanctum.web.access import permission_required
from sanctum.web.forms import apply_error, choices
from sanctum.web.render import render

bp = Blueprint("agents", __name__, url_prefix="/agents")


def _actor():
    return current_user._get_current_object()


def _visible_or_404(agent_id: int) -> Agent:
    agent = service.get_agent(agent_id)
    if agent is None:
        abort(404)
    if not has_permission(current_user, "agents.manage") and not service.may_use(agent, current_user):
        abort(404)  # not even its existence is shown to those who may not use it
    return agent


def _managed_or_404(agent_id: int) -> Agent:
    return service.get_agent(agent_id) or abort(404)


def _agent_form(agent: Agent | None = None) -> AgentForm:
    form = AgentForm(obj=agent)
    form.roles.choices = choices((name, name) for name in service.role_names())
    if request.method == "GET":
        if agent is not None:
            form.roles.data = [r.name for r in agent.roles]
            form.users.data = ", ".join(u.username for u in agent.users)
        else:
            form.roles.data = ["admin", "moderator", "user"]
    return form


@bp.get("/")
@permission_required("agents.view")
def agents_index():
    agents = service.visible_agents(current_user)
    return render("agents/index.html", "agents/_table.html", agents=agents, form=EmptyForm(),
                  providers=PROVIDERS, live_channels=[CHANNEL] if has_permission(current_user, "system.view") else [])


@bp.route("/new", methods=["GET", "POST"])
@permission_required("agents.manage")
def agents_new():
    form = _agent_form()
    if form.validate_on_submit():
        try:
            agent = service.create_agent(data=form.data_for_service(), actor=_actor())
        except service.AgentError as exc:
            apply_error(form, exc)
        else:
            flash(f"The agent “{agent.label}” is created.", "success")
            return redirect(url_for("agents.agents_show", agent_id=agent.id))
    return render("agents/form.html", "agents/_form.html", form=form, agent=None, status=422 if form.errors else 200)


@bp.get("/<int:agent_id>")
@permission_required("agents.view")
def agents_show(agent_id: int):
    agent = _visible_or_404(agent_id)
    return _show(agent)


def _show(agent: Agent, status: int = 200, partial: str = "agents/_detail.html", **extra):
    return render("agents/show.html", partial, status=status, agent=agent, providers=PROVIDERS,
                  checks=history("agent", agent.id), key_form=extra.pop("key_form", None) or ApiKeyForm(),
                  form=EmptyForm(), live_channels=[CHANNEL] if has_permission(current_user, "system.view") else [],
                  **extra)


@bp.route("/<int:agent_id>/edit", methods=["GET", "POST"])
@permission_required("agents.manage")
def agents_edit(agent_id: int):
    agent = _managed_or_404(agent_id)
    form = _agent_form(agent)
    if form.validate_on_submit():
        try:
            service.update_agent(agent=agent, data=form.data_for_service(), actor=_actor())
        except service.AgentError as exc:
            apply_error(form, exc)
        else:
            flash(f"The agent “{agent.label}” is saved.", "success")
            return redirect(url_for("agents.agents_show", agent_id=agent.id))
    return render("agents/form.html", "agents/_form.html", form=form, agent=agent, status=422 if form.errors else 200)


@bp.post("/<int:agent_id>/key")
@permission_required("agents.manage")
def agents_key(agent_id: int):
    agent = _managed_or_404(agent_id)
    form = ApiKeyForm()
    if form.validate_on_submit():
        try:
            service.set_api_key(agent=agent, key=form.api_key.data, actor=_actor())
        except service.AgentError as exc:
            apply_error(form, exc)
        else:
            flash("The API key is stored. It will not be shown again.", "success")
            return _show(agent, partial="agents/_key_panel.html")
    return _show(agent, status=422, partial="agents/_key_panel.html", key_form=form)


@bp.post("/<int:agent_id>/key/clear")
@permission_required("agents.manage")
def agents_key_clear(agent_id: int):
    agent = _managed_or_404(agent_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    service.clear_api_key(agent=agent, actor=_actor())
    flash("The API key is removed.", "success")
    return _show(agent, partial="agents/_key_panel.html")


@bp.post("/<int:agent_id>/bridge-key")
@permission_required("agents.manage")
def agents_bridge_key(agent_id: int):
    agent = _managed_or_404(agent_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    raw = bridge.generate_key(agent=agent, actor=_actor())
    return _show(agent, partial="agents/_key_panel.html", new_bridge_key=raw)


@bp.post("/<int:agent_id>/bridge-key/revoke")
@permission_required("agents.manage")
def agents_bridge_key_revoke(agent_id: int):
    agent = _managed_or_404(agent_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    bridge.revoke_key(agent=agent, actor=_actor())
    flash("The bridge key is revoked; Broca can no longer poll for this agent.", "success")
    return _show(agent, partial="agents/_key_panel.html")


@bp.post("/<int:agent_id>/test")
@permission_required("agents.manage")
def agents_test(agent_id: int):
    agent = _managed_or_404(agent_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    ok, latency, message = service.test_agent(agent=agent, actor=_actor())
    return _show(agent, partial="agents/_test_result.html", result={"ok": ok, "latency": latency, "message": message})


@bp.post("/<int:agent_id>/active")
@permission_required("agents.manage")
def agents_toggle(agent_id: int):
    agent = _managed_or_404(agent_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    service.set_active(agent=agent, active=not agent.is_active, actor=_actor())
    flash(f"“{agent.label}” is {'active' if agent.is_active else 'switched off'}.", "success")
    return render("agents/index.html", "agents/_row.html", agent=agent, agents=service.visible_agents(current_user),
                  form=EmptyForm(), providers=PROVIDERS, live_channels=[])


@bp.post("/<int:agent_id>/delete")
@permission_required("agents.manage")
def agents_delete(agent_id: int):
    agent = _managed_or_404(agent_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    label = agent.label
    service.delete_agent(agent=agent, actor=_actor())
    flash(f"The agent “{label}” is deleted.", "success")
    return redirect(url_for("agents.agents_index"))
