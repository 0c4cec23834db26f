"""Migrators that overlap, and a migrator that dies: two `sqlkeeper migrate up`
started together apply each migration exactly once; a SIGKILL in the middle of a
long migration leaves the database at the previous migration, never in between."""
import os
import signal
import subprocess

import pytest

from conftest import MigrationFolder, migrate_popen, plain_bookkeeping, query, user_tables, wait_until

SLOW_ROWS = 300_000


def slow_folder(path, rows):
    folder = MigrationFolder(path, "plain")
    folder.add(["CREATE TABLE runs (who TEXT)"], "runs")
    folder.add(["CREATE TABLE big (i INTEGER PRIMARY KEY, pad TEXT)",
                f"WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {rows}) "
                "INSERT INTO big SELECT i, hex(randomblob(16)) FROM c"], "slow")
    # not idempotent: a second application would add a second row
    folder.add(["INSERT INTO runs VALUES ('once')"], "insert_once")
    return folder


@pytest.mark.parametrize("existing_db", [False, True], ids=["fresh", "existing"])
def test_two_migrators_started_together_apply_each_migration_once(tmp_path, existing_db):
    folder = slow_folder(tmp_path / "m", SLOW_ROWS)
    db = tmp_path / "data" / "app.db"
    if existing_db:
        pre = MigrationFolder(tmp_path / "pre", "plain")
        pre.add(["CREATE TABLE runs (who TEXT)"], "runs")
        p = migrate_popen("up", db, pre.path, backup_dir=tmp_path / "bk")
        assert p.wait(30) == 0, p.communicate()
    procs = [migrate_popen("up", db, folder.path, backup_dir=tmp_path / f"bk{i}") for i in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, (p.returncode, out, err)
    assert query(db, "SELECT who FROM runs") == [("once",)]
    assert query(db, "SELECT count(*) FROM big") == [(SLOW_ROWS,)]
    assert [v for v, _, _ in plain_bookkeeping(db)] == [1, 2, 3]
    # between them, each migration was reported applied exactly once
    combined = "".join(out for out, _ in outputs)
    for name in ("0002_slow.sql", "0003_insert_once.sql"):
        assert combined.count(f"applied {name}") == 1, combined
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # the premise: they really overlapped, one waited for the other
    assert any("for the migration lock of" in err and "held by pid" in err for _, err in outputs), outputs


def test_sigkill_during_a_long_migration_leaves_the_previous_state(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(["CREATE TABLE first (id INTEGER)", "INSERT INTO first VALUES (1)"], "first")
    db = tmp_path / "data" / "app.db"
    p = migrate_popen("up", db, folder.path, backup_dir=tmp_path / "bk")
    assert p.wait(30) == 0, p.communicate()
    long_name = folder.add(["CREATE TABLE huge (i INTEGER PRIMARY KEY, pad TEXT)",
                            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000000) "
                            "INSERT INTO huge SELECT i, hex(randomblob(8)) FROM c",
                            "CREATE INDEX huge_pad ON huge (pad)"], "long")
    schema_before = query(db, "SELECT type, name, sql FROM sqlite_schema ORDER BY name")
    wal = tmp_path / "data" / "app.db-wal"
    log = tmp_path / "stderr.log"
    with open(log, "w") as err:
        proc = migrate_popen("up", db, folder.path, backup_dir=tmp_path / "bk", stderr=err)
        try:
            wait_until(lambda: f"applying migration {long_name}" in log.read_text(), 20,
                       what="the long migration to start")
            # under way for real: its pages are spilling into the WAL
            wait_until(lambda: wal.exists() and wal.stat().st_size > 4 << 20, 20, what="the WAL to grow")
            assert proc.poll() is None, "the migration finished before it could be killed; make it longer"
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # exactly the previous migration: bookkeeping and schema, nothing in between
    assert [n for _, n, _ in plain_bookkeeping(db)] == ["0001_first.sql"]
    assert "huge" not in user_tables(db)
    assert query(db, "SELECT type, name, sql FROM sqlite_schema ORDER BY name") == schema_before
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # rerunning completes it
    p = migrate_popen("up", db, folder.path, backup_dir=tmp_path / "bk")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert f"applied {long_name}" in out
    assert [n for _, n, _ in plain_bookkeeping(db)] == ["0001_first.sql", long_name]
    assert query(db, "SELECT count(*) FROM huge") == [(3000000,)]
