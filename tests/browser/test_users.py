"""Does the users page search as you type, keep the URL in sync, and let an admin act on a user?"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def sign_in(page, live_server, username="admin"):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


def test_active_search_filters_and_an_admin_deactivates_a_user(app, live_server, page):
    for n in range(12):
        make_user(app, f"crew{n:02d}", email=f"crew{n:02d}@ship.test")
    sign_in(page, live_server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_text("16 users")).to_be_visible()
    screenshot(page, "users-light")

    page.get_by_label("Search").fill("crew0")
    page.wait_for_url("**/admin/users/?q=crew0")
    expect(page.get_by_text("10 users")).to_be_visible()
    page.get_by_label("Role", exact=True).select_option("user")
    page.wait_for_url("**role=user**")
    page.evaluate("localStorage.setItem('sanctum-theme', 'dark'); document.documentElement.dataset.theme = 'dark'")
    screenshot(page, "users-dark")

    page.get_by_role("link", name="crew03").click()
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_text("crew03 is now inactive.")).to_be_visible()
    screenshot(page, "user-detail-dark")
    page.go_back()
    page.go_back()
    assert "q=crew0" in page.url


def test_bulk_select_all_then_activate(app, live_server, page):
    for n in range(3):
        make_user(app, f"idle{n}", status="inactive")
    sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users/?status=inactive")
    page.get_by_label("Select all users on this page").check()
    assert page.get_by_label("Select idle1").is_checked()
    page.get_by_label("With the selected users").select_option("activate")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("3 users updated")).to_be_visible()
    expect(page.get_by_text("No user matches these filters.")).to_be_visible()
