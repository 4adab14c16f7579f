"""The admin dashboard's registries: numbers, charts and health checks that features plug in.

Nothing on the dashboard is hard-coded: each tile, chart and health row comes from a
provider registered here, and a feature that is not built yet simply has none. Issue 7
adds, in e.g. `sanctum/chat/dashboard.py` (imported by its routes module):

    from sanctum import dashboard

    @dashboard.stats("chats", order=30)
    def chat_numbers(today):
        yield dashboard.Stat("Chats today", count_chats(today), url_for("chat.chat_index"))
        yield dashboard.Stat("Failed runs (24 h)", failed_runs(), url_for(...), tone="bad")

    @dashboard.chart("messages", "Messages per day", order=20)
    def messages_chart(since, until):
        return {"Messages": per_day(Message.created_at, since, until)}   # {series: [(day, n), …]}

    @dashboard.health_check("agents", "Agents", order=40)
    def agents_health():
        return {"ok": all_reachable(), "detail": "3 of 3 answering"}
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable, Optional

from flask import current_app


@dataclass
class Stat:
    label: str
    value: int | str
    url: Optional[str] = None
    hint: str = ""
    tone: str = ""  # "", "ok", "warn" or "bad": how the number should catch the eye


@dataclass(order=True)
class Provider:
    order: int
    key: str = field(compare=False)
    function: Callable = field(compare=False)
    title: str = field(default="", compare=False)
    permission: Optional[str] = field(default=None, compare=False)


STATS: dict[str, Provider] = {}
CHARTS: dict[str, Provider] = {}
HEALTH: dict[str, Provider] = {}

StatsFunction = Callable[[date], Iterable[Stat]]
ChartFunction = Callable[[date, date], dict[str, list[tuple[date, int]]]]
HealthFunction = Callable[[], dict]


def stats(key: str, *, order: int = 100, permission: Optional[str] = None):
    """Register tiles: `fn(today) -> iterable of Stat`. `permission` hides them from who lacks it."""
    def register(function: StatsFunction) -> StatsFunction:
        STATS[key] = Provider(order, key, function, permission=permission)
        return function
    return register


def chart(key: str, title: str, *, order: int = 100, permission: Optional[str] = None):
    """Register a per-day chart: `fn(since, until) -> {series name: [(day, count), …]}`."""
    def register(function: ChartFunction) -> ChartFunction:
        CHARTS[key] = Provider(order, key, function, title, permission)
        return function
    return register


def health_check(key: str, title: str, *, order: int = 100):
    """Register a health row: `fn() -> {"ok": bool, "detail": str}`; it must not raise for a fault."""
    def register(function: HealthFunction) -> HealthFunction:
        HEALTH[key] = Provider(order, key, function, title)
        return function
    return register


_CACHE_KEY = "sanctum.dashboard.cache"


def cached(key: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()`, remembered per app for DASHBOARD_CACHE_SECONDS (0 turns it off).

    Every tile and chart is a count over a whole table; a dashboard left open, or several
    admins looking at once, would run them all on every load. The key carries whatever the
    figures depend on (the day, the viewer's permissions, which decide the links)."""
    seconds = float(current_app.config.get("DASHBOARD_CACHE_SECONDS") or 0)
    if seconds <= 0:
        return compute()
    store: dict = current_app.extensions.setdefault(_CACHE_KEY, {})
    now = time.monotonic()
    hit = store.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    if len(store) > 256:  # days and permission sets come and go: drop what has expired
        for old in [k for k, (until, _) in list(store.items()) if until <= now]:
            store.pop(old, None)
    store[key] = (now + seconds, value)
    return value


__all__ = ["CHARTS", "HEALTH", "STATS", "Stat", "cached", "chart", "health_check", "stats"]
