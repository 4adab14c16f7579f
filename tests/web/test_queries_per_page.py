"""Does each main page cost at most 8 SQL statements, and no more when the data grows?"""
from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from sanctum import audit
from sanctum.agents.service import create_agent
from sanctum.extensions import db
from sanctum.models import ChatMessage, ChatSession, User
from sanctum.models.base import utcnow
from tests.support.queries import count_queries

LIMIT = 8


@pytest.fixture
def admin_chat(app) -> int:
    with app.app_context():
        agent = create_agent(data={"name": "counter", "display_name": "Counter", "provider": "builtin",
                                   "roles": ["admin", "user"]}, actor=None)
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        chat = ChatSession(user_id=admin.id, agent_id=agent.id, title="Counting")
        db.session.add(chat)
        db.session.flush()
        db.session.add_all(ChatMessage(chat_id=chat.id, role="user" if n % 2 == 0 else "agent", body=f"m{n}")
                           for n in range(4))
        db.session.commit()
        return chat.id


def grow(app, chat_id: int) -> None:
    """Many more users, audit events and messages than the first count saw."""
    with app.app_context():
        role_id = db.session.scalar(select(User.role_id).where(User.username == "ursula"))
        now = utcnow()
        db.session.execute(insert(User), [
            {"username": f"extra{n:03d}", "email": f"extra{n:03d}@corp.test", "password_hash": "x", "role_id": role_id,
             "status": "active", "failed_login_attempts": 0, "created_at": now, "updated_at": now}
            for n in range(120)])
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        for n in range(80):
            audit.record("test.grown", actor=admin, details={"n": n})  # an actor, as the first page had
        db.session.add_all(ChatMessage(chat_id=chat_id, role="user" if n % 2 == 0 else "agent", body=f"more {n}")
                           for n in range(60))
        db.session.commit()


def statements(app, client, path: str) -> list[str]:
    assert client.get(path).status_code == 200  # warm: once-per-process work is not per page
    with count_queries(app) as sent:
        assert client.get(path).status_code == 200
    return list(sent)


def test_the_main_pages_cost_a_bounded_number_of_statements(app, client, auth, admin_chat):
    auth.login("admin")
    pages = {"dashboard": "/dashboard/", "users list": "/admin/users/", "audit": "/audit/",
             "chat": f"/chat/{admin_chat}"}
    small = {name: statements(app, client, path) for name, path in pages.items()}
    grow(app, admin_chat)
    large = {name: statements(app, client, path) for name, path in pages.items()}
    for name in pages:
        assert len(small[name]) <= LIMIT, (name, small[name])
        assert len(large[name]) == len(small[name]), (name, small[name], large[name])
