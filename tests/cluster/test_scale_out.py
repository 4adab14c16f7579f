"""Scale-out and faults (issue #11, SECURITY.md 26–29), with real processes.

Two `sanctum serve` web processes and one `sanctum worker` run on loopback against the real
PostgreSQL (a database of this module's own) and a private redis-server on a spare port that
the tests stop and start again. People use them the way a browser does: HTTP with cookies and
CSRF tokens, and the page's websocket. The tests run in order and share the processes; each
uses its own account and chat.

Everything started here is stopped here, whole process groups, bounded in time.
"""
from __future__ import annotations

import re
import time

import httpx
import pytest
from redis import Redis
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from sanctum.extensions import db
from sanctum.models import JobRecord
from tests.cluster.conftest import FULL_REPLY, SHORT_REPLY, ChatView, is_final, send
from tests.conftest import SCALED
from tests.support.accounts import PASSWORD
from tests.support.processes import Browser, wait_until

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not SCALED, reason="scale-out needs PostgreSQL and Redis: set SANCTUM_TEST_DATABASE_URL "
                                          "and SANCTUM_TEST_REDIS_URL (SQLite mode runs one process only)"),
]


# ---------------------------------------------------------------------------- a. chat across processes

def test_a_reply_made_by_the_worker_reaches_a_socket_on_another_process(cluster):
    alice = cluster.person("alice", cluster.web1)
    chat_id = cluster.new_chat("alice")
    socket = alice.socket(f"chat:{chat_id}")
    try:
        send(alice, chat_id, "hello there")  # a request to web1; the worker replies through Redis
        received = socket.receive_until(is_final, timeout=20)
        view = ChatView()
        for data in received:
            view.apply(data)
        final = received[-1]
        assert final["status"] == "complete" and SHORT_REPLY in final["html"]
        assert view.text[final["id"]] == SHORT_REPLY  # every chunk arrived, in order
        assert any(d.get("type") == "delta" for d in received)
    finally:
        socket.close()
        alice.close()


# ---------------------------------------------------------------------------- b. cut-off from another process

def _end_sessions(admin: Browser, user_id: int, username: str) -> httpx.Response:
    return admin.post(f"/admin/users/{user_id}/sign-out", page=f"/admin/users/{user_id}")


def _deactivate(admin: Browser, user_id: int, username: str) -> httpx.Response:
    return admin.post(f"/admin/users/{user_id}/status/deactivate", page=f"/admin/users/{user_id}")


def _suspend(admin: Browser, user_id: int, username: str) -> httpx.Response:
    """A temporary ban (issue 8) through the sanctions form."""
    return admin.post("/moderation/sanctions/new", {"username": username, "type": "temporary_ban",
                                                     "duration": "24h", "reason": "Suspended in the cluster test."},
                      page=f"/moderation/sanctions/new?user_id={user_id}")


# Each way an administrator or a moderator cuts someone off: the request goes to web2, the
# person's socket sits on web1. Add a row to cover another action.
CUT_OFF_ACTIONS = {
    "sessions-ended": _end_sessions,
    "deactivated": _deactivate,
    "suspended": _suspend,
}


@pytest.mark.parametrize("action", list(CUT_OFF_ACTIONS))
def test_b_cutting_someone_off_on_process_2_closes_their_socket_on_process_1(cluster, action):
    username = f"cut-{action}"
    person = cluster.person(username, cluster.web1)
    # The case: a moderator (not an admin) suspends the person.
    admin = cluster.person("moderator-2", cluster.web2, role="moderator") if action == "suspended" \
        else cluster.person("admin", cluster.web2)
    chat_id = cluster.new_chat(username)
    socket = person.socket(f"chat:{chat_id}")
    try:
        started = time.monotonic()
        response = CUT_OFF_ACTIONS[action](admin, cluster.user_id(username), username)
        assert response.status_code == 302, response.text[:300]
        assert socket.closed_within(5), f"socket still open after {action}"
        assert time.monotonic() - started < 5
        assert person.http.get(f"/chat/{chat_id}").status_code in (302, 401)  # and the cookie is dead too
    finally:
        socket.close()
        person.close()
        admin.close()


# ---------------------------------------------------------------------------- c. worker killed mid-reply

