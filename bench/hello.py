"""The baseline: a bare Flask hello-world served by `sanctum serve`'s own gunicorn settings.

    python -m bench.hello --port 8001 --threads 32
"""
from __future__ import annotations

import argparse
import os
import tempfile

from flask import Flask
from gunicorn.app.base import BaseApplication


def hello_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def hello():
        return "Hello, World!"

    return app


class HelloServer(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return hello_app()


def main() -> None:
    from sanctum.server import server_options

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    # The same child_exit hook as sanctum serve, which wants a metrics folder.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="sanctum-bench-hello-"))
    HelloServer(server_options(host="127.0.0.1", port=args.port, threads=args.threads)).run()


if __name__ == "__main__":
    main()
