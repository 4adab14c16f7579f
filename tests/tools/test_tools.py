"""Tools: cards in tabs by category, managed by admins, imported from manifest.json files."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from sanctum.extensions import db
from sanctum.models import Agent, AuditEvent, Tool
from sanctum.tools.service import create_tool


def make_tool(app, slug, category="master", **data):
    with app.app_context():
        values = {"slug": slug, "name": slug.replace("-", " ").title(), "category": category}
        values.update(data)
        return create_tool(data=values, actor=None).id


def test_tools_are_grouped_in_tabs_by_category(app, auth):
    make_tool(app, "web-chat")
    make_tool(app, "smcp-server", "smcp")
    make_tool(app, "task-board", "monday")
    auth.login("vera")
    body = auth.client.get("/tools/").get_data(as_text=True)
    tabs = [body.index(f'category={name}"') for name in ("master", "monday", "smcp")]
    assert tabs == sorted(tabs)  # master first, smcp last, agents between
    assert "Web Chat" in body and "Task Board" not in body
    partial = auth.client.get("/tools/?category=monday", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert partial.startswith('<div id="tools-panel">') and "Task Board" in partial and "Web Chat" not in partial
    assert auth.client.get("/tools/?category=nope").status_code == 404


def test_an_admin_creates_edits_and_deletes_a_tool(app, auth):
    auth.login("admin")
    response = auth.post("/tools/new", {"slug": "audio-lab", "name": "Audio Lab", "emoji": "🎧", "category": "timbre",
                                        "route_path": "https://audio.example/", "health_check_interval": "60",
                                        "is_enabled": "y"}, page="/tools/new")
    assert response.status_code == 302
    with app.app_context():
        tool = db.session.scalar(select(Tool).where(Tool.slug == "audio-lab"))
        assert tool.status == "Ready" and tool.category == "timbre"
        tool_id = tool.id
    auth.post(f"/tools/{tool_id}/edit", {"slug": "audio-lab", "name": "Audio Lab", "category": "timbre",
                                         "health_check_interval": "60"}, page=f"/tools/{tool_id}/edit")
    with app.app_context():
        tool = db.session.get(Tool, tool_id)
        assert tool.is_enabled is False and tool.status == "Off"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "tool.updated"))
        assert event.details["before"]["is_enabled"] is True and event.details["after"]["is_enabled"] is False
    assert auth.post(f"/tools/{tool_id}/delete", page=f"/tools/{tool_id}/edit").status_code == 302
    with app.app_context():
        assert db.session.get(Tool, tool_id) is None


def test_a_javascript_route_is_refused(app, auth):
    auth.login("admin")
    response = auth.post("/tools/new", {"slug": "x", "name": "X", "category": "master",
                                        "route_path": "javascript:alert(1)"}, page="/tools/new")
    assert response.status_code == 422 and "http(s)://" in response.get_data(as_text=True)


def test_a_viewer_cannot_manage_tools(app, auth):
    tool_id = make_tool(app, "web-chat")
    auth.login("vera")
    assert auth.client.get("/tools/new").status_code == 403
    assert auth.post(f"/tools/{tool_id}/delete", page="/tools/").status_code == 403
    assert "Import manifests" not in auth.client.get("/tools/").get_data(as_text=True)


def write_manifest(folder, name, data):
    (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / name / "manifest.json").write_text(json.dumps(data))


def test_manifests_in_a_folder_become_tool_cards(app, auth, tmp_path):
    app.config["TOOLS_MANIFEST_DIR"] = str(tmp_path)
    write_manifest(tmp_path, "crawler", {"id": "crawler", "name": "Crawler", "emoji": "🕷️", "category": "smcp",
                                         "url": "https://crawler.example", "health_check": {"url": "http://127.0.0.1:9/h",
                                                                                            "interval": 30}})
    write_manifest(tmp_path, "pair", {"tools": [{"id": "one", "name": "One"}, {"id": "two", "name": "Two",
                                                                            "enabled": False}]})
    write_manifest(tmp_path, "broken", {"id": "Bad Id!", "name": "Broken"})
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "manifest.json").write_text("{nope")
    auth.login("admin")
    response = auth.post("/tools/import", page="/tools/", follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "3 new, 0 updated" in body and "broken/manifest.json" in body and "garbage/manifest.json" in body
    with app.app_context():
        crawler = db.session.scalar(select(Tool).where(Tool.slug == "crawler"))
        assert crawler.route_path == "https://crawler.example" and crawler.health_check_interval == 30
        assert db.session.scalar(select(Tool).where(Tool.slug == "two")).status == "Off"
        assert db.session.scalar(select(Tool).where(Tool.slug == "one")).category == "master"
    write_manifest(tmp_path, "crawler", {"id": "crawler", "name": "Crawler 2", "category": "smcp"})
    body = auth.post("/tools/import", page="/tools/", follow_redirects=True).get_data(as_text=True)
    assert "0 new, 1 updated, 2 unchanged" in body
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "tool.imported")).all()[-1]
        assert event.details["updated"] == ["crawler"]


def test_seed_demo_adds_the_demo_agents_and_tools_once(app, runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "0 created" in second.output
    with app.app_context():
        agents = {a.name: (a.display_name, a.description, a.provider) for a in db.session.scalars(select(Agent))}
        assert agents == {
            "athena": ("Athena", "Sanctum Configuration Assistant", "builtin"),
            "monday": ("Monday", "Task Management Specialist", "builtin"),
            "timbre": ("Timbre", "Audio Processing Expert", "builtin"),
        }
        assert db.session.scalar(select(func.count(Tool.id))) >= 5
        categories = set(db.session.scalars(select(Tool.category)))
        assert {"master", "smcp", "athena"} <= categories


def test_the_tools_import_command_reports_bad_manifests(app, runner, tmp_path):
    write_manifest(tmp_path, "ok", {"id": "ok", "name": "OK"})
    write_manifest(tmp_path, "bad", {"name": "no id"})
    result = runner.invoke(args=["tools", "import", str(tmp_path)])
    assert result.exit_code == 1 and "1 created" in result.output and "bad/manifest.json" in result.output
