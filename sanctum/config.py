"""Configuration: defaults, then instance/config.py, then SANCTUM_* variables, then test config.

Every later source overrides the earlier ones. Environment values are parsed as
JSON when they look like it (`SANCTUM_JOB_THREADS=4` is an int), the way
`Flask.config.from_prefixed_env` does.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask


class ConfigError(RuntimeError):
    """Raised at start-up when the configuration cannot work; the message says how to fix it."""


DEFAULTS: dict = {
    # development | production. Production refuses to start without an explicit secret key
    # and logs JSON lines; debug stays off in both unless Flask's --debug is given.
    "ENV": "development",
    "SECRET_KEY": None,
    "DATABASE_URL": None,  # None → sqlite:///instance/sanctum.db
    "REDIS_URL": None,  # None → in-process jobs, in-memory events and rate limits
    "REDIS_PREFIX": "sanctum",  # namespaces queues, channels and keys in a shared Redis
    "JOB_THREADS": 2,  # in-process worker threads
    "JOB_MAX_ATTEMPTS": 3,
    "JOB_TIMEOUT": 300,  # seconds a single attempt may run
    "JOB_RETRY_BACKOFF": [5, 30, 120],  # seconds before the 2nd, 3rd, 4th… attempt
    "JOB_HEARTBEAT_INTERVAL": 5,  # seconds; a running job silent for 3× this is presumed dead
    "JOB_LOST_AFTER": 60,  # seconds a queued job may wait before it is dispatched again
    "JOB_RECOVERY_EVERY": 15,  # seconds between looks for jobs whose worker died
    "WORKER_HEARTBEAT_MAX_AGE": 60,  # /readyz: a worker seen within this many seconds
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "WS_MAX_MESSAGE_SIZE": 64 * 1024,
    "WS_ALLOWED_ORIGINS": [],  # besides the request's own host
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": None,  # text | json; None → text in development, json in production
    "SERVER_THREADS": 32,
    "PROXY_FIX_X_FOR": 0,  # how many proxies in front set X-Forwarded-For/-Proto/-Host
    "SQLALCHEMY_ECHO": False,
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "WTF_CSRF_SSL_STRICT": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Chat
    "CHAT_MAX_MESSAGE_CHARS": 8000,
    "CHAT_MAX_CONCURRENT_RUNS": 3,  # replies being written at once, per user
    "CHAT_RATE_LIMIT": "20 per minute",  # messages sent, per user
    # Accounts and sessions
    "BCRYPT_ROUNDS": 12,
    "BCRYPT_CONCURRENCY": None,  # hashes at once per process; None → half the CPUs (pages keep the rest)
    "BASE_URL": "http://127.0.0.1:5000",  # links in mail are built from this
    "REGISTRATION_MODE": "closed",  # closed | open | approval; the `registration_mode` setting wins
    "SESSION_IDLE_MINUTES": 120,
    "SESSION_ABSOLUTE_HOURS": 12,
    "SESSION_REMEMBER_IDLE_DAYS": 7,  # "remember me": idle limit…
    "SESSION_REMEMBER_DAYS": 30,  # …and absolute lifetime; both capped at 90 days
    "SESSION_TOUCH_SECONDS": 60,  # last_used_at is written at most this often
    "SESSION_COOKIE_NAME": "sanctum_session",
    "LOGIN_LOCKOUT_THRESHOLD": 5,  # failures on one account before a temporary lockout
    "LOGIN_LOCKOUT_BASE_SECONDS": 60,  # first lockout; doubles each time…
    "LOGIN_LOCKOUT_MAX_SECONDS": 900,  # …up to this
    "LOGIN_RATE_LIMIT": "10 per minute;60 per hour",  # per IP, on sign-in attempts
    "ACCOUNT_RATE_LIMIT": "5 per minute;20 per hour",  # per IP: register, reset, verify
    "MAIL_PER_ADDRESS_LIMIT": "3 per hour",  # reset/verification mails to one address
    "RESET_TOKEN_MINUTES": 60,
    "VERIFY_TOKEN_HOURS": 48,
    # Mail: with no SMTP_HOST, mail is kept in the outbox page for admins.
    "SMTP_HOST": None,
    "SMTP_PORT": 587,
    "SMTP_USERNAME": None,
    "SMTP_PASSWORD": None,
    "SMTP_SECURITY": "starttls",  # starttls | ssl | none
    "SMTP_TIMEOUT": 15,
    "MAIL_FROM": "Sanctum <sanctum@localhost>",
    # Secrets at rest (agent API keys, secret settings) are encrypted with this Fernet key.
    # Development generates one into the instance folder; production refuses to start
    # without it. A comma-separated list decrypts with any and encrypts with the first (rotation).
    "ENCRYPTION_KEY": None,
    # Agents, tools and their health
    "HEALTH_CHECK_EVERY": 30,  # seconds between runs of the periodic health job
    "SANCTION_EXPIRY_EVERY": 30,  # seconds between runs of the job that ends expired sanctions
    "HEALTH_CHECK_TIMEOUT": 5,  # seconds one check may take
    "HEALTH_HISTORY": 20,  # results kept per agent or tool
    "HEALTH_SLOW_MS": 2000,  # a check answering slower than this counts as Degraded
    "TOOLS_MANIFEST_DIR": None,  # None → instance/tools; folders holding manifest.json files
    "BRIDGE_RATE_LIMIT": "300 per minute",  # per bridge key, on the Broca web-chat bridge
    "BRIDGE_FAILURE_LIMIT": "10 per minute",  # failed bridge authentications per IP
    "BRIDGE_POLL_FRESH_SECONDS": 60,  # a bridge agent counts as connected if Broca polled this recently
    "BRIDGE_REDELIVER_SECONDS": 300,  # an inbox message not answered this long is handed out again
    # Audit log, jobs page, dashboard and metrics (issue 9)
    "DASHBOARD_CACHE_SECONDS": 10,  # tiles, charts and health on the dashboard page are reused this long
    "AUDIT_RETENTION_DAYS": 365,  # default for the `audit_retention_days` setting; 0 keeps forever
    "AUDIT_EXPORT_DIR": None,  # None → instance/exports; must be shared by web and worker hosts
    "AUDIT_EXPORT_HOURS": 24,  # finished export files are removed after this long
    "AUDIT_VERIFY_EVERY": 3600,  # seconds between background chain verifications
    "METRICS_TOKEN": None,  # /metrics answers a request with `Authorization: Bearer <this>`…
    "METRICS_ALLOW": ["127.0.0.1/32", "::1/128"],  # …or from these networks
    "PROMETHEUS_MULTIPROC_DIR": None,  # set by `sanctum serve`; or by you for your own gunicorn
}


def load_config(app: Flask, test_config: dict | None) -> None:
    app.config.update(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("SANCTUM")
    if test_config:
        app.config.update(test_config)

    if app.config["ENV"] not in ("development", "production"):
        raise ConfigError(f"SANCTUM_ENV must be 'development' or 'production', not {app.config['ENV']!r}")
    _configure_database(app)
    _configure_secret_key(app)
    _configure_encryption_key(app)
    _configure_redis(app)
    _configure_sessions(app)


def _configure_database(app: Flask) -> None:
    url = app.config["DATABASE_URL"]
    if not url:
        os.makedirs(app.instance_path, exist_ok=True)
        url = "sqlite:///" + str(Path(app.instance_path) / "sanctum.db")
    if url.startswith("postgres://") or url.startswith("postgresql://"):
        # Plain postgresql:// would pick psycopg2, which we do not ship.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if url.startswith("sqlite"):
        # 30 s busy timeout: writers queue instead of failing with "database is locked".
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    else:
        # A restarted PostgreSQL leaves dead pooled connections: test each before use.
        options.setdefault("pool_pre_ping", True)
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _configure_secret_key(app: Flask) -> None:
    if app.config["SECRET_KEY"]:
        if len(str(app.config["SECRET_KEY"])) < 32 and app.config["ENV"] == "production":
            raise ConfigError("SANCTUM_SECRET_KEY is too short: use at least 32 random characters.")
        return
    if app.config["ENV"] == "production":
        raise ConfigError(
            "SANCTUM_SECRET_KEY is not set. In production every process must share one key: "
            'generate one with `python -c "import secrets; print(secrets.token_urlsafe(48))"`.'
        )
    app.config["SECRET_KEY"] = _instance_secret(app)


def _configure_encryption_key(app: Flask) -> None:
    from cryptography.fernet import Fernet

    value = app.config["ENCRYPTION_KEY"]
    if not value:
        if app.config["ENV"] == "production":
            raise ConfigError(
                "SANCTUM_ENCRYPTION_KEY is not set. Agent API keys and secret settings are encrypted "
                "with it, and every process must share it: generate one with "
                '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
            )
        value = _instance_secret(app, "encryption_key", lambda: Fernet.generate_key().decode())
    keys = [part.strip() for part in str(value).split(",") if part.strip()]
    try:
        for key in keys:
            Fernet(key)
    except (ValueError, TypeError) as exc:
        raise ConfigError("SANCTUM_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes), "
                          "comma-separated when rotating.") from exc
    app.config["ENCRYPTION_KEY"] = ",".join(keys)


def _instance_secret(app: Flask, name: str = "secret_key", generate=lambda: secrets.token_urlsafe(48)) -> str:
    path = Path(app.instance_path) / name
    os.makedirs(app.instance_path, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once agree on the first key written.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        raise ConfigError(f"{path} is empty: delete it to have a new key generated.")
    with os.fdopen(fd, "w") as fh:
        key = generate()
        fh.write(key + "\n")
    return key


def _configure_redis(app: Flask) -> None:
    url = app.config["REDIS_URL"]
    app.config["RATELIMIT_STORAGE_URI"] = url or "memory://"
    if url:
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 2, "socket_timeout": 2})
        # A Redis outage must not take the pages down: rate limits fall back to memory.
        app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
        app.config.setdefault("RATELIMIT_KEY_PREFIX", app.config["REDIS_PREFIX"])


def _configure_sessions(app: Flask) -> None:
    from datetime import timedelta

    config = app.config
    if config["ENV"] == "production" and int(config["BCRYPT_ROUNDS"]) < 12:
        raise ConfigError("SANCTUM_BCRYPT_ROUNDS must be at least 12 in production.")
    if config["REGISTRATION_MODE"] not in ("closed", "open", "approval"):
        raise ConfigError("SANCTUM_REGISTRATION_MODE must be closed, open or approval.")
    for key in ("SESSION_REMEMBER_IDLE_DAYS", "SESSION_REMEMBER_DAYS"):
        if not 1 <= int(config[key]) <= 90:
            raise ConfigError(f"SANCTUM_{key} must be between 1 and 90 days.")
    # The cookie lives as long as the longest session it may carry; the server decides the rest.
    config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=int(config["SESSION_REMEMBER_DAYS"]))
    config["SESSION_REFRESH_EACH_REQUEST"] = False
    config["REMEMBER_COOKIE_DURATION"] = timedelta(seconds=0)
