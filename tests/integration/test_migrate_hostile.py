"""Migration folders and databases as a hostile or careless outsider leaves them
(issue 16): files that are not regular files or are huge, names that forge log
lines, a database with tables but no bookkeeping (a foreign -wal replayed into
it), and `migrate baseline`, the operator's way to adopt such a database."""
import os
import resource
import sqlite3
import subprocess

import pytest

from conftest import (BIN, EX_DATAERR, MigrationFolder, clean_env, drizzle_bookkeeping, migrate_cli,
                      plain_bookkeeping, query, sha256_of, user_tables)

# Generous: a correct sqlkeeper answers each of these in milliseconds; the bound
# only turns a hang (a FIFO opened for reading) into a failure.
TIMEOUT = 30


def up(folder, db, *extra, **kw):
    return migrate_cli("up", db, folder, *extra, backup_dir=db.parent.parent / "backups", timeout=TIMEOUT, **kw)


def plain_folder(tmp_path):
    folder = MigrationFolder(tmp_path / "migrations", "plain")
    folder.add(["CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
                "INSERT INTO notes (body) VALUES ('from migration 1')"], "notes")
    folder.add(["CREATE TABLE tags (name TEXT PRIMARY KEY)"], "tags")
    return folder


def assert_refused_naming(result, *words):
    assert result.returncode == EX_DATAERR, (result.returncode, result.stderr)
    for w in words:
        assert w in result.stderr, result.stderr


# ---- item 7: only regular files, of bounded size, read without blocking ----

def test_fifo_among_the_migrations_is_refused_without_blocking(tmp_path):
    folder = plain_folder(tmp_path)
    os.mkfifo(folder.path / "0003_pipe.sql")
    db = tmp_path / "data" / "app.db"
    r = up(folder.path, db)
    assert_refused_naming(r, "0003_pipe.sql", "a FIFO")
    assert not db.exists() or user_tables(db) == set()


def test_daemon_with_a_fifo_among_the_migrations_exits_65(daemon_factory, tmp_path):
    folder = plain_folder(tmp_path)
    os.mkfifo(folder.path / "0003_pipe.sql")
    d = daemon_factory(migrations=folder.path).start()
    assert d.wait_exit(timeout=TIMEOUT) == EX_DATAERR, d.output()
    assert "0003_pipe.sql is a FIFO" in d.output()


def without_asan():
    """True unless the binary is built with AddressSanitizer, which reserves far
    more address space than any useful RLIMIT_AS."""
    with open(BIN, "rb") as f:
        return b"__asan_init" not in f.read()


def test_symlink_to_dev_zero_is_refused_unread(tmp_path):
    folder = plain_folder(tmp_path)
    os.symlink("/dev/zero", folder.path / "0003_zero.sql")
    db = tmp_path / "data" / "app.db"
    # Reading /dev/zero never ends: cap the memory (ASan: its own allocator
    # limit) so that a sqlkeeper that tries fails fast instead of filling the machine.
    limit = 1 << 30
    preexec = (lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))) if without_asan() else None
    env = clean_env({"ASAN_OPTIONS": "malloc_limit_mb=1024:allocator_may_return_null=1"})
    args = [BIN, "migrate", "up", "--database", str(db), "--migrations", str(folder.path)]
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=preexec)
    assert_refused_naming(r, "0003_zero.sql is a character device")


def test_symlink_loop_is_a_migration_error(tmp_path):
    folder = plain_folder(tmp_path)
    os.symlink("0003_loop.sql", folder.path / "0003_loop.sql")
    r = up(folder.path, tmp_path / "data" / "app.db")
    assert_refused_naming(r, "0003_loop.sql", "symbolic link loop")


def test_file_over_64_mib_is_refused_unread(tmp_path):
    folder = plain_folder(tmp_path)
    with open(folder.path / "0003_huge.sql", "wb") as f:
        f.truncate((64 << 20) + 1)  # sparse: costs no disk
    r = up(folder.path, tmp_path / "data" / "app.db")
    assert_refused_naming(r, "0003_huge.sql is larger than 64 MiB")


def test_drizzle_journal_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    folder = MigrationFolder.drizzle_fixture(tmp_path / "migrations")
    journal = folder.path / "meta" / "_journal.json"
    journal.unlink()
    os.mkfifo(journal)
    r = up(folder.path, tmp_path / "data" / "app.db")
    assert_refused_naming(r, "_journal.json is a FIFO")


def test_drizzle_migration_that_links_to_a_device_is_refused(tmp_path):
    folder = MigrationFolder.drizzle_fixture(tmp_path / "migrations")
    name = folder.entries[1][1]
    (folder.path / name).unlink()
    os.symlink("/dev/null", folder.path / name)
    r = up(folder.path, tmp_path / "data" / "app.db")
    assert_refused_naming(r, f"{name} is a character device")


