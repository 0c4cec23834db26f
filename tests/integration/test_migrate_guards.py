"""The guards sqlkeeper puts around each migration: the row-count guard, statements
that cannot run in a transaction (refused unless `no-transaction`), BEGIN/COMMIT in
a file, double-quoted strings off, and foreign keys off + foreign_key_check for
table rebuilds. Every refused migration must leave nothing behind."""
import re

import pytest

from conftest import EX_DATAERR, MigrationFolder, migrate_cli, plain_bookkeeping, query, user_tables

BASE = ["CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE other (id INTEGER PRIMARY KEY)",
        "INSERT INTO items (name) VALUES ('a'), ('b'), ('c')",
        "INSERT INTO other VALUES (1), (2)"]


@pytest.fixture
def base(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(BASE, "base")
    db = tmp_path / "app.db"
    r = migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk")
    assert r.returncode == 0, r.stderr
    return folder, db, tmp_path / "bk"


def up(folder, db, bk, *extra):
    return migrate_cli("up", db, folder.path, *extra, backup_dir=bk)


def applied_names(db):
    return [n for _, n, _ in plain_bookkeeping(db)]


@pytest.mark.parametrize("directive, ok", [
    ("", False),
    ("-- sqlkeeper: allow-row-loss=other\n", False),  # names a different table
    ("-- sqlkeeper: allow-row-loss=items\n", True),
    ("-- sqlkeeper: allow-row-loss\n", True),
])
def test_row_count_guard(base, directive, ok):
    folder, db, bk = base
    name = folder.add(directive + "INSERT INTO other VALUES (3);\nDELETE FROM items WHERE name <> 'a';\n", "prune")
    r = up(folder, db, bk)
    if ok:
        assert r.returncode == 0, r.stderr
        assert query(db, "SELECT name FROM items") == [("a",)]
        assert "rows in items: 3 -> 1" in r.stdout
        assert name in applied_names(db)
    else:
        assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
        assert name in r.stderr and "lose rows" in r.stderr and "items 3 -> 1" in r.stderr
        assert "allow-row-loss" in r.stderr
        assert query(db, "SELECT count(*) FROM items") == [(3,)]
        assert query(db, "SELECT count(*) FROM other") == [(2,)], "the whole migration is rolled back"
        assert name not in applied_names(db)


def test_row_count_guard_counts_a_dropped_table(base):
    folder, db, bk = base
    name = folder.add(["DROP TABLE other"], "drop_other")
    r = up(folder, db, bk)
    assert r.returncode == EX_DATAERR, r.stderr
    assert "other 2 -> dropped" in r.stderr
    assert "other" in user_tables(db) and name not in applied_names(db)


@pytest.mark.parametrize("statement", ["VACUUM", "PRAGMA journal_mode=DELETE", "pragma  Journal_Mode = delete"])
def test_statement_that_cannot_run_in_a_transaction_is_refused(base, statement):
    folder, db, bk = base
    name = folder.add(["CREATE TABLE before_it (id INTEGER)", statement], "needs_no_tx")
    r = up(folder, db, bk)
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert name in r.stderr and "statement 2" in r.stderr and "no-transaction" in r.stderr
    assert "before_it" not in user_tables(db) and name not in applied_names(db)
    assert query(db, "PRAGMA journal_mode") == [("wal",)]


def test_vacuum_runs_with_no_transaction_directive(base):
    folder, db, bk = base
    name = folder.add("-- sqlkeeper: no-transaction\nDELETE FROM other WHERE 0;\nVACUUM;\n", "vacuum")
    r = up(folder, db, bk)
    assert r.returncode == 0, r.stderr
    assert name in applied_names(db)
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.parametrize("text", [
    "BEGIN;\nCREATE TABLE x (id INTEGER);\nCOMMIT;\n",
    "BEGIN TRANSACTION;\nCREATE TABLE x (id INTEGER);\nEND TRANSACTION;\n",
    "-- sqlkeeper: no-transaction\nBEGIN IMMEDIATE;\nCREATE TABLE x (id INTEGER);\nCOMMIT;\n",
    "CREATE TABLE x (id INTEGER);\nROLLBACK;\n",
])
def test_transaction_control_in_a_file_is_refused(base, text):
    folder, db, bk = base
    name = folder.add(text, "own_tx")
    r = up(folder, db, bk)
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert name in r.stderr and "BEGIN/COMMIT" in r.stderr
    assert "x" not in user_tables(db) and name not in applied_names(db)


# SQLite 3.53 quotes the name and asks "should this be a string literal in
# single-quotes?"; 3.40 (the system-library build) names it bare.
@pytest.mark.parametrize("statement, message", [
    ('SELECT "missing_column" FROM items', r'no such column: "?missing_column\b'),
    ('INSERT INTO items (name) VALUES ("text")', r'no such column: "?text\b'),
    ('CREATE INDEX items_bad ON items ("nope")', r"no such column"),
])
def test_double_quoted_strings_are_identifiers(base, statement, message):
    folder, db, bk = base
    name = folder.add(["CREATE TABLE created_first (id INTEGER)", statement], "dqs")
    r = up(folder, db, bk)
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert name in r.stderr and "statement 2" in r.stderr and re.search(message, r.stderr), r.stderr
    assert "created_first" not in user_tables(db)
    assert query(db, "SELECT count(*) FROM items") == [(3,)]


REBUILD_PARENT = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL "
    "REFERENCES parent(id) ON DELETE CASCADE)",
    "INSERT INTO parent VALUES (1, 'one'), (2, 'two')",
    "INSERT INTO child VALUES (10, 1), (11, 1), (20, 2)",
]


