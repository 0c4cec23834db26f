"""`sqlkeeper migrate` on both folder formats (plain NNNN_name.sql and drizzle-kit):
fresh, partial and fully applied databases, and every way a folder can disagree with
what the database recorded (drift, missing file, out-of-order entry), plus failures
inside a migration and files that are unacceptable before anything runs."""
import json

import pytest

from conftest import (EX_DATAERR, MigrationFolder, drizzle_bookkeeping, migrate_cli, plain_bookkeeping, query,
                      sha256_of, user_tables)

FORMATS = ["plain", "drizzle"]


@pytest.fixture(params=FORMATS)
def fmt(request):
    return request.param


@pytest.fixture
def setup(tmp_path, fmt):
    folder = MigrationFolder(tmp_path / "migrations", fmt)
    db = tmp_path / "data" / "app.db"
    return folder, db, tmp_path / "backups"


def up(folder, db, backups, *extra):
    return migrate_cli("up", db, folder.path, *extra, backup_dir=backups)


def status_json(folder, db, *extra):
    r = migrate_cli("status", db, folder.path, "--json", *extra)
    return r, json.loads(r.stdout) if r.stdout.strip() else None


def bookkeeping_table(fmt):
    return "sqlkeeper_migrations" if fmt == "plain" else "__drizzle_migrations"


def add_three(folder):
    a = folder.add(["CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)", "INSERT INTO a (v) VALUES ('one')"], "a")
    b = folder.add(["CREATE TABLE b (id INTEGER PRIMARY KEY)", "CREATE INDEX b_id ON b (id)"], "b")
    c = folder.add(["ALTER TABLE a ADD COLUMN w INTEGER DEFAULT 7"], "c")
    return a, b, c


def test_fresh_database_applies_everything_in_order(setup, fmt):
    folder, db, backups = setup
    a, b, c = add_three(folder)
    r = up(folder, db, backups)
    assert r.returncode == 0, r.stderr
    for name in (a, b, c):
        assert f"applied {name}" in r.stdout
    assert r.stdout.index(a) < r.stdout.index(b) < r.stdout.index(c)
    assert {"a", "b", bookkeeping_table(fmt)} <= user_tables(db)
    assert query(db, "SELECT v, w FROM a") == [("one", 7)]
    assert folder.bookkeeping_keys(db) == [k for k, _ in folder.entries]
    if fmt == "plain":
        assert [(v, n) for v, n, _ in plain_bookkeeping(db)] == [(1, a), (2, b), (3, c)]
        assert [s for _, _, s in plain_bookkeeping(db)] == [sha256_of(folder.path / n) for n in (a, b, c)]
        assert query(db, "PRAGMA user_version") == [(3,)]
    else:
        assert [h for h, _, _ in drizzle_bookkeeping(db)] == [sha256_of(folder.path / n) for n in (a, b, c)]
    # a fresh database gets no pre-migration backup
    assert not backups.exists() or not any(backups.iterdir())


def test_partial_then_more_added(setup, fmt):
    folder, db, backups = setup
    a = folder.add(["CREATE TABLE a (id INTEGER PRIMARY KEY)"], "a")
    assert up(folder, db, backups).returncode == 0
    b = folder.add(["CREATE TABLE b (id INTEGER PRIMARY KEY)"], "b")
    c = folder.add(["INSERT INTO b VALUES (1)"], "c")
    r, st = status_json(folder, db)
    assert r.returncode == 0, r.stderr
    assert [(m["name"], m["state"]) for m in st["migrations"]] == [(a, "applied"), (b, "pending"), (c, "pending")]
    r = up(folder, db, backups)
    assert r.returncode == 0, r.stderr
    assert f"applied {a}" not in r.stdout
    assert f"applied {b}" in r.stdout and f"applied {c}" in r.stdout
    assert query(db, "SELECT id FROM b") == [(1,)]
    assert len(folder.bookkeeping_keys(db)) == 3


