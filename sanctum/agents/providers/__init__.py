"""Providers: how Sanctum talks to an agent. A dict registry, one small class per kind.

    from sanctum.agents.providers import PROVIDERS, ChatMessage, Delta, Finish, ProviderError
    provider = PROVIDERS[agent.provider]
    for chunk in provider.stream(agent, history, timeout=120, session_key="session_12", user_id=user.id):
        ...
    ok, latency_ms, message = provider.test_connection(agent)

See `sanctum.agents.providers.base` for the contract.
"""
from sanctum.agents.providers.base import (
    ChatMessage, Chunk, Connection, Delta, Finish, Provider, ProviderError, Usage, connection_of,
)
from sanctum.agents.providers.bridge import BridgeProvider
from sanctum.agents.providers.builtin import BuiltinProvider
from sanctum.agents.providers.letta import LettaProvider
from sanctum.agents.providers.openai import OpenAIProvider

PROVIDERS: dict[str, Provider] = {
    "openai": OpenAIProvider(),
    "letta": LettaProvider(),
    "bridge": BridgeProvider(),
    "builtin": BuiltinProvider(),
}

__all__ = ["PROVIDERS", "ChatMessage", "Chunk", "Connection", "Delta", "Finish", "Provider", "ProviderError",
           "Usage", "connection_of"]
