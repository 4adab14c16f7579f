"""The per-process side of live updates: sockets, their channels, and forwarding."""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable, Optional

import weakref

from simple_websocket import ConnectionClosed

from sanctum import events, metrics
from sanctum.auth.sessions import REVOKED_CHANNEL, USER_CHANNEL

log = logging.getLogger(__name__)
Authorizer = Callable[[Any, str], bool]
MessageHandler = Callable[["Connection", dict], None]
Renderer = Callable[["Connection", str, dict], Optional[str]]
VERDICT_SECONDS = 2.0


class _Registry:
    """Functions registered under a key; `lookup` by exact key, `match` by the longest prefix
    (so "chat:admin:" can be stricter than "chat:")."""

    def __init__(self) -> None:
        self.entries: dict[str, Callable] = {}

    def register(self, key: str) -> Callable[[Callable], Callable]:
        def add(fn: Callable) -> Callable:
            self.entries[key] = fn
            return fn

        return add

    def lookup(self, key: str) -> Optional[Callable]:
        return self.entries.get(key)

    def match(self, name: str) -> Optional[Callable]:
        for prefix in sorted(self.entries, key=len, reverse=True):
            if name.startswith(prefix):
                return self.entries[prefix]
        return None


_AUTHORIZERS, _MESSAGE_HANDLERS, _RENDERERS = _Registry(), _Registry(), _Registry()


def channel(prefix: str) -> Callable[[Authorizer], Authorizer]:
    """Register who may listen on channels starting with `prefix`: `(user, channel) -> bool`."""
    return _AUTHORIZERS.register(prefix)


def message_handler(kind: str) -> Callable[[MessageHandler], MessageHandler]:
    """Register what a client message of this `type` does (e.g. the chat's "resync")."""
    return _MESSAGE_HANDLERS.register(kind)


def renderer(prefix: str) -> Callable[[Renderer], Renderer]:
    """Register how events of a channel family become what a socket receives. The renderer
    runs per socket (in an app context), so it can load rows and render them for that user;
    returning None sends nothing."""
    return _RENDERERS.register(prefix)


def authorizer_for(name: str) -> Optional[Authorizer]:
    return _AUTHORIZERS.match(name)


def handler_for(kind: str) -> Optional[MessageHandler]:
    return _MESSAGE_HANDLERS.lookup(kind)


def _renderer_for(name: str) -> Optional[Renderer]:
    return _RENDERERS.match(name)


@channel("system")
def _system_channel(user: Any, name: str) -> bool:
    """Broadcasts every open tab should see (maintenance notices, degraded service)."""
    return name == "system"


_OPEN: "weakref.WeakSet[Connection]" = weakref.WeakSet()
_watching: set[int] = set()
_watch_lock = threading.Lock()


def watch_revocations(app) -> None:
    """Once per app: close this process's sockets whose session or user was cut off (SECURITY.md 12)."""
    with _watch_lock:
        if id(app) in _watching:
            return
        _watching.add(id(app))
    with app.app_context():
        events.subscribe(REVOKED_CHANNEL, _close_revoked)
        events.subscribe(USER_CHANNEL, _close_revoked)
        events.get_bus().on_state_change(_announce_state)


def live_state(reason: Optional[str]) -> dict:
    """What a socket is told about live updates: `ok`, or `degraded` and why (SECURITY.md 28)."""
    if reason is None:
        return {"type": "live", "status": "ok"}
    return {"type": "live", "status": "degraded", "reason": reason,
            "message": "Live updates are degraded (Sanctum lost its event service); pages still work."}


def _announce_state(reason: Optional[str]) -> None:
    """The bus of this process lost Redis, or has it back: tell every open socket, so pages
    show "degraded" and, once back, resync what they missed from the database."""
    payload = live_state(reason)
    for connection in list(_OPEN):
        connection.send_json(payload)


def _close_revoked(_channel: str, data: dict) -> None:
    session_ids = set(data.get("session_ids") or ())
    user_ids = set(data.get("user_ids") or ())
    for connection in list(_OPEN):
        if connection.session_id in session_ids or connection.user_id in user_ids:
            connection.shut("session ended")


