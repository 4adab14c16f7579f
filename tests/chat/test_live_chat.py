"""Does a message go in, a reply stream out live, and does every failure end visibly, losing nothing?"""
from __future__ import annotations

import json

from sqlalchemy import select

from sanctum.extensions import db
from sanctum.models import Run, UsageDaily
from tests.chat.conftest import chat_messages, open_socket, receive_until, wait_for_run


def send(auth, chat_id, body, htmx=True):
    headers = {"HX-Request": "true"} if htmx else {}
    return auth.post(f"/chat/{chat_id}/messages", {"body": body}, page=f"/chat/{chat_id}", headers=headers)


def run_of(app, chat_id):
    with app.app_context():
        return db.session.scalar(select(Run.id).where(Run.chat_id == chat_id).order_by(Run.id.desc()))


def test_a_reply_streams_in_order_and_is_stored_with_its_run_and_usage(app, client, auth, live_server, chat_id, provider):
    auth.login("ursula")
    ws = open_socket(live_server, client, chat_id)
    try:
        response = send(auth, chat_id, "Hi there")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert "Hi there" in body and 'data-status="streaming"' in body  # shown at once, reply placeholder too
        seen = receive_until(ws, lambda d: d.get("type") == "message" and d.get("role") == "agent"
                             and d.get("status") == "complete")
    finally:
        ws.close()
    deltas = [d for d in seen if d["type"] == "delta"]
    assert "".join(d["text"] for d in deltas) == "Hello, world!"
    offsets = [d["offset"] for d in deltas]
    assert offsets == sorted(offsets) and offsets[0] == 0
    run = wait_for_run(app, run_of(app, chat_id))
    assert run.status == "succeeded" and (run.tokens_in, run.tokens_out) == (11, 4)
    assert run.ttft_ms is not None and run.duration_ms >= run.ttft_ms
    mine, reply = chat_messages(app, chat_id)
    assert (mine.role, mine.body) == ("user", "Hi there")
    assert (reply.role, reply.body, reply.status) == ("agent", "Hello, world!", "complete")
    sent = provider.requests[-1]["json"]
    assert sent["stream"] is True and sent["messages"][-1] == {"role": "user", "content": "Hi there"}
    with app.app_context():
        usage = db.session.scalar(select(UsageDaily))
        assert (usage.messages, usage.runs, usage.tokens_in, usage.tokens_out) == (1, 1, 11, 4)


def test_the_first_message_names_the_chat(app, auth, chat_id):
    auth.login("ursula")
    send(auth, chat_id, "Plan the garden party for Saturday")
    wait_for_run(app, run_of(app, chat_id))
    page = auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    assert "<h1>Plan the garden party for Saturday</h1>" in page


def test_a_provider_error_ends_the_run_with_words_and_keeps_the_message(app, auth, chat_id, provider):
    provider.mode = "500"
    auth.login("ursula")
    send(auth, chat_id, "Are you there?")
    run = wait_for_run(app, run_of(app, chat_id))
    assert run.status == "failed" and "upstream exploded" in run.error
    mine, reply = chat_messages(app, chat_id)
    assert mine.body == "Are you there?" and reply.status == "failed"
    page = auth.client.get(f"/chat/{chat_id}").get_data(as_text=True)
    assert "upstream exploded" in page and ">Retry</button>" in page


def test_a_hanging_provider_times_out(app, auth, chat_id, provider):
    provider.mode = "hang"
    auth.login("ursula")
    send(auth, chat_id, "Hello?")
    run = wait_for_run(app, run_of(app, chat_id), timeout=20)
    assert run.status == "failed" and run.error


def test_a_malformed_stream_fails_cleanly(app, auth, chat_id, provider):
    provider.mode = "garbage"
    auth.login("ursula")
    send(auth, chat_id, "Hello?")
    assert wait_for_run(app, run_of(app, chat_id)).status == "failed"


def test_a_stream_cut_midway_keeps_the_partial_reply(app, auth, chat_id, provider):
    provider.mode = "cut"
    auth.login("ursula")
    send(auth, chat_id, "Hello?")
    run = wait_for_run(app, run_of(app, chat_id))
    assert run.status == "failed"
    reply = chat_messages(app, chat_id)[-1]
    assert reply.body == "Hello, " and reply.status == "failed"


def test_stop_cancels_the_run_and_keeps_the_partial_reply(app, auth, chat_id, provider):
    provider.reply = [f"word{n} " for n in range(60)]
    provider.pause = 0.05
    auth.login("ursula")
    send(auth, chat_id, "Talk for a while")
    run_id = run_of(app, chat_id)
    wait_for_run(app, run_id, statuses=("running",))
    import time

    time.sleep(0.5)
    assert auth.post(f"/chat/{chat_id}/runs/{run_id}/stop", page=f"/chat/{chat_id}").status_code == 204
    run = wait_for_run(app, run_id)
    assert run.status == "cancelled"
    reply = chat_messages(app, chat_id)[-1]
    assert reply.status == "cancelled" and reply.body.startswith("word0 ") and len(reply.body.split()) < 60


def test_retry_writes_the_reply_again(app, auth, chat_id, provider):
    provider.mode = "500"
    auth.login("ursula")
    send(auth, chat_id, "Try me")
    first = wait_for_run(app, run_of(app, chat_id))
    reply_id = chat_messages(app, chat_id)[-1].id
    provider.mode = "ok"
    response = auth.post(f"/chat/{chat_id}/messages/{reply_id}/retry", page=f"/chat/{chat_id}",
                         headers={"HX-Request": "true"})
    assert response.status_code == 200
    second = wait_for_run(app, run_of(app, chat_id))
    assert second.id != first.id and second.status == "succeeded"
    rows = chat_messages(app, chat_id)
    assert len(rows) == 2 and rows[-1].body == "Hello, world!" and rows[-1].status == "complete"


def test_a_reconnecting_client_gets_what_it_missed_without_duplicates(app, client, auth, live_server, chat_id):
    auth.login("ursula")
    send(auth, chat_id, "First")
    wait_for_run(app, run_of(app, chat_id))
    first_ids = [m.id for m in chat_messages(app, chat_id)]
    send(auth, chat_id, "Second, while the tab was away")
    wait_for_run(app, run_of(app, chat_id))
    ws = open_socket(live_server, client, chat_id)
    try:
        ws.send(json.dumps({"type": "resync", "channel": f"chat:{chat_id}", "after": first_ids[-1]}))
        seen = receive_until(ws, lambda d: d.get("type") == "resynced")
    finally:
        ws.close()
    ids = [d["id"] for d in seen if d.get("type") == "message"]
    assert ids == [m.id for m in chat_messages(app, chat_id)][2:]
    assert "Second, while the tab was away" in seen[0]["html"]


def test_resync_of_another_users_chat_is_refused(app, client, auth, live_server, chat_id):
    auth.login("vera")
    cookie_client = client
    from simple_websocket import Client

    cookie = f"sanctum_session={cookie_client.get_cookie('sanctum_session').value}"
    ws = Client.connect(f"{live_server.ws_url}/ws", headers={"Origin": "http://127.0.0.1", "Cookie": cookie})
    try:
        json.loads(ws.receive(timeout=5))
        ws.send(json.dumps({"type": "resync", "channel": f"chat:{chat_id}", "after": 0}))
        assert json.loads(ws.receive(timeout=5))["code"] == "forbidden"
    finally:
        ws.close()
