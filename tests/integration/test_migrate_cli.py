"""The `sqlkeeper migrate` command surface: the pre-migration backup, `up --dry-run`,
`new NAME`, and `status` as a table and as JSON."""
import json
import os
import re
import sqlite3

import pytest

from conftest import (EX_DATAERR, MigrationFolder, migrate_cli, plain_bookkeeping, query, schema_sql, sha256_of,
                      user_tables)

STAMP = re.compile(r"^app-(\d{8}T\d{6}Z)-pre-migration(-\d+)?\.db$")


@pytest.fixture
def migrated(tmp_path):
    """A non-empty database with two applied plain migrations and a third pending."""
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
                "INSERT INTO notes (body) VALUES ('first'), ('second')"], "notes")
    folder.add(["CREATE INDEX notes_body ON notes (body)"], "index")
    db = tmp_path / "data" / "app.db"
    r = migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk0")
    assert r.returncode == 0, r.stderr
    pending = folder.add(["ALTER TABLE notes ADD COLUMN tag TEXT", "CREATE TABLE tags (name TEXT PRIMARY KEY)"],
                         "tags")
    return folder, db, pending


def test_pre_migration_backup_of_a_non_empty_database(migrated, tmp_path):
    folder, db, pending = migrated
    schema_before = schema_sql(db)
    backups = tmp_path / "backups"
    r = migrate_cli("up", db, folder.path, backup_dir=backups)
    assert r.returncode == 0, r.stderr
    # the folder's lock file (one backup at a time) aside
    files = sorted(p.name for p in backups.iterdir() if p.name != ".sqlkeeper.lock")
    dbs = [f for f in files if f.endswith(".db")]
    assert len(dbs) == 1 and STAMP.match(dbs[0]), files
    assert files == sorted([dbs[0], dbs[0] + ".sha256"]), "no temporary or stray files"
    backup = backups / dbs[0]
    assert f"pre-migration backup: {backup}" in r.stdout
    # the .sha256 file is in sha256sum's format and matches the file
    # (then "# key: value" lines describing it, which sha256sum -c skips)
    assert (backups / (dbs[0] + ".sha256")).read_text().splitlines()[0] == f"{sha256_of(backup)}  {dbs[0]}"
    # a self-contained, sound copy of the database as it was before the migration
    assert not os.path.exists(str(backup) + "-wal")
    con = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert sorted(con.execute("SELECT type, name, sql FROM sqlite_schema "
                                  "WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").fetchall()) == schema_before
        assert con.execute("SELECT body FROM notes ORDER BY id").fetchall() == [("first",), ("second",)]
        assert con.execute("SELECT count(*) FROM sqlkeeper_migrations").fetchone() == (2,)
    finally:
        con.close()
    assert "tags" in user_tables(db)
    assert stat_mode(backup) == 0o600


def stat_mode(path):
    return os.stat(path).st_mode & 0o777


@pytest.mark.parametrize("pre_existing", ["absent", "zero-byte", "empty-sqlite"])
def test_no_backup_for_a_fresh_or_empty_database(tmp_path, pre_existing):
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(["CREATE TABLE t (id INTEGER)"], "t")
    db = tmp_path / "app.db"
    if pre_existing == "zero-byte":
        db.write_bytes(b"")
    elif pre_existing == "empty-sqlite":
        sqlite3.connect(str(db)).execute("PRAGMA user_version=0").connection.close()
    backups = tmp_path / "backups"
    r = migrate_cli("up", db, folder.path, backup_dir=backups)
    assert r.returncode == 0, r.stderr
    assert "t" in user_tables(db)
    assert "pre-migration backup" not in r.stdout
    assert not backups.exists() or list(backups.iterdir()) == []


def db_state(db):
    """Everything a dry run must not change: the file bytes and the bookkeeping."""
    wal = str(db) + "-wal"
    # A read-only SQLite connection may leave an empty -wal/-shm; WAL *content* must not change.
    wal_sha = sha256_of(wal) if os.path.exists(wal) and os.path.getsize(wal) else None
    return (sha256_of(db), wal_sha, plain_bookkeeping(db), schema_sql(db))


def test_dry_run_leaves_the_database_byte_identical(migrated, tmp_path):
    folder, db, pending = migrated
    before = db_state(db)
    backups = tmp_path / "backups"
    r = migrate_cli("up", db, folder.path, "--dry-run", backup_dir=backups)
    assert r.returncode == 0, r.stderr
    assert f"would apply {pending}" in r.stdout
    assert db_state(db) == before
    assert not backups.exists(), "a dry run takes no backup"
    # the real run then applies exactly what the dry run announced
    r = migrate_cli("up", db, folder.path, backup_dir=backups)
    assert r.returncode == 0 and f"applied {pending}" in r.stdout, r.stderr


def test_dry_run_reports_the_failure_the_real_run_would_hit(migrated, tmp_path):
    folder, db, pending = migrated
    bad = folder.add(["DELETE FROM notes"], "wipe")
    before = db_state(db)
    r = migrate_cli("up", db, folder.path, "--dry-run", backup_dir=tmp_path / "bk")
    assert r.returncode == EX_DATAERR, r.stderr
    assert bad in r.stderr and "lose rows" in r.stderr
    assert db_state(db) == before


