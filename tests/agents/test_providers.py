"""Does each provider stream, count usage and fail in words, against real servers on loopback?"""
from __future__ import annotations

import json

import pytest

from sanctum.agents.providers import PROVIDERS, ChatMessage, Connection, Delta, Finish, ProviderError
from tests.support.fake_servers import FakeServer, openai_chunk, openai_server

HELLO = [ChatMessage("user", "Hi there")]


@pytest.fixture
def server():
    server = FakeServer()
    yield server
    server.stop()


def openai_conn(url: str, **overrides) -> Connection:
    values = dict(id=1, name="t", provider="openai", base_url=url + "/v1", model="test-model", api_key="sk-test-123",
                  system_prompt="Be brief.", temperature=0.2, connect_timeout=2, read_timeout=2, total_timeout=10)
    values.update(overrides)
    return Connection(**values)


def letta_conn(url: str, **overrides) -> Connection:
    values = dict(id=2, name="l", provider="letta", base_url=url, external_id="agent-42", api_key="letta-token",
                  connect_timeout=2, read_timeout=2, total_timeout=10)
    values.update(overrides)
    return Connection(**values)


def collect(provider: str, conn, messages=HELLO, **kwargs):
    return list(PROVIDERS[provider].stream(conn, messages, **kwargs))


def failure(provider: str, conn, **kwargs) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        collect(provider, conn, **kwargs)
    return caught.value


# ---------------------------------------------------------------- openai

def test_openai_streams_deltas_then_one_finish_with_usage():
    server = openai_server()
    try:
        chunks = collect("openai", openai_conn(server.url))
    finally:
        server.stop()
    assert [c.text for c in chunks if isinstance(c, Delta)] == ["Hello", ", ", "world"]
    finish = chunks[-1]
    assert isinstance(finish, Finish) and [c for c in chunks if isinstance(c, Finish)] == [finish]
    assert finish.finish_reason == "stop" and finish.model == "test-model"
    assert (finish.usage.prompt_tokens, finish.usage.completion_tokens, finish.usage.total_tokens) == (7, 3, 10)


def test_openai_sends_the_model_key_system_prompt_and_asks_for_usage():
    server = openai_server()
    try:
        collect("openai", openai_conn(server.url))
        sent = server.requests[-1]
    finally:
        server.stop()
    assert sent["headers"]["Authorization"] == "Bearer sk-test-123"
    body = sent["json"]
    assert body["model"] == "test-model" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
    assert body["temperature"] == 0.2


def test_openai_http_500_is_a_readable_retryable_error(server):
    server.route("POST", "/v1/chat/completions",
                 lambda h: h.send_json({"error": {"message": "model overloaded"}}, status=500))
    error = failure("openai", openai_conn(server.url))
    assert error.status == 500 and error.retryable
    assert "HTTP 500" in str(error) and "model overloaded" in str(error)


def test_openai_refused_key_says_so_and_is_not_retryable(server):
    server.route("POST", "/v1/chat/completions",
                 lambda h: h.send_json({"error": {"message": "Incorrect API key provided"}}, status=401))
    error = failure("openai", openai_conn(server.url))
    assert "API key was refused" in str(error) and not error.retryable


def test_openai_a_server_that_hangs_times_out(server):
    server.route("POST", "/v1/chat/completions", lambda h: h.hang(3))
    error = failure("openai", openai_conn(server.url, read_timeout=0.5))
    assert error.code == "timeout" and "silent" in str(error)


def test_openai_a_stream_that_stops_midway_is_incomplete(server):
    server.route("POST", "/v1/chat/completions", lambda h: h.sse([openai_chunk("Hel")], finish=False))
    chunks = []
    with pytest.raises(ProviderError) as caught:
        for chunk in PROVIDERS["openai"].stream(openai_conn(server.url), HELLO):
            chunks.append(chunk)
    assert chunks == [Delta("Hel")]  # what arrived was handed on before the error
    assert caught.value.code == "incomplete"


