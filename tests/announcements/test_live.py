"""Are banners pushed to open pages when announcements are published or end, each page getting
only what its own user is meant to see?"""
from __future__ import annotations

from tests.announcements.conftest import publish
from tests.support.accounts import AuthActions
from tests.support.sockets import connect, cookie_for, receive_json, receive_until


def test_publishing_and_ending_reach_open_pages_live(app, live_server):
    ws = connect(live_server, cookie_for(app, "ursula"), "/ws?channel=announcements")
    try:
        assert receive_json(ws)["channels"] == ["announcements"]
        announcement = publish(app, title="Rolling restart at noon")
        banners = receive_until(ws, 'id="announcements"')
        assert 'hx-swap-oob="true"' in banners and "Rolling restart at noon" in banners
        assert f'id="announcement-{announcement}"' in banners
        admin = app.test_client()
        AuthActions(admin).login("admin")
        AuthActions(admin).post(f"/admin/announcements/{announcement}/end", page="/admin/announcements/")
        banners = receive_until(ws, 'id="announcements"')
        assert "Rolling restart at noon" not in banners
    finally:
        ws.close()


def test_a_page_outside_the_audience_gets_no_banner(app, live_server):
    ws = connect(live_server, cookie_for(app, "vera"), "/ws?channel=announcements")
    try:
        receive_json(ws)
        publish(app, title="Moderators: new queue", audience=["moderator"])
        banners = receive_until(ws, 'id="announcements"')
        assert "Moderators: new queue" not in banners
    finally:
        ws.close()
