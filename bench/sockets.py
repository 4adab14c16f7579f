"""Concurrency: N idle websockets on one `sanctum serve` process, then broadcasts on "system".

    python -m bench sockets [--sockets 1000] [--threads 1100]

gunicorn's gthread worker gives each open websocket one of its threads for as long as it
is open, so the server runs with `--threads` above N (default N + 100; SERVER_THREADS or
`sanctum serve --threads` in production). The clients are one asyncio loop (bench/wsclient.py),
all signed in as one admin (one user, N tabs), each on `/ws?channel=system`, spread over
four client processes so the clients' own parsing does not dominate the latencies.

Figures: memory per connection (server RSS after the sockets open, minus before, / N);
delivery latency of each broadcast to each socket (p50, p99; target p99 < 250 ms), from
the moment the bench-only admin action (bench/server.py) was called.
"""
from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time

from bench.harness import BIN, ROOT, Instance, Results, percentile, rss_kb, verdict
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


async def client_main(url: str, cookie: str, origin: str, count: int, rounds: int) -> None:
    """One client process: open `count` sockets, then report each broadcast's latencies."""
    sockets = await open_all(url, cookie, origin, count)
    print(json.dumps({"ready": len(sockets)}), flush=True)

    async def wait_one(ws):
        while True:
            data = json.loads(await ws.receive(timeout=30))
            if data.get("type") == "bench":
                return (time.time() - data["sent"]) * 1000

    for _ in range(rounds):
        got = await asyncio.gather(*(wait_one(ws) for ws in sockets), return_exceptions=True)
        print(json.dumps({"latencies": [r for r in got if isinstance(r, float)],
                          "missing": sum(1 for r in got if not isinstance(r, float))}), flush=True)
    print(json.dumps({"alive": sum(1 for ws in sockets if not ws._pump.done())}), flush=True)
    for ws in sockets:
        await ws.close()


def read_line(proc) -> dict:
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"a client process ended early: {proc.stderr.read()[-500:]}")
    return json.loads(line)


def scenario(server, count: int, processes: int) -> dict:
    session = server.sign_in("benchadmin")
    token = session.csrf("/account/")
    url = f"{server.ws_url}/ws?channel=system"

    async def warm():
        for ws in await open_all(url, session.cookie, server.url, 5):
            await ws.close()

    asyncio.run(warm())
    time.sleep(1)
    before = rss_kb(server.pid)
    started = time.monotonic()
    shares = [count // processes + (1 if n < count % processes else 0) for n in range(processes)]
    procs = [subprocess.Popen([str(BIN / "python"), "-m", "bench.sockets", url, session.cookie, server.url,
                               str(share), str(BROADCASTS)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for share in shares]
    try:
        opened = sum(read_line(p)["ready"] for p in procs)
        open_seconds = time.monotonic() - started
        time.sleep(2)
        after = rss_kb(server.pid)
        latencies, missing, last = [], 0, []
        for _ in range(BROADCASTS):
            time.sleep(GAP_SECONDS)
            response = session.client.post("/bench/broadcast", data={"sent": f"{time.time():.6f}"},
                                           headers={"X-CSRFToken": token, "HX-Request": "true"})
            assert response.status_code == 200, response.status_code
            got = [read_line(p) for p in procs]
            round_latencies = [ms for g in got for ms in g["latencies"]]
            latencies += round_latencies
            missing += sum(g["missing"] for g in got)
            last.append(max(round_latencies) if round_latencies else float("nan"))
        alive = sum(read_line(p)["alive"] for p in procs)
    finally:
        for p in procs:
            p.wait(timeout=30)
    return {"before": before, "after": after, "open_seconds": open_seconds, "latencies": latencies,
            "missing": missing, "last": last, "alive": alive, "opened": opened}


def run(results: Results, *, count: int = 1000, threads: int = 1100, processes: int = 4) -> None:
    print(f"\n== sockets: {count:,} idle websockets, gthread {threads} threads, {BROADCASTS} broadcasts")
    with Instance("sockets") as instance:
        instance.create_admin()
        with instance.serve(threads=threads, hooks=True) as server:
            figures = scenario(server, count, processes)
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
    results.note(f"sockets: clients are {processes} processes of asyncio sockets (one user, many tabs); "
                 "latency = client clock at receipt − clock when the admin action was sent (same host)")


if __name__ == "__main__":  # a client process (see scenario)
    asyncio.run(client_main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))


