"""The `/ws` endpoint: handshake checks, then a loop answering the client."""
from __future__ import annotations

import json
import logging
import socket
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, request
from simple_websocket import ConnectionClosed

from flask_login import current_user

from sanctum import events
from sanctum.auth.sessions import session_still_valid
from sanctum.extensions import db, sock
from sanctum.live.hub import Connection, handler_for, live_state, watch_revocations
from sanctum.web.access import deny, permission_required

log = logging.getLogger(__name__)
bp = Blueprint("live", __name__)
MAX_CHANNELS = 16


def origin_allowed() -> bool:
    """Browsers always send Origin on a websocket handshake; it must be this site (or listed)."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    allowed = set(current_app.config["WS_ALLOWED_ORIGINS"])
    if origin in allowed:
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.host and parts.scheme in ("http", "https")


def refuse_bad_handshake() -> None:
    """Refuse before the upgrade: a foreign Origin, or no signed-in session (SECURITY.md 21).
    Every websocket route calls this from its blueprint's `before_request`."""
    if not origin_allowed():
        log.warning("websocket refused: origin %r not allowed", request.headers.get("Origin"))
        abort(403, "This origin may not open a live connection.")
    denial = deny("account.manage")
    if denial is not None:
        abort(401 if not current_user.is_authenticated else 403)


@bp.before_request
def check_handshake():
    if request.endpoint == "live.live_socket":
        refuse_bad_handshake()
    return None


@sock.route("/ws", bp=bp)
@permission_required("account.manage")
def live_socket(ws):
    serve(ws, request.args.getlist("channel"))


def serve(ws, channels: list[str]) -> None:
    """Run one tab's socket: join `channels` (those the user may), then answer until it closes.
    Other websocket routes (`/ws/notifications`) are this loop with channels chosen for them."""
    app = current_app._get_current_object()
    watch_revocations(app)
    user = current_user._get_current_object()
    connection = Connection(ws, app, user=user)
    db.session.expunge_all()  # the socket outlives this request's transaction; keep no stale rows
    db.session.rollback()
    try:
        for name in channels[:MAX_CHANNELS]:
            connection.join(name)
        state = live_state(events.degraded())
        connection.send_json({"type": "hello", "channels": connection.channels, "live": state["status"],
                              **({"reason": state["reason"]} if "reason" in state else {})})
        while not connection.closed.is_set():
            raw = ws.receive(timeout=30)
            # Every message, and every quiet half-minute, asks again whether this session
            # may still be here (SECURITY.md 16): a revoked or deactivated one is closed.
            if not session_still_valid(connection.session_id, connection.user_id):
                connection.shut("session ended")
                break
            db.session.rollback()
            if raw is not None:
                _handle(connection, raw)
    except ConnectionClosed:
        pass
    finally:
        connection.close()
        _let_the_close_finish(ws)


def _let_the_close_finish(ws) -> None:
    """End the TCP connection once the websocket is closed. After a close the server started
    (sign-out, revocation) the browser answers and then waits for the server to hang up; if this
    view just returned, Werkzeug's server would write an HTTP response on the same connection,
    which the browser reports as an invalid frame. Gunicorn writes nothing; hanging up is right
    for both."""
    thread = getattr(ws, "thread", None)
    if thread is not None and thread.is_alive() and not ws.connected:
        thread.join(timeout=2)  # the browser's answer to our close
    try:
        ws.sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass  # already gone


def _handle(connection: Connection, raw) -> None:
    try:
        message = json.loads(raw)
        kind = message.get("type")
    except (ValueError, AttributeError):
        connection.send_json({"type": "error", "code": "bad_message", "message": "Messages are JSON objects."})
        return
    if kind == "ping":
        connection.send_json({"type": "pong", "id": message.get("id")})
    elif kind == "echo":
        connection.send_json({"type": "echo", "data": message.get("data")})
    elif kind == "join":
        name = str(message.get("channel", ""))
        if len(connection.channels) >= MAX_CHANNELS or not connection.join(name):
            connection.send_json({"type": "error", "code": "forbidden", "message": f"Cannot join {name!r}."})
        else:
            connection.send_json({"type": "joined", "channel": name})
    elif kind == "leave":
        connection.leave(str(message.get("channel", "")))
    elif handler_for(str(kind)) is not None:
        with connection.app.app_context():
            handler_for(str(kind))(connection, message)
    else:
        connection.send_json({"type": "error", "code": "unknown_type", "message": f"Unknown type {kind!r}."})
