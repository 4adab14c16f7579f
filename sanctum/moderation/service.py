"""Moderation items: flags and screening hits gather on one item per message, ranked by score;
moderators decide (dismiss, hide, warn, sanction) with a reason, and everyone concerned hears.

Services commit. Each change writes the item's history, an audit event and a live event on
the "moderation" channel in the same transaction (events go out after commit).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from sanctum import audit, events
from sanctum.extensions import db
from sanctum.models import Agent, ChatMessage, ChatSession, Flag, ModerationAction, ModerationItem, ScreeningRule, User
from sanctum.models.base import utcnow
from sanctum.models.moderation import DECISIONS, FLAG_REASONS, RULE_ACTIONS
from sanctum.moderation import sanctions
from sanctum.moderation.notify import notify
from sanctum.moderation.screening import Hit, screen

CHANNEL = "moderation"
PAGE_SIZE = 50
CONTEXT_MESSAGES = 4  # messages shown before and after the one under review


class ModerationError(ValueError):
    def __init__(self, message: str, field: Optional[str] = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


def _publish(item: ModerationItem, kind: str = "item") -> None:
    events.publish_on_commit(CHANNEL, {"type": kind, "id": item.id})


def _history(item: ModerationItem, action: str, *, actor: Optional[User] = None, reason: Optional[str] = None,
             **details) -> None:
    db.session.add(ModerationAction(item_id=item.id, actor_id=getattr(actor, "id", None), action=action,
                                    reason=reason, details=details, created_at=utcnow()))


def _item_for(message: Optional[ChatMessage], chat: ChatSession, *, role: str, excerpt: str, reason: str,
              source: str) -> ModerationItem:
    item = None
    if message is not None:
        item = db.session.scalar(select(ModerationItem).where(ModerationItem.message_id == message.id))
    if item is None:
        item = ModerationItem(message_id=getattr(message, "id", None), chat_id=chat.id, user_id=chat.user_id,
                              agent_id=chat.agent_id, message_role=role, excerpt=excerpt[:4000], reason=reason,
                              source=source, score=0, flag_count=0, state="open", created_at=utcnow(),
                              updated_at=utcnow())
        db.session.add(item)
        db.session.flush()
    elif item.state == "resolved":
        # New evidence on a settled item reopens it; its history keeps the earlier decision.
        item.state, item.decision = "open", None
        _history(item, "reopened")
    return item


def _raise_score(item: ModerationItem, weight: int, reason: str) -> None:
    item.score = (item.score or 0) + weight
    item.updated_at = utcnow()
    if _weight_of(reason) >= _weight_of(item.reason):
        item.reason = reason


def _weight_of(reason: str) -> int:
    return FLAG_REASONS.get(reason, ("", 2))[1]


# ---------------------------------------------------------------- flags

def flag_message(*, reporter: User, message: ChatMessage, reason: str, note: str = "") -> Flag:
    """A user reports a message of a chat they can see (their own). One flag per person per message."""
    chat = db.session.get(ChatSession, message.chat_id)
    if chat is None or chat.user_id != reporter.id:
        raise ModerationError("There is no such message.", status=404)
    if reason not in FLAG_REASONS:
        raise ModerationError("Choose a reason.", "reason")
    note = (note or "").strip()
    if reason == "other" and not note:
        raise ModerationError("Say what is wrong with it.", "note")
    if len(note) > 1000:
        raise ModerationError("Keep the note under 1,000 characters.", "note")
    if db.session.scalar(select(Flag.id).where(Flag.message_id == message.id, Flag.reporter_id == reporter.id)):
        raise ModerationError("You have already flagged this message.", status=409)
    item = _item_for(message, chat, role=message.role, excerpt=message.body, reason=reason, source="flag")
    weight = FLAG_REASONS[reason][1]
    flag = Flag(item_id=item.id, message_id=message.id, reporter_id=reporter.id, reason=reason, note=note or None,
                weight=weight, created_at=utcnow())
    db.session.add(flag)
    item.flag_count = (item.flag_count or 0) + 1
    _raise_score(item, weight, reason)
    _history(item, "flagged", actor=reporter, reason=note or None, flag_reason=reason)
    db.session.flush()
    audit.record("moderation.flagged", actor=reporter, target=item,
                 details={"message": message.id, "reason": reason, "score": item.score})
    _publish(item)
    db.session.commit()
    return flag


def my_flags(user: User, message_ids: list[int]) -> set[int]:
    """Which of these messages this user has flagged already (one query, for a chat page)."""
    if not message_ids:
        return set()
    return set(db.session.scalars(select(Flag.message_id).where(Flag.reporter_id == user.id,
                                                               Flag.message_id.in_(message_ids))))


# ---------------------------------------------------------------- screening

def active_rules(role: str) -> list[ScreeningRule]:
    return list(db.session.scalars(select(ScreeningRule).where(ScreeningRule.is_active.is_(True),
                                                               ScreeningRule.applies_to.in_((role, "both")))
                                   .order_by(ScreeningRule.id)))


@dataclass
class Screening:
    hits: list[Hit] = field(default_factory=list)

    @property
    def block(self) -> Optional[Hit]:
        return next((h for h in self.hits if h.action == "block"), None)

    @property
    def hold(self) -> bool:
        return any(h.action == "hold" for h in self.hits)


def classifier_enabled() -> bool:
    from sanctum.settings.service import get_setting

    return bool((get_setting("moderation_agent") or "").strip())


def screen_text(text: str, *, role: str) -> Screening:
    return Screening(screen(text, active_rules(role), role=role))


def record_hits(*, chat: ChatSession, message: Optional[ChatMessage], text: str, role: str,
                hits: list[Hit], held: bool = False, blocked: bool = False) -> Optional[ModerationItem]:
    """Screening hits become (or raise) a moderation item, in the caller's transaction."""
    if not hits:
        return None
    top = hits[0]
    item = _item_for(message, chat, role=role, excerpt=text, reason=top.category, source="screening")
    for hit in hits:
        _raise_score(item, RULE_ACTIONS.get(hit.action, ("", 2))[1], hit.category)
    item.held = item.held or held
    now = utcnow()
    rules = {r.id: r for r in db.session.scalars(select(ScreeningRule).where(
        ScreeningRule.id.in_([h.rule_id for h in hits])))}
    for hit in hits:
        rule = rules.get(hit.rule_id)
        if rule is not None:
            rule.hit_count = (rule.hit_count or 0) + 1
            rule.last_hit_at = now
    _history(item, "blocked" if blocked else "held" if held else "screened",
             rules=[h.name for h in hits], matched=[h.matched for h in hits])
    _publish(item)
    return item


