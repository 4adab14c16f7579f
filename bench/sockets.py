"""Concurrency: N idle websockets on one `sanctum serve` process, then broadcasts on "system".

    python -m bench sockets [--sockets 1000] [--threads 1100]

gunicorn's gthread worker gives each open websocket one of its threads for as long as it
is open, so the server runs with `--threads` above N (default N + 100; SERVER_THREADS or
`sanctum serve --threads` in production). The clients are one asyncio loop (bench/wsclient.py),
all signed in as one admin (one user, N tabs), each on `/ws?channel=system`.

Figures: memory per connection (server RSS after the sockets open, minus before, / N);
delivery latency of each broadcast to each socket (p50, p99; target p99 < 250 ms), from
the moment the bench-only admin action (bench/server.py) was called.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import time


from bench.harness import Instance, Results, percentile, rss_kb, verdict
from bench.wsclient import WebSocket

BROADCASTS = 5
GAP_SECONDS = 2.5  # longer than the hub's cached channel verdict: each broadcast re-checks each socket


async def open_all(url: str, cookie: str, origin: str, count: int, batch: int = 50) -> list[WebSocket]:
    sockets: list[WebSocket] = []
    for start in range(0, count, batch):
        opened = await asyncio.gather(*(WebSocket.connect(url, cookie=cookie, origin=origin)
                                        for _ in range(min(batch, count - start))), return_exceptions=True)
        for ws in opened:
            if isinstance(ws, Exception):
                raise RuntimeError(f"socket {len(sockets) + 1} of {count} failed: {ws!r}")
            hello = json.loads(await ws.receive(timeout=30))
            assert hello.get("channels") == ["system"], hello
            sockets.append(ws)
    return sockets


async def broadcast_round(sockets: list[WebSocket], session, token: str) -> list[float]:
    async def wait_one(ws):
        while True:
            data = json.loads(await ws.receive(timeout=30))
            if data.get("type") == "bench":
                return (time.time() - data["sent"]) * 1000

    waiting = [asyncio.ensure_future(wait_one(ws)) for ws in sockets]
    await asyncio.sleep(0.05)
    sent = time.time()
    response = await asyncio.to_thread(session.client.post, "/bench/broadcast", data={"sent": f"{sent:.6f}"},
                                       headers={"X-CSRFToken": token, "HX-Request": "true"})
    assert response.status_code == 200, response.status_code
    results = await asyncio.gather(*waiting, return_exceptions=True)
    return [r for r in results if isinstance(r, float)], sum(1 for r in results if not isinstance(r, float))


async def scenario(server, count: int) -> dict:
    session = server.sign_in("benchadmin")
    token = session.csrf("/account/")
    url = f"{server.ws_url}/ws?channel=system"
    warm = await open_all(url, session.cookie, server.url, 5)
    for ws in warm:
        await ws.close()
    await asyncio.sleep(1)
    before = rss_kb(server.pid)
    started = time.monotonic()
    sockets = await open_all(url, session.cookie, server.url, count)
    open_seconds = time.monotonic() - started
    await asyncio.sleep(2)
    after = rss_kb(server.pid)
    latencies, missing, last = [], 0, []
    for _ in range(BROADCASTS):
        await asyncio.sleep(GAP_SECONDS)
        got, lost = await broadcast_round(sockets, session, token)
        latencies += got
        missing += lost
        last.append(max(got) if got else float("nan"))
    # Still all there after the broadcasts?
    alive = sum(1 for ws in sockets if not ws._pump.done())
    for ws in sockets:
        await ws.close()
    return {"before": before, "after": after, "open_seconds": open_seconds, "latencies": latencies,
            "missing": missing, "last": last, "alive": alive}


def run(results: Results, *, count: int = 1000, threads: int = 1100) -> None:
    print(f"\n== sockets: {count:,} idle websockets, gthread {threads} threads, {BROADCASTS} broadcasts")
    with Instance("sockets") as instance:
        instance.create_admin()
        with instance.serve(threads=threads, hooks=True) as server:
            figures = asyncio.run(scenario(server, count))
    mode = f"single process, gthread {threads} threads"
    per_conn = (figures["after"] - figures["before"]) / count
    lat = figures["latencies"]
    p99 = percentile(lat, 99)
    results.add("sockets", f"{count:,} idle sockets held", mode,
                f"{figures['alive']:,} open after the broadcasts; opened in {figures['open_seconds']:.1f} s",
                target=f"{count:,}", verdict=verdict(figures["alive"] == count))
    results.add("sockets", "memory per connection (RSS delta / N)", mode,
                f"{per_conn:.0f} KiB ({figures['before'] / 1024:.0f} → {figures['after'] / 1024:.0f} MiB)")
    results.add("sockets", "broadcast delivery p50 / p99", mode,
                f"{statistics.median(lat):.0f} / {p99:.0f} ms" if lat else "none delivered",
                target="p99 < 250 ms", verdict=verdict(bool(lat) and p99 < 250 and not figures["missing"]))
    results.add("sockets", "last socket reached, per broadcast", mode,
                ", ".join(f"{ms:.0f}" for ms in figures["last"]) + " ms")
    if figures["missing"]:
        results.note(f"sockets: {figures['missing']} deliveries missing")


__all__ = ["run"]
