"""Does an event reach its subscribers — across threads, and across processes with Redis?"""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading

import pytest

from sanctum import create_app, events
from sanctum.events.bus import wait_connected
from sanctum.extensions import db
from sanctum.models import JobRecord
from tests.conftest import ROOT, SCALED, shutdown
from tests.support.processes import REDIS_SERVER, RedisServer


def collector():
    received: "queue.Queue[tuple[str, dict]]" = queue.Queue()
    return received, (lambda channel, data: received.put((channel, data)))


def test_a_subscriber_gets_events_on_its_channel_only(app):
    received, callback = collector()
    with app.app_context():
        events.subscribe("chat:1", callback)
        assert wait_connected()
        events.publish("chat:2", {"n": 0})
        events.publish("chat:1", {"n": 1})
    assert received.get(timeout=5) == ("chat:1", {"n": 1})
    with pytest.raises(queue.Empty):
        received.get(timeout=0.3)


def test_a_prefix_subscription_sees_the_family(app):
    received, callback = collector()
    with app.app_context():
        events.subscribe("moderation:*", callback)
        assert wait_connected()
        events.publish("moderation:queue", {"item": 7})
    assert received.get(timeout=5) == ("moderation:queue", {"item": 7})


def test_an_event_published_from_another_thread_arrives(app):
    received, callback = collector()
    with app.app_context():
        events.subscribe("system", callback)
        assert wait_connected()

    def publisher():
        with app.app_context():
            events.publish("system", {"from": "thread"})

    threading.Thread(target=publisher).start()
    assert received.get(timeout=5) == ("system", {"from": "thread"})


def test_a_closed_subscription_hears_nothing(app):
    received, callback = collector()
    with app.app_context():
        subscription = events.subscribe("system", callback)
        assert wait_connected()
        subscription.close()
        events.publish("system", {"late": True})
    with pytest.raises(queue.Empty):
        received.get(timeout=0.3)


def test_publish_on_commit_waits_for_the_commit_and_drops_on_rollback(app):
    received, callback = collector()
    with app.app_context():
        events.subscribe("chat:9", callback)
        assert wait_connected()
        events.publish_on_commit("chat:9", {"state": "rolled back"})
        db.session.rollback()
        db.session.add(JobRecord(name="x", args=[]))
        events.publish_on_commit("chat:9", {"state": "committed"})
        with pytest.raises(queue.Empty):
            received.get(timeout=0.3)
        db.session.commit()
    assert received.get(timeout=5) == ("chat:9", {"state": "committed"})
    with pytest.raises(queue.Empty):
        received.get(timeout=0.3)


def test_one_failing_subscriber_does_not_starve_the_others(app):
    received, callback = collector()

    def broken(channel, data):
        raise RuntimeError("subscriber bug")

    with app.app_context():
        events.subscribe("system", broken)
        events.subscribe("system", callback)
        assert wait_connected()
        events.publish("system", {"ok": 1})
    assert received.get(timeout=5) == ("system", {"ok": 1})


@pytest.mark.skipif(not SCALED, reason="in-memory events are one process by design; Redis carries them across")
def test_an_event_published_by_another_process_arrives(app):
    received, callback = collector()
    with app.app_context():
        events.subscribe("system", callback)
        assert wait_connected()
    script = (
        "from sanctum import create_app, events\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    assert events.publish('system', {'from': 'another process'})\n"
    )
    env = dict(os.environ, SANCTUM_REDIS_URL=app.config["REDIS_URL"], SANCTUM_REDIS_PREFIX=app.config["REDIS_PREFIX"],
               SANCTUM_DATABASE_URL=app.config["DATABASE_URL"], SANCTUM_SECRET_KEY=app.config["SECRET_KEY"])
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=60)
    assert received.get(timeout=5) == ("system", {"from": "another process"})


@pytest.mark.skipif(not os.path.exists(REDIS_SERVER), reason="needs redis-server to stop and start")
def test_the_listener_says_when_redis_is_lost_and_resubscribes_when_it_returns(app_config, tmp_path):
    """SECURITY.md 28: a Redis outage is announced (live features show "degraded") and, when
    Redis is back on the same address, events flow again without restarting the process."""
    redis = RedisServer(tmp_path).start()
    app = create_app(dict(app_config, REDIS_URL=redis.url))
    states: "queue.Queue[str | None]" = queue.Queue()
    received, callback = collector()
    try:
        with app.app_context():
            bus = events.get_bus()
            bus.on_state_change(states.put)
            events.subscribe("system", callback)
            assert wait_connected() and events.degraded() is None
            redis.stop()
            assert "Redis unreachable" in states.get(timeout=10)
            assert "Redis unreachable" in events.degraded()
            assert events.publish("system", {"n": 1}) is False  # dropped, and says so; never raises
            redis.start()
            assert states.get(timeout=10) is None
            assert events.degraded() is None
            assert events.publish("system", {"n": 2})
            assert received.get(timeout=5) == ("system", {"n": 2})
    finally:
        redis.stop()
        shutdown(app)
