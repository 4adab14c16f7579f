"""Errors answer as a page, an htmx partial or JSON; never a traceback (SECURITY.md 25)."""
from __future__ import annotations

import logging

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from sanctum.extensions import db
from sanctum.web.render import wants_json, wants_partial

log = logging.getLogger(__name__)

# Short machine codes and the sentence a person reads for each status we answer.
MESSAGES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthenticated", "Sign in to continue."),
    403: ("forbidden", "You do not have permission to do that."),
    404: ("not_found", "There is nothing here."),
    405: ("method_not_allowed", "That action is not allowed here."),
    409: ("conflict", "That conflicts with the current state; reload and try again."),
    413: ("payload_too_large", "What you sent is too large."),
    415: ("unsupported_media_type", "That content type is not accepted here."),
    422: ("invalid", "Some of what you sent is not valid."),
    429: ("rate_limited", "Too many requests; wait a moment and try again."),
    500: ("internal_error", "Something went wrong on our side. It has been logged."),
    503: ("unavailable", "A service Sanctum needs is unavailable; try again shortly."),
}


def error_response(status: int, message: str | None = None, code: str | None = None):
    default_code, default_message = MESSAGES.get(status, ("error", "The request failed."))
    code = code or default_code
    message = message or default_message
    request_id = g.get("request_id")
    if wants_json():
        body = jsonify(error={"code": code, "message": message, "request_id": request_id})
        return body, status
    template = "errors/_error.html" if wants_partial() else "errors/error.html"
    return render_template(template, status=status, code=code, message=message, request_id=request_id), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        if request.path.startswith("/api/"):
            message = "Send a JSON body (application/json) or a bearer token; other requests need a CSRF token."
        else:
            message = "Your form expired or was sent from elsewhere. Reload the page and try again."
        return error_response(400, message, code="csrf_failed")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code == 500 or error.code is None:
            return server_error(error)
        message = error.description if _is_custom(error) else None
        response = error_response(error.code, message)
        if error.code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            body, status = response
            return body, status, {"Allow": ", ".join(error.valid_methods)}
        return response

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError):
        db.session.rollback()
        if error.connection_invalidated or "connect" in str(error.orig).lower():
            log.error("database unavailable: %s", error.orig.__class__.__name__)
            return error_response(503, "The database is unavailable; try again in a moment.")
        log.exception("database error")
        return error_response(500)

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        if not isinstance(error, (InternalServerError, ServiceUnavailable)):
            log.exception("unhandled error")
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the session may be as broken as the request
            pass
        return error_response(500)


def _is_custom(error: HTTPException) -> bool:
    """True when the code that raised the error gave its own description (abort(404, "…"))."""
    return error.description != type(error).description
