"""In a real Chromium: create an agent, test its connection against a loopback
OpenAI-compatible server, see tools in tabs, edit settings; both themes."""
from __future__ import annotations

import pytest

from sanctum.agents.service import create_agent
from sanctum.extensions import db
from sanctum.tools.service import create_tool
from tests.browser.test_roles import dark, sign_in
from tests.support.browser import screenshot
from tests.support.fake_servers import openai_server

pytestmark = pytest.mark.browser


def light(page):
    page.evaluate("localStorage.setItem('sanctum-theme', 'light'); document.documentElement.dataset.theme = 'light'")


def test_admin_creates_an_agent_and_tests_its_connection(app, live_server, page):
    server = openai_server(model="llama3.1")
    try:
        with app.app_context():
            create_agent(data={"name": "athena", "display_name": "Athena", "avatar": "🦉", "provider": "builtin",
                               "description": "Sanctum Configuration Assistant", "roles": ["user"]}, actor=None)
            db.session.commit()
        sign_in(page, live_server, "admin")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Agents").click()
        page.get_by_role("heading", name="Agents").wait_for()
        page.get_by_role("link", name="New agent").click()
        page.get_by_label("Name", exact=True).fill("local-llama")
        page.get_by_label("Display name").fill("Local Llama")
        page.get_by_label("Avatar").fill("🦙")
        page.get_by_label("Description").fill("Answers from the Ollama box under the desk")
        page.get_by_label("Provider").select_option("openai")
        page.get_by_label("Base URL").fill(server.url + "/v1")
        page.get_by_label("Model").fill("llama3.1")
        screenshot(page, "agent-form-light")
        page.get_by_role("button", name="Create agent").click()
        page.get_by_text("The agent “Local Llama” is created.").wait_for()

        page.get_by_label("API key").fill("sk-browser-test-0000000000000")
        page.get_by_role("button", name="Store key").click()
        page.get_by_text("The API key is stored. It will not be shown again.").wait_for()
        assert "sk-browser-test-0000000000000" not in page.content()

        page.get_by_role("button", name="Test connection").click()
        result = page.locator("#agent-test-result")
        result.get_by_text("Connected", exact=True).wait_for()
        assert "ms" in result.inner_text() and "llama3.1" in result.inner_text()
        assert page.locator(".facts .pill").first.inner_text() == "Healthy"  # swapped out of band
        screenshot(page, "agent-show-light")
        dark(page)
        screenshot(page, "agent-show-dark")

        server.stop()
        page.get_by_role("button", name="Test connection").click()
        result.get_by_text("Not connected").wait_for()
        assert "could not be reached" in result.inner_text()
        screenshot(page, "agent-test-failed-dark")

        page.get_by_role("link", name="← Agents").click()
        page.get_by_role("link", name="Local Llama", exact=True).wait_for()
        screenshot(page, "agents-dark")
        page.get_by_role("button", name="Switch off Athena").click()
        page.get_by_role("button", name="Switch on Athena").wait_for()
        light(page)
        page.reload()
        screenshot(page, "agents-light")
        assert page.console_problems == []
    finally:
        server.stop()


def test_tools_appear_in_tabs_by_category(app, live_server, page):
    with app.app_context():
        for slug, name, emoji, category in (("web-chat", "Web Chat", "💬", "master"),
                                            ("agent-registry", "Agent Registry", "🤖", "master"),
                                            ("task-board", "Task Board", "📋", "monday"),
                                            ("smcp-server", "SMCP Server", "🔌", "smcp")):
            create_tool(data={"slug": slug, "name": name, "emoji": emoji, "category": category,
                              "description": f"{name}: a card from the tests.", "route_path": "/tools/"}, actor=None)
    sign_in(page, live_server, "vera")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tools").click()
    tabs = page.get_by_role("navigation", name="Tool categories")
    tabs.wait_for()
    assert [t.strip().split()[0] for t in tabs.get_by_role("link").all_inner_texts()] == ["Master", "Monday", "SMCP"]
    assert page.get_by_role("heading", name="Web Chat").is_visible()
    assert page.get_by_role("heading", name="Task Board").count() == 0
    screenshot(page, "tools-light")
    tabs.get_by_role("link", name="SMCP").click()
    page.get_by_role("heading", name="SMCP Server").wait_for()
    assert page.url.endswith("/tools/?category=smcp")  # htmx pushed the tab's URL
    assert page.get_by_role("heading", name="Web Chat").count() == 0
    dark(page)
    screenshot(page, "tools-dark")
    assert page.console_problems == []


def test_admin_sees_settings_with_secrets_masked(app, live_server, page):
    sign_in(page, live_server, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.get_by_label("SMTP password").fill("a-very-secret-smtp-password")
    page.get_by_role("button", name="Save Mail (SMTP)").click()
    page.get_by_text("Saved: SMTP password.").wait_for()
    assert "a-very-secret-smtp-password" not in page.content()
    assert page.get_by_text("Stored: ••••••••").first.is_visible()
    screenshot(page, "settings-light")
    dark(page)
    screenshot(page, "settings-dark")
    assert page.console_problems == []
