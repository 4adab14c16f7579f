"""An OpenAI-compatible streaming server on loopback that emits tokens at a fixed rate.

    python -m bench.provider --port 8010 --tokens 100 --rate 200

Each token's text is the wall-clock time it was sent ("1732451234.123456 "), so a client
that receives it through Sanctum can tell how long the relay took. The first token leaves
as soon as the headers are out; the others follow every 1/rate seconds, on a fixed schedule.
The arrival time of every request is kept and served at GET /bench/arrivals (newest 10,000).
"""
from __future__ import annotations

import argparse
import json
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARRIVALS: deque = deque(maxlen=10_000)


def chunk(text=None, finish=None, usage=None) -> bytes:
    choices = [] if usage is not None else [
        {"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}]
    data = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "model": "bench", "choices": choices}
    if usage is not None:
        data["usage"] = usage
    return f"data: {json.dumps(data)}\n\n".encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tokens = 100
    rate = 200.0

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "bench"}]} if self.path.startswith("/v1/models")
                          else list(ARRIVALS)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        ARRIVALS.append(time.time())
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        started = time.monotonic()
        try:
            for n in range(self.tokens):
                delay = started + n / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.wfile.write(chunk(f"{time.time():.6f} "))
                self.wfile.flush()
            self.wfile.write(chunk(finish="stop"))
            self.wfile.write(chunk(usage={"prompt_tokens": 10, "completion_tokens": self.tokens,
                                          "total_tokens": 10 + self.tokens}))
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200.0, help="tokens per second")
    args = parser.parse_args()
    Handler.tokens, Handler.rate = args.tokens, args.rate
    Server(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