def record_verdict(*, message: ChatMessage, category: str, agent_name: str) -> ModerationItem:
    """A moderation agent judged the message: an item it raises, like a flag of weight 2."""
    chat = db.session.get(ChatSession, message.chat_id)
    item = _item_for(message, chat, role=message.role, excerpt=message.body, reason=category, source="agent")
    _raise_score(item, 2, category)
    _history(item, "classified", agent=agent_name, category=category)
    _publish(item)
    return item


# ---------------------------------------------------------------- the queue

@dataclass
class QueueFilter:
    state: str = "open"
    reason: str = ""
    agent_id: Optional[int] = None
    user: str = ""
    source: str = ""
    page: int = 1


def queue(f: QueueFilter) -> tuple[list[ModerationItem], bool]:
    query = select(ModerationItem).options(joinedload(ModerationItem.user), joinedload(ModerationItem.agent),
                                           joinedload(ModerationItem.decided_by))
    if f.state in ("open", "resolved"):
        query = query.where(ModerationItem.state == f.state)
    if f.reason:
        query = query.where(ModerationItem.reason == f.reason)
    if f.agent_id:
        query = query.where(ModerationItem.agent_id == f.agent_id)
    if f.source:
        query = query.where(ModerationItem.source == f.source)
    if f.user:
        query = query.join(User, User.id == ModerationItem.user_id).where(
            func.lower(User.username) == f.user.strip().lower())
    if f.state == "resolved":
        query = query.order_by(ModerationItem.decided_at.desc(), ModerationItem.id.desc())
    else:
        query = query.order_by(ModerationItem.score.desc(), ModerationItem.created_at, ModerationItem.id)
    page = max(f.page, 1)
    rows = list(db.session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).unique())
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def open_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ModerationItem).where(ModerationItem.state == "open"))


def reasons_in_use() -> list[str]:
    return list(db.session.scalars(select(ModerationItem.reason).distinct().order_by(ModerationItem.reason)))


def get_item(item_id: int) -> Optional[ModerationItem]:
    return db.session.get(ModerationItem, item_id)


def context_of(item: ModerationItem) -> list[ChatMessage]:
    """The message under review with the messages around it, oldest first."""
    if item.message_id is None or item.chat_id is None:
        return []
    before = db.session.scalars(select(ChatMessage).where(ChatMessage.chat_id == item.chat_id,
                                                          ChatMessage.id <= item.message_id)
                                .order_by(ChatMessage.id.desc()).limit(CONTEXT_MESSAGES + 1)).all()
    after = db.session.scalars(select(ChatMessage).where(ChatMessage.chat_id == item.chat_id,
                                                         ChatMessage.id > item.message_id)
                               .order_by(ChatMessage.id).limit(CONTEXT_MESSAGES)).all()
    return list(reversed(before)) + list(after)


