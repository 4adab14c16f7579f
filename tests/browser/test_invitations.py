"""In a real Chromium: an admin invites, the invitee accepts in a second browser and signs in;
a CSV import shows its progress and report; discovery and data-rights pages render in both
themes without console errors."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.accounts import PASSWORD
from tests.support.broca import make_broca, sample_people
from tests.support.browser import screenshot

pytestmark = pytest.mark.browser
NEW_PASSWORD = "seven lanterns over the harbour"


def watch(page, problems):
    page.on("console", lambda msg: msg.type in ("error", "warning") and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))


def sign_in(page, live_server, username, password=PASSWORD):
    page.goto(live_server.url + "/login")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")


def themes(page, name):
    """Screenshot the page light, then dark (the way the toggle stores it), then back."""
    page.evaluate("localStorage.setItem('sanctum-theme', 'light'); document.documentElement.dataset.theme = 'light'")
    screenshot(page, f"{name}-light")
    page.evaluate("localStorage.setItem('sanctum-theme', 'dark'); document.documentElement.dataset.theme = 'dark'")
    screenshot(page, f"{name}-dark")
    page.evaluate("localStorage.setItem('sanctum-theme', 'light'); document.documentElement.dataset.theme = 'light'")


def test_an_invitee_accepts_in_a_second_browser_and_signs_in(live_server, browser):
    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    guest_context = browser.new_context(viewport={"width": 1280, "height": 900})
    admin, guest = admin_context.new_page(), guest_context.new_page()
    problems: list[str] = []
    watch(admin, problems)
    watch(guest, problems)
    try:
        sign_in(admin, live_server, "admin")
        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Invitations").click()
        admin.get_by_role("textbox", name="Email").fill("newcomer@example.org")
        admin.get_by_label("Role", exact=True).select_option("viewer")
        admin.get_by_label("Note").first.fill("joins the pilot")
        admin.get_by_role("button", name="Send invitation").click()
        expect(admin.get_by_text("Invitation sent to newcomer@example.org.")).to_be_visible()
        expect(admin.get_by_role("cell", name=re.compile("^newcomer@example.org"))).to_be_visible()
        themes(admin, "invitations")

        admin.get_by_role("navigation", name="Main").get_by_role("link", name="Outbox").click()
        admin.get_by_role("link", name="You are invited to Sanctum").first.click()
        body = admin.locator(".mail-body").inner_text()
        link = re.search(r"http://\S+/invitations/accept\?token=\S+", body).group(0)
        link = live_server.url + link[link.index("/invitations/"):]  # BASE_URL is not the test server's

        guest.goto(link)
        expect(guest.get_by_role("heading", name="Join Sanctum")).to_be_visible()
        assert guest.get_by_label("Email").input_value() == "newcomer@example.org"
        themes(guest, "invitation-accept")
        guest.get_by_label("Username").fill("newcomer")
        guest.get_by_label("Display name").fill("New Comer")
        guest.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
        guest.get_by_label("Repeat the password").fill(NEW_PASSWORD)
        guest.get_by_role("button", name="Create my account").click()
        guest.wait_for_url(live_server.url + "/login")
        expect(guest.get_by_text("Welcome, New Comer!")).to_be_visible()
        sign_in(guest, live_server, "newcomer", NEW_PASSWORD)
        assert guest.locator(".nav-user").inner_text() == "New Comer"

        guest.goto(link)  # the link was single-use
        expect(guest.get_by_text("You are signed in as")).to_be_visible()
        admin.goto(live_server.url + "/admin/invitations?status=accepted")
        expect(admin.get_by_role("cell", name=re.compile("^newcomer@example.org"))).to_be_visible()
        assert problems == []
    finally:
        admin_context.close()
        guest_context.close()


def test_a_csv_import_shows_progress_then_its_report(live_server, page, tmp_path):
    sign_in(page, live_server, "admin")
    page.goto(live_server.url + "/admin/invitations")
    lines = ["email;role"] + [f"guest{n}@example.org;viewer" for n in range(300)] + ["broken;viewer",
                                                                                    "guest1@example.org;user"]
    csv_file = tmp_path / "guests.csv"
    csv_file.write_bytes(("\ufeff" + "\n".join(lines) + "\n").encode())
    page.get_by_label("CSV file").set_input_files(str(csv_file))
    page.get_by_role("button", name="Import and invite").click()
    page.wait_for_url(re.compile(r".*/admin/invitations/imports/\d+$"))
    report = page.get_by_role("heading", name="Report")
    report.wait_for(timeout=60_000)  # the widget polls until the job is done, then swaps the report in
    expect(page.get_by_role("link", name="Invited 300")).to_be_visible()
    expect(page.get_by_role("link", name="Invalid 1")).to_be_visible()
    expect(page.get_by_role("link", name="Duplicate 1")).to_be_visible()
    themes(page, "invitation-import-report")
    page.get_by_role("link", name="Invalid 1").click()
    expect(page.get_by_role("cell", name="broken")).to_be_visible()
    assert page.console_problems == []


def test_discovery_lists_broca_people_and_links_one(live_server, page, tmp_path):
    broca_file = make_broca(tmp_path / "broca.db", sample_people())
    sign_in(page, live_server, "admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Discovery").click()
    page.get_by_label("Name").fill("Telegram bot")
    page.get_by_label("Path on the server").fill(str(broca_file))
    page.get_by_role("button", name="Register").click()
    page.get_by_role("heading", name="People in “Telegram bot”").wait_for()
    expect(page.get_by_role("link", name="Grace Hopper", exact=True)).to_be_visible()
    themes(page, "discovery-people")
    page.get_by_role("searchbox", name="Search by name or username").fill("ada")
    expect(page.locator("#people tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Invite or link Ada Lovelace").click()
    themes(page, "discovery-person")
    page.get_by_label("Username or email of the account").fill("ursula")
    page.get_by_role("button", name="Link", exact=True).click()
    page.get_by_text("Ada Lovelace is linked to ursula.").wait_for()
    page.get_by_role("link", name=re.compile("^Linked")).click()
    expect(page.get_by_role("link", name="Ada Lovelace", exact=True)).to_be_visible()
    page.goto(live_server.url + "/admin/discovery/")
    themes(page, "discovery-index")
    assert page.console_problems == []


def test_a_user_exports_their_data_and_an_admin_sees_the_erasure_page(live_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    watch(page, problems)
    try:
        sign_in(page, live_server, "ursula")
        page.goto(live_server.url + "/account/data")
        themes(page, "account-data")
        page.get_by_role("button", name="Export my data").click()
        download_link = page.get_by_role("link", name="Download the JSON file")
        download_link.wait_for(timeout=30_000)
        themes(page, "account-data-export-ready")
        with page.expect_download() as info:
            download_link.click()
        assert info.value.suggested_filename.startswith("sanctum-export-user")
        page.get_by_role("button", name="Sign out").click()

        sign_in(page, live_server, "admin")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Data requests").click()
        page.get_by_role("searchbox", name="Username or email").fill("vera")
        page.get_by_role("button", name="Open").click()
        expect(page.get_by_role("heading", name="Erase")).to_be_visible()
        page.get_by_label("Type the username to confirm").fill("not vera")
        page.get_by_role("button", name="Erase this account").click()
        expect(page.get_by_text("That is not the username of this account.").first).to_be_visible()
        themes(page, "privacy-user")
        page.get_by_label("Type the username to confirm").fill("vera")
        page.get_by_role("button", name="Erase this account").click()
        expect(page.get_by_text(re.compile(r"Account #\d+ is erased"))).to_be_visible()
        expect(page.get_by_role("cell", name=re.compile(r"^deleted-\d+$"))).to_be_visible()
        themes(page, "privacy-admin")
        assert [p for p in problems if "422" not in p] == []
    finally:
        context.close()