def test_c_a_worker_killed_mid_reply_ends_the_run_failed_and_retry_works(cluster):
    bob = cluster.person("bob", cluster.web1)
    chat_id = cluster.new_chat("bob")
    socket = bob.socket(f"chat:{chat_id}")
    try:
        cluster.provider.reply, cluster.provider.pause = [f"w{n} " for n in range(300)], 0.05
        send(bob, chat_id, "keep talking")
        socket.receive_until(lambda d: d.get("type") == "delta" and d["offset"] > 20, timeout=20)
        cluster.worker.kill()  # SIGKILL, whole process group (RQ's scheduler child too)
        cluster.provider.reply, cluster.provider.pause = ["back", " again"], 0
        cluster.worker = cluster.spawn_worker("worker2")  # notices the silent heartbeat
        failed = socket.receive_until(lambda d: is_final(d), timeout=40)[-1]
        assert failed["status"] == "failed" and "interrupted" in failed["html"]  # the page says so
        rows = cluster.messages(chat_id)
        assert [m.body for m in rows if m.role == "user"] == ["keep talking"]  # nothing written is lost
        assert cluster.run_of(failed["id"]).error_code == "interrupted"

        response = bob.post(f"/chat/{chat_id}/messages/{failed['id']}/retry", page=f"/chat/{chat_id}")
        assert response.status_code == 302, response.text[:300]
        done = socket.receive_until(lambda d: is_final(d), timeout=30)[-1]
        assert done["status"] == "complete" and "back again" in done["html"]
    finally:
        socket.close()
        bob.close()


# ---------------------------------------------------------------------------- d. Redis down and back

def test_d_redis_down_degrades_and_everything_recovers_when_it_returns(cluster):
    carol = cluster.person("carol", cluster.web1)
    carol2 = cluster.person("carol", cluster.web2)
    chat_id = cluster.new_chat("carol")
    socket = carol.socket(f"chat:{chat_id}")  # opened before the outage, kept through it
    try:
        assert socket.hello.get("live") == "ok"
        cluster.redis.stop()

        # Pages still render on both processes and, once the process has noticed (its listener
        # hears the connection drop at once), say live updates are degraded.
        for browser in (carol, carol2):
            def degraded_page():
                page = browser.http.get(f"/chat/{chat_id}")
                assert page.status_code == 200  # every time, never an error page
                return re.search(r'id="live-status"[^>]*data-state="degraded"', page.text) and page

            page = wait_until(degraded_page, 5, "the page saying degraded")
            assert "Live updates are degraded (Redis unreachable" in page.text
        # The open socket is told too, and a socket opened now hears it in its hello.
        socket.receive_until(lambda d: d.get("type") == "live" and d.get("status") == "degraded", timeout=10)
        late = carol2.socket(f"chat:{chat_id}")
        assert late.hello["live"] == "degraded" and "Redis" in late.hello["reason"]
        late.close()
        for web in (cluster.web1, cluster.web2):
            ready = httpx.get(web.url + "/readyz", timeout=10)
            assert ready.status_code == 503 and "Redis unreachable" in ready.json()["reason"]
            assert "Redis" in ready.json()["checks"]["events"]["error"]
            assert "Redis" in ready.json()["checks"]["jobs"]["error"]

        # Accepted while Redis is down: the message and its job are in the database.
        send(carol2, chat_id, "are you there?")
        rows = cluster.messages(chat_id)
        assert [m.body for m in rows if m.role == "user"] == ["are you there?"]
        with cluster.app.app_context():
            job = db.session.scalars(select(JobRecord).order_by(JobRecord.id.desc())).first()
            assert job.name == "sanctum.chat.jobs.agent_reply" and job.status == "queued"
            assert "Redis was unreachable" in job.error  # the jobs page says why it waits
        # Rate-limited forms still answer (limits fall back to memory), never a 500.
        wrong = httpx.post(cluster.web2.url + "/login", data={"identifier": "carol", "password": "nope"})
        assert wrong.status_code in (400, 200, 302, 403, 422)

        cluster.redis.start()  # same port; Sanctum is not restarted

        cluster.wait_ready(timeout=100)  # RQ may wait up to a minute before it reconnects
        socket.receive_until(lambda d: d.get("type") == "live" and d.get("status") == "ok", timeout=15)
        # The job accepted while Redis was down runs as soon as the workers' recovery pass sees
        # Redis again (JOB_LOST_AFTER is left at its 60 s: this must not wait for it).
        reply = cluster.wait_reply(chat_id, count=2, timeout=20)
        assert reply.body == SHORT_REPLY
        # Events flow again through web1's re-established subscription.
        send(carol2, chat_id, "and now?")
        final = socket.receive_until(lambda d: is_final(d) and d["id"] > reply.id, timeout=20)[-1]
        assert final["status"] == "complete"
        for browser in (carol, carol2):
            page = browser.http.get(f"/chat/{chat_id}")
            assert re.search(r'id="live-status"[^>]*data-state="ok"', page.text)
        # Rate limiting is back on Redis, shared by both processes. Flask-Limiter probes its dead
        # storage with an exponential back-off (1, 2, 4 … 32 s between probes, on rate-limited
        # requests), so it returns within about a minute of requests, not on the first one.
        client = Redis.from_url(cluster.redis.url)
        deadline = time.monotonic() + 75
        while time.monotonic() < deadline and not list(client.scan_iter("*LIMITER*")):
            carol.post("/forgot", {"email": "nobody@example.org"}, page="/forgot")
            time.sleep(1)
        assert list(client.scan_iter("*LIMITER*")), "rate limits did not return to Redis"
        for key in client.scan_iter("*LIMITER*"):  # the probing above must not eat later tests' allowance
            client.delete(key)
        client.close()
    finally:
        if not cluster.redis.running:
            cluster.redis.start()
        socket.close()
        carol.close()
        carol2.close()