def flags_of(item: ModerationItem) -> list[Flag]:
    return list(db.session.scalars(select(Flag).options(joinedload(Flag.reporter)).where(Flag.item_id == item.id)
                                   .order_by(Flag.id)))


def history_of(item: ModerationItem) -> list[ModerationAction]:
    return list(db.session.scalars(select(ModerationAction).options(joinedload(ModerationAction.actor))
                                   .where(ModerationAction.item_id == item.id).order_by(ModerationAction.id)))


# ---------------------------------------------------------------- decisions

OUTCOME_WORDS = {
    "dismissed": "reviewed; no action was needed",
    "hidden": "hidden by a moderator",
    "warned": "reviewed, and its author was warned",
    "sanctioned": "reviewed, and its author was sanctioned",
}


def decide(*, moderator: User, item: ModerationItem, decision: str, reason: str, hide: bool = False,
           sanction_type: Optional[str] = None, expires_at=None, agents=()) -> ModerationItem:
    if decision not in DECISIONS:
        raise ModerationError("Choose a decision.", "decision")
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError("Give a reason: it is recorded, and shown to the people it concerns.", "reason")
    if len(reason) > 1000:
        raise ModerationError("Keep the reason under 1,000 characters.", "reason")
    if item.state != "open":
        raise ModerationError("This item has already been decided; reload to see the decision.", status=409)
    message = db.session.get(ChatMessage, item.message_id) if item.message_id else None
    subject = db.session.get(User, item.user_id) if item.user_id else None
    sanction = None
    if decision in ("warned", "sanctioned"):
        if subject is None:
            raise ModerationError("The author of this message no longer has an account.", status=409)
        if item.message_role == "agent" and decision == "sanctioned" and sanction_type is None:
            raise ModerationError("Choose a sanction.", "sanction_type")
        try:
            sanction = sanctions.apply(actor=moderator, user=subject,
                                       type_="warning" if decision == "warned" else (sanction_type or ""),
                                       reason=reason, expires_at=expires_at, agents=agents, item_id=item.id,
                                       commit=False)
        except sanctions.SanctionError as exc:
            db.session.rollback()
            raise ModerationError(str(exc), exc.field, exc.status) from None
    if decision == "hidden":
        hide = True
    if message is not None:
        if hide:
            message.moderation = "hidden"  # a held message stays unanswered: the agent never sees it
        elif message.moderation == "held":
            _release(message)
        events.publish_on_commit(f"chat:{message.chat_id}", {"type": "message", "id": message.id})
    item.state, item.decision, item.decision_reason = "resolved", decision, reason
    item.decided_by_id, item.decided_at, item.held = moderator.id, utcnow(), False
    _history(item, decision, actor=moderator, reason=reason, hidden=bool(hide and message is not None),
             sanction=getattr(sanction, "id", None))
    flags = flags_of(item)
    for flag in flags:
        flag.outcome = decision
    audit.record(f"moderation.{decision}", actor=moderator, target=item,
                 details={"message": item.message_id, "user": item.user_id, "reason": reason,
                          "hidden": bool(hide and message is not None), "sanction": getattr(sanction, "id", None)})
    reporters = {f.reporter_id for f in flags if f.reporter_id is not None}
    if reporters:
        notify(reporters, "flag.outcome", f"The message you flagged was {OUTCOME_WORDS[decision]}", body=reason)
    if hide and subject is not None and message is not None and decision != "sanctioned":
        notify([subject.id], "moderation.hidden", "A message in one of your chats was hidden by a moderator",
               body=reason, link=url_for("chat.chat_show", chat_id=message.chat_id))
    _publish(item)
    db.session.commit()
    return item


def unhide(*, moderator: User, item: ModerationItem, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError("Give a reason.", "reason")
    message = db.session.get(ChatMessage, item.message_id) if item.message_id else None
    if message is None or message.moderation != "hidden":
        raise ModerationError("This message is not hidden.", status=409)
    message.moderation = None
    _history(item, "unhidden", actor=moderator, reason=reason)
    audit.record("moderation.unhidden", actor=moderator, target=item,
                 details={"message": message.id, "reason": reason})
    events.publish_on_commit(f"chat:{message.chat_id}", {"type": "message", "id": message.id})
    _publish(item)
    db.session.commit()


def _release(message: ChatMessage) -> None:
    """A held message is cleared: a user's message goes to the agent now (its reply starts);
    an agent's reply becomes visible."""
    from sanctum.chat.service import start_held_reply

    message.moderation = None
    if message.role == "user":
        start_held_reply(message)
