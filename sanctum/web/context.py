"""Facts about the current request that services may record without touching `request`."""
from __future__ import annotations

from typing import NamedTuple, Optional

from flask import g, has_request_context, request


class RequestFacts(NamedTuple):
    ip: Optional[str]
    user_agent: Optional[str]
    request_id: Optional[str]


def request_facts() -> RequestFacts:
    if not has_request_context():
        return RequestFacts(None, None, None)
    return RequestFacts(request.remote_addr, request.headers.get("User-Agent"), g.get("request_id"))
