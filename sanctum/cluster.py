"""Several processes, one configuration: what they must share is checked when each starts.

Every process of a scaled-out deployment (web processes and workers, on one host or
several) announces a fingerprint of the secrets it must share — an HMAC, never the
secret itself — under a short-lived Redis key, and refreshes it while it runs. A
process that starts with a different secret key (or encryption key) than a live
peer refuses to start and names that peer: sessions signed by one would be rejected
by the other, and data encrypted by one unreadable by the other. After a deliberate
key rotation the old processes' entries expire within a minute of their stopping.

Migrations: several processes starting at once must not all run them. The first
takes a lock (a PostgreSQL advisory lock, or a file lock beside the SQLite file),
the others wait for it and then find nothing left to do.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from sqlalchemy import text

from sanctum.config import ConfigError

log = logging.getLogger(__name__)
SHARED_KEYS = ("SECRET_KEY", "ENCRYPTION_KEY")
TTL_SECONDS = 60
REFRESH_SECONDS = 20
MIGRATION_LOCK_ID = 0x5A7C7_0001  # any constant: one advisory lock for migrations


def fingerprint(app: Flask) -> dict[str, str]:
    """HMACs of a fixed message under each shared secret: equal iff the secrets are equal."""
    return {
        key: hmac.new(str(app.config[key]).encode(), b"sanctum-config-fingerprint", hashlib.sha256).hexdigest()[:16]
        for key in SHARED_KEYS
        if app.config.get(key)
    }


class Membership:
    """This process's entry among the live processes sharing one Redis."""

    def __init__(self, app: Flask, role: str):
        from sanctum.jobs.rq_backend import redis_client

        self.redis = redis_client(app.config["REDIS_URL"])
        self.prefix = f"{app.config['REDIS_PREFIX']}:processes:"
        self.name = f"{role}@{socket.gethostname()}:{os.getpid()}"
        self.value = json.dumps({"role": role, "fingerprint": fingerprint(app)})
        self._stop = threading.Event()

    def check_and_join(self) -> None:
        self.check()
        self.redis.set(self.prefix + self.name, self.value, ex=TTL_SECONDS)

    def check(self) -> None:
        """Raise ConfigError if a live peer holds a different shared secret."""
        mine = json.loads(self.value)["fingerprint"]
        for key in self.redis.scan_iter(f"{self.prefix}*"):
            raw = self.redis.get(key)
            if raw is None:
                continue
            theirs = json.loads(raw).get("fingerprint", {})
            for name in set(mine) | set(theirs):
                if mine.get(name) != theirs.get(name):
                    peer = key.decode()[len(self.prefix):]
                    raise ConfigError(
                        f"SANCTUM_{name} differs from the one used by the running process {peer}. "
                        f"Every web process and worker must share the same SANCTUM_{name}."
                    )

    def keep_alive(self) -> None:
        def beat():
            while not self._stop.wait(REFRESH_SECONDS):
                try:
                    self.redis.set(self.prefix + self.name, self.value, ex=TTL_SECONDS)
                except Exception:  # noqa: BLE001 - Redis down: the entry lapses, nothing else breaks
                    log.warning("could not refresh this process's cluster entry", exc_info=True)

        threading.Thread(target=beat, name="sanctum-membership", daemon=True).start()

    def leave(self) -> None:
        self._stop.set()
        try:
            self.redis.delete(self.prefix + self.name)
        except Exception:  # noqa: BLE001
            pass


def join_cluster(app: Flask, role: str) -> Membership | None:
    """Check shared configuration against live peers, then stay listed. No-op without Redis."""
    if not app.config["REDIS_URL"]:
        return None
    membership = Membership(app, role)
    membership.check_and_join()
    membership.keep_alive()
    return membership


@contextmanager
def migration_lock(app: Flask, engine):
    """Hold the one lock that lets a single process run migrations at a time."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                conn.commit()
        return
    database = engine.url.database
    lock_path = Path(database + ".migrate.lock") if database and database != ":memory:" else \
        Path(app.instance_path) / "migrate.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
