"""Periodic jobs and stalled-job recovery, run by one thread per serving process.

In single-process mode `sanctum serve` runs it; in scaled-out mode each
`sanctum worker` runs it and a Redis key decides which one fires each tick.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask
from werkzeug.utils import import_string

from sanctum.extensions import db
from sanctum.jobs.service import enqueue, get_backend, requeue_stalled

log = logging.getLogger(__name__)
RECOVERY_EVERY = 15  # seconds


class Scheduler(threading.Thread):
    def __init__(self, app: Flask, tick: float = 1.0):
        super().__init__(name="sanctum-scheduler", daemon=True)
        self.app = app
        self.tick = tick
        self._stop_event = threading.Event()
        self._next_run: dict[str, float] = {}

    def run(self) -> None:
        while not self._stop_event.wait(self.tick):
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the scheduler outlives a bad tick (Redis or DB down)
                log.exception("scheduler tick failed")

    def run_once(self) -> None:
        now = time.monotonic()
        with self.app.app_context():
            backend = get_backend()
            due = dict(self.app.extensions.get("sanctum.periodic", {}))
            inline = dict(self.app.extensions.get("sanctum.periodic_inline", {}))
            inline["sanctum.jobs.requeue_stalled"] = int(self.app.config.get("JOB_RECOVERY_EVERY", RECOVERY_EVERY))
            due.update(inline)
            for name, every in due.items():
                if self._next_run.get(name, 0) > now:
                    continue
                self._next_run[name] = now + every
                if not backend.claim(name, every):
                    continue
                if name == "sanctum.jobs.requeue_stalled":
                    requeue_stalled()
                elif name in inline:
                    self._run_inline(name)
                else:
                    enqueue(name, description="periodic")
                    db.session.commit()

    def _run_inline(self, name: str) -> None:
        try:
            import_string(name)()
        except Exception:  # noqa: BLE001 - one failing chore must not hold up the others
            log.exception("periodic %s failed", name)
        finally:
            db.session.remove()

    def stop(self) -> None:
        self._stop_event.set()
