"""Do notifications land with their caller's transaction, reach the right people, and stay
private to their owner on the list page and its actions?"""
from __future__ import annotations

import queue
import re
from datetime import timedelta

from sqlalchemy import func, select

from sanctum import events
from sanctum.events.bus import wait_connected
from sanctum.extensions import db
from sanctum.models import Notification, User
from sanctum.models.base import utcnow
from sanctum.notifications import channel_for, notify, notify_permission
from tests.notifications.conftest import send, unread, user_id
from tests.support.accounts import csrf_token, make_user
from tests.support.queries import count_queries

HX = {"HX-Request": "true"}


def _rows(app, username=None):
    with app.app_context():
        query = select(Notification).order_by(Notification.id)
        if username:
            query = query.where(Notification.user_id == user_id(app, username))
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def test_a_notification_lands_with_the_callers_commit_and_only_then_is_announced(app):
    received: "queue.Queue[dict]" = queue.Queue()
    ursula = user_id(app, "ursula")
    with app.app_context():
        events.subscribe(channel_for(ursula), lambda _c, data: received.put(data))
        assert wait_connected()
        notify([ursula], "test.notice", "Rolled back")
        db.session.rollback()
        notify([ursula, ursula, None], "test.notice", "Kept", body="Details", link="/chat/")
        assert received.empty()  # nothing is said before the commit
        db.session.commit()
    assert received.get(timeout=5)["type"] == "notification:created"
    assert [(n.title, n.body, n.link) for n in _rows(app)] == [("Kept", "Details", "/chat/")]


def test_a_link_elsewhere_is_dropped(app):
    send(app, "ursula", link="https://evil.example/steal")
    send(app, "ursula", link="//evil.example/")
    assert [n.link for n in _rows(app)] == [None, None]


def test_notify_permission_reaches_role_holders_and_grantees_but_not_the_inactive(app, clock):
    from sanctum.rbac.service import grant_permission

    make_user(app, "gone", role="admin", status="inactive")
    make_user(app, "helper", role="user")
    make_user(app, "lapsed", role="user")
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        helper = db.session.scalar(select(User).where(User.username == "helper"))
        lapsed = db.session.scalar(select(User).where(User.username == "lapsed"))
        grant_permission(user=helper, permission="agents.manage", expires_at=None, actor=admin)
        grant_permission(user=lapsed, permission="agents.manage", expires_at=utcnow() + timedelta(hours=1),
                         actor=admin)
        db.session.commit()
    clock.shift(timedelta(hours=2))  # the lapsed grant has run out, though no job has marked it yet
    with app.app_context():
        with count_queries(app) as statements:
            notify_permission("agents.manage", "agent.unhealthy", "Agent Echo is down")
            reading = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        db.session.commit()
    assert len(reading) == 1, "the holders are found in one query, however many there are"
    names = {username for username in ("admin", "helper", "lapsed", "gone", "ursula", "mod") if _rows(app, username)}
    assert names == {"admin", "helper"}


def test_the_list_shows_my_notifications_newest_first_with_unread_marked(app, client, auth):
    send(app, "ursula", "First")
    second = send(app, "ursula", "Second")
    send(app, "vera", "Not yours")
    with app.app_context():
        db.session.get(Notification, second).read_at = utcnow()
        db.session.commit()
    auth.login("ursula")
    body = client.get("/notifications/").get_data(as_text=True)
    assert body.index("Second") < body.index("First")
    assert "Not yours" not in body
    assert re.search(r'class="notification notification-unread" id="notification-\d+"', body)
    assert 'aria-label="Notifications, 1 unread"' in body  # the bell in the header


