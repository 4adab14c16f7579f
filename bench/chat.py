"""Chat relay: N clients chatting through Sanctum's websocket vs. the same N calling the provider.

    python -m bench chat [--clients 10] [--tokens 100] [--token-rate 200] [--no-redis]

The provider (bench/provider.py, its own process) streams `tokens` tokens at a fixed rate.
Through Sanctum each client does what the chat page does (static/js/chat.js): a websocket
on /ws?channel=chat:<id>, then POST /chat/<id>/messages as htmx; the reply streams back
as `delta` events and ends with a `message` event. Figures, per reply:

- TTFT: from the POST (or, direct, the provider request) to the first token; the overhead
  is the difference of the p50s. The relay hop alone (provider sent the token → client got
  it; each token carries its send time) is printed beside it.
- tokens/s: tokens received / (last token − first token), per reply, p50; target ≥ 95 %.
- errors: replies that did not complete with every token.

Single-process mode runs the jobs in the server (SANCTUM_JOB_THREADS = clients); the
scaled-out mode is PostgreSQL + Redis with `sanctum worker` processes (one per client,
as RQ's SimpleWorker runs one job at a time).
"""
from __future__ import annotations

import json
import random
import statistics
import subprocess
import threading
import time

import httpx
from simple_websocket import Client

from bench.harness import BIN, PASSWORD, Instance, Results, free_port, percentile, spawn, stop, verdict


def seed(app, clients: int, provider_url: str) -> list[tuple[str, int]]:
    from sanctum.agents.service import create_agent
    from sanctum.auth.service import create_user
    from sanctum.extensions import db
    from sanctum.models import ChatSession

    agent = create_agent(data={"name": "bench-stream", "display_name": "Streamer", "provider": "openai",
                               "base_url": provider_url + "/v1", "model": "bench", "roles": ["user"],
                               "read_timeout": 30, "total_timeout": 120}, actor=None)
    chats = []
    for n in range(clients):
        user = create_user(username=f"chatter{n:03d}", email=f"chatter{n:03d}@bench.example", password=PASSWORD,
                           role="user", verified=True)
        db.session.flush()
        chat = ChatSession(user_id=user.id, agent_id=agent.id, title=f"bench {n}")
        db.session.add(chat)
        db.session.flush()
        chats.append((user.username, chat.id))
    db.session.commit()
    return chats


def direct(provider_url: str, clients: int, rounds: int, spread: float) -> list[dict]:
    out: list[dict] = []
    lock = threading.Lock()

    def one():
        with httpx.Client(timeout=60) as client:
            for _ in range(rounds):
                time.sleep(random.uniform(0, spread))  # as the relay's clients do
                started = time.time()
                first = last = None
                count = 0
                with client.stream("POST", provider_url + "/v1/chat/completions",
                                   json={"model": "bench", "stream": True,
                                         "messages": [{"role": "user", "content": "hi"}]}) as response:
                    for line in response.iter_lines():
                        if line.startswith("data: {") and '"content"' in line:
                            now = time.time()
                            first = first or now
                            last = now
                            count += 1
                with lock:
                    out.append({"ttft": (first - started) * 1000 if first else None, "tokens": count,
                                "span": (last - first) if first else 0})

    run_threads(one, clients)
    return out


def relay(server, chats: list[tuple[str, int]], rounds: int, tokens: int, rate: float) -> list[dict]:
    out: list[dict] = []
    lock = threading.Lock()
    sessions = [(server.sign_in(username), chat_id) for username, chat_id in chats]
    barrier = threading.Barrier(len(sessions))

    def one(session, chat_id):
        # simple-websocket sends Host without the port, and the Origin must match the Host.
        ws = Client.connect(f"{server.ws_url}/ws?channel=chat:{chat_id}",
                            headers={"Origin": "http://127.0.0.1", "Cookie": session.cookie})
        try:
            # The server joins the channel before it says hello. simple-websocket's client now and
            # then drops a frame that arrives with the handshake's answer, so the hello is
            # checked when it comes and not waited for.
            hello = ws.receive(timeout=2)
            if hello is not None:
                assert json.loads(hello).get("channels") == [f"chat:{chat_id}"], hello
            token = session.csrf(f"/chat/{chat_id}")
            try:
                barrier.wait(timeout=60)
            except threading.BrokenBarrierError:
                pass  # another client failed to start: go on without it (it is counted)
            for n in range(rounds):
                # People do not press Send in the same millisecond: spread the sends over about a
                # reply's length, so the figure is the relay's cost and not a queue of ten posts.
                time.sleep(random.uniform(0, tokens / rate))
                out_row = exchange(session, ws, chat_id, token, f"round {n}", tokens)
                with lock:
                    out.append(out_row)
        finally:
            ws.close()

    failed = run_threads(one, len(sessions), args=sessions)
    return out + [{"error": "client failed"}] * (failed * rounds)


