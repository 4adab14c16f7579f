"""Prometheus metrics: defined here, observed by the code they describe, served at /metrics.

    metrics.observe_job("sanctum.mail.jobs.send_mail", "succeeded", 0.12)
    metrics.observe_run(agent="helper", outcome="succeeded", seconds=3.4, first_token=0.8)  # issue 7

Under gunicorn the metrics live in PROMETHEUS_MULTIPROC_DIR (prometheus-client's
multiprocess mode), so every worker process's counts are summed at scrape time; `sanctum
serve` sets the folder up. Without it they live in this process. Queue depth is read from
the database at scrape time, so it is right whichever process answers.
"""
from __future__ import annotations

import os
import threading
from typing import Optional

from flask import Flask, g, request

_LOCK = threading.Lock()
_METRICS: Optional["Metrics"] = None
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
RUN_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class Metrics:
    shared = False  # built for prometheus-client's multiprocess mode

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        disable_created_metrics()  # `_created` series are not kept in multiprocess mode either

        # Our own registry: only Sanctum's series, and no clash when tests build many apps.
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("sanctum_http_requests", "HTTP requests answered, by endpoint and status.",
                                ["endpoint", "method", "status"], registry=registry)
        self.latency = Histogram("sanctum_http_request_duration_seconds", "Time to answer an HTTP request.",
                                 ["endpoint", "method"], buckets=LATENCY_BUCKETS, registry=registry)
        self.websockets = Gauge("sanctum_websockets_open", "Live websockets open now.",
                                registry=registry, multiprocess_mode="livesum")
        self.jobs = Counter("sanctum_jobs", "Background job attempts, by job and outcome.",
                            ["job", "outcome"], registry=registry)
        self.job_duration = Histogram("sanctum_job_duration_seconds", "Time one job attempt ran.", ["job"],
                                      buckets=RUN_BUCKETS, registry=registry)
        self.signin_failures = Counter("sanctum_signin_failures", "Refused sign-in attempts, by reason.",
                                       ["reason"], registry=registry)
        # Observed by agent runs (issue 7): defined now so dashboards and alerts can be written.
        self.run_latency = Histogram("sanctum_run_latency_seconds", "Time from a run's start to its end.",
                                     ["agent", "outcome"], buckets=RUN_BUCKETS, registry=registry)
        self.run_first_token = Histogram("sanctum_run_time_to_first_token_seconds",
                                         "Time from a run's start to the first streamed token.", ["agent"],
                                         buckets=RUN_BUCKETS, registry=registry)


def multiprocess_dir() -> Optional[str]:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def get_metrics() -> Metrics:
    global _METRICS
    with _LOCK:
        shared = bool(multiprocess_dir())
        # `sanctum serve` picks the folder after the CLI built its app (and these metrics): the
        # serving process then starts over in multiprocess mode.
        if _METRICS is None or _METRICS.shared != shared:
            if shared:
                # prometheus_client picks its value class when first imported: pick again.
                from prometheus_client import values

                values.ValueClass = values.get_value_class()
            _METRICS = Metrics()
            _METRICS.shared = shared
        return _METRICS


def init_app(app: Flask) -> None:
    folder = app.config.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and not multiprocess_dir():
        os.makedirs(folder, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    get_metrics()

    @app.before_request
    def start_timer() -> None:
        from time import perf_counter

        g.metrics_started = perf_counter()

    @app.after_request
    def count_request(response):
        started = g.pop("metrics_started", None)
        if started is not None and request.endpoint != "static":
            from time import perf_counter

            endpoint = request.endpoint or "unmatched"  # 404s share one label: no cardinality blow-up
            metrics = get_metrics()
            metrics.requests.labels(endpoint, request.method, str(response.status_code)).inc()
            metrics.latency.labels(endpoint, request.method).observe(perf_counter() - started)
        return response


# ---------------------------------------------------------------- what the code observes

def observe_job(name: str, outcome: str, seconds: float) -> None:
    metrics = get_metrics()
    metrics.jobs.labels(name, outcome).inc()
    metrics.job_duration.labels(name).observe(seconds)


def signin_failed(reason: str) -> None:
    get_metrics().signin_failures.labels(reason).inc()


def websocket_opened() -> None:
    get_metrics().websockets.inc()


def websocket_closed() -> None:
    get_metrics().websockets.dec()


def observe_run(*, agent: str, outcome: str, seconds: float, first_token: Optional[float] = None) -> None:
    """For issue 7's run job: call once per finished run."""
    metrics = get_metrics()
    metrics.run_latency.labels(agent, outcome).observe(seconds)
    if first_token is not None:
        metrics.run_first_token.labels(agent).observe(first_token)


__all__ = ["get_metrics", "init_app", "multiprocess_dir", "observe_job", "observe_run", "signin_failed",
           "websocket_closed", "websocket_opened"]
