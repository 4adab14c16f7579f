"""`sanctum serve` with one bench-only addition: an admin action that broadcasts on "system".

    python -m bench.server serve --port 8002 --threads 1100

In single-process mode the event bus lives in memory inside the server, so a broadcast must
start there. This adds `POST /bench/broadcast` (signed-in admins only: `settings.manage`,
CSRF checked like every POST) to the app the server builds, which publishes
`{"type": "bench", "sent": <client's clock>}` through `sanctum.events.publish("system", …)`.
It exists only in servers started this way; `sanctum serve` and the test suite never see it.
"""
from __future__ import annotations

from flask import Blueprint, request


def bench_blueprint() -> Blueprint:
    from sanctum import events
    from sanctum.web.access import permission_required

    bp = Blueprint("bench", __name__, url_prefix="/bench")

    @bp.post("/broadcast")
    @permission_required("settings.manage")
    def bench_broadcast():
        delivered = events.publish("system", {"type": "bench", "sent": request.form.get("sent", type=float)})
        return {"published": delivered}

    return bp


def install() -> None:
    from sanctum import server

    load = server.SanctumServer.load

    def load_with_bench(self):
        app = load(self)
        app.register_blueprint(bench_blueprint())
        return app

    server.SanctumServer.load = load_with_bench


if __name__ == "__main__":
    import sys

    from sanctum.cli import main

    install()
    sys.exit(main())
