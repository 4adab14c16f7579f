"""Scale of data: bench/users.py (users list) and bench/audit.py (audit viewer, export) in the runner.

    python -m bench users --users 100000        # the documented full size (default 10,000)
    python -m bench audit --events 1000000      # the documented full size (default 100,000)
    python -m bench users audit --full          # both at full size

Both run the app in-process (request through the real app: routing, session, permission
checks, queries, template) on a scratch SQLite file and PostgreSQL `sanctum_bench_*`.
"""
from __future__ import annotations

import shutil
import tempfile

from bench.harness import Results, drop_postgres, recreate_postgres, verdict

TARGET_MS = 50


def run_users(results: Results, databases: list[str], count: int) -> None:
    from bench import users

    print(f"\n== users list at {count:,} users")
    for database in databases:
        folder = tempfile.mkdtemp(prefix="sanctum-bench-users-")
        url = f"sqlite:///{folder}/bench.db" if database == "sqlite" else recreate_postgres("sanctum_bench_users")
        try:
            for _label, name, p50, p95, queries in users.run(url, database, count):
                results.add("users", f"{name} @ {count:,}", database,
                            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, {queries} queries",
                            target=f"p50 < {TARGET_MS} ms", verdict=verdict(p50 < TARGET_MS))
        finally:
            _clean(database, folder, "sanctum_bench_users")


def run_audit(results: Results, databases: list[str], count: int) -> None:
    import os

    from bench import audit

    print(f"\n== audit at {count:,} events")
    os.environ.setdefault("SANCTUM_INSTANCE_PATH", tempfile.mkdtemp(prefix="sanctum-bench-audit-"))
    for database in databases:
        folder = tempfile.mkdtemp(prefix="sanctum-bench-audit-")
        url = f"sqlite:///{folder}/bench.db" if database == "sqlite" else recreate_postgres("sanctum_bench_audit")
        try:
            result = audit.run(database, url, count, repeat=5)
        finally:
            _clean(database, folder, "sanctum_bench_audit")
        worst = max(result["pages"], key=lambda r: r[2])
        results.add("audit", f"filtered page @ {count:,}, worst of {len(result['pages'])}", database,
                    f"{worst[2]:.1f} ms ({worst[0]})", target=f"< {TARGET_MS} ms",
                    verdict=verdict(worst[2] < TARGET_MS))
        newest = result["pages"][0]
        results.add("audit", f"first page, no filter @ {count:,}", database, f"{newest[2]:.1f} ms")
        results.add("audit", f"export @ {count:,}", database, f"{result['export_rate']:,.0f} rows/s",
                    target="≥ 50,000 rows/s", verdict=verdict(result["export_rate"] >= 50_000))


def _clean(database: str, folder: str, pg_name: str) -> None:
    """The scratch data is large at full size (a million events): nothing is kept."""
    shutil.rmtree(folder, ignore_errors=True)
    if database == "postgresql":
        drop_postgres(pg_name)
