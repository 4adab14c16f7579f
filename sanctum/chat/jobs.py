"""The agent reply job: call the provider, stream its chunks to the chat's channel, store the result.

Chunks go out as they come (`{"type": "delta", "message_id", "offset", "text"}`; the offset
lets a client drop what it already has and notice what it missed). The partial reply is
saved every STREAM_SAVE_SECONDS so a client that reconnects mid-reply resumes from the
database; the finished reply, the run and the usage are written in one transaction.
"""
from __future__ import annotations

import logging
import time

from sqlalchemy import select, update

from sanctum import events
from sanctum.agents.providers import PROVIDERS, ChatMessage as ProviderMessage, Delta, Finish, ProviderError, \
    connection_of
from sanctum.chat.service import bump_usage, channel
from sanctum.extensions import db
from sanctum.models import Agent, ChatMessage, ChatSession, Run
from sanctum.models.base import utcnow

log = logging.getLogger(__name__)
STREAM_SAVE_SECONDS = 0.5
CANCEL_CHECK_SECONDS = 0.25
HISTORY_MESSAGES = 40


class _Stopped(Exception):
    """The person pressed Stop: leave the stream and keep what was written."""


def agent_reply(run_id: int) -> None:
    run = db.session.get(Run, run_id)
    if run is None or run.status in ("succeeded", "failed", "cancelled"):
        return  # idempotent: a duplicate delivery does nothing
    reply = db.session.get(ChatMessage, run.reply_message_id)
    if run.status == "running":
        # A previous attempt died mid-reply (its worker was killed): say so, keep what was written.
        _finish(run, reply, status="failed", error="The reply was interrupted (the worker stopped). Retry to try again.",
                code="interrupted")
        return
    agent = db.session.get(Agent, run.agent_id) if run.agent_id else None
    if agent is None or reply is None:
        _finish(run, reply, status="failed", error="The agent of this chat no longer exists.", code="config")
        return
    if run.cancel_requested:
        _finish(run, reply, status="cancelled", error=None)
        return
    history = _history(run)
    provider = PROVIDERS.get(agent.provider)
    try:
        connection = connection_of(agent)
    except ProviderError as exc:
        _finish(run, reply, status="failed", error=str(exc), code=exc.code)
        return
    run.status, run.started_at = "running", utcnow()
    db.session.commit()
    chat_id, user_id, reply_id = run.chat_id, run.user_id, reply.id
    _publish_message(chat_id, reply_id)
    # The database session is released while the provider streams: nothing holds a
    # connection or a lock for the length of a reply.
    db.session.close()

    started = time.monotonic()
    text, ttft_ms, finish = "", None, None
    last_save = last_cancel_check = started
    try:
        if provider is None:
            raise ProviderError(f"Unknown provider {agent.provider!r}.", code="config", retryable=False)
        stream = provider.stream(connection, history, timeout=connection.total_timeout,
                                 session_key=f"session_{chat_id}", user_id=user_id)
        try:
            for chunk in stream:
                now = time.monotonic()
                if isinstance(chunk, Delta) and chunk.text:
                    if ttft_ms is None:
                        ttft_ms = int((now - started) * 1000)
                    events.publish(channel(chat_id), {"type": "delta", "message_id": reply_id,
                                                      "offset": len(text), "text": chunk.text})
                    text += chunk.text
                elif isinstance(chunk, Finish):
                    finish = chunk
                if now - last_cancel_check >= CANCEL_CHECK_SECONDS:
                    last_cancel_check = now
                    if _cancel_requested(run_id):
                        raise _Stopped()
                if now - last_save >= STREAM_SAVE_SECONDS:
                    last_save = now
                    _save_partial(reply_id, text)
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()  # stops the HTTP stream at once when we leave early
    except _Stopped:
        _finish_by_id(run_id, text, status="cancelled", ttft_ms=ttft_ms, started=started)
        return
    except ProviderError as exc:
        _finish_by_id(run_id, text, status="failed", error=str(exc), code=exc.code, ttft_ms=ttft_ms, started=started)
        return
    except Exception:  # noqa: BLE001 - the run must end visibly, whatever broke
        log.exception("agent reply %s crashed", run_id)
        _finish_by_id(run_id, text, status="failed", error="Something went wrong while the agent replied. Retry to try again.",
                      code="internal", ttft_ms=ttft_ms, started=started)
        return
    if _cancel_requested(run_id):
        _finish_by_id(run_id, text, status="cancelled", ttft_ms=ttft_ms, started=started)
        return
    _finish_by_id(run_id, text, status="succeeded", finish=finish, ttft_ms=ttft_ms, started=started)


