"""The scale-out cluster: a private redis-server, two `sanctum serve` web processes and one
`sanctum worker`, on this session's PostgreSQL server but a database of their own.

Module-scoped: starting it takes a few seconds, and the fault tests share it in order.
Everything started here is stopped here, whole process groups, bounded in time.
"""
from __future__ import annotations

import html
import re
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from sanctum import create_app
from sanctum.agents.service import create_agent
from sanctum.extensions import db
from sanctum.models import ChatMessage, ChatSession, Run, User
from tests.chat.conftest import Provider
from tests.conftest import ROOT, TEST_DATABASE_URL, base_config, migrate, recreate_postgres_database, shutdown, \
    worker_env
from tests.support.accounts import PASSWORD, make_user, seed_accounts
from tests.support.processes import Browser, Process, RedisServer, WebProcess, wait_until

ENCRYPTION_KEY = "l0Cz7sbTO6DOV9yqYWkqD9Q2yGk1tYl8mFJ2Vd9v4Gk="
FULL_REPLY = [f"w{n} " for n in range(60)]
SHORT_REPLY = "Hello from the worker"


class Cluster:
    """The processes, plus an in-process app on the same database to look at rows."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.prefix = f"scale-{uuid.uuid4().hex[:8]}"
        self.database_url = make_url(TEST_DATABASE_URL).set(
            database=make_url(TEST_DATABASE_URL).database + "_scale").render_as_string(hide_password=False)
        self.redis = RedisServer(tmp)
        self.provider = Provider()
        self.processes: list[Process] = []
        self.app = None
        self.agent_id = None

    # ------------------------------------------------------------------ set-up

    def config(self) -> dict:
        return dict(base_config(self.database_url, self.prefix, self.tmp), REDIS_URL=self.redis.url,
                    ENCRYPTION_KEY=ENCRYPTION_KEY)

    def env(self) -> dict:
        env = worker_env(self.database_url, self.prefix, self.tmp)
        env.update(SANCTUM_REDIS_URL=self.redis.url, SANCTUM_ENCRYPTION_KEY=ENCRYPTION_KEY,
                   SANCTUM_JOB_RECOVERY_EVERY="1", SANCTUM_LOG_LEVEL="INFO",
                   # Every sign-in of the module comes from 127.0.0.1; the shared-limit test uses
                   # ACCOUNT_RATE_LIMIT (5 a minute) on /forgot instead.
                   SANCTUM_LOGIN_RATE_LIMIT="600 per minute")
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return env

    def start(self) -> None:
        self.redis.start()
        recreate_postgres_database(self.database_url)
        migrate(self.config())
        self.app = create_app(self.config())
        seed_accounts(self.app)
        with self.app.app_context():
            self.agent_id = create_agent(data={
                "name": "echo", "display_name": "Echo", "provider": "openai",
                "base_url": self.provider.server.url + "/v1", "model": "test-model",
                "roles": ["admin", "moderator", "user"], "read_timeout": 5, "total_timeout": 60}, actor=None).id
        self.web1 = self.spawn_web("web1")
        self.web2 = self.spawn_web("web2")
        self.worker = self.spawn_worker("worker1")
        for web in (self.web1, self.web2):
            web.wait_ready()
        self.wait_ready()

    def spawn_web(self, name: str) -> WebProcess:
        # Each web process gets its own metrics folder: two servers on one host.
        env = dict(self.env(), SANCTUM_PROMETHEUS_MULTIPROC_DIR=str(self.tmp / f"prom-{name}"))
        process = WebProcess(name, env, self.tmp, ROOT)
        self.processes.append(process)
        process.start()
        return process

    def spawn_worker(self, name: str) -> Process:
        process = Process(name, [sys.executable, "-m", "sanctum.cli", "worker"], self.env(), self.tmp, ROOT)
        self.processes.append(process)
        return process.start()

    def wait_ready(self, timeout: float = 30) -> None:
        for web in (self.web1, self.web2):
            answers = []

            def ready():
                answers.append(httpx.get(web.url + "/readyz", timeout=5))
                return answers[-1].status_code == 200

            try:
                wait_until(ready, timeout, f"{web.name} ready")
            except AssertionError as exc:
                raise AssertionError(f"{exc}: {answers[-1].text if answers else ''}") from None

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.redis.stop()
        self.provider.server.stop()
        if self.app is not None:
            shutdown(self.app)
            drop_database(self.database_url)

    # ------------------------------------------------------------------ people and chats

    def person(self, username: str, web: WebProcess, *, role: str = "user") -> Browser:
        with self.app.app_context():
            exists = db.session.scalar(select(User.id).where(User.username == username))
        if exists is None:
            make_user(self.app, username, role=role)
        browser = Browser(web.url)
        browser.login(username, PASSWORD)
        return browser

    def user_id(self, username: str) -> int:
        with self.app.app_context():
            return db.session.scalar(select(User.id).where(User.username == username))

    def new_chat(self, username: str) -> int:
        with self.app.app_context():
            chat = ChatSession(user_id=self.user_id(username), agent_id=self.agent_id, title="Scale test")
            db.session.add(chat)
            db.session.commit()
            return chat.id

    def messages(self, chat_id: int) -> list[ChatMessage]:
        with self.app.app_context():
            rows = db.session.scalars(select(ChatMessage).where(ChatMessage.chat_id == chat_id)
                                      .order_by(ChatMessage.id)).all()
            db.session.expunge_all()
            return list(rows)

    def run_of(self, reply_id: int) -> Run:
        with self.app.app_context():
            message = db.session.get(ChatMessage, reply_id)
            run = db.session.get(Run, message.run_id)
            db.session.expunge_all()
            return run

    def wait_reply(self, chat_id: int, *, count: int, status=("complete",), timeout: float = 30) -> ChatMessage:
        """The newest agent message of the chat once it reaches `status` (and the chat has `count` messages)."""
        def done():
            rows = self.messages(chat_id)
            agent = [m for m in rows if m.role == "agent"]
            return len(rows) >= count and agent and agent[-1].status in status and agent[-1]

        return wait_until(done, timeout, f"reply in chat {chat_id} reaching {status}", every=0.2)


def drop_database(url: str) -> None:
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    except BaseException:
        for process in cluster.processes:
            print(f"--- {process.name} log tail ---\n{process.log_tail()}")
        raise
    finally:
        cluster.stop()


@pytest.fixture(autouse=True)
def calm_provider(cluster):
    cluster.provider.reply, cluster.provider.pause, cluster.provider.mode = ["Hello", " from", " the", " worker"], 0, "ok"
    yield
    cluster.wait_ready(timeout=40)  # leave the processes healthy for the next test


def send(browser: Browser, chat_id: int, body: str) -> httpx.Response:
    response = browser.post(f"/chat/{chat_id}/messages", {"body": body}, page=f"/chat/{chat_id}")
    assert response.status_code == 302, response.text[:500]
    return response


def is_final(message: dict) -> bool:
    return message.get("type") == "message" and message.get("role") == "agent" and \
        message.get("status") in ("complete", "failed", "cancelled")


_STREAM_TEXT = re.compile(r'<p class="stream-text" data-length="\d+">(.*?)</p>', re.S)


class ChatView:
    """What chat.js keeps of a conversation: messages by id, streaming text joined by offsets,
    a resync asked for on a gap, and the same resync point."""

    def __init__(self):
        self.ids: list[int] = []
        self.text: dict[int, str] = {}
        self.status: dict[int, str] = {}
        self.wants_resync = False
        self.garbled: list[str] = []

    def resync_point(self) -> int:
        streaming = [i for i in self.ids if self.status.get(i) == "streaming"]
        return min(streaming) - 1 if streaming else max(self.ids, default=0)

    def caught_up(self, rows) -> bool:
        return [m.id for m in rows] == self.ids and all(self.status.get(m.id) == m.status for m in rows) \
            and all(m.status != "streaming" for m in rows)

    def apply(self, data: dict) -> None:
        if data.get("type") == "message":
            if data["id"] not in self.ids:
                self.ids.append(data["id"])
                self.ids.sort()
            self.status[data["id"]] = data["status"]
            if data["status"] == "streaming":
                match = _STREAM_TEXT.search(data["html"])
                shown = html.unescape(match.group(1)) if match else ""
                if len(shown) >= len(self.text.get(data["id"], "")):
                    self.text[data["id"]] = shown
        elif data.get("type") == "delta":
            have = self.text.get(data["message_id"], "")
            if data["message_id"] not in self.ids or data["offset"] > len(have):
                self.wants_resync = True  # a gap: chat.js asks the database
                return
            end = data["offset"] + len(data["text"])
            if end > len(have):
                joined = have + data["text"][len(have) - data["offset"]:]
                if not "".join(FULL_REPLY).startswith(joined) and not SHORT_REPLY.startswith(joined):
                    self.garbled.append(joined[-40:])
                self.text[data["message_id"]] = joined


