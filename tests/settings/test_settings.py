"""Settings: saved from the page, secrets encrypted and masked, audited without the value, and used."""
from __future__ import annotations

from sqlalchemy import select, text

from sanctum.extensions import db
from sanctum.models import AuditEvent, Mail
from sanctum.settings.service import get_setting

PASSWORD = "smtp-pass-ZYXWVUTSRQPONMLK"


def test_the_settings_page_is_for_settings_managers(app, auth):
    auth.login("mod")
    assert auth.client.get("/admin/settings/").status_code == 403
    auth.logout()
    auth.login("admin")
    body = auth.client.get("/admin/settings/").get_data(as_text=True)
    for label in ("Who may create an account", "Base URL", "SMTP server", "Letta server URL",
                  "OpenAI-compatible API key", "Keep audit events (days)"):
        assert label in body


def test_saving_a_section_changes_the_effective_value_and_audits_it(app, auth):
    auth.login("admin")
    response = auth.post("/admin/settings/general", {"registration_mode": "open", "base_url": "https://panel.example/"},
                         page="/admin/settings/")
    assert response.status_code == 302
    with app.app_context():
        assert get_setting("registration_mode") == "open"
        assert get_setting("base_url") == "https://panel.example"
        events = {e.target_id: e.details for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "settings.changed"))}
        assert events["base_url"] == {"before": "http://127.0.0.1:5000", "after": "https://panel.example"}


def test_mail_links_use_the_base_url_setting(app):
    from sanctum.auth.service import request_password_reset
    from sanctum.settings.service import set_setting

    with app.test_request_context("/forgot", base_url="http://evil.example"):
        set_setting("base_url", "https://panel.example", actor=None)
        db.session.commit()
        request_password_reset("ursula@example.test")
        mail = db.session.scalar(select(Mail).order_by(Mail.id.desc()))
        assert "https://panel.example/reset?token=" in mail.body and "evil.example" not in mail.body


def test_a_secret_is_encrypted_at_rest_masked_and_audited_without_its_value(app, auth):
    auth.login("admin")
    response = auth.post("/admin/settings/mail", {
        "smtp_host": "127.0.0.1", "smtp_port": "2525", "smtp_security": "none", "smtp_username": "bot",
        "smtp_password": PASSWORD, "mail_from": "Sanctum <s@example.test>"}, page="/admin/settings/",
        headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert PASSWORD not in body and "••••••••" in body and "MLK" not in body.replace("NMLK", "")
    with app.app_context():
        raw = db.session.execute(text("SELECT value FROM settings WHERE key = 'smtp_password'")).scalar()
        assert PASSWORD not in str(raw) and "gAAAA" in str(raw)
        assert get_setting("smtp_password") == PASSWORD
        audit = db.session.scalar(select(AuditEvent).where(AuditEvent.target_id == "smtp_password"))
        assert audit.details == {"before": "unset", "after": "set"}
        everything = " ".join(str(r) for r in db.session.execute(text("SELECT * FROM audit_events")))
        assert PASSWORD not in everything
    page = auth.client.get("/admin/settings/").get_data(as_text=True)
    assert PASSWORD not in page and 'name="smtp_password" type="password" value=""' in page


def test_an_empty_secret_field_keeps_the_secret_and_clear_removes_it(app, auth):
    auth.login("admin")
    form = {"smtp_host": "", "smtp_port": "587", "smtp_security": "starttls", "smtp_username": "",
            "mail_from": "Sanctum <s@example.test>"}
    auth.post("/admin/settings/providers", {"openai_api_key": "sk-keep-me-000000000000", "openai_base_url":
                                            "https://api.openai.com/v1"}, page="/admin/settings/")
    auth.post("/admin/settings/providers", {"openai_api_key": "", "openai_base_url": "http://127.0.0.1:11434/v1"},
              page="/admin/settings/")
    with app.app_context():
        assert get_setting("openai_api_key") == "sk-keep-me-000000000000"
        assert get_setting("openai_base_url") == "http://127.0.0.1:11434/v1"
    auth.post("/admin/settings/providers", {"openai_api_key": "", "openai_api_key__clear": "y",
                                            "openai_base_url": "http://127.0.0.1:11434/v1"}, page="/admin/settings/")
    with app.app_context():
        assert get_setting("openai_api_key") is None
        details = [e.details for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.target_id == "openai_api_key").order_by(AuditEvent.seq))]
        assert details == [{"before": "unset", "after": "set"}, {"before": "set", "after": "cleared"}]
    assert form  # the mail form is untouched by provider saves
    with app.app_context():
        assert get_setting("smtp_port") == 587


def test_invalid_settings_are_form_errors(app, auth):
    auth.login("admin")
    response = auth.post("/admin/settings/mail", {"smtp_port": "99999", "smtp_security": "starttls",
                                                  "mail_from": "x"}, page="/admin/settings/")
    assert response.status_code == 422 and "between 1 and 65535" in response.get_data(as_text=True)
    response = auth.post("/admin/settings/general", {"registration_mode": "open", "base_url": "javascript:alert(1)"},
                         page="/admin/settings/")
    assert response.status_code == 422 and "http://" in response.get_data(as_text=True)
    with app.app_context():
        assert get_setting("registration_mode") == "closed"  # all or nothing


def test_mail_goes_over_smtp_once_the_setting_names_a_server(app):
    from sanctum.mail.jobs import smtp_config
    from sanctum.mail.service import queue_mail
    from sanctum.settings.service import set_setting

    with app.app_context():
        set_setting("smtp_host", "127.0.0.1", actor=None)
        set_setting("smtp_password", "pw-from-settings", actor=None)
        db.session.commit()
        config = smtp_config()
        assert config["SMTP_HOST"] == "127.0.0.1" and config["SMTP_PASSWORD"] == "pw-from-settings"
        mail = queue_mail(to="x@example.test", subject="s", template="mail/verify_email.txt",
                          user=None, link="http://x", hours=1, changing=False)
        assert mail.transport == "smtp"
        db.session.rollback()


def test_an_unknown_section_is_not_found(app, auth):
    auth.login("admin")
    assert auth.post("/admin/settings/nope", page="/admin/settings/").status_code == 404
