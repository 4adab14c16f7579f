"""Login storm: concurrent sign-ins at bcrypt cost 12 while another client browses.

    python -m bench login [--storm 20] [--duration 8]

The server runs with SANCTUM_BCRYPT_ROUNDS=12 (the production floor) and the per-IP
sign-in limit raised (SANCTUM_LOGIN_RATE_LIMIT=100000 per minute): every storm client comes
from 127.0.0.1, and with the real limit (10 per minute) the storm would measure the limiter
answering 429, not bcrypt. The browsing client, signed in beforehand, fetches the users
list back to back; its p99 is taken alone and then during the storm. Target: ≤ 2×.
"""
from __future__ import annotations

import statistics
import threading
import time

import httpx

from bench.harness import PASSWORD, Instance, Results, csrf_token, percentile, verdict

PAGE = "/admin/users/"


def seed(app, storm: int) -> None:
    from sqlalchemy import insert

    from sanctum.auth.service import create_user
    from sanctum.extensions import db
    from sanctum.models import User
    from sanctum.models.base import utcnow

    first = create_user(username="storm000", email="storm000@bench.example", password=PASSWORD, verified=True)
    db.session.commit()
    # One cost-12 hash serves every storm account (hashing each would only slow the set-up).
    now = utcnow()
    db.session.execute(insert(User), [
        {"username": f"storm{n:03d}", "email": f"storm{n:03d}@bench.example", "password_hash": first.password_hash,
         "role_id": first.role_id, "status": "active", "failed_login_attempts": 0, "email_verified_at": now,
         "created_at": now, "updated_at": now} for n in range(1, storm)])
    db.session.commit()


def browse(session, seconds: float) -> list[float]:
    samples = []
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        assert session.client.get(PAGE).status_code == 200
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def sign_in_loop(url: str, username: str, stop: threading.Event, counts: list, lock: threading.Lock) -> None:
    while not stop.is_set():
        with httpx.Client(base_url=url, timeout=60) as client:
            token = csrf_token(client.get("/login").text)
            started = time.perf_counter()
            response = client.post("/login", data={"identifier": username, "password": PASSWORD, "csrf_token": token})
            with lock:
                counts.append((response.status_code, (time.perf_counter() - started) * 1000))


def run(results: Results, *, storm: int = 20, duration: float = 8) -> None:
    print(f"\n== login storm: {storm} concurrent sign-ins at bcrypt cost 12, browsing {PAGE}")
    with Instance("login", bcrypt_rounds=12) as instance:
        instance.create_admin()
        instance.seed(lambda app: seed(app, storm))
        with instance.serve(threads=32) as server:
            session = server.sign_in("benchadmin")
            browse(session, 1)  # warm
            quiet = browse(session, duration)
            stop, lock, counts = threading.Event(), threading.Lock(), []
            threads = [threading.Thread(target=sign_in_loop, args=(server.url, f"storm{n:03d}", stop, counts, lock))
                       for n in range(storm)]
            for t in threads:
                t.start()
            time.sleep(1)  # let the storm build
            stormy = browse(session, duration)
            stop.set()
            for t in threads:
                t.join()
    signed = [ms for status, ms in counts if status == 302]
    failed = len(counts) - len(signed)
    mode = f"single process, gthread 32 threads, SQLite, {storm} sign-in clients"
    ratio = percentile(stormy, 99) / percentile(quiet, 99)
    results.add("login", "browsing p99 during the storm", mode,
                f"{percentile(stormy, 99):.0f} ms (p50 {statistics.median(stormy):.0f} ms)",
                baseline=f"{percentile(quiet, 99):.0f} ms (p50 {statistics.median(quiet):.0f} ms) alone",
                ratio=f"{ratio:.1f}×", target="≤ 2×", verdict=verdict(ratio <= 2))
    results.add("login", "sign-ins during the storm", mode,
                f"{len(signed)} in ~{duration + 1:.0f} s, p50 {statistics.median(signed):.0f} ms each"
                + (f", {failed} refused" if failed else ""))
    results.note("login: the per-IP sign-in limit is raised for the bench (all clients are 127.0.0.1), "
                 "so the storm measures bcrypt, not the limiter")