# ---------------------------------------------------------------------------- e. PostgreSQL restarted

def test_e_after_every_database_connection_is_cut_the_next_request_succeeds(cluster):
    """What a PostgreSQL restart looks like to clients: every backend of the database terminated
    (the shared server itself is never restarted; other test runs use it)."""
    dave = cluster.person("dave", cluster.web1)
    dave2 = cluster.person("dave", cluster.web2)
    chat_id = cluster.new_chat("dave")
    try:
        database = make_url(cluster.database_url).database
        admin = create_engine(make_url(cluster.database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                       "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": database}).scalar()
        admin.dispose()
        assert killed >= 2  # at least the two web processes held connections
        for browser in (dave, dave2):
            assert browser.http.get(f"/chat/{chat_id}").status_code == 200  # the very next request
        send(dave, chat_id, "still there?")
        assert cluster.wait_reply(chat_id, count=2, timeout=30).body == SHORT_REPLY
    finally:
        with cluster.app.app_context():
            db.engine.dispose()
        dave.close()
        dave2.close()


# ---------------------------------------------------------------------------- f. web process killed

def test_f_a_client_of_a_killed_web_process_resyncs_on_the_other_without_gap_or_duplicate(cluster):
    erin = cluster.person("erin", cluster.web1)
    chat_id = cluster.new_chat("erin")
    socket = erin.socket(f"chat:{chat_id}")
    view = ChatView()
    try:
        send(erin, chat_id, "first")
        for data in socket.receive_until(is_final, timeout=20):
            view.apply(data)
        cluster.provider.reply, cluster.provider.pause = FULL_REPLY, 0.04
        send(erin, chat_id, "a long one please")
        for data in socket.receive_until(lambda d: d.get("type") == "delta" and d["offset"] > 30, timeout=20):
            view.apply(data)
        interrupted = max(view.ids)  # a reply this client saw start streaming

        cluster.web1.kill()  # SIGKILL: master and worker, no goodbye to the socket
        assert socket.closed_within(5)
        erin.point_at(cluster.web2.url)  # what the proxy does once web1 stops answering
        # While the client is away the reply finishes, and another exchange starts.
        cluster.wait_reply(chat_id, count=4, timeout=30)
        send(erin, chat_id, "and another")
        wait_until(lambda: cluster.messages(chat_id)[-1].status == "streaming" and
                   len(cluster.messages(chat_id)[-1].body) > 10, 20, "the next reply streaming")

        socket = erin.socket(f"chat:{chat_id}")
        deadline = time.monotonic() + 40
        resyncs = 0
        while True:
            assert time.monotonic() < deadline, "the conversation never caught up"
            socket.send({"type": "resync", "channel": f"chat:{chat_id}", "after": view.resync_point()})
            resyncs += 1
            view.wants_resync = False
            for data in socket.receive_until(lambda d: d.get("type") == "resynced", timeout=10):
                view.apply(data)
            while not view.wants_resync and not view.caught_up(cluster.messages(chat_id)):
                for data in socket.receive_until(lambda d: True, timeout=10):
                    view.apply(data)
            if view.caught_up(cluster.messages(chat_id)):
                break
            time.sleep(0.8)  # chat.js waits as long before asking again

        rows = cluster.messages(chat_id)
        assert view.ids == [m.id for m in rows]  # no gap, in order…
        assert len(view.ids) == len(set(view.ids))  # …and no duplicate
        assert [view.status[m.id] for m in rows] == ["complete"] * len(rows)
        assert view.status[interrupted] == "complete"  # the reply that finished while away
        assert rows[-1].body == "".join(FULL_REPLY)
        assert not view.garbled, view.garbled  # streamed text never repeated or skipped a piece
    finally:
        socket.close()
        erin.close()
        cluster.web1 = cluster.spawn_web("web1-again")  # leave two web processes for any later test


