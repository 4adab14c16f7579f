"""`sanctum serve`: gunicorn with threads, one process, websockets included."""
from __future__ import annotations

import os
from pathlib import Path

from flask import current_app
from gunicorn.app.base import BaseApplication


class SanctumServer(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # The app is built in the serving process itself, so its threads (jobs, scheduler,
        # event listener) live where requests are handled.
        from sanctum import create_app
        from sanctum.cluster import join_cluster
        from sanctum.jobs.scheduler import Scheduler

        app = create_app()
        if app.config["REDIS_URL"]:
            # Scaled out: refuse to serve with a secret key or encryption key other than the
            # running peers' (workers run the scheduler there).
            join_cluster(app, "web")
        else:
            Scheduler(app).start()
        return app


def prepare_metrics_dir() -> str:
    """prometheus-client's multiprocess folder: one per server, emptied at start (stale files
    from a previous run would add old counts). An RQ worker on the same host that is given the
    same folder (SANCTUM_PROMETHEUS_MULTIPROC_DIR) has its job metrics scraped here too."""
    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or current_app.config["PROMETHEUS_MULTIPROC_DIR"]
                  or Path(current_app.instance_path) / "prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return str(folder)


def _child_exit(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # its live gauges (open websockets) stop counting


def server_options(*, host: str, port: int, threads: int, workers: int = 1) -> dict:
    """gunicorn's settings for `sanctum serve` (the benchmarks serve their baseline app with these too)."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        # gthread accepts at most this many connections per process, idle websockets included:
        # twice the threads, so keep-alive connections have room beside busy ones.
        "worker_connections": max(1000, 2 * threads),
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        # No control socket in ~/.gunicorn: several servers on one host would fight over it.
        "control_socket_disable": True,
        "child_exit": _child_exit,
        "accesslog": "-",
        # The path without its query string: mailed reset and verification links carry
        # their single-use token there, and tokens are never logged (SECURITY.md 24).
        "access_log_format": '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s',
    }


def run_server(*, host: str, port: int, threads: int, workers: int = 1) -> None:
    prepare_metrics_dir()
    SanctumServer(server_options(host=host, port=port, threads=threads, workers=workers)).run()
