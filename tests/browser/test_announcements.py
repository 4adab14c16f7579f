"""Announcements and the bell in a real browser: an admin publishes, a user's open page shows the
banner live and the bell counts up; the user dismisses it, and a reload keeps it dismissed."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from sanctum.extensions import db
from sanctum.notifications import notify
from tests.notifications.conftest import user_id
from tests.support.accounts import PASSWORD
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def sign_in(page, live_server, username):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


def test_a_published_announcement_appears_live_and_stays_dismissed(app, live_server, browser, page):
    sign_in(page, live_server, "ursula")
    page.goto(live_server.url + "/account/")
    bell = page.locator("#notification-bell")
    expect(bell).to_have_attribute("aria-label", "Notifications, none unread")
    page.wait_for_function("document.body.hasAttribute('ws-connect')")
    page.wait_for_timeout(500)  # the socket is open

    admin_context = browser.new_context(viewport={"width": 1280, "height": 800})
    admin = admin_context.new_page()
    try:
        sign_in(admin, live_server, "admin")
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Announcements").click()
        admin.get_by_role("link", name="New announcement").click()
        admin.get_by_label("Title").fill("Maintenance tonight")
        admin.get_by_label("Message").fill("The panel restarts at **22:00 UTC**; chats are kept.")
        admin.get_by_label("Level").select_option("warning")
        screenshot(admin, "announcement-form")
        admin.get_by_role("button", name="Publish").click()
        expect(admin.get_by_role("cell", name="Maintenance tonight", exact=True)).to_be_visible()
        screenshot(admin, "announcements-admin")
    finally:
        admin_context.close()

    banner = page.get_by_role("region", name="Warning: Maintenance tonight")
    expect(banner).to_be_visible(timeout=10_000)  # arrived over the open socket
    expect(banner.locator("strong")).to_have_text("22:00 UTC")
    expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread", timeout=10_000)
    with app.app_context():
        notify([user_id(app, "ursula")], "test.notice", "Your report was reviewed")
        db.session.commit()
    expect(bell).to_have_attribute("aria-label", "Notifications, 2 unread", timeout=10_000)
    expect(bell.locator(".bell-count")).to_have_text("2")
    screenshot(page, "announcement-banner-light")
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    screenshot(page, "announcement-banner-dark")
    page.evaluate("document.documentElement.dataset.theme = 'light'")

    dismiss = page.get_by_role("button", name="Dismiss “Maintenance tonight”")
    dismiss.focus()
    page.keyboard.press("Enter")  # usable from the keyboard
    expect(banner).to_have_count(0)
    page.reload()
    expect(page.get_by_text("Maintenance tonight")).to_have_count(0)

    bell.click()
    expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    expect(page.get_by_text("Your report was reviewed")).to_be_visible()
    page.get_by_role("button", name="Mark all read").click()
    expect(bell).to_have_attribute("aria-label", "Notifications, none unread")
    screenshot(page, "notifications-list")
    assert page.console_problems == []
