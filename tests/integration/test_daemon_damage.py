"""Damage done to the database under the running daemon: deleted, replaced,
made unreadable, its WAL cut short after a writer crashed, bytes flipped. Each
is noticed within the probe interval (5 s) and named in /health, and no backup
of a damaged database takes the place of a good one."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import NO_ARCHIVE, Daemon, http_request, open_db, run_cli, wait_until

# The daemon probes the database every 5 s (kRefreshInterval); allow a second for the answer.
PROBE_INTERVAL = 5.0
NOTICED_WITHIN = PROBE_INTERVAL + 1.5


def health(d):
    status, _, body = d.get("/health")
    return status, json.loads(body)


def backups_status(d):
    return d.get_json("/status")[1]["backups"]


def backup_now(d):
    """POST /backup and follow it to its end: ("ok", the new last backup) or ("failed", why)."""
    before = backups_status(d)
    status, _, body = http_request(d.socket, "POST", "/backup", timeout=60)
    assert status == 202, body

    def ended():
        now = backups_status(d)
        if now["activity"]["running"] is not None:
            return None
        if now["activity"]["failures_total"] > before["activity"]["failures_total"]:
            return "failed", now["activity"]["last_failure"]
        if now["last"] and now["last"] != before["last"]:
            return "ok", now["last"]
        return None
    wait_until(ended, 60, interval=0.05, what="the backup to end")
    return ended()


def database_detail(d):
    status, body = health(d)
    return status, body.get("checks", {}).get("database", {}).get("detail", "")


def seconds_until_failing(d, expected):
    started = time.monotonic()
    wait_until(lambda: expected in database_detail(d)[1], NOTICED_WITHIN + 2, interval=0.1,
               what=f"/health to name {expected!r}")
    return time.monotonic() - started


def with_rows(d, n=500):
    con = open_db(d.database)
    con.execute("CREATE TABLE IF NOT EXISTS t (i INTEGER PRIMARY KEY, pad BLOB)")
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
                "INSERT INTO t SELECT i, randomblob(300) FROM c", (n,))
    con.close()


def listed_backups(d):
    r = run_cli("backups", "--backup-dir", d.backups, "--database", d.database, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def verify_all(d):
    r = run_cli("verify", "--all", "--backup-dir", d.backups, "--database", d.database)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_deleted_database_is_failing_within_the_probe_interval_and_not_made_again(daemon_factory):
    d = daemon_factory().start().wait_ready()
    with_rows(d)
    assert backup_now(d)[0] == "ok"
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{d.database}{suffix}")
        except FileNotFoundError:
            pass
    took = seconds_until_failing(d, "not answering")
    assert took <= NOTICED_WITHIN, took
    assert health(d)[0] == 503
    # A backup now fails, saying why; it neither makes an empty database nor touches the good backup.
    outcome, why = backup_now(d)
    assert outcome == "failed" and str(d.database) in why, why
    assert not d.database.exists()
    assert len(listed_backups(d)["backups"]) == 1
    verify_all(d)


def test_a_database_replaced_under_the_daemon_is_failing_and_named(daemon_factory):
    d = daemon_factory().start().wait_ready()
    with_rows(d)
    # The classic mistake: a copy renamed over the live file while connections are open.
    copy = d.database.with_name("copy.db")
    src = sqlite3.connect(d.database)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    dst.close()
    src.close()
    old_inode = d.database.stat().st_ino
    os.rename(copy, d.database)
    took = seconds_until_failing(d, "was replaced while sqlkeeper ran")
    assert took <= NOTICED_WITHIN, took
    status, detail = database_detail(d)
    assert status == 503
    assert f"{d.database} was replaced while sqlkeeper ran (inode {old_inode}, now {d.database.stat().st_ino})" \
        in detail, detail
    assert "restart the applications and sqlkeeper" in detail
    assert d.get_json("/status")[1]["database"]["replaced"] == detail
    assert "was replaced while sqlkeeper ran" in d.output()


@pytest.mark.skipif(os.geteuid() != 0, reason="root reads any file: the daemon must run as a second uid")
def test_a_database_made_unreadable_is_failing_within_the_probe_interval_and_recovers(daemon_factory):
    d = daemon_factory(uid=65534, extra_args=NO_ARCHIVE).start().wait_ready()
    with_rows(d)
    assert health(d)[0] == 200
    os.chmod(d.database, 0)
    took = seconds_until_failing(d, "not answering")
    assert took <= NOTICED_WITHIN, took
    assert "unable to open" in database_detail(d)[1]
    os.chmod(d.database, 0o600)
    wait_until(lambda: health(d)[0] == 200, NOTICED_WITHIN + 2, interval=0.1, what="health to recover")


WRITER = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA wal_autocheckpoint=0")
con.execute("CREATE TABLE IF NOT EXISTS w (i INTEGER PRIMARY KEY, pad BLOB)")
for i in range(1, 301):
    con.execute("INSERT INTO w VALUES (?, randomblob(2000))", (i,))
print("committed", flush=True)
time.sleep(600)
"""


