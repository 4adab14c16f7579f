"""The Broca web-chat bridge: Sanctum is the server, Broca's web_chat plugin polls it.

A reply is requested by queueing the user's message for the agent's inbox
(`GET /api/v1/?action=inbox`); Broca answers through the outbox
(`POST /api/v1/?action=outbox`), and `stream` hands that answer on as one piece.
The conversation is named by `session_key`, the protocol's `session_id`.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional

from flask import current_app

from sanctum.agents.providers.base import ChatMessage, Chunk, Delta, Finish, Provider, ProviderError, Usage

class BridgeProvider(Provider):
    name = "bridge"
    short_label = "Broca bridge"
    label = "Broca web-chat bridge (Broca polls Sanctum)"

    def stream(self, agent: Any, messages: list[ChatMessage], *, timeout: Optional[float] = None,
               session_key: Optional[str] = None, user_id: Optional[int] = None) -> Iterator[Chunk]:
        from sanctum.bridge import service

        if getattr(agent, "id", None) is None:
            raise ProviderError("A bridge agent must be saved before it can chat.", code="config", retryable=False)
        prompt = next((m.content for m in reversed(messages) if m.role == "user"), None)
        if not prompt:
            raise ProviderError("There is no user message to send.", code="config", retryable=False)
        total = timeout or getattr(agent, "total_timeout", None) or 300.0
        key = session_key or service.new_session_key()
        inbound_id = service.queue_for_broca(agent_id=agent.id, session_key=key, body=prompt, user_id=user_id)
        reply = service.wait_for_reply(agent_id=agent.id, session_key=key, after_id=inbound_id, timeout=total)
        if reply is None:
            raise ProviderError(f"Broca did not reply within {total:g} s. Is its web_chat plugin running and "
                                "polling this Sanctum with the agent's bridge key?", code="timeout")
        yield Delta(reply)
        yield Finish(finish_reason="stop", usage=Usage(), model="bridge")

    def test_connection(self, agent: Any) -> tuple[bool, Optional[int], str]:
        from sanctum.models.base import utcnow

        if not getattr(agent, "bridge_key_hash", None):
            return False, None, "No bridge key yet: generate one and put it in Broca's web_chat plugin settings."
        polled = getattr(agent, "bridge_last_poll_at", None)
        if polled is None:
            return False, None, "Broca has not polled yet. Point its web_chat plugin at this Sanctum's address with the bridge key."
        age = (utcnow() - polled).total_seconds()
        fresh = current_app.config["BRIDGE_POLL_FRESH_SECONDS"]
        if age > fresh:
            return False, None, f"Broca last polled {int(age)} s ago; it is not polling now (expected at least every {fresh} s)."
        return True, None, f"Broca is polling: last seen {int(age)} s ago."

