"""Commands for operators: serve, worker, audit verify."""
from __future__ import annotations

import logging
import os
import socket
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.cli.add_command(serve)
    app.cli.add_command(worker)
    app.cli.add_command(audit)
    app.cli.add_command(create_admin)
    app.cli.add_command(create_token)
    app.cli.add_command(seed_demo)
    app.cli.add_command(tools)


@click.command("create-admin")
@click.argument("username")
@click.argument("email")
@with_appcontext
def create_admin(username: str, email: str) -> None:
    """Create an administrator. The password comes from SANCTUM_ADMIN_PASSWORD or a prompt."""
    from sanctum.auth.service import AccountError, create_user
    from sanctum.extensions import db

    password = os.environ.get("SANCTUM_ADMIN_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise click.ClickException("set SANCTUM_ADMIN_PASSWORD or run in a terminal to be asked")
        password = click.prompt("Password (15 characters or more)", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(username=username, email=email, password=password, role="admin", verified=True,
                           action="user.created_by_cli")
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"administrator {user.username} <{user.email}> created")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=None, type=int, help="Request threads per process (each open websocket holds one).")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Web processes (more than one needs SANCTUM_REDIS_URL: they share events and jobs through it).")
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations first.")
@with_appcontext
def serve(host: str, port: int, threads: int | None, workers: int, no_migrate: bool) -> None:
    """Apply pending migrations and serve the panel with gunicorn."""
    from sanctum.server import run_server

    if workers > 1 and not current_app.config["REDIS_URL"]:
        raise click.ClickException(
            "--workers above 1 needs SANCTUM_REDIS_URL: without Redis each process would keep its own "
            "jobs and live events, and a chat on one would never reach a browser on another."
        )
    if current_app.config["REDIS_URL"]:
        from sanctum.cluster import Membership
        from sanctum.config import ConfigError

        try:
            Membership(current_app._get_current_object(), "web").check()
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    if not no_migrate:
        apply_migrations()
    run_server(host=host, port=port, threads=threads or current_app.config["SERVER_THREADS"], workers=workers)


def apply_migrations() -> None:
    """Upgrade to head under the migration lock: with several processes starting at once, one
    migrates and the others wait, then find nothing left to do."""
    from flask_migrate import upgrade

    from sanctum.cluster import migration_lock
    from sanctum.extensions import db

    with migration_lock(current_app, db.engine):
        upgrade()


@click.command()
@click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
@with_appcontext
def worker(burst: bool) -> None:
    """Run an RQ worker (with the scheduler) for the scaled-out mode."""
    from sanctum.jobs import get_backend
    from sanctum.jobs.rq_backend import SanctumWorker
    from sanctum.jobs.scheduler import Scheduler

    backend = get_backend()
    if backend.mode != "rq":
        raise click.ClickException(
            "SANCTUM_REDIS_URL is not set: in single-process mode `sanctum serve` runs jobs itself."
        )
    from sanctum.cluster import join_cluster

    membership = join_cluster(current_app._get_current_object(), "worker")
    name = f"sanctum-{socket.gethostname()}-{os.getpid()}"
    # SimpleWorker runs each job in this process: no fork per job, so replies start sooner
    # and the database pool is not shared across a fork.
    rq_worker = SanctumWorker([backend.queue], connection=backend.redis, name=name)
    scheduler = Scheduler(current_app._get_current_object())
    scheduler.start()
    try:
        rq_worker.work(with_scheduler=True, burst=burst, logging_level=current_app.config["LOG_LEVEL"])
    finally:
        scheduler.stop()
        if membership is not None:
            membership.leave()


@click.group()
def audit() -> None:
    """Audit log commands."""


@audit.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Walk the hash chain and name the first row that was changed or removed."""
    from sanctum.audit import verify_chain

    report = verify_chain()
    if report.ok:
        click.echo(f"audit chain intact: {report.checked} events verified")
        return
    click.echo(f"audit chain BROKEN at event {report.first_bad_seq}: {report.reason} "
               f"({report.checked} events verified before it)", err=True)
    sys.exit(1)


@audit.command("purge")
@click.option("--days", type=int, default=None, help="Keep this many days (default: the retention setting).")
@with_appcontext
def audit_purge(days: int | None) -> None:
    """Delete events older than the retention period; the kept chain still verifies."""
    from sanctum.audit.retention import purge_expired

    result = purge_expired(days=days)
    if not result.deleted:
        click.echo("nothing to purge")
        return
    click.echo(f"purged {result.deleted} events up to #{result.through_seq}; anchor is event #{result.anchor_seq}")


@click.command("create-token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--scope", "scopes", multiple=True, required=True, help="A permission; repeat for more.")
@click.option("--days", type=int, default=None, help="Expire after this many days (default: never).")
@with_appcontext
def create_token(username: str, name: str, scopes: tuple[str, ...], days: int | None) -> None:
    """Print a personal API token for USERNAME (shown once; only its hash is stored)."""
    from sanctum.auth.service import find_user
    from sanctum.tokens.service import TokenError
    from sanctum.tokens.service import create_token as make

    user = find_user(username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    try:
        _token, raw = make(user=user, name=name, scopes=scopes, expires_in_days=days)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(raw)


DEMO_AGENTS = [
    {"name": "athena", "display_name": "Athena", "avatar": "🦉", "description": "Sanctum Configuration Assistant"},
    {"name": "monday", "display_name": "Monday", "avatar": "📅", "description": "Task Management Specialist"},
    {"name": "timbre", "display_name": "Timbre", "avatar": "🎵", "description": "Audio Processing Expert"},
]


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Add the demo agents (built-in provider) and the default tool cards. Safe to run again."""
    from pathlib import Path

    from sqlalchemy import select

    from sanctum.agents.service import create_agent
    from sanctum.extensions import db
    from sanctum.models import Agent
    from sanctum.tools.manifest import import_folder

    created = []
    for spec in DEMO_AGENTS:
        if db.session.scalar(select(Agent.id).where(Agent.name == spec["name"])) is None:
            create_agent(data=dict(spec, provider="builtin", roles=["admin", "moderator", "user"]), actor=None)
            created.append(spec["name"])
    report = import_folder(Path(__file__).resolve().parent / "data" / "tools", actor=None)
    click.echo(f"agents: {len(created)} created ({', '.join(created) or 'all present'}); "
               f"tools: {len(report.created)} created, {len(report.updated)} updated, {len(report.unchanged)} unchanged")


@click.group()
def tools() -> None:
    """Tool card commands."""


@tools.command("import")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=str))
@with_appcontext
def tools_import(folder: str | None) -> None:
    """Create or update tool cards from manifest.json files in FOLDER (default: TOOLS_MANIFEST_DIR)."""
    from pathlib import Path

    from sanctum.tools.manifest import import_folder

    report = import_folder(Path(folder) if folder else None, actor=None)
    click.echo(f"{len(report.created)} created, {len(report.updated)} updated, {len(report.unchanged)} unchanged")
    for error in report.errors:
        click.echo(f"skipped {error}", err=True)
    if report.errors:
        sys.exit(1)
