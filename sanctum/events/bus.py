"""Event buses: local fan-out, fed directly (memory) or by one Redis listener thread."""
from __future__ import annotations

import json
import logging
import threading

from typing import Any, Callable, Optional

from flask import Flask, current_app
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
Callback = Callable[[str, dict], None]
_EXTENSION_KEY = "sanctum.events"


class Subscription:
    def __init__(self, fanout: "Fanout", pattern: str, callback: Callback):
        self._fanout, self.pattern, self.callback = fanout, pattern, callback

    def close(self) -> None:
        self._fanout.remove(self)


class Fanout:
    """This process's subscribers, keyed by exact channel or by prefix (`chat:*`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exact: dict[str, set[Subscription]] = {}
        self._prefixes: dict[str, set[Subscription]] = {}

    def add(self, pattern: str, callback: Callback) -> Subscription:
        sub = Subscription(self, pattern, callback)
        table, key = self._table(pattern)
        with self._lock:
            table.setdefault(key, set()).add(sub)
        return sub

    def remove(self, sub: Subscription) -> None:
        table, key = self._table(sub.pattern)
        with self._lock:
            subs = table.get(key)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del table[key]

    def deliver(self, channel: str, data: dict) -> int:
        with self._lock:
            targets = list(self._exact.get(channel, ()))
            for prefix, subs in self._prefixes.items():
                if channel.startswith(prefix):
                    targets.extend(subs)
        for sub in targets:
            try:
                sub.callback(channel, data)
            except Exception:  # noqa: BLE001 - one bad subscriber must not starve the others
                log.exception("event subscriber for %s failed", sub.pattern)
        return len(targets)

    def count(self) -> int:
        with self._lock:
            return sum(map(len, self._exact.values())) + sum(map(len, self._prefixes.values()))

    def _table(self, pattern: str):
        if pattern.endswith("*"):
            return self._prefixes, pattern[:-1]
        return self._exact, pattern


class MemoryBus:
    mode = "memory"

    def __init__(self, app: Flask):
        self.fanout = Fanout()

    def publish(self, channel: str, data: dict) -> bool:
        self.fanout.deliver(channel, json.loads(json.dumps(data)))  # same JSON contract as Redis
        return True

    def subscribe(self, pattern: str, callback: Callback) -> Subscription:
        return self.fanout.add(pattern, callback)

    def health(self) -> dict:
        return {"ok": True, "mode": self.mode, "subscribers": self.fanout.count()}

    def degraded(self) -> Optional[str]:
        """Never: the bus is this process's own memory."""
        return None

    def on_state_change(self, callback: Callable[[Optional[str]], None]) -> None:
        """Nothing ever changes: no Redis to lose."""

    def shutdown(self) -> None:
        """Nothing to release: no thread, no connection (the Redis bus has both)."""


