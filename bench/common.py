"""Helpers shared by the benchmarks: scratch databases and timing."""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from contextlib import contextmanager
from typing import Callable

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_BASE = os.environ.get("SANCTUM_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def scratch_databases(name: str) -> dict[str, str]:
    """{"sqlite": url, "postgresql": url} of fresh, empty databases for one benchmark."""
    folder = tempfile.mkdtemp(prefix=f"sanctum-bench-{name}-")
    urls = {"sqlite": f"sqlite:///{folder}/bench.db"}
    admin_url = make_url(PG_BASE)
    target = f"sanctum_bench_{name}"
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{target}"'))
        admin.dispose()
        urls["postgresql"] = admin_url.set(database=target).render_as_string(hide_password=False)
    except Exception as exc:  # noqa: BLE001 - the SQLite half still runs and says why
        print(f"  (PostgreSQL skipped: {exc.__class__.__name__}: {exc})")
    return urls


def app_for(url: str, folder: str | None = None):
    from sanctum import create_app

    instance = folder or tempfile.mkdtemp(prefix="sanctum-bench-instance-")
    os.environ["SANCTUM_INSTANCE_PATH"] = instance
    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 40, "BCRYPT_ROUNDS": 4,
                       "LOGIN_RATE_LIMIT": "100000 per minute", "LOG_LEVEL": "WARNING"})


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def timed(fn: Callable[[], object], repeat: int = 20) -> dict[str, float]:
    """Median and 95th percentile in milliseconds, after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"p50": statistics.median(samples), "p95": samples[int(len(samples) * 0.95) - 1]}


@contextmanager
def step(label: str):
    started = time.perf_counter()
    print(f"  {label}…", end="", flush=True)
    yield
    print(f" {time.perf_counter() - started:.1f} s")
