"""Serve an app from a real threaded werkzeug server on a free loopback port."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import make_server


@dataclass
class LiveServer:
    server: object
    thread: threading.Thread
    url: str

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http"):]

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def start(app) -> LiveServer:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    return LiveServer(server, thread, f"http://127.0.0.1:{server.server_port}")
