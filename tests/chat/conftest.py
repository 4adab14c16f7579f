"""Chat fixtures: an agent on a loopback OpenAI-compatible server, and a chat for ursula."""
from __future__ import annotations

import json
import time

import pytest
from simple_websocket import Client
from sqlalchemy import select

from sanctum.agents.service import create_agent
from sanctum.extensions import db
from sanctum.models import ChatMessage, ChatSession, Run, User
from tests.support.fake_servers import FakeServer, openai_chunk


class Provider:
    """A loopback OpenAI-compatible server whose next reply each test decides."""

    def __init__(self):
        self.server = FakeServer()
        self.reply = ["Hello", ", ", "world", "!"]
        self.pause = 0.0
        self.mode = "ok"
        self.server.route("POST", "/v1/chat/completions", self._answer)

    def _answer(self, handler):
        if self.mode == "500":
            handler.send_json({"error": {"message": "upstream exploded"}}, status=500)
        elif self.mode == "hang":
            handler.hang(30)
        elif self.mode == "garbage":
            handler.sse([], raw_lines=["data: {not json", ""])
        elif self.mode == "cut":
            handler.sse([openai_chunk(t) for t in self.reply[:2]], finish=False)
        else:
            events = [openai_chunk(t) for t in self.reply] + [
                openai_chunk(finish="stop"),
                openai_chunk(usage={"prompt_tokens": 11, "completion_tokens": len(self.reply), "total_tokens": 0}),
                "[DONE]"]
            handler.sse(events, pause=self.pause)

    @property
    def requests(self):
        return self.server.requests


@pytest.fixture
def provider():
    fake = Provider()
    yield fake
    fake.server.stop()


@pytest.fixture
def agent_id(app, provider):
    with app.app_context():
        agent = create_agent(data={"name": "echo", "display_name": "Echo", "provider": "openai",
                                   "base_url": provider.server.url + "/v1", "model": "test-model",
                                   "roles": ["user", "moderator"], "read_timeout": 2, "total_timeout": 4},
                             actor=None)
        return agent.id


@pytest.fixture
def chat_id(app, agent_id):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "ursula"))
        chat = ChatSession(user_id=user.id, agent_id=agent_id, title="Chat with Echo")
        db.session.add(chat)
        db.session.commit()
        return chat.id


def wait_for_run(app, run_id, timeout=15.0, statuses=("succeeded", "failed", "cancelled")):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context():
            run = db.session.get(Run, run_id)
            if run is not None and run.status in statuses:
                db.session.expunge(run)
                return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not reach {statuses}")


def chat_messages(app, chat_id):
    with app.app_context():
        rows = db.session.scalars(select(ChatMessage).where(ChatMessage.chat_id == chat_id).order_by(ChatMessage.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def open_socket(live_server, client, chat_id):
    cookie = f"sanctum_session={client.get_cookie('sanctum_session').value}"
    ws = Client.connect(f"{live_server.ws_url}/ws?channel=chat:{chat_id}",
                        headers={"Origin": "http://127.0.0.1", "Cookie": cookie})
    hello = json.loads(ws.receive(timeout=5))
    assert hello["channels"] == [f"chat:{chat_id}"]
    return ws


def receive_until(ws, predicate, timeout=15.0):
    """Collect JSON messages until one satisfies `predicate`; returns all collected."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = ws.receive(timeout=max(deadline - time.monotonic(), 0.1))
        if raw is None:
            continue
        data = json.loads(raw)
        seen.append(data)
        if predicate(data):
            return seen
    raise AssertionError(f"nothing matched within {timeout}s; got {seen[-5:]}")
