"""The "where you are signed in" page: list, mark, revoke one, sign out everywhere else
(SECURITY.md 10, 13, 15, 17, 23)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import User, UserSession
from tests.support.accounts import (
    PASSWORD, AuthActions, audit_events, csrf_token, replay_cookie, session_cookie, signed_in_user,
)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


def sign_in_from(app, username, user_agent, ip):
    client = app.test_client()
    token = csrf_token(client)
    client.post("/login", data={"identifier": username, "password": PASSWORD, "csrf_token": token},
                headers={"User-Agent": user_agent}, environ_base={"REMOTE_ADDR": ip})
    assert signed_in_user(client) == username
    return client


def session_ids(app, username="ursula", active=True) -> list[int]:
    with app.app_context():
        query = select(UserSession.id).join(User).where(User.username == username).order_by(UserSession.id)
        if active:
            query = query.where(UserSession.revoked_at.is_(None))
        return list(db.session.scalars(query))


@pytest.fixture
def desk(app):
    """Ursula at her desk (Firefox on Linux); the sessions page is looked at from here."""
    return sign_in_from(app, "ursula", FIREFOX, "198.51.100.10")


@pytest.fixture
def phone(app, desk):
    return sign_in_from(app, "ursula", IPHONE, "203.0.113.20")


def revoke(client, session_id, **kwargs):
    return client.post(f"/account/sessions/{session_id}/revoke",
                       data={"csrf_token": csrf_token(client, "/account/sessions")}, **kwargs)


def test_the_page_lists_each_session_with_device_and_address(desk, phone):
    body = desk.get("/account/sessions").get_data(as_text=True)
    assert "Firefox on Linux" in body and "198.51.100.10" in body
    assert "Safari on iPhone" in body and "203.0.113.20" in body


def test_the_current_session_is_marked_and_has_no_revoke_button(app, desk, phone):
    body = desk.get("/account/sessions").get_data(as_text=True)
    desk_id, phone_id = session_ids(app)
    row = re.search(rf'<tr id="session-{desk_id}">(.*?)</tr>', body, re.S).group(1)
    assert "This session" in row and "/revoke" not in row
    other = re.search(rf'<tr id="session-{phone_id}">(.*?)</tr>', body, re.S).group(1)
    assert "This session" not in other and f"/account/sessions/{phone_id}/revoke" in other


def test_the_page_lists_only_ones_own_live_sessions(app, desk, phone):
    sign_in_from(app, "vera", FIREFOX, "192.0.2.99")
    AuthActions(phone).logout()
    body = desk.get("/account/sessions").get_data(as_text=True)
    assert "192.0.2.99" not in body and "203.0.113.20" not in body
    assert len(re.findall(r'<tr id="session-\d+">', body)) == 1


def test_revoking_a_session_signs_that_device_out(app, desk, phone):
    stolen = session_cookie(app, phone)
    _, phone_id = session_ids(app)
    response = revoke(desk, phone_id)
    assert response.status_code == 302 and response.headers["Location"] == "/account/sessions"
    assert signed_in_user(phone) is None
    replay_cookie(app, phone, stolen)
    assert signed_in_user(phone) is None
    assert signed_in_user(desk) == "ursula"


def test_revoking_a_session_is_audited(app, desk, phone):
    _, phone_id = session_ids(app)
    revoke(desk, phone_id)
    [event] = audit_events(app, "session.revoked")
    assert event.actor_label == "ursula" and event.target_type == "user" and event.outcome == "success"
    assert event.details == {"session": phone_id}  # which session: its row id, never its secret


def test_another_users_session_id_is_not_found(app, desk):
    vera = sign_in_from(app, "vera", FIREFOX, "192.0.2.99")
    [vera_session] = session_ids(app, "vera")
    assert revoke(desk, vera_session).status_code == 404
    assert signed_in_user(vera) == "vera"


def test_an_unknown_session_id_is_not_found_with_a_generic_page_and_request_id(desk):
    response = revoke(desk, 99999)
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] in body and "Traceback" not in body


def test_an_already_ended_session_is_not_found(app, desk, phone):
    _, phone_id = session_ids(app)
    AuthActions(phone).logout()
    assert revoke(desk, phone_id).status_code == 404


def test_the_current_session_is_ended_by_signing_out_not_by_revoking(app, desk):
    [desk_id] = session_ids(app)
    response = revoke(desk, desk_id, follow_redirects=True)
    assert "To end this session, sign out." in response.get_data(as_text=True)
    assert signed_in_user(desk) == "ursula"


def test_sign_out_everywhere_else_keeps_only_this_session(app, desk, phone):
    laptop = sign_in_from(app, "ursula", FIREFOX, "198.51.100.11")
    response = desk.post("/account/sessions/revoke-others",
                         data={"csrf_token": csrf_token(desk, "/account/sessions")}, follow_redirects=True)
    assert "Signed out 2 other sessions." in response.get_data(as_text=True)
    assert signed_in_user(desk) == "ursula"
    assert signed_in_user(phone) is None and signed_in_user(laptop) is None
    [event] = audit_events(app, "session.revoked_all")
    assert event.details["count"] == 2 and event.details["kept_current"] is True


def test_revoking_without_the_csrf_token_is_refused(app, desk, phone):
    _, phone_id = session_ids(app)
    assert desk.post(f"/account/sessions/{phone_id}/revoke").status_code == 400
    assert desk.post("/account/sessions/revoke-others").status_code == 400
    assert signed_in_user(phone) == "ursula"


def test_revoking_by_get_is_not_allowed(app, desk, phone):
    _, phone_id = session_ids(app)
    assert desk.get(f"/account/sessions/{phone_id}/revoke").status_code == 405
    assert desk.get("/account/sessions/revoke-others").status_code == 405
    assert signed_in_user(phone) == "ursula"


def test_htmx_revoke_answers_with_the_refreshed_table(app, desk, phone):
    _, phone_id = session_ids(app)
    response = revoke(desk, phone_id, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert body.lstrip().startswith('<section class="card" id="sessions"')
    assert f'id="session-{phone_id}"' not in body
    assert "That session is signed out." in body  # the flash rides along out of band


def test_the_sessions_page_needs_signing_in(client):
    response = client.get("/account/sessions")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_this_session_is_listed_first(app, desk, phone):
    phone.get("/account/")  # the phone was used last
    body = desk.get("/account/sessions").get_data(as_text=True)
    desk_id, _ = session_ids(app)
    assert re.findall(r'<tr id="session-(\d+)">', body)[0] == str(desk_id)
