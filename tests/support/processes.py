"""Real processes for the scale-out tests: a private redis-server, `sanctum serve` and
`sanctum worker` subprocesses, and a browser-like client (HTTP + websocket) for them.

Every process runs in its own process group (gunicorn forks its worker, RQ forks a
scheduler) and `stop()` kills the whole group, bounded in time.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import httpx
from simple_websocket import Client as WebSocket

REDIS_SERVER = "/usr/bin/redis-server"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float, what: str, every: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # noqa: BLE001 - keep polling; report the last failure
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


class Process:
    """A subprocess in its own group, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path, cwd: Optional[Path] = None):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.log_path = log_dir / f"{name}.log"
        self.popen: Optional[subprocess.Popen] = None

    def start(self) -> "Process":
        log = open(self.log_path, "a")
        self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the way systemd stops a service), then reap."""
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self) -> None:
        if self.popen is None:
            return
        self.kill(signal.SIGTERM)
        self.kill(signal.SIGKILL)  # nothing of the group outlives the test
        self.popen = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class RedisServer(Process):
    """A private redis-server on a spare port: stop it, start it again on the same port."""

    def __init__(self, log_dir: Path, port: Optional[int] = None):
        self.port = port or free_port()
        super().__init__("redis", [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(log_dir)], dict(os.environ), log_dir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        super().start()
        wait_until(self.ping, 10, "redis-server answering")
        return self

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")


class WebProcess(Process):
    """`sanctum serve` on loopback (gunicorn master + one worker, threads for websockets)."""

    def __init__(self, name: str, env: dict, log_dir: Path, cwd: Path):
        self.port = free_port()
        super().__init__(name, [sys.executable, "-m", "sanctum.cli", "serve", "--host", "127.0.0.1",
                                "--port", str(self.port), "--threads", "16", "--no-migrate"], env, log_dir, cwd)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "WebProcess":
        super().start()
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        def up():
            if not self.running:
                raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200

        wait_until(up, timeout, f"{self.name} answering /healthz")


class Browser:
    """One person's browser against one web process: cookies, CSRF tokens, a websocket."""

    def __init__(self, base_url: str):
        self.http = httpx.Client(base_url=base_url, timeout=10, follow_redirects=False)

    def point_at(self, base_url: str) -> None:
        """The same browser (same cookies) talking to another process, as after a failover."""
        self.http.base_url = base_url

    def close(self) -> None:
        self.http.close()

    def csrf(self, path: str) -> str:
        body = self.http.get(path).text
        match = _CSRF.search(body)
        assert match, f"no CSRF token on {path}: {body[:300]}"
        return match.group(1) or match.group(2)

    def login(self, username: str, password: str) -> None:
        response = self.http.post("/login", data={"identifier": username, "password": password,
                                                  "csrf_token": self.csrf("/login")})
        assert response.status_code == 302, response.text[:500]

    def post(self, path: str, data: Optional[dict] = None, page: str = "/account/", **kwargs) -> httpx.Response:
        return self.http.post(path, data=dict(data or {}, csrf_token=self.csrf(page)), **kwargs)

    def socket(self, *channels: str) -> "LiveSocket":
        base = str(self.http.base_url).rstrip("/")
        query = "&".join(f"channel={c}" for c in channels)
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        # simple-websocket sends the Host header without the port, so that is the origin to match.
        ws = WebSocket.connect(f"ws{base[len('http'):]}/ws?{query}",
                               headers={"Origin": "http://127.0.0.1", "Cookie": cookie})
        live = LiveSocket(ws)
        hello = live.receive_until(lambda m: m.get("type") == "hello", timeout=5)[-1]
        live.hello = hello
        return live


class LiveSocket:
    def __init__(self, ws):
        self.ws = ws
        self.hello: dict = {}
        self.seen: list[dict] = []

    def send(self, payload: dict) -> None:
        self.ws.send(json.dumps(payload))

    def receive_until(self, predicate: Callable[[dict], bool], timeout: float = 15.0) -> list[dict]:
        """JSON messages until one satisfies `predicate` (all of them, that one last)."""
        got: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = self.ws.receive(timeout=max(deadline - time.monotonic(), 0.05))
            if raw is None:
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                data = {"type": "html", "html": raw}
            got.append(data)
            self.seen.append(data)
            if predicate(data):
                return got
        raise AssertionError(f"nothing matched within {timeout}s; last: {got[-5:]}")

    def closed_within(self, timeout: float) -> bool:
        """True once the server has closed the socket (anything received meanwhile is kept)."""
        from simple_websocket import ConnectionClosed

        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                raw = self.ws.receive(timeout=max(deadline - time.monotonic(), 0.05))
                if raw is not None:
                    self.seen.append({"type": "raw", "data": raw})
                if not self.ws.connected:
                    return True
        except ConnectionClosed:
            return True
        return not self.ws.connected

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001 - already closed by the server
            pass
