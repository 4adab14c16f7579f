"""Shared helpers for JSON endpoints."""
from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType


def json_body(*required: str) -> dict[str, Any]:
    """The request's JSON object, with `required` string fields present; else a clear 400/415."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    missing = [name for name in required if not isinstance(body.get(name), str) or not body[name]]
    if missing:
        raise BadRequest(f"Missing or empty: {', '.join(missing)}.")
    return body


def invalid(error: Exception, status: int = 422):
    """A service's refusal as JSON: `{"error": {"code": "invalid", "message", "field", "request_id"}}`."""
    from flask import g, jsonify

    return jsonify(error={"code": "invalid", "message": str(error), "field": getattr(error, "field", None),
                          "request_id": g.get("request_id")}), status
