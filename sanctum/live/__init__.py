"""One websocket per browser tab carries every live channel the page needs.

Feature packages register who may listen on a channel family:

    @live.channel("chat:")
    def may_listen(user, channel) -> bool: ...

The hub asks again on every event it forwards and on every message a client
sends, so a revoked right stops the flow at once (SECURITY.md 16, 21).
"""
from sanctum.live.hub import Connection, authorizer_for, channel, message_handler, renderer

__all__ = ["Connection", "authorizer_for", "channel", "message_handler", "renderer"]
