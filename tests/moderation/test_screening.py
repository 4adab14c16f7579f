"""Screening rules: refused when they could not run, linear-time when they can, and each action
(flag, hold, block) does what it says on every new message."""
from __future__ import annotations

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import ChatMessage, ModerationItem, Run, ScreeningRule
from tests.moderation.conftest import chat_messages, item_for, wait_for_run
from tests.support.accounts import audit_events


def add_rule(app, **values) -> int:
    from sanctum.moderation.rules import save_rule

    data = {"name": "rule", "kind": "term", "pattern": "forbidden", "category": "abuse", "action": "flag",
            "applies_to": "user", "block_message": "", "is_active": True, **values}
    with app.app_context():
        return save_rule(actor=None, rule=None, data=data).id


def test_an_admin_saves_a_rule_and_a_broken_regex_is_refused(app, auth):
    auth.login("admin")
    ok = auth.post("/moderation/rules", {"name": "Spam links", "kind": "regex", "pattern": r"https?://\S+\.xyz\b",
                                         "category": "spam", "action": "flag", "applies_to": "both",
                                         "is_active": "y"}, page="/moderation/rules")
    assert ok.status_code == 302
    for pattern, words in [(r"(unclosed", "missing )"), (r"(a)\1", "Backreferences"), (r"(?=look)ahead", "lookaround")]:
        bad = auth.post("/moderation/rules", {"name": f"bad {pattern}", "kind": "regex", "pattern": pattern,
                                              "category": "spam", "action": "flag", "applies_to": "user"},
                        page="/moderation/rules")
        assert bad.status_code == 422, pattern
        assert "cannot be used" in bad.get_data(as_text=True), pattern
    with app.app_context():
        assert [r.name for r in db.session.scalars(select(ScreeningRule))] == ["Spam links"]
    assert audit_events(app, "moderation.rule_created")[-1].details["after"]["pattern"] == r"https?://\S+\.xyz\b"


def test_catastrophic_backtracking_patterns_run_in_linear_time(app):
    """`(a+)+$` takes a backtracking engine exponential time on "aaaa…!"; on RE2 it is linear,
    so a rule can never stall a send. pytest-timeout bounds the test."""
    from sanctum.moderation.screening import compile_rule

    for pattern in (r"(a+)+$", r"(a|aa)+$", r"(.*a){20}$", r"^(\w+\s?)*$"):
        matcher = compile_rule("regex", pattern)
        assert matcher.search("a" * 50_000 + "!") is None or pattern == r"(.*a){20}$"


def test_terms_match_whole_words_in_any_case(app):
    from sanctum.moderation.screening import compile_rule

    matcher = compile_rule("term", "free money")
    assert matcher.search("Get FREE   money now")
    assert not matcher.search("carefree moneyless")


def test_a_block_rule_refuses_the_send_and_says_why(app, auth, chat_id):
    add_rule(app, name="no threats", pattern="kill you", action="block",
             block_message="Threats are not allowed here.")
    auth.login("ursula")
    response = auth.post(f"/chat/{chat_id}/messages", {"body": "I will kill you"}, page=f"/chat/{chat_id}",
                         headers={"HX-Request": "true"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Threats are not allowed here." in body
    assert "I will kill you" in body  # the composer keeps what was typed
    assert chat_messages(app, chat_id) == []
    with app.app_context():
        item = db.session.scalar(select(ModerationItem))
        assert (item.message_id, item.excerpt, item.source) == (None, "I will kill you", "screening")
        rule = db.session.scalar(select(ScreeningRule))
        assert rule.hit_count == 1


def test_a_hold_rule_keeps_the_message_from_the_agent_until_a_moderator_clears_it(app, auth, chat_id, provider,
                                                                                    client):
    add_rule(app, name="medical", pattern="dosage", action="hold", category="harmful")
    auth.login("ursula")
    response = auth.post(f"/chat/{chat_id}/messages", {"body": "What dosage is lethal?"}, page=f"/chat/{chat_id}")
    assert response.status_code == 302
    [held] = chat_messages(app, chat_id)
    assert held.moderation == "held"
    with app.app_context():
        assert db.session.query(Run).count() == 0
    page = auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    assert "held for review" in page and "What dosage is lethal?" in page
    item = item_for(app, held.id)
    assert item.held and item.reason == "harmful"

    moderator = app.test_client()
    from tests.support.accounts import AuthActions
    mod = AuthActions(moderator)
    mod.login("mod")
    ok = mod.post(f"/moderation/items/{item.id}/decide", {"decision": "dismissed", "reason": "A pharmacology question."},
                  page=f"/moderation/items/{item.id}")
    assert ok.status_code == 302
    messages = chat_messages(app, chat_id)
    assert messages[0].moderation is None
    reply = messages[1]
    run = wait_for_run(app, reply.run_id)
    assert run.status == "succeeded"
    assert provider.requests[-1]["json"]["messages"][-1]["content"] == "What dosage is lethal?"


def test_a_flag_rule_on_agent_output_queues_the_reply(app, auth, chat_id, provider):
    add_rule(app, name="agent slurs", pattern="world", action="flag", applies_to="agent", category="harmful")
    auth.login("ursula")
    auth.post(f"/chat/{chat_id}/messages", {"body": "Say hello"}, page=f"/chat/{chat_id}")
    reply = chat_messages(app, chat_id)[1]
    wait_for_run(app, reply.run_id)
    item = item_for(app, reply.id)
    assert item is not None and item.message_role == "agent" and item.source == "screening"
    assert chat_messages(app, chat_id)[1].moderation is None  # flagged, not withheld


def test_a_hold_rule_on_agent_output_withholds_the_reply(app, auth, chat_id, provider):
    add_rule(app, name="agent secrets", pattern="world", action="hold", applies_to="agent", category="harmful")
    auth.login("ursula")
    auth.post(f"/chat/{chat_id}/messages", {"body": "Say hello"}, page=f"/chat/{chat_id}")
    reply = chat_messages(app, chat_id)[1]
    wait_for_run(app, reply.run_id)
    assert chat_messages(app, chat_id)[1].moderation == "held"
    page = auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    assert "held for review" in page and "Hello, world!" not in page


def test_a_moderation_agent_classifies_new_messages(app, auth, chat_id, provider, wait_for_job):
    from sanctum.models import JobRecord
    from sanctum.settings.service import set_setting

    with app.app_context():
        set_setting("moderation_agent", "echo", actor=None)
        db.session.commit()
    provider.reply = ["spam"]
    auth.login("ursula")
    auth.post(f"/chat/{chat_id}/messages", {"body": "Buy cheap watches"}, page=f"/chat/{chat_id}")
    with app.app_context():
        record_id = db.session.scalar(select(JobRecord.id).where(
            JobRecord.name == "sanctum.moderation.jobs.classify_message"))
    assert wait_for_job(record_id).status == "succeeded"
    question = chat_messages(app, chat_id)[0]
    item = item_for(app, question.id)
    assert (item.source, item.reason) == ("agent", "spam")


def test_inactive_rules_do_nothing(app, auth, chat_id):
    add_rule(app, name="off", pattern="hello", action="block", is_active=False)
    auth.login("ursula")
    auth.post(f"/chat/{chat_id}/messages", {"body": "hello"}, page=f"/chat/{chat_id}")
    assert [m.body for m in chat_messages(app, chat_id)][0] == "hello"
