"""Does an unchanged Broca web_chat plugin work against Sanctum's bridge endpoints?

`BrocaClient` sends exactly what the plugin's api_client sends: a bearer key, a JSON
content type, `GET /api/v1/?action=inbox&limit=&offset=` and
`POST /api/v1/?action=outbox` with `{"session_id", "response"}`.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
import time_machine
from sqlalchemy import select

from sanctum.agents.providers import PROVIDERS, ChatMessage, Delta, ProviderError
from sanctum.agents.service import create_agent
from sanctum.bridge import service
from sanctum.extensions import db
from sanctum.models import Agent, AuditEvent, BridgeMessage
from sanctum.models.base import utcnow
from sanctum.tokens.service import create_token


class BrocaClient:
    def __init__(self, base: str, key: str):
        self.base, self.key = base, key

    def headers(self):
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json",
                "User-Agent": "Broca2-WebChat-Plugin/1.0"}

    def get_messages(self, limit=50, offset=0, since=None):
        params = {"action": "inbox", "limit": min(limit, 100), "offset": offset}
        if since:
            params["since"] = since
        return httpx.get(f"{self.base}/api/v1/", headers=self.headers(), params=params, timeout=10)

    def post_response(self, session_id, response):
        return httpx.post(f"{self.base}/api/v1/", headers=self.headers(), params={"action": "outbox"},
                          json={"session_id": session_id, "response": response}, timeout=10)


@pytest.fixture
def bridge_agent(app):
    """(agent id, raw bridge key)"""
    with app.app_context():
        agent = create_agent(data={"name": "broca", "display_name": "Broca", "provider": "bridge",
                                   "roles": ["user"]}, actor=None)
        return agent.id, service.generate_key(agent=agent, actor=None)


def queue(app, agent_id, text, session="session_abc123", user="ursula"):
    from sanctum.auth.service import find_user

    with app.app_context():
        return service.queue_for_broca(agent_id=agent_id, session_key=session, body=text,
                                       user_id=find_user(user).id if user else None)


def test_the_plugin_reads_its_inbox_in_the_documented_envelope(app, live_server, bridge_agent):
    agent_id, key = bridge_agent
    queue(app, agent_id, "Hello, how can you help me?")
    response = BrocaClient(live_server.url, key).get_messages(limit=10)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["message"] and body["timestamp"]
    [message] = body["data"]["messages"]
    assert message["session_id"] == "session_abc123" and message["message"] == "Hello, how can you help me?"
    assert len(message["uid"]) == 16 and message["timestamp"].endswith("+00:00") and isinstance(message["id"], int)
    assert body["data"]["pagination"] == {"total": 1, "limit": 10, "offset": 0, "has_more": False}


def test_a_handed_out_message_is_not_handed_out_again_until_it_is_overdue(app, live_server, bridge_agent):
    agent_id, key = bridge_agent
    queue(app, agent_id, "one")
    broca = BrocaClient(live_server.url, key)
    assert len(broca.get_messages().json()["data"]["messages"]) == 1
    assert broca.get_messages().json()["data"]["messages"] == []
    with time_machine.travel(utcnow() + timedelta(seconds=app.config["BRIDGE_REDELIVER_SECONDS"] + 1)):
        again = broca.get_messages().json()["data"]["messages"]
    assert [m["message"] for m in again] == ["one"]  # a restarted Broca loses nothing


def test_a_reply_through_the_outbox_answers_the_session(app, live_server, bridge_agent):
    agent_id, key = bridge_agent
    queue(app, agent_id, "question")
    broca = BrocaClient(live_server.url, key)
    broca.get_messages()
    response = broca.post_response("session_abc123", "Hello! I'm here to help.")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["session_id"] == "session_abc123" and isinstance(data["response_id"], int)
    with app.app_context():
        inbound = db.session.scalar(select(BridgeMessage).where(BridgeMessage.direction == "inbound"))
        assert inbound.answered_at is not None
    with time_machine.travel(utcnow() + timedelta(seconds=app.config["BRIDGE_REDELIVER_SECONDS"] + 1)):
        assert broca.get_messages().json()["data"]["messages"] == []  # answered: never again


def test_the_bridge_provider_streams_the_reply_broca_posts(app, live_server, bridge_agent):
    """The whole loop: a chat asks the provider, Broca polls, answers, and the reply comes back."""
    agent_id, key = bridge_agent
    broca = BrocaClient(live_server.url, key)
    stop = threading.Event()

    def plugin():
        while not stop.is_set():
            for message in broca.get_messages().json()["data"]["messages"]:
                broca.post_response(message["session_id"], f"Broca says: {message['message']}")
            stop.wait(0.2)

    thread = threading.Thread(target=plugin, daemon=True)
    thread.start()
    try:
        with app.app_context():
            agent = db.session.get(Agent, agent_id)
            chunks = list(PROVIDERS["bridge"].stream(agent, [ChatMessage("user", "ping")], timeout=10,
                                                     session_key="session_live1"))
    finally:
        stop.set()
        thread.join(timeout=5)
    assert chunks[0] == Delta("Broca says: ping")
    with app.app_context():
        ok, _latency, message = PROVIDERS["bridge"].test_connection(db.session.get(Agent, agent_id))
    assert ok and "polling" in message


def test_the_bridge_provider_times_out_in_words_when_broca_is_away(app, bridge_agent):
    agent_id, _key = bridge_agent
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        with pytest.raises(ProviderError) as caught:
            list(PROVIDERS["bridge"].stream(agent, [ChatMessage("user", "anyone?")], timeout=0.5))
        ok, _latency, message = PROVIDERS["bridge"].test_connection(agent)
    assert caught.value.code == "timeout" and "Broca did not reply" in str(caught.value)
    assert not ok and "has not polled" in message


def test_no_key_or_a_wrong_key_gets_401_and_is_audited(app, client, bridge_agent):
    for headers in ({}, {"Authorization": "Bearer sct_brg_wrong"}, {"Authorization": "Bearer nonsense"}):
        response = client.get("/api/v1/?action=inbox", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["success"] is False and response.get_json()["error"] == "Authentication required"
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "bridge.auth_failed")).all()
        assert len(events) == 3 and all(e.outcome == "denied" for e in events)
        assert all("sct_brg_wrong" not in str(e.details) for e in events)


def test_repeated_bad_keys_are_rate_limited(app, client, bridge_agent):
    statuses = [client.get("/api/v1/?action=inbox", headers={"Authorization": "Bearer sct_brg_guess"}).status_code
                for _ in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[-1] == 429
    assert client.get("/api/v1/?action=inbox", headers={"Authorization": "Bearer sct_brg_guess"}).get_json()[
        "success"] is False


def test_a_revoked_key_or_a_switched_off_agent_stops_the_plugin(app, client, bridge_agent):
    agent_id, key = bridge_agent
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/?action=inbox", headers=auth).status_code == 200
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        agent.is_active = False
        db.session.commit()
    assert client.get("/api/v1/?action=inbox", headers=auth).status_code == 401
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        agent.is_active = True
        service.revoke_key(agent=agent, actor=None)
    assert client.get("/api/v1/?action=inbox", headers=auth).status_code == 401


def test_bad_requests_get_envelope_errors(app, client, bridge_agent):
    agent_id, key = bridge_agent
    auth = {"Authorization": f"Bearer {key}"}
    queue(app, agent_id, "hi")
    cases = [
        (client.get("/api/v1/?action=nope", headers=auth), 400),
        (client.get("/api/v1/?action=outbox", headers=auth), 405),
        (client.get("/api/v1/?action=inbox&limit=lots", headers=auth), 400),
        (client.get("/api/v1/?action=inbox&since=yesterday", headers=auth), 400),
        (client.post("/api/v1/?action=outbox", headers=auth, json={"session_id": "session_unknown", "response": "x"}), 404),
        (client.post("/api/v1/?action=outbox", headers=auth, json={"session_id": "bad id!", "response": "x"}), 400),
        (client.post("/api/v1/?action=outbox", headers=auth, json={"session_id": "session_abc123", "response": ""}), 400),
        (client.post("/api/v1/?action=outbox", headers=auth, json=["not", "an", "object"]), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.url, response.get_json())
        body = response.get_json()
        assert body["success"] is False and body["error"] and body["timestamp"]


def test_one_agents_key_never_sees_another_agents_sessions(app, client, bridge_agent):
    agent_id, key = bridge_agent
    with app.app_context():
        other = create_agent(data={"name": "other", "provider": "bridge"}, actor=None)
        other_id = other.id
    queue(app, other_id, "secret plans", session="session_other")
    auth = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/?action=inbox", headers=auth).get_json()["data"]["messages"] == []
    assert client.post("/api/v1/?action=outbox", headers=auth,
                       json={"session_id": "session_other", "response": "hijack"}).status_code == 404
    assert client.get("/api/v1/?action=session_messages&session_id=session_other", headers=auth).status_code == 404


def test_admin_actions_list_sessions_and_their_messages(app, client, bridge_agent):
    agent_id, key = bridge_agent
    queue(app, agent_id, "first")
    queue(app, agent_id, "second")
    auth = {"Authorization": f"Bearer {key}"}
    client.post("/api/v1/?action=outbox", headers=auth, json={"session_id": "session_abc123", "response": "answer"})
    sessions = client.get("/api/v1/?action=sessions&limit=10&active=true", headers=auth).get_json()["data"]
    [session] = sessions["sessions"]
    assert session["id"] == "session_abc123" and session["message_count"] == 2 and session["response_count"] == 1
    assert sessions["pagination"]["total"] == 1
    detail = client.get("/api/v1/?action=session_messages&session_id=session_abc123", headers=auth).get_json()["data"]
    assert [m["message"] for m in detail["messages"]] == ["first", "second"]
    assert [r["response"] for r in detail["responses"]] == ["answer"]
    assert detail["session"]["id"] == "session_abc123"


def test_a_personal_token_with_agents_manage_may_read_sessions_but_not_the_inbox(app, client, bridge_agent):
    agent_id, _key = bridge_agent
    queue(app, agent_id, "hello")
    with app.app_context():
        from sanctum.auth.service import find_user

        _row, admin_token = create_token(user=find_user("admin"), name="ops", scopes=["agents.manage"],
                                         expires_in_days=None)
        _row, user_token = create_token(user=find_user("ursula"), name="mine", scopes=["account.manage"],
                                        expires_in_days=None)
    admin = {"Authorization": f"Bearer {admin_token}"}
    sessions = client.get("/api/v1/?action=sessions", headers=admin).get_json()["data"]["sessions"]
    assert [s["agent"] for s in sessions] == ["broca"]
    assert client.get("/api/v1/?action=inbox", headers=admin).status_code == 403
    assert client.get("/api/v1/?action=sessions", headers={"Authorization": f"Bearer {user_token}"}).status_code == 401


def test_the_json_api_beside_the_bridge_still_answers(app, client, bridge_agent):
    with app.app_context():
        from sanctum.auth.service import find_user

        _row, token = create_token(user=find_user("ursula"), name="x", scopes=["account.manage"], expires_in_days=None)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()["username"] == "ursula"
    assert client.post("/api/v1/auth/token", json={"username": "ursula", "password": "wrong"}).status_code == 401


def test_the_bridge_key_is_stored_hashed_and_shown_once(app, auth, bridge_agent):
    agent_id, key = bridge_agent
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        assert agent.bridge_key_hash != key and key not in (agent.bridge_key_prefix + "…")
    auth.login("admin")
    response = auth.post(f"/agents/{agent_id}/bridge-key", page=f"/agents/{agent_id}")
    page = response.get_data(as_text=True)
    new_key = page.split('id="bridge-key-value" class="token-value" type="text" readonly value="')[1].split('"')[0]
    assert new_key.startswith("sct_brg_") and new_key != key
    assert new_key not in auth.client.get(f"/agents/{agent_id}").get_data(as_text=True)
