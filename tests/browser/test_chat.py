"""Chat in a real browser: send with Enter, watch the reply stream in, stop it, reload and find it all."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.chat.conftest import agent_id, provider  # noqa: F401  (fixtures)
from tests.support.accounts import PASSWORD
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser


def sign_in(page, live_server, username="ursula"):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


def test_a_reply_streams_live_can_be_stopped_and_survives_a_reload(live_server, page, agent_id, provider):  # noqa: F811
    provider.reply = [f"token{n} " for n in range(80)]
    provider.pause = 0.04
    sign_in(page, live_server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Chat").click()
    page.get_by_role("button", name="Echo").click()
    expect(page.get_by_text("Say hello to Echo.")).to_be_visible()
    composer = page.get_by_label("Message")
    composer.fill("Tell me a long story")
    composer.press("Enter")
    expect(page.locator(".message-user").get_by_text("Tell me a long story")).to_be_visible()
    reply = page.locator(".message-agent").last
    expect(reply.locator(".stream-text")).to_contain_text("token5", timeout=10_000)  # arriving live
    screenshot(page, "chat-streaming-light")
    reply.get_by_role("button", name="Stop").click()
    expect(reply.get_by_text("stopped")).to_be_visible(timeout=10_000)
    stopped_text = reply.locator(".message-body").inner_text()
    assert "token0" in stopped_text and "token79" not in stopped_text

    provider.reply = ["A **short** answer."]
    provider.pause = 0
    reply.get_by_role("button", name="Retry").click()
    expect(page.locator(".message-agent").last.locator(".message-body strong")).to_have_text("short", timeout=10_000)

    page.reload()
    expect(page.locator(".message-user").get_by_text("Tell me a long story")).to_be_visible()
    expect(page.locator(".message-agent").last).to_contain_text("A short answer.")
    expect(page.get_by_role("link", name="Tell me a long story")).to_be_visible()  # named by the first message
    page.evaluate("localStorage.setItem('sanctum-theme', 'dark'); document.documentElement.dataset.theme = 'dark'")
    screenshot(page, "chat-dark")
    assert page.console_problems == []


def test_chat_fits_a_phone_screen(live_server, browser, agent_id):  # noqa: F811
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.goto(live_server.url + "/chat/?new=1")
        page.get_by_role("button", name="Echo").click()
        page.get_by_label("Message").fill("Hello from a phone")
        page.get_by_role("button", name="Send").click()
        expect(page.locator(".message-agent").last).to_contain_text("Hello, world!", timeout=10_000)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways ({width}px)"
        screenshot(page, "chat-phone")
    finally:
        context.close()