def test_openai_a_malformed_line_is_reported(server):
    server.route("POST", "/v1/chat/completions", lambda h: h.sse(["{not json"]))
    error = failure("openai", openai_conn(server.url))
    assert error.code == "malformed" and "{not json" in str(error)


def test_openai_a_line_that_is_not_sse_is_reported(server):
    server.route("POST", "/v1/chat/completions", lambda h: h.sse([], raw_lines=['{"choices": []}']))
    assert failure("openai", openai_conn(server.url)).code == "malformed"


def test_openai_an_error_inside_the_stream_is_reported(server):
    server.route("POST", "/v1/chat/completions",
                 lambda h: h.sse([openai_chunk("Hi"), json.dumps({"error": {"message": "context length exceeded"}})]))
    assert "context length exceeded" in str(failure("openai", openai_conn(server.url)))


def test_openai_keep_alive_comments_are_ignored(server):
    server.route("POST", "/v1/chat/completions",
                 lambda h: h.sse([openai_chunk("ok"), "[DONE]"], raw_lines=[": keep-alive", ""]))
    assert collect("openai", openai_conn(server.url))[0] == Delta("ok")


def test_openai_a_whole_reply_longer_than_the_total_timeout_is_cut(server):
    server.route("POST", "/v1/chat/completions",
                 lambda h: h.sse([openai_chunk(str(i)) for i in range(20)] + ["[DONE]"], pause=0.1))
    error = failure("openai", openai_conn(server.url), timeout=0.5)
    assert error.code == "timeout" and "longer than 0.5 s" in str(error)


def test_openai_a_closed_port_cannot_be_reached(server):
    url = server.url
    server.stop()
    error = failure("openai", openai_conn(url))
    assert error.code == "connect" and "could not be reached" in str(error)


def test_openai_connection_test_reports_latency_and_the_model():
    server = openai_server(model="llama3.1")
    try:
        ok, latency, message = PROVIDERS["openai"].test_connection(openai_conn(server.url, model="llama3.1"))
        missing = PROVIDERS["openai"].test_connection(openai_conn(server.url, model="gpt-9"))
    finally:
        server.stop()
    assert ok and isinstance(latency, int) and "llama3.1" in message
    assert missing[0] is False and "gpt-9" in missing[2] and "llama3.1" in missing[2]


# ---------------------------------------------------------------- letta

def letta_events(*texts: str) -> list[str]:
    events = [json.dumps({"message_type": "reasoning_message", "reasoning": "thinking…"}),
              json.dumps({"message_type": "ping"})]
    events += [json.dumps({"id": "m1", "message_type": "assistant_message", "content": t}) for t in texts]
    events += [json.dumps({"message_type": "stop_reason", "stop_reason": "end_turn"}),
               json.dumps({"message_type": "usage_statistics", "prompt_tokens": 120, "completion_tokens": 9,
                           "total_tokens": 129, "step_count": 1}), "[DONE]"]
    return events


def test_letta_streams_assistant_messages_and_usage(server):
    server.route("POST", "/v1/agents/agent-42/messages", lambda h: h.sse(letta_events("Hello", " from Letta")))
    history = [ChatMessage("user", "old"), ChatMessage("assistant", "old reply"), ChatMessage("user", "Hi there")]
    chunks = collect("letta", letta_conn(server.url), messages=history)
    assert [c.text for c in chunks if isinstance(c, Delta)] == ["Hello", " from Letta"]
    assert chunks[-1].usage.prompt_tokens == 120 and chunks[-1].finish_reason == "end_turn"
    body = server.requests[-1]["json"]
    assert body["streaming"] is True and body["messages"] == [{"role": "user", "content": "Hi there"}]
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer letta-token"


def test_letta_content_as_parts_is_joined(server):
    event = json.dumps({"message_type": "assistant_message", "content": [{"type": "text", "text": "a"},
                                                                        {"type": "text", "text": "b"}]})
    server.route("POST", "/v1/agents/agent-42/messages", lambda h: h.sse([event, "[DONE]"]))
    assert collect("letta", letta_conn(server.url))[0] == Delta("ab")


