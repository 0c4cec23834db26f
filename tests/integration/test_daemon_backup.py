"""The running daemon's upkeep: POST /backup takes a verified backup in the worker
while /health keeps answering; a second POST joins it; POST /checkpoint answers
with its result; checkpoints keep the WAL bounded under a writer and give up
within their bound when a reader pins the WAL; only root, the daemon's user and
admin-group may POST; SIGTERM in the middle of a long copy leaves nothing."""
import grp
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import (NO_ARCHIVE, SOURCE_DIR, http_request, linked_sqlite, open_db, open_the_way_to, query, start_writer,
                      stop_writer, wait_until)

# Checkpoints are taken only with a SQLite that has the WAL-reset fix (the bundled
# one); the SQLKEEPER_SYSTEM_SQLITE build runs the test that it takes none instead.
needs_fix = pytest.mark.skipif(not linked_sqlite()["wal_reset_fix"],
                               reason="this build links a SQLite with the WAL-reset bug: sqlkeeper takes no checkpoints")



def post(d, target, timeout=30.0):
    status, _, body = http_request(d.socket, "POST", target, timeout=timeout)
    return status, json.loads(body)


def status_json(d):
    return d.get_json("/status")[1]


def fill(db, rows, pad=1000):
    con = open_db(db)
    con.execute("CREATE TABLE IF NOT EXISTS bulk (i INTEGER PRIMARY KEY, pad BLOB)")
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
                "INSERT INTO bulk SELECT i, randomblob(?) FROM c", (rows, pad))
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()




def test_post_backup_takes_a_verified_backup_and_a_second_post_joins_it(daemon_factory):
    d = daemon_factory(extra_args=NO_ARCHIVE).start().wait_ready()
    fill(d.database, 20000)
    writer = start_writer(d.database)
    try:
        status, first = post(d, "/backup")
        assert status == 202 and first["job"] == "backup" and first["follow"] == "/status"
        status, second = post(d, "/backup")
        # the same job while it runs (or, if it already ended, a new one)
        assert status == 202 and (second["joined"] and second["id"] == first["id"] or not second["joined"])
        wait_until(lambda: status_json(d)["backups"]["activity"]["running"] is None and
                   status_json(d)["backups"]["last"] is not None, 60, what="the backup to finish")
    finally:
        summary = stop_writer(writer)
    assert summary["failures"] == []
    body = status_json(d)
    last = body["backups"]["last"]
    assert last["verified"] is True and last["size_bytes"] > 20_000_000
    assert query(last["file"], "PRAGMA integrity_check") == [("ok",)]
    assert query(last["file"], "SELECT count(*) FROM bulk") == [(20000,)]
    assert body["backups"]["activity"]["last_failure"] is None
    assert "last backup" in d.notify.all("STATUS")[-1][1] and "verified" in d.notify.all("STATUS")[-1][1]
    _, _, metrics = d.get("/metrics")
    assert b"sqlkeeper_last_backup_timestamp_seconds" in metrics and b"sqlkeeper_backup_failures_total 0" in metrics
    listing = json.loads(subprocess.run([os.environ.get("SK_BIN", str(SOURCE_DIR / "build" / "sqlkeeper")), "backups",
                                         "--json", "--database", str(d.database), "--backup-dir", str(d.backups)],
                                        capture_output=True, text=True).stdout)
    assert [b["file"] for b in listing["backups"] if b["label"] == ""] == [last["file"]]