@pytest.mark.parametrize("how", ["directive", "pragma"])
def test_plain_rebuild_with_foreign_keys_off_keeps_children(tmp_path, how):
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(REBUILD_PARENT, "init")
    db = tmp_path / "app.db"
    assert migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk").returncode == 0
    head = "-- sqlkeeper: foreign-keys-off\n" if how == "directive" else "PRAGMA foreign_keys=OFF;\n"
    tail = "" if how == "directive" else "PRAGMA foreign_keys=ON;\n"
    folder.add(head + "CREATE TABLE new_parent (id INTEGER PRIMARY KEY, name TEXT, extra INTEGER);\n"
               "INSERT INTO new_parent (id, name) SELECT id, name FROM parent;\n"
               "DROP TABLE parent;\nALTER TABLE new_parent RENAME TO parent;\n" + tail, "rebuild")
    r = migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk")
    assert r.returncode == 0, r.stderr
    assert query(db, "SELECT id, parent_id FROM child ORDER BY id") == [(10, 1), (11, 1), (20, 2)]
    assert [c[1] for c in query(db, "PRAGMA table_info(parent)")] == ["id", "name", "extra"]
    # foreign keys are enforced again for whoever uses the database next through sqlkeeper
    assert query(db, "PRAGMA foreign_key_check") == []


def test_rebuild_that_introduces_a_foreign_key_violation_is_rolled_back(tmp_path):
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(REBUILD_PARENT, "init")
    db = tmp_path / "app.db"
    assert migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk").returncode == 0
    name = folder.add("-- sqlkeeper: foreign-keys-off allow-row-loss=parent\n"
                      "CREATE TABLE new_parent (id INTEGER PRIMARY KEY, name TEXT);\n"
                      "INSERT INTO new_parent SELECT id, name FROM parent WHERE id <> 2;\n"
                      "DROP TABLE parent;\nALTER TABLE new_parent RENAME TO parent;\n", "lossy_rebuild")
    r = migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk")
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    assert name in r.stderr and "foreign key violation" in r.stderr and "child" in r.stderr
    assert query(db, "SELECT id FROM parent ORDER BY id") == [(1,), (2,)]
    assert query(db, "SELECT count(*) FROM child") == [(3,)]
    assert "new_parent" not in user_tables(db)
    assert name not in applied_names(db)


def test_unknown_directive_is_an_error(base):
    folder, db, bk = base
    name = folder.add("-- sqlkeeper: allow-everything\nCREATE TABLE z (id INTEGER);\n", "typo")
    r = up(folder, db, bk)
    assert r.returncode == EX_DATAERR, r.stderr
    assert name in r.stderr and "allow-everything" in r.stderr
    assert "z" not in user_tables(db)


def test_renaming_a_table_loses_no_rows(base):
    """ALTER TABLE RENAME keeps every row; the guard must not take it for a drop."""
    folder, db, bk = base
    name = folder.add(["ALTER TABLE items RENAME TO things"], "rename")
    r = up(folder, db, bk)
    assert r.returncode == 0, r.stderr
    assert name in applied_names(db)
    assert query(db, "SELECT count(*) FROM things") == [(3,)]


def test_renaming_a_table_and_deleting_from_it_is_still_caught(base):
    folder, db, bk = base
    name = folder.add(["ALTER TABLE items RENAME TO things", "DELETE FROM things WHERE name = 'a'"], "rename_del")
    r = up(folder, db, bk)
    assert r.returncode == EX_DATAERR, r.stderr
    assert "items -> things 3 -> 2" in r.stderr
    assert "items" in user_tables(db) and name not in applied_names(db)


def test_dropping_a_table_and_reusing_its_pages_is_still_caught(base):
    """A new table may get the dropped table's root page; it is still a loss."""
    folder, db, bk = base
    folder.add(["DROP TABLE items", "CREATE TABLE items_v2 (id INTEGER PRIMARY KEY)"], "replace")
    r = up(folder, db, bk)
    assert r.returncode == EX_DATAERR, r.stderr
    assert "lose rows" in r.stderr and "items" in r.stderr
    assert query(db, "SELECT count(*) FROM items") == [(3,)]


def test_allow_row_loss_table_names_are_case_insensitive(base):
    """SQLite table names are case-insensitive, so is the directive."""
    folder, db, bk = base
    name = folder.add("-- sqlkeeper: allow-row-loss=ITEMS\nDELETE FROM Items WHERE name <> 'a';\n", "upper")
    r = up(folder, db, bk)
    assert r.returncode == 0, r.stderr
    assert name in applied_names(db) and query(db, "SELECT count(*) FROM items") == [(1,)]


def test_no_transaction_migration_honours_foreign_keys_off(tmp_path):
    """A no-transaction migration that rebuilds a parent with PRAGMA foreign_keys=OFF
    must really run with foreign keys off, or ON DELETE CASCADE empties the child."""
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(REBUILD_PARENT, "init")
    db = tmp_path / "app.db"
    assert migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk").returncode == 0
    folder.add("-- sqlkeeper: no-transaction\nPRAGMA foreign_keys=OFF;\n"
               "CREATE TABLE new_parent (id INTEGER PRIMARY KEY, name TEXT, extra INTEGER);\n"
               "INSERT INTO new_parent (id, name) SELECT id, name FROM parent;\n"
               "DROP TABLE parent;\nALTER TABLE new_parent RENAME TO parent;\nPRAGMA foreign_keys=ON;\n"
               "VACUUM;\n", "rebuild_no_tx")
    r = migrate_cli("up", db, folder.path, backup_dir=tmp_path / "bk")
    assert r.returncode == 0, r.stderr
    assert query(db, "SELECT id, parent_id FROM child ORDER BY id") == [(10, 1), (11, 1), (20, 2)]
    assert [c[1] for c in query(db, "PRAGMA table_info(parent)")] == ["id", "name", "extra"]
