"""Sanctions and flags over JSON (seed 000): `/api/v1/sanctions`, `/api/v1/users/<id>/sanctions`,
`/api/v1/messages/<id>/flags`. The same services, rules and audit as the pages."""
from __future__ import annotations

from datetime import datetime

from flask import abort, jsonify, request
from flask_login import current_user
from sqlalchemy import select

from sanctum.api import bp
from sanctum.api.common import invalid, json_body
from sanctum.extensions import db
from sanctum.models import Agent, ChatMessage, ChatSession, Sanction, User
from sanctum.moderation import sanctions, service
from sanctum.rbac.service import has_permission
from sanctum.web.access import permission_required
from sanctum.web.errors import error_response


def _me() -> User:
    return current_user._get_current_object()


def sanction_json(s: Sanction) -> dict:
    return {"id": s.id, "user_id": s.user_id, "type": s.type, "reason": s.reason, "is_active": s.is_active,
            "applied_by": s.applied_by_id, "applied_at": s.applied_at.isoformat(),
            "expires_at": s.expires_at.isoformat() if s.expires_at else None,
            "agents": [a.id for a in s.agents], "item_id": s.item_id,
            "ended_at": s.ended_at.isoformat() if s.ended_at else None, "end_reason": s.end_reason}


def _when(value, field: str):
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise sanctions.SanctionError("Give a time as an ISO 8601 string with a time zone.", field)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise sanctions.SanctionError("Give a time as an ISO 8601 string with a time zone.", field) from None
    if moment.tzinfo is None:
        raise sanctions.SanctionError("The time needs a time zone (e.g. 2026-12-01T12:00:00Z).", field)
    return moment


def _refusal(exc: sanctions.SanctionError):
    if exc.status in (403, 409):
        return error_response(exc.status, str(exc))
    return invalid(exc)


@bp.post("/sanctions")
@permission_required("sanctions.apply")
def sanctions_create():
    body = json_body("type", "reason")
    user = db.session.get(User, body.get("user_id")) if isinstance(body.get("user_id"), int) else None
    if user is None:
        return invalid(sanctions.SanctionError("user_id must be the id of a user.", "user_id"))
    agent_ids = body.get("agent_ids") or []
    if not isinstance(agent_ids, list) or not all(isinstance(i, int) for i in agent_ids):
        return invalid(sanctions.SanctionError("agent_ids must be a list of agent ids.", "agent_ids"))
    agents = list(db.session.scalars(select(Agent).where(Agent.id.in_(agent_ids))))
    if len(agents) != len(set(agent_ids)):
        return invalid(sanctions.SanctionError("Some agent_ids are not agents.", "agent_ids"))
    try:
        sanction = sanctions.apply(actor=_me(), user=user, type_=body["type"], reason=body["reason"],
                                   expires_at=_when(body.get("expires_at"), "expires_at"), agents=agents)
    except sanctions.SanctionError as exc:
        return _refusal(exc)
    return jsonify(sanction_json(sanction)), 201


@bp.get("/sanctions")
@permission_required("sanctions.apply")
def sanctions_list():
    state = request.args.get("state", "active")
    rows = sanctions.list_sanctions(user_id=request.args.get("user_id", type=int), type_=request.args.get("type"),
                                    active={"active": True, "ended": False}.get(state),
                                    limit=min(request.args.get("limit", 100, type=int), 500),
                                    before_id=request.args.get("before", type=int))
    return jsonify(sanctions=[sanction_json(s) for s in rows])


def _sanction_or_404(sanction_id: int) -> Sanction:
    return db.session.get(Sanction, sanction_id) or abort(404)


@bp.put("/sanctions/<int:sanction_id>")
@permission_required("sanctions.apply")
def sanctions_update(sanction_id: int):
    sanction = _sanction_or_404(sanction_id)
    body = json_body()
    try:
        if body.get("is_active") is False:
            sanctions.lift(actor=_me(), sanction=sanction, reason=body.get("reason") or "")
        else:
            reason = body.get("reason")
            if reason is not None and not isinstance(reason, str):
                raise sanctions.SanctionError("reason must be a string.", "reason")
            sanctions.update(actor=_me(), sanction=sanction, reason=reason,
                             expires_at=_when(body.get("expires_at"), "expires_at"),
                             clear_expiry="expires_at" in body and body["expires_at"] is None)
    except sanctions.SanctionError as exc:
        return _refusal(exc)
    return jsonify(sanction_json(sanction))


@bp.delete("/sanctions/<int:sanction_id>")
@permission_required("sanctions.apply")
def sanctions_delete(sanction_id: int):
    """Lifts the sanction (its record stays: history is never deleted)."""
    sanction = _sanction_or_404(sanction_id)
    reason = (request.get_json(silent=True) or {}).get("reason") if request.is_json else None
    try:
        sanctions.lift(actor=_me(), sanction=sanction, reason=reason or request.args.get("reason") or "Lifted")
    except sanctions.SanctionError as exc:
        return _refusal(exc)
    return jsonify(sanction_json(sanction))


@bp.get("/users/<int:user_id>/sanctions")
@permission_required("account.manage")
def user_sanctions(user_id: int):
    """A user's sanctions in force: anyone's for moderators, one's own for everyone else."""
    me = _me()
    if user_id != me.id and not has_permission(me, "sanctions.apply"):
        abort(404)
    if db.session.get(User, user_id) is None:
        abort(404)
    rows = sanctions.in_force(user_id) if request.args.get("state", "active") == "active" else \
        sanctions.list_sanctions(user_id=user_id, active=None)
    return jsonify(sanctions=[sanction_json(s) for s in rows])


@bp.post("/messages/<int:message_id>/flags")
@permission_required("moderation.flag")
def messages_flag(message_id: int):
    body = json_body("reason")
    message = db.session.scalar(select(ChatMessage).join(ChatSession, ChatSession.id == ChatMessage.chat_id)
                                .where(ChatMessage.id == message_id, ChatSession.user_id == _me().id))
    if message is None:
        abort(404)
    note = body.get("note") or ""
    if not isinstance(note, str):
        return invalid(service.ModerationError("note must be a string.", "note"))
    try:
        flag = service.flag_message(reporter=_me(), message=message, reason=body["reason"], note=note)
    except service.ModerationError as exc:
        if exc.status in (404, 409):
            return error_response(exc.status, str(exc))
        return invalid(exc)
    return jsonify(id=flag.id, item_id=flag.item_id, reason=flag.reason), 201