# ---------------------------------------------------------------------------- g. limits shared by processes

def test_g_a_rate_limit_counts_requests_to_every_process(cluster):
    """Flask-Limiter keeps its counts in Redis: 5 reset requests a minute from one address,
    wherever they land."""
    browsers = [Browser(cluster.web1.url), Browser(cluster.web2.url)]
    try:
        answers = []
        for n in range(7):
            browser = browsers[n % 2]
            answers.append(browser.post("/forgot", {"email": f"nobody{n}@example.org"}, page="/forgot").status_code)
        assert answers[:5] == [302] * 5  # three on web1, two on web2…
        assert answers[5:] == [429, 429]  # …and both processes refuse the next ones
    finally:
        for browser in browsers:
            browser.close()


def test_g_a_lockout_earned_on_one_process_holds_on_the_other(cluster):
    """Failed sign-ins are counted per account in the database: five spread over two processes
    lock the account on both."""
    cluster.person("frank", cluster.web1).close()
    browsers = [Browser(cluster.web1.url), Browser(cluster.web2.url)]
    try:
        for n in range(5):
            answer = browsers[n % 2].post("/login", {"identifier": "frank", "password": "wrong " * 4}, page="/login")
            assert answer.status_code == 422
        for browser in browsers:
            answer = browser.post("/login", {"identifier": "frank", "password": PASSWORD}, page="/login")
            assert answer.status_code == 422 and "Too many failed attempts" in answer.text
    finally:
        for browser in browsers:
            browser.close()


# ---------------------------------------------------------------------------- h. the same, in a browser

@pytest.mark.browser
def test_h_a_browser_shows_degraded_while_redis_is_down_and_catches_up_after(cluster):
    """sanctum.js and chat.js against the real thing: the banner follows the server's live
    state, and the reply to a message sent during the outage appears once Redis is back."""
    from playwright.sync_api import expect, sync_playwright

    from tests.support.browser import launch

    cluster.person("gina", cluster.web2).close()
    chat_id = cluster.new_chat("gina")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto(cluster.web2.url + "/login")
            page.get_by_label("Username or email").fill("gina")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(cluster.web2.url + "/")
            page.goto(f"{cluster.web2.url}/chat/{chat_id}")
            banner = page.locator("#live-status")
            expect(banner).to_be_hidden()
            page.wait_for_timeout(500)  # the socket is open

            cluster.redis.stop()
            expect(banner).to_be_visible(timeout=10_000)
            expect(banner).to_contain_text("degraded")
            composer = page.get_by_label("Message")
            composer.fill("anyone there?")
            composer.press("Enter")
            expect(page.locator(".message-user").get_by_text("anyone there?")).to_be_visible()

            cluster.redis.start()
            expect(banner).to_be_hidden(timeout=20_000)
            expect(page.locator(".message-agent").last).to_contain_text(SHORT_REPLY, timeout=30_000)
            assert problems == []
        finally:
            if not cluster.redis.running:
                cluster.redis.start()
            browser.close()
