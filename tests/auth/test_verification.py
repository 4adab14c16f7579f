"""Email verification: a single-use, expiring link whose GET only shows a button."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import AccountToken, User
from tests.support.accounts import AuthActions, audit_events, csrf_token, make_user
from tests.support.mail import outbox_link, outbox_mails


@pytest.fixture
def rita(app):
    """An unverified account with an address the forms accept, and a confirmation mail sent."""
    from sanctum.auth.service import send_verification

    user_id = make_user(app, "rita", email="rita@example.com", verified=False)
    with app.app_context():
        send_verification(db.session.get(User, user_id))
        db.session.commit()
    return user_id


def verified(app, user_id) -> bool:
    with app.app_context():
        return db.session.get(User, user_id).email_verified


def confirm(client, link):
    """Open the mailed link and press its button, as a person would."""
    page = client.get(link)
    token = link.split("token=", 1)[1]
    return page, client.post("/verify", data={"token": token, "csrf_token": csrf_token(client, link)})


def test_opening_the_link_only_shows_a_button(app, client, rita):
    response = client.get(outbox_link(app, "rita@example.com"))
    assert response.status_code == 200
    assert "Confirm my email address" in response.get_data(as_text=True)
    assert not verified(app, rita)


def test_pressing_the_button_confirms_the_address(app, client, rita):
    _, response = confirm(client, outbox_link(app, "rita@example.com"))
    assert response.status_code == 302
    assert verified(app, rita)
    [event] = audit_events(app, "auth.email_verified")
    assert event.details == {"email": "rita@example.com"}


def test_the_link_works_only_once(app, client, rita):
    link = outbox_link(app, "rita@example.com")
    confirm(client, link)
    page, again = confirm(client, link)
    assert again.status_code == 422
    assert "expired or was already used" in again.get_data(as_text=True)


def test_the_link_expires_after_the_configured_hours(app, client, rita):
    link = outbox_link(app, "rita@example.com")
    later = datetime.now(timezone.utc) + timedelta(hours=app.config["VERIFY_TOKEN_HOURS"], minutes=1)
    with time_machine.travel(later, tick=False):
        _, response = confirm(client, link)
    assert response.status_code == 422 and not verified(app, rita)


def test_a_made_up_token_is_refused(app, client, rita):
    response = client.post("/verify", data={"token": "made-up", "csrf_token": csrf_token(client)})
    assert response.status_code == 422 and not verified(app, rita)


def test_only_the_hash_of_the_token_is_stored(app, rita):
    token = outbox_link(app, "rita@example.com").split("token=", 1)[1]
    with app.app_context():
        row = db.session.scalar(select(AccountToken).where(AccountToken.user_id == rita))
        assert token not in (row.token_hash, row.email)
        assert len(token) >= 43  # 256 bits, URL-safe


def test_asking_again_sends_a_new_link_and_the_old_one_stops_working(app, client, rita):
    old = outbox_link(app, "rita@example.com")
    AuthActions(client).login("rita")
    response = client.post("/verify/resend", data={"csrf_token": csrf_token(client, "/account/")})
    assert response.status_code == 302
    assert len(outbox_mails(app, "rita@example.com")) == 2
    _, refused = confirm(client, old)
    assert refused.status_code == 422
    _, accepted = confirm(client, outbox_link(app, "rita@example.com"))
    assert accepted.status_code == 302 and verified(app, rita)


def test_a_confirmed_address_is_not_sent_another_link(app, client):
    AuthActions(client).login("ursula")
    client.post("/verify/resend", data={"csrf_token": csrf_token(client, "/account/")})
    assert outbox_mails(app, "ursula@example.test") == []


def test_the_confirmation_link_arrives_over_smtp_and_works(smtp, app, client):
    """A real SMTP server on loopback receives the mail; the test follows the link in it."""
    from sanctum.settings.service import set_setting
    from tests.support.mail import link_in, local_path

    with app.app_context():
        set_setting("registration_mode", "open", actor=None)
        db.session.commit()
    chosen = "seven otters juggling teacups"
    client.post("/register", data={"username": "sam", "email": "sam@example.com", "password": chosen,
                                   "confirm": chosen, "csrf_token": csrf_token(client, "/register")})
    [received] = smtp.wait_for("sam@example.com")
    assert received.subject == "Confirm your email address for Sanctum"
    link = local_path(link_in(received.body), app.config["BASE_URL"])
    _, response = confirm(client, link)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "sam")).email_verified
