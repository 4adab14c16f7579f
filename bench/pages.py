"""Page cost: a bare Flask hello-world under the same gunicorn settings vs. the signed-in pages.

    python -m bench pages [--duration 5] [--connections 16] [--database sqlite|postgresql|both]

Load comes from wrk when installed (a Lua script sends the session cookie), else from a
Python load generator (httpx, one thread per connection). Target: dashboard ≥ 0.5 × hello.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench.harness import BIN, ROOT, Instance, Results, free_port, percentile, spawn, stop, verdict

PAGES = {"dashboard": "/dashboard/", "users list": "/admin/users/", "audit": "/audit/", "chat": None}


def seed_chat(app) -> int:
    """A chat for the admin with an agent and 30 messages, so the chat page has a conversation."""
    from sqlalchemy import select

    from sanctum.agents.service import create_agent
    from sanctum.extensions import db
    from sanctum.models import Agent, ChatMessage, ChatSession, User

    agent = db.session.scalar(select(Agent).where(Agent.name == "bench-echo")) or create_agent(
        data={"name": "bench-echo", "display_name": "Echo", "provider": "builtin",
              "roles": ["admin", "moderator", "user"]}, actor=None)
    admin = db.session.scalar(select(User).where(User.username == "benchadmin"))
    chat = ChatSession(user_id=admin.id, agent_id=agent.id, title="Benchmark chat")
    db.session.add(chat)
    db.session.flush()
    for n in range(30):
        db.session.add(ChatMessage(chat_id=chat.id, role="user" if n % 2 == 0 else "agent",
                                   body=f"message **{n}** with a little *markdown* and `code`", status="complete"))
    db.session.commit()
    return chat.id


def load(url: str, cookie: str, *, duration: float, connections: int) -> dict:
    if shutil.which("wrk"):
        return load_wrk(url, cookie, duration=duration, connections=connections)
    return load_python(url, cookie, duration=duration, connections=connections)


def load_wrk(url: str, cookie: str, *, duration: float, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if cookie:
            script.write(f'wrk.headers["Cookie"] = "{cookie}"\n')
        script.write('done = function(summary, latency, requests)\n'
                     '  io.write(string.format("BENCH %d %d %d %d %d %d\\n", summary.requests, summary.duration,\n'
                     '    latency:percentile(50), latency:percentile(99),\n'
                     '    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write'
                     ' + summary.errors.timeout, 0))\nend\n')
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{max(1, int(duration))}s", "--timeout", "10s",
                          "-s", script.name, url], capture_output=True, text=True, check=True).stdout
    Path(script.name).unlink()
    fields = re.search(r"BENCH (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    requests, micros, p50, p99, errors = (int(x) for x in fields.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": requests / (micros / 1e6), "p50": p50 / 1000, "p99": p99 / 1000,
            "errors": errors + (int(non2xx.group(1)) if non2xx else 0), "tool": "wrk"}


def load_python(url: str, cookie: str, *, duration: float, connections: int) -> dict:
    samples: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def worker():
        mine = []
        with httpx.Client(headers={"Cookie": cookie} if cookie else {}, timeout=10) as client:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    ok = client.get(url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                mine.append((time.perf_counter() - started) * 1000)
                if not ok:
                    with lock:
                        errors[0] += 1
        with lock:
            samples.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {"rps": len(samples) / elapsed, "p50": percentile(samples, 50), "p99": percentile(samples, 99),
            "errors": errors[0], "tool": "python (httpx threads)"}


def run(results: Results, *, database: str = "sqlite", duration: float = 5, connections: int = 16,
        threads: int = 32) -> None:
    print(f"\n== pages ({database}): {connections} connections, {duration:.0f} s each")
    port = free_port()
    hello = spawn([str(BIN / "python"), "-m", "bench.hello", "--port", str(port), "--threads", str(threads)],
                  None, subprocess.DEVNULL)
    try:
        with Instance(f"pages_{database}", database=database) as instance:
            instance.create_admin()
            chat_id = instance.seed(seed_chat)
            with instance.serve(threads=threads) as server:
                session = server.sign_in("benchadmin")
                for name, path in {**PAGES, "chat": f"/chat/{chat_id}"}.items():
                    assert session.client.get(path).status_code == 200, path  # and warm it
                _wait(f"http://127.0.0.1:{port}/")
                base = load(f"http://127.0.0.1:{port}/", "", duration=duration, connections=connections)
                mode = f"{database}, gthread {threads} threads"
                results.add("pages", "hello-world (baseline)", mode, _fmt(base))
                for name, path in {**PAGES, "chat": f"/chat/{chat_id}"}.items():
                    got = load(server.url + path, session.cookie, duration=duration, connections=connections)
                    ratio = got["rps"] / base["rps"]
                    target, ok = ("≥ 0.5×", ratio >= 0.5) if name == "dashboard" else ("", None)
                    results.add("pages", name, mode, _fmt(got), baseline=f"{base['rps']:,.0f} req/s",
                                ratio=f"{ratio:.2f}×", target=target, verdict="" if ok is None else verdict(ok))
                    if got["errors"]:
                        results.note(f"{name}: {got['errors']} failed requests during the load")
                results.note(f"page load tool: {base['tool']}, {connections} connections, {duration:.0f} s per page, "
                             "access log on (as served)")
    finally:
        stop(hello)


def _wait(url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)


def _fmt(figures: dict) -> str:
    return f"{figures['rps']:,.0f} req/s, p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms"


__all__ = ["run", "ROOT"]
