"""Users list at 100,000 users: server time of the page, unfiltered, searched and deep.

    python -m bench.users [--users 100000]

Target: < 50 ms each on SQLite and PostgreSQL (p50 of the request handled in-process
by the real app: routing, session, permission checks, queries, template).
"""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import timedelta

from sqlalchemy import func, insert, select

from bench.common import app_for, migrate, scratch_databases, step, timed

TARGET_MS = 50


def seed(app, count: int) -> None:
    from sanctum.auth.passwords import hash_password
    from sanctum.extensions import db
    from sanctum.models import Role, User
    from sanctum.models.base import utcnow

    with app.app_context():
        roles = dict(db.session.execute(select(Role.name, Role.id)).all())
        password = hash_password("benchmark password that is long")
        now = utcnow()
        names = list(roles)
        batch = []
        for n in range(count):
            batch.append({
                "username": "admin" if n == 0 else f"user{n:06d}",
                "email": f"user{n:06d}@bench.example",
                "display_name": f"Person {n}",
                "password_hash": password,
                "role_id": roles["admin"] if n == 0 else roles[names[n % len(names)]],
                "status": ("active", "active", "active", "inactive", "pending")[n % 5],
                "failed_login_attempts": 0,
                "email_verified_at": now if n % 3 else None,
                "last_login": now - timedelta(minutes=n) if n % 4 else None,
                "created_at": now - timedelta(seconds=count - n),
                "updated_at": now,
            })
            if len(batch) == 5000:
                db.session.execute(insert(User), batch)
                batch.clear()
        if batch:
            db.session.execute(insert(User), batch)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            db.session.execute(select(func.count()).select_from(User))
            db.session.connection().exec_driver_sql("ANALYZE users")
            db.session.commit()


def deep_cursor(app, position: int, sort_key: str) -> str:
    from sanctum.extensions import db
    from sanctum.models import User
    from sanctum.users.listing import SORTS, _encode, _order

    with app.app_context():
        sort = SORTS[sort_key]
        user = db.session.scalars(select(User).order_by(*_order(sort, sort.descending))
                                  .offset(position).limit(1)).one()
        return _encode(user, sort)


def run(url: str, label: str, count: int) -> list[tuple]:
    from sanctum.extensions import db
    from tests.support.queries import count_queries

    app = app_for(url)
    with step(f"{label}: migrate"):
        migrate(app)
    with step(f"{label}: seed {count:,} users"):
        seed(app, count)
    client = app.test_client()
    from sanctum.auth.sessions import start_session
    from sanctum.models import User

    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        _row, token = start_session(admin, remember=False, ip="127.0.0.1", user_agent="bench")
        db.session.commit()
        engine = db.engine
    with client.session_transaction() as session:
        session["_user_id"] = token
    cases = {
        "unfiltered, first page": "/admin/users/",
        "searched (substring)": "/admin/users/?q=user0999",
        "searched, no match": "/admin/users/?q=nobody-at-all",
        "filtered role+status": "/admin/users/?role=viewer&status=active",
        "deep page (90 %, newest)": f"/admin/users/?after={deep_cursor(app, int(count * 0.9), 'newest')}",
        "deep page (90 %, by username)": f"/admin/users/?sort=username&after={deep_cursor(app, int(count * 0.9), 'username')}",
    }
    rows = []
    for name, path in cases.items():
        assert client.get(path).status_code == 200, path
        with count_queries(engine) as statements:
            client.get(path)
        figures = timed(lambda p=path: client.get(p))
        rows.append((label, name, figures["p50"], figures["p95"], len(statements)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(f"users list benchmark: {args.users:,} users, target p50 < {TARGET_MS} ms")
    rows = []
    for label, url in scratch_databases("users").items():
        rows += run(url, label, args.users)
    print()
    print(f"{'database':<11} {'page':<30} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}  target")
    for label, name, p50, p95, queries in rows:
        print(f"{label:<11} {name:<30} {p50:8.1f} {p95:8.1f} {queries:8d}  {'ok' if p50 < TARGET_MS else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
