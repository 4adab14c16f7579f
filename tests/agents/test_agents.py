"""Agent pages: can admins create, key, test, switch off and delete agents, and who sees what?"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from sanctum.agents.service import create_agent
from sanctum.extensions import db
from sanctum.models import Agent, AuditEvent
from tests.support.accounts import make_user
from tests.support.fake_servers import openai_server
from tests.support.queries import count_queries

SECRET_KEY = "sk-live-abcdefghijklmnopqrstuvwxyz0123456789"


def agent_id(app, name):
    with app.app_context():
        return db.session.scalar(select(Agent.id).where(Agent.name == name))


def make_agent(app, name="athena", **data):
    with app.app_context():
        values = {"name": name, "display_name": name.title(), "provider": "builtin", "roles": ["user"]}
        values.update(data)
        return create_agent(data=values, actor=None).id


def test_an_admin_creates_an_agent_through_the_form(app, auth):
    auth.login("admin")
    response = auth.post("/agents/new", {
        "name": "librarian", "display_name": "Librarian", "avatar": "📚", "description": "Finds books",
        "provider": "openai", "base_url": "http://127.0.0.1:11434/v1/", "model": "llama3.1", "temperature": "0.3",
        "connect_timeout": "5", "read_timeout": "60", "total_timeout": "300", "health_check_interval": "300",
        "is_active": "y", "roles": ["user", "moderator"], "users": "vera"}, page="/agents/new")
    assert response.status_code == 302
    with app.app_context():
        agent = db.session.scalar(select(Agent).where(Agent.name == "librarian"))
        assert agent.base_url == "http://127.0.0.1:11434/v1" and agent.temperature == pytest.approx(0.3)
        assert sorted(r.name for r in agent.roles) == ["moderator", "user"]
        assert [u.username for u in agent.users] == ["vera"]
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "agent.created"))
        assert event.details["after"]["model"] == "llama3.1"


@pytest.mark.parametrize("field,value,message", [
    ("name", "Bad Name!", "lower-case"),
    ("base_url", "ftp://example.org", "http://"),
    ("users", "ghost", "No such user: ghost"),
])
def test_bad_agent_input_is_a_form_error_not_a_crash(app, auth, field, value, message):
    auth.login("admin")
    data = {"name": "ok", "provider": "builtin", "roles": ["user"], field: value}
    response = auth.post("/agents/new", data, page="/agents/new")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_an_openai_agent_needs_a_model(app, auth):
    auth.login("admin")
    response = auth.post("/agents/new", {"name": "gpt", "provider": "openai"}, page="/agents/new")
    assert response.status_code == 422 and "needs a model" in response.get_data(as_text=True)


def test_two_agents_cannot_share_a_name(app, auth):
    make_agent(app, "athena")
    auth.login("admin")
    response = auth.post("/agents/new", {"name": "athena", "provider": "builtin"}, page="/agents/new")
    assert response.status_code == 422 and "already has that name" in response.get_data(as_text=True)


def test_the_api_key_is_encrypted_at_rest_and_never_shown_again(app, auth):
    aid = make_agent(app, "gpt", provider="openai", model="m")
    auth.login("admin")
    response = auth.post(f"/agents/{aid}/key", {"api_key": SECRET_KEY}, page=f"/agents/{aid}")
    assert response.status_code == 200
    with app.app_context():
        raw = db.session.execute(text("SELECT api_key_encrypted, api_key_hint FROM agents WHERE id = :id"),
                                 {"id": aid}).one()
        assert SECRET_KEY not in raw[0] and "abcdefghij" not in raw[0] and raw[0].startswith("gAAAA")
        assert SECRET_KEY not in raw[1]
        assert db.session.get(Agent, aid).api_key == SECRET_KEY  # the provider can still use it
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("agent.api_key%"))).all()
        assert [e.action for e in events] == ["agent.api_key_set"]
        dump = " ".join(str(row) for row in db.session.execute(text("SELECT * FROM audit_events")))
        assert SECRET_KEY not in dump
    page = auth.client.get(f"/agents/{aid}").get_data(as_text=True)
    assert SECRET_KEY not in page and "6789" in page  # only the mask's last four


def test_an_api_key_can_be_replaced_and_cleared(app, auth):
    aid = make_agent(app, "gpt", provider="openai", model="m")
    auth.login("admin")
    auth.post(f"/agents/{aid}/key", {"api_key": "sk-first-key-0000000000"}, page=f"/agents/{aid}")
    auth.post(f"/agents/{aid}/key", {"api_key": "sk-second-key-111111111"}, page=f"/agents/{aid}")
    with app.app_context():
        assert db.session.get(Agent, aid).api_key == "sk-second-key-111111111"
    auth.post(f"/agents/{aid}/key/clear", page=f"/agents/{aid}")
    with app.app_context():
        agent = db.session.get(Agent, aid)
        assert agent.api_key_encrypted is None and agent.api_key is None
        actions = [e.action for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("agent.api_key%")).order_by(AuditEvent.seq))]
        assert actions == ["agent.api_key_set", "agent.api_key_replaced", "agent.api_key_cleared"]


def test_an_empty_key_is_refused(app, auth):
    aid = make_agent(app, "gpt", provider="openai", model="m")
    auth.login("admin")
    response = auth.post(f"/agents/{aid}/key", {"api_key": ""}, page=f"/agents/{aid}", headers={"HX-Request": "true"})
    assert response.status_code == 422 and 'id="agent-keys"' in response.get_data(as_text=True)


def test_test_connection_reports_latency_and_flips_the_status(app, auth):
    server = openai_server(model="llama3.1")
    try:
        aid = make_agent(app, "local", provider="openai", base_url=server.url + "/v1", model="llama3.1")
        auth.login("admin")
        response = auth.post(f"/agents/{aid}/test", page=f"/agents/{aid}", headers={"HX-Request": "true"})
    finally:
        server.stop()
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "Connected" in body and re.search(r"\d+ ms", body)
    assert 'id="agent-' in body and 'hx-swap-oob="true"' in body and ">Healthy<" in body
    failed = auth.post(f"/agents/{aid}/test", page=f"/agents/{aid}", headers={"HX-Request": "true"})
    assert "Not connected" in failed.get_data(as_text=True) and "could not be reached" in failed.get_data(as_text=True)
    with app.app_context():
        agent = db.session.get(Agent, aid)
        assert agent.status == "Down" and "could not be reached" in agent.status_message


def test_switching_an_agent_off_and_on(app, auth):
    aid = make_agent(app)
    auth.login("admin")
    response = auth.post(f"/agents/{aid}/active", page="/agents/", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Switch on" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Agent, aid).status == "Off"
    auth.post(f"/agents/{aid}/active", page="/agents/")
    with app.app_context():
        agent = db.session.get(Agent, aid)
        assert agent.is_active and agent.status == "Ready"


def test_deleting_an_agent_is_audited_with_what_it_was(app, auth):
    aid = make_agent(app)
    auth.login("admin")
    assert auth.post(f"/agents/{aid}/delete", page=f"/agents/{aid}").status_code == 302
    with app.app_context():
        assert db.session.get(Agent, aid) is None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "agent.deleted"))
        assert event.details["before"]["name"] == "athena"


def test_an_edit_is_audited_with_before_and_after(app, auth):
    aid = make_agent(app)
    auth.login("admin")
    auth.post(f"/agents/{aid}/edit", {"name": "athena", "display_name": "Athena II", "provider": "builtin",
                                      "is_active": "y", "roles": ["user"]}, page=f"/agents/{aid}/edit")
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "agent.updated"))
        assert event.details["before"]["display_name"] == "Athena" and event.details["after"]["display_name"] == "Athena II"


def test_users_see_only_the_agents_their_role_or_name_allows(app, auth):
    make_agent(app, "for-users", roles=["user"])
    make_agent(app, "for-mods", roles=["moderator"])
    make_agent(app, "for-vera", roles=[], users=["vera"])
    make_agent(app, "switched-off", roles=["user"], is_active=False)
    seen = {}
    for username in ("ursula", "mod", "vera", "admin"):
        client = app.test_client()
        from tests.support.accounts import AuthActions

        AuthActions(client).login(username)
        seen[username] = sorted(a["id"] for a in client.get("/api/agents").get_json())
    assert seen["ursula"] == ["for-users"]
    assert seen["mod"] == ["for-mods"]
    assert seen["vera"] == ["for-vera"]
    assert seen["admin"] == ["for-mods", "for-users", "for-vera", "switched-off"]


def test_an_agent_one_may_not_use_is_not_found(app, auth):
    hidden = make_agent(app, "mods-only", roles=["moderator"])
    auth.login("ursula")
    assert auth.client.get(f"/agents/{hidden}").status_code == 404
    assert auth.client.get(f"/api/v1/agents/{hidden}").status_code == 404
    assert "mods-only" not in auth.client.get("/agents/").get_data(as_text=True)


def test_a_viewer_cannot_change_agents(app, auth):
    aid = make_agent(app, roles=["viewer"])
    auth.login("vera")
    assert auth.client.get(f"/agents/{aid}").status_code == 200
    assert auth.post(f"/agents/{aid}/delete", page=f"/agents/{aid}").status_code == 403
    assert auth.client.get(f"/agents/{aid}/edit").status_code == 403


def test_agent_descriptions_render_inert(app, auth):
    aid = make_agent(app, description='<script>alert(1)</script><img src=x onerror=alert(2)>')
    auth.login("admin")
    for path in ("/agents/", f"/agents/{aid}"):
        body = auth.client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in body and "<img src=x" not in body


def test_the_agents_page_runs_a_bounded_number_of_queries(app, auth):
    for number in range(12):
        make_agent(app, f"agent-{number}", users=["vera"])
    auth.login("admin")
    auth.client.get("/agents/")  # warm caches
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as statements:
        assert auth.client.get("/agents/").status_code == 200
    assert len(statements) <= 8, statements


def test_a_named_user_can_use_an_agent_their_role_cannot(app, auth):
    make_user(app, "gus")
    aid = make_agent(app, "private", roles=[], users=["gus"])
    from tests.support.accounts import AuthActions

    client = app.test_client()
    AuthActions(client).login("gus")
    assert client.get(f"/agents/{aid}").status_code == 200
