"""Password reset by mail: same answer for any address, single use, one hour, ends every session
(SECURITY.md 5, 12, 23)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import bcrypt
import pytest
import time_machine
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import Mail, User
from tests.support.accounts import (
    PASSWORD, AuthActions, audit_events, can_sign_in, csrf_token, make_user, replay_cookie, session_cookie,
    signed_in_user,
)
from tests.support.mail import link_in, local_path, outbox_link, outbox_mails

NEW = "a brand new passphrase for rita"
RITA = "rita@example.com"


@pytest.fixture
def rita(app):
    return make_user(app, "rita", email=RITA)


def ask_for_reset(client, email=RITA, base_url="http://localhost", **kwargs):
    token = csrf_token(client, "/forgot", base_url=base_url)
    return client.post("/forgot", data={"email": email, "csrf_token": token}, base_url=base_url, **kwargs)


def choose(client, link, password=NEW, confirm=None):
    """Open the mailed link and submit the form on it, as a person would."""
    page = client.get(link)
    assert page.status_code == 200, page.status_code
    token = link.split("token=", 1)[1]
    return client.post("/reset", data={"token": token, "new_password": password, "confirm": confirm or password,
                                       "csrf_token": csrf_token(client, link)})


def test_a_known_and_an_unknown_address_get_the_same_answer(app, client, rita):
    known = ask_for_reset(client, RITA, follow_redirects=True)
    unknown = ask_for_reset(client, "nobody@example.com", follow_redirects=True)
    assert known.status_code == unknown.status_code == 200
    assert known.request.path == unknown.request.path == "/login"
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)


def test_a_known_and_an_unknown_address_cost_the_same_hashing(app, client, rita, monkeypatch):
    """Similar time without a wall clock: neither path does password hashing the other skips."""
    calls = []
    for name in ("checkpw", "hashpw"):
        real = getattr(bcrypt, name)
        monkeypatch.setattr(bcrypt, name, lambda *a, _real=real, _name=name: calls.append(_name) or _real(*a))
    ask_for_reset(client, RITA)
    known = list(calls)
    calls.clear()
    ask_for_reset(client, "nobody@example.com")
    assert known == calls


def test_only_a_known_address_receives_a_mail(app, client, rita):
    ask_for_reset(client, "nobody@example.com")
    ask_for_reset(client, RITA)
    with app.app_context():
        assert [m.to_address for m in db.session.scalars(select(Mail))] == [RITA]


def test_the_mailed_link_points_at_the_configured_site_not_the_requests_host(app, client, rita):
    ask_for_reset(client, RITA, base_url="http://evil.example")
    body = outbox_mails(app, RITA)[-1].body
    assert link_in(body).startswith(app.config["BASE_URL"] + "/reset?token=")
    assert "evil.example" not in body


def test_opening_the_link_changes_nothing_until_the_form_is_sent(app, client, rita):
    ask_for_reset(client)
    link = outbox_link(app, RITA)
    assert client.get(link).status_code == 200
    assert client.get(link).status_code == 200  # GET did not use the token up
    assert can_sign_in(app, "rita", PASSWORD)


def test_following_the_link_sets_the_new_password(app, client, rita):
    ask_for_reset(client)
    response = choose(client, outbox_link(app, RITA))
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert can_sign_in(app, "rita", NEW)
    assert not can_sign_in(app, "rita", PASSWORD)


def test_a_reset_ends_every_session_of_the_account(app, client, rita):
    elsewhere = app.test_client()
    AuthActions(elsewhere).login("rita")
    stolen = session_cookie(app, elsewhere)
    ask_for_reset(client)
    choose(client, outbox_link(app, RITA))
    assert signed_in_user(elsewhere) is None
    replay_cookie(app, elsewhere, stolen)
    assert signed_in_user(elsewhere) is None


def test_the_link_works_only_once(app, client, rita):
    ask_for_reset(client)
    link = outbox_link(app, RITA)
    choose(client, link)
    again = client.get(link)
    assert again.status_code == 422
    assert "expired or was already used" in again.get_data(as_text=True)
    token = link.split("token=", 1)[1]
    replay = client.post("/reset", data={"token": token, "new_password": "yet another new passphrase",
                                         "confirm": "yet another new passphrase", "csrf_token": csrf_token(client)})
    assert replay.status_code == 422
    assert can_sign_in(app, "rita", NEW)


def test_the_link_still_works_after_59_minutes(app, client, rita):
    ask_for_reset(client)
    link = outbox_link(app, RITA)
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=59)):
        assert choose(client, link).status_code == 302


def test_the_link_expires_after_an_hour(app, client, rita):
    ask_for_reset(client)
    link = outbox_link(app, RITA)
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=61)):
        response = client.get(link)
        assert response.status_code == 422
        assert "expired or was already used" in response.get_data(as_text=True)
    assert can_sign_in(app, "rita", PASSWORD)


def test_a_newer_link_replaces_the_older_one(app, client, rita):
    ask_for_reset(client)
    first = outbox_link(app, RITA)
    ask_for_reset(client)
    assert client.get(first).status_code == 422
    assert choose(client, outbox_link(app, RITA)).status_code == 302


def test_a_reset_refuses_a_common_password_and_keeps_the_link_usable(app, client, rita):
    ask_for_reset(client)
    link = outbox_link(app, RITA)
    refused = choose(client, link, password="1q2w3e4r5t6y7u8i9o0p")
    assert refused.status_code == 422
    assert "most common" in refused.get_data(as_text=True)
    assert choose(client, link).status_code == 302


def test_a_reset_refuses_a_password_shorter_than_15_characters(app, client, rita):
    ask_for_reset(client)
    refused = choose(client, outbox_link(app, RITA), password="fourteen chars")
    assert refused.status_code == 422 and can_sign_in(app, "rita", PASSWORD)


def test_a_reset_lifts_a_sign_in_lockout(app, client, rita):
    for _ in range(5):
        AuthActions(app.test_client()).login("rita", "wrong guess number something")
    ask_for_reset(client)
    choose(client, outbox_link(app, RITA))
    assert can_sign_in(app, "rita", NEW)


def test_a_reset_confirms_the_address_it_was_mailed_to(app, client):
    user_id = make_user(app, "rita", email=RITA, verified=False)
    ask_for_reset(client)
    choose(client, outbox_link(app, RITA))
    with app.app_context():
        assert db.session.get(User, user_id).email_verified


def test_request_and_use_are_audited_without_the_token(app, client, rita):
    ask_for_reset(client)
    ask_for_reset(client, "nobody@example.com")
    link = outbox_link(app, RITA)
    choose(client, link)
    requested = audit_events(app, "auth.password_reset_requested")
    assert [(e.actor_label, e.outcome) for e in requested] == [("rita", "success"), (None, "failure")]
    [used] = audit_events(app, "auth.password_reset_completed")
    assert used.actor_label == "rita"
    token = link.split("token=", 1)[1]
    assert all(token not in repr(e.details) for e in audit_events(app))


def test_too_many_requests_for_one_address_are_refused_with_the_wait(app, client, rita):
    for n in range(3):
        assert ask_for_reset(client, environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"}).status_code == 302
    response = ask_for_reset(client, environ_base={"REMOTE_ADDR": "192.0.2.9"})
    assert response.status_code == 429
    assert "Too many reset requests" in response.get_data(as_text=True)
    assert len(outbox_mails(app, RITA)) == 3


def test_the_reset_mail_arrives_over_smtp_and_its_link_works(smtp, app, client, rita):
    """The whole path a person takes: a real SMTP server on loopback, the link in the mail."""
    ask_for_reset(client)
    [received] = smtp.wait_for(RITA)
    assert received.subject == "Reset your Sanctum password"
    assert received.message["From"] == app.config["MAIL_FROM"]
    link = local_path(link_in(received.body), app.config["BASE_URL"])
    assert choose(client, link).status_code == 302
    assert can_sign_in(app, "rita", NEW)


def test_a_mail_sent_over_smtp_is_marked_sent_and_its_body_discarded(smtp, app, client, rita, wait_for_job):
    from sanctum.models import JobRecord

    ask_for_reset(client)
    smtp.wait_for(RITA)
    with app.app_context():
        job_id = db.session.scalar(select(JobRecord.id).where(JobRecord.name == "sanctum.mail.jobs.send_mail"))
    assert wait_for_job(job_id).status == "succeeded"
    [mail] = outbox_mails(app, RITA)
    assert (mail.transport, mail.status, mail.body) == ("smtp", "sent", None)


def test_links_keep_the_path_of_a_base_url_served_under_a_prefix(app_config, database):
    from sanctum import create_app
    from sanctum.auth.service import external_url
    from tests.conftest import shutdown

    app_config["BASE_URL"] = "https://panel.example.org/sanctum/"
    app = create_app(app_config)
    try:
        with app.app_context():
            assert external_url("auth.auth_reset", token="abc") == "https://panel.example.org/sanctum/reset?token=abc"
    finally:
        shutdown(app)
