"""A signed-in browser's websocket, opened against the live test server."""
from __future__ import annotations

import json
import time

from simple_websocket import Client

from tests.support.accounts import AuthActions


def cookie_for(app, username: str) -> str:
    """Sign `username` in through the real form and return the session cookie a browser would send."""
    client = app.test_client()
    AuthActions(client).login(username)
    return f"{app.config['SESSION_COOKIE_NAME']}={client.get_cookie(app.config['SESSION_COOKIE_NAME']).value}"


def connect(live_server, cookie: str | None, path: str = "/ws", origin: str | None = None):
    # simple-websocket's client sends `Host: 127.0.0.1` without the port; Origin matches it likewise.
    headers = {"Origin": origin or "http://127.0.0.1"}
    if cookie:
        headers["Cookie"] = cookie
    return Client.connect(live_server.ws_url + path, headers=headers)


def receive_json(ws, timeout: float = 5) -> dict:
    raw = ws.receive(timeout=timeout)
    assert raw is not None, "no message within the timeout"
    return json.loads(raw)


def receive_until(ws, needle: str, timeout: float = 8) -> str:
    """The first message containing `needle`; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = ws.receive(timeout=max(deadline - time.monotonic(), 0.05))
        if raw is not None and needle in raw:
            return raw
    raise AssertionError(f"no message containing {needle!r} within {timeout}s")
