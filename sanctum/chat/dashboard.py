"""The chat's tiles and charts on the admin dashboard (sanctum.dashboard registries)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import url_for
from sqlalchemy import func, select

from sanctum import dashboard
from sanctum.dashboard.charts import count_per_day
from sanctum.extensions import db
from sanctum.models import Agent, ChatMessage, ChatSession, Run, UsageDaily
from sanctum.models.base import utcnow


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


@dashboard.stats("chats", order=30)
def chat_numbers(today: date):
    since = _midnight(today)
    chats = db.session.scalar(select(func.count(func.distinct(ChatMessage.chat_id)))
                              .where(ChatMessage.created_at >= since))
    messages = db.session.scalar(select(func.count()).select_from(ChatMessage)
                                 .where(ChatMessage.created_at >= since, ChatMessage.role == "user"))
    failed = db.session.scalar(select(func.count()).select_from(Run)
                               .where(Run.status == "failed", Run.created_at >= utcnow() - timedelta(hours=24)))
    # Chats are private to their owners: the numbers lead to the agents and the quotas that shape them.
    agents, quotas = url_for("agents.agents_index"), url_for("admin.quotas_index")
    yield dashboard.Stat("Chats today", chats, agents, hint="chats with a message since midnight UTC")
    yield dashboard.Stat("Messages today", messages, quotas, hint="sent by people")
    yield dashboard.Stat("Failed replies (24 h)", failed, agents, hint="see each agent's status and test it",
                         tone="bad" if failed else "")


@dashboard.chart("messages", "Messages per day", order=20)
def messages_chart(since: date, until: date):
    return {"Messages": count_per_day(ChatMessage.created_at, since, until, ChatMessage.role == "user")}


@dashboard.chart("tokens", "Tokens per day by agent", order=30)
def tokens_chart(since: date, until: date):
    rows = db.session.execute(
        select(Agent.name, UsageDaily.day, func.sum(UsageDaily.tokens_in + UsageDaily.tokens_out))
        .join(Agent, Agent.id == UsageDaily.agent_id)
        .where(UsageDaily.day >= since, UsageDaily.day <= until)
        .group_by(Agent.name, UsageDaily.day)
    ).all()
    days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    series: dict[str, dict[date, int]] = {}
    for name, day, tokens in rows:
        series.setdefault(name, {})[day] = int(tokens or 0)
    return {name: [(day, by_day.get(day, 0)) for day in days] for name, by_day in sorted(series.items())}
