"""Can scripts list, read and change users with a token, within the same permissions?"""
from __future__ import annotations

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import User
from sanctum.tokens import service as tokens


def token_for(app, username, scopes):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        return {"Authorization": f"Bearer {tokens.create_token(user=user, name='t', scopes=scopes, expires_in_days=None)[1]}"}


def test_listing_and_searching_users(app, client):
    headers = token_for(app, "admin", ["users.view"])
    body = client.get("/api/v1/users?q=ver", headers=headers).get_json()
    assert [u["username"] for u in body["users"]] == ["vera"] and body["total"] == 1
    assert "password_hash" not in body["users"][0]


def test_pages_follow_the_next_link(app, client):
    headers = token_for(app, "admin", ["users.view"])
    first = client.get("/api/v1/users?limit=3&sort=username", headers=headers).get_json()
    second = client.get(first["next"], headers=headers).get_json()
    names = [u["username"] for u in first["users"] + second["users"]]
    assert names == ["admin", "mod", "ursula", "vera"] and second["next"] is None


def test_reading_one_user_and_404(app, client):
    headers = token_for(app, "admin", ["users.view"])
    vera = client.get("/api/v1/users?q=vera", headers=headers).get_json()["users"][0]
    assert client.get(f"/api/v1/users/{vera['id']}", headers=headers).get_json()["role"] == "viewer"
    assert client.get("/api/v1/users/99999", headers=headers).status_code == 404


def test_a_user_token_cannot_list_users(app, client):
    headers = token_for(app, "ursula", ["chat.use"])
    assert client.get("/api/v1/users", headers=headers).status_code == 403


def test_changing_role_and_status(app, client):
    headers = token_for(app, "admin", ["users.view", "users.manage", "roles.manage"])
    vera = client.get("/api/v1/users?q=vera", headers=headers).get_json()["users"][0]["id"]
    response = client.patch(f"/api/v1/users/{vera}", json={"role": "moderator", "status": "inactive"}, headers=headers)
    assert response.status_code == 200
    assert (response.get_json()["role"], response.get_json()["status"]) == ("moderator", "inactive")


def test_role_change_needs_roles_manage_on_the_token(app, client):
    headers = token_for(app, "admin", ["users.view", "users.manage"])
    vera = client.get("/api/v1/users?q=vera", headers=headers).get_json()["users"][0]["id"]
    assert client.patch(f"/api/v1/users/{vera}", json={"role": "admin"}, headers=headers).status_code == 403


def test_bad_changes_get_clear_errors(app, client):
    headers = token_for(app, "admin", ["users.view", "users.manage"])
    me = client.get("/api/v1/users?q=admin", headers=headers).get_json()["users"][0]["id"]
    vera = client.get("/api/v1/users?q=vera", headers=headers).get_json()["users"][0]["id"]
    assert client.patch(f"/api/v1/users/{vera}", json={"email": "x@y.z"}, headers=headers).status_code == 422
    assert client.patch(f"/api/v1/users/{vera}", json={"status": "deleted"}, headers=headers).status_code == 422
    response = client.patch(f"/api/v1/users/{me}", json={"status": "inactive"}, headers=headers)
    assert response.status_code == 409 and "your own account" in response.get_json()["error"]["message"]


def test_deleting_a_user_erases_them_and_keeps_the_audit_chain(app, client):
    from sanctum import audit

    headers = token_for(app, "admin", ["users.view", "users.manage"])
    vera = client.get("/api/v1/users?q=vera", headers=headers).get_json()["users"][0]["id"]
    assert client.delete(f"/api/v1/users/{vera}", json={"confirm": "not-vera"}, headers=headers).status_code == 422
    assert client.delete(f"/api/v1/users/{vera}", json={"confirm": "vera"}, headers=headers).status_code == 204
    erased = client.get(f"/api/v1/users/{vera}", headers=headers).get_json()
    assert erased["username"].startswith("deleted-") and "vera" not in erased["email"]
    with app.app_context():
        assert audit.verify_chain().ok