def test_dry_run_on_a_missing_database_creates_nothing(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    name = folder.add(["CREATE TABLE t (id INTEGER)"], "t")
    db = tmp_path / "data" / "app.db"
    r = migrate_cli("up", db, folder.path, "--dry-run", backup_dir=tmp_path / "bk")
    assert r.returncode == 0, r.stderr
    assert f"would apply {name}" in r.stdout
    assert not db.exists() and not db.parent.exists()


@pytest.mark.parametrize("existing, expected", [
    ([], "0001_add_tags.sql"),
    (["0001_init.sql", "0002_more.sql"], "0003_add_tags.sql"),
    (["001_init.sql", "009_more.sql"], "010_add_tags.sql"),
    (["000001_init.sql"], "000002_add_tags.sql"),
    (["0007_init.sql", "0041_more.sql"], "0042_add_tags.sql"),
])
def test_new_creates_the_next_numbered_file_with_the_folders_width(tmp_path, existing, expected):
    folder = tmp_path / "m"
    folder.mkdir()
    for name in existing:
        (folder / name).write_text("CREATE TABLE t_%s (id INTEGER);\n" % name.split("_")[0])
    r = migrate_cli(["new", "add_tags"], tmp_path / "app.db", folder)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(folder / expected)
    assert sorted(p.name for p in folder.iterdir()) == sorted(existing + [expected])
    assert not (tmp_path / "app.db").exists(), "`new` does not touch the database"


def test_new_refuses_a_bad_name_and_a_drizzle_folder(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    r = migrate_cli(["new", "../escape"], tmp_path / "app.db", folder)
    assert r.returncode != 0 and list(folder.iterdir()) == []
    drizzle = MigrationFolder.drizzle_fixture(tmp_path / "d")
    r = migrate_cli(["new", "x"], tmp_path / "app.db", drizzle.path)
    assert r.returncode == EX_DATAERR and "drizzle" in r.stderr


def test_status_table_and_json(migrated):
    folder, db, pending = migrated
    r = migrate_cli("status", db, folder.path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"plain migrations in {folder.path} for {db}"
    assert lines[1].split() == ["STATE", "APPLIED", "AT", "MIGRATION"]
    rows = [line.split() for line in lines[2:]]
    assert [(row[0], row[-1]) for row in rows] == [("applied", "0001_notes.sql"), ("applied", "0002_index.sql"),
                                                   ("pending", pending)]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rows[0][1])
    assert rows[2][1] == "-"

    r = migrate_cli("status", db, folder.path, "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert st["format"] == "plain" and st["problems"] == []
    assert st["database"] == str(db) and st["folder"] == str(folder.path)
    assert [(m["key"], m["name"], m["state"]) for m in st["migrations"]] == [
        (1, "0001_notes.sql", "applied"), (2, "0002_index.sql", "applied"), (3, pending, "pending")]
    assert all(m["sha256"] == sha256_of(folder.path / m["name"]) for m in st["migrations"])
    assert "applied_at" in st["migrations"][0] and "applied_at" not in st["migrations"][2]


def test_status_on_a_missing_database_lists_everything_pending(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(["CREATE TABLE t (id INTEGER)"], "t")
    db = tmp_path / "app.db"
    r = migrate_cli("status", db, folder.path, "--json")
    assert r.returncode == 0, r.stderr
    assert [m["state"] for m in json.loads(r.stdout)["migrations"]] == ["pending"]
    assert not db.exists()


def test_new_twice_in_a_row(tmp_path):
    """The first `new` file holds only a comment header until it is edited; that must
    not stop the next `new` (the contents are checked by status/up, not by new)."""
    folder = tmp_path / "m"
    first = migrate_cli(["new", "first"], tmp_path / "app.db", folder)
    assert first.returncode == 0, first.stderr
    second = migrate_cli(["new", "second"], tmp_path / "app.db", folder)
    assert second.returncode == 0, second.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["0001_first.sql", "0002_second.sql"]
    # still unedited: status refuses it, naming the file
    r = migrate_cli("status", tmp_path / "app.db", folder)
    assert r.returncode == EX_DATAERR and "0001_first.sql" in r.stderr and "empty" in r.stderr


def test_pre_migration_backups_in_the_same_second_do_not_collide(migrated, tmp_path):
    folder, db, pending = migrated
    backups = tmp_path / "backups"
    assert migrate_cli("up", db, folder.path, backup_dir=backups).returncode == 0
    folder.add(["CREATE TABLE more (id INTEGER)"], "more")
    assert migrate_cli("up", db, folder.path, backup_dir=backups).returncode == 0
    dbs = sorted(p for p in backups.iterdir() if p.suffix == ".db")
    assert len(dbs) == 2 and all(STAMP.match(p.name) for p in dbs), dbs
    for p in dbs:
        assert (backups / (p.name + ".sha256")).read_text().split()[0] == sha256_of(p)
    # the second backup holds the first migration's result, the first does not
    schemas = [sqlite3.connect(f"file:{p}?mode=ro", uri=True).execute(
        "SELECT count(*) FROM sqlite_schema WHERE name='tags'").fetchone()[0] for p in dbs]
    assert sorted(schemas) == [0, 1]
