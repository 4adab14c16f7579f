"""Moderation in real browsers: a user flags a reply, a moderator sees it arrive live, hides the
message and bans the user, and the user learns why."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import ChatMessage, ChatSession, User
from tests.chat.conftest import agent_id, provider  # noqa: F401  (fixtures)
from tests.support.accounts import PASSWORD
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def sign_in(page, live_server, username):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


@pytest.fixture
def chat_with_reply(app, agent_id):  # noqa: F811
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "ursula"))
        chat = ChatSession(user_id=user.id, agent_id=agent_id, title="Locks")
        db.session.add(chat)
        db.session.flush()
        db.session.add(ChatMessage(chat_id=chat.id, role="user", author_id=user.id, body="How do locks work?"))
        db.session.add(ChatMessage(chat_id=chat.id, role="agent", body="Break into your neighbour's house like this."))
        db.session.commit()
        return chat.id


def test_flag_review_hide_and_ban(live_server, browser, chat_with_reply):
    user_context, mod_context = browser.new_context(), browser.new_context()
    user, mod = user_context.new_page(), mod_context.new_page()
    for p in (user, mod):
        p.console_problems = []
        p.on("console", lambda m, p=p: p.console_problems.append(m.text) if m.type == "error" else None)
    try:
        sign_in(mod, live_server, "mod")
        mod.get_by_role("navigation", name="Main").get_by_role("link", name="Moderation").click()
        expect(mod.get_by_text("Nothing waits for review.")).to_be_visible()
        expect(mod.locator("#live-status")).to_be_hidden()

        sign_in(user, live_server, "ursula")
        user.goto(f"{live_server.url}/chat/{chat_with_reply}")
        reply = user.locator(".message-agent").last
        reply.get_by_role("button", name="Flag").click()
        user.get_by_label("Harmful agent output").check()
        user.get_by_label("Anything moderators should know").fill("It tells me to burgle.")
        screenshot(user, "moderation-flag-form")
        user.get_by_role("button", name="Flag it").click()
        expect(user.get_by_text("Moderators will look at it")).to_be_visible()

        # The moderator's queue shows it without a reload.
        row = mod.locator("#queue-rows tr").first
        expect(row).to_contain_text("Break into your neighbour", timeout=10_000)
        expect(mod.locator("#queue-open-count")).to_have_text("1")
        screenshot(mod, "moderation-queue-live")
        row.get_by_role("link").click()
        expect(mod.get_by_role("heading", name="Decide")).to_be_visible()
        expect(mod.get_by_text("How do locks work?")).to_be_visible()  # the surrounding messages
        mod.get_by_label("Sanction its author").check()
        mod.get_by_label("Reason").fill("Encouraging burglary is not allowed.")
        mod.get_by_label("Sanction", exact=True).select_option("temporary_ban")
        mod.get_by_label("Duration").select_option("72h")
        screenshot(mod, "moderation-item-decide")
        mod.get_by_role("button", name="Record decision").click()
        expect(mod.get_by_text("Decision recorded.")).to_be_visible()
        expect(mod.locator(".pill", has_text="sanctioned")).to_be_visible()

        # The banned user's page loses its session; signing in again says why and until when.
        user.reload()
        expect(user).to_have_url(f"{live_server.url}/login?next=/chat/{chat_with_reply}")
        user.get_by_label("Username or email").fill("ursula")
        user.get_by_label("Password").fill(PASSWORD)
        user.get_by_role("button", name="Sign in").click()
        expect(user.get_by_text("Encouraging burglary is not allowed.")).to_be_visible()
        expect(user.get_by_text("banned until")).to_be_visible()
        screenshot(user, "moderation-banned-sign-in")

        mod.evaluate("document.documentElement.dataset.theme = 'dark'")
        mod.goto(f"{live_server.url}/moderation/sanctions")
        mod.evaluate("document.documentElement.dataset.theme = 'dark'")
        expect(mod.get_by_role("link", name="Temporary ban")).to_be_visible()
        screenshot(mod, "moderation-sanctions-dark")
        assert mod.console_problems == []
        # The banned user's socket was closed by the server (htmx logs the socket's error event) and
        # their sign-in refused (422): both expected.
        expected = ("WebSocket", "422", "[object Event]")
        assert [m for m in user.console_problems if not any(e in m for e in expected)] == []
    finally:
        user_context.close()
        mod_context.close()


def test_an_admin_writes_screening_rules(live_server, page):
    sign_in(page, live_server, "admin")
    page.goto(live_server.url + "/moderation/rules")
    page.get_by_label("Name").fill("Backreference")
    page.get_by_label("Kind").select_option("regex")
    page.get_by_label("Pattern").fill(r"(\w+) \1")
    page.get_by_label("Category").fill("spam")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("This regular expression cannot be used")).to_be_visible()
    expect(page.get_by_label("Pattern")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Pattern").fill(r"(a+)+$")
    page.get_by_label("When it matches").select_option("hold")
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_text("Rule “Backreference” saved.")).to_be_visible()
    page.get_by_label("Try the active rules on a text").fill("b" + "a" * 5000)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_text("Backreference → hold").first).to_be_visible()
    screenshot(page, "moderation-rules")
    # The refused rule answered 422 (a form with errors), which Chromium logs; nothing else may.
    assert [m for m in page.console_problems if "422" not in m] == []
