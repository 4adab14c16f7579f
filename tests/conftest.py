"""Fixtures in the flaskr style (`app`, `client`, `runner`), run in two modes.

- default: SQLite + in-process jobs + in-memory events;
- with SANCTUM_TEST_DATABASE_URL and SANCTUM_TEST_REDIS_URL set: PostgreSQL +
  Redis pub/sub + a real `sanctum worker` (RQ) subprocess.

Each test gets a clean database: SQLite copies a migrated template file;
PostgreSQL truncates every table and restores the rows the migrations seeded.
CSRF stays on.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import make_url

from sanctum import create_app
from sanctum.extensions import db
from tests.support import live_server as live_server_support
from tests.support.accounts import AuthActions, seed_accounts

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("SANCTUM_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("SANCTUM_TEST_REDIS_URL")
if bool(TEST_DATABASE_URL) != bool(TEST_REDIS_URL):
    raise pytest.UsageError("set both SANCTUM_TEST_DATABASE_URL and SANCTUM_TEST_REDIS_URL, or neither")
SCALED = bool(TEST_REDIS_URL)
SECRET = "test-secret-key-" + "x" * 32


def pytest_report_header(config):
    if SCALED:
        return f"sanctum mode: PostgreSQL + Redis + RQ worker ({make_url(TEST_DATABASE_URL).render_as_string()})"
    return "sanctum mode: SQLite + in-process jobs + in-memory events"


def base_config(database_url: str, prefix: str, instance: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "REDIS_PREFIX": prefix,
        "JOB_RETRY_BACKOFF": [0.2, 0.2, 0.2],
        "JOB_HEARTBEAT_INTERVAL": 1,
        "LOG_LEVEL": "INFO",
        "BCRYPT_ROUNDS": 4,
        "RATELIMIT_KEY_PREFIX": f"{prefix}-{uuid.uuid4().hex[:8]}",  # no counts leak between tests
    }


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    return f"sanctum-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("instance")
    os.environ["SANCTUM_INSTANCE_PATH"] = str(path)
    return path


@pytest.fixture(scope="session")
def database(tmp_path_factory, redis_prefix, instance_dir):
    """Migrate once; hand each test a way to get a clean copy."""
    if SCALED:
        yield PostgresDatabase(TEST_DATABASE_URL, redis_prefix, instance_dir)
    else:
        yield SqliteDatabase(tmp_path_factory.mktemp("db"), redis_prefix, instance_dir)


class SqliteDatabase:
    def __init__(self, folder: Path, prefix: str, instance: Path):
        self.folder, self.prefix, self.instance = folder, prefix, instance
        self.template = folder / "template.db"
        migrate(base_config(f"sqlite:///{self.template}", prefix, instance))
        self.counter = 0

    def fresh_url(self) -> str:
        self.counter += 1
        target = self.folder / f"test-{self.counter}.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"


class PostgresDatabase:
    def __init__(self, url: str, prefix: str, instance: Path):
        self.url, self.prefix = url, prefix
        recreate_postgres_database(url)
        migrate(base_config(url, prefix, instance))
        self.engine = create_engine(url, poolclass=None)
        with self.engine.connect() as conn:
            reflected = MetaData()
            reflected.reflect(conn)
            # Parents before children, so restored rows satisfy their foreign keys.
            names = [t.name for t in reflected.sorted_tables if t.name != "alembic_version"]
            self.tables = names
            self.seed = {t: [dict(r._mapping) for r in conn.execute(text(f'SELECT * FROM "{t}"'))] for t in names}

    def fresh_url(self) -> str:
        with self.engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in self.tables) + " RESTART IDENTITY CASCADE"))
            for table, rows in self.seed.items():
                if rows:
                    columns = list(rows[0])
                    conn.execute(
                        text(f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES '
                             f'({", ".join(":" + c for c in columns)})'),
                        rows,
                    )
                    if "id" in columns:
                        # Seeded rows carry explicit ids: move the sequence past them.
                        conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                          f"(SELECT max(id) FROM \"{table}\"))"))
        return self.url


def recreate_postgres_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


def migrate(config: dict) -> None:
    from flask_migrate import upgrade

    app = create_app(config)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    shutdown(app)


def shutdown(app) -> None:
    from sanctum import events, jobs

    jobs.get_backend(app).shutdown()
    events.get_bus(app).shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback for the whole session, started before the
    worker so that mail jobs run in the worker process reach it too."""
    from tests.support.mail import MailCatcher

    server = MailCatcher().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server, app_config):
    """Send this test's mail over SMTP to `smtp_server`: ask for it before `app` or `client`."""
    app_config.update(smtp_server.config())
    smtp_server.clear()
    return smtp_server


