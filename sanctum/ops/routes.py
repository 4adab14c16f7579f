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
    failing = {name: check for name, check in checks.items() if not check["ok"]}
    if not failing:
        return jsonify(status="ready", checks=checks), 200
    # One line a load balancer's log or an operator can read: which dependency, and why.
    reason = "; ".join(f"{name}: {check.get('error', 'not ready')}" for name, check in failing.items())
    return jsonify(status="unavailable", reason=reason, checks=checks), 503
