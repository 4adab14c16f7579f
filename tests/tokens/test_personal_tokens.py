"""Do personal API tokens work only as far as their scopes and their owner's rights reach?"""
from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from sanctum.auth.sessions import hash_token
from sanctum.extensions import db
from sanctum.models import ApiToken, AuditEvent, User
from sanctum.models.base import utcnow
from sanctum.rbac import service as rbac
from sanctum.tokens import service


def make_token(app, username="ursula", scopes=("account.manage", "chat.use"), days=None):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        _token, raw = service.create_token(user=user, name="script", scopes=scopes, expires_in_days=days)
        return raw


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


def test_a_token_is_shown_once_and_stored_hashed(app, client, auth):
    auth.login("ursula")
    response = auth.post("/account/tokens/", {"name": "backup", "expires": "30",
                                              "scopes": ["account.manage"]}, page="/account/tokens/",
                         follow_redirects=True)
    assert response.status_code == 200
    raw = re.search(r'value="(sct_pat_[^"]+)"', response.get_data(as_text=True)).group(1)
    assert raw not in client.get("/account/tokens/").get_data(as_text=True)  # never shown again
    with app.app_context():
        row = db.session.scalar(select(ApiToken))
        assert row.token_hash == hash_token(raw) and raw not in (row.prefix + "x")
        assert row.scopes == ["account.manage"]
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "token.created"))
        assert raw not in str(event.details)


def test_a_token_authenticates_api_requests(app, client):
    raw = make_token(app)
    response = client.get("/api/v1/me", headers=bearer(raw))
    assert response.status_code == 200
    body = response.get_json()
    assert body["username"] == "ursula"
    assert body["permissions"] == ["account.manage", "chat.use"]
    assert body["credential"]["type"] == "personal_token"


def test_a_token_is_narrower_than_its_owner(app, client):
    raw = make_token(app, scopes=("agents.view",))
    response = client.get("/api/v1/me", headers=bearer(raw))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"


def test_a_token_cannot_ask_for_more_than_its_owner_has(app):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "vera"))
        try:
            service.create_token(user=user, name="x", scopes=["users.manage"], expires_in_days=None)
        except service.TokenError as exc:
            assert "users.manage" in str(exc)
        else:
            raise AssertionError("a token wider than its owner was created")


def test_a_demotion_narrows_existing_tokens_at_once(app, client):
    raw = make_token(app, username="mod", scopes=("account.manage", "moderation.review"))
    assert "moderation.review" in client.get("/api/v1/me", headers=bearer(raw)).get_json()["permissions"]
    with app.app_context():
        mod = db.session.scalar(select(User).where(User.username == "mod"))
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        rbac.change_role(user=mod, role=rbac.role_by_name("viewer"), actor=admin)
    assert client.get("/api/v1/me", headers=bearer(raw)).get_json()["permissions"] == ["account.manage"]


def test_a_revoked_token_gets_401(app, client, auth):
    raw = make_token(app)
    auth.login("ursula")
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    auth.post(f"/account/tokens/{token_id}/revoke", page="/account/tokens/")
    response = client.application.test_client().get("/api/v1/me", headers=bearer(raw))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_an_expired_token_gets_401(app, client):
    raw = make_token(app, days=7)
    with time_machine.travel(utcnow() + timedelta(days=7, seconds=1)):
        assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 401


def test_a_garbage_token_gets_401(client):
    assert client.get("/api/v1/me", headers=bearer("sct_pat_nonsense")).status_code == 401
    assert client.get("/api/v1/me", headers=bearer("")).status_code == 401


def test_a_token_does_not_open_browser_pages(app, client):
    raw = make_token(app)
    response = client.get("/account/", headers=bearer(raw))
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_token_requests_need_no_csrf_but_cookie_requests_do(app, client, auth):
    raw = make_token(app)
    assert client.post("/api/v1/auth/logout", headers=bearer(raw)).status_code == 400  # reached the view
    auth.login("ursula")
    # The same POST with a cookie and a form body (what a forged cross-site form sends) is refused.
    response = client.post("/api/v1/auth/logout", data={"x": "1"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"


def test_another_users_token_id_is_not_found(app, client, auth):
    make_token(app, username="mod", scopes=("account.manage",))
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    auth.login("ursula")
    assert auth.post(f"/account/tokens/{token_id}/revoke", page="/account/tokens/").status_code == 404


def test_last_use_is_recorded(app, client):
    raw = make_token(app)
    client.get("/api/v1/me", headers=bearer(raw), environ_base={"REMOTE_ADDR": "198.51.100.7"})
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert token.last_used_at is not None and token.last_used_ip == "198.51.100.7"


def test_the_cli_prints_a_working_token(app, client, runner):
    result = runner.invoke(args=["create-token", "ursula", "--name", "cron", "--scope", "account.manage"])
    assert result.exit_code == 0, result.output
    raw = result.output.strip()
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 200


def test_the_cli_refuses_a_scope_the_user_lacks(runner):
    result = runner.invoke(args=["create-token", "vera", "--name", "x", "--scope", "users.manage"])
    assert result.exit_code != 0 and "users.manage" in result.output
