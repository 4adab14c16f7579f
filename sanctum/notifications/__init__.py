"""Notifications: rows for one user each, a bell with the unread count, live over the page's socket.

Other features call the service inside their own transaction:

    from sanctum.notifications import notify, notify_permission
    notify([user.id], "sanction.applied", "You may not post until Friday", body=reason, link="/account/")
    notify_permission("agents.manage", "agent.unhealthy", "Agent Echo is down")
    db.session.commit()      # the caller commits; the bell updates once it has
"""
from sanctum.notifications.service import channel_for, notify, notify_permission

__all__ = ["channel_for", "notify", "notify_permission"]
