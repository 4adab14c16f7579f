"""A deterministic assistant that needs no network: for demos, first runs and tests.

    /help    what it can do
    /status  the agents and tools Sanctum knows, with their status
    else     it says back what it was told
"""
from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from sanctum.agents.providers.base import ChatMessage, Chunk, Delta, Finish, Provider, ProviderError, Usage

HELP = ("I am a built-in demo assistant; I need no network. Try:\n"
        "/help — this list\n"
        "/status — the agents and tools Sanctum knows, and how they are\n"
        "anything else — I say it back, so you can see streaming work.")


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text)


class BuiltinProvider(Provider):
    name = "builtin"
    short_label = "Built-in"
    label = "Built-in demo assistant (no network)"

    def stream(self, agent: Any, messages: list[ChatMessage], *, timeout: Optional[float] = None,
               session_key: Optional[str] = None, user_id: Optional[int] = None) -> Iterator[Chunk]:
        prompt = next((m.content for m in reversed(messages) if m.role == "user"), None)
        if prompt is None:
            raise ProviderError("There is no user message to answer.", code="config", retryable=False)
        reply = self.reply_to(prompt.strip(), getattr(agent, "display_name", None) or getattr(agent, "name", "I"))
        pieces = _words(reply)
        for piece in pieces:
            yield Delta(piece)
        prompt_tokens = sum(len(_words(m.content)) for m in messages)
        yield Finish(finish_reason="stop", usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=len(pieces)),
                     model="builtin")

    def reply_to(self, prompt: str, name: str) -> str:
        command = prompt.split(maxsplit=1)[0].lower() if prompt else ""
        if command == "/help":
            return HELP
        if command == "/status":
            return self._status()
        if not prompt:
            return "You sent an empty message."
        return f"{name} heard: {prompt}"

    @staticmethod
    def _status() -> str:
        from sqlalchemy import select

        from sanctum.extensions import db
        from sanctum.models import Agent, Tool

        agents = db.session.execute(select(Agent.display_name, Agent.name, Agent.status, Agent.is_active)
                                    .order_by(Agent.name)).all()
        tools = db.session.execute(select(Tool.name, Tool.status, Tool.is_enabled).order_by(Tool.category, Tool.name)).all()
        lines = ["Agents:"] + ([f"- {display or name}: {status if active else 'Off'}"
                                for display, name, status, active in agents] or ["- none"])
        lines += ["Tools:"] + ([f"- {name}: {status if enabled else 'Off'}" for name, status, enabled in tools]
                               or ["- none"])
        return "\n".join(lines)

    def test_connection(self, agent: Any) -> tuple[bool, Optional[int], str]:
        return True, 0, "The built-in assistant is always available."
