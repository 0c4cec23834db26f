"""`sqlkeeper health` (Nagios plugin exit codes) and `sqlkeeper status` against the real daemon."""
import json
import os
import re
import signal
import time

from conftest import (NO_ARCHIVE, DatabaseLock, MigrationFolder, baseline_failing_checks, healthy_body, healthy_exit, healthy_status,
                      linked_sqlite, make_stale_socket, open_db, process_state, run_cli, wait_until)


def health(sock, *extra):
    return run_cli("health", "--socket", sock, *extra, timeout=20)


def test_health_ok_exits_0(daemon_factory):
    """Ok on a fixed SQLite; on one with the WAL-reset bug the daemon is degraded by that alone."""
    d = daemon_factory().start().wait_ready()
    expected_head = "SQLKEEPER OK\n" if linked_sqlite()["wal_reset_fix"] else "SQLKEEPER DEGRADED - sqlite: "
    res = health(d.socket)
    assert res.returncode == healthy_exit(), res.stdout + res.stderr
    assert res.stdout.startswith(expected_head), res.stdout
    res = health(d.socket, "--json")
    assert res.returncode == healthy_exit() and json.loads(res.stdout) == healthy_body()


def test_health_degraded_exits_1_when_a_reader_pins_the_wal_far_past_its_limit(daemon_factory):
    d = daemon_factory(extra_args=["--wal-max-bytes", "1MiB"]).start().wait_ready()
    con = open_db(d.database)
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE filler (x BLOB)")
    # A reader that keeps its snapshot: no checkpoint can reset the WAL behind it.
    reader = open_db(d.database)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM filler").fetchone()
    con.execute("BEGIN")
    for _ in range(320):
        con.execute("INSERT INTO filler VALUES (randomblob(16384))")
    con.execute("COMMIT")
    wal = os.path.getsize(str(d.database) + "-wal")
    assert wal > 4 * 1024 * 1024, wal
    # The daemon refreshes sizes every 5 s.
    res = wait_until(lambda: (r := health(d.socket)).returncode == 1 and "wal: WAL is " in r.stdout and r, timeout=12,
                     interval=0.2, what="health degraded")
    assert res.stdout.startswith("SQLKEEPER DEGRADED - "), res.stdout
    assert "4x the limit of 1MiB: a reader is holding it" in res.stdout
    status, body = d.get_json("/health")
    assert status == 200 and body["status"] == "degraded" and set(body["checks"]) == {"wal"} | baseline_failing_checks()
    # and systemctl status says so too
    assert any(s.startswith("degraded;") for _, s in d.notify.all("STATUS"))
    reader.execute("COMMIT")
    reader.close()
    con.close()


def test_health_failing_exits_2_while_the_database_is_locked(daemon_factory):
    d = daemon_factory(watchdog_usec=400000, extra_args=NO_ARCHIVE).start().wait_ready()
    with DatabaseLock(d.database):
        def failing():
            d.notify.drain()  # keep the NOTIFY_SOCKET from filling up and blocking the daemon
            r = health(d.socket)
            return r.returncode == 2 and r
        res = wait_until(failing, timeout=10, what="health failing")
        assert res.stdout.startswith("SQLKEEPER FAILING - database: not answering")
        assert "locked" in res.stdout
    wait_until(lambda: d.notify.drain() or health(d.socket).returncode == healthy_exit(), timeout=10,
               what="health ok again")


def test_health_unreachable_exits_3(tmp_path):
    res = health(tmp_path / "nobody.sock")
    assert res.returncode == 3
    assert res.stdout.startswith("SQLKEEPER UNKNOWN - ") and "nobody.sock" in res.stdout
    stale = make_stale_socket(tmp_path / "stale.sock")
    res = health(stale)
    assert res.returncode == 3 and res.stdout.startswith("SQLKEEPER UNKNOWN")


def test_health_gives_up_on_a_wedged_daemon_with_exit_3(daemon_factory):
    # A stopped daemon still accepts connections (the kernel queues them) but never
    # answers: a monitoring check must not hang on it.
    d = daemon_factory(notify=False).start().wait_ready()
    d.signal(signal.SIGSTOP)
    try:
        wait_until(lambda: process_state(d.proc.pid) == "T", timeout=5, what="the daemon to stop")
        t0 = time.monotonic()
        res = health(d.socket)
        took = time.monotonic() - t0
    finally:
        d.signal(signal.SIGCONT)
    assert res.returncode == 3, res.stdout + res.stderr
    assert res.stdout.startswith("SQLKEEPER UNKNOWN - no answer from sqlkeeper on ")
    assert 4.0 <= took < 10.0, took  # the client's 5 s deadline
    assert health(d.socket).returncode == healthy_exit()


def test_status_human_and_json(daemon_factory):
    d = daemon_factory().start().wait_ready()
    res = run_cli("status", "--socket", d.socket)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("sqlkeeper ") and "(SQLite 3." in out.splitlines()[0]
    assert f"state:     ready, health {healthy_status()}" in out
    assert f"database:  {d.database}, " in out
    assert "schema:    plain version 2, 2 migrations applied" in out
    assert f"backups:   0 in {d.backups}" in out
    assert "check database: ok (answering)" in out
    res = run_cli("status", "--socket", d.socket, "--json")
    assert res.returncode == 0
    body = json.loads(res.stdout)
    assert body["schema"]["version"] == 2 and body["database"]["path"] == str(d.database)


def test_status_unreachable_fails(tmp_path):
    res = run_cli("status", "--socket", tmp_path / "nobody.sock", timeout=20)
    assert res.returncode != 0
    assert "nobody.sock" in res.stderr


def test_status_names_the_folder_of_a_relative_database_and_prints_sizes_in_kib_mib_gib(daemon_factory, tmp_path):
    """`--database app.db` (relative, no folder in the name): the volume check still names
    the folder, and `status` prints sizes as KiB/MiB/GiB; --json keeps the raw integers."""
    data = tmp_path / "rel"
    data.mkdir()
    d = daemon_factory(cwd=data)
    d.args[d.args.index("--database") + 1] = "app.db"
    d.database = data / "app.db"
    d.start().wait_ready()
    res = run_cli("status", "--socket", d.socket, timeout=20)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "()" not in out, out
    assert f"free on the database volume ({data})" in out, out
    # No raw byte counts anywhere in the human output: every size has a binary unit.
    assert re.search(r"\d bytes\b", out) is None, out
    assert re.search(r"database:  app\.db, \d+(\.\d)? (B|KiB|MiB), WAL \d+(\.\d)? (B|KiB|MiB)\n", out), out
    assert re.search(r"check database_disk: ok \(\d+\.\d (KiB|MiB|GiB|TiB) free on the database volume", out), out
    body = json.loads(run_cli("status", "--socket", d.socket, "--json", timeout=20).stdout)
    assert isinstance(body["database"]["size_bytes"], int) and isinstance(body["database"]["free_bytes"], int)


def test_status_prints_a_drizzle_schema_version_whole(daemon_factory, tmp_path):
    """A drizzle key is a millisecond time stamp: more than 32 bits."""
    folder = MigrationFolder.drizzle_fixture(tmp_path / "drizzle")
    d = daemon_factory(migrations=folder.path).start().wait_ready()
    res = run_cli("status", "--socket", d.socket)
    assert res.returncode == 0, res.stderr
    newest = max(when for when, _ in folder.entries)
    assert f"schema:    drizzle version {newest}, 3 migrations applied" in res.stdout, res.stdout