def _history(run: Run) -> list[ProviderMessage]:
    """The conversation up to the message being answered, oldest first; failed replies, and
    messages moderators hid or hold, left out."""
    rows = db.session.scalars(
        select(ChatMessage).where(ChatMessage.chat_id == run.chat_id, ChatMessage.id <= run.request_message_id,
                                  ChatMessage.status == "complete", ChatMessage.moderation.is_(None))
        .order_by(ChatMessage.id.desc()).limit(HISTORY_MESSAGES)
    ).all()
    return [ProviderMessage("user" if m.role == "user" else "assistant", m.body) for m in reversed(rows)]


def _cancel_requested(run_id: int) -> bool:
    with db.engine.connect() as conn:
        return bool(conn.execute(select(Run.cancel_requested).where(Run.id == run_id)).scalar())


def _save_partial(message_id: int, text: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(ChatMessage).where(ChatMessage.id == message_id, ChatMessage.status == "streaming")
                     .values(body=text, updated_at=utcnow()))


def _finish_by_id(run_id: int, text: str, *, status: str, error=None, code=None, finish=None, ttft_ms=None,
                  started=None) -> None:
    run = db.session.get(Run, run_id)
    reply = db.session.get(ChatMessage, run.reply_message_id)
    if reply is not None:
        reply.body = text
    if finish is not None:
        run.tokens_in, run.tokens_out = finish.usage.prompt_tokens, finish.usage.completion_tokens
        run.model = finish.model or run.model
    run.ttft_ms = ttft_ms
    if started is not None:
        run.duration_ms = int((time.monotonic() - started) * 1000)
    _finish(run, reply, status=status, error=error, code=code)


def _finish(run: Run, reply, *, status: str, error=None, code=None) -> None:
    from sanctum import metrics

    run.status, run.finished_at = status, utcnow()
    if run.duration_ms is not None:
        agent = db.session.get(Agent, run.agent_id) if run.agent_id else None
        metrics.observe_run(agent=agent.name if agent else "deleted", outcome=status, seconds=run.duration_ms / 1000,
                            first_token=run.ttft_ms / 1000 if run.ttft_ms is not None else None)
    run.error, run.error_code = error, code
    if reply is not None:
        reply.status = {"succeeded": "complete", "failed": "failed", "cancelled": "cancelled"}[status]
        reply.error = error
        if status == "succeeded" and reply.body:
            _screen_reply(run, reply)
    if run.user_id is not None:
        bump_usage(user_id=run.user_id, agent_id=run.agent_id, day=run.finished_at.date(), runs=1,
                   tokens_in=run.tokens_in or 0, tokens_out=run.tokens_out or 0)
    db.session.commit()
    if reply is not None:
        _publish_message(run.chat_id, reply.id)


def _screen_reply(run: Run, reply: ChatMessage) -> None:
    """Screening of what the agent wrote, in this job, before anyone sees the final text: a hit
    raises a moderation item; a hold or block rule withholds the reply until a moderator decides."""
    from sanctum.moderation import service as moderation

    screening = moderation.screen_text(reply.body, role="agent")
    if screening.hits:
        withhold = screening.hold or screening.block is not None
        if withhold:
            reply.moderation = "held"
        chat = db.session.get(ChatSession, run.chat_id)
        moderation.record_hits(chat=chat, message=reply, text=reply.body, role="agent", hits=screening.hits,
                               held=withhold)


def _publish_message(chat_id: int, message_id: int) -> None:
    events.publish(channel(chat_id), {"type": "message", "id": message_id})
