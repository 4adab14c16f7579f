"""The seed endpoints answer from the database in the original shapes; /api/v1 CRUD needs the right scope."""
from __future__ import annotations

from sqlalchemy import select

from sanctum.agents.service import create_agent
from sanctum.auth.service import find_user
from sanctum.extensions import db
from sanctum.models import Agent
from sanctum.tokens.service import create_token
from sanctum.tools.service import create_tool


def token(app, username, *scopes):
    with app.app_context():
        _row, raw = create_token(user=find_user(username), name="t", scopes=list(scopes), expires_in_days=None)
        return {"Authorization": f"Bearer {raw}"}


def seed(app):
    with app.app_context():
        create_agent(data={"name": "athena", "display_name": "Athena", "description": "Sanctum Configuration Assistant",
                           "provider": "builtin", "roles": ["user", "viewer"]}, actor=None)
        create_tool(data={"slug": "web-chat", "name": "Web Chat", "emoji": "💬", "category": "master"}, actor=None)
        create_tool(data={"slug": "smcp-server", "name": "SMCP", "category": "smcp", "is_enabled": False}, actor=None)


def test_api_agents_has_the_original_shape(app, client):
    seed(app)
    body = client.get("/api/agents", headers=token(app, "vera", "agents.view")).get_json()
    assert body == [{"id": "athena", "name": "Athena", "description": "Sanctum Configuration Assistant",
                     "status": "Ready"}]


def test_api_tools_filters_by_category(app, client):
    seed(app)
    headers = token(app, "vera", "tools.view")
    assert len(client.get("/api/tools", headers=headers).get_json()) == 2
    assert client.get("/api/tools?category=smcp", headers=headers).get_json() == [
        {"id": "smcp-server", "name": "SMCP", "description": "", "emoji": None, "status": "Off", "category": "smcp"}]
    assert client.get("/api/tools?category=unknown", headers=headers).get_json() == []


def test_api_status_reports_services_agents_and_tools(app, client):
    seed(app)
    body = client.get("/api/status", headers=token(app, "vera", "system.view")).get_json()
    assert set(body) == {"status", "version", "timestamp", "services"}
    services = body["services"]
    assert services["database"] == "Healthy" and services["workers"] == "Healthy"
    assert services["redis"] == ("Healthy" if app.config["REDIS_URL"] else "Off")
    assert services["agents"] == {"athena": "Ready"} and services["tools"] == {"web-chat": "Ready", "smcp-server": "Off"}
    assert body["status"] == "Healthy" and body["version"]


def test_seed_endpoints_need_a_credential_and_the_permission(app, client):
    for path in ("/api/agents", "/api/tools", "/api/status"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"
    assert client.get("/api/agents", headers=token(app, "vera", "tools.view")).status_code == 403


def test_api_v1_agents_crud_with_a_scoped_token(app, client):
    admin = token(app, "admin", "agents.view", "agents.manage")
    created = client.post("/api/v1/agents", headers=admin, json={
        "name": "gpt", "provider": "openai", "model": "gpt-4o-mini", "api_key": "sk-api-created-0000000000",
        "roles": ["user"]})
    assert created.status_code == 201
    agent = created.get_json()
    assert agent["has_api_key"] is True and "api_key" not in agent and "sk-api" not in created.get_data(as_text=True)
    agent_id = agent["id"]
    changed = client.patch(f"/api/v1/agents/{agent_id}", headers=admin, json={"display_name": "GPT", "api_key": None})
    assert changed.status_code == 200 and changed.get_json()["display_name"] == "GPT"
    assert changed.get_json()["has_api_key"] is False
    assert client.patch(f"/api/v1/agents/{agent_id}", headers=admin, json={"temperature": 9}).status_code == 422
    assert client.patch(f"/api/v1/agents/{agent_id}", headers=admin, json={"owner": "me"}).status_code == 422
    assert client.post("/api/v1/agents", headers=admin, json={"name": "gpt", "provider": "builtin"}).status_code == 409
    assert [a["name"] for a in client.get("/api/v1/agents", headers=admin).get_json()["agents"]] == ["gpt"]
    tested = client.post(f"/api/v1/agents/{agent_id}/test", headers=admin, json={}).get_json()
    assert tested["ok"] is False and tested["message"]
    assert client.delete(f"/api/v1/agents/{agent_id}", headers=admin).status_code == 204
    with app.app_context():
        assert db.session.scalar(select(Agent)) is None


def test_api_v1_without_the_manage_scope_can_only_read(app, client):
    seed(app)
    reader = token(app, "admin", "agents.view", "tools.view")
    assert client.get("/api/v1/agents", headers=reader).status_code == 200
    assert client.post("/api/v1/agents", headers=reader, json={"name": "x"}).status_code == 403
    assert client.post("/api/v1/tools", headers=reader, json={"slug": "x"}).status_code == 403
    user = client.get("/api/v1/agents", headers=token(app, "ursula", "agents.view")).get_json()["agents"]
    assert user == [{"id": user[0]["id"], "name": "athena", "display_name": "Athena",
                     "description": "Sanctum Configuration Assistant", "avatar": None, "status": "Ready",
                     "is_active": True}]  # no connection details for those who do not manage agents


def test_api_v1_tools_crud(app, client):
    admin = token(app, "admin", "tools.view", "tools.manage")
    created = client.post("/api/v1/tools", headers=admin, json={"slug": "crawler", "name": "Crawler",
                                                                 "category": "smcp"})
    assert created.status_code == 201
    tool_id = created.get_json()["id"]
    assert client.post("/api/v1/tools", headers=admin, json={"slug": "crawler", "name": "Again",
                                                             "category": "smcp"}).status_code == 409
    patched = client.patch(f"/api/v1/tools/{tool_id}", headers=admin, json={"is_enabled": False})
    assert patched.get_json()["status"] == "Off"
    assert client.patch(f"/api/v1/tools/{tool_id}", headers=admin, json={"is_enabled": "maybe"}).status_code == 422
    assert client.get("/api/v1/tools?category=smcp", headers=admin).get_json()["tools"][0]["slug"] == "crawler"
    assert client.post("/api/v1/tools", headers=admin, data="x").status_code == 415
    assert client.delete(f"/api/v1/tools/{tool_id}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/tools/{tool_id}", headers=admin).status_code == 404
