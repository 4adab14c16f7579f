"""Can an admin find events, read one, export them, and watch the dashboard — in a real browser?"""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from sanctum.auth import service as accounts
from sanctum.dashboard.health import publish_health
from sanctum.extensions import db
from sanctum.models import JobRecord
from sanctum.models.base import utcnow
from tests.support.accounts import PASSWORD
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def sign_in(page, live_server, username="admin"):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


def theme(page, name):
    page.evaluate(f"localStorage.setItem('sanctum-theme', '{name}'); document.documentElement.dataset.theme = '{name}'")


def failed_sign_ins(app, count=3):
    for n in range(count):
        with app.test_request_context("/login", environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"},
                                      headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}):
            accounts.authenticate("ursula", "not the password at all")


def test_admin_filters_the_log_opens_an_event_and_exports_it(live_server, page, app):
    failed_sign_ins(app)
    sign_in(page, live_server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.locator("#audit-stats")).to_contain_text("events")  # loaded after the page
    screenshot(page, "audit-light")

    page.get_by_label("Action").press_sequentially("auth.login_failed")  # active search: no button press
    expect(page).to_have_url(re.compile(r"action=auth.login_failed"))
    rows = page.locator(".audit-table tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator(".audit-table tbody")).not_to_contain_text("auth.login_succeeded")
    page.get_by_label("IP address").press_sequentially("203.0.113.2")
    expect(page).to_have_url(re.compile(r"ip=203.0.113.2"))
    expect(rows).to_have_count(1)

    rows.first.get_by_role("link", name="Details of event").click()
    drawer = page.locator("#audit-drawer")
    expect(drawer.get_by_role("heading", name="Event #")).to_be_visible()
    expect(drawer.locator("pre")).to_contain_text('"reason": "bad_password"')
    expect(drawer).to_contain_text("Firefox on Linux")
    screenshot(page, "audit-drawer-light")
    theme(page, "dark")
    screenshot(page, "audit-drawer-dark")
    page.keyboard.press("Escape")
    expect(drawer.get_by_role("heading")).to_have_count(0)

    page.get_by_label("IP address").fill("")
    page.get_by_label("IP address").press("Backspace")
    expect(page).not_to_have_url(re.compile(r"ip=203"))
    expect(rows).to_have_count(3)
    screenshot(page, "audit-filtered-dark")
    page.get_by_role("button", name="CSV").click()
    download_link = page.get_by_role("link", name="Download 3 events")
    expect(download_link).to_be_visible(timeout=15000)
    with page.expect_download() as caught:
        download_link.click()
    lines = open(caught.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0].startswith("seq,created_at,actor_id")
    assert len(lines) == 4 and all("auth.login_failed" in line for line in lines[1:])
    screenshot(page, "audit-exported-dark")
    assert page.console_problems == []


def test_admin_sees_the_dashboard_and_its_health_live(live_server, page, app):
    failed_sign_ins(app, 2)
    with app.app_context():
        db.session.add(JobRecord(name="sanctum.mail.jobs.send_mail", args=[1], status="failed", attempts=3,
                                 error="SMTPServerDisconnected: gone", finished_at=utcnow()))
        db.session.commit()
    sign_in(page, live_server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    failed = page.locator(".tile", has_text="Failed jobs (24 h)")
    expect(failed.locator(".tile-value")).to_have_text("1")
    expect(page.locator(".tile", has_text="Failed sign-ins today").locator(".tile-value")).to_have_text("2")
    expect(page.get_by_role("heading", name="System health")).to_be_visible()
    expect(page.locator("figure.chart svg rect")).not_to_have_count(0)
    screenshot(page, "dashboard-light")

    # The health panel is replaced live when the publisher runs (websocket, out-of-band swap).
    deadline = time.monotonic() + 10
    while "live" not in (page.locator(".health-time").text_content() or "") and time.monotonic() < deadline:
        with app.app_context():
            publish_health()
        page.wait_for_timeout(300)
    expect(page.locator(".health-time")).to_contain_text("live")
    theme(page, "dark")
    screenshot(page, "dashboard-dark")

    failed.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Background jobs")).to_be_visible()
    expect(page.locator("#jobs tbody tr")).to_have_count(1)
    screenshot(page, "jobs-dark")
    page.get_by_role("button", name="Retry job").click()
    expect(page.get_by_text("is queued again")).to_be_visible()
    assert page.console_problems == []
