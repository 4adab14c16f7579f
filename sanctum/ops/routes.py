"""Liveness and readiness for load balancers and orchestrators."""
from __future__ import annotations

from flask import Blueprint, jsonify

from sanctum.ops.service import readiness
from sanctum.web.access import public

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@public
def healthz():
    """Alive: the process answers. Touches nothing else, so it stays cheap."""
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz():
    """Ready: the database answers, and in scaled-out mode Redis and a worker do too."""
    checks = readiness()
    ready = all(check["ok"] for check in checks.values())
    return jsonify(status="ready" if ready else "unavailable", checks=checks), (200 if ready else 503)
