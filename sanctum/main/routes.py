"""The home page."""
from __future__ import annotations

from flask import Blueprint

from sanctum.ops.service import readiness
from sanctum.web.access import permission_required
from sanctum.web.render import render

bp = Blueprint("main", __name__)


@bp.get("/")
@permission_required("system.view")
def main_index():
    return render("main/index.html", "main/_status.html", checks=readiness())
