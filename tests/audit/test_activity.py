"""Does every user see their own security events — and only theirs?"""
from __future__ import annotations

import re

from tests.support.accounts import AuthActions
from tests.support.audit import last_event


def test_a_user_sees_their_sign_ins_with_address_and_device(app, client, auth):
    client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0"
    auth.login("ursula", "wrong password, sadly")
    auth.login("ursula")
    body = client.get("/account/activity").get_data(as_text=True)
    assert "auth.login_succeeded" in body and "auth.login_failed" in body
    assert "127.0.0.1" in body and "Chrome on Windows" in body


def test_nobody_elses_events_show(app, client, auth):
    AuthActions(app.test_client()).login("vera")
    auth.login("ursula")
    body = client.get("/account/activity").get_data(as_text=True)
    rows = re.findall(r'id="activity-(\d+)"', body)
    vera = {str(e.seq) for e in _events_of(app, "vera")}
    assert rows and vera and not set(rows) & vera


def _events_of(app, username):
    from tests.support.audit import events

    return [e for e in events(app) if e.actor_label == username]


def test_what_an_admin_did_to_me_shows_without_their_address(app, client, auth):
    admin = app.test_client()
    AuthActions(admin).login("admin")
    from sqlalchemy import select

    from sanctum.extensions import db
    from sanctum.models import Role, User

    with app.app_context():
        ursula = db.session.scalar(select(User.id).where(User.username == "ursula"))
        viewer = db.session.scalar(select(Role.id).where(Role.name == "viewer"))
    AuthActions(admin).post(f"/admin/users/{ursula}/role", {"role": viewer}, page="/admin/roles")
    assigned = last_event(app, "role.assigned")
    auth.login("ursula")
    row = re.search(rf'<tr id="activity-{assigned.seq}">.*?</tr>', client.get("/account/activity").get_data(as_text=True), re.S)
    assert row and "admin" in row.group(0) and "127.0.0.1" not in row.group(0)
    detail = client.get(f"/account/activity/{assigned.seq}").get_data(as_text=True)
    assert "role.assigned" in detail and "IP address" not in detail and "Previous hash" not in detail


def test_another_users_event_is_not_found(app, client, auth):
    AuthActions(app.test_client()).login("vera")
    theirs = last_event(app, "auth.login_succeeded")
    auth.login("ursula")
    assert client.get(f"/account/activity/{theirs.seq}").status_code == 404
    assert client.get("/account/activity/99999").status_code == 404
