"""Does the Broca reader find the people in a Broca-shaped SQLite file, never write to it, and
explain clearly what is wrong with a file it cannot use?"""
from __future__ import annotations

import hashlib
import os
import sqlite3

import pytest

from sanctum.discovery import broca
from tests.support.broca import BrocaPerson, make_broca, sample_people


@pytest.fixture
def broca_file(tmp_path):
    return make_broca(tmp_path / "broca.db", sample_people())


def test_people_come_most_recently_active_first_with_profiles_and_message_counts(broca_file):
    people, total = broca.people(str(broca_file))
    assert total == 3
    assert [p.label for p in people] == ["Grace Hopper", "Ada Lovelace", "Alan Turing"]
    grace = people[0]
    assert sorted((p.platform, p.username) for p in grace.profiles) == [("discord", "grace"), ("telegram", "gracie")]
    assert [p.message_count for p in people] == [3, 12, 0]
    assert people[2].is_active is False
    assert grace.last_active == "2025-03-05 09:30:00"


def test_people_can_be_searched_by_username_display_name_or_platform_id(broca_file):
    assert [p.label for p in broca.people(str(broca_file), q="lovelace")[0]] == ["Ada Lovelace"]
    assert [p.label for p in broca.people(str(broca_file), q="gracie")[0]] == ["Grace Hopper"]
    assert [p.label for p in broca.people(str(broca_file), q="1003")[0]] == ["Alan Turing"]
    assert broca.people(str(broca_file), q="%")[1] == 0  # a literal percent sign, not a wildcard


def test_people_can_be_excluded_or_chosen_by_id(broca_file):
    people, _ = broca.people(str(broca_file))
    ids = {p.label: p.id for p in people}
    left, total = broca.people(str(broca_file), exclude=[ids["Ada Lovelace"]])
    assert total == 2 and "Ada Lovelace" not in [p.label for p in left]
    chosen, _ = broca.people(str(broca_file), only=[ids["Alan Turing"]])
    assert [p.label for p in chosen] == ["Alan Turing"]


def test_people_are_paged(tmp_path):
    path = make_broca(tmp_path / "many.db", [
        BrocaPerson(f"2025-01-01 00:{n:02d}:00", [("telegram", str(n), f"user{n}", "")]) for n in range(55)])
    first, total = broca.people(str(path), per_page=50)
    second, _ = broca.people(str(path), page=2, per_page=50)
    assert total == 55 and len(first) == 50 and len(second) == 5
    assert not {p.id for p in first} & {p.id for p in second}


def test_a_person_without_display_name_is_labelled_by_username_or_id(tmp_path):
    path = make_broca(tmp_path / "b.db", [BrocaPerson("2025-01-01", [("telegram", "9", "only_username", "")]),
                                          BrocaPerson("2025-01-02", [])])
    labels = sorted(p.label for p in broca.people(str(path))[0])
    assert labels[0].startswith("Broca user ") and labels[1] == "only_username"


def test_a_file_without_a_messages_table_has_no_counts(tmp_path):
    path = make_broca(tmp_path / "b.db", sample_people(), without=("messages",))
    people, _ = broca.people(str(path))
    assert all(p.message_count is None for p in people)


def test_reading_never_changes_the_file(broca_file):
    before = hashlib.sha256(broca_file.read_bytes()).hexdigest()
    mtime = os.stat(broca_file).st_mtime_ns
    broca.people(str(broca_file), q="ada")
    broca.inspect(str(broca_file))
    assert hashlib.sha256(broca_file.read_bytes()).hexdigest() == before
    assert os.stat(broca_file).st_mtime_ns == mtime


def test_the_connection_is_read_only(broca_file):
    with broca.connect(str(broca_file)) as conn:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM letta_users")


def test_a_file_in_a_read_only_folder_can_still_be_read(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = make_broca(folder / "broca.db", sample_people())
    os.chmod(folder, 0o555)
    try:
        assert broca.people(str(path))[1] == 3
    finally:
        os.chmod(folder, 0o755)


@pytest.mark.parametrize("make,message", [
    (lambda p: None, "There is no file at"),
    (lambda p: p.mkdir(), "is not a regular file"),
    (lambda p: p.write_text("just some text, not a database"), "is not an SQLite database"),
    (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000), "damaged or not a database"),
])
def test_an_unusable_file_gives_a_clear_error(tmp_path, make, message):
    path = tmp_path / "broca.db"
    make(path)
    with pytest.raises(broca.BrocaError, match=message):
        broca.people(str(path))


def test_a_sqlite_file_that_is_not_broca_is_named_as_such(tmp_path):
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE notes (id INTEGER)").connection.commit()
    with pytest.raises(broca.BrocaError, match="does not look like a Broca database: it has no “letta_users”"):
        broca.inspect(str(path))


def test_a_table_missing_a_column_is_named(tmp_path):
    path = tmp_path / "half.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE letta_users (id INTEGER PRIMARY KEY, last_active TEXT)")
    conn.execute("CREATE TABLE platform_profiles (id INTEGER PRIMARY KEY, letta_user_id INTEGER, platform TEXT)")
    conn.commit()
    with pytest.raises(broca.BrocaError, match="lacks display_name, last_active, platform_user_id, username"):
        broca.inspect(str(path))


def test_paths_must_be_absolute_and_may_be_limited_to_folders(tmp_path, broca_file):
    with pytest.raises(broca.BrocaError, match="not an absolute path"):
        broca.check_path("broca.db")
    with pytest.raises(broca.BrocaError, match="outside the folders"):
        broca.check_path(str(broca_file), allowed_dirs=("/srv/broca",))
    assert broca.check_path(str(tmp_path / "x" / ".." / "broca.db"), allowed_dirs=(str(tmp_path),)) == \
        str(broca_file)


def test_an_unreadable_file_is_explained(broca_file, monkeypatch):
    # Tests run as root here, who may read any file: the permission check itself is what is faked.
    monkeypatch.setattr(broca.os, "access", lambda path, mode: False)
    with pytest.raises(broca.BrocaError, match="may not read"):
        broca.check_path(str(broca_file))
