"""Sanctions: applied, changed, lifted and expired; enforced on sign-in, sessions, sockets,
API tokens and every sending path; moderators cannot sanction admins."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from simple_websocket import ConnectionClosed
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import Sanction, User
from sanctum.models.base import utcnow
from tests.moderation.conftest import chat_messages, sanctions_of, socket_for, user_id
from tests.support.accounts import AuthActions, audit_events, signed_in_user


def apply(app, username="ursula", type_="temporary_ban", by="mod", reason="Spamming the agents.", **kw) -> int:
    from sanctum.moderation import sanctions

    with app.app_context():
        actor = db.session.scalar(select(User).where(User.username == by))
        user = db.session.scalar(select(User).where(User.username == username))
        if "agent_ids" in kw:
            from sanctum.models import Agent
            kw["agents"] = [db.session.get(Agent, i) for i in kw.pop("agent_ids")]
        if type_ == "temporary_ban" and "expires_at" not in kw:
            kw["expires_at"] = utcnow() + timedelta(hours=2)
        return sanctions.apply(actor=actor, user=user, type_=type_, reason=reason, **kw).id


def token_for(app, username="ursula", scopes=("chat.use",)) -> str:
    from sanctum.tokens.service import create_token

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        _row, secret = create_token(user=user, name="script", scopes=list(scopes), expires_in_days=1, actor=user)
        return secret


def test_a_moderator_bans_through_the_form_and_the_user_is_cut_off_everywhere(app, auth, live_server):
    auth.login("ursula")
    assert signed_in_user(auth.client) == "ursula"
    ws = socket_for(live_server, auth.client, "system")
    secret = token_for(app)

    mod = AuthActions(app.test_client())
    mod.login("mod")
    response = mod.post("/moderation/sanctions/new", {"username": "ursula", "type": "temporary_ban",
                                                       "duration": "72h", "reason": "Harassing other people."},
                        page="/moderation/sanctions/new")
    assert response.status_code == 302
    [ban] = sanctions_of(app, "ursula")
    assert ban.expires_at - utcnow() > timedelta(hours=71)

    # The open socket closes at once …
    with pytest.raises(ConnectionClosed):
        for _ in range(50):
            ws.receive(timeout=0.2)
    # … the session is dead …
    assert auth.client.get("/account/").status_code == 302
    # … the API token is refused …
    assert app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    # … and sign-in says why and until when.
    page = auth.login("ursula").get_data(as_text=True)
    assert "banned until" in page and "Harassing other people." in page
    assert audit_events(app, "auth.login_failed")[-1].details["reason"] == "banned"
    event = audit_events(app, "sanction.applied")[-1]
    assert event.actor_id == user_id(app, "mod") and event.details["type"] == "temporary_ban"


def test_a_temporary_ban_ends_on_time(app, auth):
    from sanctum.moderation.jobs import expire_sanctions

    start = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
    with time_machine.travel(start, tick=False):
        apply(app, expires_at=start + timedelta(hours=1))
        assert "banned until 2030-01-01 13:00" in auth.login("ursula").get_data(as_text=True)
    with time_machine.travel(start + timedelta(minutes=59), tick=False):
        with app.app_context():
            assert expire_sanctions() == {"ended": 0}
    with time_machine.travel(start + timedelta(hours=1, seconds=1), tick=False):
        # The ban has lapsed even before the job runs …
        assert auth.login("ursula").status_code == 302
        with app.app_context():
            assert expire_sanctions() == {"ended": 1}
            user = db.session.scalar(select(User).where(User.username == "ursula"))
            assert user.banned_until is None
    [ban] = sanctions_of(app, "ursula")
    assert (ban.is_active, ban.end_reason) == (False, "expired")
    assert audit_events(app, "sanction.expired")[-1].actor_id is None


def test_a_post_restriction_refuses_sending_in_the_page_and_the_api(app, auth, chat_id, provider):
    apply(app, type_="post_restriction", expires_at=utcnow() + timedelta(days=1), reason="Cool off.")
    auth.login("ursula")
    page = auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    assert "You may read but not send messages" in page and "Cool off." in page
    sent = auth.post(f"/chat/{chat_id}/messages", {"body": "hello?"}, page=f"/chat/{chat_id}",
                     headers={"HX-Request": "true"})
    assert sent.status_code == 422 and sent.headers["X-Sanctum-Status"] == "403"
    assert "hello?" in sent.get_data(as_text=True)  # kept in the composer
    secret = token_for(app)
    api = app.test_client().post(f"/api/v1/chats/{chat_id}/messages", json={"body": "hello?"},
                                 headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 403 and "Cool off." in api.get_json()["error"]["message"]
    assert chat_messages(app, chat_id) == []
    # Reading still works.
    assert auth.client.get("/chat/").status_code in (200, 302)


def test_a_topic_restriction_bars_only_the_named_agents(app, auth, chat_id, agent_id, provider):
    from tests.agents.test_agents import make_agent

    other = make_agent(app, "athena")
    apply(app, type_="topic_restriction", expires_at=None, agent_ids=[agent_id], reason="Off topic.")
    auth.login("ursula")
    refused = auth.post(f"/chat/{chat_id}/messages", {"body": "hi"}, page=f"/chat/{chat_id}",
                        headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "You may not write to Echo" in refused.get_data(as_text=True)
    auth.post("/chat/", {"agent_id": other}, page="/chat/?new=1")
    with app.app_context():
        from sanctum.models import ChatSession
        other_chat = db.session.scalar(select(ChatSession.id).where(ChatSession.agent_id == other))
    ok = auth.post(f"/chat/{other_chat}/messages", {"body": "hi"}, page=f"/chat/{other_chat}")
    assert ok.status_code == 302 and chat_messages(app, other_chat)[0].body == "hi"


def test_moderators_cannot_sanction_admins_or_themselves(app, client):
    mod = AuthActions(client)
    mod.login("mod")
    for target in ("admin", "mod"):
        response = mod.post("/moderation/sanctions/new", {"username": target, "type": "warning",
                                                           "reason": "Testing."}, page="/moderation/sanctions/new")
        assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "cannot sanction yourself" in body
    assert sanctions_of(app, "admin") == [] and sanctions_of(app, "mod") == []
    secret = token_for(app, "mod", scopes=("sanctions.apply",))
    api = app.test_client().post("/api/v1/sanctions", json={"user_id": user_id(app, "admin"), "type": "permanent_ban",
                                                            "reason": "Coup."},
                                 headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 403 and "cannot sanction administrators" in api.get_json()["error"]["message"]


def test_editing_and_lifting_are_audited_and_restore_access(app, auth):
    sanction_id = apply(app)
    mod = AuthActions(app.test_client())
    mod.login("mod")
    edited = mod.post(f"/moderation/sanctions/{sanction_id}", {"duration": "720h", "reason": "Longer, sorry."},
                      page=f"/moderation/sanctions/{sanction_id}")
    assert edited.status_code == 302
    [ban] = sanctions_of(app, "ursula")
    assert ban.reason == "Longer, sorry." and ban.expires_at - utcnow() > timedelta(days=29)
    assert audit_events(app, "sanction.updated")[-1].details["before"]["reason"] == "Spamming the agents."
    no_reason = mod.post(f"/moderation/sanctions/{sanction_id}/lift", {"reason": ""},
                         page=f"/moderation/sanctions/{sanction_id}")
    assert no_reason.status_code == 422
    lifted = mod.post(f"/moderation/sanctions/{sanction_id}/lift", {"reason": "Appeal accepted."},
                      page=f"/moderation/sanctions/{sanction_id}")
    assert lifted.status_code == 302
    assert auth.login("ursula").status_code == 302
    assert audit_events(app, "sanction.lifted")[-1].details["reason"] == "Appeal accepted."


def test_form_errors_are_worded(app, client):
    mod = AuthActions(client)
    mod.login("mod")
    cases = [({"username": "nobody", "type": "warning", "reason": "x"}, "There is no such user."),
             ({"username": "ursula", "type": "temporary_ban", "duration": "none", "reason": "x"}, "needs an end time"),
             ({"username": "ursula", "type": "topic_restriction", "duration": "24h", "reason": "x"}, "Choose the agents"),
             ({"username": "ursula", "type": "temporary_ban", "duration": "custom", "ends_at": "2001-01-01T00:00",
               "reason": "x"}, "must be in the future"),
             ({"username": "ursula", "type": "warning", "reason": ""}, "Give a reason")]
    for data, words in cases:
        response = mod.post("/moderation/sanctions/new", data, page="/moderation/sanctions/new")
        assert response.status_code == 422, data
        assert words in response.get_data(as_text=True), data
    assert sanctions_of(app, "ursula") == []


def test_the_sanctions_api(app):
    secret = token_for(app, "mod", scopes=("sanctions.apply", "account.manage"))
    headers = {"Authorization": f"Bearer {secret}"}
    client = app.test_client()
    ursula = user_id(app, "ursula")
    created = client.post("/api/v1/sanctions", json={"user_id": ursula, "type": "post_restriction",
                                                     "reason": "Calm down.", "expires_at": "2099-01-01T00:00:00Z"},
                          headers=headers)
    assert created.status_code == 201, created.get_json()
    sanction = created.get_json()
    assert client.get("/api/v1/sanctions", headers=headers).get_json()["sanctions"][0]["id"] == sanction["id"]
    assert client.get(f"/api/v1/users/{ursula}/sanctions", headers=headers).get_json()["sanctions"][0]["type"] == \
        "post_restriction"
    changed = client.put(f"/api/v1/sanctions/{sanction['id']}", json={"reason": "Calm down, please."}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["reason"] == "Calm down, please."
    bad = client.post("/api/v1/sanctions", json={"user_id": ursula, "type": "temporary_ban", "reason": "x",
                                                 "expires_at": "tomorrow"}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "expires_at"
    lifted = client.delete(f"/api/v1/sanctions/{sanction['id']}", json={"reason": "Done."}, headers=headers)
    assert lifted.status_code == 200 and lifted.get_json()["is_active"] is False
    assert client.delete(f"/api/v1/sanctions/{sanction['id']}", headers=headers).status_code == 409

    # A user sees their own sanctions; another's are not there for them.
    own = token_for(app, "ursula", scopes=("account.manage",))
    mine = client.get(f"/api/v1/users/{ursula}/sanctions?state=all", headers={"Authorization": f"Bearer {own}"})
    assert mine.status_code == 200 and len(mine.get_json()["sanctions"]) == 1
    other = client.get(f"/api/v1/users/{user_id(app, 'mod')}/sanctions", headers={"Authorization": f"Bearer {own}"})
    assert other.status_code == 404


def test_my_standing_page(app, auth):
    apply(app, type_="warning", reason="Be kind.")
    auth.login("ursula")
    page = auth.client.get("/moderation/standing").get_data(as_text=True)
    assert "Be kind." in page and "Warning" in page
