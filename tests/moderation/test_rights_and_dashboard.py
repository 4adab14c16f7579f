"""Moderation in the dashboard's numbers, in a person's data export, and in erasure."""
from __future__ import annotations

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import Flag, ModerationItem, User
from tests.moderation.test_sanctions import apply


def test_the_dashboard_counts_open_items_and_sanctions(app, auth, exchange):
    _question, answer = exchange
    auth.login("ursula")
    auth.post(f"/moderation/flag/{answer}", {"reason": "spam"}, page=f"/moderation/flag/{answer}")
    apply(app, username="vera", type_="post_restriction", expires_at=None, reason="Quiet.")
    from tests.support.accounts import AuthActions

    admin = AuthActions(app.test_client())
    admin.login("admin")
    page = admin.client.get("/dashboard/").get_data(as_text=True)
    assert "Open moderation items" in page and "Sanctions in force" in page
    assert 'href="/moderation/"' in page


def test_export_and_erasure(app, auth, exchange):
    from sanctum.moderation.dashboard import export_moderation
    from sanctum.privacy.erasure import erase_user

    _question, answer = exchange
    auth.login("ursula")
    auth.post(f"/moderation/flag/{answer}", {"reason": "harmful", "note": "nasty"}, page=f"/moderation/flag/{answer}")
    apply(app, type_="warning", reason="Be kind.")
    with app.app_context():
        ursula = db.session.scalar(select(User).where(User.username == "ursula"))
        exported = export_moderation(ursula)
        assert exported["flags"][0]["note"] == "nasty"
        assert exported["sanctions"][0]["reason"] == "Be kind."
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        erase_user(user=ursula, actor=admin, confirm="ursula")
        assert db.session.query(Flag).count() == 0
        item = db.session.scalar(select(ModerationItem))
        assert (item.user_id, item.excerpt) == (None, "[erased]")