def exchange(session, ws, chat_id: int, token: str, text: str, tokens: int) -> dict:
    started = time.time()
    response = session.client.post(f"/chat/{chat_id}/messages", data={"body": text},
                                   headers={"HX-Request": "true", "X-CSRFToken": token})
    if response.status_code != 200:
        return {"error": f"send answered {response.status_code}"}
    first = last = None
    hops, count, reply = [], 0, None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        raw = ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        if raw is None:
            continue
        now = time.time()
        data = json.loads(raw)
        if data.get("type") == "delta" and (reply is None or data.get("message_id") == reply):
            reply = data["message_id"]
            first = first or now
            last = now
            for part in data["text"].split():
                hops.append((now - float(part)) * 1000)
                count += 1
        elif data.get("type") == "message" and data.get("id") == reply and data.get("status") != "streaming":
            ok = data.get("status") == "complete" and count == tokens
            return {"ttft": (first - started) * 1000 if first else None, "tokens": count,
                    "span": (last - first) if first else 0, "hop": hops[0] if hops else None,
                    "hops": hops, "error": None if ok else f"ended {data.get('status')} with {count} tokens"}
    return {"error": f"timed out after {count} tokens"}


def run_threads(fn, count: int, args=None) -> int:
    failures = []

    def guarded(*a):
        try:
            fn(*a)
        except Exception as exc:  # noqa: BLE001 - counted, the others go on
            failures.append(exc)
            if len(failures) == 1:
                import traceback

                traceback.print_exc()

    threads = [threading.Thread(target=guarded, args=(args[n] if args else ())) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print(f"  {len(failures)} client(s) failed: {failures[0]!r}")
    return len(failures)


def rates(rows: list[dict]) -> list[float]:
    return [(r["tokens"] - 1) / r["span"] for r in rows if r.get("span")]


def run(results: Results, *, clients: int = 10, tokens: int = 100, rate: float = 200, rounds: int = 3,
        redis: bool = False) -> None:
    mode = "PostgreSQL + Redis/RQ" if redis else "single process (SQLite)"
    print(f"\n== chat relay, {mode}: {clients} clients × {rounds} replies of {tokens} tokens at {rate:.0f}/s")
    port = free_port()
    provider = spawn([str(BIN / "python"), "-m", "bench.provider", "--port", str(port), "--tokens", str(tokens),
                      "--rate", str(rate)], None, subprocess.DEVNULL)
    provider_url = f"http://127.0.0.1:{port}"
    try:
        wait_http(provider_url + "/v1/models")
        base = direct(provider_url, clients, rounds, tokens / rate)
        with Instance("chat_redis" if redis else "chat", database="postgresql" if redis else "sqlite", redis=redis,
                      extra_env={"SANCTUM_JOB_THREADS": str(clients),
                                 "SANCTUM_CHAT_MAX_CONCURRENT_RUNS": "3"}) as instance:
            chats = instance.seed(lambda app: seed(app, clients, provider_url))
            with instance.serve(threads=max(32, clients * 3), workers=clients if redis else 0) as server:
                relay(server, chats[:1], 1, tokens, rate)  # warm-up: templates, pools, the provider's connection
                got = relay(server, chats, rounds, tokens, rate)
    finally:
        stop(provider)
    report(results, mode, base, got, clients)


def report(results: Results, mode: str, base: list[dict], got: list[dict], clients: int) -> None:
    ok = [r for r in got if not r.get("error")]
    errors = len(got) - len(ok)
    base_ttft = statistics.median(r["ttft"] for r in base if r["ttft"] is not None)
    relay_ttft = statistics.median(r["ttft"] for r in ok) if ok else float("nan")
    overhead = relay_ttft - base_ttft
    limit = 15 if "Redis" in mode else 5
    label = f"{mode}, {clients} clients"
    results.add("chat", "TTFT p50 through Sanctum (send → first token)", label, f"{relay_ttft:.1f} ms",
                baseline=f"{base_ttft:.1f} ms direct", ratio=f"+{overhead:.1f} ms", target=f"overhead ≤ {limit} ms",
                verdict=verdict(overhead <= limit))
    hops = [h for r in ok for h in r["hops"]]
    if hops:
        results.add("chat", "relay hop p50/p99 (provider sent → client got)", label,
                    f"{statistics.median(hops):.1f} / {percentile(hops, 99):.1f} ms")
    base_rate, relay_rate = statistics.median(rates(base)), statistics.median(rates(ok)) if ok else 0.0
    results.add("chat", "tokens/s per reply p50", label, f"{relay_rate:,.0f}", baseline=f"{base_rate:,.0f} direct",
                ratio=f"{relay_rate / base_rate:.1%}", target="≥ 95 %", verdict=verdict(relay_rate >= 0.95 * base_rate))
    results.add("chat", "errors", label, f"{errors} of {len(got)} replies", target="0", verdict=verdict(errors == 0))
    if errors:
        results.note(f"chat errors ({mode}): " + "; ".join(sorted({str(r['error']) for r in got if r.get('error')}))[:300])


def wait_http(url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
