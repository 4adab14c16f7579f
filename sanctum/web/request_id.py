"""A request id on every request, response and log line; a sane incoming one is kept."""
from __future__ import annotations

import re
import uuid

from flask import Flask, g, request

_SANE = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def init_app(app: Flask) -> None:
    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _SANE.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
        return response
