"""sqlkeeper and drizzle-orm's own migrator (run through tests/interop/drizzle-migrate.mjs)
on the real drizzle-kit fixture: each accepts what the other applied, both leave the
same bookkeeping, and sqlkeeper keeps the child rows that drizzle's parent-table
rebuild loses through ON DELETE CASCADE.

Needs SK_TEST_NODE_MODULES (tests/interop/setup.sh); without it these tests fail."""
import json
import time

import pytest

from conftest import (EX_DATAERR, MigrationFolder, drizzle_bookkeeping, drizzle_migrate, linked_sqlite, migrate_cli,
                      open_db, query, schema_sql, sha256_of, user_tables)

FIXTURE_WHENS = [1735689600000, 1735776000000, 1735862400000]


@pytest.fixture
def fixture_folder(tmp_path):
    return MigrationFolder.drizzle_fixture(tmp_path / "drizzle")


def sk_up(db, folder, tmp_path, *extra):
    return migrate_cli("up", db, folder.path, *extra, backup_dir=tmp_path / "backups")


def bookkeeping_ddl(db):
    return query(db, "SELECT sql FROM sqlite_schema WHERE name='__drizzle_migrations'")


def test_drizzle_finds_nothing_to_do_after_sqlkeeper(fixture_folder, tmp_path):
    db = tmp_path / "sk.db"
    r = sk_up(db, fixture_folder, tmp_path)
    assert r.returncode == 0, r.stderr
    report = drizzle_migrate(db, fixture_folder.path)
    assert report["applied_before"] == report["applied_after"] == 3
    assert [row["created_at"] for row in report["rows"]] == FIXTURE_WHENS
    assert [row["hash"] for row in report["rows"]] == [
        sha256_of(fixture_folder.path / f"{tag}.sql")
        for tag in ("0000_initial", "0001_add_budget_and_index", "0002_rebuild_categories")]


