"""The queue is live: a new item and a decision reach every moderator's socket (in both modes:
in the scaled-out one the events cross Redis), and nobody else's."""
from __future__ import annotations

import pytest

from tests.moderation.conftest import item_for, receive_json, socket_for
from tests.support.accounts import AuthActions


def test_new_items_and_decisions_reach_every_moderator(app, auth, exchange, live_server):
    _question, answer = exchange
    first, second = AuthActions(app.test_client()), AuthActions(app.test_client())
    first.login("mod")
    second.login("admin")
    sockets = [socket_for(live_server, first.client, "moderation"),
               socket_for(live_server, second.client, "moderation")]
    try:
        auth.login("ursula")
        auth.post(f"/moderation/flag/{answer}", {"reason": "abuse"}, page=f"/moderation/flag/{answer}")
        item_id = item_for(app, answer).id
        for ws in sockets:
            data = receive_json(ws, lambda d: d.get("type") == "moderation:item" and d["id"] == item_id)
            assert data["state"] == "open" and data["open_count"] == 1 and f'id="item-{item_id}"' in data["html"]
        first.post(f"/moderation/items/{item_id}/decide", {"decision": "dismissed", "reason": "Fine."},
                   page=f"/moderation/items/{item_id}")
        for ws in sockets:
            data = receive_json(ws, lambda d: d.get("type") == "moderation:item" and d.get("state") == "resolved")
            assert data["decision"] == "dismissed" and data["decided_by"] == "mod" and data["open_count"] == 0
    finally:
        for ws in sockets:
            ws.close()


def test_people_who_may_not_review_cannot_listen(app, auth, live_server):
    import json

    auth.login("ursula")
    ws = socket_for(live_server, auth.client, "system")
    try:
        ws.send(json.dumps({"type": "join", "channel": "moderation"}))
        data = receive_json(ws, lambda d: d.get("type") in ("error", "joined"))
        assert data["type"] == "error" and data["code"] == "forbidden"
    finally:
        ws.close()


def test_the_moderation_socket_is_the_queue_channel_for_reviewers_only(app, auth, exchange, live_server):
    from simple_websocket import ConnectionError as WsConnectionError

    from tests.support.sockets import connect, cookie_for, receive_json

    with pytest.raises(WsConnectionError) as user:
        connect(live_server, cookie_for(app, "ursula"), "/ws/moderation")
    assert user.value.status_code == 403
    with pytest.raises(WsConnectionError) as anonymous:
        connect(live_server, None, "/ws/moderation")
    assert anonymous.value.status_code == 401
    ws = connect(live_server, cookie_for(app, "mod"), "/ws/moderation")
    try:
        assert receive_json(ws)["channels"] == ["moderation"]
        _question, answer = exchange
        auth.login("ursula")
        auth.post(f"/moderation/flag/{answer}", {"reason": "spam"}, page=f"/moderation/flag/{answer}")
        data = receive_json_until(ws, lambda d: d.get("type") == "moderation:item")
        assert data["state"] == "open"
    finally:
        ws.close()


def receive_json_until(ws, predicate):
    from tests.moderation.conftest import receive_json as until

    return until(ws, predicate)
