"""Moderation jobs: sanctions that end on time, and a moderation agent's verdict on a message."""
from __future__ import annotations

import logging

from sanctum.extensions import db
from sanctum.models import Agent, ChatMessage
from sanctum.moderation import sanctions
from sanctum.models.moderation import FLAG_REASONS

log = logging.getLogger(__name__)

CLASSIFIER_PROMPT = (
    "You are a content moderator for a chat service. Read the message and answer with exactly one "
    "word: ok, spam, abuse, harmful or other. Answer ok unless the message clearly breaks the rules."
)


def expire_sanctions() -> dict:
    """Periodic: end every sanction whose end time has passed (audited, the user told)."""
    return {"ended": sanctions.expire_due()}


def classify_message(message_id: int) -> dict:
    """Ask the moderation agent (setting `moderation_agent`) about one new message; anything
    but "ok" raises a moderation item. The chat itself never waits for this."""
    from sanctum.agents.providers import PROVIDERS, ChatMessage as ProviderMessage, Delta, ProviderError, \
        connection_of
    from sanctum.moderation import service
    from sanctum.settings.service import get_setting

    name = (get_setting("moderation_agent") or "").strip()
    message = db.session.get(ChatMessage, message_id)
    if not name or message is None or not message.body:
        return {"verdict": None}
    agent = db.session.scalar(db.select(Agent).where(Agent.name == name))
    if agent is None or agent.provider not in PROVIDERS:
        log.warning("moderation agent %r is not a usable agent", name)
        return {"verdict": None, "error": "no such agent"}
    try:
        connection = connection_of(agent)
        text = ""
        stream = PROVIDERS[agent.provider].stream(
            connection, [ProviderMessage("system", CLASSIFIER_PROMPT), ProviderMessage("user", message.body[:8000])],
            timeout=min(connection.total_timeout or 60, 60), session_key=f"moderation_{message_id}", user_id=None)
        for chunk in stream:
            if isinstance(chunk, Delta):
                text += chunk.text
                if len(text) > 200:
                    break
    except ProviderError as exc:
        # Raised, so the job is retried and its record shows the provider's words.
        raise RuntimeError(f"The moderation agent {name} could not answer: {exc}") from exc
    words = text.strip().lower().split()
    verdict = words[0].strip(".,!:;\"'") if words else "ok"
    if verdict == "ok":
        return {"verdict": "ok"}
    category = verdict if verdict in FLAG_REASONS else "other"
    item = service.record_verdict(message=message, category=category, agent_name=agent.name)
    db.session.commit()
    return {"verdict": category, "item": item.id}