def test_fully_applied_second_run_applies_nothing(setup, fmt):
    folder, db, backups = setup
    add_three(folder)
    assert up(folder, db, backups).returncode == 0
    rows_before = query(db, f"SELECT * FROM {bookkeeping_table(fmt)}")
    r = up(folder, db, backups)
    assert r.returncode == 0, r.stderr
    assert "nothing to apply" in r.stdout
    assert "applied" not in r.stdout.replace("nothing to apply", "")
    assert query(db, f"SELECT * FROM {bookkeeping_table(fmt)}") == rows_before
    assert query(db, "SELECT count(*) FROM a") == [(1,)]  # the INSERT did not run twice
    # nothing was applied, so no pre-migration backup either
    assert not backups.exists() or not any(backups.iterdir())


def test_drift_is_refused_naming_the_file(setup, fmt):
    folder, db, backups = setup
    a, b, _ = add_three(folder)
    assert up(folder, db, backups).returncode == 0
    d = folder.add(["CREATE TABLE d (id INTEGER)"], "d")
    (folder.path / b).write_text((folder.path / b).read_text() + "\n-- edited after it was applied\n")
    r = up(folder, db, backups)
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert b in r.stderr and "changed" in r.stderr
    assert "d" not in user_tables(db), "nothing may be applied while the folder is refused"
    r, st = status_json(folder, db)
    assert r.returncode == EX_DATAERR
    assert {m["name"]: m["state"] for m in st["migrations"]}[b] == "drifted"
    assert {m["name"]: m["state"] for m in st["migrations"]}[d] == "pending"
    assert any(b in p for p in st["problems"])


def test_missing_file_is_refused(setup, fmt):
    folder, db, backups = setup
    a, b, c = add_three(folder)
    assert up(folder, db, backups).returncode == 0
    key_b = folder.key_of(b)
    folder.remove(b)  # drizzle: the file and its journal entry
    folder.add(["CREATE TABLE d (id INTEGER)"], "d")
    r = up(folder, db, backups)
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert "gone" in r.stderr
    # plain bookkeeping keeps file names; drizzle's only has the journal's `when`
    assert (b if fmt == "plain" else str(key_b)) in r.stderr
    assert "d" not in user_tables(db)
    r, st = status_json(folder, db)
    assert r.returncode == EX_DATAERR
    assert [m["state"] for m in st["migrations"] if m["key"] == key_b] == ["missing"]


def test_drizzle_journal_entry_without_its_file_is_refused(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "drizzle")
    db = tmp_path / "app.db"
    a, b, c = add_three(folder)
    assert up(folder, db, tmp_path / "bk").returncode == 0
    folder.remove(b, keep_journal_entry=True)
    r = up(folder, db, tmp_path / "bk")
    assert r.returncode == EX_DATAERR, r.stderr
    assert b in r.stderr


def test_out_of_order_refused_then_allowed(setup, fmt):
    folder, db, backups = setup
    first = folder.add(["CREATE TABLE a (id INTEGER)"], "a")
    last = folder.add(["CREATE TABLE c (id INTEGER)"], "c", key=folder.next_key() + (1 if fmt == "plain" else 86400000))
    assert up(folder, db, backups).returncode == 0
    # a late merge: a migration numbered/dated between the two applied ones
    late_key = folder.key_of(first) + (1 if fmt == "plain" else 3600000)
    late = folder.add(["CREATE TABLE b (id INTEGER)", "INSERT INTO b VALUES (42)"], "late", key=late_key)
    r = up(folder, db, backups)
    assert r.returncode == EX_DATAERR, (r.returncode, r.stdout, r.stderr)
    assert late in r.stderr and "out-of-order" in r.stderr
    assert "b" not in user_tables(db)
    r, st = status_json(folder, db)
    assert {m["name"]: m["state"] for m in st["migrations"]}[late] == "out-of-order"

    r = up(folder, db, backups, "--allow-out-of-order")
    assert r.returncode == 0, r.stderr
    assert f"applied {late}" in r.stdout and last not in r.stdout
    assert query(db, "SELECT id FROM b") == [(42,)]
    assert sorted(folder.bookkeeping_keys(db)) == sorted(k for k, _ in folder.entries)
    # and it stays applied: a plain rerun has nothing to do and nothing to complain about
    r = up(folder, db, backups)
    assert r.returncode == 0 and "nothing to apply" in r.stdout, r.stderr


