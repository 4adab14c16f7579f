"""Queries per page: SQL statements each signed-in page sends, at small and at larger data.

    python -m bench queries [--database sqlite|postgresql|both]

Counted in-process (the app on the same kind of database, through its test client) with
tests/support/queries.py. Target: ≤ 8 per page, the same at both sizes.
"""
from __future__ import annotations

from bench.harness import PASSWORD, Instance, Results, csrf_token, verdict
from bench.pages import seed_chat

LIMIT = 8
GROW = {"users": 2_000, "audit events": 3_000, "chat messages": 500}


def grow(app, chat_id: int) -> None:
    from bench.users import seed as seed_users
    from sanctum import audit
    from sanctum.extensions import db
    from sanctum.models import ChatMessage

    seed_users(app, GROW["users"])
    for n in range(GROW["audit events"]):
        audit.record("bench.event", actor=None, target_type="user", target_id=str(n % 50), details={"n": n})
        if n % 500 == 0:
            db.session.commit()
    db.session.add_all(ChatMessage(chat_id=chat_id, role="user" if n % 2 == 0 else "agent", body=f"more {n}",
                                   status="complete") for n in range(GROW["chat messages"]))
    db.session.commit()


def count_pages(app, pages: dict[str, str]) -> dict[str, int]:
    from tests.support.queries import count_queries

    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"identifier": "benchadmin", "password": PASSWORD, "csrf_token": token})
    counts = {}
    for name, path in pages.items():
        assert client.get(path).status_code == 200, path  # warm: per-process setup is not per page
        with count_queries(app) as statements:
            client.get(path)
        counts[name] = len(statements)
    return counts


def run(results: Results, *, database: str = "sqlite") -> None:
    print(f"\n== queries per page ({database})")
    with Instance(f"queries_{database}", database=database) as instance:
        instance.create_admin()
        chat_id = instance.seed(seed_chat)
        pages = {"dashboard": "/dashboard/", "users list": "/admin/users/", "audit": "/audit/",
                 "chat": f"/chat/{chat_id}"}
        with instance.app() as app:
            small = count_pages(app, pages)
            with app.app_context():
                grow(app, chat_id)
            large = count_pages(app, pages)
    size = ", ".join(f"+{n:,} {what}" for what, n in GROW.items())
    for name in pages:
        ok = large[name] == small[name] <= LIMIT
        results.add("queries", f"{name}: statements small → large", database, f"{small[name]} → {large[name]}",
                    target=f"≤ {LIMIT}, same", verdict=verdict(ok))
    results.note(f"queries: 'large' adds {size} to the small instance")
