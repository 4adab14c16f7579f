"""A Letta server: `POST /v1/agents/{agent_id}/messages` with `"streaming": true`.

The reply is a server-sent stream of Letta message objects: `assistant_message`
pieces (token streaming), reasoning and tool messages we do not show,
`usage_statistics`, `stop_reason`, `error_message`, and a closing `[DONE]`.
Letta keeps the conversation itself, so only the newest user turn is sent.
"""
from __future__ import annotations

import time
from typing import Any, Iterator, Optional

import httpx

from sanctum.agents.providers.base import (
    ChatMessage, Chunk, Delta, Finish, Provider, ProviderError, Usage, connection_of, describe_http_error,
    describe_transport_error, headers_for, http_client, iter_sse_data, measure, parse_json,
)

QUIET_TYPES = {"reasoning_message", "hidden_reasoning_message", "tool_call_message", "tool_return_message",
               "ping", "system_message", "user_message", "approval_request_message", "approval_response_message"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": "…"}, …]
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


class LettaProvider(Provider):
    name = "letta"
    short_label = "Letta"
    label = "Letta server"
    needs_base_url = True

    def stream(self, agent: Any, messages: list[ChatMessage], *, timeout: Optional[float] = None,
               session_key: Optional[str] = None, user_id: Optional[int] = None) -> Iterator[Chunk]:
        conn = connection_of(agent)
        if not conn.base_url:
            raise ProviderError("No Letta server URL is set for this agent or in the settings.", code="config",
                                retryable=False)
        if not conn.external_id:
            raise ProviderError("This agent has no Letta agent id.", code="config", retryable=False)
        turn = self._newest_turn(messages)
        if not turn:
            raise ProviderError("There is no user message to send.", code="config", retryable=False)
        what = f"The Letta server at {conn.base_url}"
        body = {"messages": [{"role": "user", "content": text} for text in turn],
                "streaming": True, "stream_tokens": True}
        total = timeout or conn.total_timeout
        deadline = time.monotonic() + total
        usage, stop_reason = Usage(), None
        url = f"{conn.base_url}/v1/agents/{conn.external_id}/messages"
        try:
            with http_client(conn) as client, client.stream(
                    "POST", url, json=body, headers=headers_for(conn)) as response:
                if response.status_code >= 400:
                    raise describe_http_error(response, what)
                for payload in iter_sse_data(response, deadline=deadline, what=what, total_timeout=total):
                    if payload.strip() == "[DONE]":
                        yield Finish(finish_reason=stop_reason or "stop", usage=usage, model=conn.model)
                        return
                    data = parse_json(payload, what)
                    kind = data.get("message_type") if isinstance(data, dict) else None
                    if kind == "assistant_message":
                        text = _text(data.get("content"))
                        if text:
                            yield Delta(text)
                    elif kind == "usage_statistics":
                        usage = Usage(prompt_tokens=data.get("prompt_tokens"),
                                      completion_tokens=data.get("completion_tokens"))
                    elif kind == "stop_reason":
                        stop_reason = data.get("stop_reason")
                    elif kind == "error_message" or (isinstance(data, dict) and "error" in data and kind is None):
                        detail = data.get("message") or data.get("detail") or data.get("error")
                        raise ProviderError(f"{what} reported an error: {str(detail)[:300]}.", code="upstream")
                    elif kind not in QUIET_TYPES:
                        raise ProviderError(f"{what} sent a malformed line: {payload[:80]!r}.", code="malformed")
        except httpx.HTTPError as exc:
            raise describe_transport_error(exc, what, conn) from None
        raise ProviderError(f"{what} stopped sending before the reply was complete.", code="incomplete")

    @staticmethod
    def _newest_turn(messages: list[ChatMessage]) -> list[str]:
        turn: list[str] = []
        for message in reversed(messages):
            if message.role != "user":
                break
            turn.insert(0, message.content)
        return turn

    def test_connection(self, agent: Any) -> tuple[bool, Optional[int], str]:
        """`GET /v1/health/`, then the agent itself, so a wrong agent id shows here and not in a chat."""
        conn = connection_of(agent)
        if not conn.base_url:
            return False, None, "No Letta server URL is set for this agent or in the settings."
        what = f"The Letta server at {conn.base_url}"
        started = time.perf_counter()
        try:
            with http_client(conn) as client:
                health = client.get(conn.base_url + "/v1/health/", headers=headers_for(conn))
                latency = measure(started)
                if health.status_code >= 400:
                    return False, latency, str(describe_http_error(health, what))
                try:
                    version = health.json().get("version")
                except (ValueError, AttributeError):
                    return False, latency, f"{what} answered, but not like a Letta server. Is the URL right?"
                if not conn.external_id:
                    return False, latency, f"The Letta server (version {version}) is reachable, but this agent has no Letta agent id."
                found = client.get(f"{conn.base_url}/v1/agents/{conn.external_id}", headers=headers_for(conn))
        except httpx.HTTPError as exc:
            return False, None, str(describe_transport_error(exc, what, conn))
        if found.status_code == 404:
            return False, latency, f"The Letta server is reachable, but has no agent “{conn.external_id}”."
        if found.status_code >= 400:
            return False, latency, str(describe_http_error(found, what))
        return True, latency, f"Connected to Letta {version or ''}: agent “{conn.external_id}” found.".replace("  ", " ")
