"""Migrations on the daemon's path (`sqlkeeper run`): READY=1 only once the schema is
in place; a failing migration means exit 65, never READY=1, earlier ones applied."""
from conftest import EX_DATAERR, MigrationFolder, drizzle_bookkeeping, plain_bookkeeping, query, user_tables


def test_failing_migration_stops_the_daemon_before_ready(daemon_factory, tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(["CREATE TABLE good (id INTEGER)", "INSERT INTO good VALUES (1)"], "good")
    bad = folder.add(["CREATE TABLE partial (id INTEGER)", "INSERT INTO nowhere VALUES (1)"], "bad")
    d = daemon_factory(migrations=folder.path).start()
    assert d.wait_exit(timeout=20) == EX_DATAERR, d.output()
    d.notify.drain()
    assert d.notify.all("READY") == [], d.notify.messages
    out = d.output()
    assert bad in out and "statement 2" in out and "no such table: nowhere" in out
    # the earlier migration stays applied, the failing one left nothing
    assert [n for _, n, _ in plain_bookkeeping(d.database)] == ["0001_good.sql"]
    assert "good" in user_tables(d.database) and "partial" not in user_tables(d.database)
    # systemd is told why (STATUS= and ERRNO=) before the exit
    statuses = [v for _, v in d.notify.all("STATUS")]
    assert any(bad in s for s in statuses), statuses
    assert not d.socket.exists()


def test_ready_comes_after_the_schema_exists(daemon_factory, tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(["CREATE TABLE first (id INTEGER)"], "first")
    # slow enough that a READY=1 sent before migrating would be caught
    folder.add(["CREATE TABLE filler (i INTEGER PRIMARY KEY)",
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 500000) "
                "INSERT INTO filler SELECT i FROM c"], "filler")
    last = folder.add(["CREATE TABLE last_one (id INTEGER)"], "last_one")
    d = daemon_factory(migrations=folder.path).start()
    d.notify.wait_for("READY", "1", timeout=30)
    # checked at the moment READY=1 arrived: everything is already applied
    assert [n for _, n, _ in plain_bookkeeping(d.database)][-1] == last
    assert {"first", "filler", "last_one"} <= user_tables(d.database)
    assert query(d.database, "SELECT count(*) FROM filler") == [(500000,)]
    status, body = d.get_json("/health/ready")
    assert status == 200
    # and the STATUS= line said what it was doing while it migrated
    statuses = [v for _, v in d.notify.all("STATUS")]
    assert any("0002_filler.sql" in s for s in statuses), statuses


def test_daemon_applies_a_drizzle_folder(daemon_factory, tmp_path):
    folder = MigrationFolder.drizzle_fixture(tmp_path / "drizzle")
    d = daemon_factory(migrations=folder.path).start().wait_ready(timeout=30)
    assert [c for _, c, _ in drizzle_bookkeeping(d.database)] == [k for k, _ in folder.entries]
    assert {"categories", "expenses"} <= user_tables(d.database)


def test_daemon_refuses_a_drifted_folder(daemon_factory, tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    name = folder.add(["CREATE TABLE a (id INTEGER)"], "a")
    d = daemon_factory(migrations=folder.path).start().wait_ready(timeout=30)
    d.stop()
    assert d.proc.returncode == 0
    (folder.path / name).write_text("CREATE TABLE a (id INTEGER, extra TEXT);\n")
    d2 = daemon_factory(migrations=folder.path)
    d2.args[d2.args.index("--database") + 1] = d.database  # the same database as before
    d2.database = d.database
    d2.start()
    assert d2.wait_exit(timeout=20) == EX_DATAERR, d2.output()
    assert d2.notify.all("READY") == []
    assert name in d2.output()