class Connection:
    """One browser tab's socket. Sends are serialised: events arrive from the bus thread."""

    def __init__(self, ws, app, user: Any = None):
        self.ws = ws
        self.app = app
        self.user = user
        self.user_id = getattr(user, "id", None)
        self.session_id = getattr(getattr(user, "current_session", None), "id", None)
        self._send_lock = threading.Lock()
        self._subscriptions: dict[str, events.Subscription] = {}
        self._verdicts: dict[str, tuple[bool, float]] = {}
        self.closed = threading.Event()
        _OPEN.add(self)
        metrics.websocket_opened()

    def may_listen(self, name: str, *, fresh: bool = True) -> bool:
        """Ask the channel's rule about this socket's user, as the user is *now* (role,
        grants, status reloaded). Forwarding a stream of events may reuse a verdict for
        VERDICT_SECONDS, so a reply streaming hundreds of chunks costs a query or two, not
        hundreds; joining and client messages always ask afresh."""
        now = time.monotonic()
        cached = self._verdicts.get(name)
        if not fresh and cached is not None and cached[1] > now:
            return cached[0]
        authorizer = authorizer_for(name)
        verdict = False
        if authorizer is not None:
            try:
                # Events arrive on the bus thread: rules that read the database need a context.
                with self.app.app_context():
                    from sanctum.extensions import db
                    from sanctum.models import User

                    user = db.session.get(User, self.user_id) if self.user_id is not None else None
                    verdict = bool(user is not None and user.is_active and authorizer(user, name))
            except Exception:  # noqa: BLE001 - a broken rule denies, it does not crash the socket
                log.exception("channel authorizer for %s failed", name)
        self._verdicts[name] = (verdict, now + VERDICT_SECONDS)
        return verdict

    def verdict_due(self, name: str, now: float) -> bool:
        cached = self._verdicts.get(name)
        return cached is None or cached[1] <= now

    def join(self, name: str) -> bool:
        if name in self._subscriptions:
            return True
        if not self.may_listen(name):
            return False
        self._subscriptions[name] = _group(self.app, name).add(self)
        return True

    def leave(self, name: str) -> None:
        sub = self._subscriptions.pop(name, None)
        if sub is not None:
            sub.close()

    @property
    def channels(self) -> list[str]:
        return sorted(self._subscriptions)

    def _forward(self, name: str, data: dict) -> None:
        if self.closed.is_set():
            return
        if not self.may_listen(name, fresh=False):
            self.leave(name)
            return
        render = _renderer_for(name)
        if render is not None:
            try:
                with self.app.app_context():
                    text = render(self, name, data)
            except Exception:  # noqa: BLE001 - one bad event must not close the socket
                log.exception("rendering an event on %s failed", name)
                return
            if text is not None:
                self.send(text)
            return
        html = data.get("html")
        self.send(html if isinstance(html, str) else json.dumps({"channel": name, **data}))

    def send(self, text: str) -> None:
        try:
            with self._send_lock:
                self.ws.send(text)
        except (ConnectionClosed, OSError):
            self.close()

    def send_json(self, payload: dict) -> None:
        self.send(json.dumps(payload))

    def close(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        _OPEN.discard(self)
        metrics.websocket_closed()
        for name in list(self._subscriptions):
            self.leave(name)

    def shut(self, reason: str) -> None:
        """Close from the server side (policy violation code 1008), from any thread."""
        self.close()
        try:
            with self._send_lock:
                self.ws.close(reason=1008, message=reason)
        except Exception:  # noqa: BLE001 - already gone is fine
            pass


class _Membership:
    """What `join` keeps: closing it takes the socket out of the channel's group."""

    def __init__(self, group: "_Group", connection: Connection):
        self.group, self.connection = group, connection

    def close(self) -> None:
        self.group.remove(self.connection)


class _Group:
    """This process's sockets on one channel, behind ONE bus subscription. An event refreshes
    the stale verdicts of all of them together (one query for their users, the channel's rule
    once per user) before forwarding, so a broadcast to a thousand sockets costs a query or
    two rather than a thousand, one after the other, before the last socket hears of it."""

    def __init__(self, key: tuple[int, str]):
        self.key, self.name = key, key[1]
        self.members: set[Connection] = set()
        self.subscription: Optional[events.Subscription] = None

    def add(self, connection: Connection) -> _Membership:
        with _groups_lock:
            self.members.add(connection)
            if self.subscription is None:
                self.subscription = events.subscribe(self.name, self.deliver)
        return _Membership(self, connection)

    def remove(self, connection: Connection) -> None:
        with _groups_lock:
            self.members.discard(connection)
            if not self.members and self.subscription is not None:
                self.subscription.close()
                self.subscription = None
                if _GROUPS.get(self.key) is self:
                    del _GROUPS[self.key]

    def deliver(self, name: str, data: dict) -> None:
        with _groups_lock:
            members = [c for c in self.members if not c.closed.is_set()]
        now = time.monotonic()
        stale = [c for c in members if c.verdict_due(name, now)]
        if len(stale) > 1:
            _refresh_verdicts(stale, name, now)
        for connection in members:
            try:
                connection._forward(name, data)
            except Exception:  # noqa: BLE001 - one socket must not starve the others
                log.exception("forwarding %s failed", name)


_GROUPS: dict[tuple[int, str], _Group] = {}  # by (app, channel): each app has its own bus
_groups_lock = threading.RLock()


def _group(app, name: str) -> _Group:
    with _groups_lock:
        key = (id(app), name)
        group = _GROUPS.get(key)
        if group is None:
            group = _GROUPS[key] = _Group(key)
        return group


def _refresh_verdicts(connections: list[Connection], name: str, now: float) -> None:
    """`Connection.may_listen` for many sockets at once: the same rule, asked once per user."""
    from sqlalchemy import select

    authorizer = authorizer_for(name)
    by_app: dict[int, list[Connection]] = {}
    for connection in connections:
        by_app.setdefault(id(connection.app), []).append(connection)
    for group in by_app.values():
        verdicts: dict[Any, bool] = {}
        if authorizer is not None:
            try:
                with group[0].app.app_context():
                    from sanctum.extensions import db
                    from sanctum.models import User

                    ids = {c.user_id for c in group if c.user_id is not None}
                    for user in db.session.scalars(select(User).where(User.id.in_(ids))):
                        verdicts[user.id] = bool(user.is_active and authorizer(user, name))
            except Exception:  # noqa: BLE001 - a broken rule denies, it does not crash the sockets
                log.exception("channel authorizer for %s failed", name)
                verdicts = {}
        for connection in group:
            connection._verdicts[name] = (verdicts.get(connection.user_id, False), now + VERDICT_SECONDS)

