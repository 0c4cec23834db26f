"""A restore of a backup whose migration ledger is behind the migrations folder
gets the pending migrations applied to a copy before the copy is loaded, so the
applications never meet the old schema; a backup whose ledger does not fit the
folder (it names a migration the folder lacks) is refused unless --force-schema."""
import json

from conftest import MigrationFolder, migrate_cli, query, run_cli, sha256_of


def cli(tmp_path, folder, *args):
    return run_cli(*args, "--database", tmp_path / "app.db", "--backup-dir", tmp_path / "backups",
                   "--migrations", folder.path, timeout=120)


def migrated_db(tmp_path, folder):
    db = tmp_path / "app.db"
    r = migrate_cli("up", db, folder.path, backup_dir=tmp_path / "backups")
    assert r.returncode == 0, r.stderr
    return db


def take_backup(tmp_path, folder):
    r = cli(tmp_path, folder, "backup", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["file"]


def columns(db, table):
    return [r[1] for r in query(db, f"PRAGMA table_info({table})")]


def test_an_older_backup_gets_the_pending_migrations_before_it_is_loaded(tmp_path):
    folder = MigrationFolder(tmp_path / "migrations", "plain")
    folder.add(["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"], name="notes")
    db = migrated_db(tmp_path, folder)
    query(db, "INSERT INTO notes(body) VALUES ('from the old days')")
    old = take_backup(tmp_path, folder)
    digest = sha256_of(old)

    folder.add(["ALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT 'none'"], name="tag")
    folder.add(["CREATE TABLE labels (id INTEGER PRIMARY KEY)"], name="labels")
    migrated_db(tmp_path, folder)
    query(db, "INSERT INTO notes(body, tag) VALUES ('new', 'x')")

    r = cli(tmp_path, folder, "restore", old, "--force")
    assert r.returncode == 0, r.stderr
    assert "applied 2 pending migrations" in r.stdout and "0002_tag.sql" in r.stdout, r.stdout
    assert columns(db, "notes") == ["id", "body", "tag"]
    assert query(db, "SELECT body, tag FROM notes") == [("from the old days", "none")]
    assert query(db, "SELECT count(*) FROM labels") == [(0,)]
    assert folder.bookkeeping_keys(db) == [1, 2, 3]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # the backup itself is left as it was, and no scratch copy stays in the folder
    assert sha256_of(old) == digest
    assert not [p.name for p in (tmp_path / "backups").iterdir() if "scratch" in p.name]


def test_a_backup_whose_ledger_names_a_migration_the_folder_lacks_is_refused(tmp_path):
    folder = MigrationFolder(tmp_path / "migrations", "plain")
    folder.add(["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"], name="notes")
    second = folder.add(["CREATE TABLE gone (id INTEGER PRIMARY KEY)"], name="gone")
    db = migrated_db(tmp_path, folder)
    query(db, "INSERT INTO notes(body) VALUES ('kept')")
    backup = take_backup(tmp_path, folder)
    query(db, "INSERT INTO notes(body) VALUES ('after the backup')")
    folder.remove(second)

    r = cli(tmp_path, folder, "restore", backup, "--force")
    assert r.returncode != 0
    assert "0002_gone.sql" in r.stderr and "--force-schema" in r.stderr and "nothing was changed" in r.stderr, r.stderr
    assert query(db, "SELECT count(*) FROM notes") == [(2,)]

    r = cli(tmp_path, folder, "restore", backup, "--force", "--force-schema")
    assert r.returncode == 0, r.stderr
    assert query(db, "SELECT count(*) FROM notes") == [(1,)]
    assert query(db, "SELECT count(*) FROM gone") == [(0,)]
