"""Does the live websocket round-trip through a real server, and refuse what it should?"""
from __future__ import annotations

import json

import pytest
from simple_websocket import Client, ConnectionClosed, ConnectionError as WsConnectionError

from sanctum import events
from sanctum.live import channel


@pytest.fixture
def cookie(client, auth):
    """A signed-in browser's session cookie (the live server shares the app and its key)."""
    auth.login("ursula")
    return f"sanctum_session={client.get_cookie('sanctum_session').value}"


def connect(live_server, cookie, path="/ws", origin=None):
    # simple-websocket's client sends `Host: 127.0.0.1` without the port; a browser's Origin
    # matches its Host header the same way.
    headers = {"Origin": origin or "http://127.0.0.1"}
    if cookie:
        headers["Cookie"] = cookie
    return Client.connect(live_server.ws_url + path, headers=headers)


def receive_json(ws, timeout=5):
    raw = ws.receive(timeout=timeout)
    assert raw is not None, "no message within the timeout"
    return json.loads(raw)


def test_ping_and_echo_round_trip(live_server, cookie):
    ws = connect(live_server, cookie)
    try:
        hello = receive_json(ws)
        assert hello["type"] == "hello" and hello["live"] == "ok"  # the page shows "degraded" otherwise
        ws.send(json.dumps({"type": "ping", "id": 41}))
        assert receive_json(ws) == {"type": "pong", "id": 41}
        ws.send(json.dumps({"type": "echo", "data": "héllo"}))
        assert receive_json(ws) == {"type": "echo", "data": "héllo"}
    finally:
        ws.close()


def test_garbage_gets_an_error_not_a_dropped_socket(live_server, cookie):
    ws = connect(live_server, cookie)
    try:
        receive_json(ws)
        ws.send("not json")
        assert receive_json(ws)["code"] == "bad_message"
        ws.send(json.dumps({"type": "ping", "id": 1}))
        assert receive_json(ws)["type"] == "pong"
    finally:
        ws.close()


def test_a_foreign_origin_is_refused_at_the_handshake(live_server, cookie):
    with pytest.raises(WsConnectionError) as caught:
        connect(live_server, cookie, origin="https://evil.example")
    assert caught.value.status_code == 403


def test_an_anonymous_handshake_is_refused(live_server):
    with pytest.raises(WsConnectionError) as caught:
        connect(live_server, None)
    assert caught.value.status_code == 401


def test_signing_out_elsewhere_closes_the_socket(app, client, live_server, cookie, auth):
    """Revocation reaches open websockets at once (SECURITY.md 12)."""
    ws = connect(live_server, cookie)
    receive_json(ws)
    auth.logout()
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(10):
            ws.receive(timeout=2)
    assert closed.value.reason == 1008


def test_a_published_event_reaches_the_socket(app, live_server, cookie):
    ws = connect(live_server, cookie, "/ws?channel=system")
    try:
        assert receive_json(ws)["channels"] == ["system"]
        with app.app_context():
            events.publish("system", {"html": '<div id="notice" hx-swap-oob="true">Maintenance at 5</div>'})
        assert ws.receive(timeout=5) == '<div id="notice" hx-swap-oob="true">Maintenance at 5</div>'
    finally:
        ws.close()


def test_a_channel_without_a_rule_cannot_be_joined(live_server, cookie):
    ws = connect(live_server, cookie, "/ws?channel=secret:1")
    try:
        assert receive_json(ws)["channels"] == []
        ws.send(json.dumps({"type": "join", "channel": "secret:1"}))
        assert receive_json(ws)["code"] == "forbidden"
    finally:
        ws.close()


def test_a_revoked_right_stops_forwarding(app, live_server, cookie, monkeypatch):
    """The rule is asked again for events (at most VERDICT_SECONDS apart), not only when joining."""
    from sanctum.live import hub

    monkeypatch.setattr(hub, "VERDICT_SECONDS", 0)
    allowed = {"yes": True}

    @channel("revocable:")
    def rule(user, name):
        return allowed["yes"]

    ws = connect(live_server, cookie, "/ws?channel=revocable:1")
    try:
        assert receive_json(ws)["channels"] == ["revocable:1"]
        allowed["yes"] = False
        with app.app_context():
            events.publish("revocable:1", {"secret": 1})
        ws.send(json.dumps({"type": "ping", "id": 2}))
        assert receive_json(ws) == {"type": "pong", "id": 2}
    finally:
        ws.close()


def test_an_oversized_frame_closes_the_socket(app, live_server, cookie):
    ws = connect(live_server, cookie)
    receive_json(ws)
    ws.send("x" * (app.config["WS_MAX_MESSAGE_SIZE"] + 1))
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(10):
            ws.receive(timeout=2)
    assert closed.value.reason == 1009  # "message too big"
