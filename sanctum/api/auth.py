"""Token endpoints: sign in for an access/refresh pair, refresh it, end it."""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask_login import current_user

from sanctum.api import bp
from sanctum.api.common import json_body
from sanctum.auth import service as accounts
from sanctum.extensions import db, limiter
from sanctum.tokens import service
from sanctum.web.access import permission_required, public
from sanctum.web.errors import error_response


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _pair(row, access: str, refresh: str):
    return jsonify(token_type="Bearer", access_token=access, expires_in=service.access_expires_in(),
                   refresh_token=refresh, refresh_expires_at=row.expires_at.isoformat())


@bp.post("/auth/token")
@public
@limiter.limit(_login_limit)
def auth_token():
    body = json_body("username", "password")
    result = accounts.authenticate(body["username"], body["password"])
    if result.user is None:
        return error_response(401, result.error, code="invalid_credentials")
    row, access, refresh = service.issue_api_session(result.user, ip=request.remote_addr,
                                                     user_agent=request.headers.get("User-Agent"))
    accounts.record_login(result.user, row)
    return _pair(row, access, refresh)


@bp.post("/auth/refresh")
@public
@limiter.limit(_login_limit)
def auth_refresh():
    body = json_body("refresh_token")
    try:
        row, access, refresh = service.refresh_api_session(body["refresh_token"], ip=request.remote_addr,
                                                           user_agent=request.headers.get("User-Agent"))
    except service.TokenError as exc:
        db.session.rollback()
        return error_response(401, str(exc), code="invalid_refresh_token")
    return _pair(row, access, refresh)


@bp.post("/auth/logout")
@permission_required("account.manage")
def auth_logout():
    try:
        service.end_api_session(current_user._get_current_object())
    except service.TokenError as exc:
        return error_response(400, str(exc), code="not_an_api_session")
    return "", 204
