"""The admin dashboard page."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint

from sanctum import dashboard
from sanctum.dashboard import health, providers  # noqa: F401  (built-in providers register on import)
from sanctum.dashboard.charts import bar_chart
from sanctum.models.base import utcnow
from sanctum.web.access import permission_required
from sanctum.web.render import render, wants_partial
from sanctum.web.templating import can

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")
CHART_DAYS = 30


def _visible(registry):
    return [p for p in sorted(registry.values()) if p.permission is None or can(p.permission)]


def _viewer() -> frozenset[str]:
    """What a cached figure depends on besides the day: the links a tile shows follow permissions."""
    from flask_login import current_user

    from sanctum.rbac.service import effective_permissions

    return effective_permissions(current_user._get_current_object())


def tiles(today):
    viewer = _viewer()
    return [(p.key, dashboard.cached(("stats", p.key, today, viewer), lambda p=p: list(p.function(today))))
            for p in _visible(dashboard.STATS)]


@bp.get("/")
@permission_required("dashboard.view")
def dashboard_index():
    today = utcnow().date()
    if wants_partial():  # the tiles refresh themselves; charts and health stay as they are
        return render("dashboard/index.html", "dashboard/_tiles.html", tiles=tiles(today))
    since = today - timedelta(days=CHART_DAYS - 1)
    viewer = _viewer()
    charts = [(p.key, p.title, dashboard.cached(("chart", p.key, since, today, viewer),
                                                lambda p=p: bar_chart(p.function(since, today))))
              for p in _visible(dashboard.CHARTS)]
    return render("dashboard/index.html", "dashboard/_tiles.html", tiles=tiles(today), charts=charts,
                  health_panel=health.render_panel(dashboard.cached(("health",), health.snapshot)), days=CHART_DAYS,
                  live_channels=[health.CHANNEL])
