"""Real HTTP servers on loopback that play an LLM provider, written for the tests.

    server = FakeServer()
    server.route("POST", "/v1/chat/completions", lambda h: h.sse(["{...}", "[DONE]"]))
    ...server.url...
    server.stop()

A route is a function of the request handler; helpers on the handler send JSON,
server-sent events (with pauses, or cut off without an end), or nothing at all.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        self.server.owner.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                           "json": self._json()})
        route = self.server.owner.routes.get((self.command, path))
        if route is None:
            self.send_json({"error": {"message": f"no route {self.command} {path}"}}, status=404)
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json(self):
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    do_GET = do_POST = _dispatch

    # ---------------------------------------------------------------- answers

    def send_json(self, data, status: int = 200) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def sse(self, events: list[str], *, pause: float = 0.0, finish: bool = True, raw_lines: Optional[list[str]] = None) -> None:
        """Send `data: <event>` blocks; without `finish` the connection is cut mid-stream."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for line in raw_lines or []:
            self.wfile.write((line + "\n").encode())
            self.wfile.flush()
        for event in events:
            self.wfile.write(f"data: {event}\n\n".encode())
            self.wfile.flush()
            if pause:
                time.sleep(pause)
        if not finish:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.close_connection = True

    def hang(self, seconds: float) -> None:
        """Accept the request and say nothing (headers included) for `seconds`."""
        time.sleep(seconds)
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "FakeServer"


class FakeServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Callable[[Handler], None]] = {}
        self.requests: list[dict] = []
        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="fake-provider", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def route(self, method: str, path: str, handler: Callable[[Handler], None]) -> "FakeServer":
        self.routes[(method, path)] = handler
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def openai_chunk(text: Optional[str] = None, finish: Optional[str] = None, usage: Optional[dict] = None,
                 model: str = "test-model") -> str:
    choices = [] if usage is not None and text is None and finish is None else [
        {"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}]
    data = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model, "choices": choices}
    if usage is not None:
        data["usage"] = usage
    return json.dumps(data)


def openai_server(model: str = "test-model", reply: tuple[str, ...] = ("Hello", ", ", "world")) -> FakeServer:
    """An OpenAI-compatible server that streams `reply` and a usage chunk, and lists `model`."""
    server = FakeServer()
    server.route("GET", "/v1/models", lambda h: h.send_json({"object": "list", "data": [{"id": model}]}))
    events = [openai_chunk(t) for t in reply] + [openai_chunk(finish="stop"),
                                                 openai_chunk(usage={"prompt_tokens": 7, "completion_tokens": 3,
                                                                     "total_tokens": 10}), "[DONE]"]
    server.route("POST", "/v1/chat/completions", lambda h: h.sse(events))
    return server