@needs_fix
def test_post_checkpoint_answers_with_its_result_and_a_pinning_reader_is_named(daemon_factory):
    d = daemon_factory(extra_args=["--wal-max-bytes", "1MiB", "--checkpoint-interval", "1h"]).start().wait_ready()
    fill(d.database, 100)
    con = open_db(d.database)
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
                "INSERT INTO bulk (pad) SELECT randomblob(1000) FROM c")
    status, body = post(d, "/checkpoint")
    assert status == 200 and body["ok"] and body["complete"], body
    assert body["wal_bytes_after"] == 0 and body["checkpointed_frames"] == body["wal_frames"] > 0
    # A reader that keeps its snapshot open pins the WAL; the checkpoint gives up within its bound.
    reader = open_db(d.database)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM bulk").fetchone()
    for _ in range(6):  # > 4x wal-max-bytes behind the reader
        con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000) "
                    "INSERT INTO bulk (pad) SELECT randomblob(1000) FROM c")
    t0 = time.monotonic()
    status, body = post(d, "/checkpoint")
    assert time.monotonic() - t0 < 2.0
    assert status == 200 and not body["complete"] and "stayed in use" in body["note"], body
    wait_until(lambda: http_request(d.socket, "GET", "/health")[0] == 200 and
               json.loads(http_request(d.socket, "GET", "/health")[2]).get("status") == "degraded", 15,
               what="health to say the WAL is held")
    health = json.loads(http_request(d.socket, "GET", "/health")[2])
    assert "a reader is holding it" in health["checks"]["wal"]["detail"]
    reader.execute("COMMIT")
    reader.close()
    status, body = post(d, "/checkpoint")
    assert body["complete"] and body["wal_bytes_after"] == 0
    con.close()


@needs_fix
def test_checkpoints_keep_the_wal_bounded_under_a_writer(daemon_factory):
    d = daemon_factory(extra_args=["--wal-max-bytes", "1MiB", "--checkpoint-interval", "1s"]).start().wait_ready()
    wal = d.database.with_name("app.db-wal")
    writer = start_writer(d.database, 0)
    sizes = []
    try:
        wait_until(lambda: status_json(d)["checkpoint"]["total"] >= 3, 30, what="three checkpoints")
        end = time.monotonic() + 3
        while time.monotonic() < end:
            sizes.append(wal.stat().st_size if wal.exists() else 0)
            time.sleep(0.05)
    finally:
        summary = stop_writer(writer)
    assert summary["failures"] == [] and summary["committed"] > 1000
    # the WAL is reset (TRUNCATE) at every checkpoint: it never grows far past what a second of commits adds
    assert max(sizes) < 64 << 20 and min(sizes) < max(sizes)
    body = status_json(d)["checkpoint"]
    assert body["last_complete"] is not None and body["total"] >= 3


