"""Sign-up in the three registration modes, and the verification mail it sends."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import User
from sanctum.settings.service import set_setting
from tests.support.accounts import AuthActions, audit_events, csrf_token, signed_in_user
from tests.support.mail import link_in, local_path, outbox_mails

STRONG = "seven otters juggling teacups"


def set_mode(app, mode):
    with app.app_context():
        set_setting("registration_mode", mode, actor=None)
        db.session.commit()


def register(client, username="newbie", email="newbie@example.com", password=STRONG, **extra):
    data = {"username": username, "email": email, "password": password, "confirm": password,
            "display_name": "New Bie", "csrf_token": csrf_token(client, "/register")}
    data.update(extra)
    return client.post("/register", data=data)


def find(app, username="newbie"):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is not None:
            db.session.expunge(user)
        return user


def test_sign_up_is_closed_by_default(app, client):
    body = client.get("/register").get_data(as_text=True)
    assert "by invitation only" in body and 'name="password"' not in body


def test_a_sign_up_posted_while_closed_creates_nothing(app, client):
    register(client)
    assert find(app) is None


def test_the_login_page_offers_sign_up_only_when_it_is_open(app, client):
    assert "Create an account" not in client.get("/login").get_data(as_text=True)
    set_mode(app, "open")
    assert "Create an account" in client.get("/login").get_data(as_text=True)


def test_open_sign_up_creates_an_active_unverified_account_that_can_sign_in(app, client):
    set_mode(app, "open")
    response = register(client)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    user = find(app)
    assert (user.status, user.role.name, user.email_verified, user.display_name) == ("active", "user", False, "New Bie")
    AuthActions(client).login("newbie", STRONG)
    assert signed_in_user(client) == "newbie"


def test_sign_up_is_audited(app, client):
    set_mode(app, "open")
    register(client)
    [event] = audit_events(app, "auth.registered")
    assert event.details["username"] == "newbie" and event.details["status"] == "active"
    assert STRONG not in str(event.details)


def test_sign_up_mails_a_confirmation_link_under_the_configured_base_url(app, client):
    set_mode(app, "open")
    register(client)
    [mail] = outbox_mails(app, "newbie@example.com")
    assert mail.subject == "Confirm your email address for Sanctum"
    assert local_path(link_in(mail.body), app.config["BASE_URL"]).startswith("/verify?token=")


def test_approval_mode_creates_a_pending_account_that_cannot_sign_in_yet(app, client):
    set_mode(app, "approval")
    response = register(client)
    assert response.status_code == 302
    assert find(app).status == "pending"
    answer = AuthActions(client).login("newbie", STRONG)
    assert "waiting for an administrator" in answer.get_data(as_text=True)
    assert signed_in_user(client) is None


def test_approval_mode_says_an_administrator_will_review(app, client):
    set_mode(app, "approval")
    assert "reviews new accounts" in client.get("/register").get_data(as_text=True)
    register(client)
    body = client.get("/login").get_data(as_text=True)  # the flash shows where the redirect lands
    assert "An administrator will review your account" in body


def test_sign_up_refuses_a_common_password(app, client):
    set_mode(app, "open")
    response = register(client, password="qwerty123456789")
    assert response.status_code == 422
    assert "most common" in response.get_data(as_text=True)
    assert find(app) is None


def test_sign_up_refuses_a_short_password(app, client):
    set_mode(app, "open")
    response = register(client, password="short but 14ch")
    assert response.status_code == 422 and find(app) is None


def test_sign_up_refuses_mismatched_passwords(app, client):
    set_mode(app, "open")
    response = register(client, confirm="something else entirely")
    assert response.status_code == 422 and find(app) is None


@pytest.mark.parametrize(("username", "email", "field_message"), [
    ("URSULA", "fresh@example.com", "That username is taken."),
    ("fresh", "ursula@example.test", "An account already uses that email address."),
])
def test_sign_up_refuses_a_taken_username_or_email(app, client, username, email, field_message):
    set_mode(app, "open")
    with app.app_context():  # the seeded address is not one the form would accept: give it one that is
        user = db.session.scalar(select(User).where(User.username == "ursula"))
        user.email = "ursula@example.com"
        db.session.commit()
    response = register(client, username=username, email=email.replace("example.test", "example.com"))
    assert response.status_code == 422
    assert field_message in response.get_data(as_text=True)


def test_sign_up_without_the_csrf_token_creates_nothing(app, client):
    set_mode(app, "open")
    client.get("/register")
    client.post("/register", data={"username": "newbie", "email": "newbie@example.com",
                                   "password": STRONG, "confirm": STRONG})
    assert find(app) is None


def test_the_registration_mode_setting_refuses_unknown_modes(app):
    with app.app_context(), pytest.raises(ValueError):
        set_setting("registration_mode", "everyone", actor=None)


def test_the_registration_form_labels_every_field(app, client):
    set_mode(app, "open")
    body = client.get("/register").get_data(as_text=True)
    for field_id in ("username", "display_name", "email", "password", "confirm"):
        assert f'<label for="{field_id}">' in body
