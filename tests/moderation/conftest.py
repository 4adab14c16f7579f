"""Moderation fixtures: the chat fixtures (a loopback OpenAI-compatible agent, a chat for
ursula), messages placed directly, and helpers to read items and sanctions."""
from __future__ import annotations

import json
import time

import pytest
from simple_websocket import Client
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import ChatMessage, ModerationItem, Sanction, User
from tests.chat.conftest import agent_id, chat_id, chat_messages, provider, receive_until, wait_for_run  # noqa: F401


@pytest.fixture
def exchange(app, chat_id):
    """ursula asked something and the agent answered: (question id, answer id)."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "ursula"))
        question = ChatMessage(chat_id=chat_id, role="user", author_id=user.id, body="How do I pick a lock?")
        db.session.add(question)
        db.session.flush()
        answer = ChatMessage(chat_id=chat_id, role="agent", body="Here is something nasty.")
        db.session.add(answer)
        db.session.commit()
        return question.id, answer.id


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def item_for(app, message_id: int):
    with app.app_context():
        item = db.session.scalar(select(ModerationItem).where(ModerationItem.message_id == message_id))
        if item is not None:
            db.session.expunge(item)
        return item


def sanctions_of(app, username: str) -> list:
    with app.app_context():
        rows = db.session.scalars(select(Sanction).join(User, User.id == Sanction.user_id)
                                  .where(User.username == username).order_by(Sanction.id)).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def socket_for(live_server, client, channel: str) -> Client:
    cookie = f"sanctum_session={client.get_cookie('sanctum_session').value}"
    ws = Client.connect(f"{live_server.ws_url}/ws?channel={channel}",
                        headers={"Origin": "http://127.0.0.1", "Cookie": cookie})
    hello = json.loads(ws.receive(timeout=5))
    assert hello["type"] == "hello"
    return ws


def receive_json(ws, predicate, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = ws.receive(timeout=max(deadline - time.monotonic(), 0.1))
        if raw is None:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if predicate(data):
            return data
    raise AssertionError("the expected message did not arrive")
