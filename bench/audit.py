"""Audit log at a million events: filtered page time and export rate, on SQLite and PostgreSQL.

    python -m bench.audit                 # both databases, 1,000,000 events
    python bench/audit.py --events 200000 --only sqlite
    SANCTUM_BENCH_PG=postgresql+psycopg://postgres@127.0.0.1:5432/sanctum_bench_wt9 python -m bench.audit

Each run builds a scratch database (a temporary SQLite file; the PostgreSQL database named
in SANCTUM_BENCH_PG is dropped and created again), migrates it, and loads the events with
their hash chain computed exactly as `audit.record()` would (secondary indexes are dropped
for the load and rebuilt after, as one would for an import). Then it times:

- a filtered page: the viewer's query alone, and the whole request through the app (HTML
  rendered), median of several runs; target < 50 ms. Free-text search is printed but kept
  out of the target: on SQLite a rare term scans every row (PostgreSQL has a trigram index);
- the statistics panel (loaded after the page);
- an export of every event through the same generator the export job uses; target ≥ 50,000
  rows/s;
- a full `verify_chain()`.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/sanctum_bench_wt9"
PASSWORD = "benchmark horse battery staple"
USERS = 2_000
ACTIONS = [  # (action, weight, outcome)
    ("auth.login_succeeded", 40, "success"), ("auth.login_failed", 12, "failure"), ("auth.logout", 15, "success"),
    ("access.denied", 6, "denied"), ("session.revoked", 4, "success"), ("token.created", 3, "success"),
    ("token.refreshed", 8, "success"), ("token.revoked", 2, "success"), ("auth.password_changed", 2, "success"),
    ("auth.lockout", 1, "denied"), ("role.assigned", 1, "success"), ("grant.created", 1, "success"),
    ("grant.expired", 1, "success"), ("user.profile_updated", 2, "success"), ("settings.changed", 1, "success"),
    ("audit.exported", 1, "success"),
]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0",
          "Mozilla/5.0 (Macintosh; Mac OS X 14_5) Safari/605.1", "python-requests/2.32", "curl/8.5"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--repeat", type=int, default=7, help="runs per timing; the median is printed")
    args = parser.parse_args(argv)
    os.environ.setdefault("SANCTUM_INSTANCE_PATH", tempfile.mkdtemp(prefix="sanctum-bench-"))
    results = []
    with tempfile.TemporaryDirectory(prefix="sanctum-bench-") as folder:
        targets = {"sqlite": f"sqlite:///{folder}/bench.db", "postgresql": os.environ.get("SANCTUM_BENCH_PG", DEFAULT_PG)}
        for name, url in targets.items():
            if args.only and name != args.only:
                continue
            results.append(run(name, url, args.events, args.repeat))
    print("\nsummary")
    for r in results:
        page_ok = "ok" if r["worst_page_ms"] < 50 else "MISSED"
        rate_ok = "ok" if r["export_rate"] >= 50_000 else "MISSED"
        print(f"  {r['name']:<10} worst filtered page, free text aside, {r['worst_page_ms']:6.1f} ms (target < 50: {page_ok}); "
              f"export {r['export_rate']:,.0f} rows/s (target >= 50,000: {rate_ok})")
    return 0


def run(name: str, url: str, count: int, repeat: int) -> dict:
    from flask_migrate import upgrade

    from sanctum import create_app
    from sanctum.extensions import db

    print(f"\n== {name}: {count:,} events")
    if name == "postgresql":
        recreate_postgres(url)
    app = create_app({"SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url, "BCRYPT_ROUNDS": 4,
                      "LOGIN_RATE_LIMIT": "1000 per minute", "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        seed(count)
        print(f"  loaded in {time.perf_counter() - started:.1f} s (chain computed, indexes rebuilt)")
        db.engine.dispose()
    client = app.test_client()
    sign_in(client)
    result = {"name": name}
    pages = time_pages(app, client, repeat)
    result["pages"] = pages
    result["worst_page_ms"] = max(ms for _, _, ms in pages)
    result["export_rate"] = time_export(app)
    time_verify(app)
    from sanctum import events, jobs

    jobs.get_backend(app).shutdown()
    events.get_bus(app).shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return result


# ---------------------------------------------------------------- loading

def seed(count: int) -> None:
    from sqlalchemy import text

    from sanctum.auth.service import create_user
    from sanctum.extensions import db

    create_user(username="benchadmin", email="benchadmin@example.com", password=PASSWORD, role="admin",
                verified=True, action="bench.seeded")
    db.session.commit()
    postgres = db.engine.dialect.name == "postgresql"
    users = [(f"user{n:04d}",) for n in range(USERS)]
    with db.engine.begin() as conn:
        role_id = conn.execute(text("SELECT id FROM roles WHERE name = 'user'")).scalar()
        conn.execute(text("INSERT INTO users (username, email, password_hash, role_id, status, failed_login_attempts, "
                          "created_at, updated_at) VALUES (:u, :e, 'x', :r, 'active', 0, :t, :t)"),
                     [{"u": u, "e": f"{u}@example.com", "r": role_id, "t": datetime.now(timezone.utc)} for (u,) in users])
        first_id = conn.execute(text("SELECT min(id) FROM users WHERE username LIKE 'user%'")).scalar()
        head = conn.execute(text("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1")).one()
        indexes = secondary_indexes(conn, postgres)
        for name, _sql in indexes:
            conn.execute(text(f'DROP INDEX "{name}"'))
    rows = generate(count, head.last_seq, head.last_hash, first_id)
    last_seq, last_hash = (load_postgres if postgres else load_sqlite)(rows)
    with db.engine.begin() as conn:
        for _name, sql in indexes:
            conn.execute(text(sql))
        conn.execute(text("UPDATE audit_chain_head SET last_seq = :s, last_hash = :h WHERE id = 1"),
                     {"s": last_seq, "h": last_hash})
        conn.execute(text("ANALYZE"))  # what autovacuum (PostgreSQL) or PRAGMA optimize (SQLite) keeps up


def secondary_indexes(conn, postgres: bool) -> list[tuple[str, str]]:
    from sqlalchemy import text

    if postgres:
        rows = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_events' "
                                 "AND indexname NOT IN ('pk_audit_events', 'uq_audit_events_seq')")).all()
    else:
        rows = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                 "AND tbl_name = 'audit_events' AND sql IS NOT NULL")).all()
    return [(r[0], r[1]) for r in rows]


def generate(count: int, seq: int, prev_hash: str, first_user_id: int):
    """Events over the last 365 days, oldest first, each hashed onto the one before."""
    from sanctum.audit.service import event_hash

    rng = random.Random(9)
    names, weights = [a for a, _, _ in ACTIONS], [w for _, w, _ in ACTIONS]
    outcomes = {a: o for a, _, o in ACTIONS}
    start = datetime.now(timezone.utc) - timedelta(days=365)
    step = timedelta(days=365) / count
    ips = [f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(500)]
    actions = rng.choices(names, weights, k=count)
    for n in range(count):
        seq += 1
        user = rng.randrange(USERS)
        action = actions[n]
        event = SimpleNamespace(
            seq=seq, created_at=start + step * n, actor_id=first_user_id + user, actor_label=f"user{user:04d}",
            action=action, target_type="user", target_id=str(first_user_id + user), outcome=outcomes[action],
            ip=ips[(user * 7 + n % 3) % len(ips)], user_agent=AGENTS[user % len(AGENTS)],
            request_id=f"{seq:032x}", details={"n": n, "reason": "bad_password"} if action == "auth.login_failed"
            else {"n": n}, prev_hash=prev_hash)
        event.hash = prev_hash = event_hash(event)
        yield event


COLUMNS = ("seq", "created_at", "actor_id", "actor_label", "action", "target_type", "target_id", "outcome", "ip",
           "user_agent", "request_id", "details", "prev_hash", "hash")


def load_sqlite(rows) -> tuple[int, str]:
    from sanctum.extensions import db

    raw = db.engine.raw_connection()
    last = (0, "")
    try:
        cursor = raw.cursor()
        batch = []
        sql = f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
        for e in rows:
            batch.append((e.seq, e.created_at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"),
                          e.actor_id, e.actor_label, e.action, e.target_type, e.target_id, e.outcome, e.ip,
                          e.user_agent, e.request_id, json.dumps(e.details), e.prev_hash, e.hash))
            last = (e.seq, e.hash)
            if len(batch) >= 50_000:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
        raw.commit()
    finally:
        raw.close()
    return last


def load_postgres(rows) -> tuple[int, str]:
    from sanctum.extensions import db

    raw = db.engine.raw_connection()
    last = (0, "")
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for e in rows:
                copy.write_row((e.seq, e.created_at, e.actor_id, e.actor_label, e.action, e.target_type, e.target_id,
                                e.outcome, e.ip, e.user_agent, e.request_id, json.dumps(e.details), e.prev_hash,
                                e.hash))
                last = (e.seq, e.hash)
        raw.commit()
    finally:
        raw.close()
    return last


def recreate_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def sign_in(client) -> None:
    import re

    body = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body).group(1)
    response = client.post("/login", data={"identifier": "benchadmin", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, "could not sign in"


# ---------------------------------------------------------------- timing

def median_ms(fn, repeat: int) -> float:
    fn()  # warm caches and the statement cache
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def time_pages(app, client, repeat: int) -> list[tuple[str, float, float]]:
    from urllib.parse import urlencode

    from sanctum.audit import query
    from sanctum.audit.forms import AuditFilterForm
    from sanctum.extensions import db

    today = datetime.now(timezone.utc).date()
    with app.app_context():
        middle = query.head_seq() // 2
        from sqlalchemy import select

        from sanctum.models import AuditEvent

        some_ip = db.session.scalar(select(AuditEvent.ip).where(AuditEvent.seq == middle))
    filters = [
        ("newest, no filter", {}),
        ("action prefix auth. + failures", {"action": "auth.", "outcome": "failure"}),
        ("one actor", {"actor": "user0042"}),
        ("one target", {"target": "user:" + str(_user_id(app, "user1234"))}),
        ("one IP", {"ip": some_ip}),
        ("IP prefix 10.1", {"ip": "10.1."}),
        ("rare action, last 7 days", {"action": "auth.lockout", "since": (today - timedelta(days=7)).isoformat()}),
        ("a day in March, one action", {"action": "token.created", "since": "2026-03-03", "until": "2026-03-03"}),
        ("deep page (keyset)", {"before": str(middle)}),
        ("free text in details (q=)", {"q": "bad_password"}),
        ("free text, rare (q=)", {"q": "123456"}),
    ]
    print(f"  {'filtered page':<34} {'query':>9} {'request':>9}   rows")
    results = []
    for label, args in filters:
        def run_query(args=args):
            with app.test_request_context("/audit/?" + urlencode(args)):
                form = AuditFilterForm(formdata=None, data={k: v for k, v in args.items() if k != "before"})
                for name in ("since", "until"):
                    if name in args:
                        getattr(form, name).data = datetime.fromisoformat(args[name]).date()
                before = int(args["before"]) if "before" in args else None
                page = query.page(form.to_filter(), before=before)
                db.session.remove()
                return page
        rows = len(run_query().events)
        query_ms = median_ms(run_query, repeat)
        page_ms = median_ms(lambda args=args: _get(client, "/audit/?" + urlencode(args)), repeat)
        results.append((label, query_ms, page_ms))
        print(f"  {label:<34} {query_ms:7.1f}ms {page_ms:7.1f}ms   {rows}")
    stats_ms = median_ms(lambda: _get(client, "/audit/stats?action=auth."), max(3, repeat // 2))
    print(f"  {'stats panel (30 days, auth.)':<34} {'':>9} {stats_ms:7.1f}ms")
    return [r for r in results if not r[0].startswith("free text")]


def _get(client, url):
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200, (url, response.status_code)


def _user_id(app, username):
    from sanctum.auth.service import find_user

    with app.app_context():
        return find_user(username).id


def time_export(app) -> float:
    from sanctum.audit import query

    with app.app_context():
        upto = query.head_seq()
        for fmt in ("csv", "jsonl"):
            started = time.perf_counter()
            rows = size = 0
            with open(os.devnull, "w") as sink:
                for text, n in query.export_chunks(query.AuditFilter(), fmt, upto_seq=upto):
                    sink.write(text)
                    rows += n
                    size += len(text)
            seconds = time.perf_counter() - started
            print(f"  export {fmt:<5} {rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s "
                  f"({size / 1e6:.0f} MB)")
            if fmt == "csv":
                rate = rows / seconds
        started = time.perf_counter()
        selected = query.AuditFilter(action="auth.login_failed")
        rows = sum(n for _, n in query.export_chunks(selected, "csv", upto_seq=upto))
        seconds = time.perf_counter() - started
        print(f"  export csv of one action: {rows:,} rows at {rows / seconds:,.0f} rows/s")
    return rate


def time_verify(app) -> None:
    from sanctum.audit import verify_chain

    with app.app_context():
        started = time.perf_counter()
        report = verify_chain()
        seconds = time.perf_counter() - started
    state = "intact" if report.ok else f"BROKEN at {report.first_bad_seq}: {report.reason}"
    print(f"  verify_chain: {report.checked:,} events in {seconds:.1f} s ({report.checked / seconds:,.0f}/s), {state}")


if __name__ == "__main__":
    sys.exit(main())
