"""In-process backend: worker threads in the web process run the job functions.

Used when no Redis is configured. An attempt cannot be killed from outside a
thread, so jobs bound their own network calls with timeouts.
"""
from __future__ import annotations

import logging
import queue
import threading
from datetime import timedelta
from typing import Optional

from flask import Flask

log = logging.getLogger(__name__)


class InProcessBackend:
    mode = "in-process"

    def __init__(self, app: Flask):
        self.app = app
        self.size = int(app.config["JOB_THREADS"])
        self._queue: "queue.Queue[Optional[int]]" = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._busy = 0

    def dispatch(self, record_id: int, *, delay: Optional[timedelta] = None, timeout: Optional[int] = None) -> None:
        if self._stopping.is_set():
            return
        seconds = delay.total_seconds() if delay else 0
        if seconds > 0:
            timer = threading.Timer(seconds, self._put, args=(record_id,))
            timer.daemon = True
            with self._lock:
                self._timers.add(timer)
            timer.start()
        else:
            self._put(record_id)

    def _put(self, record_id: int) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive()}
        self._ensure_started()
        with self._idle:
            self._busy += 1
        self._queue.put(record_id)

    def _ensure_started(self) -> None:
        with self._lock:
            if self._threads or self._stopping.is_set():
                return
            for n in range(self.size):
                thread = threading.Thread(target=self._work, name=f"sanctum-job-{n}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        from sanctum.jobs.service import JobFailed, run_job

        while True:
            record_id = self._queue.get()
            if record_id is None:
                return
            try:
                with self.app.app_context():
                    run_job(record_id)
            except JobFailed as exc:
                log.error("%s", exc)
            except Exception:
                log.exception("job runner crashed on job %s", record_id)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def wait_idle(self, timeout: float = 10) -> bool:
        """Block until no job is queued or running (delayed retries not counted)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def claim(self, name: str, seconds: int) -> bool:
        return True  # one process: the scheduler thread is the only claimant

    def health(self) -> dict:
        alive = sum(t.is_alive() for t in self._threads)
        return {"ok": True, "mode": self.mode, "threads": self.size, "started": alive, "queued": self._queue.qsize()}

    def shutdown(self, wait: bool = True) -> None:
        self._stopping.set()
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join(timeout=10)
