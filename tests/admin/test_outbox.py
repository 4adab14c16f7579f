"""The dev outbox: with no SMTP server, mail is kept for admins to read, and logged without secrets."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import Mail
from tests.support.accounts import csrf_token, make_user
from tests.support.mail import link_in, outbox_mails

RITA = "rita@example.com"


@pytest.fixture
def reset_mail(app, client):
    make_user(app, "rita", email=RITA)
    client.post("/forgot", data={"email": RITA, "csrf_token": csrf_token(client, "/forgot")})
    [mail] = outbox_mails(app, RITA)
    return mail


def test_without_smtp_a_mail_is_kept_in_the_outbox(app, reset_mail):
    assert (reset_mail.transport, reset_mail.status) == ("outbox", "kept")
    assert "/reset?token=" in reset_mail.body


def test_an_admin_reads_the_kept_mail_and_its_link(app, client, auth, reset_mail):
    auth.login("admin")
    index = client.get("/admin/outbox").get_data(as_text=True)
    assert RITA in index and "Reset your Sanctum password" in index
    assert "No SMTP server is configured" in index
    page = client.get(f"/admin/outbox/{reset_mail.id}").get_data(as_text=True)
    assert link_in(reset_mail.body).replace("&", "&amp;") in page


@pytest.mark.parametrize("username", ["mod", "ursula", "vera"])
def test_only_admins_read_the_outbox(client, auth, reset_mail, username):
    auth.login(username)
    assert client.get("/admin/outbox").status_code == 403
    assert client.get(f"/admin/outbox/{reset_mail.id}").status_code == 403


def test_the_outbox_needs_signing_in(client, reset_mail):
    response = client.get(f"/admin/outbox/{reset_mail.id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_an_unknown_mail_is_not_found(client, auth):
    auth.login("admin")
    assert client.get("/admin/outbox/9999").status_code == 404
    assert client.get("/admin/outbox?page=0").status_code == 404


def test_the_outbox_pages_through_older_mail(app, client, auth):
    from sanctum.mail.service import queue_mail

    with app.test_request_context():
        for n in range(30):
            queue_mail(to=f"p{n}@example.com", subject=f"mail {n}", template="mail/verify_email.txt",
                       user=type("U", (), {"name": "x", "username": "x"})(), link="http://x/", hours=1,
                       changing=False)
        db.session.commit()
    auth.login("admin")
    first = client.get("/admin/outbox").get_data(as_text=True)
    assert "p29@example.com" in first and "p0@example.com" not in first and "Older" in first
    assert "p0@example.com" in client.get("/admin/outbox?page=2").get_data(as_text=True)


def test_a_kept_mail_is_logged_without_its_body_or_link(app, client, caplog):
    make_user(app, "rita", email=RITA)
    with caplog.at_level(logging.DEBUG):
        client.post("/forgot", data={"email": RITA, "csrf_token": csrf_token(client, "/forgot")})
    [mail] = outbox_mails(app, RITA)
    token = link_in(mail.body).split("token=", 1)[1]
    assert "kept in the outbox" in caplog.text
    assert token not in caplog.text and "reset?token" not in caplog.text


def test_with_smtp_configured_nothing_is_kept_for_the_outbox(smtp, app, client):
    make_user(app, "rita", email=RITA)
    client.post("/forgot", data={"email": RITA, "csrf_token": csrf_token(client, "/forgot")})
    smtp.wait_for(RITA)
    with app.app_context():
        assert db.session.scalars(select(Mail.transport)).all() == ["smtp"]


def test_with_smtp_configured_the_outbox_does_not_claim_otherwise(smtp, app, client, auth):
    auth.login("admin")
    body = client.get("/admin/outbox").get_data(as_text=True)
    assert "No SMTP server is configured" not in body
    assert smtp.host in body


def test_the_outbox_lists_mail_newest_first_and_shows_a_body(app, client, auth):
    auth.login("admin")
    for n in range(3):
        auth.post("/admin/invitations", {"email": f"r{n}@example.org", "role": "user", "expires": "7"},
                  page="/admin/invitations")
    response = client.get("/admin/outbox")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.index("r2@example.org") < body.index("r0@example.org")
    assert "Page 1 · 3 mails" in body
    mail = client.get("/admin/outbox/1").get_data(as_text=True)
    assert "/invitations/accept?token=" in mail and "r0@example.org" in mail