def test_a_wal_cut_short_after_a_writer_crashed_keeps_a_whole_prefix_and_backs_up(daemon_factory):
    # No checkpoint of the daemon's own may empty the WAL before it is cut.
    d = daemon_factory(extra_args=["--checkpoint-interval", "1h", "--wal-max-bytes", "1GiB", *NO_ARCHIVE]).start().wait_ready()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(d.database)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "committed"
    finally:
        writer.send_signal(signal.SIGKILL)  # a crash: its WAL and wal-index stay as they were
        writer.wait()
    wal = d.database.with_name(d.database.name + "-wal")
    size = wal.stat().st_size
    assert size > 300 * 2000, size
    os.truncate(wal, size // 2 + 1234)  # mid-frame
    # The daemon's next probe finds the database answering; what is left is whole.
    wait_until(lambda: health(d)[0] == 200, NOTICED_WITHIN + 2, interval=0.1, what="health to stay ok")
    con = sqlite3.connect(d.database)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [r[0] for r in con.execute("SELECT i FROM w ORDER BY i")]
    con.close()
    # Commits past the cut are gone (the damage); those before it are all there, in order.
    assert 0 < len(ids) < 300 and ids == list(range(1, len(ids) + 1)), ids[:5]
    outcome, last = backup_now(d)
    assert outcome == "ok", last
    backup = sqlite3.connect(last["file"])
    assert backup.execute("SELECT count(*) FROM w").fetchone()[0] == len(ids)
    backup.close()
    verify_all(d)


def test_a_database_with_flipped_bytes_never_gets_a_backup_in_place_of_a_good_one(daemon_factory):
    d = daemon_factory(extra_args=["--quick-check-interval", "1s", *NO_ARCHIVE]).start().wait_ready()
    with_rows(d, 4000)
    con = open_db(d.database)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    outcome, good = backup_now(d)
    assert outcome == "ok", good
    page = 4096
    pages = d.database.stat().st_size // page
    with open(d.database, "r+b") as f:
        for n in range(pages // 2, pages // 2 + 20):
            f.seek(n * page)
            f.write(os.urandom(page))
    wait_until(lambda: health(d)[0] == 503, 15, what="quick_check to find the damage")
    assert health(d)[1]["checks"]["integrity"]["detail"].startswith("quick_check found damage")
    outcome, why = backup_now(d)
    assert outcome == "failed" and "integrity" in why, why
    listed = listed_backups(d)["backups"]
    assert [b["file"] for b in listed] == [good["file"]]
    verify_all(d)


def test_a_missing_database_with_backups_beside_it_is_not_made_again_empty(daemon_factory):
    d = daemon_factory().start().wait_ready()
    con = open_db(d.database)
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (42)")
    con.close()
    d.stop()
    r = run_cli("backup", "--database", d.database, "--backup-dir", d.backups, "--json")
    assert r.returncode == 0, r.stderr
    backup = json.loads(r.stdout)["file"]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{d.database}{suffix}"):
            os.unlink(f"{d.database}{suffix}")
    # Deleted (or its volume not mounted yet): the daemon refuses to start on an empty one.
    os.unlink(d.workdir / "notify.sock")
    refused = Daemon(d.workdir)
    try:
        refused.start()
        assert refused.wait_exit(30) != 0
        out = refused.output()
        assert f"database {d.database} does not exist, but 1 backups of it are in {d.backups}" in out, out
        assert f"sqlkeeper restore {backup}" in out
        assert not d.database.exists()
        assert any("does not exist" in v for _, v in refused.notify.all("STATUS"))
    finally:
        refused.stop()
    # The way back the message names: restore, then start.
    r = run_cli("restore", backup, "--database", d.database, "--backup-dir", d.backups)
    assert r.returncode == 0, r.stderr
    os.unlink(d.workdir / "notify.sock")
    again = Daemon(d.workdir)
    try:
        again.start().wait_ready()
        con = sqlite3.connect(d.database)
        assert con.execute("SELECT x FROM t").fetchall() == [(42,)]
        con.close()
    finally:
        again.stop()
