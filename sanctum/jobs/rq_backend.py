"""RQ backend: jobs go to a Redis queue and `sanctum worker` processes run them."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Optional

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker, worker_registration

RUNNER = "sanctum.jobs.service.run_job"


def redis_client(url: str) -> Redis:
    # Short timeouts: an unreachable Redis must degrade a page, not hang it.
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


class RQBackend:
    mode = "rq"

    def __init__(self, app: Flask):
        self.app = app
        self.redis = redis_client(app.config["REDIS_URL"])
        self.prefix = app.config["REDIS_PREFIX"]
        self.queue = Queue(f"{self.prefix}-default", connection=self.redis)
        self.heartbeat_max_age = app.config["WORKER_HEARTBEAT_MAX_AGE"]

    def dispatch(self, record_id: int, *, delay: Optional[timedelta] = None, timeout: Optional[int] = None) -> None:
        options = {
            # A fresh RQ id per attempt: our record, not RQ's, carries the job's identity.
            "job_id": f"{self.prefix}-{record_id}-{uuid.uuid4().hex[:8]}",
            "job_timeout": (timeout or self.app.config["JOB_TIMEOUT"]) + 30,
            "result_ttl": 3600,
            "failure_ttl": 7 * 24 * 3600,
            "description": f"sanctum job {record_id}",
        }
        if delay and delay.total_seconds() > 0:
            # RQ's scheduled registry keeps whole seconds (it truncates), which would run a
            # job up to a second early; round the due time up so a delay is never shortened.
            due = datetime.now(timezone.utc) + delay
            if due.microsecond:
                due = due.replace(microsecond=0) + timedelta(seconds=1)
            self.queue.enqueue_at(due, RUNNER, record_id, **options)
        else:
            self.queue.enqueue(RUNNER, record_id, **options)

    def claim(self, name: str, seconds: int) -> bool:
        return bool(self.redis.set(f"{self.prefix}:periodic:{name}", "1", nx=True, ex=max(1, int(seconds))))

    def workers(self) -> list[Worker]:
        return Worker.all(queue=self.queue)

    def health(self) -> dict:
        try:
            self.redis.ping()
            workers = self.workers()
        except RedisError as exc:
            return {"ok": False, "mode": self.mode, "error": f"Redis unreachable: {exc.__class__.__name__}"}
        now = datetime.now(timezone.utc)
        live = [
            w for w in workers
            if w.last_heartbeat and (now - _aware(w.last_heartbeat)).total_seconds() < self.heartbeat_max_age
        ]
        report = {"ok": bool(live), "mode": self.mode, "workers": len(live), "queued": self.queue.count}
        if not live:
            report["error"] = "no RQ worker has reported in; start one with `sanctum worker`"
        return report

    def shutdown(self, wait: bool = True) -> None:
        self.redis.close()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class SanctumWorker(SimpleWorker):
    """RQ's SimpleWorker, which registers itself again when Redis comes back empty.

    RQ records a worker once, at start. A Redis restarted without persistence (or flushed)
    forgets it, and the worker would go on running jobs while /readyz and the jobs page said
    no worker was there. Each heartbeat (every loop, and after RQ reconnects) checks the
    record is still whole and writes it again if not.
    """

    def heartbeat(self, timeout=None, pipeline=None):
        if pipeline is None and self.birth_date is not None and not self.connection.hexists(self.key, "birth"):
            self.log.warning("Worker %s: Redis lost this worker's record (restarted?); registering again", self.name)
            with self.connection.pipeline() as again:
                again.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, again)
                again.execute()
        super().heartbeat(timeout, pipeline)
