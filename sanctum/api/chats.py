"""Chat over JSON for scripts with a `chat.use` token: chats, messages, runs, and a run's SSE stream."""
from __future__ import annotations

import json
import queue
import time

from flask import Response, abort, jsonify, request, stream_with_context
from flask_login import current_user
from sqlalchemy import select

from sanctum import events
from sanctum.api import bp
from sanctum.api.common import json_body
from sanctum.chat import service
from sanctum.extensions import db
from sanctum.models import Agent, ChatMessage, ChatSession, Run
from sanctum.web.access import permission_required
from sanctum.web.errors import error_response

STREAM_IDLE_SECONDS = 15
STREAM_MAX_SECONDS = 600


def _me():
    return current_user._get_current_object()


def chat_json(chat: ChatSession) -> dict:
    return {"id": chat.id, "title": chat.title, "agent": {"id": chat.agent_id, "name": chat.agent.name},
            "created_at": chat.created_at.isoformat(), "updated_at": chat.updated_at.isoformat()}


def message_json(message: ChatMessage) -> dict:
    withheld = message.moderation == "hidden" or (message.moderation == "held" and message.role == "agent")
    return {"id": message.id, "role": message.role, "body": None if withheld else message.body,
            "status": message.status, "moderation": message.moderation, "error": message.error,
            "run_id": message.run_id, "created_at": message.created_at.isoformat()}


def run_json(run: Run) -> dict:
    return {"id": run.id, "chat_id": run.chat_id, "status": run.status, "reply_message_id": run.reply_message_id,
            "provider": run.provider, "model": run.model, "tokens_in": run.tokens_in, "tokens_out": run.tokens_out,
            "ttft_ms": run.ttft_ms, "duration_ms": run.duration_ms, "error": run.error, "error_code": run.error_code}


def _chat(chat_id: int) -> ChatSession:
    return service.get_chat(_me(), chat_id) or abort(404)


def _run(run_id: int) -> Run:
    run = db.session.scalar(select(Run).join(ChatSession, ChatSession.id == Run.chat_id)
                            .where(Run.id == run_id, ChatSession.user_id == _me().id))
    return run or abort(404)


@bp.get("/chats")
@permission_required("chat.use")
def chats_list():
    return jsonify(chats=[chat_json(c) for c in service.list_chats(_me(), request.args.get("q", ""))])


@bp.post("/chats")
@permission_required("chat.use")
def chats_create():
    body = json_body()
    agent = db.session.get(Agent, body.get("agent_id")) if isinstance(body.get("agent_id"), int) else None
    if agent is None:
        return error_response(422, "agent_id must be the id of an agent you may use.")
    try:
        chat = service.create_chat(user=_me(), agent=agent)
    except service.ChatError:
        abort(404)
    return jsonify(chat_json(chat)), 201


@bp.get("/chats/<int:chat_id>/messages")
@permission_required("chat.use")
def chats_messages(chat_id: int):
    """Messages after `after` (an id), oldest first: how a client catches up."""
    after = request.args.get("after", 0, type=int)
    return jsonify(messages=[message_json(m) for m in service.messages(_chat(chat_id), after=max(after, 0))])


@bp.post("/chats/<int:chat_id>/messages")
@permission_required("chat.use")
def chats_send(chat_id: int):
    chat = _chat(chat_id)
    body = json_body("body")
    try:
        mine, reply, run = service.send_message(user=_me(), chat=chat, body=body["body"])
    except service.ChatError as exc:
        return error_response(exc.status, str(exc))
    return jsonify(message=message_json(mine), reply=message_json(reply) if reply else None,
                   run=run_json(run) if run else None), 202


@bp.get("/runs/<int:run_id>")
@permission_required("chat.use")
def runs_get(run_id: int):
    return jsonify(run_json(_run(run_id)))


@bp.post("/runs/<int:run_id>/cancel")
@permission_required("chat.use")
def runs_cancel(run_id: int):
    run = _run(run_id)
    service.request_stop(user=_me(), chat=db.session.get(ChatSession, run.chat_id), run_id=run.id)
    return jsonify(run_json(run)), 202


@bp.get("/runs/<int:run_id>/stream")
@permission_required("chat.use")
def runs_stream(run_id: int):
    """Server-sent events: `snapshot` (the text so far), `delta`s, then `done` with the run."""
    run = _run(run_id)
    chat_id, reply_id = run.chat_id, run.reply_message_id
    inbox: "queue.Queue[dict]" = queue.Queue()
    subscription = events.subscribe(service.channel(chat_id), lambda _name, data: inbox.put(data))
    db.session.commit()  # end the read transaction: the stream below re-reads fresh rows

    def finished_run():
        row = db.session.get(Run, run_id, populate_existing=True)
        db.session.commit()
        return row if row is not None and not row.active else None

    def sse(event: str, data: dict) -> str:
        return f"event: {event}\ndata: {json.dumps(data)}\n\n"

    def generate():
        try:
            reply = db.session.get(ChatMessage, reply_id, populate_existing=True)
            sent = len(reply.body) if reply else 0
            yield sse("snapshot", {"message_id": reply_id, "text": reply.body if reply else ""})
            done = finished_run()
            deadline = time.monotonic() + STREAM_MAX_SECONDS
            while done is None and time.monotonic() < deadline:
                try:
                    data = inbox.get(timeout=STREAM_IDLE_SECONDS)
                except queue.Empty:
                    yield ": keep-alive\n\n"
                    done = finished_run()
                    continue
                if data.get("type") == "delta" and data.get("message_id") == reply_id:
                    end = data["offset"] + len(data["text"])
                    if end > sent and data["offset"] <= sent:
                        yield sse("delta", {"offset": sent, "text": data["text"][sent - data["offset"]:]})
                        sent = end
                elif data.get("type") == "message" and data.get("id") == reply_id:
                    done = finished_run()
            if done is not None:
                final = db.session.get(ChatMessage, reply_id, populate_existing=True)
                yield sse("done", {"run": run_json(done), "message": message_json(final) if final else None})
        finally:
            subscription.close()

    return Response(stream_with_context(generate()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