def test_the_list_is_paginated(app, client, auth):
    from sanctum.notifications.service import PAGE_SIZE

    ursula = user_id(app, "ursula")
    with app.app_context():
        for n in range(PAGE_SIZE + 3):
            notify([ursula], "test.notice", f"Item {n:03d}")
        db.session.commit()
    auth.login("ursula")
    first = client.get("/notifications/").get_data(as_text=True)
    assert f"Item {PAGE_SIZE + 2:03d}" in first and "Item 000" not in first and "Older →" in first
    second = client.get("/notifications/?page=2").get_data(as_text=True)
    assert "Item 000" in second and "← Newer" in second
    assert client.get("/notifications/?page=0").status_code == 404


def test_marking_one_read_updates_the_list_and_the_bell(app, client, auth):
    first = send(app, "ursula", "First")
    send(app, "ursula", "Second")
    auth.login("ursula")
    token = csrf_token(client, "/notifications/")
    response = client.post(f"/notifications/{first}/read", data={"csrf_token": token}, headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    bell = re.search(r'<a [^>]*id="notification-bell"[^>]*>', body).group(0)
    assert 'hx-swap-oob="true"' in bell and "1 unread" in bell
    assert unread(app, "ursula") == 1


def test_marking_all_read(app, client, auth):
    for title in ("One", "Two", "Three"):
        send(app, "ursula", title)
    send(app, "vera", "Vera's")
    auth.login("ursula")
    response = client.post("/notifications/read-all", data={"csrf_token": csrf_token(client, "/notifications/")})
    assert response.status_code == 302
    assert unread(app, "ursula") == 0 and unread(app, "vera") == 1


def test_opening_a_notification_follows_its_link_and_marks_it_read(app, client, auth):
    mine = send(app, "ursula", "See the chat", link="/chat/")
    auth.login("ursula")
    response = client.post(f"/notifications/{mine}/open", data={"csrf_token": csrf_token(client, "/notifications/")})
    assert response.status_code == 302 and response.headers["Location"] == "/chat/"
    assert unread(app, "ursula") == 0


def test_someone_elses_notification_is_not_found(app, client, auth):
    """SECURITY.md 15: no object is reachable by id across users."""
    veras = send(app, "vera", "Private")
    auth.login("ursula")
    token = csrf_token(client, "/notifications/")
    for action in ("read", "open"):
        assert client.post(f"/notifications/{veras}/{action}", data={"csrf_token": token}).status_code == 404
    assert unread(app, "vera") == 1


def test_actions_need_post_and_the_csrf_token(app, client, auth):
    mine = send(app, "ursula")
    auth.login("ursula")
    assert client.get(f"/notifications/{mine}/read").status_code == 405
    assert client.post(f"/notifications/{mine}/read", data={}).status_code == 400
    assert client.post("/notifications/read-all", data={}).status_code == 400
    assert unread(app, "ursula") == 1


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/notifications/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_bell_costs_one_query_however_many_notifications(app, client, auth):
    auth.login("ursula")
    client.get("/notifications/")

    def cost() -> int:
        with count_queries(app) as statements:
            assert client.get("/account/").status_code == 200
        return len(statements)

    before = cost()
    ursula = user_id(app, "ursula")
    with app.app_context():
        for n in range(31):
            notify([ursula], "test.notice", f"n{n}")
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 31
    assert cost() == before


def test_notifications_are_exported_and_erased_with_their_owner(app):
    from sanctum.notifications.privacy import erase_notifications, export_notifications
    from sanctum.privacy.registry import ErasureContext

    send(app, "ursula", "Warning received", body="Reason: spam")
    send(app, "vera", "Not Ursula's")
    with app.app_context():
        ursula = db.session.scalar(select(User).where(User.username == "ursula"))
        exported = export_notifications(ursula)
        assert [n["title"] for n in exported["notifications"]] == ["Warning received"]
        summary = erase_notifications(ErasureContext(user=ursula, actor=ursula, old_email=ursula.email,
                                                     pseudonym="deleted-1", placeholder_email="x@invalid",
                                                     chats_mode="delete", now=utcnow()))
        db.session.commit()
    assert summary == {"notifications_deleted": 1, "dismissals_deleted": 0}
    assert [n.title for n in _rows(app)] == ["Not Ursula's"]
