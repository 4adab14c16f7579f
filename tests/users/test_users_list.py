"""Can an admin find anyone fast: search, filters, sorts, keyset pages, bulk actions?"""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from sanctum.extensions import db
from sanctum.models import AuditEvent, User
from sanctum.models.base import utcnow
from tests.support.accounts import make_user
from tests.support.queries import count_queries


def usernames(response) -> list[str]:
    body = response.get_data(as_text=True)
    return re.findall(r'<tr id="user-\d+">\s*(?:<td class="select-col">.*?</td>)?\s*<td>(?:<a [^>]+>)?([\w.-]+)', body, re.S)


def add_people(app, count, prefix="person"):
    for n in range(count):
        make_user(app, f"{prefix}{n:03d}", email=f"{prefix}{n:03d}@corp.test")


def test_moderators_may_see_the_list_but_not_act(client, auth):
    auth.login("mod")
    response = client.get("/admin/users/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "ursula" in body and 'name="user_ids"' not in body and '/admin/users/1"' not in body


def test_search_matches_username_email_and_display_name(app, client, auth):
    make_user(app, "zed", email="zebra@zoo.test")
    with app.app_context():
        db.session.execute(update(User).where(User.username == "vera").values(display_name="Vera Zimmer"))
        db.session.commit()
    auth.login("admin")
    assert usernames(client.get("/admin/users/?q=ZEB")) == ["zed"]
    assert usernames(client.get("/admin/users/?q=zimmer")) == ["vera"]
    assert set(usernames(client.get("/admin/users/?q=z"))) == {"zed", "vera"}


def test_search_treats_like_wildcards_literally(app, client, auth):
    make_user(app, "a_b")
    make_user(app, "axb")
    auth.login("admin")
    assert usernames(client.get("/admin/users/?q=a_b")) == ["a_b"]
    assert usernames(client.get("/admin/users/?q=%25")) == []


def test_filters_by_role_status_verification_and_activity(app, client, auth):
    make_user(app, "newbie", status="pending", verified=False)
    with app.app_context():
        db.session.execute(update(User).where(User.username == "mod").values(last_login=utcnow() - timedelta(hours=2)))
        db.session.execute(update(User).where(User.username == "vera").values(last_login=utcnow() - timedelta(days=20)))
        db.session.commit()
    auth.login("admin")  # admin signs in now: last_login is today
    assert usernames(client.get("/admin/users/?role=viewer")) == ["vera"]
    assert usernames(client.get("/admin/users/?status=pending")) == ["newbie"]
    assert usernames(client.get("/admin/users/?verified=no")) == ["newbie"]
    assert set(usernames(client.get("/admin/users/?active=1"))) == {"admin", "mod"}
    assert set(usernames(client.get("/admin/users/?active=30"))) == {"admin", "mod", "vera"}
    assert set(usernames(client.get("/admin/users/?active=never"))) == {"ursula", "newbie"}


def test_keyset_pages_walk_forward_and_back_without_gaps_or_repeats(app, client, auth):
    add_people(app, 120)
    auth.login("admin")
    seen, url = [], "/admin/users/?sort=username"
    pages = []
    while url:
        response = client.get(url)
        names = usernames(response)
        pages.append((url, names))
        seen += names
        match = re.search(r'href="([^"]+after=[^"]+)"[^>]*>Next', response.get_data(as_text=True))
        url = match.group(1).replace("&amp;", "&") if match else None
    assert len(seen) == len(set(seen)) == 124
    assert seen == sorted(seen, key=str.lower)
    last_url, _ = pages[-1]
    back = re.search(r'href="([^"]+before=[^"]+)"[^>]*>← Previous', client.get(last_url).get_data(as_text=True))
    assert usernames(client.get(back.group(1).replace("&amp;", "&"))) == pages[-2][1]


def test_sorting_by_last_sign_in_puts_never_last_and_pages_through_them(app, client, auth):
    add_people(app, 60)
    auth.login("admin")
    first = client.get("/admin/users/?sort=last_login")
    assert usernames(first)[0] == "admin"
    nxt = re.search(r'href="([^"]+after=[^"]+)"[^>]*>Next', first.get_data(as_text=True)).group(1).replace("&amp;", "&")
    rest = usernames(client.get(nxt))
    assert len(usernames(first)) + len(rest) == 64 and "admin" not in rest


def test_a_tampered_cursor_shows_the_first_page_not_an_error(client, auth):
    auth.login("admin")
    response = client.get("/admin/users/?after=not-base64!!")
    assert response.status_code == 200 and usernames(response)


def test_htmx_search_returns_only_the_results_partial(client, auth):
    auth.login("admin")
    response = client.get("/admin/users/?q=vera", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert '<section class="card" id="users-results"' in body and "<!doctype html>" not in body
    assert "HX-Request" in response.headers["Vary"]


def test_the_page_costs_a_bounded_number_of_queries_whatever_the_data(app, client, auth):
    auth.login("admin")
    with app.app_context():
        engine = db.engine
    with count_queries(engine) as small:
        client.get("/admin/users/")
    add_people(app, 80)
    with count_queries(engine) as large:
        client.get("/admin/users/?sort=username")
    assert len(large) == len(small) <= 8, large


def test_bulk_deactivate_ends_sessions_and_skips_oneself(app, client, auth):
    auth.login("admin")
    with app.app_context():
        ids = dict(db.session.execute(select(User.username, User.id)).all())
    response = auth.post("/admin/users/bulk", {"user_ids": [ids["vera"], ids["ursula"], ids["admin"]],
                                               "action": "deactivate", "role": "", "return_to": "/admin/users/?q=e"},
                         page="/admin/users/")
    assert response.headers["Location"] == "/admin/users/?q=e"
    with app.app_context():
        statuses = dict(db.session.execute(select(User.username, User.status)).all())
        assert (statuses["vera"], statuses["ursula"], statuses["admin"]) == ("inactive", "inactive", "active")
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "user.deactivated")).all()
        assert {e.target_id for e in events} == {str(ids["vera"]), str(ids["ursula"])}
        assert events[0].details["before"] == {"status": "active"}
    page = client.get("/admin/users/").get_data(as_text=True)
    assert "cannot deactivate your own account" in page


def test_bulk_role_change_needs_roles_manage_and_applies(app, client, auth):
    auth.login("admin")
    with app.app_context():
        vera = db.session.scalar(select(User.id).where(User.username == "vera"))
    auth.post("/admin/users/bulk", {"user_ids": [vera], "action": "role", "role": "moderator"}, page="/admin/users/")
    with app.app_context():
        assert db.session.get(User, vera).role.name == "moderator"


def test_bulk_without_a_selection_says_so(client, auth):
    auth.login("admin")
    response = auth.post("/admin/users/bulk", {"action": "activate"}, page="/admin/users/", follow_redirects=True)
    assert "Select at least one user" in response.get_data(as_text=True)
