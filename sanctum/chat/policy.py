"""Who may post where: the one seam every sending path asks (page, websocket, API).

Moderation (#8) extends `can_post` with sanctions (post and topic restrictions);
nothing else may decide it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sanctum.agents.service import may_use
from sanctum.models import Agent, User
from sanctum.rbac.service import has_permission


@dataclass(frozen=True)
class PostCheck:
    ok: bool
    reason: Optional[str] = None  # a sentence for the person, when not ok

    def __bool__(self) -> bool:
        return self.ok


def may_chat_with(user: User, agent: Agent) -> bool:
    """Whether `user` may open a chat with `agent` at all (see it in the picker)."""
    if not agent.is_active:
        return False
    return has_permission(user, "agents.manage") or may_use(agent, user)  # the first is cached per request


def can_post(user: User, agent: Agent) -> PostCheck:
    if not user.is_active:
        return PostCheck(False, "Your account is not active.")
    if not has_permission(user, "chat.use"):
        return PostCheck(False, "Your role does not include chatting with agents.")
    if not agent.is_active:
        return PostCheck(False, f"{agent.label} is switched off.")
    if not may_chat_with(user, agent):
        return PostCheck(False, f"You may not use {agent.label}.")
    for check in EXTRA_CHECKS:
        result = check(user, agent)
        if not result.ok:
            return result
    return PostCheck(True)


# Further rules (sanctions) append callables (user, agent) -> PostCheck here.
EXTRA_CHECKS: list = []
