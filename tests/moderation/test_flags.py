"""Flags: a user reports a message of their own chat; one flag per person per message; the
item's score grows with the number and weight of flags."""
from __future__ import annotations

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import ChatMessage, ChatSession, Flag, ModerationAction
from tests.moderation.conftest import item_for, user_id
from tests.support.accounts import audit_events


def test_a_user_flags_an_agent_reply_and_an_item_is_queued(app, auth, exchange, chat_id):
    _question, answer = exchange
    auth.login("ursula")
    page = auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    assert f'/moderation/flag/{answer}' in page  # the reply offers a Flag button
    response = auth.post(f"/moderation/flag/{answer}", {"reason": "harmful", "note": "dangerous advice"},
                         page=f"/moderation/flag/{answer}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Moderators will look at it" in response.get_data(as_text=True)
    item = item_for(app, answer)
    assert (item.state, item.reason, item.source, item.flag_count, item.score) == ("open", "harmful", "flag", 1, 3)
    assert item.excerpt == "Here is something nasty." and item.user_id == user_id(app, "ursula")
    event = audit_events(app, "moderation.flagged")[-1]
    assert event.actor_id == user_id(app, "ursula") and event.target_type == "moderationitem"
    with app.app_context():
        assert db.session.scalar(select(ModerationAction.action).where(ModerationAction.item_id == item.id)) == "flagged"


def test_one_flag_per_person_per_message(app, auth, exchange):
    _question, answer = exchange
    auth.login("ursula")
    auth.post(f"/moderation/flag/{answer}", {"reason": "spam"}, page=f"/moderation/flag/{answer}")
    again = auth.post(f"/moderation/flag/{answer}", {"reason": "abuse"}, page=f"/moderation/flag/{answer}")
    assert again.status_code == 422
    assert "already flagged" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Flag).count() == 1
    assert item_for(app, answer).score == 1


def test_flags_and_screening_hits_gather_on_one_item(app, auth, exchange):
    """One item per message: a later screening hit on the same message raises the same score."""
    from sanctum.moderation import service
    from sanctum.moderation.screening import Hit

    _question, answer = exchange
    auth.login("ursula")
    auth.post(f"/moderation/flag/{answer}", {"reason": "abuse"}, page=f"/moderation/flag/{answer}")
    with app.app_context():
        message = db.session.get(ChatMessage, answer)
        chat = db.session.get(ChatSession, message.chat_id)
        service.record_hits(chat=chat, message=message, text=message.body, role="agent",
                            hits=[Hit(0, "nasty", "harmful", "flag", None, "nasty")])
        db.session.commit()
    item = item_for(app, answer)
    assert (item.flag_count, item.score) == (1, 3 + 2)


def test_another_users_message_cannot_be_flagged(app, auth, exchange):
    from tests.support.accounts import make_user

    _question, answer = exchange
    make_user(app, "uma")
    auth.login("uma")
    assert auth.client.get(f"/moderation/flag/{answer}").status_code == 404
    response = auth.post(f"/moderation/flag/{answer}", {"reason": "spam"}, page="/account/")
    assert response.status_code == 404
    assert item_for(app, answer) is None


def test_other_needs_a_note_and_errors_keep_the_form(app, auth, exchange):
    _question, answer = exchange
    auth.login("ursula")
    response = auth.post(f"/moderation/flag/{answer}", {"reason": "other"}, page=f"/moderation/flag/{answer}")
    assert response.status_code == 422
    assert "Say what is wrong" in response.get_data(as_text=True)
    missing = auth.post(f"/moderation/flag/{answer}", {}, page=f"/moderation/flag/{answer}")
    assert missing.status_code == 422 and "Choose a reason" in missing.get_data(as_text=True)
    assert item_for(app, answer) is None


def test_the_api_flags_with_a_token(app, client, exchange):
    from sanctum.tokens.service import create_token
    from sanctum.models import User

    _question, answer = exchange
    with app.app_context():
        ursula = db.session.scalar(select(User).where(User.username == "ursula"))
        _row, secret = create_token(user=ursula, name="script", scopes=["moderation.flag"], expires_in_days=1,
                                    actor=ursula)
        db.session.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    ok = client.post(f"/api/v1/messages/{answer}/flags", json={"reason": "spam"}, headers=headers)
    assert ok.status_code == 201, ok.get_json()
    again = client.post(f"/api/v1/messages/{answer}/flags", json={"reason": "spam"}, headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["request_id"]
    bad = client.post(f"/api/v1/messages/{answer}/flags", json={"reason": "nonsense"}, headers=headers)
    assert bad.status_code in (409, 422)