def test_letta_error_message_in_the_stream_is_reported(server):
    event = json.dumps({"message_type": "error_message", "message": "LLM provider rate limit"})
    server.route("POST", "/v1/agents/agent-42/messages", lambda h: h.sse([event]))
    assert "LLM provider rate limit" in str(failure("letta", letta_conn(server.url)))


def test_letta_http_500_is_reported(server):
    server.route("POST", "/v1/agents/agent-42/messages", lambda h: h.send_json({"detail": "boom"}, status=500))
    error = failure("letta", letta_conn(server.url))
    assert error.status == 500 and "boom" in str(error)


def test_letta_a_stream_that_stops_midway_is_incomplete(server):
    server.route("POST", "/v1/agents/agent-42/messages", lambda h: h.sse(letta_events("Hi")[:3], finish=False))
    assert failure("letta", letta_conn(server.url)).code == "incomplete"


def test_letta_a_hang_times_out(server):
    server.route("POST", "/v1/agents/agent-42/messages", lambda h: h.hang(3))
    assert failure("letta", letta_conn(server.url, read_timeout=0.5)).code == "timeout"


def test_letta_an_unknown_message_type_is_malformed(server):
    server.route("POST", "/v1/agents/agent-42/messages", lambda h: h.sse([json.dumps({"what": "?"})]))
    assert failure("letta", letta_conn(server.url)).code == "malformed"


def test_letta_connection_test_checks_health_and_the_agent(server):
    server.route("GET", "/v1/health/", lambda h: h.send_json({"version": "0.11.7", "status": "ok"}))
    server.route("GET", "/v1/agents/agent-42", lambda h: h.send_json({"id": "agent-42", "name": "helper"}))
    ok, latency, message = PROVIDERS["letta"].test_connection(letta_conn(server.url))
    assert ok and latency is not None and "agent-42" in message and "0.11.7" in message
    ok, _latency, message = PROVIDERS["letta"].test_connection(letta_conn(server.url, external_id="agent-nope"))
    assert not ok and "no agent “agent-nope”" in message


# ---------------------------------------------------------------- builtin

def test_builtin_echoes_and_helps_without_a_network():
    conn = Connection(id=3, name="athena", provider="builtin")
    echo = collect("builtin", conn, messages=[ChatMessage("user", "ping pong")])
    assert "".join(c.text for c in echo if isinstance(c, Delta)) == "athena heard: ping pong"
    assert echo[-1].usage.completion_tokens == len([c for c in echo if isinstance(c, Delta)])
    help_text = "".join(c.text for c in collect("builtin", conn, messages=[ChatMessage("user", "/help")])
                        if isinstance(c, Delta))
    assert "/status" in help_text


def test_builtin_status_lists_agents_and_tools_from_the_database(app):
    from sanctum.agents.service import create_agent
    from sanctum.tools.service import create_tool

    with app.app_context():
        agent = create_agent(data={"name": "athena", "display_name": "Athena", "provider": "builtin"}, actor=None)
        create_tool(data={"slug": "tools-app", "name": "Tools App", "category": "master"}, actor=None)
        text = "".join(c.text for c in PROVIDERS["builtin"].stream(agent, [ChatMessage("user", "/status")])
                       if isinstance(c, Delta))
    assert "Athena: Ready" in text and "Tools App: Ready" in text


def test_an_agent_without_its_own_key_uses_the_default_from_the_settings(app):
    from sanctum.agents.providers import connection_of
    from sanctum.agents.service import create_agent
    from sanctum.extensions import db
    from sanctum.settings.service import set_setting

    with app.app_context():
        set_setting("openai_api_key", "sk-default-999", actor=None)
        set_setting("openai_base_url", "http://127.0.0.1:9/v1", actor=None)
        db.session.commit()
        agent = create_agent(data={"name": "gpt", "provider": "openai", "model": "m"}, actor=None)
        conn = connection_of(agent)
    assert conn.api_key == "sk-default-999" and conn.base_url == "http://127.0.0.1:9/v1"
    assert "sk-default-999" not in repr(conn)