def test_bad_sql_in_the_middle_rolls_back_only_the_failing_migration(setup, fmt):
    folder, db, backups = setup
    a = folder.add(["CREATE TABLE a (id INTEGER PRIMARY KEY)", "INSERT INTO a VALUES (1)"], "a")
    bad = folder.add(["CREATE TABLE half (id INTEGER)", "INSERT INTO half VALUES (1)",
                      "INSERT INTO no_such_table VALUES (1)", "CREATE TABLE never (id INTEGER)"], "bad")
    after = folder.add(["CREATE TABLE after_bad (id INTEGER)"], "after")
    r = up(folder, db, backups)
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert bad in r.stderr
    assert "statement 3 (line 3)" in r.stderr
    assert "no such table: no_such_table" in r.stderr
    tables = user_tables(db)
    assert "a" in tables
    assert not {"half", "never", "after_bad"} & tables
    assert folder.bookkeeping_keys(db) == [folder.key_of(a)]
    assert query(db, "SELECT id FROM a") == [(1,)]
    r, st = status_json(folder, db)
    assert [(m["name"], m["state"]) for m in st["migrations"]] == [(a, "applied"), (bad, "pending"),
                                                                    (after, "pending")]


def test_empty_file_is_an_error(setup, fmt):
    folder, db, backups = setup
    folder.add(["CREATE TABLE a (id INTEGER)"], "a")
    empty = folder.add("-- nothing here yet\n\n", "empty")
    r = up(folder, db, backups)
    assert r.returncode == EX_DATAERR, r.stderr
    assert empty in r.stderr and "empty" in r.stderr
    assert not db.exists() or "a" not in user_tables(db), "a bad folder must be refused before anything runs"


def test_non_utf8_file_is_an_error(setup, fmt):
    folder, db, backups = setup
    folder.add(["CREATE TABLE a (id INTEGER)"], "a")
    latin1 = folder.add(None, "latin1", raw="INSERT INTO a VALUES ('caf\xe9');\n".encode("latin-1"))
    r = up(folder, db, backups)
    assert r.returncode == EX_DATAERR, r.stderr
    assert latin1 in r.stderr and "UTF-8" in r.stderr
    assert not db.exists() or "a" not in user_tables(db)


def test_plain_duplicate_prefixes_name_both_files(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    (folder.path / "0001_a.sql").write_text("CREATE TABLE a (id INTEGER);\n")
    (folder.path / "001_b.sql").write_text("CREATE TABLE b (id INTEGER);\n")
    r = migrate_cli("up", tmp_path / "app.db", folder.path, backup_dir=tmp_path / "bk")
    assert r.returncode == EX_DATAERR, r.stderr
    assert "0001_a.sql" in r.stderr and "001_b.sql" in r.stderr
    r = migrate_cli("status", tmp_path / "app.db", folder.path)
    assert r.returncode == EX_DATAERR and "0001_a.sql" in r.stderr and "001_b.sql" in r.stderr


def test_plain_bad_file_name_is_an_error(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    (folder.path / "add_users.sql").write_text("CREATE TABLE a (id INTEGER);\n")
    r = migrate_cli("up", tmp_path / "app.db", folder.path, backup_dir=tmp_path / "bk")
    assert r.returncode == EX_DATAERR and "add_users.sql" in r.stderr


def test_drizzle_trailing_breakpoint_is_accepted(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "drizzle")
    name = folder.add("CREATE TABLE a (id INTEGER);\n--> statement-breakpoint\n"
                      "INSERT INTO a VALUES (1);--> statement-breakpoint\n", "trailing")
    db = tmp_path / "app.db"
    r = migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk")
    assert r.returncode == 0, r.stderr
    assert f"applied {name}" in r.stdout
    assert query(db, "SELECT id FROM a") == [(1,)]
    assert [h for h, _, _ in drizzle_bookkeeping(db)] == [sha256_of(folder.path / name)]


def test_plain_trigger_with_inner_semicolons_is_one_statement(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add("CREATE TABLE t (id INTEGER, n INTEGER);\nCREATE TABLE log (msg TEXT);\n"
               "CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN\n  INSERT INTO log VALUES ('a; b');\n"
               "  UPDATE t SET n = 1 WHERE id = new.id;\nEND;\nINSERT INTO t (id) VALUES (5);\n", "trig")
    db = tmp_path / "app.db"
    r = migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk")
    assert r.returncode == 0, r.stderr
    assert query(db, "SELECT msg FROM log") == [("a; b",)]
    assert query(db, "SELECT id, n FROM t") == [(5, 1)]
