"""Does the home page render in a real Chromium, in both themes, without console errors?"""
from __future__ import annotations

import pytest

from tests.support.accounts import PASSWORD
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def sign_in(page, live_server, username="ursula"):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


def test_home_page_renders_cleanly_in_both_themes(live_server, page):
    sign_in(page, live_server)
    assert page.title() == "Welcome · Sanctum"
    assert page.get_by_role("heading", name="Sanctum", exact=True).is_visible()
    assert page.get_by_role("heading", name="System status").is_visible()
    page.wait_for_function("window.htmx !== undefined")
    screenshot(page, "home-light")

    toggle = page.get_by_role("button", name="Switch to dark theme")
    toggle.click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 23)"
    screenshot(page, "home-dark")

    page.reload()  # the choice survives a reload
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.console_problems == []


def test_status_panel_refreshes_itself_through_htmx(live_server, page):
    requests = []
    page.on("request", lambda r: r.headers.get("hx-request") and requests.append(r.url))
    sign_in(page, live_server)
    page.clock.install()
    page.goto(live_server.url + "/")
    page.wait_for_function("window.htmx !== undefined")
    page.clock.run_for(16_000)
    page.wait_for_timeout(300)
    assert requests, "the status panel did not poll"
    assert page.locator("#system-status").count() == 1
    assert page.console_problems == []


def test_keyboard_users_can_skip_to_content(live_server, page):
    sign_in(page, live_server)
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to content"


def test_error_page_is_styled_and_offers_a_way_back(live_server, page):
    page.goto(live_server.url + "/missing")
    assert page.get_by_role("alert").is_visible()
    assert page.get_by_role("link", name="Back to the start").is_visible()
    screenshot(page, "error-404")
    assert [p for p in page.console_problems if "404" not in p] == []
