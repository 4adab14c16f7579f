"""Chat rules: creating chats, sending (with limits, quotas and the can_post seam), stopping
and retrying replies, and reading what a reconnecting client missed. Services commit.

The order of a send is what SECURITY.md 26 asks: the user's message, the reply
placeholder and the run are committed first; only then is the job enqueued and the
event published (both after-commit), so nothing anyone sees can be missing from the
database, and nothing the user wrote is lost when anything later fails.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional

from flask import current_app
from sqlalchemy import func, or_, select

from sanctum import audit, events, jobs
from sanctum.chat.policy import can_post, may_chat_with
from sanctum.extensions import db
from sanctum.models import Agent, ChatMessage, ChatQuota, ChatSession, Run, UsageDaily, User
from sanctum.models.base import utcnow
from sanctum.rbac.service import has_permission

ACTIVE_RUN = ("pending", "running")


class ChatError(ValueError):
    """Refused; the message is safe to show. `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


def channel(chat_id: int) -> str:
    return f"chat:{chat_id}"


# ---------------------------------------------------------------- chats

def usable_agents(user: User) -> list[Agent]:
    """The agents `may_chat_with` allows, in one query: every active one for those who manage
    agents, else exactly the ones `visible_agents` selects (active, by role or by name)."""
    from sanctum.agents.service import visible_agents

    if has_permission(user, "agents.manage"):
        return list(db.session.scalars(select(Agent).where(Agent.is_active.is_(True)).order_by(Agent.name)))
    return visible_agents(user)


def get_chat(user: User, chat_id: int) -> Optional[ChatSession]:
    """Only the owner's own chat; another user's id is simply not found (SECURITY.md 15)."""
    return db.session.scalar(select(ChatSession).where(ChatSession.id == chat_id, ChatSession.user_id == user.id))


def create_chat(*, user: User, agent: Agent) -> ChatSession:
    if not may_chat_with(user, agent):
        raise ChatError(f"You may not use {agent.label}.", 403)
    chat = ChatSession(user_id=user.id, agent_id=agent.id, title=f"Chat with {agent.label}")
    db.session.add(chat)
    db.session.commit()
    return chat


def list_chats(user: User, q: str = "", limit: int = 100) -> list[ChatSession]:
    """The user's chats, newest first; `q` searches titles and message text."""
    query = select(ChatSession).where(ChatSession.user_id == user.id)
    q = q.strip()
    if q:
        pattern = f"%{q.lower()}%"
        in_messages = select(ChatMessage.chat_id).join(ChatSession, ChatSession.id == ChatMessage.chat_id).where(
            ChatSession.user_id == user.id, func.lower(ChatMessage.body).like(pattern))
        query = query.where(or_(func.lower(ChatSession.title).like(pattern), ChatSession.id.in_(in_messages)))
    return list(db.session.scalars(query.order_by(ChatSession.updated_at.desc(), ChatSession.id.desc()).limit(limit)))


def group_by_day(chats: list[ChatSession], today: Optional[date] = None) -> list[tuple[str, list[ChatSession]]]:
    today = today or utcnow().date()
    groups: dict[str, list[ChatSession]] = {}
    for chat in chats:
        age = (today - chat.updated_at.date()).days
        label = "Today" if age <= 0 else "Yesterday" if age == 1 else "Previous 7 days" if age < 7 \
            else "Previous 30 days" if age < 30 else chat.updated_at.strftime("%B %Y")
        groups.setdefault(label, []).append(chat)
    return list(groups.items())


def rename_chat(*, chat: ChatSession, title: str) -> None:
    title = " ".join(title.split())[:200]
    if not title:
        raise ChatError("A chat needs a title.")
    chat.title = title
    db.session.commit()


def delete_chat(*, chat: ChatSession, user: User) -> None:
    """Stops any reply still running, then removes the chat with its messages and runs."""
    for run in db.session.scalars(select(Run).where(Run.chat_id == chat.id, Run.status.in_(ACTIVE_RUN))):
        run.cancel_requested = True
    audit.record("chat.deleted", actor=user, target=chat, details={"title": chat.title})
    db.session.delete(chat)
    db.session.commit()


def messages(chat: ChatSession, *, after: int = 0, limit: int = 500) -> list[ChatMessage]:
    return list(db.session.scalars(select(ChatMessage).where(ChatMessage.chat_id == chat.id, ChatMessage.id > after)
                                   .order_by(ChatMessage.id).limit(limit)))


def active_runs(chat: ChatSession, shown: Optional[list[ChatMessage]] = None) -> dict[int, Run]:
    """Runs still writing, keyed by the reply message they write. Given the messages shown, it
    asks only when one of them is still streaming (a run's reply streams until the run ends)."""
    if shown is not None and not any(m.status == "streaming" for m in shown):
        return {}
    rows = db.session.scalars(select(Run).where(Run.chat_id == chat.id, Run.status.in_(ACTIVE_RUN)))
    return {run.reply_message_id: run for run in rows}


# ---------------------------------------------------------------- limits and quotas

@dataclass
class Quota:
    messages_per_day: Optional[int]
    tokens_per_day: Optional[int]
    messages_today: int
    tokens_today: int

    @property
    def messages_left(self) -> Optional[int]:
        return None if self.messages_per_day is None else max(self.messages_per_day - self.messages_today, 0)

    def refusal(self) -> Optional[str]:
        if self.messages_per_day is not None and self.messages_today >= self.messages_per_day:
            return f"You have used your {self.messages_per_day} messages for today. The count starts again at midnight UTC."
        if self.tokens_per_day is not None and self.tokens_today >= self.tokens_per_day:
            return f"You have used your {self.tokens_per_day:,} tokens for today. The count starts again at midnight UTC."
        return None


def quota_for(user: User) -> Quota:
    """Today's use and the limits (the user's own quota wins over their role's), in one statement:
    the day's sums, outer-joined to the quota rows that apply."""
    used = select(func.coalesce(func.sum(UsageDaily.messages), 0).label("messages"),
                  func.coalesce(func.sum(UsageDaily.tokens_in + UsageDaily.tokens_out), 0).label("tokens")) \
        .where(UsageDaily.user_id == user.id, UsageDaily.day == utcnow().date()).subquery()
    rows = db.session.execute(select(used.c.messages, used.c.tokens, ChatQuota).select_from(used).outerjoin(
        ChatQuota, or_(ChatQuota.user_id == user.id, ChatQuota.role_id == user.role_id))).all()
    limits_by_kind = {(q.user_id is not None): q for _, _, q in rows if q is not None}
    limits = limits_by_kind.get(True) or limits_by_kind.get(False)
    return Quota(limits.messages_per_day if limits else None, limits.tokens_per_day if limits else None,
                 int(rows[0][0]), int(rows[0][1]))


def posting_refusal(user: User, agent: Agent, quota: Optional[Quota] = None) -> Optional[str]:
    """Why this user cannot send to this agent right now, or None. For the composer and for sends.
    A page that shows the quota anyway passes it in rather than have it counted twice."""
    check = can_post(user, agent)
    if not check:
        return check.reason
    return (quota or quota_for(user)).refusal()


def bump_usage(*, user_id: int, agent_id: Optional[int], day: date, **increments: int) -> None:
    """Add to the day's counters in one statement (insert or update), in the caller's transaction."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    values = {"messages": 0, "runs": 0, "tokens_in": 0, "tokens_out": 0, **increments}
    statement = insert(UsageDaily).values(user_id=user_id, agent_id=agent_id, day=day, **values)
    statement = statement.on_conflict_do_update(
        index_elements=["user_id", "agent_id", "day"],
        set_={name: getattr(UsageDaily, name) + getattr(statement.excluded, name) for name in values},
    )
    db.session.execute(statement)


# ---------------------------------------------------------------- sending

def send_message(*, user: User, chat: ChatSession, body: str) -> tuple[ChatMessage, ChatMessage, Run]:
    body = (body or "").strip()
    limit = current_app.config["CHAT_MAX_MESSAGE_CHARS"]
    if not body:
        raise ChatError("Write something first.")
    if len(body) > limit:
        raise ChatError(f"Messages can be at most {limit:,} characters; this one has {len(body):,}.", 413)
    agent = chat.agent
    refusal = posting_refusal(user, agent)
    if refusal:
        raise ChatError(refusal, 403)
    busy = db.session.scalar(select(func.count()).select_from(Run).where(Run.user_id == user.id,
                                                                           Run.status.in_(ACTIVE_RUN)))
    if busy >= current_app.config["CHAT_MAX_CONCURRENT_RUNS"]:
        raise ChatError(f"{busy} replies are still being written; wait for one to finish or stop it.", 429)
    from sanctum.moderation import service as moderation

    screening = moderation.screen_text(body, role="user")
    if screening.block is not None:
        # Refused, and kept as evidence for moderators; the composer keeps what was typed.
        moderation.record_hits(chat=chat, message=None, text=body, role="user", hits=screening.hits, blocked=True)
        db.session.commit()
        hit = screening.block
        raise ChatError(hit.block_message or f"This message was not sent: it breaks the rule on {hit.category}.", 422)
    now = utcnow()
    mine = ChatMessage(chat_id=chat.id, role="user", author_id=user.id, body=body, status="complete", created_at=now,
                       moderation="held" if screening.hold else None)
    db.session.add(mine)
    db.session.flush()
    reply = run = None
    if screening.hits:
        moderation.record_hits(chat=chat, message=mine, text=body, role="user", hits=screening.hits,
                               held=screening.hold)
    if not screening.hold:
        reply, run = _start_reply(chat=chat, user=user, request=mine)
    if moderation.classifier_enabled():
        jobs.enqueue("sanctum.moderation.jobs.classify_message", mine.id, description=f"screen message {mine.id}")
    if chat.title.startswith("Chat with ") and db.session.scalar(
            select(func.count()).select_from(ChatMessage).where(ChatMessage.chat_id == chat.id,
                                                                 ChatMessage.role == "user")) == 1:
        chat.title = _title_from(body)
    chat.updated_at = now
    bump_usage(user_id=user.id, agent_id=agent.id, day=now.date(), messages=1)
    _announce(chat, *(m for m in (mine, reply) if m is not None))
    db.session.commit()
    return mine, reply, run


def start_held_reply(message: ChatMessage) -> tuple[ChatMessage, Run]:
    """A message held by screening was cleared by a moderator: the agent answers it now
    (in the caller's transaction)."""
    chat = db.session.get(ChatSession, message.chat_id)
    user = db.session.get(User, chat.user_id)
    reply, run = _start_reply(chat=chat, user=user, request=message)
    _announce(chat, reply)
    return reply, run


def _start_reply(*, chat: ChatSession, user: User, request: ChatMessage,
                 reply: Optional[ChatMessage] = None) -> tuple[ChatMessage, Run]:
    if reply is None:
        reply = ChatMessage(chat_id=chat.id, role="agent", body="", status="streaming")
        db.session.add(reply)
        db.session.flush()
    else:
        reply.body, reply.status, reply.error = "", "streaming", None
    run = Run(chat_id=chat.id, user_id=user.id, agent_id=chat.agent_id, request_message_id=request.id,
              reply_message_id=reply.id, status="pending", provider=chat.agent.provider, model=chat.agent.model)
    db.session.add(run)
    db.session.flush()
    reply.run_id = run.id
    # Two attempts: the second one only notices a worker that died mid-reply and says so.
    jobs.enqueue("sanctum.chat.jobs.agent_reply", run.id, description=f"reply in chat {chat.id}", max_attempts=2,
                 timeout=int(chat.agent.total_timeout or 300) + 30)
    return reply, run


def _title_from(body: str) -> str:
    line = " ".join(body.split())
    return (line[:60] + "…") if len(line) > 60 else line


def _announce(chat: ChatSession, *changed: ChatMessage) -> None:
    """After commit: every tab on this chat gets the messages (rendered there, per socket)."""
    for message in changed:
        events.publish_on_commit(channel(chat.id), {"type": "message", "id": message.id})


def request_stop(*, user: User, chat: ChatSession, run_id: int) -> Run:
    run = db.session.scalar(select(Run).where(Run.id == run_id, Run.chat_id == chat.id))
    if run is None:
        raise ChatError("There is no such reply.", 404)
    if run.status in ACTIVE_RUN:
        run.cancel_requested = True
        db.session.commit()
    return run


def retry_reply(*, user: User, chat: ChatSession, message_id: int) -> tuple[ChatMessage, Run]:
    """Write an agent reply again (after a failure, a stop, or to get another answer)."""
    reply = db.session.scalar(select(ChatMessage).where(ChatMessage.id == message_id, ChatMessage.chat_id == chat.id,
                                                        ChatMessage.role == "agent"))
    if reply is None:
        raise ChatError("There is no such reply.", 404)
    last = db.session.get(Run, reply.run_id) if reply.run_id else None
    if last is not None and last.status in ACTIVE_RUN:
        raise ChatError("That reply is still being written.", 409)
    refusal = posting_refusal(user, chat.agent)
    if refusal:
        raise ChatError(refusal, 403)
    request = db.session.get(ChatMessage, last.request_message_id) if last else None
    if request is None:
        raise ChatError("The message this reply answered is gone.", 409)
    reply, run = _start_reply(chat=chat, user=user, request=request, reply=reply)
    chat.updated_at = utcnow()
    _announce(chat, reply)
    db.session.commit()
    return reply, run


# ---------------------------------------------------------------- usage

def usage_summary(user: User, days: int = 30) -> list[UsageDaily]:
    since = utcnow().date() - timedelta(days=days - 1)
    return list(db.session.scalars(select(UsageDaily).where(UsageDaily.user_id == user.id, UsageDaily.day >= since)
                                   .order_by(UsageDaily.day.desc(), UsageDaily.agent_id)))


def start_of_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time.min, tzinfo=timezone.utc)


# ---------------------------------------------------------------- quota administration

def role_quotas() -> list[tuple]:
    """(role, quota row or None) for every role."""
    from sanctum.models import Role

    roles = db.session.scalars(select(Role).order_by(Role.is_builtin.desc(), Role.name)).all()
    rows = {q.role_id: q for q in db.session.scalars(select(ChatQuota).where(ChatQuota.role_id.is_not(None)))}
    return [(role, rows.get(role.id)) for role in roles]


def user_quotas() -> list[tuple]:
    rows = db.session.execute(select(ChatQuota, User).join(User, User.id == ChatQuota.user_id)
                              .order_by(User.username)).all()
    return [(user, quota) for quota, user in rows]


def set_quota(*, actor: User, role_id: Optional[int] = None, user: Optional[User] = None,
              messages_per_day: Optional[int], tokens_per_day: Optional[int]) -> ChatQuota:
    """A role's daily limits, or one user's override (None = unlimited). Audited with before/after."""
    for value in (messages_per_day, tokens_per_day):
        if value is not None and value < 0:
            raise ChatError("Limits cannot be negative.")
    where = ChatQuota.user_id == user.id if user is not None else ChatQuota.role_id == role_id
    row = db.session.scalar(select(ChatQuota).where(where))
    before = None if row is None else {"messages_per_day": row.messages_per_day, "tokens_per_day": row.tokens_per_day}
    if row is None:
        row = ChatQuota(user_id=user.id if user is not None else None, role_id=None if user is not None else role_id)
        db.session.add(row)
    row.messages_per_day, row.tokens_per_day = messages_per_day, tokens_per_day
    audit.record("quota.changed", actor=actor, target=user, target_type=None if user is not None else "role",
                 target_id=None if user is not None else role_id,
                 details={"before": before, "after": {"messages_per_day": messages_per_day,
                                                      "tokens_per_day": tokens_per_day}})
    db.session.commit()
    return row


def clear_user_quota(*, actor: User, user: User) -> None:
    row = db.session.scalar(select(ChatQuota).where(ChatQuota.user_id == user.id))
    if row is None:
        return
    audit.record("quota.override_removed", actor=actor, target=user,
                 details={"before": {"messages_per_day": row.messages_per_day, "tokens_per_day": row.tokens_per_day}})
    db.session.delete(row)
    db.session.commit()
