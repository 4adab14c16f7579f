"""Which passwords are accepted, how they are hashed, and how long passphrases are checked
(SECURITY.md 1, 2, 4)."""
from __future__ import annotations

import pytest

from sanctum import create_app
from sanctum.auth import passwords
from sanctum.auth.passwords import PasswordRejected, check_policy, hash_password, verify_password
from sanctum.config import ConfigError

LONG_UNICODE = "ünïcödé pässphrasé with spaces, 日本語の言葉, ελληνικά and emoji 🐍🔑 " * 3  # > 128 characters


def bcrypt_cost(password_hash: str) -> int:
    # "$2b$12$<salt+hash>": the cost is the third field.
    return int(password_hash.split("$")[2])


def test_a_password_of_14_characters_is_refused():
    with pytest.raises(PasswordRejected, match="at least 15"):
        check_policy("fourteen chars")  # 14


def test_a_password_of_15_characters_is_accepted():
    assert len("fifteen letters") == 15
    check_policy("fifteen letters")


def test_no_composition_rules_apply_to_a_long_lowercase_passphrase():
    check_policy("purple kettle under moonlight")  # no digit, no capital, no symbol


def test_a_passphrase_of_more_than_128_characters_with_spaces_and_unicode_is_accepted(app):
    assert len(LONG_UNICODE) > 128
    check_policy(LONG_UNICODE)
    with app.app_context():
        assert verify_password(LONG_UNICODE, hash_password(LONG_UNICODE))


def test_two_100_character_passwords_differing_only_in_the_last_character_do_not_both_verify(app):
    """bcrypt alone would read 72 bytes and call these equal: the whole password must count."""
    first = "a sentence long enough to run past bcrypt's seventy-two byte window, padded out to 100!!!! ends in 1"
    second = first[:-1] + "2"
    assert len(first) == len(second) == 100 and first[:99] == second[:99]
    with app.app_context():
        stored = hash_password(first)
        assert verify_password(first, stored)
        assert not verify_password(second, stored)


def test_a_difference_beyond_byte_72_of_a_multibyte_password_is_noticed(app):
    base = "ё" * 40  # 80 bytes in UTF-8
    with app.app_context():
        stored = hash_password(base + "a")
        assert not verify_password(base + "b", stored)


def test_the_same_passphrase_typed_in_another_unicode_form_matches(app):
    composed, decomposed = "caf\u00e9 au lait tous les matins", "cafe\u0301 au lait tous les matins"
    with app.app_context():
        assert verify_password(decomposed, hash_password(composed))


def test_a_password_longer_than_the_maximum_is_refused():
    with pytest.raises(PasswordRejected, match="at most"):
        check_policy("x y z " * 50)  # 300 characters


def test_the_shipped_list_holds_at_least_10000_common_passwords():
    common = passwords.common_passwords()
    assert len(common) >= 10_000
    assert "password" in common and "123456" in common


def test_a_common_password_is_refused_whatever_its_case():
    with pytest.raises(PasswordRejected, match="common"):
        check_policy("1Q2W3E4R5T6Y7U8I9O0P")


def test_the_username_as_password_is_refused():
    with pytest.raises(PasswordRejected, match="username"):
        check_policy("averyverylongusername", context=("averyverylongusername", "x@example.test"))


def test_the_hash_uses_the_configured_bcrypt_cost(app_config):
    app_config["BCRYPT_ROUNDS"] = 5
    app = create_app(app_config)
    with app.app_context():
        assert bcrypt_cost(hash_password("correct horse battery staple")) == 5


def test_seeded_accounts_use_the_test_cost_of_4(app):
    from sanctum.extensions import db
    from sanctum.models import User

    with app.app_context():
        costs = {bcrypt_cost(h) for h in db.session.scalars(db.select(User.password_hash))}
    assert costs == {4}


def test_the_default_bcrypt_cost_is_12():
    from sanctum.config import DEFAULTS

    assert DEFAULTS["BCRYPT_ROUNDS"] == 12


FERNET_KEY = "Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk="  # production also needs an encryption key


def test_production_refuses_a_bcrypt_cost_below_12(app_config):
    app_config.update(ENV="production", SECRET_KEY="p" * 48, ENCRYPTION_KEY=FERNET_KEY, BCRYPT_ROUNDS=11)
    with pytest.raises(ConfigError, match="BCRYPT_ROUNDS"):
        create_app(app_config)


def test_production_accepts_a_bcrypt_cost_of_12(app_config):
    app_config.update(ENV="production", SECRET_KEY="p" * 48, ENCRYPTION_KEY=FERNET_KEY, BCRYPT_ROUNDS=12)
    app = create_app(app_config)
    assert app.config["BCRYPT_ROUNDS"] == 12
    from tests.conftest import shutdown

    shutdown(app)


def test_a_hash_below_the_configured_cost_is_upgraded_at_sign_in(app_config, database):
    from sanctum.extensions import db
    from sanctum.models import User
    from tests.conftest import shutdown
    from tests.support.accounts import AuthActions, seed_accounts

    app = create_app(dict(app_config))
    seed_accounts(app)  # cost 4
    shutdown(app)
    app_config["BCRYPT_ROUNDS"] = 5
    stronger = create_app(app_config)
    try:
        AuthActions(stronger.test_client()).login("ursula")
        with stronger.app_context():
            user = db.session.scalar(db.select(User).where(User.username == "ursula"))
            assert bcrypt_cost(user.password_hash) == 5
    finally:
        shutdown(stronger)
