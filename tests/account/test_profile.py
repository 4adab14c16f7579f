"""One's own profile, password and email (SECURITY.md 1-3, 12, 23)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import User
from tests.support.accounts import (
    PASSWORD, AuthActions, audit_events, can_sign_in, csrf_token, make_user, replay_cookie, session_cookie,
    signed_in_user,
)
from tests.support.mail import outbox_link, outbox_mails

NEW = "otters hold hands while sleeping"
LONG_UNICODE = ("Jérôme's fünf Äpfel, 三つの桜, ελιά και ψωμί — and a 🦦 holding hands with another 🦦 " * 2)[:140]


def change_password(auth, current=PASSWORD, new=NEW, confirm=None):
    return auth.post("/account/password", {"current_password": current, "new_password": new,
                                            "confirm": confirm or new})


@pytest.fixture
def ursula(client, auth):
    auth.login("ursula")
    return auth


def test_the_profile_page_shows_the_account_and_labels_its_forms(client, ursula):
    body = client.get("/account/").get_data(as_text=True)
    assert "<dd>ursula</dd>" in body and "ursula@example.test" in body
    for field_id in ("display_name", "current_password", "new_password", "confirm", "email", "password"):
        assert f'<label for="{field_id}">' in body


def test_the_display_name_can_be_changed(app, client, ursula):
    response = ursula.post("/account/profile", {"display_name": "Ursula K."})
    assert response.status_code == 302
    assert "Ursula K." in client.get("/account/").get_data(as_text=True)
    [event] = audit_events(app, "user.profile_updated")
    assert event.details["after"] == {"display_name": "Ursula K."}


def test_changing_the_password_needs_the_current_one(app, client, ursula):
    response = change_password(ursula, current="not my current password")
    assert response.status_code == 422
    assert "current password is not right" in response.get_data(as_text=True)
    assert can_sign_in(app, "ursula", PASSWORD) and not can_sign_in(app, "ursula", NEW)
    [event] = audit_events(app, "auth.password_change_failed")
    assert event.outcome == "failure"


def test_a_password_change_with_the_current_password_takes_effect(app, ursula):
    response = change_password(ursula)
    assert response.status_code == 302
    assert can_sign_in(app, "ursula", NEW) and not can_sign_in(app, "ursula", PASSWORD)


def test_a_password_change_refuses_a_common_password(app, ursula):
    response = change_password(ursula, new="1q2w3e4r5t6y7u8i9o0p")
    assert response.status_code == 422
    assert "most common" in response.get_data(as_text=True)
    assert can_sign_in(app, "ursula", PASSWORD)


def test_a_password_change_refuses_14_characters(app, ursula):
    response = change_password(ursula, new="fourteen chars")
    assert response.status_code == 422 and can_sign_in(app, "ursula", PASSWORD)


def test_a_140_character_unicode_password_with_spaces_works_in_full(app, ursula):
    assert len(LONG_UNICODE) == 140
    assert change_password(ursula, new=LONG_UNICODE).status_code == 302
    assert can_sign_in(app, "ursula", LONG_UNICODE)
    assert not can_sign_in(app, "ursula", LONG_UNICODE[:-1] + "x")
    assert not can_sign_in(app, "ursula", LONG_UNICODE[:72])


def test_a_password_change_ends_the_other_sessions_but_not_this_one(app, client, ursula):
    laptop, phone = app.test_client(), app.test_client()
    AuthActions(laptop).login("ursula")
    AuthActions(phone).login("ursula")
    stolen = session_cookie(app, phone)
    change_password(ursula)
    assert signed_in_user(client) == "ursula"
    assert signed_in_user(laptop) is None and signed_in_user(phone) is None
    replay_cookie(app, phone, stolen)
    assert signed_in_user(phone) is None


def test_a_password_change_says_how_many_sessions_ended(app, client, ursula):
    AuthActions(app.test_client()).login("ursula")
    change_password(ursula)
    assert "1 other session was signed out" in client.get("/account/").get_data(as_text=True)


def test_a_password_change_is_audited_without_either_password(app, ursula):
    change_password(ursula)
    [event] = audit_events(app, "auth.password_changed")
    assert event.actor_label == "ursula" and event.details == {"sessions_ended": 0}
    everything = repr([e.details for e in audit_events(app)])
    assert PASSWORD not in everything and NEW not in everything


def test_a_password_change_closes_the_other_sessions_websockets_at_once(app, client, ursula, live_server):
    from simple_websocket import Client, ConnectionClosed

    other = app.test_client()
    AuthActions(other).login("ursula")
    cookie = f"sanctum_session={session_cookie(app, other)}"
    ws = Client.connect(live_server.ws_url + "/ws", headers={"Origin": "http://127.0.0.1", "Cookie": cookie})
    assert json.loads(ws.receive(timeout=5))["type"] == "hello"
    change_password(ursula)
    with pytest.raises(ConnectionClosed) as closed:
        for _ in range(5):
            ws.receive(timeout=2)
    assert closed.value.reason == 1008


# ---------------------------------------------------------------- email

def change_email(auth, email="ursula.new@example.com", password=PASSWORD):
    return auth.post("/account/email", {"email": email, "password": password})


def email_of(app, username="ursula") -> str:
    with app.app_context():
        return db.session.scalar(select(User.email).where(User.username == username))


def test_changing_the_email_needs_the_password(app, ursula):
    response = change_email(ursula, password="not my password at all")
    assert response.status_code == 422
    assert "password is not right" in response.get_data(as_text=True)
    assert outbox_mails(app, "ursula.new@example.com") == []
    [event] = audit_events(app, "auth.email_change_failed")
    assert event.outcome == "failure"


def test_the_new_email_takes_effect_only_once_its_link_is_followed(app, client, ursula):
    assert change_email(ursula).status_code == 302
    assert email_of(app) == "ursula@example.test"
    link = outbox_link(app, "ursula.new@example.com")
    client.get(link)
    token = link.split("token=", 1)[1]
    client.post("/verify", data={"token": token, "csrf_token": csrf_token(client, link)})
    assert email_of(app) == "ursula.new@example.com"
    [event] = audit_events(app, "auth.email_changed")
    assert event.details == {"before": "ursula@example.test", "after": "ursula.new@example.com"}


def test_the_change_mail_goes_to_the_new_address_and_says_so(app, ursula):
    change_email(ursula)
    [mail] = outbox_mails(app, "ursula.new@example.com")
    assert "change the email address" in mail.body
    assert outbox_mails(app, "ursula@example.test") == []


def test_an_email_change_request_is_audited(app, ursula):
    change_email(ursula)
    [event] = audit_events(app, "auth.email_change_requested")
    assert event.details == {"new_email": "ursula.new@example.com"}


def test_an_address_another_account_uses_is_refused(app, ursula):
    make_user(app, "other", email="taken@example.com")
    response = change_email(ursula, email="taken@example.com")
    assert response.status_code == 422
    assert outbox_mails(app, "taken@example.com") == []


def test_an_address_taken_after_the_request_is_refused_when_the_link_is_followed(app, client, ursula):
    change_email(ursula, email="contested@example.com")
    make_user(app, "quick", email="contested@example.com")
    link = outbox_link(app, "contested@example.com")
    client.get(link)
    response = client.post("/verify", data={"token": link.split("token=", 1)[1],
                                            "csrf_token": csrf_token(client, link)})
    assert response.status_code == 422
    assert "already uses that email address" in response.get_data(as_text=True)
    assert email_of(app) == "ursula@example.test"
    assert email_of(app, "quick") == "contested@example.com"
