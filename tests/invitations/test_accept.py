"""Does the accept page turn a live invitation into a verified account, once, and refuse
every link that is dead?"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from sanctum.extensions import db
from sanctum.models import AuditEvent, Invitation, Role, User
from sanctum.models.base import utcnow
from sanctum.settings.service import get_setting
from tests.support.accounts import PASSWORD, csrf_token
from tests.support.mail import last_link, path_of, token_of

NEW_PASSWORD = "a new lantern over quiet water"


@pytest.fixture
def invited(app, client, auth):
    """An invitation to newbie@example.org as viewer, and the path of its mailed link."""
    auth.login("admin")
    auth.post("/admin/invitations", {"email": "newbie@example.org", "role": "viewer", "expires": "7"},
              page="/admin/invitations")
    auth.logout()
    return path_of(last_link(app, "newbie@example.org"))


def accept(client, link_path, **fields):
    data = {"token": token_of("http://x" + link_path), "username": "newbie", "display_name": "New Bie",
            "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    data.update(fields)
    data["csrf_token"] = csrf_token(client, link_path)
    return client.post("/invitations/accept", data=data)


def account(app, username="newbie"):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        if user is not None:
            db.session.expunge(user)
        return user


def test_the_link_shows_a_form_for_username_and_password(client, invited):
    response = client.get(invited)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'value="newbie@example.org" readonly' in body
    assert "as <strong>viewer</strong>" in body
    for name in ("username", "password", "confirm", "token"):
        assert f'name="{name}"' in body
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"  # the URL holds the token


def test_the_form_posts_the_token_in_the_body_not_the_url(client, invited):
    body = client.get(invited).get_data(as_text=True)
    assert 'action="/invitations/accept"' in body


def test_accepting_creates_a_verified_active_account_with_the_invited_role(app, client, invited):
    response = accept(client, invited)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    user = account(app)
    assert (user.email, user.status, user.role.name, user.display_name) == \
           ("newbie@example.org", "active", "viewer", "New Bie")
    assert user.email_verified_at is not None
    with app.app_context():
        row = db.session.scalar(select(Invitation))
        assert (row.status, row.accepted_user_id) == ("accepted", user.id)
        accepted = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invitation.accepted"))
        assert accepted.actor_id == user.id
        assert accepted.details["before"] == {"status": "pending"}
        assert accepted.details["after"]["status"] == "accepted"
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created_from_invitation"))


def test_the_new_account_can_sign_in(app, client, auth, invited):
    accept(client, invited)
    response = auth.login("newbie", NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_link_works_only_once(app, client, invited):
    accept(client, invited)
    again = accept(client, invited, username="another")
    assert again.status_code == 422
    assert "expired, was revoked or was already used" in again.get_data(as_text=True)
    assert client.get(invited).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 5


def test_two_simultaneous_acceptances_create_one_account(app, invited):
    """The conditional UPDATE lets exactly one of two racing submissions through."""
    clients = [app.test_client(), app.test_client()]
    forms = []
    for n, c in enumerate(clients):
        forms.append({"token": token_of("http://x" + invited), "username": f"racer{n}", "password": NEW_PASSWORD,
                      "confirm": NEW_PASSWORD, "csrf_token": csrf_token(c, invited)})
    barrier, results = threading.Barrier(2), []

    def go(c, data):
        barrier.wait()
        results.append(c.post("/invitations/accept", data=data).status_code)

    threads = [threading.Thread(target=go, args=pair) for pair in zip(clients, forms)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [302, 422]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(User.username.like("racer%"))) == 1


def test_an_unknown_or_missing_token_is_refused_clearly(client):
    for path in ("/invitations/accept?token=not-a-real-token", "/invitations/accept"):
        response = client.get(path)
        assert response.status_code == 422
        assert "expired, was revoked or was already used" in response.get_data(as_text=True)


def test_an_expired_link_is_refused_even_before_the_expiry_job_runs(app, client, invited):
    with app.app_context():
        db.session.scalar(select(Invitation)).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert client.get(invited).status_code == 422
    assert accept(client, invited).status_code == 422
    assert account(app) is None


def test_a_taken_username_is_a_field_error_and_the_link_stays_usable(app, client, invited):
    response = accept(client, invited, username="Ursula")
    assert response.status_code == 422
    assert "That username is taken." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Invitation)).status == "pending"
    assert accept(client, invited).status_code == 302


def test_the_password_policy_applies(client, invited):
    response = accept(client, invited, password="polniypizdec0211", confirm="polniypizdec0211")
    assert response.status_code == 422
    assert "most common" in response.get_data(as_text=True)
    short = accept(client, invited, password="short", confirm="short")
    assert "at least 15 characters" in short.get_data(as_text=True)


def test_mismatched_passwords_are_a_form_error(client, invited):
    response = accept(client, invited, confirm="something else entirely here")
    assert response.status_code == 422
    assert "The passwords do not match." in response.get_data(as_text=True)


def test_an_address_that_got_an_account_meanwhile_is_explained(app, client, invited):
    from tests.support.accounts import make_user

    make_user(app, "early", email="newbie@example.org")
    response = accept(client, invited)
    assert response.status_code == 422
    assert "An account already uses this email address" in response.get_data(as_text=True)


def test_a_role_deleted_since_the_invitation_is_explained(app, client, auth):
    with app.app_context():
        from sanctum.rbac.service import create_role, delete_role

        admin = db.session.scalar(select(User).where(User.username == "admin"))
        create_role(name="temp", description="", permissions=["system.view"], actor=admin)
    auth.login("admin")
    auth.post("/admin/invitations", {"email": "temp@example.org", "role": "temp", "expires": "7"},
              page="/admin/invitations")
    auth.logout()
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        delete_role(role=db.session.scalar(select(Role).where(Role.name == "temp")), actor=admin)
    response = client.get(path_of(last_link(app, "temp@example.org")))
    assert response.status_code == 422
    assert "no longer exists" in response.get_data(as_text=True)


def test_acceptance_works_when_registration_is_closed(app, client, invited):
    with app.app_context():
        assert get_setting("registration_mode") == "closed"
    assert accept(client, invited).status_code == 302


def test_a_signed_in_person_is_asked_to_sign_out_first(client, auth, invited):
    auth.login("ursula")
    body = client.get(invited).get_data(as_text=True)
    assert "You are signed in as <strong>ursula</strong>" in body
    assert 'name="password"' not in body


def test_accepting_needs_the_csrf_token(client, invited):
    response = client.post("/invitations/accept", data={"token": token_of("http://x" + invited),
                                                        "username": "newbie", "password": NEW_PASSWORD,
                                                        "confirm": NEW_PASSWORD})
    assert response.status_code == 400


def test_the_raw_token_is_never_stored_or_audited(app, invited):
    token = token_of("http://x" + invited)
    with app.app_context():
        assert db.session.scalar(select(Invitation)).token_hash != token
        for event in db.session.scalars(select(AuditEvent)):
            assert token not in str(event.details)


def test_the_old_password_of_the_seeded_accounts_is_not_what_newcomers_get(app, client, invited):
    """Acceptance sets exactly the chosen password."""
    accept(client, invited)
    from sanctum.auth.passwords import verify_password

    user = account(app)
    assert verify_password(NEW_PASSWORD, user.password_hash)
    assert not verify_password(PASSWORD, user.password_hash)
