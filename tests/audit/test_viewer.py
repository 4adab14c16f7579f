"""Can an auditor find who did what, when and from where — filtered, paged and in detail?"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import time_machine

from sanctum import audit
from sanctum.extensions import db
from tests.support.audit import add_events
from tests.support.queries import count_queries


class Who:
    def __init__(self, id, username):
        self.id, self.username = id, username


def record(app, action, *, actor=None, target=None, outcome="success", ip=None, details=None, days_ago=0):
    with time_machine.travel(datetime.now(timezone.utc) - timedelta(days=days_ago), tick=True):
        with app.app_context():
            audit.record(action, actor=actor, target_type="user" if target else None,
                         target_id=target.id if target else None, outcome=outcome, ip=ip, details=details or {})
            db.session.commit()


def seqs(body: str) -> list[int]:
    return [int(n) for n in re.findall(r'id="event-(\d+)"', body)]


def user_id(app, name):
    from sqlalchemy import select

    from sanctum.models import User

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == name))


def seeded(app):
    """Four seeded accounts (events 1-4), then a small, known history."""
    ursula = Who(user_id(app, "ursula"), "ursula")
    admin = Who(user_id(app, "admin"), "admin")
    record(app, "auth.login_failed", actor=ursula, target=ursula, outcome="failure", ip="10.1.2.3",
           details={"reason": "bad_password"}, days_ago=3)                                            # 5
    record(app, "auth.login_succeeded", actor=ursula, target=ursula, ip="10.1.2.3", days_ago=2)     # 6
    record(app, "role.assigned", actor=admin, target=ursula, ip="192.0.2.8",
           details={"before": "user", "after": "moderator"}, days_ago=1)                               # 7
    record(app, "grant.created", actor=admin, target=ursula, ip="192.0.2.8",
           details={"permission": "audit.view", "reason": "quarterly review"})                          # 8
    return ursula, admin


def test_the_viewer_lists_newest_first(app, client, auth):
    seeded(app)
    auth.login("admin")
    body = client.get("/audit/").get_data(as_text=True)
    assert seqs(body)[:5] == [9, 8, 7, 6, 5]  # 9 is the admin's own sign-in


def test_each_filter_narrows_the_list(app, client, auth):
    ursula, _ = seeded(app)
    auth.login("admin")
    today = datetime.now(timezone.utc).date()
    cases = {
        "actor=admin&action=role.assigned": [7],
        "action=auth.login_failed": [5],
        "action=auth.": [9, 6, 5],
        "action=auth.*": [9, 6, 5],
        f"target=user:{ursula.id}": [8, 7, 6, 5, 3],
        "outcome=failure": [5],
        "ip=10.1.2.3": [6, 5],
        "ip=192.0.2.": [8, 7],
        f"since={(today - timedelta(days=2)).isoformat()}&until={(today - timedelta(days=1)).isoformat()}": [7, 6],
        "q=quarterly": [8],
        "q=MODERATOR": [7, 2],  # case-insensitive; 2 is the seeded moderator
        "actor=system": [],
        "actor=nobody-at-all": [],
    }
    for query, expected in cases.items():
        assert seqs(client.get(f"/audit/?{query}").get_data(as_text=True)) == expected, query


def test_like_wildcards_in_a_search_are_taken_literally(app, client, auth):
    record(app, "test.percent", details={"note": "100% sure"})
    record(app, "test.plain", details={"note": "1000 sure"})
    auth.login("admin")
    assert seqs(client.get("/audit/?q=100%25").get_data(as_text=True)) == [5]
    assert seqs(client.get("/audit/?q=1_00").get_data(as_text=True)) == []  # "_" is no wildcard


def test_pages_stay_put_while_new_events_arrive(app, client, auth):
    add_events(app, 120)  # events 5..124
    auth.login("admin")  # 125
    first = client.get("/audit/").get_data(as_text=True)
    assert seqs(first)[0] == 125 and len(seqs(first)) == 50
    older = re.search(r'href="(/audit/\?before=\d+)"', first).group(1)
    add_events(app, 30)  # arrive while the auditor reads
    second = seqs(client.get(older).get_data(as_text=True))
    assert second == list(range(75, 25, -1))
    newer = re.search(r'href="(/audit/\?after=\d+)"', client.get(older).get_data(as_text=True)).group(1)
    assert seqs(client.get(newer).get_data(as_text=True)) == list(range(125, 75, -1))


def test_a_page_costs_a_fixed_number_of_queries(app, client, auth):
    for n in range(30):
        with app.app_context():
            who = Who(100 + n, f"user{n}")
            audit.record("test.many", actor=who, target_type="user", target_id=who.id, ip=f"10.0.0.{n}")
            db.session.commit()
    auth.login("admin")
    client.get("/audit/")  # warm: the setup check and such run once per app
    with count_queries(app) as statements:
        response = client.get("/audit/?action=test.many")
    assert response.status_code == 200 and len(seqs(response.get_data(as_text=True))) == 30
    assert len(statements) <= 10, "\n".join(statements)  # 8 today: session, permissions, page, users, chain
    with count_queries(app) as statements:
        client.get("/audit/stats?action=test.many")
    assert len(statements) <= 8


def test_the_detail_shows_pretty_json_and_links(app, client, auth):
    ursula, _ = seeded(app)
    auth.login("admin")
    body = client.get("/audit/events/7", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in body  # the drawer partial
    pretty = json.dumps({"after": "moderator", "before": "user"}, indent=2, sort_keys=True)
    assert pretty.replace('"', "&#34;") in body
    assert f'href="/admin/users/{ursula.id}/access"' in body
    assert 'href="/audit/?actor=admin"' in body
    assert client.get("/audit/events/999").status_code == 404


def test_stored_markup_in_details_stays_inert(app, client, auth):
    record(app, "test.xss", details={"name": "<script>alert(1)</script>"})
    auth.login("admin")
    for url in ("/audit/?action=test.xss", "/audit/events/5"):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body


def test_statistics_count_per_action_and_per_day(app, client, auth):
    seeded(app)
    auth.login("admin")
    body = client.get("/audit/stats?action=auth.", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "3 events" in body
    today = datetime.now(timezone.utc).date()
    for day, count in ((today - timedelta(days=3), 1), (today - timedelta(days=2), 1), (today, 1)):
        assert f"<th scope=\"row\">{day.isoformat()}</th><td>{count}</td>" in body
    assert re.search(r"auth\.login_failed</code></a>.*?bar-list-n\">1<", body, re.S)


def test_a_bad_filter_is_a_form_error_not_a_crash(app, client, auth):
    auth.login("admin")
    response = client.get("/audit/?since=2026-05-02&until=2026-05-01")
    assert response.status_code == 422 and "The end comes before the start." in response.get_data(as_text=True)
    assert client.get("/audit/?since=yesterday").status_code == 422
    assert client.get("/audit/?before=-5&after=abc").status_code == 200


def test_htmx_gets_only_the_results(app, client, auth):
    auth.login("admin")
    body = client.get("/audit/?action=auth.", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert body.lstrip().startswith('<div id="audit-results"')


def test_the_api_lists_events_with_a_cursor(app, client):
    from sanctum.tokens.service import create_token

    add_events(app, 8, action="test.api")
    with app.app_context():
        from sanctum.models import User

        admin = db.session.query(User).filter_by(username="admin").one()
        _token, raw = create_token(user=admin, name="siem", scopes=["audit.view"], expires_in_days=None)
    headers = {"Authorization": f"Bearer {raw}"}
    page = client.get("/api/v1/audit/events?action=test.api&limit=5", headers=headers).get_json()
    assert [e["seq"] for e in page["events"]] == [12, 11, 10, 9, 8]
    rest = client.get(f"/api/v1/audit/events?action=test.api&before={page['next_before']}", headers=headers).get_json()
    assert [e["seq"] for e in rest["events"]] == [7, 6, 5] and rest["next_before"] is None
    bad = client.get("/api/v1/audit/events?since=never", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid"
