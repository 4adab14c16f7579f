"""The one streaming interface every provider implements, and the pieces they share.

    provider = PROVIDERS[agent.provider]
    for chunk in provider.stream(agent, [ChatMessage("user", "Hello")], timeout=60):
        if isinstance(chunk, Delta):
            ...                      # a piece of the reply, in order
        else:                        # Finish: always last, exactly once
            chunk.usage, chunk.finish_reason

`stream` raises `ProviderError` (never anything else) for every way a call can go
wrong: refused connection, HTTP error, timeout, a server that hangs, a malformed
line, a stream that stops before it says it is done. The message is a sentence a
person can act on; `retryable` says whether trying again may help.

`agent` may be an `Agent` row or a `Connection` snapshot (what a job holds once it
has let go of the database session).
"""
from __future__ import annotations

import json
import ssl
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Union

import httpx


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None

    @property
    def total_tokens(self) -> Optional[int]:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Finish:
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)
    model: Optional[str] = None


Chunk = Union[Delta, Finish]


class ProviderError(Exception):
    """A provider call failed; `str(error)` is safe to show to the person chatting."""

    def __init__(self, message: str, *, code: str = "provider_error", retryable: bool = True,
                 status: Optional[int] = None):
        super().__init__(message)
        self.code, self.retryable, self.status = code, retryable, status