def test_literal_full_of_semicolons_is_split_in_one_pass(tmp_path):
    # 1 MB of ';' inside one string literal took about 90 s to split when each ';'
    # re-checked the statement from its start; one pass takes milliseconds.
    folder = MigrationFolder(tmp_path / "migrations", "plain")
    folder.add(["CREATE TABLE blobs (v TEXT)", "INSERT INTO blobs VALUES ('" + ";" * (1 << 20) + "')"], "blobs")
    db = tmp_path / "data" / "app.db"
    r = up(folder.path, db)
    assert r.returncode == 0, r.stderr
    assert query(db, "SELECT length(v) FROM blobs") == [(1 << 20,)]


# ---- item 8: names that could forge a log line are refused, shown escaped ----

def test_file_name_with_a_newline_is_refused_and_shown_escaped(tmp_path):
    folder = plain_folder(tmp_path)
    evil = "0003_evil\n2025-01-01 00:00:00.000 [critical] FAKE LOG LINE.sql"
    (folder.path / evil).write_text("CREATE TABLE evil (x);\n")
    db = tmp_path / "data" / "app.db"
    r = up(folder.path, db)
    assert_refused_naming(r, r'"0003_evil\n2025-01-01 00:00:00.000 [critical] FAKE LOG LINE.sql"')
    assert not any(line.startswith("2025-01-01") for line in r.stderr.splitlines()), r.stderr
    assert not db.exists() or "evil" not in user_tables(db)


def test_daemon_logs_no_forged_line_for_a_hostile_name(daemon_factory, tmp_path):
    folder = plain_folder(tmp_path)
    (folder.path / "0003_evil\n[critical] FAKE.sql").write_text("SELECT 1;\n")
    d = daemon_factory(migrations=folder.path).start()
    assert d.wait_exit(timeout=TIMEOUT) == EX_DATAERR, d.output()
    out = d.output()
    assert r'"0003_evil\n[critical] FAKE.sql"' in out, out
    assert not any(line.startswith("[critical] FAKE") for line in out.splitlines()), out


def test_drizzle_tag_with_a_newline_is_refused_escaped(tmp_path):
    folder = MigrationFolder.drizzle_fixture(tmp_path / "migrations")
    tag = "0003_evil\nFAKE"
    (folder.path / f"{tag}.sql").write_text("SELECT 1;\n")
    folder.entries.append((folder.next_key(), f"{tag}.sql"))
    folder._write_journal()
    r = up(folder.path, tmp_path / "data" / "app.db")
    assert_refused_naming(r, r'tag "0003_evil\nFAKE" is not a plain file name')


# ---- item 10: tables without bookkeeping are refused unless adopted ----

def foreign_wal_database(db):
    """What the tester did: a new, empty WAL-mode database with a -wal file from
    another application's database beside it. SQLite checks a WAL against its own
    header only, so it replays the other database's tables into this one on the
    next open. The -wal is copied while its connection still holds it
    un-checkpointed."""
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db), isolation_level=None)
    assert con.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    con.close()
    assert user_tables(db) == set()
    other = db.parent / "other.db"
    con = sqlite3.connect(str(other), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER)")
    con.execute("INSERT INTO customers (name) VALUES ('acme')")
    (db.parent / (db.name + "-wal")).write_bytes((db.parent / "other.db-wal").read_bytes())
    con.close()
    other.unlink()


def test_foreign_wal_replayed_into_the_database_is_refused(tmp_path):
    folder = plain_folder(tmp_path)
    db = tmp_path / "data" / "app.db"
    foreign_wal_database(db)
    r = up(folder.path, db)
    assert_refused_naming(r, str(db), "customers, invoices", "no sqlkeeper_migrations", "sqlkeeper migrate baseline")
    assert "notes" not in user_tables(db) and plain_bookkeeping(db) == []
    assert not (tmp_path / "backups").exists() or list((tmp_path / "backups").iterdir()) == []


def test_dry_run_and_status_refuse_an_unmanaged_database_too(tmp_path):
    folder = plain_folder(tmp_path)
    db = tmp_path / "data" / "app.db"
    foreign_wal_database(db)
    r = migrate_cli("up", db, folder.path, "--dry-run", timeout=TIMEOUT)
    assert_refused_naming(r, str(db), "customers")
    r = migrate_cli("status", db, folder.path, timeout=TIMEOUT)
    assert r.returncode == EX_DATAERR and "problem: database" in r.stdout and "migrate baseline" in r.stdout, r


@pytest.mark.parametrize("fmt", ["plain", "drizzle"])
def test_database_made_by_another_tool_is_refused_naming_a_few_tables(tmp_path, fmt):
    folder = plain_folder(tmp_path) if fmt == "plain" else MigrationFolder.drizzle_fixture(tmp_path / "migrations")
    db = tmp_path / "data" / "app.db"
    db.parent.mkdir(parents=True)
    con = sqlite3.connect(str(db), isolation_level=None)
    for i in range(8):
        con.execute(f"CREATE TABLE t{i} (x)")
    con.close()
    r = up(folder.path, db)
    table = "sqlkeeper_migrations" if fmt == "plain" else "__drizzle_migrations"
    assert_refused_naming(r, "t0, t1, t2, t3, t4 and 3 more", f"no {table}")
    assert len(user_tables(db)) == 8


