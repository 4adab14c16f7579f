"""Are limits, quotas and ownership enforced with clear words, and is what people type rendered inert?"""
from __future__ import annotations

from sqlalchemy import select

from sanctum.chat import service
from sanctum.extensions import db
from sanctum.models import ChatMessage, ChatSession, Role, User
from tests.chat.conftest import chat_messages, wait_for_run


def send(auth, chat_id, body, htmx=True):
    headers = {"HX-Request": "true"} if htmx else {}
    return auth.post(f"/chat/{chat_id}/messages", {"body": body}, page=f"/chat/{chat_id}", headers=headers)


def set_role_quota(app, role, **limits):
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        role_id = db.session.scalar(select(Role.id).where(Role.name == role))
        service.set_quota(actor=admin, role_id=role_id, messages_per_day=limits.get("messages"),
                          tokens_per_day=limits.get("tokens"))


def test_another_users_chat_is_not_found(app, client, auth, chat_id):
    auth.login("mod")
    assert client.get(f"/chat/{chat_id}").status_code == 404
    assert send(auth, chat_id, "let me in").status_code == 404
    assert chat_messages(app, chat_id) == []


def test_a_message_over_the_limit_is_refused_and_kept_in_the_composer(app, auth, chat_id):
    app.config["CHAT_MAX_MESSAGE_CHARS"] = 50
    auth.login("ursula")
    response = send(auth, chat_id, "x" * 51)
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#composer"
    body = response.get_data(as_text=True)
    assert "at most 50 characters" in body and "x" * 51 in body  # what was typed is not lost
    assert chat_messages(app, chat_id) == []


def test_the_daily_quota_stops_sending_with_a_clear_message(app, auth, chat_id):
    set_role_quota(app, "user", messages=1)
    auth.login("ursula")
    assert send(auth, chat_id, "one").status_code == 200
    page = auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    assert "You have used your 1 messages for today" in page and "disabled" in page
    refused = send(auth, chat_id, "two")
    assert refused.status_code == 422 and "used your 1 messages" in refused.get_data(as_text=True)


def test_a_user_override_beats_the_role_quota(app, auth, chat_id):
    set_role_quota(app, "user", messages=0)
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        ursula = db.session.scalar(select(User).where(User.username == "ursula"))
        service.set_quota(actor=admin, user=ursula, messages_per_day=5, tokens_per_day=None)
    auth.login("ursula")
    assert send(auth, chat_id, "allowed by my own limit").status_code == 200
    assert "Used 1 of 5 messages today." in auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)


def test_too_many_replies_at_once_are_refused(app, auth, chat_id, provider):
    app.config["CHAT_MAX_CONCURRENT_RUNS"] = 1
    provider.reply = ["slow "] * 40
    provider.pause = 0.05
    auth.login("ursula")
    assert send(auth, chat_id, "first").status_code == 200
    refused = send(auth, chat_id, "second")
    assert refused.status_code == 422 and "still being written" in refused.get_data(as_text=True)


def test_sending_too_fast_is_rate_limited(app, auth, chat_id):
    app.config["CHAT_RATE_LIMIT"] = "2 per minute"
    auth.login("ursula")
    assert send(auth, chat_id, "a").status_code == 200
    assert send(auth, chat_id, "b").status_code == 200
    third = send(auth, chat_id, "c")
    assert third.status_code == 429 and "too fast" in third.get_data(as_text=True)


def test_a_viewer_cannot_chat(app, client, auth):
    auth.login("vera")
    assert client.get("/chat/").status_code == 403


def test_script_and_html_in_messages_render_inert(app, auth, chat_id, provider):
    provider.reply = ['<img src=x onerror="alert(1)">', " [click](javascript:alert(2)) ", "<script>alert(3)</script>"]
    auth.login("ursula")
    send(auth, chat_id, "**bold** <script>alert('x')</script> [ok](https://example.org)")
    wait_for_run(app, chat_messages(app, chat_id)[-1].run_id)
    page = auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    # The payloads are shown as text: no element, attribute or link of theirs survives.
    page = page[page.index('id="messages"'):page.index('id="composer"')]
    assert "<script>alert" not in page and "<img" not in page and 'href="javascript' not in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page and "&lt;img src=x onerror=" in page
    assert "<strong>bold</strong>" in page
    assert 'href="https://example.org" rel="noopener noreferrer nofollow"' in page


def test_the_page_costs_a_bounded_number_of_queries(app, auth, chat_id):
    from tests.support.queries import count_queries

    auth.login("ursula")
    with app.app_context():
        engine = db.engine
        chat = db.session.get(ChatSession, chat_id)
        for n in range(30):
            db.session.add(ChatMessage(chat_id=chat.id, role="user" if n % 2 == 0 else "agent", body=f"m{n}"))
        db.session.commit()
    with count_queries(engine) as statements:
        assert auth.client.get(f"/chat/{chat_id}").status_code == 200
    assert len(statements) <= 8, statements  # 7, and one for the header's bell and banners


def test_chats_are_found_by_title_and_message_text(app, auth, chat_id):
    auth.login("ursula")
    send(auth, chat_id, "remember the pineapple")
    wait_for_run(app, chat_messages(app, chat_id)[-1].run_id)
    found = auth.client.get("/chat/?q=pineapple", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'/chat/{chat_id}"' in found
    missing = auth.client.get("/chat/?q=durian", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "No chat matches" in missing


def test_rename_and_delete(app, auth, chat_id):
    auth.login("ursula")
    auth.post(f"/chat/{chat_id}/rename", {"title": "Garden plans"}, page=f"/chat/{chat_id}")
    assert "<h1>Garden plans</h1>" in auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    auth.post(f"/chat/{chat_id}/delete", page=f"/chat/{chat_id}")
    assert auth.client.get(f"/chat/{chat_id}").status_code == 404


def test_quota_admin_page_sets_and_audits_limits(app, client, auth):
    auth.login("admin")
    with app.app_context():
        role_id = db.session.scalar(select(Role.id).where(Role.name == "user"))
    auth.post(f"/admin/quotas/roles/{role_id}", {"messages_per_day": "100", "tokens_per_day": ""}, page="/admin/quotas")
    page = client.get("/admin/quotas").get_data(as_text=True)
    assert 'value="100"' in page
    bad = auth.post(f"/admin/quotas/roles/{role_id}", {"messages_per_day": "lots"}, page="/admin/quotas",
                    follow_redirects=True)
    assert "whole numbers" in bad.get_data(as_text=True)
    from sanctum.models import AuditEvent

    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "quota.changed"))
        assert event.details["after"] == {"messages_per_day": 100, "tokens_per_day": None}
