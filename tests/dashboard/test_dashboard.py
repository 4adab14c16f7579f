"""Does the dashboard show the real numbers, link each to its list, and update health live?"""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from simple_websocket import Client

from sanctum import dashboard
from sanctum.dashboard.health import CHANNEL, publish_health
from sanctum.extensions import db
from sanctum.models import JobRecord
from sanctum.models.base import utcnow
from tests.support.accounts import AuthActions, make_user


def tile(body: str, label: str) -> tuple[str, str | None]:
    """(value, link) of the tile with this label."""
    match = re.search(r'<div class="tile[^"]*" id="[^"]+">\s*(?:<a class="tile-body tile-link" href="([^"]+)">|<div class="tile-body">)'
                      rf'\s*<span class="tile-label">{re.escape(label)}</span>\s*<span class="tile-value">([^<]+)</span>', body)
    assert match, f"no tile {label!r}"
    return match.group(2), match.group(1)


def add_job(app, status, finished_hours_ago=None):
    with app.app_context():
        finished = utcnow() - timedelta(hours=finished_hours_ago) if finished_hours_ago is not None else None
        db.session.add(JobRecord(name="tests.jobs.sample_jobs.note", args=["x"], status=status, finished_at=finished))
        db.session.commit()


def test_the_numbers_match_the_data(app, client, auth):
    make_user(app, "pat", status="pending")
    AuthActions(app.test_client()).login("ursula")
    AuthActions(app.test_client()).login("vera", "not the password, sorry")
    add_job(app, "failed", finished_hours_ago=2)
    add_job(app, "failed", finished_hours_ago=30)  # outside the 24 hours
    add_job(app, "queued")
    add_job(app, "queued")
    auth.login("admin")
    body = client.get("/dashboard/").get_data(as_text=True)
    assert tile(body, "Users")[0] == "5"
    assert tile(body, "Active today")[0] == "2"  # ursula and admin
    assert tile(body, "Pending approval") == ("1", "/admin/accounts")
    assert tile(body, "Active sessions")[0] == "2"
    today = date.today().isoformat()
    assert tile(body, "Failed sign-ins today") == ("1", f"/audit/?action=auth.login_failed&amp;since={today}")
    assert tile(body, "Queue depth") == ("2", "/jobs/?status=queued")
    assert tile(body, "Failed jobs (24 h)") == ("1", "/jobs/?status=failed")


def test_every_number_is_a_link_for_an_admin(app, client, auth):
    auth.login("admin")
    body = client.get("/dashboard/").get_data(as_text=True)
    assert body.count('class="tile"') + body.count('class="tile tile-') == body.count("tile-body tile-link")


def test_the_sign_in_chart_counts_each_day(app, client, auth):
    AuthActions(app.test_client()).login("ursula")
    AuthActions(app.test_client()).login("ursula", "wrong again, sorry")
    auth.login("admin")
    body = client.get("/dashboard/").get_data(as_text=True)
    today = date.today()
    assert f'<th scope="row">{today.isoformat()}</th><td>2</td><td>1</td>' in body
    assert f'<th scope="row">{(today - timedelta(days=29)).isoformat()}</th><td>0</td><td>0</td>' in body
    assert "Signed in <strong>2</strong>" in body and "Refused <strong>1</strong>" in body


@pytest.fixture
def plugged():
    """Providers a later feature would register, removed again after the test."""

    @dashboard.stats("test-chats", order=30)
    def chats(today):
        yield dashboard.Stat("Widgets today", 7, "/somewhere", tone="ok")

    @dashboard.chart("test-messages", "Widgets per day", order=20)
    def messages(since, until):
        return {"Messages": [(since + timedelta(days=i), i % 3) for i in range((until - since).days + 1)]}

    @dashboard.health_check("test-agents", "Agents", order=40)
    def agents():
        raise RuntimeError("agent registry unreachable")

    yield
    for registry, key in ((dashboard.STATS, "test-chats"), (dashboard.CHARTS, "test-messages"),
                          (dashboard.HEALTH, "test-agents")):
        registry.pop(key)


def test_a_feature_plugs_in_tiles_charts_and_health(app, client, auth, plugged):
    auth.login("admin")
    response = client.get("/dashboard/")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert tile(body, "Widgets today") == ("7", "/somewhere")
    assert "Widgets per day · last 30 days" in body
    agents = re.search(r'id="health-test-agents">.*?</div>', body, re.S).group(0)
    assert "Unavailable" in agents and "check failed: RuntimeError" in agents


def test_htmx_refreshes_the_tiles_alone(app, client, auth):
    auth.login("admin")
    body = client.get("/dashboard/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert body.lstrip().startswith('<section id="dashboard-tiles"') and "System health" not in body


def _socket(app, live_server, username):
    client = app.test_client()
    AuthActions(client).login(username)
    cookie = f"sanctum_session={client.get_cookie('sanctum_session').value}"
    return Client.connect(f"{live_server.ws_url}/ws?channel={CHANNEL}",
                          headers={"Origin": "http://127.0.0.1", "Cookie": cookie})


def test_health_is_pushed_live_to_those_who_may_see_it(app, live_server):
    import json

    admin = _socket(app, live_server, "admin")
    viewer = _socket(app, live_server, "vera")
    try:
        assert json.loads(admin.receive(timeout=5))["channels"] == [CHANNEL]
        assert json.loads(viewer.receive(timeout=5))["channels"] == []  # no dashboard.view
        with app.app_context():
            assert publish_health()
        fragment = admin.receive(timeout=5)
        assert fragment.lstrip().startswith('<section class="card health-panel" id="health-panel"')
        assert 'hx-swap-oob="true"' in fragment and "Database" in fragment
        assert viewer.receive(timeout=0.5) is None
    finally:
        admin.close()
        viewer.close()


def test_the_dashboard_page_asks_for_the_health_channel(app, client, auth):
    auth.login("admin")
    body = client.get("/dashboard/").get_data(as_text=True)
    assert 'ws-connect="/ws?channel=dashboard%3Ahealth&amp;' in body  # then the channels every tab joins
