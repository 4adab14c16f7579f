"""Can an admin create a role and assign it in the browser, and does the user's navigation follow?"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.accounts import PASSWORD
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def sign_in(page, live_server, username):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


def dark(page):
    """Switch to the dark theme the way the toggle does, so it sticks across pages."""
    page.evaluate("localStorage.setItem('sanctum-theme', 'dark'); document.documentElement.dataset.theme = 'dark'")


def test_admin_creates_and_assigns_a_role_and_the_user_sees_new_navigation(live_server, browser):
    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    user_context = browser.new_context(viewport={"width": 1280, "height": 900})
    admin, user = admin_context.new_page(), user_context.new_page()
    problems = []
    for page in (admin, user):
        page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
        page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        sign_in(user, live_server, "vera")
        nav = user.get_by_role("navigation", name="Main")
        assert nav.get_by_role("link", name="Accounts").count() == 0

        sign_in(admin, live_server, "admin")
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Roles").click()
        screenshot(admin, "roles-light")
        dark(admin)
        screenshot(admin, "roles-dark")
        admin.get_by_role("link", name="New role").click()
        admin.get_by_label("Name").fill("gatekeeper")
        admin.get_by_label("Description").fill("Approves sign-ups")
        for permission in ("account.manage", "system.view", "users.manage"):
            admin.get_by_role("checkbox", name=permission).check()
        screenshot(admin, "role-form-dark")
        admin.get_by_role("button", name="Create role").click()
        expect(admin.get_by_text("The role “gatekeeper” is created.")).to_be_visible()

        admin.get_by_role("searchbox", name="Username or email").fill("vera")
        admin.get_by_role("button", name="Open").click()
        admin.get_by_role("combobox", name="Role").select_option(label="gatekeeper")
        admin.get_by_role("button", name="Change role").click()
        expect(admin.get_by_text("vera is now gatekeeper.")).to_be_visible()
        screenshot(admin, "access-dark")
        admin.evaluate("localStorage.setItem('sanctum-theme', 'light')")
        admin.reload()
        screenshot(admin, "access-light")

        user.reload()  # the next request already carries the new role
        nav = user.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Accounts")).to_be_visible()
        assert nav.get_by_role("link", name="Roles").count() == 0
        nav.get_by_role("link", name="Accounts").click()
        expect(user.get_by_role("heading", name="Accounts needing attention")).to_be_visible()
        assert problems == []
    finally:
        admin_context.close()
        user_context.close()


def test_a_user_creates_a_token_and_sees_it_once(live_server, page):
    sign_in(page, live_server, "ursula")
    page.goto(live_server.url + "/account/tokens/")
    page.get_by_label("Name").fill("nightly export")
    page.get_by_role("checkbox", name="account.manage — Manage one's own profile, password and sessions").check()
    page.get_by_role("button", name="Create token").click()
    value = page.get_by_role("textbox", name="New token").input_value()
    assert value.startswith("sct_pat_")
    screenshot(page, "tokens-light")
    dark(page)
    screenshot(page, "tokens-dark")
    page.reload()
    assert page.get_by_role("textbox", name="New token").count() == 0
    expect(page.get_by_role("cell", name="nightly export", exact=True)).to_be_visible()
