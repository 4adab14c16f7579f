"""Signing in and out: generic failures, CSRF, same-site `next`, audit (SECURITY.md 5, 17, 22, 23)."""
from __future__ import annotations

import bcrypt
import pytest

from sanctum.auth.service import GENERIC_LOGIN_FAILURE
from tests.support.accounts import PASSWORD, audit_events, csrf_token, make_user, signed_in_user


def session_ids(app) -> list[int]:
    from sanctum.extensions import db
    from sanctum.models import UserSession

    with app.app_context():
        return list(db.session.scalars(db.select(UserSession.id).order_by(UserSession.id)))


def test_a_person_signs_in_with_their_username(client, auth):
    response = auth.login("ursula")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in_user(client) == "ursula"


def test_a_person_signs_in_with_their_email_in_any_case(client, auth):
    auth.login("Ursula@Example.TEST")
    assert signed_in_user(client) == "ursula"


def test_the_username_is_matched_without_regard_to_case(client, auth):
    auth.login("URSULA")
    assert signed_in_user(client) == "ursula"


def test_a_wrong_password_gets_the_generic_message(client, auth):
    response = auth.login("ursula", "not the right password at all")
    assert response.status_code == 422
    assert GENERIC_LOGIN_FAILURE.replace("'", "&#39;") in response.get_data(as_text=True)
    assert signed_in_user(client) is None


def test_an_unknown_user_and_a_wrong_password_get_the_same_status_and_body(client, auth):
    """Nothing in the answer tells whether the account exists (SECURITY.md 5)."""
    wrong = auth.login("ursula", "not the right password at all")
    unknown = auth.login("nobody-here", "not the right password at all")
    assert wrong.status_code == unknown.status_code == 422
    assert (wrong.get_data(as_text=True).replace("ursula", "NAME")
            == unknown.get_data(as_text=True).replace("nobody-here", "NAME"))


def test_an_unknown_user_costs_one_bcrypt_check_at_the_configured_cost_like_a_wrong_password(app, auth, monkeypatch):
    """Similar time without a wall clock: both paths do exactly one bcrypt check of the same cost."""
    calls = []
    real = bcrypt.checkpw

    def spy(password, hashed):
        calls.append(int(hashed.split(b"$")[2]))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    auth.login("ursula", "not the right password at all")
    wrong_password = list(calls)
    calls.clear()
    auth.login("nobody-here", "not the right password at all")
    assert wrong_password == calls == [app.config["BCRYPT_ROUNDS"]]


def test_an_unknown_email_costs_the_same_bcrypt_check_as_a_wrong_password(app, auth, monkeypatch):
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda p, h: calls.append(h) or real(p, h))
    auth.login("nobody@example.test", "not the right password at all")
    assert len(calls) == 1


def test_sign_in_without_the_csrf_token_does_not_sign_in(client):
    client.get("/login")
    response = client.post("/login", data={"identifier": "ursula", "password": PASSWORD})
    assert response.status_code == 400
    assert signed_in_user(client) is None


def test_sign_in_with_another_browsers_csrf_token_does_not_sign_in(app, client):
    other = app.test_client()
    token = csrf_token(other)
    client.get("/login")
    response = client.post("/login", data={"identifier": "ursula", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 400
    assert signed_in_user(client) is None


def test_sign_out_without_the_csrf_token_keeps_the_session(client, auth):
    auth.login("ursula")
    response = client.post("/logout")
    assert response.status_code == 400
    assert signed_in_user(client) == "ursula"


def test_sign_out_by_get_is_not_allowed(client, auth):
    auth.login("ursula")
    assert client.get("/logout").status_code == 405
    assert signed_in_user(client) == "ursula"


def test_sign_out_ends_the_session(client, auth):
    auth.login("ursula")
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert signed_in_user(client) is None


def test_a_protected_page_sends_to_sign_in_and_back(client, auth):
    response = client.get("/account/sessions")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/account/sessions"
    response = auth.login("ursula", next="/account/sessions")
    assert response.headers["Location"] == "/account/sessions"


def test_a_same_site_next_with_a_query_is_kept(auth):
    response = auth.login("ursula", next="/account/sessions?tab=all")
    assert response.headers["Location"] == "/account/sessions?tab=all"


@pytest.mark.parametrize("target", [
    "//evil.com", "https://evil.com", "/\\evil.com", "javascript:alert(1)", "http:/evil.com",
    "\\\\evil.com", " //evil.com", "/\t/evil.com", "//evil.com/%2F..", "evil.com",
])
def test_next_never_leaves_the_site(auth, target):
    response = auth.login("ursula", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com", "/\\evil.com", "javascript:alert(1)"])
def test_a_foreign_next_in_the_address_is_not_carried_into_the_form(client, target):
    body = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert "evil.com" not in body and "javascript:" not in body


def test_a_signed_in_person_visiting_the_login_page_is_sent_on(client, auth):
    auth.login("ursula")
    response = client.get("/login?next=https://evil.com")
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize(("status", "words"), [
    ("pending", "waiting for an administrator"),
    ("inactive", "deactivated"),
    ("locked", "locked by an administrator"),
])
def test_an_account_that_is_not_active_cannot_sign_in_even_with_the_right_password(app, client, auth, status, words):
    make_user(app, "sam", status=status)
    response = auth.login("sam")
    assert response.status_code == 422
    assert words in response.get_data(as_text=True)
    assert signed_in_user(client) is None


def test_a_successful_sign_in_is_audited_with_who_where_and_the_request_id(app, client):
    client.get("/login")
    token = csrf_token(client)
    client.post("/login", data={"identifier": "ursula", "password": PASSWORD, "csrf_token": token},
                headers={"User-Agent": "Firefox/128 (X11; Linux)"}, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    [event] = audit_events(app, "auth.login_succeeded")
    assert event.actor_label == "ursula" and event.target_type == "user" and event.outcome == "success"
    assert event.ip == "198.51.100.7" and event.user_agent.startswith("Firefox")
    assert event.request_id and event.created_at.utcoffset().total_seconds() == 0
    assert event.details == {"session": session_ids(app)[0], "remember": False}


def test_a_failed_sign_in_is_audited_without_the_password(app, auth):
    auth.login("ursula", "my secret guess number one")
    auth.login("nobody-here", "my secret guess number two")
    events = audit_events(app, "auth.login_failed")
    assert [(e.outcome, e.details["identifier"], e.details["reason"]) for e in events] == [
        ("failure", "ursula", "bad_password"), ("failure", "nobody-here", "unknown_user")]
    assert all("secret guess" not in str(e.details) for e in events)


def test_sign_out_is_audited(app, auth):
    auth.login("ursula")
    auth.logout()
    [event] = audit_events(app, "auth.logout")
    assert event.actor_label == "ursula" and event.outcome == "success"
    assert event.details == {"session": session_ids(app)[0]}


def test_the_login_page_labels_every_field(client):
    body = client.get("/login").get_data(as_text=True)
    for field_id in ("identifier", "password", "remember"):
        assert f'<label for="{field_id}">' in body
