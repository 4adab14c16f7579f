"""The events seam: publish/subscribe on named channels.

    events.publish("chat:12", {"type": "chat:message-created", "id": 99, "html": "…"})
    events.publish_on_commit(...)      # after the current transaction commits
    sub = events.subscribe("chat:12", callback)   # or a prefix: "chat:*"
    sub.close()
    events.degraded()                  # None, or why live updates are not flowing right now

In-memory when no Redis is configured; otherwise every process keeps ONE Redis
pub/sub connection and fans events out to its local subscribers. Delivery is
at-most-once in both modes: anything that must not be lost is committed to the
database first, and readers resync from there.
"""
from sanctum.events.bus import Subscription, degraded, get_bus, init_app, publish, publish_on_commit, subscribe

__all__ = ["Subscription", "degraded", "get_bus", "init_app", "publish", "publish_on_commit", "subscribe"]