@pytest.fixture(scope="session")
def rq_worker(database, redis_prefix, instance_dir, smtp_server):
    """A real `sanctum worker` process, shared by the session, in the scaled-out mode."""
    if not SCALED:
        yield None
        return
    env = worker_env(database.url, redis_prefix, instance_dir, smtp=smtp_server)
    log = open(instance_dir / "worker.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "sanctum.cli", "worker"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    from redis import Redis

    client = Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(f"*{redis_prefix}*"))
    if keys:
        client.delete(*keys)


def worker_env(database_url: str, prefix: str, instance: Path, smtp=None) -> dict:
    env = dict(os.environ)
    if smtp is not None:
        # The worker sends every mail job through the test SMTP server; apps without
        # SMTP_HOST never enqueue one (their mail stays in the outbox).
        env.update({f"SANCTUM_{key}": str(value) for key, value in smtp.config().items()})
    env.update(
        SANCTUM_SECRET_KEY=SECRET,
        SANCTUM_DATABASE_URL=database_url,
        SANCTUM_REDIS_URL=TEST_REDIS_URL or "",
        SANCTUM_REDIS_PREFIX=prefix,
        SANCTUM_JOB_RETRY_BACKOFF="[0.2, 0.2, 0.2]",
        SANCTUM_JOB_HEARTBEAT_INTERVAL="1",
        SANCTUM_BCRYPT_ROUNDS="4",
        SANCTUM_INSTANCE_PATH=str(instance),
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def app_config(database, redis_prefix, instance_dir) -> dict:
    """Tweak before `app` is built: `def test_x(app_config, app)` … or override this fixture."""
    return base_config(database.fresh_url(), redis_prefix, instance_dir)


@pytest.fixture
def app(request, app_config, rq_worker):
    """A fresh app on a clean database, with one account per built-in role
    (admin, mod, ursula, vera; see tests.support.accounts) unless the test is
    marked `empty_database`."""
    app = create_app(app_config)
    if request.node.get_closest_marker("empty_database") is None:
        seed_accounts(app)
    yield app
    if SCALED:
        wait_for_worker(app)
    shutdown(app)
    if SCALED:
        forget_rate_limits(app_config["REDIS_PREFIX"])


def wait_for_worker(app, timeout: float = 15.0) -> None:
    """Let the shared RQ worker finish what this test enqueued (a request may enqueue a job the
    test never waits for), so that job never runs against, or deadlocks with, the truncation
    that gives the next test its clean tables. Delayed retries are not waited for."""
    from sanctum import jobs

    backend = jobs.get_backend(app)
    deadline, idle_seen = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and idle_seen < 2:
        busy = backend.queue.count or any(w.get_state() == "busy" for w in backend.workers())
        idle_seen = 0 if busy else idle_seen + 1
        time.sleep(0.02)


def forget_rate_limits(prefix: str) -> None:
    """Flask-Limiter's singleton keeps the first app's key prefix, so counts would carry from
    one test to the next through Redis (in memory each app has its own storage)."""
    from redis import Redis

    client = Redis.from_url(TEST_REDIS_URL)
    keys = list(client.scan_iter(f"*LIMITER*{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def live_server(app):
    """The app served by a real threaded HTTP server on loopback (websockets work)."""
    server = live_server_support.start(app)
    yield server
    server.stop()


@pytest.fixture
def wait_for_job(app):
    """Wait for a job record to reach a finished state, in whichever backend runs it."""
    from sanctum.models import JobRecord

    def wait(record_id: int, timeout: float = 15.0, status: tuple[str, ...] = ("succeeded", "failed")):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with app.app_context():
                record = db.session.get(JobRecord, record_id)
                if record is not None and record.status in status:
                    db.session.expunge(record)
                    return record
            time.sleep(0.05)
        raise AssertionError(f"job {record_id} did not reach {status} within {timeout}s")

    return wait


CLOCK_START = datetime(2030, 3, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    """Time frozen at CLOCK_START (time_machine); `clock.shift(timedelta(...))` moves it.
    Ask for it before anything signs in, or the session starts in the real present."""
    import time_machine

    with time_machine.travel(CLOCK_START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def auth(client):
    """Sign in and out through the real forms (CSRF on): `auth.login("admin")`."""
    return AuthActions(client)


# ---------------------------------------------------------------- browsers
# One Playwright (and one Chromium) per test session: a second sync_playwright() in the same
# process fails, so every test that drives a browser (tests/browser, tests/cluster) uses this.

@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.console_problems = []
    page.on("console", lambda msg: msg.type in ("error", "warning") and page.console_problems.append(msg.text))
    page.on("pageerror", lambda exc: page.console_problems.append(str(exc)))
    yield page
    context.close()
