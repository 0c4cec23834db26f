"""The configured `file-mode` is the truth: at start the daemon brings the database,
its -wal and -shm (those it owns) to `file-mode` and to the group of their directory,
and says so, so a changed file-mode or a shared group works without a manual chmod."""
import os
import sqlite3
import stat

import pytest

from conftest import query


def make_database(path, mode):
    """A database with a row, plus -wal and -shm held open by the returned connection."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE app_rows (x)")
    con.execute("INSERT INTO app_rows VALUES (1)")
    for suffix in ("", "-wal", "-shm"):
        os.chmod(f"{path}{suffix}", mode)
    return con


@pytest.fixture
def kept(daemon_factory, tmp_path):
    """A daemon (not started) with no migrations: the tests' own table stays the schema."""
    (tmp_path / "no-migrations").mkdir()
    return lambda **kw: daemon_factory(migrations=tmp_path / "no-migrations", **kw)


def files(database):
    return [f"{database}{suffix}" for suffix in ("", "-wal", "-shm")]


def test_existing_database_gets_file_mode_and_the_directory_group(kept):
    d = kept(extra_args=["--file-mode", "0660"])
    con = make_database(d.database, 0o600)
    group = 4242  # any gid: the daemon runs as root here, so chgrp is allowed
    os.chown(d.database.parent, -1, group)
    d.start().wait_ready()
    for f in files(d.database):
        st = os.stat(f)
        assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o660, group), f
    assert f"database {d.database}: mode 0600 -> 0660, group 0 -> {group} (file-mode, the group of " in d.output()
    assert query(d.database, "SELECT x FROM app_rows") == [(1,)]
    con.close()


def test_a_wider_mode_is_narrowed_to_file_mode(kept):
    d = kept()  # file-mode 0600, the default
    con = make_database(d.database, 0o664)
    d.start().wait_ready()
    assert [stat.S_IMODE(os.stat(f).st_mode) for f in files(d.database)] == [0o600] * 3
    con.close()


def test_files_already_right_are_left_alone_and_not_logged(kept):
    d = kept(extra_args=["--file-mode", "0640"])
    con = make_database(d.database, 0o640)
    d.start().wait_ready()
    assert [stat.S_IMODE(os.stat(f).st_mode) for f in files(d.database)] == [0o640] * 3
    assert ": mode 0640" not in d.output() and "group 0 ->" not in d.output()
    con.close()


def test_a_file_of_another_user_is_not_touched(kept):
    if os.geteuid() != 0:
        pytest.skip("needs root to run the daemon as a second uid")
    d = kept(uid=4243, extra_args=["--file-mode", "0600"])
    con = make_database(d.database, 0o666)
    os.chown(d.database.parent, 4243, 4243)
    d._hand_folder_to(4243)
    d._hand_folder_to = lambda uid: None  # done: start() must not hand the -shm back
    # The -shm stays root's: sqlkeeper (uid 4243) may use it but must not change it.
    os.chown(f"{d.database}-shm", 0, 0)
    d.start().wait_ready()
    st = os.stat(f"{d.database}-shm")
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o666, 0)
    assert stat.S_IMODE(os.stat(d.database).st_mode) == 0o600
    assert f"{d.database}-shm belongs to uid 0, not sqlkeeper's" in d.output()
    con.close()
