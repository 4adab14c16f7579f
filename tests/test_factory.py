"""Can the factory be configured the documented way, and does it refuse what cannot work?"""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from sanctum import create_app
from sanctum.config import ConfigError
from sanctum.extensions import db

FERNET_KEY = "q3jzDWjNtP3WBHnNbHe5bgLkiVJ9x5m7J7BqU0V2yzE="


@pytest.fixture
def fresh_instance(tmp_path, monkeypatch):
    monkeypatch.setenv("SANCTUM_INSTANCE_PATH", str(tmp_path))
    for name in ("SANCTUM_SECRET_KEY", "SANCTUM_ENV", "SANCTUM_DATABASE_URL", "SANCTUM_REDIS_URL",
                 "SANCTUM_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_config_layers_in_order(fresh_instance, monkeypatch):
    (fresh_instance / "config.py").write_text("JOB_THREADS = 3\nLOG_LEVEL = 'DEBUG'\nMAX_CONTENT_LENGTH = 1000\n")
    monkeypatch.setenv("SANCTUM_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("SANCTUM_MAX_CONTENT_LENGTH", "2000")
    app = create_app({"MAX_CONTENT_LENGTH": 3000})
    assert app.config["JOB_THREADS"] == 3  # instance/config.py over the default
    assert app.config["LOG_LEVEL"] == "WARNING"  # environment over instance/config.py
    assert app.config["MAX_CONTENT_LENGTH"] == 3000  # test config over everything


def test_development_secret_key_is_generated_once_and_kept(fresh_instance):
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert first == second and len(first) >= 48
    key_file = fresh_instance / "secret_key"
    assert key_file.read_text().strip() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_production_refuses_to_start_without_a_secret_key(fresh_instance, monkeypatch):
    monkeypatch.setenv("SANCTUM_ENV", "production")
    with pytest.raises(ConfigError, match="SANCTUM_SECRET_KEY"):
        create_app()
    assert not (fresh_instance / "secret_key").exists()


def test_production_starts_with_a_secret_key_and_debug_off(fresh_instance, monkeypatch):
    monkeypatch.setenv("SANCTUM_ENV", "production")
    monkeypatch.setenv("SANCTUM_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("SANCTUM_ENCRYPTION_KEY", FERNET_KEY)
    app = create_app()
    assert app.config["SECRET_KEY"] == "k" * 40
    assert app.debug is False


def test_production_refuses_to_start_without_an_encryption_key(fresh_instance, monkeypatch):
    monkeypatch.setenv("SANCTUM_ENV", "production")
    monkeypatch.setenv("SANCTUM_SECRET_KEY", "k" * 40)
    with pytest.raises(ConfigError, match="SANCTUM_ENCRYPTION_KEY"):
        create_app()
    assert not (fresh_instance / "encryption_key").exists()


def test_a_malformed_encryption_key_is_refused(fresh_instance, monkeypatch):
    monkeypatch.setenv("SANCTUM_ENCRYPTION_KEY", "not-a-fernet-key")
    with pytest.raises(ConfigError, match="Fernet"):
        create_app()


def test_development_encryption_key_is_generated_once_and_kept(fresh_instance):
    from cryptography.fernet import Fernet

    first = create_app().config["ENCRYPTION_KEY"]
    assert create_app().config["ENCRYPTION_KEY"] == first
    Fernet(first)  # a usable key
    key_file = fresh_instance / "encryption_key"
    assert key_file.read_text().strip() == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_unknown_environment_name_is_refused(fresh_instance, monkeypatch):
    monkeypatch.setenv("SANCTUM_ENV", "prod")
    with pytest.raises(ConfigError, match="SANCTUM_ENV"):
        create_app()


def test_default_database_is_sqlite_in_the_instance_folder(fresh_instance):
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{fresh_instance / 'sanctum.db'}"


def test_plain_postgresql_url_uses_psycopg(fresh_instance, monkeypatch):
    monkeypatch.setenv("SANCTUM_DATABASE_URL", "postgresql://u@127.0.0.1/x")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1/x"
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is True


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(fresh_instance):
    app = create_app()
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA busy_timeout")).scalar() == 30000
        db.engine.dispose()


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_schema_comes_from_migrations_and_matches_the_models(app):
    """Autogenerate against the migrated database finds nothing to do."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context():
        with db.engine.connect() as conn:
            from sanctum.database import include_object

            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
            diff = compare_metadata(context, db.metadata)
    assert diff == []
