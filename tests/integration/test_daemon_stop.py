"""Every long job stops: SIGTERM ends the daemon promptly during the pre-migration
copy, while it waits for another migrator's lock, and while a migration waits for
the application's write lock; lock waits give up at lock-timeout naming the holder;
start-up asks systemd for more time only while it makes progress; and one database
is kept by one daemon at a time."""
import fcntl
import os
import signal
import time

from conftest import (MigrationFolder, migrate_cli, open_db, plain_bookkeeping, query, wait_for_time,
                      wait_until)

STOP_WITHIN = 5.0  # seconds; far under systemd's TimeoutStopSec


def migrated_folder(tmp_path, db):
    """A folder with one applied migration and one pending, on a database with data."""
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(["CREATE TABLE big (i INTEGER PRIMARY KEY, pad BLOB)"], "big")
    r = migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk0")
    assert r.returncode == 0, r.stderr
    folder.add(["CREATE TABLE later (x)"], "later")
    return folder


def fill(db, rows, pad=2000, index=False):
    con = open_db(db)
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
                "INSERT INTO big SELECT i, randomblob(?) FROM c", (rows, pad))
    if index:
        con.execute("CREATE INDEX big_pad ON big (pad)")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def assert_stops_promptly(d):
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=30) == 0, d.output()
    elapsed = time.monotonic() - t0
    assert elapsed < STOP_WITHIN, f"took {elapsed:.1f}s to stop:\n{d.output()}"
    assert not d.socket.exists()


def test_sigterm_during_the_pre_migration_copy_stops_and_leaves_no_backup(daemon_factory, tmp_path):
    d = daemon_factory(migrations=tmp_path / "m")
    migrated_folder(tmp_path, d.database)
    # Big enough that copying and checking it takes a while (the index makes the check slow).
    fill(d.database, 60000, index=True)
    d.start()
    wait_until(lambda: d.backups.exists() and any(p.name.endswith(".tmp") for p in d.backups.iterdir()), 30,
               interval=0.002, what="the pre-migration copy to start")
    assert_stops_promptly(d)
    assert "start-up stopped while copying" in d.output() and "stop requested (the daemon is stopping)" in d.output()
    # nothing half-made is left or listed, and the migration did not run
    assert [p.name for p in d.backups.iterdir() if p.name != ".sqlkeeper.lock"] == []
    assert [n for _, n, _ in plain_bookkeeping(d.database)] == ["0001_big.sql"]


def hold_directory_lock(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_sigterm_while_waiting_for_the_migration_lock(daemon_factory, tmp_path):
    d = daemon_factory(migrations=tmp_path / "m")
    migrated_folder(tmp_path, d.database)
    fd = hold_directory_lock(d.database.parent)  # what another migrator holds
    try:
        d.start()
        wait_until(lambda: f"held by pid {os.getpid()}" in d.output(), 20, what="the daemon to wait for the lock")
        assert "waiting up to 120000 ms for the migration lock" in d.output()
        assert_stops_promptly(d)
    finally:
        os.close(fd)
    assert [n for _, n, _ in plain_bookkeeping(d.database)] == ["0001_big.sql"]


def test_the_lock_wait_gives_up_at_lock_timeout_naming_the_holder(daemon_factory, tmp_path):
    d = daemon_factory(migrations=tmp_path / "m", extra_args=["--lock-timeout", "300ms"])
    migrated_folder(tmp_path, d.database)
    fd = hold_directory_lock(d.database.parent)
    try:
        d.start()
        assert d.wait_exit(timeout=20) == 1, d.output()
    finally:
        os.close(fd)
    out = d.output()
    assert "gave up after 300 ms waiting for the migration lock" in out and f"held by pid {os.getpid()}" in out
    d.notify.drain()
    assert not any(m.get("READY") == "1" for _, m in d.notify.messages)


def test_sigterm_while_a_migration_waits_for_the_applications_write_lock(daemon_factory, tmp_path):
    d = daemon_factory(migrations=tmp_path / "m", extra_args=["--busy-timeout", "10min"])
    migrated_folder(tmp_path, d.database)
    app = open_db(d.database)
    app.execute("BEGIN IMMEDIATE")
    app.execute("INSERT INTO big (pad) VALUES (x'00')")
    try:
        d.start()
        wait_until(lambda: "applying migration 0002_later.sql" in d.output(), 20, what="the migration to start")
        d.notify.wait_for("STATUS", "migrating: 0002_later.sql")
        assert_stops_promptly(d)
    finally:
        app.execute("ROLLBACK")
        app.close()
    assert [n for _, n, _ in plain_bookkeeping(d.database)] == ["0001_big.sql"]
    assert "later" not in {r[0] for r in query(d.database, "SELECT name FROM sqlite_schema")}


def test_start_up_asks_for_more_time_only_while_it_makes_progress(daemon_factory, tmp_path):
    # Hung on a lock: no EXTEND_TIMEOUT_USEC, so systemd's start timeout ends it.
    d = daemon_factory(migrations=tmp_path / "m")
    migrated_folder(tmp_path, d.database)
    fd = hold_directory_lock(d.database.parent)
    try:
        d.start()
        wait_until(lambda: "waiting up to" in d.output(), 20, what="the daemon to wait for the lock")
        # one full extension period (10 s) and a margin
        wait_for_time(11.5, invariant=lambda: not d.notify.all("EXTEND_TIMEOUT_USEC"),
                      what="an extension period without progress")
    finally:
        os.close(fd)
        d.stop()
    # Making progress (a long CPU-bound migration): extensions keep coming.
    migrations = tmp_path / "slow"
    migrations.mkdir()
    (migrations / "0001_slow.sql").write_text(
        "CREATE TABLE slow AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 1000000000)\n"
        "SELECT sum(x) AS total FROM c;\n")
    slow = daemon_factory(migrations=migrations).start()
    slow.notify.wait_for("STATUS", "migrating: 0001_slow.sql")
    slow.notify.wait_for("EXTEND_TIMEOUT_USEC", "30000000", timeout=15)


def test_a_second_daemon_on_the_same_database_names_the_first(daemon_factory, tmp_path):
    first = daemon_factory().start().wait_ready()
    second = daemon_factory()
    second.database = first.database
    second.args[second.args.index("--database") + 1] = first.database
    second.start()
    assert second.wait_exit(timeout=20) == 1
    out = second.output()
    assert f"is already kept by another sqlkeeper (pid {first.proc.pid} (sqlkeeper))" in out, out
    # the first one is untouched and still answering on its own socket
    assert first.get("/health")[0] == 200
    assert not second.socket.exists()
