"""`/metrics` for Prometheus.

Public in the sense of `@public` (no session: scrapers do not sign in), but it guards itself:
a request passes with `Authorization: Bearer <METRICS_TOKEN>` when that is configured, or
from an address inside `METRICS_ALLOW` (loopback by default). Anything else gets 403.
"""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request

from sanctum.metrics import get_metrics, multiprocess_dir
from sanctum.web.access import public
from sanctum.web.errors import error_response

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@public
def metrics_index():
    if not scraper_allowed():
        return error_response(403, "Metrics are served to the configured token or networks only.")
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_QueueDepth(current_app._get_current_object()))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def scraper_allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if token and header[:7].lower() == "bearer " and hmac.compare_digest(header[7:].strip(), str(token)):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    for network in current_app.config.get("METRICS_ALLOW") or ():
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


class _ThisProcess:
    def collect(self):
        yield from get_metrics().registry.collect()


class _QueueDepth:
    """Read at scrape time from the job records, the same numbers the jobs page shows."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from sanctum.jobs.routes import job_counts

        family = GaugeMetricFamily("sanctum_jobs_queue_depth", "Background jobs by state, from the job records.",
                                   labels=["state"])
        for state, count in job_counts().items():
            family.add_metric([state], count)
        yield family
