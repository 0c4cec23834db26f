"""Which SQLite the binary runs on: by default the bundled one (third_party/sqlite, with the
WAL-reset fix), with SQLKEEPER_SYSTEM_SQLITE the system's; and that the daemon says so."""
import re
import sqlite3

from conftest import SOURCE_DIR, linked_sqlite


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
