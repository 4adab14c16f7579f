"""Sanctum: a self-hosted control panel for AI agents and the tools around them.

`create_app` reads as the table of contents of the application.
"""
from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        # The instance folder holds config.py, so its own location comes from the environment.
        instance_path=os.environ.get("SANCTUM_INSTANCE_PATH") or str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    from sanctum.config import load_config
    from sanctum.logs import configure_logging

    load_config(app, test_config)
    configure_logging(app)
    register_request_hooks(app)  # first: the request id exists before anything logs
    register_extensions(app)
    register_seams(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)

    from sanctum.web.access import check_declared

    check_declared(app)
    return app


def register_extensions(app: Flask) -> None:
    from sanctum import database
    from sanctum.auth import sessions
    from sanctum.extensions import csrf, limiter, sock

    database.init_app(app)
    sessions.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    app.config.setdefault(
        "SOCK_SERVER_OPTIONS", {"ping_interval": 25, "max_message_size": app.config["WS_MAX_MESSAGE_SIZE"]}
    )
    sock.init_app(app)


def register_seams(app: Flask) -> None:
    from sanctum import events, jobs

    jobs.init_app(app)
    events.init_app(app)
    # Periodic housekeeping, run once across all processes by the scheduler.
    jobs.register_periodic(app, "sanctum.rbac.jobs.expire_grants", every=60)
    jobs.register_periodic(app, "sanctum.health.jobs.check_health", every=int(app.config["HEALTH_CHECK_EVERY"]))
    jobs.register_periodic(app, "sanctum.audit.jobs.purge_expired", every=24 * 3600)
    jobs.register_periodic(app, "sanctum.audit.jobs.verify_chain", every=int(app.config["AUDIT_VERIFY_EVERY"]))
    jobs.register_periodic(app, "sanctum.dashboard.health.publish_health", every=10, inline=True)
    jobs.register_periodic(app, "sanctum.invitations.jobs.expire_invitations", every=60)
    jobs.register_periodic(app, "sanctum.privacy.jobs.purge_expired_exports", every=300)
    jobs.register_periodic(app, "sanctum.moderation.jobs.expire_sanctions", every=int(app.config["SANCTION_EXPIRY_EVERY"]))
    jobs.register_periodic(app, "sanctum.announcements.jobs.start_due_announcements", every=60)


def register_request_hooks(app: Flask) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from sanctum.web import headers, request_id

    if app.config["PROXY_FIX_X_FOR"]:
        hops = int(app.config["PROXY_FIX_X_FOR"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    request_id.init_app(app)
    headers.init_app(app)
    from sanctum import metrics

    metrics.init_app(app)


def register_blueprints(app: Flask) -> None:
    from sanctum.account.routes import bp as account_bp
    from sanctum.admin import bp as admin_bp
    from sanctum.agents.routes import bp as agents_bp
    from sanctum.announcements.routes import bp as announcements_bp
    from sanctum.api import bp as api_bp
    from sanctum.api.legacy import bp as legacy_api_bp
    from sanctum.audit.routes import bp as audit_bp
    from sanctum.auth.routes import bp as auth_bp
    from sanctum.bridge.routes import bp as bridge_bp
    from sanctum.chat.routes import bp as chat_bp
    from sanctum.dashboard.routes import bp as dashboard_bp
    from sanctum.jobs.routes import bp as jobs_bp
    from sanctum.discovery.routes import bp as discovery_bp
    from sanctum.invitations.routes import bp as invitations_bp
    from sanctum.live.routes import bp as live_bp
    from sanctum.metrics.routes import bp as metrics_bp
    from sanctum.moderation.routes import bp as moderation_bp, socket_bp as moderation_socket_bp
    from sanctum.notifications.routes import bp as notifications_bp
    from sanctum.main import bp as main_bp
    from sanctum.ops import bp as ops_bp
    from sanctum.settings.routes import bp as settings_bp
    from sanctum.privacy.routes import bp as privacy_bp
    from sanctum.tokens.routes import bp as tokens_bp
    from sanctum.tools.routes import bp as tools_bp
    from sanctum.users.routes import bp as users_bp

    for blueprint in (auth_bp, main_bp, chat_bp, account_bp, tokens_bp, admin_bp, users_bp, agents_bp, tools_bp,
                      settings_bp, dashboard_bp, audit_bp, jobs_bp, metrics_bp, invitations_bp, discovery_bp,
                      privacy_bp, moderation_bp, moderation_socket_bp, api_bp, legacy_api_bp, bridge_bp, ops_bp, live_bp, notifications_bp,
                      announcements_bp):
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    from sanctum.web import errors

    errors.init_app(app)


def register_template_helpers(app: Flask) -> None:
    from sanctum.web import templating

    templating.init_app(app)


def register_commands(app: Flask) -> None:
    from sanctum import commands

    commands.init_app(app)