def run_as(uid, groups, target, sock):
    """POSTs from a process running as `uid` with supplementary `groups`."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\n"
            "s.sendall(b'POST " + target + " HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n"
            "d=b''\nwhile True:\n c=s.recv(65536)\n if not c: break\n d+=c\nprint(d.split(b' ')[1].decode())")

    def demote():
        os.setgroups(groups)
        os.setgid(uid)
        os.setuid(uid)
    r = subprocess.run([sys.executable, "-c", code, str(sock)], preexec_fn=demote, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip())


@pytest.mark.skipif(os.geteuid() != 0, reason="a second uid needs root to switch to it")
def test_only_root_the_daemons_user_and_admin_group_may_post(daemon_factory):
    admin = grp.getgrnam("users")
    d = daemon_factory(extra_args=["--socket-mode", "0666", "--admin-group", "users"]).start().wait_ready()
    # the second uid must reach the socket
    open_the_way_to(d.socket)
    nobody = 65534
    assert run_as(nobody, [], "/checkpoint", d.socket) == 403
    assert run_as(nobody, [], "/backup", d.socket) == 403
    assert "refused POST /backup from uid 65534" in d.output()
    # GET stays open to whoever can reach the socket
    code = "import socket,sys\ns=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\n" \
           "s.sendall(b'GET /health HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\nprint(s.recv(100)[9:12].decode())"
    r = subprocess.run([sys.executable, "-c", code, str(d.socket)], preexec_fn=lambda: os.setuid(nobody),
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "200"
    # a member of admin-group may (409 without checkpoints: allowed, but there is nothing it may do)
    allowed = 200 if linked_sqlite()["wal_reset_fix"] else 409
    assert run_as(nobody, [admin.gr_gid], "/checkpoint", d.socket) == allowed
    assert post(d, "/checkpoint")[0] == allowed  # root


def test_sigterm_during_a_long_backup_copy_stops_promptly_and_leaves_nothing(daemon_factory):
    d = daemon_factory(extra_args=NO_ARCHIVE).start().wait_ready()
    fill(d.database, 150000)  # ~160 MB
    status, started = post(d, "/backup")
    assert status == 202
    wait_until(lambda: (status_json(d)["backups"]["activity"]["running"] or {}).get("pages_done", 0) > 0, 30,
               interval=0.005, what="the copy to be under way")
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(timeout=30) == 0
    assert time.monotonic() - t0 < 5.0, d.output()
    assert [p.name for p in d.backups.iterdir() if p.name != ".sqlkeeper.lock"] == []


@pytest.mark.skipif(linked_sqlite()["wal_reset_fix"], reason="this build links a SQLite with the WAL-reset fix")
def test_with_an_affected_sqlite_the_daemon_takes_no_checkpoint_and_says_why(daemon_factory):
    d = daemon_factory(extra_args=["--checkpoint-interval", "1s", "--wal-max-bytes", "1MiB"]).start().wait_ready()
    fill(d.database, 3000)  # a WAL past wal-max-bytes would otherwise be checkpointed at once
    con = open_db(d.database)
    con.execute("INSERT INTO bulk (pad) SELECT pad FROM bulk")
    wal = d.database.with_name("app.db-wal")
    size = wal.stat().st_size
    assert size > 1 << 20
    status, body = post(d, "/checkpoint")
    assert status == 409 and "has the WAL-reset bug" in body["error"] and "takes no checkpoints" in body["error"]
    checkpoint = status_json(d)["checkpoint"]
    assert checkpoint["total"] == 0 and "takes no checkpoints" in checkpoint["disabled"]
    assert "takes no checkpoints" in d.output()
    assert wal.stat().st_size >= size  # nobody reset it
    con.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_failed_backup_is_reported_keeps_the_old_ones_and_the_daemon_serves_on(daemon_factory, tmp_path):
    d = daemon_factory(extra_args=NO_ARCHIVE)
    d.backups.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(d.backups)], check=True)
    try:
        d.start().wait_ready()
        fill(d.database, 2000)  # ~2 MB: fits
        assert post(d, "/backup")[0] == 202
        wait_until(lambda: status_json(d)["backups"]["last"] is not None, 60, what="the first backup")
        first = status_json(d)["backups"]["last"]["file"]
        con = open_db(d.database)  # now ~33 MB: a copy plus its margin no longer fits in what is left
        con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 30000) "
                    "INSERT INTO bulk (pad) SELECT randomblob(1000) FROM c")
        con.close()
        assert post(d, "/backup")[0] == 202
        wait_until(lambda: status_json(d)["backups"]["activity"]["last_failure"] is not None, 60,
                   what="the backup to fail")
        activity = status_json(d)["backups"]["activity"]
        assert "not enough space for a backup in " + str(d.backups) in activity["last_failure"]
        status, body = d.get_json("/health")
        assert status == 200 and body["status"] == "degraded"
        assert body["checks"]["backup"]["detail"].startswith("the last backup failed: not enough space")
        # the older backup is intact and still the last good one; nothing half-made is left
        assert status_json(d)["backups"]["last"]["file"] == first
        assert query(first, "PRAGMA integrity_check") == [("ok",)]
        names = sorted(p.name for p in d.backups.iterdir() if p.name != ".sqlkeeper.lock")
        assert names == sorted([os.path.basename(first), os.path.basename(first) + ".sha256"])
        assert "backup 2 failed: not enough space" in d.output()
        assert d.get("/health/live")[0] == 200
        d.stop()
    finally:
        subprocess.run(["umount", "-l", str(d.backups)], check=False)
