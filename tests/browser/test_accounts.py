"""Account flows in a real Chromium: first-run setup through sign-out, and a reset by mail.
Screenshots of each account page in both themes land in tests/artifacts."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.accounts import PASSWORD, make_user
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "a lighthouse keeper's seventh cat"
NEW_PASSWORD = "tea with lemon on a windy pier"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def both_themes(page, name):
    """One screenshot per theme; the page is left in the theme it had."""
    before = page.evaluate("document.documentElement.dataset.theme || ''")
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
        screenshot(page, f"{name}-{theme}")
    page.evaluate(f"document.documentElement.dataset.theme = '{before}'")


def sign_in(page, base, username, password=PASSWORD):
    page.goto(base + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/")


def real_problems(messages):
    """Console errors other than Chromium noting the 422 of a refused form, which is by design."""
    return [m for m in messages if "status of 422" not in m]


@pytest.mark.empty_database
def test_setup_then_sign_in_see_sessions_and_sign_out(live_server, page, browser):
    base = live_server.url
    page.goto(base + "/account/")
    page.wait_for_url(base + "/setup")
    expect(page.get_by_role("heading", name="Welcome to Sanctum")).to_be_visible()
    both_themes(page, "setup")

    # Keyboard only: the username field has focus; Tab moves through the labelled fields.
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("root")
    for field_id, text in (("email", "root@example.com"), ("password", ADMIN_PASSWORD), ("confirm", ADMIN_PASSWORD)):
        page.keyboard.press("Tab")
        while page.evaluate("document.activeElement.id") != field_id:  # hints are not focusable; links might be
            page.keyboard.press("Tab")
        page.keyboard.type(text)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")
    expect(page.get_by_text("You are signed in as its first administrator")).to_be_visible()

    page.get_by_role("link", name="root").click()  # the account link in the top bar
    page.wait_for_url(base + "/account/")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    for label in ("Display name", "Current password", "New password", "Repeat the new password", "New email",
                  "Your password"):
        assert page.get_by_label(label, exact=True).count() == 1, label
    both_themes(page, "profile")

    # The same admin on a second device, to have a session to sign out from here.
    laptop_context = browser.new_context(user_agent=FIREFOX)
    laptop = laptop_context.new_page()
    try:
        sign_in(laptop, base, "root", ADMIN_PASSWORD)
        page.get_by_role("navigation", name="Account").get_by_role("link", name="Sessions").click()
        page.wait_for_url(base + "/account/sessions")
        table = page.get_by_role("table", name="Your active sessions")
        assert table.get_by_role("row").count() == 3  # header, this browser, the laptop
        expect(table.get_by_text("This session")).to_be_visible()
        expect(table.get_by_text("Firefox on Linux")).to_be_visible()
        both_themes(page, "sessions")

        # By keyboard: focus the laptop's button and press Enter; htmx swaps the table in place.
        page.get_by_role("button", name="Sign out Firefox on Linux from 127.0.0.1").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_text("That session is signed out.")).to_be_visible()
        expect(table.get_by_role("row")).to_have_count(2)
        assert page.url == base + "/account/sessions"
        laptop.goto(base + "/account/")
        laptop.wait_for_url(re.compile(r".*/login\?next=/account/$"))
    finally:
        laptop_context.close()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(base + "/login")
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(base + "/account/sessions")
    page.wait_for_url(re.compile(r".*/login\?next=/account/sessions$"))
    assert page.console_problems == []


def test_a_forgotten_password_is_reset_through_the_mailed_link(app, live_server, page, browser):
    base = live_server.url
    make_user(app, "rita", email="rita@example.com")

    page.goto(base + "/login")
    both_themes(page, "login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("rita@example.com")
    both_themes(page, "forgot")
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_url(base + "/login")
    expect(page.get_by_text("If an account uses that address")).to_be_visible()

    # No SMTP server here: an admin reads the mail in the outbox, as in development.
    admin_context = browser.new_context(viewport={"width": 1280, "height": 800})
    admin = admin_context.new_page()
    try:
        sign_in(admin, base, "admin")
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Outbox").click()
        both_themes(admin, "outbox")
        admin.get_by_role("link", name="Reset your Sanctum password").click()
        both_themes(admin, "outbox-mail")
        mail = admin.locator(".mail-body").inner_text()
    finally:
        admin_context.close()
    link = re.search(r"https?://\S+", mail).group(0)
    assert link.startswith(app.config["BASE_URL"] + "/reset?token=")

    page.goto(base + link[len(app.config["BASE_URL"]):])
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("1q2w3e4r5t6y7u8i9o0p")
    page.get_by_label("Repeat the new password").fill("1q2w3e4r5t6y7u8i9o0p")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_text("That password is among the most common ones")).to_be_visible()
    both_themes(page, "reset-refused")

    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    both_themes(page, "reset")
    page.get_by_role("button", name="Save the new password").click()
    page.wait_for_url(base + "/login")
    expect(page.get_by_text("Your password is changed")).to_be_visible()

    # Signing in by keyboard alone: the first field has focus, Tab to the password, Enter.
    page.goto(base + "/login")
    page.keyboard.type("rita")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")
    expect(page.get_by_role("link", name="rita")).to_be_visible()
    page.goto(base + link[len(app.config["BASE_URL"]):])  # the link is spent
    expect(page.get_by_role("alert").get_by_text("expired or was already used")).to_be_visible()
    assert real_problems(page.console_problems) == []


def test_a_failed_sign_in_shows_the_message_in_both_themes(live_server, page):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill("ursula")
    page.get_by_label("Password", exact=True).fill("not the right one, sorry")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert").get_by_text("That username or password is not right.")).to_be_visible()
    both_themes(page, "login-failed")
    assert real_problems(page.console_problems) == []
