"""Does every log line carry the request id, and can input not forge a line?"""
from __future__ import annotations

import io
import json
import logging

from flask import current_app

from sanctum.logs import RequestIdFilter, SafeTextFormatter, TEXT_FORMAT
from pythonjsonlogger.json import JsonFormatter


def capture(app, formatter):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger("sanctum.test")
    logger.addHandler(handler)

    @app.get("/log-me")
    def log_me():
        current_app.logger.name  # noqa: B018
        logger.warning("user said %s", "hi\r\n2026-01-01 INFO [x] forged line")
        return "ok"

    log_me.sanctum_access = "public"
    return stream, logger, handler


def test_text_lines_carry_the_request_id_and_escape_newlines(app):
    stream, logger, handler = capture(app, SafeTextFormatter(TEXT_FORMAT))
    try:
        response = app.test_client().get("/log-me", headers={"X-Request-ID": "trace-me-123"})
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert response.headers["X-Request-ID"] == "trace-me-123"
    assert "[trace-me-123]" in output
    assert output.count("\n") == 1 and "\\x0d\\x0a" in output


def test_json_lines_carry_the_request_id(app):
    stream, logger, handler = capture(app, JsonFormatter("%(levelname)s %(message)s %(request_id)s"))
    try:
        app.test_client().get("/log-me", headers={"X-Request-ID": "trace-me-456"})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().strip())
    assert line["request_id"] == "trace-me-456"
    assert "forged line" in line["message"]
