"""Can a script with a chat.use token chat: create, post, read after an id, stream a run as SSE?"""
from __future__ import annotations

import json

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import User
from sanctum.tokens import service as tokens
from tests.chat.conftest import agent_id, provider  # noqa: F401  (fixtures)
from tests.chat.conftest import wait_for_run


def headers(app, username="ursula", scopes=("chat.use",)):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        raw = tokens.create_token(user=user, name="bot", scopes=scopes, expires_in_days=None)[1]
    return {"Authorization": f"Bearer {raw}"}


def sse_events(text):
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_a_script_chats_and_streams_the_reply(app, client, agent_id):  # noqa: F811
    h = headers(app)
    chat = client.post("/api/v1/chats", json={"agent_id": agent_id}, headers=h)
    assert chat.status_code == 201
    chat_id = chat.get_json()["id"]
    sent = client.post(f"/api/v1/chats/{chat_id}/messages", json={"body": "Hello API"}, headers=h)
    assert sent.status_code == 202
    run_id = sent.get_json()["run"]["id"]
    stream = client.get(f"/api/v1/runs/{run_id}/stream", headers=h)
    assert stream.mimetype == "text/event-stream"
    events = sse_events(stream.get_data(as_text=True))
    assert events[0][0] == "snapshot" and events[-1][0] == "done"
    text = events[0][1]["text"] + "".join(d["text"] for kind, d in events if kind == "delta")
    assert text == "Hello, world!" and events[-1][1]["message"]["body"] == "Hello, world!"
    assert events[-1][1]["run"]["status"] == "succeeded"
    msgs = client.get(f"/api/v1/chats/{chat_id}/messages?after=0", headers=h).get_json()["messages"]
    assert [m["role"] for m in msgs] == ["user", "agent"]
    after = client.get(f"/api/v1/chats/{chat_id}/messages?after={msgs[0]['id']}", headers=h).get_json()["messages"]
    assert [m["id"] for m in after] == [msgs[1]["id"]]


def test_another_users_chat_and_run_are_404(app, client, agent_id):  # noqa: F811
    mine = headers(app, "ursula")
    theirs = headers(app, "mod")
    chat_id = client.post("/api/v1/chats", json={"agent_id": agent_id}, headers=mine).get_json()["id"]
    run_id = client.post(f"/api/v1/chats/{chat_id}/messages", json={"body": "x"}, headers=mine).get_json()["run"]["id"]
    wait_for_run(app, run_id)
    assert client.get(f"/api/v1/chats/{chat_id}/messages", headers=theirs).status_code == 404
    assert client.get(f"/api/v1/runs/{run_id}", headers=theirs).status_code == 404
    assert client.post(f"/api/v1/runs/{run_id}/cancel", headers=theirs).status_code == 404


def test_a_token_without_chat_use_is_refused(app, client, agent_id):  # noqa: F811
    h = headers(app, scopes=("agents.view",))
    assert client.get("/api/v1/chats", headers=h).status_code == 403


def test_bad_input_gets_json_errors(app, client, agent_id):  # noqa: F811
    h = headers(app)
    assert client.post("/api/v1/chats", json={"agent_id": "x"}, headers=h).status_code == 422
    chat_id = client.post("/api/v1/chats", json={"agent_id": agent_id}, headers=h).get_json()["id"]
    response = client.post(f"/api/v1/chats/{chat_id}/messages", json={"body": "y" * 9000}, headers=h)
    assert response.status_code == 413 and "at most" in response.get_json()["error"]["message"]
