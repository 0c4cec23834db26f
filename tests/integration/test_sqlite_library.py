"""Which SQLite the binary runs on: by default the bundled one (third_party/sqlite, with the
WAL-reset fix), with SQLKEEPER_SYSTEM_SQLITE the system's; and that the daemon says so."""
import os
import re
import sqlite3

from conftest import NO_ARCHIVE, SOURCE_DIR, MigrationFolder, linked_sqlite, query


def version_tuple(text):
    return tuple(int(p) for p in text.split(".")[:3])


def has_wal_reset_fix(version):
    """SQLite's WAL documentation: fixed in 3.51.3, backported to 3.44.6 and 3.50.7."""
    v = version_tuple(version)
    return v >= (3, 51, 3) or (v[:2] == (3, 44) and v >= (3, 44, 6)) or (v[:2] == (3, 50) and v >= (3, 50, 7))


def test_the_binary_runs_on_the_library_it_was_built_with():
    lib = linked_sqlite()
    if lib["source"] == "bundled":
        header = (SOURCE_DIR / "third_party" / "sqlite" / "sqlite3.h").read_text()
        vendored = re.search(r'^#define SQLITE_VERSION +"([0-9.]+)"', header, re.M)[1]
        assert lib["version"] == vendored
        assert version_tuple(lib["version"]) >= (3, 51, 3)
        assert lib["wal_reset_fix"] is True
    else:
        assert lib["source"] == "system"
        # Python's sqlite3 module loads the same system library.
        assert lib["version"] == sqlite3.sqlite_version
        assert lib["wal_reset_fix"] is has_wal_reset_fix(lib["version"])


def test_the_daemon_reports_its_sqlite_at_start_in_status_and_health(daemon_factory):
    lib = linked_sqlite()
    d = daemon_factory().start().wait_ready()
    verdict = "fix" if lib["wal_reset_fix"] else "bug"
    start = next(line for line in d.output().splitlines() if " starting: database " in line)
    assert start.endswith(f"SQLite {lib['version']} ({lib['source']}, has the WAL-reset {verdict})"), start
    # On a library with the bug the start-up line is a warning, so that it stands out in the journal.
    assert (" warning " in start) is (not lib["wal_reset_fix"]), start
    assert d.get_json("/status")[1]["sqlite"] == lib
    status, health = d.get_json("/health")
    assert status == 200
    if lib["wal_reset_fix"]:
        assert health == {"status": "ok"}
    else:
        assert health["status"] == "degraded"
        assert health["checks"]["sqlite"]["detail"] == (
            f"SQLite {lib['version']} ({lib['source']}) has the WAL-reset bug; sqlkeeper takes no checkpoints; "
            "see docs/operations.md")


def test_no_autocheckpoint_from_sqlkeeper_on_a_library_with_the_bug(daemon_factory, tmp_path):
    """A migration that commits more than wal_autocheckpoint (1000) pages: on a fixed SQLite
    the commit checkpoints them into the database file; on one with the WAL-reset bug
    sqlkeeper must not checkpoint, so they all stay in the WAL."""
    folder = MigrationFolder(tmp_path / "m", "plain")
    folder.add(["CREATE TABLE big (x BLOB)",
                "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000) "
                "INSERT INTO big SELECT randomblob(3000) FROM c"], "big")
    # Without the archive, whose first backup checkpoints at once.
    d = daemon_factory(migrations=folder.path, extra_args=NO_ARCHIVE)
    d.database.parent.mkdir(parents=True)
    # An open WAL-mode connection keeps a shared lock on the file, so no connection of
    # the daemon's is ever the last one to close (that close would checkpoint safely,
    # under an exclusive lock, and hide what the commit did).
    holder = sqlite3.connect(d.database)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("SELECT count(*) FROM sqlite_schema").fetchall()
    try:
        d.start().wait_ready(timeout=30)
        assert query(d.database, "SELECT count(*) FROM big") == [(2000,)]
        database_bytes = os.path.getsize(d.database)
        wal_bytes = os.path.getsize(f"{d.database}-wal")
        assert wal_bytes > 2000 * 3000
        if linked_sqlite()["wal_reset_fix"]:
            assert database_bytes > 2000 * 3000
        else:
            assert database_bytes < 100 * 1024, database_bytes
    finally:
        holder.close()
