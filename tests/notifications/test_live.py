"""Does the bell update live on every open tab of its owner, and on nobody else's?

In the scaled mode the event crosses Redis from this test's app to the live server's listener.
"""
from __future__ import annotations

import json

import pytest
from simple_websocket import ConnectionError as WsConnectionError

from tests.notifications.conftest import send, user_id
from tests.support.sockets import connect, cookie_for, receive_json, receive_until


def test_a_new_notification_updates_the_bell_on_two_open_sockets(app, live_server):
    ursula = user_id(app, "ursula")
    cookie = cookie_for(app, "ursula")
    page = connect(live_server, cookie, f"/ws?channel=announcements&channel=notifications:{ursula}")
    seed = connect(live_server, cookie, "/ws/notifications")
    try:
        assert f"notifications:{ursula}" in receive_json(page)["channels"]
        assert receive_json(seed)["channels"] == [f"notifications:{ursula}"]
        send(app, "ursula", "Your report was reviewed")
        for ws in (page, seed):
            bell = receive_until(ws, 'id="notification-bell"')
            assert 'hx-swap-oob="true"' in bell and "1 unread" in bell
    finally:
        page.close()
        seed.close()


def test_reading_in_one_tab_updates_the_bell_in_another(app, live_server, client, auth):
    from tests.support.accounts import csrf_token

    mine = send(app, "ursula", "Hello")
    ws = connect(live_server, cookie_for(app, "ursula"), "/ws/notifications")
    try:
        receive_json(ws)
        auth.login("ursula")
        client.post(f"/notifications/{mine}/read", data={"csrf_token": csrf_token(client, "/notifications/")})
        assert "none unread" in receive_until(ws, 'id="notification-bell"')
    finally:
        ws.close()


def test_nobody_can_listen_to_someone_elses_notifications(app, live_server):
    vera = user_id(app, "vera")
    ws = connect(live_server, cookie_for(app, "ursula"), f"/ws?channel=notifications:{vera}")
    try:
        assert receive_json(ws)["channels"] == []
        ws.send(json.dumps({"type": "join", "channel": f"notifications:{vera}"}))
        assert receive_json(ws)["code"] == "forbidden"
        send(app, "vera", "For Vera only")
        ws.send(json.dumps({"type": "ping", "id": 1}))
        assert receive_json(ws) == {"type": "pong", "id": 1}  # and nothing of Vera's came before it
    finally:
        ws.close()


def test_the_notifications_socket_checks_the_handshake(app, live_server):
    with pytest.raises(WsConnectionError) as anonymous:
        connect(live_server, None, "/ws/notifications")
    assert anonymous.value.status_code == 401
    with pytest.raises(WsConnectionError) as foreign:
        connect(live_server, cookie_for(app, "ursula"), "/ws/notifications", origin="https://evil.example")
    assert foreign.value.status_code == 403
