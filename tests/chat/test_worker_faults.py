"""A worker killed mid-reply (SECURITY.md 27): the run ends failed and says so, the user's message
is kept, and Retry works. Scaled mode only: an in-process thread cannot be SIGKILLed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import select

from sanctum import create_app
from sanctum.chat import service
from sanctum.extensions import db
from sanctum.models import ChatMessage, ChatSession, User
from tests.chat.conftest import wait_for_run
from tests.conftest import ROOT, SCALED, shutdown, worker_env

pytestmark = pytest.mark.skipif(not SCALED, reason="needs RQ worker processes to kill")


def start_worker(app, instance_dir, prefix):
    env = worker_env(app.config["DATABASE_URL"], prefix, instance_dir)
    env["SANCTUM_JOB_RECOVERY_EVERY"] = "1"
    # Its own process group: RQ forks a scheduler process beside the worker, and a worker killed
    # the way systemd kills a service (the whole group) must not leave that child running.
    return subprocess.Popen([sys.executable, "-m", "sanctum.cli", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def test_a_killed_worker_ends_the_run_failed_and_retry_works(app, app_config, instance_dir, provider, agent_id, chat_id):
    prefix = f"fault-{uuid.uuid4().hex[:8]}"  # a queue of this test's own, away from the shared worker
    faulty = create_app(dict(app_config, REDIS_PREFIX=prefix))
    provider.reply = [f"w{n} " for n in range(200)]
    provider.pause = 0.05
    first = start_worker(faulty, instance_dir, prefix)
    second = None
    try:
        with faulty.app_context():
            user = db.session.scalar(select(User).where(User.username == "ursula"))
            chat = db.session.get(ChatSession, chat_id)
            mine, reply, run = service.send_message(user=user, chat=chat, body="keep talking")
            run_id, reply_id, mine_id = run.id, reply.id, mine.id
        wait_for_run(faulty, run_id, timeout=30, statuses=("running",))
        time.sleep(1.0)  # mid-stream
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        second = start_worker(faulty, instance_dir, prefix)  # its scheduler notices the silent heartbeat
        run = wait_for_run(faulty, run_id, timeout=60)
        assert run.status == "failed" and run.error_code == "interrupted"
        with faulty.app_context():
            assert db.session.get(ChatMessage, mine_id).body == "keep talking"  # nothing the user wrote is lost
            assert db.session.get(ChatMessage, reply_id).status == "failed"
            provider.reply, provider.pause = ["back again"], 0
            chat = db.session.get(ChatSession, chat_id)
            user = db.session.scalar(select(User).where(User.username == "ursula"))
            _reply, retried = service.retry_reply(user=user, chat=chat, message_id=reply_id)
            retried_id = retried.id
        assert wait_for_run(faulty, retried_id, timeout=30).status == "succeeded"
    finally:
        for process in (first, second):
            if process is None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # still finishing a reply
                pass
            except ProcessLookupError:
                pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # no worker or scheduler outlives the test
            except ProcessLookupError:
                pass
            process.wait(timeout=10)
        shutdown(faulty)
