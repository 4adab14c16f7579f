"""The chat pages: picker and sidebar, one chat with its live message list, and the composer."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

# Imported for what they register: the live channel, renderer and resync; dashboard tiles;
# the data-export and erasure hooks.
from sanctum.chat import dashboard as _dashboard, live as _live, privacy as _privacy  # noqa: F401
from sanctum.chat import service
from sanctum.chat.forms import MessageForm, NewChatForm, RenameForm
from sanctum.extensions import db, limiter
from sanctum.models import Agent
from sanctum.web.access import permission_required
from sanctum.web.render import render, wants_partial

bp = Blueprint("chat", __name__, url_prefix="/chat")


@bp.app_template_filter("markdown")
def markdown_filter(text: str):
    from sanctum.chat.render import render_markdown

    return render_markdown(text)


def _me():
    return current_user._get_current_object()


def _chat_or_404(chat_id: int):
    return service.get_chat(_me(), chat_id) or abort(404)


def _message_limit() -> str:
    return current_app.config["CHAT_RATE_LIMIT"]


def _sidebar_context(active_id=None):
    q = request.args.get("q", "")
    return {"groups": service.group_by_day(service.list_chats(_me(), q)), "q": q, "active_id": active_id,
            "agents": service.usable_agents(_me()), "new_form": NewChatForm()}


@bp.get("/")
@permission_required("chat.use")
def chat_index():
    """The newest chat, or the agent picker when there is none yet."""
    if wants_partial():  # the sidebar's search
        return render_template("chat/_sidebar.html", **_sidebar_context(request.args.get("active", type=int)))
    chats = service.list_chats(_me(), limit=1)
    if chats and not request.args.get("new"):
        return redirect(url_for("chat.chat_show", chat_id=chats[0].id))
    return render("chat/index.html", "chat/_picker.html", **_sidebar_context())


@bp.post("/")
@permission_required("chat.use")
def chat_create():
    form = NewChatForm()
    agent = db.session.get(Agent, form.agent_id.data) if form.validate_on_submit() else None
    if agent is None:
        flash("Choose an agent to chat with.", "warning")
        return redirect(url_for("chat.chat_index", new=1))
    try:
        chat = service.create_chat(user=_me(), agent=agent)
    except service.ChatError:
        abort(404)  # an agent one may not use is, to them, not there
    return redirect(url_for("chat.chat_show", chat_id=chat.id))


@bp.get("/<int:chat_id>")
@permission_required("chat.use")
def chat_show(chat_id: int):
    chat = _chat_or_404(chat_id)
    rows = service.messages(chat)
    sidebar = _sidebar_context(chat.id)  # first: it finds the usable agents, which the refusal asks about
    quota = service.quota_for(_me())
    return render("chat/show.html", "chat/_conversation.html", chat=chat, messages=rows,
                  runs=service.active_runs(chat, rows), refusal=service.posting_refusal(_me(), chat.agent, quota),
                  quota=quota, form=MessageForm(), rename_form=RenameForm(title=chat.title),
                  live_channels=[service.channel(chat.id)], **sidebar)


@bp.post("/<int:chat_id>/messages")
@permission_required("chat.use")
@limiter.limit(_message_limit, key_func=lambda: f"chat-send:{current_user.id}",
               error_message="You are sending messages too fast; wait a moment.")
def chat_send(chat_id: int):
    chat = _chat_or_404(chat_id)
    form = MessageForm()
    if not form.validate_on_submit():
        return _composer_error(chat, " ".join(e for errs in form.errors.values() for e in errs), 422)
    try:
        mine, reply, run = service.send_message(user=_me(), chat=chat, body=form.body.data)
    except service.ChatError as exc:
        return _composer_error(chat, str(exc), exc.status, keep=form.body.data)
    if wants_partial():
        # The sender's tab shows both at once; other tabs get them over the websocket.
        return render_template("chat/_sent.html", messages=[m for m in (mine, reply) if m is not None],
                               runs={reply.id: run} if reply is not None else {}, chat=chat,
                               form=MessageForm(formdata=None), quota=service.quota_for(_me()), refusal=None)
    return redirect(url_for("chat.chat_show", chat_id=chat.id))


def _composer_error(chat, message: str, status: int, keep: str = ""):
    """The composer again with the reason, and what was typed kept (nothing the user wrote is lost).

    For htmx it answers 422 (the status htmx is configured to swap) and retargets the swap
    from the message list to the composer itself."""
    if wants_partial():
        form = MessageForm(formdata=None, body=keep)
        body = render_template("chat/_composer.html", chat=chat, form=form, error=message,
                               quota=service.quota_for(_me()), refusal=service.posting_refusal(_me(), chat.agent))
        return body, 422, {"HX-Retarget": "#composer", "HX-Reswap": "outerHTML", "X-Sanctum-Status": str(status)}
    flash(message, "error")
    return redirect(url_for("chat.chat_show", chat_id=chat.id))


@bp.post("/<int:chat_id>/runs/<int:run_id>/stop")
@permission_required("chat.use")
def chat_stop(chat_id: int, run_id: int):
    chat = _chat_or_404(chat_id)
    try:
        service.request_stop(user=_me(), chat=chat, run_id=run_id)
    except service.ChatError as exc:
        abort(exc.status)
    return "", 204


@bp.post("/<int:chat_id>/messages/<int:message_id>/retry")
@permission_required("chat.use")
@limiter.limit(_message_limit, key_func=lambda: f"chat-send:{current_user.id}",
               error_message="You are sending messages too fast; wait a moment.")
def chat_retry(chat_id: int, message_id: int):
    chat = _chat_or_404(chat_id)
    try:
        reply, run = service.retry_reply(user=_me(), chat=chat, message_id=message_id)
    except service.ChatError as exc:
        if wants_partial():
            return render_template("chat/_notice.html", message=str(exc)), exc.status
        flash(str(exc), "error")
        return redirect(url_for("chat.chat_show", chat_id=chat.id))
    if wants_partial():
        return render_template("chat/_message.html", message=reply, run=run)
    return redirect(url_for("chat.chat_show", chat_id=chat.id))


@bp.post("/<int:chat_id>/rename")
@permission_required("chat.use")
def chat_rename(chat_id: int):
    chat = _chat_or_404(chat_id)
    form = RenameForm()
    if form.validate_on_submit():
        try:
            service.rename_chat(chat=chat, title=form.title.data)
        except service.ChatError as exc:
            flash(str(exc), "error")
    else:
        flash("A chat needs a title of at most 200 characters.", "error")
    return redirect(url_for("chat.chat_show", chat_id=chat.id))


@bp.post("/<int:chat_id>/delete")
@permission_required("chat.use")
def chat_delete(chat_id: int):
    chat = _chat_or_404(chat_id)  # CSRF was checked before the view, as for every POST
    service.delete_chat(chat=chat, user=_me())
    flash("The chat is deleted.", "success")
    return redirect(url_for("chat.chat_index", new=1))


@bp.get("/usage")
@permission_required("chat.use")
def chat_usage():
    rows = service.usage_summary(_me())
    agents = {a.id: a for a in db.session.scalars(select(Agent).where(Agent.id.in_({r.agent_id for r in rows})))}
    return render("chat/usage.html", "chat/_usage.html", rows=rows, agents=agents, quota=service.quota_for(_me()))