def test_sqlkeeper_finds_nothing_to_do_after_drizzle(fixture_folder, tmp_path):
    db = tmp_path / "dz.db"
    report = drizzle_migrate(db, fixture_folder.path)
    assert report["applied_before"] == 0 and report["applied_after"] == 3
    r = migrate_cli("status", db, fixture_folder.path, "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["format"] == "drizzle" and st["problems"] == []
    assert [(m["key"], m["state"]) for m in st["migrations"]] == [(w, "applied") for w in FIXTURE_WHENS]
    rows_before = drizzle_bookkeeping(db)
    schema_before = schema_sql(db)
    r = sk_up(db, fixture_folder, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "nothing to apply" in r.stdout
    assert drizzle_bookkeeping(db) == rows_before and schema_sql(db) == schema_before


def test_both_tools_leave_identical_bookkeeping_and_schema(fixture_folder, tmp_path):
    sk_db, dz_db = tmp_path / "sk.db", tmp_path / "dz.db"
    assert sk_up(sk_db, fixture_folder, tmp_path).returncode == 0
    drizzle_migrate(dz_db, fixture_folder.path)
    sk_rows, dz_rows = drizzle_bookkeeping(sk_db), drizzle_bookkeeping(dz_db)
    assert sk_rows == dz_rows
    assert [t for _, _, t in sk_rows] == ["integer"] * 3
    assert [c for _, c, _ in sk_rows] == FIXTURE_WHENS
    assert bookkeeping_ddl(sk_db) == bookkeeping_ddl(dz_db) != []
    # and the application schema itself is the same
    app = [s for s in schema_sql(sk_db) if s[1] != "__drizzle_migrations"]
    assert app == [s for s in schema_sql(dz_db) if s[1] != "__drizzle_migrations"]
    assert {"categories", "expenses"} <= user_tables(sk_db)


@pytest.mark.parametrize("first", ["sqlkeeper", "drizzle"])
def test_tools_can_take_turns(tmp_path, first):
    """One tool applies 0000+0001, the other applies 0002 on top."""
    folder = MigrationFolder.drizzle_fixture(tmp_path / "drizzle", keep=2)
    db = tmp_path / "app.db"
    if first == "sqlkeeper":
        assert sk_up(db, folder, tmp_path).returncode == 0
        folder.restore_fixture_entries()
        report = drizzle_migrate(db, folder.path)
        assert (report["applied_before"], report["applied_after"]) == (2, 3)
    else:
        assert drizzle_migrate(db, folder.path)["applied_after"] == 2
        folder.restore_fixture_entries()
        r = sk_up(db, folder, tmp_path)
        assert r.returncode == 0, r.stderr
        assert "applied 0002_rebuild_categories.sql" in r.stdout and "0000_initial" not in r.stdout
    assert [c for _, c, _ in drizzle_bookkeeping(db)] == FIXTURE_WHENS
    r = migrate_cli("status", db, folder.path, "--json")
    assert r.returncode == 0 and all(m["state"] == "applied" for m in json.loads(r.stdout)["migrations"])


def seed(db):
    con = open_db(db)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("INSERT INTO categories (id, name, budget) VALUES (1, 'food', 300), (2, 'rent', 900)")
    con.execute("INSERT INTO expenses (category_id, amount_cents, note) VALUES "
                "(1, 1250, 'lunch'), (1, 830, 'coffee'), (2, 90000, 'march')")
    con.close()


def test_parent_rebuild_keeps_cascading_children(tmp_path):
    """0002 rebuilds `categories` with PRAGMA foreign_keys=OFF; `expenses` references
    it ON DELETE CASCADE. sqlkeeper really turns foreign keys off (outside its
    transaction), so DROP TABLE categories deletes no expense; drizzle runs the
    PRAGMA inside its transaction, where SQLite ignores it, and loses them all."""
    sk = MigrationFolder.drizzle_fixture(tmp_path / "sk", keep=2)
    sk_db = tmp_path / "sk.db"
    assert sk_up(sk_db, sk, tmp_path).returncode == 0
    seed(sk_db)
    expenses = query(sk_db, "SELECT id, category_id, amount_cents, note FROM expenses ORDER BY id")
    assert len(expenses) == 3
    sk.restore_fixture_entries()
    r = sk_up(sk_db, sk, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "applied 0002_rebuild_categories.sql" in r.stdout
    assert query(sk_db, "SELECT id, category_id, amount_cents, note FROM expenses ORDER BY id") == expenses
    assert query(sk_db, "SELECT id, name, budget FROM categories ORDER BY id") == [(1, "food", 300.0),
                                                                                   (2, "rent", 900.0)]
    assert query(sk_db, "PRAGMA foreign_key_check") == []
    assert query(sk_db, "SELECT type FROM pragma_table_info('categories') WHERE name='budget'") == [("REAL",)]

    # contrast: the same starting point migrated by drizzle-orm itself
    dz = MigrationFolder.drizzle_fixture(tmp_path / "dz", keep=2)
    dz_db = tmp_path / "dz.db"
    assert sk_up(dz_db, dz, tmp_path).returncode == 0
    seed(dz_db)
    dz.restore_fixture_entries()
    report = drizzle_migrate(dz_db, dz.path)
    assert report["applied_after"] == 3
    assert query(dz_db, "SELECT count(*) FROM expenses") == [(0,)], \
        "drizzle-orm no longer loses the children; the contrast in this test is stale"
    assert drizzle_bookkeeping(dz_db) == drizzle_bookkeeping(sk_db)


def test_parent_rebuild_that_breaks_a_foreign_key_is_rolled_back(tmp_path):
    folder = MigrationFolder.drizzle_fixture(tmp_path / "d", keep=2)
    db = tmp_path / "app.db"
    assert sk_up(db, folder, tmp_path).returncode == 0
    seed(db)
    rebuild = folder.path / "0002_rebuild_categories.sql"
    text = rebuild.read_text()
    assert 'FROM `categories`;' in text
    rebuild.write_text(text.replace('FROM `categories`;', 'FROM `categories` WHERE "id" <> 2;'))
    folder.restore_fixture_entries()
    r = sk_up(db, folder, tmp_path)
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert "0002_rebuild_categories.sql" in r.stderr and "foreign key violation" in r.stderr
    assert "expenses" in r.stderr
    assert query(db, "SELECT id FROM categories ORDER BY id") == [(1,), (2,)]
    assert query(db, "SELECT count(*) FROM expenses") == [(3,)]
    assert "__new_categories" not in user_tables(db)
    assert [c for _, c, _ in drizzle_bookkeeping(db)] == FIXTURE_WHENS[:2]


def test_drizzle_drift_after_drizzle_applied(tmp_path, fixture_folder):
    """Drift detection works on bookkeeping written by drizzle itself."""
    db = tmp_path / "dz.db"
    drizzle_migrate(db, fixture_folder.path)
    f = fixture_folder.path / "0001_add_budget_and_index.sql"
    f.write_text(f.read_text() + "\n")
    r = sk_up(db, fixture_folder, tmp_path)
    assert r.returncode == EX_DATAERR and "0001_add_budget_and_index.sql" in r.stderr, r.stderr


# better-sqlite3 (the application's driver) writing beside the running daemon.
BETTER_SQLITE_APP = r"""
const Database = require('better-sqlite3');
const [file, rows, mode] = process.argv.slice(1);
const db = new Database(file, { readonly: mode === 'read' });
if (mode !== 'read') {
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE IF NOT EXISTS app_log (id INTEGER PRIMARY KEY, note TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO app_log (note) VALUES (?)');
  for (let i = 0; i < Number(rows); i++) insert.run('row ' + i);
}
console.log(JSON.stringify({
  count: db.prepare('SELECT count(*) AS c FROM app_log').get().c,
  integrity: db.pragma('integrity_check', { simple: true }),
}));
"""


def better_sqlite(db, rows, mode="write"):
    import os
    import subprocess
    from conftest import node_modules_dir
    env = dict(os.environ, NODE_PATH=node_modules_dir())
    r = subprocess.run(["node", "-e", BETTER_SQLITE_APP, str(db), str(rows), mode], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_better_sqlite3_reads_and_writes_what_sqlkeeper_checkpoints_and_backs_up(fixture_folder, daemon_factory):
    from conftest import http_request, linked_sqlite, wait_until
    d = daemon_factory(migrations=fixture_folder.path).start().wait_ready()
    assert better_sqlite(d.database, 2000) == {"count": 2000, "integrity": "ok"}
    status, _, body = http_request(d.socket, "POST", "/checkpoint", timeout=30)
    if linked_sqlite()["wal_reset_fix"]:
        assert status == 200 and json.loads(body)["complete"], body
    else:
        assert status == 409
    # The archive's first chain began with a backup at start; this one is newer.
    before = d.get_json("/status")[1]["backups"]["last"]
    status, _, body = http_request(d.socket, "POST", "/backup", timeout=30)
    assert status == 202, body
    wait_until(lambda: d.get_json("/status")[1]["backups"]["last"] not in (None, before), 60, what="the backup")
    backup = d.get_json("/status")[1]["backups"]["last"]["file"]
    assert better_sqlite(d.database, 1000) == {"count": 3000, "integrity": "ok"}
    assert better_sqlite(backup, 0, "read") == {"count": 2000, "integrity": "ok"}
    # drizzle's bookkeeping is in the backup as in the database
    assert drizzle_bookkeeping(backup) == drizzle_bookkeeping(d.database)


@pytest.mark.skipif(not linked_sqlite()["wal_reset_fix"], reason="the archive is off on a library with the WAL-reset bug")
def test_a_point_in_time_restore_of_what_better_sqlite3_wrote_is_what_drizzles_migrator_accepts(fixture_folder,
                                                                                                 daemon_factory,
                                                                                                 tmp_path):
    """The application's own stack writing while the archive runs (better-sqlite3,
    its default autocheckpoint), then restore --at a moment between two batches:
    the first batch whole, none of the second, and drizzle-orm's migrate() finds
    its bookkeeping as it left it."""
    from datetime import datetime, timezone
    from conftest import run_cli, wait_until
    d = daemon_factory(migrations=fixture_folder.path).start().wait_ready()

    def archive():
        return d.get_json("/status")[1]["archive"]
    wait_until(lambda: archive()["chain"] is not None, 20, what="the first archive chain")
    before = archive()["last_transaction"]
    assert better_sqlite(d.database, 500) == {"count": 500, "integrity": "ok"}
    wait_until(lambda: archive()["last_transaction"] >= before + 501, 20, what="the first batch archived")
    time.sleep(1.2)
    moment = datetime.fromtimestamp(time.time(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    time.sleep(1.2)
    before = archive()["last_transaction"]
    assert better_sqlite(d.database, 300) == {"count": 800, "integrity": "ok"}
    wait_until(lambda: archive()["last_transaction"] >= before + 300, 20, what="the second batch archived")
    restored = tmp_path / "restored.db"
    r = run_cli("restore", "--at", moment, "--to", restored, "--database", d.database, "--backup-dir", d.backups,
                "--migrations", fixture_folder.path)
    assert r.returncode == 0, r.stderr
    assert better_sqlite(restored, 0, "read") == {"count": 500, "integrity": "ok"}
    report = drizzle_migrate(restored, fixture_folder.path)
    assert report["applied_before"] == report["applied_after"] == 3
    assert drizzle_bookkeeping(restored) == drizzle_bookkeeping(d.database)