@dataclass(frozen=True)
class Connection:
    """Everything a provider needs to reach an agent, detached from the database."""

    id: Optional[int]
    name: str
    provider: str
    base_url: Optional[str] = None
    model: Optional[str] = None
    external_id: Optional[str] = None
    system_prompt: Optional[str] = None
    temperature: Optional[float] = None
    api_key: Optional[str] = field(default=None, repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    total_timeout: float = 300.0


def connection_of(agent: Any) -> Connection:
    """A snapshot of an agent's connection, with provider-wide defaults from the settings filled in."""
    if isinstance(agent, Connection):
        return agent
    from sanctum.settings.service import get_setting

    from sanctum.crypto import SecretUnreadable

    try:
        base_url, api_key = agent.base_url, agent.api_key
        if agent.provider == "openai":
            base_url = base_url or get_setting("openai_base_url")
            api_key = api_key or get_setting("openai_api_key")
        elif agent.provider == "letta":
            base_url = base_url or get_setting("letta_server_url")
            api_key = api_key or get_setting("letta_token")
    except SecretUnreadable as exc:
        raise ProviderError(str(exc), code="config", retryable=False) from None
    return Connection(
        id=agent.id, name=agent.name, provider=agent.provider, base_url=(base_url or "").rstrip("/") or None,
        model=agent.model, external_id=agent.external_id, system_prompt=agent.system_prompt,
        temperature=agent.temperature, api_key=api_key,
        connect_timeout=agent.connect_timeout or 5.0, read_timeout=agent.read_timeout or 60.0,
        total_timeout=agent.total_timeout or 300.0,
    )


class Provider(ABC):
    """Base class: a name, a label for forms, `stream` and `test_connection` (every provider
    must implement both; an incomplete one cannot even be instantiated)."""

    name = ""
    label = ""
    short_label = ""
    needs_base_url = False

    @abstractmethod
    def stream(self, agent: Any, messages: list[ChatMessage], *, timeout: Optional[float] = None,
               session_key: Optional[str] = None, user_id: Optional[int] = None) -> Iterator[Chunk]:
        """Yield `Delta`s in order, then exactly one `Finish`; raise only `ProviderError`."""

    @abstractmethod
    def test_connection(self, agent: Any) -> tuple[bool, Optional[int], str]:
        """(ok, latency in ms, a sentence saying what was found)."""


# ---------------------------------------------------------------- HTTP helpers

_tls_lock = threading.Lock()
_tls: Optional[ssl.SSLContext] = None


def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every provider call. httpx builds a new one (loading the
    CA bundle) for each Client, about 20 ms: the largest part of a reply's time to first token."""
    global _tls
    with _tls_lock:
        if _tls is None:
            _tls = httpx.create_ssl_context()  # what each Client would build: certifi, SSL_CERT_FILE
        return _tls


def http_client(conn: Connection) -> httpx.Client:
    return httpx.Client(timeout=http_timeout(conn), verify=tls_context())


def http_timeout(conn: Connection) -> httpx.Timeout:
    return httpx.Timeout(connect=conn.connect_timeout, read=conn.read_timeout, write=conn.connect_timeout,
                         pool=conn.connect_timeout)


def headers_for(conn: Connection) -> dict[str, str]:
    headers = {"Accept": "text/event-stream", "User-Agent": "Sanctum"}
    if conn.api_key:
        headers["Authorization"] = f"Bearer {conn.api_key}"
    return headers


def describe_http_error(response: httpx.Response, what: str) -> ProviderError:
    """Turn an error response into a sentence, using the server's own message when it gives one."""
    try:
        response.read()
        body = response.json()
    except (ValueError, httpx.HTTPError):
        body = None
    detail = None
    if isinstance(body, dict):
        error = body.get("error") if "error" in body else body.get("detail") or body.get("message")
        if isinstance(error, dict):
            detail = error.get("message") or error.get("detail")
        elif isinstance(error, str):
            detail = error
    status = response.status_code
    hint = {401: "the API key was refused", 403: "the API key may not do this",
            404: "the address or model was not found", 429: "the server is rate-limiting us"}.get(status)
    if status >= 500:
        hint = "the server had an error"
    words = f"{what} answered HTTP {status}"
    if hint:
        words += f": {hint}"
    if detail:
        words += f" ({str(detail)[:300]})"
    return ProviderError(words + ".", code="http_error", status=status,
                         retryable=status >= 500 or status == 429)


def describe_transport_error(exc: Exception, what: str, conn: Connection) -> ProviderError:
    if isinstance(exc, httpx.ConnectTimeout):
        return ProviderError(f"{what} did not accept a connection within {conn.connect_timeout:g} s.", code="timeout")
    if isinstance(exc, httpx.ReadTimeout):
        return ProviderError(f"{what} went silent for more than {conn.read_timeout:g} s.", code="timeout")
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(f"{what} timed out.", code="timeout")
    if isinstance(exc, httpx.ConnectError):
        return ProviderError(f"{what} could not be reached ({_reason(exc)}).", code="connect")
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        return ProviderError(f"The connection to {what} broke before the reply was complete.", code="incomplete")
    return ProviderError(f"{what} could not be used: {exc.__class__.__name__}.", code="provider_error")


def _reason(exc: Exception) -> str:
    text = str(exc) or exc.__class__.__name__
    if "refused" in text.lower():
        return "connection refused"
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return "unknown host name"
    return text[:120]


def iter_sse_data(response: httpx.Response, *, deadline: float, what: str,
                  total_timeout: float) -> Iterator[str]:
    """The `data:` payloads of a server-sent event stream, joined per event; comments and other
    fields are skipped. Raises ProviderError once the whole reply takes longer than the deadline."""
    buffer: list[str] = []
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            raise ProviderError(f"{what} took longer than {total_timeout:g} s to reply.", code="timeout")
        if line == "":
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith(":"):
            continue  # a comment: keep-alive
        name, _, value = line.partition(":")
        if name == "data":
            buffer.append(value[1:] if value.startswith(" ") else value)
        elif name not in ("event", "id", "retry"):
            raise ProviderError(f"{what} sent a line that is not server-sent events: {line[:80]!r}.",
                                code="malformed")
    if buffer:
        yield "\n".join(buffer)


def parse_json(payload: str, what: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        raise ProviderError(f"{what} sent a malformed line: {payload[:80]!r}.", code="malformed") from None


def measure(started: float) -> int:
    return int(round((time.perf_counter() - started) * 1000))