class RedisBus:
    """One psubscribe per process; the listener reconnects with back-off when Redis returns."""

    mode = "redis"

    def __init__(self, app: Flask):
        from sanctum.jobs.rq_backend import redis_client

        self.redis = redis_client(app.config["REDIS_URL"])
        self.prefix = f"{app.config['REDIS_PREFIX']}:ev:"
        self.fanout = Fanout()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self.last_error: Optional[str] = None
        self._watchers: list[Callable[[Optional[str]], None]] = []
        self._lost = False  # the listener was connected, then lost Redis (announced once)

    def publish(self, channel: str, data: dict) -> bool:
        try:
            self.redis.publish(self.prefix + channel, json.dumps(data))
            return True
        except RedisError as exc:
            self.last_error = f"publish failed: {exc.__class__.__name__}"
            log.warning("event on %s not published: Redis unavailable (%s)", channel, exc)
            return False

    def subscribe(self, pattern: str, callback: Callback) -> Subscription:
        self.start()
        return self.fanout.add(pattern, callback)

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._listen, name="sanctum-events", daemon=True)
                self._thread.start()

    def _listen(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe(self.prefix + "*")
                self._set_state(None)
                backoff = 0.2
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message["type"] == "pmessage":
                        channel = message["channel"].decode()[len(self.prefix):]
                        self.fanout.deliver(channel, json.loads(message["data"]))
                    elif not pubsub.connection or not pubsub.subscribed:
                        # redis-py dropped the connection without raising: start again.
                        raise ConnectionError("subscription lost")
            except (RedisError, OSError) as exc:
                self._set_state(f"Redis unreachable: {exc.__class__.__name__}")
                log.warning("event listener lost Redis (%s); retrying in %.1fs", exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                try:
                    pubsub.close()
                except Exception:  # noqa: BLE001
                    pass
        self.connected.clear()

    def _set_state(self, error: Optional[str]) -> None:
        """Record the listener's state; tell the watchers when it flips (lost, or back)."""
        if error is None:
            self.connected.set()
            self.last_error = None
            changed, self._lost = self._lost, False
        else:
            self.connected.clear()
            self.last_error = error
            changed, self._lost = not self._lost, True
        if changed:
            for watcher in list(self._watchers):
                try:
                    watcher(error)
                except Exception:  # noqa: BLE001 - a watcher must not stop the listener
                    log.exception("event bus state watcher failed")

    def on_state_change(self, callback: Callable[[Optional[str]], None]) -> None:
        """Call `callback(reason)` when this process loses Redis, `callback(None)` when it is back.
        Events published meanwhile are gone (at-most-once): watchers tell clients to resync."""
        if callback not in self._watchers:
            self._watchers.append(callback)

    def degraded(self) -> Optional[str]:
        """Why live updates do not flow to this process right now, or None when they do. Cheap
        enough for every page: it reads the listener's state (starting it if need be)."""
        self.start()
        if self.connected.is_set():
            return None
        # Still making its first connection (no error yet): give it a moment. During an
        # outage (an error is recorded) nothing waits, so pages stay fast.
        if self.last_error is None and self.connected.wait(1.0):
            return None
        return self.last_error or "connecting to Redis"

    def health(self) -> dict:
        try:
            self.redis.ping()
        except RedisError as exc:
            return {"ok": False, "mode": self.mode, "error": f"Redis unreachable: {exc.__class__.__name__}"}
        report = {"ok": True, "mode": self.mode, "subscribers": self.fanout.count()}
        if self._thread is not None and not self.connected.is_set():
            report.update(ok=False, error=self.last_error or "listener reconnecting")
        return report

    def shutdown(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self.redis.close()


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION_KEY] = RedisBus(app) if app.config["REDIS_URL"] else MemoryBus(app)


def get_bus(app: Optional[Flask] = None):
    return (app or current_app).extensions[_EXTENSION_KEY]


def publish(channel: str, data: dict[str, Any]) -> bool:
    """Publish now. Returns False (and logs) when the bus is down; never raises for that."""
    return get_bus().publish(channel, data)


def publish_on_commit(channel: str, data: dict[str, Any]) -> None:
    """Publish once the current transaction commits, so readers find the rows it announces."""
    from sanctum.database import on_commit

    bus = get_bus()
    on_commit(lambda: bus.publish(channel, data))


def subscribe(pattern: str, callback: Callback) -> Subscription:
    return get_bus().subscribe(pattern, callback)


def degraded() -> Optional[str]:
    """Why this process's live updates are not flowing (Redis lost), or None when they are."""
    return get_bus().degraded()


def wait_connected(timeout: float = 5.0) -> bool:
    """For callers that must not miss the first event (tests, the live hub at start)."""
    bus = get_bus()
    if isinstance(bus, RedisBus):
        bus.start()
        return bus.connected.wait(timeout)
    return True


__all__ = ["Fanout", "MemoryBus", "RedisBus", "Subscription", "degraded", "init_app", "get_bus", "publish",
           "publish_on_commit", "subscribe", "wait_connected"]