def test_daemon_refuses_an_unmanaged_database(daemon_factory, tmp_path):
    folder = plain_folder(tmp_path)
    d = daemon_factory(migrations=folder.path)
    foreign_wal_database(d.database)
    d.start()
    assert d.wait_exit(timeout=TIMEOUT) == EX_DATAERR, d.output()
    assert "customers, invoices" in d.output() and "migrate baseline" in d.output()
    assert "notes" not in user_tables(d.database)


def test_empty_database_and_managed_database_are_migrated_as_before(tmp_path):
    folder = plain_folder(tmp_path)
    db = tmp_path / "data" / "app.db"
    db.parent.mkdir(parents=True)
    sqlite3.connect(str(db)).close()  # an empty file: no tables, nothing to adopt
    assert up(folder.path, db).returncode == 0
    query(db, "CREATE TABLE app_owned (x)")  # tables beside the bookkeeping are the application's business
    folder.add(["CREATE TABLE more (x)"], "more")
    r = up(folder.path, db)
    assert r.returncode == 0, r.stderr
    assert [v for v, _, _ in plain_bookkeeping(db)] == [1, 2, 3]


def baseline(folder, db, *extra):
    return migrate_cli(["baseline", *extra], db, folder, timeout=TIMEOUT)


def test_baseline_records_without_running_then_up_applies_the_rest(tmp_path):
    folder = plain_folder(tmp_path)
    db = tmp_path / "data" / "app.db"
    db.parent.mkdir(parents=True)
    # The schema of migration 1, made by hand (as another tool would have).
    query(db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    r = baseline(folder.path, db, "--to", "1")
    assert r.returncode == 0, r.stderr
    assert "0001_notes.sql" in r.stdout and "0002_tags.sql" not in r.stdout
    assert plain_bookkeeping(db) == [(1, "0001_notes.sql", sha256_of(folder.path / "0001_notes.sql"))]
    assert query(db, "PRAGMA user_version") == [(1,)]
    assert query(db, "SELECT count(*) FROM notes") == [(0,)]  # recorded, not run
    r = up(folder.path, db)
    assert r.returncode == 0, r.stderr
    assert "applied 0002_tags.sql" in r.stdout and "0001_notes" not in r.stdout
    assert "tags" in user_tables(db) and query(db, "PRAGMA user_version") == [(2,)]


def test_foreign_wal_database_can_be_adopted_with_baseline(tmp_path):
    folder = plain_folder(tmp_path)
    db = tmp_path / "data" / "app.db"
    foreign_wal_database(db)
    r = baseline(folder.path, db)  # default: every migration in the folder
    assert r.returncode == 0, r.stderr
    assert [v for v, _, _ in plain_bookkeeping(db)] == [1, 2]
    r = up(folder.path, db)
    assert r.returncode == 0 and "nothing to apply" in r.stdout, r


def test_baseline_writes_drizzle_bookkeeping_as_migrate_up_does(tmp_path):
    folder = MigrationFolder.drizzle_fixture(tmp_path / "migrations")
    reference = tmp_path / "ref" / "app.db"
    assert up(folder.path, reference).returncode == 0
    db = tmp_path / "data" / "app.db"
    db.parent.mkdir(parents=True)
    query(db, "CREATE TABLE adopted (x)")
    second = folder.entries[1]
    r = baseline(folder.path, db, "--to", second[1][:-len(".sql")])  # a tag names the entry too
    assert r.returncode == 0, r.stderr
    assert drizzle_bookkeeping(db) == drizzle_bookkeeping(reference)[:2]
    r = baseline(folder.path, db, "--to", str(second[0]))
    assert_refused_naming(r, "already has migration bookkeeping (__drizzle_migrations)")


def test_baseline_refuses_what_it_cannot_adopt(tmp_path):
    folder = plain_folder(tmp_path)
    db = tmp_path / "data" / "app.db"
    assert_refused_naming(baseline(folder.path, db), "does not exist")
    assert not db.exists()
    db.parent.mkdir(parents=True)
    sqlite3.connect(str(db)).close()
    assert_refused_naming(baseline(folder.path, db), "has no tables")
    query(db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    assert_refused_naming(baseline(folder.path, db, "--to", "7"), "no migration '7'")
    assert plain_bookkeeping(db) == []
    assert baseline(folder.path, db).returncode == 0
    assert_refused_naming(baseline(folder.path, db), "already has migration bookkeeping (sqlkeeper_migrations)")
    r = migrate_cli("status", db, folder.path, "--to", "1", timeout=TIMEOUT)
    assert r.returncode == 78 and "--to belongs to" in r.stderr, r
