"""Does every action the code can audit write the row it should — actor, target, outcome and,
when it came through a request, that request's id?

One row per action in CATALOG: how to cause it (through the real route, or the service or
job when no route exists), who the actor is and what the target and outcome are. Later
issues append their actions here; `test_the_catalog_covers_every_action_in_the_code` fails
until they do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional

import pytest
import time_machine
from sqlalchemy import select, update

from sanctum import audit
from sanctum.extensions import db
from sanctum.models import AuditEvent, JobRecord, Mail, Role, User, UserPermission
from sanctum.models.base import utcnow
from tests.support.accounts import PASSWORD, AuthActions, csrf_token, make_user
from tests.support.audit import last_event, tamper

SOURCE = Path(__file__).resolve().parents[2] / "sanctum"
NEW_PASSWORD = "a different horse battery staple"


@dataclass
class Ctx:
    app: object
    client: object
    auth: AuthActions
    request_id: str
    tmp_path: Optional[Path] = None
    wait_for_job: Optional[Callable] = None

    def new_client(self):
        client = self.app.test_client()
        client.environ_base["HTTP_X_REQUEST_ID"] = self.request_id
        return client, AuthActions(client)

    def id_of(self, username: str) -> int:
        with self.app.app_context():
            return db.session.scalar(select(User.id).where(User.username == username))

    def scalar(self, query):
        with self.app.app_context():
            return db.session.scalar(query)

    def mailed_token(self, to: str) -> str:
        body = self.scalar(select(Mail.body).where(Mail.to_address == to).order_by(Mail.id.desc()))
        return re.search(r"token=([\w-]+)", body).group(1)


@dataclass
class Case:
    trigger: Callable[[Ctx], Optional[tuple[str, Optional[str]]]]  # returns the expected (target type, id)
    actor: Optional[str]  # username, or None for the system
    outcome: str = "success"
    via_request: bool = True
    empty: bool = False  # needs a database with no accounts (first-run setup)


# ---------------------------------------------------------------- triggers

def _user(ctx, name="ursula"):
    return "user", str(ctx.id_of(name))


def login_failed(ctx):
    ctx.auth.login("ursula", "not the right password")
    return _user(ctx)


def lockout(ctx):
    for _ in range(5):
        ctx.auth.login("ursula", "not the right password")
    return _user(ctx)


def login_succeeded(ctx):
    ctx.auth.login("ursula")
    return _user(ctx)


def logout(ctx):
    ctx.auth.login("ursula")
    ctx.auth.logout()
    return _user(ctx)


def access_denied(ctx):
    ctx.auth.login("vera")
    assert ctx.client.get("/audit/").status_code == 403
    return None


def setup_completed(ctx):
    ctx.client.post("/setup", data={"username": "root", "email": "root@example.com", "password": PASSWORD,
                                    "confirm": PASSWORD, "csrf_token": csrf_token(ctx.client, "/setup")})
    return _user(ctx, "root")


def registered(ctx):
    from sanctum.settings.service import set_setting

    with ctx.app.app_context():
        set_setting("registration_mode", "open", actor=None)
        db.session.commit()
    ctx.client.post("/register", data={"username": "newbie", "email": "newbie@example.com", "password": PASSWORD,
                                       "confirm": PASSWORD, "csrf_token": csrf_token(ctx.client, "/register")})
    return _user(ctx, "newbie")


def password_change_failed(ctx):
    ctx.auth.login("ursula")
    ctx.auth.post("/account/password", {"current_password": "wrong wrong wrong wrong",
                                        "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    return _user(ctx)


def password_changed(ctx):
    ctx.auth.login("ursula")
    ctx.auth.post("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                        "confirm": NEW_PASSWORD})
    return _user(ctx)


def reset_requested(ctx):
    make_user(ctx.app, "rita", email="rita@example.com")  # the form wants a deliverable-looking address
    ctx.client.post("/forgot", data={"email": "rita@example.com", "csrf_token": csrf_token(ctx.client, "/forgot")})
    return _user(ctx, "rita")


def reset_completed(ctx):
    reset_requested(ctx)
    token = ctx.mailed_token("rita@example.com")
    ctx.client.post("/reset", data={"token": token, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                    "csrf_token": csrf_token(ctx.client, f"/reset?token={token}")})
    return _user(ctx, "rita")


def email_change_failed(ctx):
    ctx.auth.login("ursula")
    ctx.auth.post("/account/email", {"email": "ula@example.com", "password": "wrong wrong wrong wrong"})
    return _user(ctx)


def email_change_requested(ctx):
    ctx.auth.login("ursula")
    ctx.auth.post("/account/email", {"email": "ula@example.com", "password": PASSWORD})
    return _user(ctx)


def email_changed(ctx):
    email_change_requested(ctx)
    token = ctx.mailed_token("ula@example.com")
    ctx.client.post("/verify", data={"token": token, "csrf_token": csrf_token(ctx.client, f"/verify?token={token}")})
    return _user(ctx)


def profile_updated(ctx):
    ctx.auth.login("ursula")
    ctx.auth.post("/account/profile", {"display_name": "Ursula K."})
    return _user(ctx)


def session_revoked(ctx):
    _other, other_auth = ctx.new_client()
    other_auth.login("ursula")
    ctx.auth.login("ursula")
    with ctx.app.app_context():
        from sanctum.auth.sessions import active_sessions

        oldest = active_sessions(ctx.id_of("ursula"))[-1].id
    ctx.auth.post(f"/account/sessions/{oldest}/revoke")
    return _user(ctx)


def sessions_revoked_all(ctx):
    _other, other_auth = ctx.new_client()
    other_auth.login("ursula")
    ctx.auth.login("ursula")
    ctx.auth.post("/account/sessions/revoke-others")
    return _user(ctx)


def token_created(ctx):
    ctx.auth.login("ursula")
    ctx.auth.post("/account/tokens/", {"name": "backup", "expires": "30", "scopes": ["account.manage"]},
                  page="/account/tokens/")
    return _user(ctx)


def token_revoked(ctx):
    token_created(ctx)
    token_id = ctx.scalar(select(AuditEvent.details).where(AuditEvent.action == "token.created"))["token_id"]
    ctx.auth.post(f"/account/tokens/{token_id}/revoke", page="/account/tokens/")
    return _user(ctx)


def _api_pair(ctx):
    return ctx.client.post("/api/v1/auth/token", json={"username": "ursula", "password": PASSWORD}).get_json()


def token_refreshed(ctx):
    pair = _api_pair(ctx)
    assert ctx.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 200
    return _user(ctx)


def refresh_reuse(ctx):
    pair = _api_pair(ctx)
    for _ in range(2):
        ctx.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    return _user(ctx)


def _admin(ctx):
    ctx.auth.login("admin")


def role_created(ctx):
    _admin(ctx)
    ctx.auth.post("/admin/roles/new", {"name": "auditor", "description": "Reads the log",
                                      "permissions": ["audit.view"]}, page="/admin/roles/new")
    return "role", str(ctx.scalar(select(Role.id).where(Role.name == "auditor")))


def role_updated(ctx):
    role_created(ctx)
    role_id = ctx.scalar(select(Role.id).where(Role.name == "auditor"))
    ctx.auth.post(f"/admin/roles/{role_id}", {"description": "Reads and exports",
                                             "permissions": ["audit.view", "audit.export"]}, page="/admin/roles/new")
    return "role", str(role_id)


def role_deleted(ctx):
    role_created(ctx)
    role_id = ctx.scalar(select(Role.id).where(Role.name == "auditor"))
    ctx.auth.post(f"/admin/roles/{role_id}/delete", page="/admin/roles")
    return "role", str(role_id)


def role_assigned(ctx):
    _admin(ctx)
    moderator = ctx.scalar(select(Role.id).where(Role.name == "moderator"))
    ctx.auth.post(f"/admin/users/{ctx.id_of('vera')}/role", {"role": moderator}, page="/admin/roles")
    return _user(ctx, "vera")


def grant_created(ctx):
    _admin(ctx)
    ctx.auth.post(f"/admin/users/{ctx.id_of('ursula')}/grants", {"permission": "audit.view", "reason": "audit"},
                  page="/admin/roles")
    return _user(ctx)


def grant_revoked(ctx):
    grant_created(ctx)
    grant = ctx.scalar(select(UserPermission.id).where(UserPermission.user_id == ctx.id_of("ursula")))
    ctx.auth.post(f"/admin/users/{ctx.id_of('ursula')}/grants/{grant}/revoke", page="/admin/roles")
    return _user(ctx)


def grant_expired(ctx):
    from sanctum.rbac.jobs import expire_grants

    with ctx.app.app_context():
        from sanctum.models import Permission

        perm = db.session.scalar(select(Permission).where(Permission.name == "audit.view"))
        db.session.add(UserPermission(user_id=ctx.id_of("ursula"), permission=perm, is_active=True,
                                      expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        expire_grants()
    return _user(ctx)


def _pending(ctx):
    make_user(ctx.app, "pat", status="pending")
    _admin(ctx)
    return ctx.id_of("pat")


def user_approved(ctx):
    user_id = _pending(ctx)
    ctx.auth.post(f"/admin/accounts/{user_id}/approve", page="/admin/accounts")
    return "user", str(user_id)


def user_rejected(ctx):
    user_id = _pending(ctx)
    ctx.auth.post(f"/admin/accounts/{user_id}/reject", page="/admin/accounts")
    return "user", str(user_id)


def user_unlocked(ctx):
    _other, other_auth = ctx.new_client()
    for _ in range(5):
        other_auth.login("ursula", "not the right password")
    _admin(ctx)
    ctx.auth.post(f"/admin/accounts/{ctx.id_of('ursula')}/unlock", page="/admin/accounts")
    return _user(ctx)


def user_created(ctx):
    make_user(ctx.app, "carol")
    return _user(ctx, "carol")


def user_created_by_cli(ctx):
    result = ctx.app.test_cli_runner().invoke(args=["create-admin", "root", "root@example.test"],
                                              env={"SANCTUM_ADMIN_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    return _user(ctx, "root")


def settings_changed(ctx):
    _admin(ctx)
    ctx.auth.post("/audit/retention", {"days": "90"}, page="/audit/")
    return "setting", "audit_retention_days"


def audit_exported(ctx):
    _admin(ctx)
    ctx.auth.post("/audit/exports", {"format": "csv", "action": "auth."}, page="/audit/")
    return "job", str(ctx.scalar(select(JobRecord.id).order_by(JobRecord.id.desc())))


def job_retried(ctx):
    with ctx.app.app_context():
        record = JobRecord(name="tests.jobs.sample_jobs.note", args=["again"], status="failed", attempts=3,
                           error="ValueError: once")
        db.session.add(record)
        db.session.commit()
        job_id = record.id
    _admin(ctx)
    ctx.auth.post(f"/jobs/{job_id}/retry", page="/jobs/")
    return "job", str(job_id)


def audit_purged(ctx):
    with time_machine.travel(datetime.now(timezone.utc) - timedelta(days=40), tick=True):
        with ctx.app.app_context():
            audit.record("test.old")
            db.session.commit()
    with ctx.app.app_context():
        audit.record("test.recent")
        db.session.commit()
        from sanctum.audit.jobs import purge_expired

        from sanctum.audit.retention import set_retention_days

        set_retention_days(30, actor=None)
        purge_expired()
    return "audit_log", None


def verify_failed(ctx):
    with ctx.app.app_context():
        audit.record("test.victim")
        db.session.commit()
    tamper(ctx.app, update(AuditEvent).where(AuditEvent.action == "test.victim").values(outcome="failure"))
    with ctx.app.app_context():
        from sanctum.audit.jobs import verify_chain

        verify_chain()
    return "audit_log", None


# ---------------------------------------------------------------- users administration

def _status(ctx, username, action):
    _admin(ctx)
    user_id = ctx.id_of(username)
    response = ctx.auth.post(f"/admin/users/{user_id}/status/{action}", page=f"/admin/users/{user_id}")
    assert response.status_code == 302
    return "user", str(user_id)


def user_activated(ctx):
    make_user(ctx.app, "ina", status="inactive")
    return _status(ctx, "ina", "activate")


def user_deactivated(ctx):
    return _status(ctx, "ursula", "deactivate")


def user_locked(ctx):
    return _status(ctx, "ursula", "lock")


def user_updated(ctx):
    _admin(ctx)
    user_id = ctx.id_of("ursula")
    ctx.auth.post(f"/admin/users/{user_id}/profile", {"display_name": "Ursula K."}, page=f"/admin/users/{user_id}")
    return "user", str(user_id)


def sessions_revoked_everyone(ctx):
    from sanctum.auth.service import revoke_everyones_sessions

    with ctx.app.app_context():
        revoke_everyones_sessions(actor=db.session.get(User, ctx.id_of("admin")))
    return None


# ---------------------------------------------------------------- agents and the bridge

def _agent(ctx, **data):
    from tests.agents.test_agents import make_agent

    return make_agent(ctx.app, "gpt", **({"provider": "openai", "model": "m"} | data))


def agent_created(ctx):
    from sanctum.models import Agent

    _admin(ctx)
    ctx.auth.post("/agents/new", {"name": "librarian", "provider": "builtin", "roles": ["user"],
                                  "connect_timeout": "5", "read_timeout": "60", "total_timeout": "300",
                                  "health_check_interval": "300", "is_active": "y"}, page="/agents/new")
    return "agent", str(ctx.scalar(select(Agent.id).where(Agent.name == "librarian")))


def agent_updated(ctx):
    agent_id = _agent(ctx)
    _admin(ctx)
    ctx.auth.post(f"/agents/{agent_id}/active", page=f"/agents/{agent_id}")
    return "agent", str(agent_id)


def agent_deleted(ctx):
    agent_id = _agent(ctx)
    _admin(ctx)
    ctx.auth.post(f"/agents/{agent_id}/delete", page=f"/agents/{agent_id}")
    return "agent", str(agent_id)


def agent_api_key_set(ctx):
    agent_id = _agent(ctx)
    _admin(ctx)
    ctx.auth.post(f"/agents/{agent_id}/key", {"api_key": "sk-first-key-0123456789"}, page=f"/agents/{agent_id}")
    return "agent", str(agent_id)


def agent_api_key_replaced(ctx):
    agent_id = int(agent_api_key_set(ctx)[1])
    ctx.auth.post(f"/agents/{agent_id}/key", {"api_key": "sk-second-key-0123456789"}, page=f"/agents/{agent_id}")
    return "agent", str(agent_id)


def agent_api_key_cleared(ctx):
    agent_id = int(agent_api_key_set(ctx)[1])
    ctx.auth.post(f"/agents/{agent_id}/key/clear", page=f"/agents/{agent_id}")
    return "agent", str(agent_id)


def agent_connection_tested(ctx):
    from tests.support.fake_servers import openai_server

    server = openai_server(model="m")
    try:
        agent_id = _agent(ctx, base_url=server.url + "/v1")
        _admin(ctx)
        ctx.auth.post(f"/agents/{agent_id}/test", page=f"/agents/{agent_id}")
    finally:
        server.stop()
    return "agent", str(agent_id)


def bridge_key_created(ctx):
    agent_id = _agent(ctx, provider="bridge", model=None)
    _admin(ctx)
    ctx.auth.post(f"/agents/{agent_id}/bridge-key", page=f"/agents/{agent_id}")
    return "agent", str(agent_id)


def bridge_key_replaced(ctx):
    agent_id = int(bridge_key_created(ctx)[1])
    ctx.auth.post(f"/agents/{agent_id}/bridge-key", page=f"/agents/{agent_id}")
    return "agent", str(agent_id)


def bridge_key_revoked(ctx):
    agent_id = int(bridge_key_created(ctx)[1])
    ctx.auth.post(f"/agents/{agent_id}/bridge-key/revoke", page=f"/agents/{agent_id}")
    return "agent", str(agent_id)


def bridge_auth_failed(ctx):
    assert ctx.client.get("/api/v1/?action=inbox", headers={"Authorization": "Bearer sct_brg_wrong"}).status_code == 401
    return None


# ---------------------------------------------------------------- tools

TOOL = {"slug": "audio-lab", "name": "Audio Lab", "category": "timbre", "health_check_interval": "60",
        "is_enabled": "y"}


def _tool_id(ctx):
    from sanctum.models import Tool

    return ctx.scalar(select(Tool.id).where(Tool.slug == "audio-lab"))


def tool_created(ctx):
    _admin(ctx)
    ctx.auth.post("/tools/new", TOOL, page="/tools/new")
    return "tool", str(_tool_id(ctx))


def tool_updated(ctx):
    tool_created(ctx)
    tool_id = _tool_id(ctx)
    ctx.auth.post(f"/tools/{tool_id}/edit", TOOL | {"name": "Audio Laboratory"}, page=f"/tools/{tool_id}/edit")
    return "tool", str(tool_id)


def tool_deleted(ctx):
    tool_created(ctx)
    tool_id = _tool_id(ctx)
    ctx.auth.post(f"/tools/{tool_id}/delete", page=f"/tools/{tool_id}/edit")
    return "tool", str(tool_id)


def tool_imported(ctx):
    import json

    (ctx.tmp_path / "lab").mkdir()
    (ctx.tmp_path / "lab" / "manifest.json").write_text(json.dumps({"id": "lab", "name": "Lab"}))
    ctx.app.config["TOOLS_MANIFEST_DIR"] = str(ctx.tmp_path)
    _admin(ctx)
    ctx.auth.post("/tools/import", page="/tools/")
    return "tool_manifests", str(ctx.tmp_path)[:100]


# ---------------------------------------------------------------- chat and quotas

def chat_deleted(ctx):
    from sanctum.models import ChatSession
    from tests.agents.test_agents import make_agent

    agent_id = make_agent(ctx.app, "athena")
    ctx.auth.login("ursula")
    ctx.auth.post("/chat/", {"agent_id": agent_id}, page="/chat/")
    chat_id = ctx.scalar(select(ChatSession.id).where(ChatSession.user_id == ctx.id_of("ursula")))
    ctx.auth.post(f"/chat/{chat_id}/delete", page=f"/chat/{chat_id}")
    return "chatsession", str(chat_id)


def quota_changed(ctx):
    _admin(ctx)
    role_id = ctx.scalar(select(Role.id).where(Role.name == "user"))
    ctx.auth.post(f"/admin/quotas/roles/{role_id}", {"messages_per_day": "50", "tokens_per_day": ""},
                  page="/admin/quotas")
    return "role", str(role_id)


def quota_override_removed(ctx):
    _admin(ctx)
    ctx.auth.post("/admin/quotas/users", {"username": "ursula", "messages_per_day": "5", "tokens_per_day": "1000"},
                  page="/admin/quotas")
    ctx.auth.post(f"/admin/quotas/users/{ctx.id_of('ursula')}/remove", page="/admin/quotas")
    return _user(ctx)


# ---------------------------------------------------------------- invitations

def _invitation_id(ctx, email="newbie@example.org"):
    from sanctum.models import Invitation

    return ctx.scalar(select(Invitation.id).where(Invitation.email == email).order_by(Invitation.id.desc()))


def invitation_created(ctx):
    _admin(ctx)
    ctx.auth.post("/admin/invitations", {"email": "newbie@example.org", "role": "viewer", "expires": "7"},
                  page="/admin/invitations")
    return "invitation", str(_invitation_id(ctx))


def invitation_resent(ctx):
    invitation_created(ctx)
    ctx.auth.post(f"/admin/invitations/{_invitation_id(ctx)}/resend", page="/admin/invitations")
    return "invitation", str(_invitation_id(ctx))


def invitation_revoked(ctx):
    invitation_created(ctx)
    ctx.auth.post(f"/admin/invitations/{_invitation_id(ctx)}/revoke", page="/admin/invitations")
    return "invitation", str(_invitation_id(ctx))


def _accept(ctx):
    invitation_created(ctx)
    ctx.auth.logout()
    token = ctx.mailed_token("newbie@example.org")
    ctx.client.post("/invitations/accept", data={
        "token": token, "username": "newbie", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(ctx.client, f"/invitations/accept?token={token}")})


def invitation_accepted(ctx):
    _accept(ctx)
    return "invitation", str(_invitation_id(ctx))


def user_created_from_invitation(ctx):
    _accept(ctx)
    return _user(ctx, "newbie")


def invitation_expired(ctx):
    from sanctum.invitations.service import expire_invitations
    from sanctum.models import Invitation

    with ctx.app.app_context():
        role = db.session.scalar(select(Role).where(Role.name == "user"))
        row = Invitation(email="late@example.org", role=role, token_hash="1" * 64, invited_by_id=ctx.id_of("admin"),
                         expires_at=utcnow() - timedelta(minutes=5))
        db.session.add(row)
        db.session.commit()
        invitation_id = row.id
        assert expire_invitations() == 1
    return "invitation", str(invitation_id)


def _import(ctx):
    import io

    from sanctum.models import InvitationBatch

    _admin(ctx)
    response = ctx.auth.post("/admin/invitations/import", {
        "file": (io.BytesIO(b"email\nfine@example.org\n"), "people.csv"), "role": "user", "expires": "7"},
        page="/admin/invitations")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    batch_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return batch_id, ctx.scalar(select(InvitationBatch.job_id).where(InvitationBatch.id == batch_id))


def import_started(ctx):
    batch_id, _job = _import(ctx)
    return "invitationbatch", str(batch_id)


def import_finished(ctx):
    batch_id, job_id = _import(ctx)
    assert ctx.wait_for_job(job_id).status == "succeeded"
    return "invitationbatch", str(batch_id)


# ---------------------------------------------------------------- discovery (Broca)

def _source(ctx):
    from sanctum.models import BrocaSource
    from tests.support.broca import make_broca, sample_people

    path = make_broca(ctx.tmp_path / "broca.db", sample_people())
    _admin(ctx)
    ctx.auth.post("/admin/discovery/sources", {"name": "Telegram bot", "path": str(path)}, page="/admin/discovery/")
    return ctx.scalar(select(BrocaSource.id))


def _person(ctx, source_id, label):
    from sanctum.discovery import broca
    from sanctum.models import BrocaSource

    path = ctx.scalar(select(BrocaSource.path).where(BrocaSource.id == source_id))
    return {p.label: p.id for p in broca.people(path)[0]}[label]


def _link_id(ctx):
    from sanctum.models import BrocaLink

    return ctx.scalar(select(BrocaLink.id))


def source_registered(ctx):
    return "brocasource", str(_source(ctx))


def source_removed(ctx):
    source_id = _source(ctx)
    ctx.auth.post(f"/admin/discovery/sources/{source_id}/remove", page="/admin/discovery/")
    return "brocasource", str(source_id)


def discovery_invited(ctx):
    source_id = _source(ctx)
    grace = _person(ctx, source_id, "Grace Hopper")
    ctx.auth.post(f"/admin/discovery/sources/{source_id}/people/{grace}/invite",
                  {"email": "grace@example.org", "role": "user", "expires": "7"}, page="/admin/discovery/")
    return "brocalink", str(_link_id(ctx))


def discovery_linked(ctx):
    source_id = _source(ctx)
    ada = _person(ctx, source_id, "Ada Lovelace")
    ctx.auth.post(f"/admin/discovery/sources/{source_id}/people/{ada}/link", {"user": "ursula"},
                  page="/admin/discovery/")
    return "brocalink", str(_link_id(ctx))


def discovery_unlinked(ctx):
    target = discovery_linked(ctx)
    ctx.auth.post(f"/admin/discovery/links/{target[1]}/remove", page="/admin/discovery/")
    return target


# ---------------------------------------------------------------- privacy

def _export(ctx):
    ctx.auth.login("ursula")
    response = ctx.auth.post("/account/data/exports", page="/account/data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _ready_export(ctx):
    from sanctum.models import DataExport

    export_id = _export(ctx)
    job_id = ctx.scalar(select(DataExport.job_id).where(DataExport.id == export_id))
    assert ctx.wait_for_job(job_id).status == "succeeded"
    return export_id


def export_requested(ctx):
    _export(ctx)
    return _user(ctx)


def export_ready(ctx):
    _ready_export(ctx)
    return _user(ctx)


def export_downloaded(ctx):
    export_id = _ready_export(ctx)
    assert ctx.client.get(f"/account/data/exports/{export_id}/download").status_code == 200
    return _user(ctx)


def export_expired(ctx):
    from sanctum.models import DataExport
    from sanctum.privacy.service import purge_expired_exports

    export_id = _ready_export(ctx)
    with ctx.app.app_context():
        db.session.get(DataExport, export_id).expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        assert purge_expired_exports() == 1
    return _user(ctx)


def user_erased(ctx):
    target = _user(ctx)  # before: erasure replaces the username
    _admin(ctx)
    ctx.auth.post(f"/admin/privacy/users/{target[1]}/erase", {"confirm": "ursula"},
                  page=f"/admin/privacy/users/{target[1]}")
    return target

# ---------------------------------------------------------------- announcements (issue 8)

def _announcement_id(ctx):
    from sanctum.models import Announcement

    return ctx.scalar(select(Announcement.id).order_by(Announcement.id.desc()))


def announcement_created(ctx):
    ctx.auth.login("mod")  # announcements.manage is a moderator's too
    ctx.auth.post("/admin/announcements/new", {"title": "Maintenance", "level": "info"},
                  page="/admin/announcements/new")
    return "announcement", str(_announcement_id(ctx))


def announcement_updated(ctx):
    announcement_created(ctx)
    page = f"/admin/announcements/{_announcement_id(ctx)}/edit"
    ctx.auth.post(page, {"title": "Maintenance moved", "level": "warning"}, page=page)
    return "announcement", str(_announcement_id(ctx))


def announcement_ended(ctx):
    announcement_created(ctx)
    ctx.auth.post(f"/admin/announcements/{_announcement_id(ctx)}/end", page="/admin/announcements/")
    return "announcement", str(_announcement_id(ctx))


def announcement_deleted(ctx):
    announcement_created(ctx)
    announcement_id = _announcement_id(ctx)
    ctx.auth.post(f"/admin/announcements/{announcement_id}/delete", page="/admin/announcements/")
    return "announcement", str(announcement_id)


# ---------------------------------------------------------------- moderation (issue 8)

def _flagged_item(ctx):
    from sanctum.models import ChatMessage, ChatSession, ModerationItem
    from tests.agents.test_agents import make_agent

    agent_id = make_agent(ctx.app, "athena")
    with ctx.app.app_context():
        chat = ChatSession(user_id=ctx.id_of("ursula"), agent_id=agent_id, title="t")
        db.session.add(chat)
        db.session.flush()
        message = ChatMessage(chat_id=chat.id, role="agent", body="nasty")
        db.session.add(message)
        db.session.commit()
        message_id = message.id
    client, auth = ctx.new_client()
    auth.login("ursula")
    auth.post(f"/moderation/flag/{message_id}", {"reason": "abuse"}, page=f"/moderation/flag/{message_id}")
    return ctx.scalar(select(ModerationItem.id).where(ModerationItem.message_id == message_id))


def flagged(ctx):
    ctx.auth.login("ursula")
    item_id = _flagged_item(ctx)
    return "moderationitem", str(item_id)


def _decide(ctx, decision, **extra):
    item_id = _flagged_item(ctx)
    ctx.auth.login("mod")
    ctx.auth.post(f"/moderation/items/{item_id}/decide", {"decision": decision, "reason": "Because.", **extra},
                  page=f"/moderation/items/{item_id}")
    return item_id


def decided(decision, **extra):
    def trigger(ctx):
        return "moderationitem", str(_decide(ctx, decision, **extra))
    return trigger


def unhidden(ctx):
    item_id = _decide(ctx, "hidden")
    ctx.auth.post(f"/moderation/items/{item_id}/unhide", {"reason": "Fine after all."},
                  page=f"/moderation/items/{item_id}")
    return "moderationitem", str(item_id)


RULE = {"name": "spam", "kind": "term", "pattern": "buy now", "category": "spam", "action": "flag",
        "applies_to": "user", "is_active": "y"}


def _rule_id(ctx):
    from sanctum.models import ScreeningRule

    _admin(ctx)
    ctx.auth.post("/moderation/rules", RULE, page="/moderation/rules")
    return ctx.scalar(select(ScreeningRule.id))


def rule_created(ctx):
    return "screeningrule", str(_rule_id(ctx))


def rule_changed(ctx):
    rule_id = _rule_id(ctx)
    ctx.auth.post(f"/moderation/rules/{rule_id}", dict(RULE, action="hold"), page=f"/moderation/rules/{rule_id}")
    return "screeningrule", str(rule_id)


def rule_deleted(ctx):
    rule_id = _rule_id(ctx)
    ctx.auth.post(f"/moderation/rules/{rule_id}/delete", page="/moderation/rules")
    return "screeningrule", str(rule_id)


def _sanction(ctx, type_="post_restriction"):
    from sanctum.models import Sanction

    ctx.auth.login("mod")
    ctx.auth.post("/moderation/sanctions/new", {"username": "ursula", "type": type_, "duration": "24h",
                                                 "reason": "Because."}, page="/moderation/sanctions/new")
    return ctx.scalar(select(Sanction.id).order_by(Sanction.id.desc()))


def sanction_applied(ctx):
    _sanction(ctx)
    return _user(ctx)


def sanction_updated(ctx):
    sanction_id = _sanction(ctx)
    ctx.auth.post(f"/moderation/sanctions/{sanction_id}", {"duration": "72h", "reason": "Longer."},
                  page=f"/moderation/sanctions/{sanction_id}")
    return _user(ctx)


def sanction_lifted(ctx):
    sanction_id = _sanction(ctx)
    ctx.auth.post(f"/moderation/sanctions/{sanction_id}/lift", {"reason": "Appeal."},
                  page=f"/moderation/sanctions/{sanction_id}")
    return _user(ctx)


def sanction_expired(ctx):
    from sanctum.moderation.jobs import expire_sanctions

    _sanction(ctx)
    with time_machine.travel(utcnow() + timedelta(days=2), tick=False), ctx.app.app_context():
        expire_sanctions()
    return _user(ctx)


CATALOG: dict[str, Case] = {
    "access.denied": Case(access_denied, "vera", "denied"),
    "agent.api_key_cleared": Case(agent_api_key_cleared, "admin"),
    "announcement.created": Case(announcement_created, "mod"),
    "announcement.deleted": Case(announcement_deleted, "mod"),
    "announcement.ended": Case(announcement_ended, "mod"),
    "announcement.updated": Case(announcement_updated, "mod"),
    "agent.api_key_replaced": Case(agent_api_key_replaced, "admin"),
    "agent.api_key_set": Case(agent_api_key_set, "admin"),
    "agent.bridge_key_created": Case(bridge_key_created, "admin"),
    "agent.bridge_key_replaced": Case(bridge_key_replaced, "admin"),
    "agent.bridge_key_revoked": Case(bridge_key_revoked, "admin"),
    "agent.connection_tested": Case(agent_connection_tested, "admin"),
    "agent.created": Case(agent_created, "admin"),
    "agent.deleted": Case(agent_deleted, "admin"),
    "agent.updated": Case(agent_updated, "admin"),
    "audit.exported": Case(audit_exported, "admin"),
    "audit.purged": Case(audit_purged, None, via_request=False, empty=True),
    "audit.verify_failed": Case(verify_failed, None, "failure", via_request=False),
    "auth.email_change_failed": Case(email_change_failed, "ursula", "failure"),
    "auth.email_change_requested": Case(email_change_requested, "ursula"),
    "auth.email_changed": Case(email_changed, "ursula"),
    "auth.email_verified": Case(email_changed, "ursula"),
    "auth.lockout": Case(lockout, "ursula", "denied"),
    "auth.login_failed": Case(login_failed, "ursula", "failure"),
    "auth.login_succeeded": Case(login_succeeded, "ursula"),
    "auth.logout": Case(logout, "ursula"),
    "auth.password_change_failed": Case(password_change_failed, "ursula", "failure"),
    "auth.password_changed": Case(password_changed, "ursula"),
    "auth.password_reset_completed": Case(reset_completed, "rita"),
    "auth.password_reset_requested": Case(reset_requested, "rita"),
    "auth.registered": Case(registered, "newbie"),
    "auth.setup_completed": Case(setup_completed, "root", empty=True),
    "bridge.auth_failed": Case(bridge_auth_failed, None, "denied"),
    "chat.deleted": Case(chat_deleted, "ursula"),
    "discovery.invited": Case(discovery_invited, "admin"),
    "discovery.linked": Case(discovery_linked, "admin"),
    "discovery.source_registered": Case(source_registered, "admin"),
    "discovery.source_removed": Case(source_removed, "admin"),
    "discovery.unlinked": Case(discovery_unlinked, "admin"),
    "grant.created": Case(grant_created, "admin"),
    "grant.expired": Case(grant_expired, None, via_request=False),
    "grant.revoked": Case(grant_revoked, "admin"),
    "invitation.accepted": Case(invitation_accepted, "newbie"),
    "invitation.created": Case(invitation_created, "admin"),
    "invitation.expired": Case(invitation_expired, None, via_request=False),
    "invitation.import_finished": Case(import_finished, "admin", via_request=False),
    "invitation.import_started": Case(import_started, "admin"),
    "invitation.resent": Case(invitation_resent, "admin"),
    "invitation.revoked": Case(invitation_revoked, "admin"),
    "job.retried": Case(job_retried, "admin"),
    "moderation.dismissed": Case(decided("dismissed"), "mod"),
    "moderation.flagged": Case(flagged, "ursula"),
    "moderation.hidden": Case(decided("hidden"), "mod"),
    "moderation.rule_changed": Case(rule_changed, "admin"),
    "moderation.rule_created": Case(rule_created, "admin"),
    "moderation.rule_deleted": Case(rule_deleted, "admin"),
    "moderation.sanctioned": Case(decided("sanctioned", sanction_type="post_restriction", duration="24h"), "mod"),
    "moderation.unhidden": Case(unhidden, "mod"),
    "moderation.warned": Case(decided("warned"), "mod"),
    "privacy.export_downloaded": Case(export_downloaded, "ursula"),
    "privacy.export_expired": Case(export_expired, None, via_request=False),
    "privacy.export_ready": Case(export_ready, "ursula", via_request=False),
    "privacy.export_requested": Case(export_requested, "ursula"),
    "quota.changed": Case(quota_changed, "admin"),
    "quota.override_removed": Case(quota_override_removed, "admin"),
    "role.assigned": Case(role_assigned, "admin"),
    "role.created": Case(role_created, "admin"),
    "role.deleted": Case(role_deleted, "admin"),
    "role.updated": Case(role_updated, "admin"),
    "sanction.applied": Case(sanction_applied, "mod"),
    "sanction.expired": Case(sanction_expired, None, via_request=False),
    "sanction.lifted": Case(sanction_lifted, "mod"),
    "sanction.updated": Case(sanction_updated, "mod"),
    "session.revoked": Case(session_revoked, "ursula"),
    "session.revoked_all": Case(sessions_revoked_all, "ursula"),
    "session.revoked_everyone": Case(sessions_revoked_everyone, "admin", via_request=False),
    "settings.changed": Case(settings_changed, "admin"),
    "token.created": Case(token_created, "ursula"),
    "token.refresh_reuse_detected": Case(refresh_reuse, "ursula", "denied"),
    "token.refreshed": Case(token_refreshed, "ursula"),
    "token.revoked": Case(token_revoked, "ursula"),
    "tool.created": Case(tool_created, "admin"),
    "tool.deleted": Case(tool_deleted, "admin"),
    "tool.imported": Case(tool_imported, "admin"),
    "tool.updated": Case(tool_updated, "admin"),
    "user.activated": Case(user_activated, "admin"),
    "user.approved": Case(user_approved, "admin"),
    "user.created": Case(user_created, "carol", via_request=False),
    "user.created_by_cli": Case(user_created_by_cli, "root", via_request=False),
    "user.created_from_invitation": Case(user_created_from_invitation, "newbie"),
    "user.deactivated": Case(user_deactivated, "admin"),
    "user.erased": Case(user_erased, "admin"),
    "user.locked": Case(user_locked, "admin"),
    "user.profile_updated": Case(profile_updated, "ursula"),
    "user.rejected": Case(user_rejected, "admin"),
    "user.unlocked": Case(user_unlocked, "admin"),
    "user.updated": Case(user_updated, "admin"),
}

_LITERALS = [
    re.compile(r"audit\.record\(\s*\"([a-z_]+\.[a-z_.]+)\""),  # audit.record("x.y", …)
    re.compile(r"\baction(?::\s*str)?\s*=\s*\"([a-z_]+\.[a-z_.]+)\""),  # create_user(action="x.y") and its default
    re.compile(r"_ACTION\s*=\s*\"([a-z_]+\.[a-z_.]+)\""),  # PURGE_ACTION = "audit.purged"
]


def actions_in_code() -> set[str]:
    found = set()
    for path in SOURCE.rglob("*.py"):
        text = path.read_text()
        for pattern in _LITERALS:
            found.update(pattern.findall(text))
    return found


def test_the_catalog_covers_every_action_in_the_code():
    assert actions_in_code() - set(CATALOG) == set()


@pytest.mark.parametrize("action", [
    pytest.param(name, marks=[pytest.mark.empty_database] if case.empty else [], id=name)
    for name, case in CATALOG.items()
])
def test_the_action_writes_its_audit_row(app, action, tmp_path, wait_for_job):
    case = CATALOG[action]
    request_id = f"catalog-{action}"
    client = app.test_client()
    client.environ_base["HTTP_X_REQUEST_ID"] = request_id
    ctx = Ctx(app, client, AuthActions(client), request_id, tmp_path, wait_for_job)
    target = case.trigger(ctx)

    event = last_event(app, action)
    assert event is not None, f"no {action} event was written"
    if case.actor is None:
        assert event.actor_id is None
    else:
        assert (event.actor_label, event.actor_id) == (case.actor, ctx.id_of(case.actor))
    if target is None:
        assert event.target_type is None
    else:
        assert event.target_type == target[0]
        if target[1] is not None:
            assert event.target_id == target[1]
    assert event.outcome == case.outcome
    if case.via_request:
        assert event.request_id == request_id and event.ip == "127.0.0.1"
    else:
        assert event.request_id is None
    with app.app_context():
        assert audit.verify_chain().ok or action == "audit.verify_failed"
