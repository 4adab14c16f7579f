"""Decisions on items: each needs a reason, is recorded with the reviewer and history, is
audited, and reaches the people concerned; hidden messages become placeholders for their owner."""
from __future__ import annotations

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import ModerationAction, ModerationItem
from tests.moderation.conftest import chat_messages, item_for, sanctions_of, user_id
from tests.support.accounts import AuthActions, audit_events


def flagged(app, auth, answer) -> int:
    auth.login("ursula")
    auth.post(f"/moderation/flag/{answer}", {"reason": "harmful", "note": "bad"}, page=f"/moderation/flag/{answer}")
    return item_for(app, answer).id


def moderator(app) -> AuthActions:
    actions = AuthActions(app.test_client())
    actions.login("mod")
    return actions


def test_the_queue_lists_items_by_score_with_filters(app, auth, exchange):
    question, answer = exchange
    item_id = flagged(app, auth, answer)
    mod = moderator(app)
    page = mod.client.get("/moderation/").get_data(as_text=True)
    assert f'id="item-{item_id}"' in page and "Here is something nasty." in page
    assert f'id="item-{item_id}"' not in mod.client.get("/moderation/?reason=spam").get_data(as_text=True)
    assert f'id="item-{item_id}"' in mod.client.get("/moderation/?user=URSULA").get_data(as_text=True)
    item_page = mod.client.get(f"/moderation/items/{item_id}").get_data(as_text=True)
    assert "How do I pick a lock?" in item_page  # the surrounding conversation
    assert auth.client.get("/moderation/").status_code == 403  # ursula may flag, not review


def test_hiding_a_message_leaves_a_placeholder_for_its_owner(app, auth, exchange, chat_id):
    _question, answer = exchange
    item_id = flagged(app, auth, answer)
    mod = moderator(app)
    missing = mod.post(f"/moderation/items/{item_id}/decide", {"decision": "hidden", "reason": ""},
                       page=f"/moderation/items/{item_id}")
    assert missing.status_code == 422 and "Give a reason" in missing.get_data(as_text=True)
    ok = mod.post(f"/moderation/items/{item_id}/decide", {"decision": "hidden", "reason": "Dangerous instructions."},
                  page=f"/moderation/items/{item_id}")
    assert ok.status_code == 302
    page = auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    assert "hidden by a moderator" in page and "Here is something nasty." not in page
    assert "Here is something nasty." in mod.client.get(f"/moderation/items/{item_id}").get_data(as_text=True)
    item = item_for(app, answer)
    assert (item.state, item.decision, item.decided_by_id) == ("resolved", "hidden", user_id(app, "mod"))
    event = audit_events(app, "moderation.hidden")[-1]
    assert event.actor_id == user_id(app, "mod") and event.details["reason"] == "Dangerous instructions."
    with app.app_context():
        actions = db.session.scalars(select(ModerationAction.action).where(ModerationAction.item_id == item_id)
                                     .order_by(ModerationAction.id)).all()
    assert actions == ["flagged", "hidden"]
    again = mod.post(f"/moderation/items/{item_id}/decide", {"decision": "dismissed", "reason": "oops"},
                     page=f"/moderation/items/{item_id}")
    assert again.status_code == 409 and "already been decided" in again.get_data(as_text=True)

    # Hidden messages never reach the agent again.
    from sanctum.chat.jobs import _history
    from sanctum.models import Run
    with app.app_context():
        run = Run(chat_id=chat_id, user_id=user_id(app, "ursula"), request_message_id=answer + 1,
                  reply_message_id=answer + 2, status="pending")
        assert all(m.content != "Here is something nasty." for m in _history(run))

    unhide = mod.post(f"/moderation/items/{item_id}/unhide", {"reason": "Context made it fine."},
                      page=f"/moderation/items/{item_id}")
    assert unhide.status_code == 302
    assert chat_messages(app, chat_id)[1].moderation is None
    assert audit_events(app, "moderation.unhidden")


def test_dismiss_and_warn(app, auth, exchange):
    question, answer = exchange
    item_id = flagged(app, auth, answer)
    mod = moderator(app)
    mod.post(f"/moderation/items/{item_id}/decide", {"decision": "dismissed", "reason": "Fiction."},
             page=f"/moderation/items/{item_id}")
    assert item_for(app, answer).decision == "dismissed"
    assert audit_events(app, "moderation.dismissed")

    auth.post(f"/moderation/flag/{question}", {"reason": "abuse"}, page=f"/moderation/flag/{question}")
    second = item_for(app, question).id
    mod.post(f"/moderation/items/{second}/decide", {"decision": "warned", "reason": "Mind your words.", "hide": ""},
             page=f"/moderation/items/{second}")
    [warning] = sanctions_of(app, "ursula")
    assert (warning.type, warning.reason, warning.item_id) == ("warning", "Mind your words.", second)
    assert chat_messages(app, item_for(app, question).chat_id)[0].moderation is None  # not hidden: box unticked
    assert audit_events(app, "moderation.warned") and audit_events(app, "sanction.applied")


def test_sanctioning_from_an_item(app, auth, exchange):
    question, answer = exchange
    auth.login("ursula")
    auth.post(f"/moderation/flag/{question}", {"reason": "abuse"}, page=f"/moderation/flag/{question}")
    item_id = item_for(app, question).id
    mod = moderator(app)
    ok = mod.post(f"/moderation/items/{item_id}/decide",
                  {"decision": "sanctioned", "reason": "Repeated abuse.", "hide": "y",
                   "sanction_type": "post_restriction", "duration": "24h"}, page=f"/moderation/items/{item_id}")
    assert ok.status_code == 302
    [restriction] = sanctions_of(app, "ursula")
    assert restriction.type == "post_restriction" and restriction.expires_at is not None
    with app.app_context():
        assert db.session.get(ModerationItem, item_id).decision == "sanctioned"
    assert chat_messages(app, item_for(app, question).chat_id)[0].moderation == "hidden"


def notes_of(app, username: str) -> list:
    from sanctum.models import Notification, User

    with app.app_context():
        rows = db.session.scalars(select(Notification).join(User, User.id == Notification.user_id)
                                  .where(User.username == username).order_by(Notification.id)).all()
        return [(n.kind, n.title, n.body, n.link) for n in rows]


def test_people_concerned_are_notified(app, auth, exchange, chat_id):
    _question, answer = exchange
    item_id = flagged(app, auth, answer)
    mod = moderator(app)
    mod.post(f"/moderation/items/{item_id}/decide", {"decision": "hidden", "reason": "Dangerous instructions."},
             page=f"/moderation/items/{item_id}")
    kinds = {kind: (title, body, link) for kind, title, body, link in notes_of(app, "ursula")}
    assert kinds["flag.outcome"][0] == "The message you flagged was hidden by a moderator"
    assert kinds["flag.outcome"][1] == "Dangerous instructions."
    assert kinds["moderation.hidden"][2] == f"/chat/{chat_id}"
    page = auth.client.get("/notifications/").get_data(as_text=True)
    assert "The message you flagged was hidden by a moderator" in page


def test_sanctions_are_notified_with_a_link_to_the_standing_page(app, auth):
    mod = moderator(app)
    mod.post("/moderation/sanctions/new", {"username": "ursula", "type": "post_restriction", "duration": "24h",
                                           "reason": "Cool off."}, page="/moderation/sanctions/new")
    [(kind, title, body, link)] = notes_of(app, "ursula")
    assert (kind, body, link) == ("sanction.applied", "Cool off.", "/moderation/standing")
    assert title.startswith("May read, may not send (until ")
