"""Moderation pages: flagging a message, the live queue, an item and its decision, screening
rules and sanctions."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

# Imported for what they register: the live channel and renderer, audit links, dashboard tiles,
# data-rights export and erasure.
from sanctum.moderation import dashboard as _dashboard, links as _links, live as _live  # noqa: F401
from sanctum.moderation import sanctions, service
from sanctum.moderation.forms import DecisionForm, FlagForm, LiftForm, RuleForm, RuleTestForm, SanctionEditForm, \
    SanctionForm, UnhideForm
from sanctum.moderation import rules as rule_service
from sanctum.auth.service import find_user
from sanctum.extensions import db, sock
from sanctum.live import routes as live_routes
from sanctum.models import Agent, ChatMessage, ChatSession, Sanction, ScreeningRule, User
from sanctum.models.moderation import FLAG_REASONS, SANCTION_TYPES
from sanctum.rbac.service import has_permission
from sanctum.web.access import deny, permission_required
from sanctum.web.forms import apply_error, choices, invalid
from sanctum.web.render import render, wants_partial

bp = Blueprint("moderation", __name__, url_prefix="/moderation")
socket_bp = Blueprint("moderation_live", __name__)  # /ws/moderation lives outside the /moderation prefix


def _me() -> User:
    return current_user._get_current_object()


def _agent_choices() -> list:
    return choices((a.id, a.label) for a in db.session.scalars(select(Agent).order_by(Agent.name)))


# ---------------------------------------------------------------- flagging (every user)

def _own_message(message_id: int) -> ChatMessage:
    message = db.session.scalar(select(ChatMessage).join(ChatSession, ChatSession.id == ChatMessage.chat_id)
                                .where(ChatMessage.id == message_id, ChatSession.user_id == _me().id))
    return message or abort(404)


@bp.route("/flag/<int:message_id>", methods=["GET", "POST"])
@permission_required("moderation.flag")
def flag_message(message_id: int):
    message = _own_message(message_id)
    form = FlagForm()
    done = None
    if form.validate_on_submit():
        try:
            service.flag_message(reporter=_me(), message=message, reason=form.reason.data, note=form.note.data or "")
        except service.ModerationError as exc:
            if exc.status == 404:
                abort(404)
            apply_error(form, exc)
        else:
            done = "Thank you. Moderators will look at it, and you will hear what they decided."
            if not wants_partial():
                flash(done, "success")
                return redirect(url_for("chat.chat_show", chat_id=message.chat_id))
    return render("moderation/flag.html", "moderation/_flag_form.html", status=invalid(form), form=form,
                  message=message, done=done)


# ---------------------------------------------------------------- the queue

def _queue_filter() -> service.QueueFilter:
    args = request.args
    state = args.get("state", "open")
    return service.QueueFilter(state=state if state in ("open", "resolved", "all") else "open",
                               reason=args.get("reason", "")[:40], agent_id=args.get("agent", type=int),
                               user=args.get("user", "")[:64], source=args.get("source", "")[:20],
                               page=max(args.get("page", 1, type=int), 1))


@bp.get("/")
@permission_required("moderation.review")
def queue_index():
    f = _queue_filter()
    items, more = service.queue(f)
    agents = list(db.session.scalars(select(Agent).order_by(Agent.name)))
    return render("moderation/queue.html", "moderation/_queue.html", items=items, more=more, f=f, agents=agents,
                  reasons=sorted(set(service.reasons_in_use()) | set(FLAG_REASONS)),
                  open_count=service.open_count(), live_channels=[service.CHANNEL])


def _item_or_404(item_id: int):
    return service.get_item(item_id) or abort(404)


def _item_page(item, form=None, unhide_form=None, status: int = 200):
    form = form or DecisionForm(formdata=None)
    form.agent_ids.choices = _agent_choices()
    message = db.session.get(ChatMessage, item.message_id) if item.message_id else None
    return render("moderation/item.html", "moderation/_item.html", status=status, item=item, form=form,
                  unhide_form=unhide_form or UnhideForm(formdata=None), message=message,
                  context=service.context_of(item), flags=service.flags_of(item), history=service.history_of(item),
                  sanctions=sanctions.in_force(item.user_id) if item.user_id else [],
                  may_sanction=has_permission(_me(), "sanctions.apply"), live_channels=[service.CHANNEL])


@bp.get("/items/<int:item_id>")
@permission_required("moderation.review")
def item_show(item_id: int):
    return _item_page(_item_or_404(item_id))


@bp.post("/items/<int:item_id>/decide")
@permission_required("moderation.review")
def item_decide(item_id: int):
    item = _item_or_404(item_id)
    form = DecisionForm()
    form.agent_ids.choices = _agent_choices()
    if not form.validate_on_submit():
        return _item_page(item, form=form, status=422)
    decision = form.decision.data
    if decision in ("warned", "sanctioned") and not has_permission(_me(), "sanctions.apply"):
        abort(403)
    agents = list(db.session.scalars(select(Agent).where(Agent.id.in_(form.agent_ids.data or []))))
    try:
        service.decide(moderator=_me(), item=item, decision=decision, reason=form.reason.data, hide=form.hide.data,
                       sanction_type=form.sanction_type.data if decision == "sanctioned" else None,
                       expires_at=form.expires_at(), agents=agents)
    except service.ModerationError as exc:
        if exc.status == 403:
            abort(403)
        apply_error(form, exc)
        return _item_page(service.get_item(item_id), form=form, status=409 if exc.status == 409 else 422)
    flash("Decision recorded.", "success")
    return redirect(url_for("moderation.item_show", item_id=item.id))


@bp.post("/items/<int:item_id>/unhide")
@permission_required("moderation.review")
def item_unhide(item_id: int):
    item = _item_or_404(item_id)
    form = UnhideForm()
    if form.validate_on_submit():
        try:
            service.unhide(moderator=_me(), item=item, reason=form.reason.data)
        except service.ModerationError as exc:
            apply_error(form, exc)
        else:
            flash("The message is visible again.", "success")
            return redirect(url_for("moderation.item_show", item_id=item.id))
    return _item_page(item, unhide_form=form, status=422)


# ---------------------------------------------------------------- screening rules

def _rules_page(form=None, test_form=None, results=None, status: int = 200):
    rules = list(db.session.scalars(select(ScreeningRule).order_by(ScreeningRule.name)))
    return render("moderation/rules.html", "moderation/_rules.html", status=status, rules=rules,
                  form=form or RuleForm(formdata=None), test_form=test_form or RuleTestForm(formdata=None),
                  results=results)


@bp.get("/rules")
@permission_required("settings.manage")
def rules_index():
    return _rules_page()


@bp.post("/rules")
@permission_required("settings.manage")
def rules_create():
    form = RuleForm()
    if form.validate_on_submit():
        try:
            rule_service.save_rule(actor=_me(), rule=None, data=form.data)
        except rule_service.RuleError as exc:
            apply_error(form, exc)
        else:
            flash(f"Rule “{form.name.data}” saved.", "success")
            return redirect(url_for("moderation.rules_index"))
    return _rules_page(form=form, status=422)


@bp.post("/rules/test")
@permission_required("settings.manage")
def rules_test():
    form = RuleTestForm()
    results = None
    if form.validate_on_submit():
        results = {role: service.screen_text(form.text.data, role=role).hits for role in ("user", "agent")}
    return _rules_page(test_form=form, results=results, status=invalid(form))


def _rule_or_404(rule_id: int) -> ScreeningRule:
    return db.session.get(ScreeningRule, rule_id) or abort(404)


@bp.route("/rules/<int:rule_id>", methods=["GET", "POST"])
@permission_required("settings.manage")
def rules_edit(rule_id: int):
    rule = _rule_or_404(rule_id)
    form = RuleForm(obj=rule) if request.method == "GET" else RuleForm()
    if form.validate_on_submit():
        try:
            rule_service.save_rule(actor=_me(), rule=rule, data=form.data)
        except rule_service.RuleError as exc:
            apply_error(form, exc)
        else:
            flash(f"Rule “{rule.name}” saved.", "success")
            return redirect(url_for("moderation.rules_index"))
    return render("moderation/rule.html", "moderation/_rule_form.html", status=invalid(form), form=form, rule=rule)


@bp.post("/rules/<int:rule_id>/delete")
@permission_required("settings.manage")
def rules_delete(rule_id: int):
    rule = _rule_or_404(rule_id)
    rule_service.delete_rule(actor=_me(), rule=rule)
    flash("Rule deleted.", "success")
    return redirect(url_for("moderation.rules_index"))


# ---------------------------------------------------------------- sanctions

@bp.get("/sanctions")
@permission_required("sanctions.apply")
def sanctions_index():
    state = request.args.get("state", "active")
    type_ = request.args.get("type", "")
    user = find_user(request.args.get("user", "")) if request.args.get("user") else None
    rows = sanctions.list_sanctions(user_id=user.id if user else None, type_=type_ if type_ in SANCTION_TYPES else None,
                                    active={"active": True, "ended": False}.get(state))
    users = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({r.user_id for r in rows} | {r.applied_by_id for r in rows if r.applied_by_id})))}
    return render("moderation/sanctions.html", "moderation/_sanctions.html", rows=rows, users=users, state=state,
                  type_=type_, user_query=request.args.get("user", ""), types=SANCTION_TYPES)


def _sanction_form_page(form, status: int = 200):
    return render("moderation/sanction_new.html", "moderation/_sanction_form.html", status=status, form=form)


@bp.route("/sanctions/new", methods=["GET", "POST"])
@permission_required("sanctions.apply")
def sanctions_new():
    if request.method == "GET":
        target = db.session.get(User, request.args.get("user_id", type=int) or 0)
        form = SanctionForm(formdata=None, username=target.username if target else "")
    else:
        form = SanctionForm()
    form.agent_ids.choices = _agent_choices()
    if form.validate_on_submit():
        user = find_user(form.username.data)
        if user is None:
            form.username.errors = ["There is no such user."]
        else:
            agents = list(db.session.scalars(select(Agent).where(Agent.id.in_(form.agent_ids.data or []))))
            try:
                sanctions.apply(actor=_me(), user=user, type_=form.type.data, reason=form.reason.data,
                                expires_at=None if form.type.data in ("warning", "permanent_ban") else form.expires_at(),
                                agents=agents)
            except sanctions.SanctionError as exc:
                apply_error(form, exc)
            else:
                flash(f"{SANCTION_TYPES[form.type.data]} applied to {user.username}.", "success")
                return redirect(url_for("moderation.sanctions_index", user=user.username, state="all"))
    return _sanction_form_page(form, status=invalid(form))


def _sanction_or_404(sanction_id: int) -> Sanction:
    return db.session.get(Sanction, sanction_id) or abort(404)


@bp.route("/sanctions/<int:sanction_id>", methods=["GET", "POST"])
@permission_required("sanctions.apply")
def sanctions_show(sanction_id: int):
    sanction = _sanction_or_404(sanction_id)
    if request.method == "GET":
        form = SanctionEditForm(formdata=None, reason=sanction.reason, duration="custom" if sanction.expires_at else "none",
                                ends_at=sanction.expires_at.replace(tzinfo=None) if sanction.expires_at else None)
    else:
        form = SanctionEditForm()
    if form.validate_on_submit():
        try:
            expires = form.expires_at()
            sanctions.update(actor=_me(), sanction=sanction, reason=form.reason.data, expires_at=expires,
                             clear_expiry=form.duration.data == "none")
        except sanctions.SanctionError as exc:
            if exc.status == 403:
                abort(403)
            apply_error(form, exc)
        else:
            flash("Sanction updated.", "success")
            return redirect(url_for("moderation.sanctions_show", sanction_id=sanction.id))
    return render("moderation/sanction.html", "moderation/_sanction.html", status=invalid(form), sanction=sanction,
                  form=form, lift_form=LiftForm(formdata=None))


@bp.post("/sanctions/<int:sanction_id>/lift")
@permission_required("sanctions.apply")
def sanctions_lift(sanction_id: int):
    sanction = _sanction_or_404(sanction_id)
    form = LiftForm()
    if form.validate_on_submit():
        try:
            sanctions.lift(actor=_me(), sanction=sanction, reason=form.reason.data)
        except sanctions.SanctionError as exc:
            if exc.status == 403:
                abort(403)
            apply_error(form, exc)
        else:
            flash("Sanction lifted.", "success")
            return redirect(url_for("moderation.sanctions_show", sanction_id=sanction.id))
    return render("moderation/sanction.html", "moderation/_sanction.html", status=422, sanction=sanction,
                  form=SanctionEditForm(formdata=None, reason=sanction.reason), lift_form=form)


@bp.get("/standing")
@permission_required("account.manage")
def my_standing():
    """What moderation has done about me: sanctions in force and past, with reasons."""
    rows = sanctions.list_sanctions(user_id=_me().id, active=None, limit=50)
    return render_template("moderation/standing.html", rows=rows, now_rows=sanctions.in_force(_me().id))


# ---------------------------------------------------------------- the queue's own socket (seed 000)

@socket_bp.before_request
def check_handshake():
    """Refuse before the upgrade: a foreign origin, no session, or no right to review."""
    if request.endpoint == "moderation_live.moderation_socket":
        live_routes.refuse_bad_handshake()
        if deny("moderation.review") is not None:
            abort(403)
    return None


@sock.route("/ws/moderation", bp=socket_bp)
@permission_required("moderation.review")
def moderation_socket(ws):
    """The page socket already joined to the live queue (plus any `channel=` asked for)."""
    live_routes.serve(ws, [service.CHANNEL] + request.args.getlist("channel"))
