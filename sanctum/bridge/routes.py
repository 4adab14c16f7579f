"""The Broca web-chat bridge, where Broca's web_chat plugin expects it: `/api/v1/?action=…`.

Plugin actions take the agent's bridge key (`Authorization: Bearer sct_brg_…`):
    GET  ?action=inbox     messages waiting for the agent (limit ≤ 100, offset, since)
    POST ?action=outbox    {"session_id", "response"}: the agent's reply
Admin actions take the agent's bridge key (its own sessions) or a personal API token
holding `agents.manage` (every bridge agent's sessions):
    GET  ?action=sessions          (limit, offset, active=true|false)
    GET  ?action=session_messages  (session_id)
Every answer is the protocol's envelope: {"success", "message", "timestamp", "data"};
errors carry {"success": false, "error", "timestamp"}.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

from flask import Blueprint, current_app, jsonify, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from sqlalchemy import select

from sanctum import audit
from sanctum.auth.sessions import bearer_token, hash_token
from sanctum.bridge import service
from sanctum.extensions import db, limiter
from sanctum.models import Agent
from sanctum.models.base import utcnow
from sanctum.rbac.service import has_permission
from sanctum.web.access import own_credential, public

bp = Blueprint("bridge", __name__, url_prefix="/api/v1")


def _now() -> str:
    return utcnow().isoformat(timespec="seconds")


def _iso(moment: Optional[datetime]) -> Optional[str]:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds") if moment else None


def ok(message: str, data: dict):
    return jsonify(success=True, message=message, timestamp=_now(), data=data)


def fail(message: str, status: int):
    return jsonify(success=False, error=message, message=message, timestamp=_now()), status


@dataclass
class Caller:
    agent: Optional[Agent]  # set for a bridge key
    agent_ids: list[int]  # whose sessions the admin actions may read


def _caller() -> Optional[Caller]:
    raw = bearer_token()
    if raw is None:
        return None
    if raw.startswith(service.KEY_PREFIX):
        agent = service.agent_for_key(raw)
        return Caller(agent, [agent.id]) if agent is not None and agent.is_active else None
    if current_user.is_authenticated and has_permission(current_user, "agents.manage"):
        ids = list(db.session.scalars(select(Agent.id).where(Agent.provider == "bridge")))
        return Caller(None, ids)
    return None


def _rate_key() -> str:
    raw = bearer_token()
    return "bridge:" + (hash_token(raw)[:16] if raw else get_remote_address())


@bp.route("/", methods=["GET", "POST"])
@public
@own_credential("an agent's bridge key, or a personal API token with agents.manage")
@limiter.limit(lambda: current_app.config["BRIDGE_RATE_LIMIT"], key_func=_rate_key)
@limiter.limit(lambda: current_app.config["BRIDGE_FAILURE_LIMIT"], key_func=get_remote_address,
               deduct_when=lambda response: response.status_code == 401)
def bridge_api():
    action = request.args.get("action", "")
    caller = _caller()
    if caller is None:
        audit.record("bridge.auth_failed", outcome="denied",
                     details={"action": action[:40], "reason": "no key" if bearer_token() is None else "key refused"})
        db.session.commit()
        return fail("Authentication required", 401)
    handler = ACTIONS.get(action)
    if handler is None:
        return fail(f"Unknown action {action[:40]!r}", 400)
    method, function, needs_agent = handler
    if request.method != method:
        return fail(f"Use {method} for action {action!r}", 405)
    if needs_agent and caller.agent is None:
        return fail("This action takes an agent's bridge key", 403)
    try:
        return function(caller)
    except service.BridgeError as exc:
        db.session.rollback()
        return fail(str(exc), exc.status)


@bp.errorhandler(429)
def bridge_rate_limited(_error):
    if request.endpoint == "bridge.bridge_api":
        return fail("Rate limit exceeded. Please try again later.", 429)
    from sanctum.web.errors import error_response

    return error_response(429)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise service.BridgeError(f"{name} must be a whole number") from None
    return max(low, min(high, value))


def _since() -> Optional[datetime]:
    raw = request.args.get("since")
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise service.BridgeError("since must be an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _pagination(total: int, limit: int, offset: int, count: int) -> dict:
    return {"total": total, "limit": limit, "offset": offset, "has_more": offset + count < total}


def _message(row) -> dict:
    return {"id": row.id, "session_id": row.session_key, "message": row.body, "timestamp": _iso(row.created_at),
            "uid": row.uid}


def inbox(caller: Caller):
    limit, offset = _int_arg("limit", 50, 1, 100), _int_arg("offset", 0, 0, 1_000_000)
    rows, total = service.inbox(agent=caller.agent, limit=limit, offset=offset, since=_since())
    return ok("Messages retrieved successfully",
              {"messages": [_message(r) for r in rows], "pagination": _pagination(total, limit, offset, len(rows))})


def outbox(caller: Caller):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise service.BridgeError("Send a JSON object with session_id and response")
    reply = service.post_reply(agent=caller.agent, session_key=body.get("session_id"), body=body.get("response"))
    return ok("Response sent successfully",
              {"response_id": reply.id, "session_id": reply.session_key, "timestamp": _iso(reply.created_at)})


def _names(agent_ids: list[int]) -> dict[int, str]:
    return dict(db.session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids))).all())


def _session(row: dict, names: dict[int, str]) -> dict:
    return {"id": row["session_key"], "uid": row["uid"], "agent": names.get(row["agent_id"]),
            "created_at": _iso(row["created_at"]), "last_active": _iso(row["last_active"]),
            "ip_address": None, "metadata": [], "message_count": int(row["message_count"] or 0),
            "response_count": int(row["response_count"] or 0)}


def sessions(caller: Caller):
    limit, offset = _int_arg("limit", 50, 1, 100), _int_arg("offset", 0, 0, 1_000_000)
    active = request.args.get("active", "true").lower() not in ("false", "0", "no")
    rows, total = service.sessions(agent_ids=caller.agent_ids, limit=limit, offset=offset, active_only=active)
    names = _names(caller.agent_ids)
    return ok("Sessions retrieved successfully",
              {"sessions": [_session(r, names) for r in rows], "pagination": _pagination(total, limit, offset, len(rows))})


def session_messages(caller: Caller):
    key = request.args.get("session_id", "")
    if not service.SESSION_KEY.match(key):
        raise service.BridgeError("Invalid session ID format")
    rows = service.session_messages(agent_ids=caller.agent_ids, session_key=key)
    if not rows:
        raise service.BridgeError("Session not found", 404)
    inbound = [r for r in rows if r.direction == "inbound"]
    summary = {"session_key": key, "uid": next((r.uid for r in inbound if r.uid), None), "agent_id": rows[0].agent_id,
               "created_at": rows[0].created_at, "last_active": rows[-1].created_at,
               "message_count": len(inbound), "response_count": len(rows) - len(inbound)}
    return ok("Session messages retrieved", {
        "session": _session(summary, _names([rows[0].agent_id])),
        "messages": [_message(r) for r in inbound],
        "responses": [{"id": r.id, "session_id": r.session_key, "response": r.body, "timestamp": _iso(r.created_at)}
                      for r in rows if r.direction == "outbound"],
    })


# action → (method, handler, needs an agent's bridge key)
ACTIONS = {
    "inbox": ("GET", inbox, True),
    "outbox": ("POST", outbox, True),
    "sessions": ("GET", sessions, False),
    "session_messages": ("GET", session_messages, False),
}
