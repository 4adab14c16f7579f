"""Can an admin register a Broca database, see who in it has no account, and invite or link
them — with every step audited and only with users.manage?"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from sanctum.extensions import db
from sanctum.models import AuditEvent, BrocaLink, BrocaSource, Invitation, User
from tests.support.accounts import make_user
from tests.support.broca import BrocaPerson, make_broca, sample_people
from tests.support.mail import last_link, path_of, token_of

INDEX = "/admin/discovery/"


@pytest.fixture
def broca_file(tmp_path):
    return make_broca(tmp_path / "broca.db", sample_people())


@pytest.fixture
def source(app, auth, broca_file):
    """The sample Broca registered by the admin, who stays signed in."""
    auth.login("admin")
    response = auth.post("/admin/discovery/sources", {"name": "Telegram bot", "path": str(broca_file)}, page=INDEX)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        return db.session.scalar(select(BrocaSource.id))


def person_ids(app, source_id) -> dict[str, int]:
    from sanctum.discovery import broca

    with app.app_context():
        path = db.session.get(BrocaSource, source_id).path
    return {p.label: p.id for p in broca.people(path)[0]}


def rows(body: str) -> list[str]:
    return re.findall(r'<tr id="person-\d+">\s*<td><a [^>]*>([^<]+)</a>', body)


def last_event(app, action):
    with app.app_context():
        return db.session.scalar(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc()))


def test_registering_a_broca_database_is_audited(app, source, broca_file):
    registered = last_event(app, "discovery.source_registered")
    assert registered.actor_label == "admin"
    assert registered.details["after"] == {"name": "Telegram bot", "path": str(broca_file), "message_counts": True}


@pytest.mark.parametrize("path,message", [
    ("relative/broca.db", "not an absolute path"),
    ("/nonexistent/broca.db", "There is no file at"),
    ("/etc/hostname", "is not an SQLite database"),
])
def test_a_bad_path_is_a_form_error(app, auth, path, message):
    auth.login("admin")
    response = auth.post("/admin/discovery/sources", {"name": "x", "path": path}, page=INDEX)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(BrocaSource.id)) is None


def test_the_same_file_cannot_be_registered_twice(app, auth, source, broca_file):
    response = auth.post("/admin/discovery/sources", {"name": "Again", "path": str(broca_file)}, page=INDEX)
    assert response.status_code == 422
    assert "registered already" in response.get_data(as_text=True)


def test_allowed_folders_limit_what_may_be_registered(app, auth, broca_file):
    app.config["BROCA_ALLOWED_DIRS"] = ["/srv/broca"]
    auth.login("admin")
    response = auth.post("/admin/discovery/sources", {"name": "x", "path": str(broca_file)}, page=INDEX)
    assert response.status_code == 422 and "outside the folders" in response.get_data(as_text=True)


def test_the_index_lists_sources_with_their_people_count(client, source):
    body = client.get(INDEX).get_data(as_text=True)
    assert "Telegram bot" in body and "<td>3</td>" in body


def test_a_source_whose_file_broke_says_so_on_the_index_and_its_page(app, client, source, broca_file):
    broca_file.write_text("overwritten by something else")
    body = client.get(INDEX).get_data(as_text=True)
    assert "is not an SQLite database" in body and "unreadable" in body
    page = client.get(f"/admin/discovery/sources/{source}")
    assert page.status_code == 200
    assert "is not an SQLite database" in page.get_data(as_text=True)
    broca_file.unlink()
    assert "There is no file at" in client.get(f"/admin/discovery/sources/{source}").get_data(as_text=True)


def test_the_people_page_lists_everyone_not_yet_linked_with_counts(client, source):
    body = client.get(f"/admin/discovery/sources/{source}").get_data(as_text=True)
    assert rows(body) == ["Grace Hopper", "Ada Lovelace", "Alan Turing"]
    assert "<td>12</td>" in body and "gracie" in body and "inactive in Broca" in body


def test_the_people_page_searches_and_answers_htmx_with_the_partial(client, source):
    response = client.get(f"/admin/discovery/sources/{source}?q=ada", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.startswith('<div id="people">')
    assert rows(body) == ["Ada Lovelace"]


def test_linking_a_person_to_an_existing_account(app, client, auth, source):
    make_user(app, "ada", email="ada@example.org")
    ada = person_ids(app, source)["Ada Lovelace"]
    response = auth.post(f"/admin/discovery/sources/{source}/people/{ada}/link", {"user": "ADA"},
                         page=f"/admin/discovery/sources/{source}")
    assert response.status_code == 302
    with app.app_context():
        link = db.session.scalar(select(BrocaLink))
        assert (link.letta_user_id, link.user.username, link.label) == (ada, "ada", "Ada Lovelace")
        assert link.profiles[0]["username"] == "ada_l"
    linked = last_event(app, "discovery.linked")
    assert linked.details["before"] == "unlinked" and linked.details["after"] == "linked"
    unlinked_view = client.get(f"/admin/discovery/sources/{source}").get_data(as_text=True)
    assert "Ada Lovelace" not in rows(unlinked_view)
    linked_view = client.get(f"/admin/discovery/sources/{source}?view=linked").get_data(as_text=True)
    assert rows(linked_view) == ["Ada Lovelace"] and '<span class="linked-to">ada</span>' in linked_view


def test_linking_to_an_unknown_account_is_a_form_error(client, auth, app, source):
    ada = person_ids(app, source)["Ada Lovelace"]
    response = auth.post(f"/admin/discovery/sources/{source}/people/{ada}/link", {"user": "nobody"},
                         page=f"/admin/discovery/sources/{source}")
    assert response.status_code == 422
    assert "No account has that username" in response.get_data(as_text=True)


def test_a_person_cannot_be_linked_twice(client, auth, app, source):
    ada = person_ids(app, source)["Ada Lovelace"]
    path = f"/admin/discovery/sources/{source}/people/{ada}/link"
    auth.post(path, {"user": "ursula"}, page=INDEX)
    response = auth.post(path, {"user": "vera"}, page=INDEX)
    assert response.status_code == 422 and "already linked to ursula" in response.get_data(as_text=True)


def test_inviting_a_person_sends_an_invitation_and_accepting_links_them(app, client, auth, source):
    grace = person_ids(app, source)["Grace Hopper"]
    response = auth.post(f"/admin/discovery/sources/{source}/people/{grace}/invite",
                         {"email": "grace@example.org", "role": "user", "expires": "7"}, page=INDEX)
    assert response.status_code == 302
    with app.app_context():
        invitation = db.session.scalar(select(Invitation))
        assert invitation.note.startswith("Found in Broca “Telegram bot”: discord grace, telegram gracie") or \
            invitation.note.startswith("Found in Broca “Telegram bot”: telegram gracie, discord grace")
    assert last_event(app, "discovery.invited").details["email"] == "grace@example.org"
    invited_view = client.get(f"/admin/discovery/sources/{source}?view=invited").get_data(as_text=True)
    assert rows(invited_view) == ["Grace Hopper"] and "grace@example.org" in invited_view
    assert "Grace Hopper" not in rows(client.get(f"/admin/discovery/sources/{source}").get_data(as_text=True))

    auth.logout()
    link = path_of(last_link(app, "grace@example.org"))
    from tests.support.accounts import csrf_token

    password = "compilers are just translators"
    accepted = client.post("/invitations/accept", data={
        "token": token_of("http://x" + link), "username": "grace", "password": password, "confirm": password,
        "csrf_token": csrf_token(client, link)})
    assert accepted.status_code == 302
    with app.app_context():
        row = db.session.scalar(select(BrocaLink))
        assert row.user.username == "grace" and row.linked_at is not None
    via = last_event(app, "discovery.linked")
    assert via.details["via"] == "invitation" and via.actor_label == "grace"


def test_a_revoked_discovery_invitation_puts_the_person_back_in_the_list(app, client, auth, source):
    grace = person_ids(app, source)["Grace Hopper"]
    auth.post(f"/admin/discovery/sources/{source}/people/{grace}/invite",
              {"email": "grace@example.org", "role": "user", "expires": "7"}, page=INDEX)
    with app.app_context():
        invitation_id = db.session.scalar(select(Invitation.id))
    auth.post(f"/admin/invitations/{invitation_id}/revoke", page="/admin/invitations")
    assert "Grace Hopper" in rows(client.get(f"/admin/discovery/sources/{source}").get_data(as_text=True))
    again = auth.post(f"/admin/discovery/sources/{source}/people/{grace}/invite",
                      {"email": "grace@example.org", "role": "user", "expires": "7"}, page=INDEX)
    assert again.status_code == 302


def test_inviting_with_a_bad_address_is_a_form_error(client, auth, app, source):
    grace = person_ids(app, source)["Grace Hopper"]
    response = auth.post(f"/admin/discovery/sources/{source}/people/{grace}/invite",
                         {"email": "nope", "role": "user", "expires": "7"}, page=INDEX)
    assert response.status_code == 422
    assert "not a valid email address" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(BrocaLink.id)) is None


def test_unlinking_is_audited_and_the_person_returns(app, client, auth, source):
    ada = person_ids(app, source)["Ada Lovelace"]
    auth.post(f"/admin/discovery/sources/{source}/people/{ada}/link", {"user": "ursula"}, page=INDEX)
    with app.app_context():
        link_id = db.session.scalar(select(BrocaLink.id))
    assert auth.post(f"/admin/discovery/links/{link_id}/remove", page=INDEX).status_code == 302
    unlinked = last_event(app, "discovery.unlinked")
    assert unlinked.details["before"]["state"] == "linked"
    assert "Ada Lovelace" in rows(client.get(f"/admin/discovery/sources/{source}").get_data(as_text=True))


def test_a_linked_person_gone_from_the_file_is_still_listed_and_can_be_unlinked(app, client, auth, source,
                                                                                 broca_file):
    import sqlite3

    ada = person_ids(app, source)["Ada Lovelace"]
    auth.post(f"/admin/discovery/sources/{source}/people/{ada}/link", {"user": "ursula"}, page=INDEX)
    conn = sqlite3.connect(broca_file)
    conn.execute("DELETE FROM platform_profiles WHERE letta_user_id = ?", (ada,))
    conn.execute("DELETE FROM letta_users WHERE id = ?", (ada,))
    conn.commit()
    conn.close()
    body = client.get(f"/admin/discovery/sources/{source}?view=linked").get_data(as_text=True)
    assert rows(body) == ["Ada Lovelace"] and "No longer in this Broca database." in body


def test_removing_a_source_forgets_its_links_but_not_the_file(app, client, auth, source, broca_file):
    ada = person_ids(app, source)["Ada Lovelace"]
    auth.post(f"/admin/discovery/sources/{source}/people/{ada}/link", {"user": "ursula"}, page=INDEX)
    assert auth.post(f"/admin/discovery/sources/{source}/remove", page=INDEX).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(BrocaLink.id)) is None
    assert last_event(app, "discovery.source_removed").details["links_removed"] == 1
    assert broca_file.exists()


def test_the_person_page_shows_profiles_and_both_forms(app, client, source):
    grace = person_ids(app, source)["Grace Hopper"]
    body = client.get(f"/admin/discovery/sources/{source}/people/{grace}").get_data(as_text=True)
    assert "<h1>Grace Hopper</h1>" in body and "discord" in body
    assert "Send invitation" in body and "Link to an existing account" in body


def test_an_unknown_person_or_source_is_404(client, source):
    assert client.get(f"/admin/discovery/sources/{source}/people/999").status_code == 404
    assert client.get("/admin/discovery/sources/999").status_code == 404


@pytest.mark.parametrize("username", ["mod", "ursula", "vera"])
def test_discovery_needs_users_manage(client, auth, username, broca_file):
    auth.login(username)
    assert client.get(INDEX).status_code == 403
    response = auth.post("/admin/discovery/sources", {"name": "x", "path": str(broca_file)})
    assert response.status_code == 403


def test_inviting_from_discovery_also_needs_the_invitations_permission(app, client, auth, broca_file):
    """A role with users.manage but not invitations.manage may link, not invite."""
    with app.app_context():
        from sanctum.rbac.service import create_role

        admin = db.session.scalar(select(User).where(User.username == "admin"))
        create_role(name="linker", description="", permissions=["account.manage", "system.view", "users.manage"],
                    actor=admin)
    make_user(app, "linda", role="linker")
    auth.login("linda")
    auth.post("/admin/discovery/sources", {"name": "B", "path": str(broca_file)}, page=INDEX)
    with app.app_context():
        source_id = db.session.scalar(select(BrocaSource.id))
    grace = person_ids(app, source_id)["Grace Hopper"]
    page = client.get(f"/admin/discovery/sources/{source_id}/people/{grace}").get_data(as_text=True)
    assert "Inviting people needs the invitations permission." in page
    response = auth.post(f"/admin/discovery/sources/{source_id}/people/{grace}/invite",
                         {"email": "g@example.org", "role": "user", "expires": "7"}, page=INDEX)
    assert response.status_code == 403


def test_a_large_broca_lists_quickly_with_bounded_queries(app, client, auth, tmp_path):
    """2,000 people and 40,000 messages: one page costs a fixed number of our queries."""
    people = [BrocaPerson(f"2025-01-{1 + n % 28:02d} 10:{n % 60:02d}:00", [("telegram", str(n), f"user{n}", f"User {n}")],
                          messages=20) for n in range(2000)]
    path = make_broca(tmp_path / "big.db", people)
    auth.login("admin")
    auth.post("/admin/discovery/sources", {"name": "Big", "path": str(path)}, page=INDEX)
    with app.app_context():
        source_id = db.session.scalar(select(BrocaSource.id))
        engine = db.engine
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    import time

    event.listen(engine, "before_cursor_execute", listener)
    try:
        started = time.perf_counter()
        response = client.get(f"/admin/discovery/sources/{source_id}?page=3")
        elapsed = time.perf_counter() - started
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200
    assert len(rows(response.get_data(as_text=True))) == 50
    print(f"people page 3 of a 2,000-person Broca: {elapsed * 1000:.0f} ms, {len(statements)} queries")
    assert len(statements) <= 10
    assert elapsed < 2
