"""Do API sessions rotate refresh tokens, and does a reused one revoke the whole family?"""
from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import AuditEvent, UserSession
from sanctum.models.base import utcnow
from tests.support.accounts import PASSWORD


def sign_in(client, username="ursula", password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def test_signing_in_gives_an_access_and_refresh_pair(client):
    response = sign_in(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["access_token"].startswith("sct_at_") and body["refresh_token"].startswith("sct_rt_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.get_json()["credential"] == {"type": "session"}


def test_wrong_credentials_get_the_same_401(client):
    unknown = sign_in(client, "nobody")
    wrong = sign_in(client, "ursula", "not the right password at all")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_json()["error"]["message"] == wrong.get_json()["error"]["message"]


def test_bad_json_is_a_clear_400_or_415(client):
    form_post = client.post("/api/v1/auth/token", data={"username": "x"})
    assert form_post.status_code == 400 and form_post.get_json()["error"]["code"] == "csrf_failed"
    text_post = client.post("/api/v1/auth/token", data="{}", content_type="text/plain",
                            headers={"Authorization": "Bearer sct_pat_x"})
    assert text_post.status_code == 415
    response = client.post("/api/v1/auth/token", json=["not", "an", "object"])
    assert response.status_code == 400 and "JSON object" in response.get_json()["error"]["message"]
    response = client.post("/api/v1/auth/token", json={"username": "ursula"})
    assert response.status_code == 400 and "password" in response.get_json()["error"]["message"]


def test_the_access_token_expires_after_15_minutes(client):
    access = sign_in(client).get_json()["access_token"]
    with time_machine.travel(utcnow() + timedelta(minutes=15, seconds=1)):
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"}).status_code == 401


def test_refreshing_rotates_both_tokens(client):
    first = sign_in(client).get_json()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 200
    # the old access token died with its row
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {first['access_token']}"}).status_code == 401


def test_a_reused_refresh_token_revokes_the_whole_family(app, client):
    first = sign_in(client).get_json()
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).get_json()
    # An attacker replays the first refresh token:
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    # …and the legitimate holder's current tokens die too.
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"}).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401
    with app.app_context():
        family = db.session.scalars(select(UserSession).where(UserSession.kind == "api")).all()
        assert all(row.revoked_at is not None and row.reuse_detected for row in family)
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "token.refresh_reuse_detected"))
        assert event.outcome == "denied" and event.details["sessions_revoked"] >= 1


def test_signing_out_ends_the_api_session(client):
    pair = sign_in(client).get_json()
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401


def test_api_sessions_do_not_work_as_browser_cookies(app, client):
    """The hashes share a table; the kinds must never stand in for each other."""
    pair = sign_in(client).get_json()
    with client.session_transaction() as session:
        session["_user_id"] = pair["access_token"]
    assert client.get("/account/").status_code == 302
