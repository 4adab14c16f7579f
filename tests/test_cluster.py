"""Do several processes agree on their shared secrets, and migrate one at a time?"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from sanctum import create_app
from sanctum.cluster import Membership, join_cluster
from sanctum.config import ConfigError
from tests.conftest import ROOT, SCALED, SECRET, TEST_DATABASE_URL, TEST_REDIS_URL


@pytest.mark.skipif(SCALED, reason="the refusal exists only without Redis")
def test_more_than_one_web_process_needs_redis(runner):
    result = runner.invoke(args=["serve", "--workers", "2", "--no-migrate"])
    assert result.exit_code != 0 and "needs SANCTUM_REDIS_URL" in result.output


@pytest.mark.skipif(not SCALED, reason="process membership lives in Redis")
class TestSharedSecrets:
    def make(self, prefix, secret):
        return create_app({"TESTING": True, "SECRET_KEY": secret, "DATABASE_URL": TEST_DATABASE_URL,
                           "REDIS_URL": TEST_REDIS_URL, "REDIS_PREFIX": prefix})

    def test_a_process_with_another_secret_key_refuses_to_start(self, redis_prefix):
        prefix = redis_prefix + "-members"
        first = join_cluster(self.make(prefix, SECRET), "web")
        try:
            assert join_cluster(self.make(prefix, SECRET), "worker") is not None  # same key: fine
            with pytest.raises(ConfigError, match=r"SANCTUM_SECRET_KEY differs .* process (web|worker)@"):
                join_cluster(self.make(prefix, "another-key-" + "y" * 40), "worker")
        finally:
            first.leave()

    def test_a_stopped_process_no_longer_blocks_a_rotated_key(self, redis_prefix):
        prefix = redis_prefix + "-rotate"
        old = join_cluster(self.make(prefix, SECRET), "web")
        old.leave()
        Membership(self.make(prefix, "rotated-key-" + "z" * 40), "web").check()

    def test_the_fingerprint_never_contains_the_secret(self, redis_prefix):
        from redis import Redis

        prefix = redis_prefix + "-secret"
        member = join_cluster(self.make(prefix, SECRET), "web")
        try:
            values = [Redis.from_url(TEST_REDIS_URL).get(k) for k in Redis.from_url(TEST_REDIS_URL).scan_iter(f"{prefix}:processes:*")]
            assert values and all(SECRET.encode() not in v for v in values)
        finally:
            member.leave()


def test_processes_starting_at_once_migrate_one_at_a_time(tmp_path):
    """Four processes race to migrate an empty database; one does, the others wait and find it done."""
    if SCALED:
        url = make_url(TEST_DATABASE_URL).set(database="sanctum_test_migrate_race")
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        database_url = url.render_as_string(hide_password=False)
    else:
        database_url = f"sqlite:///{tmp_path}/race.db"
    script = "from sanctum import create_app\nfrom sanctum.commands import apply_migrations\n" \
             "app = create_app()\nwith app.app_context():\n    apply_migrations()\n"
    env = dict(os.environ, SANCTUM_DATABASE_URL=database_url, SANCTUM_SECRET_KEY=SECRET,
               SANCTUM_INSTANCE_PATH=str(tmp_path), SANCTUM_REDIS_URL="")
    processes = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(4)]
    outputs = [p.communicate(timeout=120)[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], outputs
    assert sum("Running upgrade  -> 0001" in out for out in outputs) == 1
    engine = create_engine(database_url)
    assert "users" in inspect(engine).get_table_names()
    engine.dispose()
