"""The daemon's basic life: start on a fresh directory, become ready, answer, stop."""
import os
import signal
import stat

from conftest import healthy_status, open_db


def test_fresh_start_creates_database_and_reports_ready(daemon_factory):
    d = daemon_factory().start().wait_ready()
    mode = stat.S_IMODE(os.stat(d.database).st_mode)
    assert mode == 0o600
    con = open_db(d.database)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    assert {"users", "sessions", "categories", "expenses", "sqlkeeper_migrations"} <= tables
    status, body = d.get_json("/health")
    assert status == 200 and body["status"] == healthy_status()
    d.signal(signal.SIGTERM)
    assert d.wait_exit() == 0
    assert not d.socket.exists()
