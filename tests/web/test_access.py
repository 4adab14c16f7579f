"""Is every route declared public or permission-bound, and does an undeclared one stop the app?"""
from __future__ import annotations

import pytest
from flask import Blueprint

from sanctum.web.access import check_declared, undeclared_endpoints


def test_every_route_declares_its_access(app):
    assert undeclared_endpoints(app) == []


def test_an_undeclared_route_is_refused(app):
    bp = Blueprint("sloppy", __name__)

    @bp.get("/forgot-to-declare")
    def forgot():
        return "oops"

    app.register_blueprint(bp)
    with pytest.raises(RuntimeError, match="forgot-to-declare"):
        check_declared(app)
