"""Logging: the request id on every line; readable text in development, JSON in production.

Control characters in messages are escaped so user input (a username with CR/LF)
cannot forge a line of its own (SECURITY.md 24).
"""
from __future__ import annotations

import logging
import sys

from flask import Flask, g, has_request_context
from pythonjsonlogger.json import JsonFormatter

_ESCAPES = {i: f"\\x{i:02x}" for i in range(32) if i != 9} | {0x7F: "\\x7f"}
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = (g.get("request_id") if has_request_context() else None) or "-"
        return True


class SafeTextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        formatted = super().format(record)
        head, sep, tail = formatted.partition("\nTraceback")
        return head.translate(_ESCAPES) + (sep + tail if sep else "")


def configure_logging(app: Flask) -> None:
    fmt = app.config["LOG_FORMAT"] or ("json" if app.config["ENV"] == "production" else "text")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        # JSON escapes control characters by construction.
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                                           rename_fields={"levelname": "level", "asctime": "time"}))
    else:
        handler.setFormatter(SafeTextFormatter(TEXT_FORMAT))
    handler.set_name("sanctum")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "sanctum":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    # Alembic announces each of its plugins at INFO on every start; keep the migration lines only.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    app.logger.handlers.clear()
    app.logger.propagate = True
