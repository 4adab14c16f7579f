"""Any OpenAI-compatible `/chat/completions` server: OpenAI, Ollama, vLLM, LM Studio, LiteLLM.

`base_url` ends where the API's paths start, usually with `/v1`
(`http://localhost:11434/v1` for Ollama). Replies stream as server-sent events;
`stream_options.include_usage` asks for a last chunk carrying token counts.
"""
from __future__ import annotations

import time
from typing import Any, Iterator, Optional

import httpx

from sanctum.agents.providers.base import (
    ChatMessage, Chunk, Delta, Finish, Provider, ProviderError, Usage, connection_of, describe_http_error,
    describe_transport_error, headers_for, http_client, iter_sse_data, measure, parse_json,
)


class OpenAIProvider(Provider):
    name = "openai"
    short_label = "OpenAI-compatible"
    label = "OpenAI-compatible (OpenAI, Ollama, vLLM, LM Studio, LiteLLM)"
    needs_base_url = True

    def stream(self, agent: Any, messages: list[ChatMessage], *, timeout: Optional[float] = None,
               session_key: Optional[str] = None, user_id: Optional[int] = None) -> Iterator[Chunk]:
        conn = connection_of(agent)
        what = f"The server at {conn.base_url}"
        if not conn.base_url:
            raise ProviderError("This agent has no base URL, and no default is set.", code="config", retryable=False)
        if not conn.model:
            raise ProviderError("This agent has no model set.", code="config", retryable=False)
        body: dict[str, Any] = {
            "model": conn.model,
            "messages": self._messages(conn.system_prompt, messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if conn.temperature is not None:
            body["temperature"] = conn.temperature
        total = timeout or conn.total_timeout
        deadline = time.monotonic() + total
        usage, finish_reason, model = Usage(), None, conn.model
        try:
            with http_client(conn) as client, client.stream(
                    "POST", conn.base_url + "/chat/completions", json=body, headers=headers_for(conn)) as response:
                if response.status_code >= 400:
                    raise describe_http_error(response, what)
                for payload in iter_sse_data(response, deadline=deadline, what=what, total_timeout=total):
                    if payload.strip() == "[DONE]":
                        yield Finish(finish_reason=finish_reason or "stop", usage=usage, model=model)
                        return
                    data = parse_json(payload, what)
                    if not isinstance(data, dict):
                        raise ProviderError(f"{what} sent a malformed line: {payload[:80]!r}.", code="malformed")
                    if data.get("error"):
                        error = data["error"]
                        message = error.get("message") if isinstance(error, dict) else str(error)
                        raise ProviderError(f"{what} reported an error: {str(message)[:300]}.", code="upstream")
                    model = data.get("model") or model
                    if isinstance(data.get("usage"), dict):
                        usage = Usage(prompt_tokens=data["usage"].get("prompt_tokens"),
                                      completion_tokens=data["usage"].get("completion_tokens"))
                    for choice in data.get("choices") or ():
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            yield Delta(text)
                        if choice.get("finish_reason"):
                            finish_reason = choice["finish_reason"]
        except httpx.HTTPError as exc:
            raise describe_transport_error(exc, what, conn) from None
        raise ProviderError(f"{what} stopped sending before the reply was complete.", code="incomplete")

    @staticmethod
    def _messages(system_prompt: Optional[str], messages: list[ChatMessage]) -> list[dict]:
        out = [{"role": "system", "content": system_prompt}] if system_prompt else []
        return out + [{"role": m.role, "content": m.content} for m in messages]

    def test_connection(self, agent: Any) -> tuple[bool, Optional[int], str]:
        """List the server's models (one small GET); say whether this agent's model is among them."""
        conn = connection_of(agent)
        if not conn.base_url:
            return False, None, "No base URL is set for this agent, and no default is set in the settings."
        what = f"The server at {conn.base_url}"
        started = time.perf_counter()
        try:
            with http_client(conn) as client:
                response = client.get(conn.base_url + "/models", headers=headers_for(conn))
        except httpx.HTTPError as exc:
            return False, None, str(describe_transport_error(exc, what, conn))
        latency = measure(started)
        if response.status_code >= 400:
            return False, latency, str(describe_http_error(response, what))
        try:
            models = [m.get("id") for m in response.json().get("data", []) if isinstance(m, dict)]
        except (ValueError, AttributeError):
            return False, latency, f"{what} answered, but not with an OpenAI-style model list. Is the URL right (it usually ends in /v1)?"
        if conn.model and conn.model not in models:
            listed = ", ".join(str(m) for m in models[:5]) or "none"
            return False, latency, f"Connected, but the model “{conn.model}” is not offered (it offers: {listed})."
        return True, latency, f"Connected: the model “{conn.model}” is available." if conn.model else \
            f"Connected: {len(models)} model(s) offered; choose one for this agent."
