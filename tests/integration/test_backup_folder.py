"""The backup folder when it is not what the daemon expects: a folder it cannot look
at, backups that fail on a fresh install, backups someone else put there, and what
the error, the health checks and the schedule say."""
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from conftest import NO_ARCHIVE, BIN, http_request, linked_sqlite, run_cli, wait_until

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a second uid needs root to switch to it")
# Checkpoints are taken only with a SQLite that has the WAL-reset fix (the bundled one).
needs_fix = pytest.mark.skipif(not linked_sqlite()["wal_reset_fix"],
                               reason="this build links a SQLite with the WAL-reset bug: sqlkeeper takes no checkpoints")
NOBODY = 65534


def post(d, target, timeout=30.0):
    status, _, body = http_request(d.socket, "POST", target, timeout=timeout)
    return status, json.loads(body)


def status_json(d):
    return d.get_json("/status")[1]


def failed_backup(d):
    """POST /backup, and the error it ended with."""
    status, body = post(d, "/backup")
    assert status == 202, (status, body)
    return wait_until(lambda: status_json(d)["backups"]["activity"]["last_failure"], timeout=20,
                      what="the backup's failure")


def daemon_with_backups_in(daemon_factory, folder, **kw):
    d = daemon_factory(**kw)
    d.backups = d.workdir / folder
    d.args[d.args.index("--backup-dir") + 1] = d.backups
    return d


@needs_root
def test_a_backup_folder_that_exists_but_cannot_be_looked_at_is_named_as_such(daemon_factory):
    """The folder is there, but its parent lets the daemon's user not through (EACCES on
    stat): the error names that, not "create backup folder"."""
    d = daemon_with_backups_in(daemon_factory, "vault/backups", uid=NOBODY)
    d.backups.mkdir(parents=True)
    d.start().wait_ready()
    os.chmod(d.backups.parent, 0o600)
    error = failed_backup(d)
    assert "create backup folder" not in error, error
    assert f"cannot look at backup folder {d.backups}" in error and "Permission denied" in error, error


def test_a_failed_backup_on_a_fresh_install_is_retried_in_a_minute_not_at_the_night(daemon_factory):
    """Nightly only, no backup yet, and POST /backup fails (the folder is a file): the
    schedule's next attempt is the back-off's minute, not the next nightly slot."""
    d = daemon_with_backups_in(daemon_factory, "not-a-folder", extra_args=NO_ARCHIVE)
    d.backups.parent.mkdir(parents=True, exist_ok=True)
    d.start().wait_ready()
    d.backups.write_text("in the way\n")
    failed_backup(d)

    def schedule():
        s = status_json(d)["backups"]["schedule"]
        return s["failures_since_success"] == 1 and s
    s = wait_until(schedule, timeout=10, what="the failure in the schedule")
    assert s["next_why"] == "retry after 1 failure", s
    failed = datetime.fromisoformat(status_json(d)["backups"]["activity"]["last_failure_time"].replace("Z", "+00:00"))
    nxt = datetime.fromisoformat(s["next"].replace("Z", "+00:00"))
    assert 55 <= (nxt - failed).total_seconds() <= 62, (failed, nxt)
    assert nxt > datetime.now(timezone.utc)


def utc(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_backup_taken_by_the_cli_beside_the_daemon_shows_and_the_schedule_counts_from_it(daemon_factory):
    """`sqlkeeper backup` while the daemon runs: /status, /health and the schedule agree with
    the disk within a refresh, and the next interval backup counts from the CLI's."""
    # The nightly backup half a day away: within the hour before it, it would come
    # before the interval's and be the next one (the test failed between 02:00 and 03:00).
    nightly = (datetime.now() + timedelta(hours=12)).strftime("%H:%M")
    d = daemon_factory(extra_args=["--backup-interval", "1h", "--backup-at", nightly, *NO_ARCHIVE]).start().wait_ready()
    assert status_json(d)["backups"]["count"] == 0
    # The CLI's backup must be later than the daemon's start by a second stamp at least,
    # or "counts from the start" and "counts from the backup" would be the same time.
    wait_until(lambda: status_json(d)["uptime_seconds"] >= 2, timeout=10, what="two seconds of uptime")
    r = run_cli("backup", "--json", "--database", d.database, "--backup-dir", d.backups, timeout=60)
    assert r.returncode == 0, r.stderr
    taken = json.loads(r.stdout)

    def seen():
        b = status_json(d)["backups"]
        return b["count"] == 1 and b["last"] and b
    b = wait_until(seen, timeout=15, interval=0.2, what="the daemon to see the CLI's backup")
    assert b["last"]["file"] == taken["file"] and b["last"]["verified"] is True, b
    assert b["schedule"]["next_why"] == "interval", b["schedule"]
    assert utc(b["schedule"]["next"]) == utc(b["last"]["time"]) + timedelta(hours=1), b
    detail = d.get_json("/status")[1]["checks"]["backup"]["detail"]
    assert detail.startswith("last backup ") and detail.endswith(" ago"), detail
    # and the daemon took none of its own meanwhile
    assert not b["activity"]["running"] and len(list(d.backups.glob("app-*.db"))) == 1


WRITER = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA wal_autocheckpoint=0")
con.execute("CREATE TABLE IF NOT EXISTS w (i INTEGER PRIMARY KEY, pad BLOB)")
for i in range(300):
    con.execute("INSERT INTO w (pad) VALUES (randomblob(8000))")
print("committed", flush=True)
time.sleep(600)
"""


@needs_root
@needs_fix
def test_a_backup_folder_gone_unreadable_leaves_checkpoints_and_figures_going_and_is_named(daemon_factory):
    """EACCES on the backup folder (its parent closed to the daemon's user): the refresh
    loop used to die on it, freezing the figures and the WAL-size checkpoints. They go on,
    and /health names the folder until it can be looked at again."""
    d = daemon_with_backups_in(daemon_factory, "vault/backups", uid=NOBODY,
                               extra_args=["--wal-max-bytes", "1MiB", "--checkpoint-interval", "1h"])
    d.backups.mkdir(parents=True)
    d.start().wait_ready()
    before = status_json(d)["checkpoint"]["total"]
    os.chmod(d.backups.parent, 0o600)
    # Past one refresh with the folder closed, then a WAL over the limit.
    wait_until(lambda: status_json(d)["uptime_seconds"] >= 7, timeout=15,
               what="a refresh with the folder closed")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(d.database)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, preexec_fn=lambda: (os.setgid(NOBODY), os.setuid(NOBODY)))
    try:
        assert writer.stdout.readline().strip() == "committed", writer.stderr.read()
        s = wait_until(lambda: (s := status_json(d))["checkpoint"]["total"] > before and s, timeout=15, interval=0.2,
                       what="a WAL-size checkpoint with the backup folder closed")
        assert s["database"]["wal_bytes"] < 1 << 20, s["database"]
        check = wait_until(lambda: d.get_json("/health")[1].get("checks", {}).get("backup_dir"), timeout=10,
                           what="the backup folder in /health")
        assert check["status"] == "degraded", check
        assert check["detail"] == f"cannot look at backup folder {d.backups}: Permission denied", check
        os.chmod(d.backups.parent, 0o755)
        wait_until(lambda: "backup_dir" not in d.get_json("/health")[1].get("checks", {}), timeout=10,
                   what="the backup folder to answer again")
    finally:
        writer.kill()
        writer.wait()


def test_a_backup_dir_given_as_a_symlink_is_resolved_at_start_and_a_later_swap_is_named(daemon_factory):
    """backup-dir is a link: /status shows the real folder, backups go there; pointing the
    link elsewhere later is reported like a replaced database, and backups stay where they were."""
    d = daemon_factory()
    first, second = d.workdir / "disk1" / "backups", d.workdir / "disk2" / "backups"
    first.mkdir(parents=True)
    second.mkdir(parents=True)
    link = d.workdir / "backups-link"
    link.symlink_to(first)
    d.args[d.args.index("--backup-dir") + 1] = link
    d.start().wait_ready()
    b = status_json(d)["backups"]
    assert b["dir"] == str(first) and b["dir_configured"] == str(link), b
    assert f"backup-dir {link} leads to {first}" in d.output()
    assert post(d, "/backup")[0] == 202
    wait_until(lambda: status_json(d)["backups"]["count"] == 1, timeout=30, what="the backup")
    assert len(list(first.glob("app-*.db"))) == 1
    # Swapped, atomically, as an operator's `ln -sfn` does.
    tmp = d.workdir / "backups-link.new"
    tmp.symlink_to(second)
    os.rename(tmp, link)
    check = wait_until(lambda: d.get_json("/health")[1].get("checks", {}).get("backup_dir"), timeout=12,
                       interval=0.2, what="the swapped link in /health")
    assert check["status"] == "degraded", check
    assert check["detail"].startswith(f"backup-dir {link} leads to {second} since sqlkeeper started, not to {first}")
    assert post(d, "/backup")[0] == 202
    wait_until(lambda: status_json(d)["backups"]["count"] == 2, timeout=30, what="the second backup")
    assert len(list(first.glob("app-*.db"))) == 2 and not list(second.iterdir())
    # Put back: the check clears.
    tmp.symlink_to(first)
    os.rename(tmp, link)
    wait_until(lambda: "backup_dir" not in d.get_json("/health")[1].get("checks", {}), timeout=12, interval=0.2,
               what="the link put back")


def owner(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid


@needs_root
def test_a_backup_by_root_before_the_first_leaves_the_folder_to_the_databases_owner(daemon_factory):
    """The restore drill's `sqlkeeper backup` as root on a database owned by the daemon's user:
    the folder it makes, the backup, its sidecar and the lock file are that user's, so the
    daemon's (and that user's) later backups go on working."""
    d = daemon_factory(uid=NOBODY, extra_args=NO_ARCHIVE).start().wait_ready()
    d.stop()
    assert not d.backups.exists()
    assert owner(d.database) == (NOBODY, NOBODY)
    r = run_cli("backup", "--json", "--database", d.database, "--backup-dir", d.backups, timeout=60)
    assert r.returncode == 0, r.stderr
    taken = json.loads(r.stdout)
    assert owner(d.backups) == (NOBODY, NOBODY) and os.stat(d.backups).st_mode & 0o777 == 0o700
    for p in (taken["file"], taken["sidecar"], d.backups / ".sqlkeeper.lock"):
        assert owner(p) == (NOBODY, NOBODY), p
    # and the database's owner can take the next one there
    def as_owner():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    r = subprocess.run([BIN, "backup", "--database", d.database, "--backup-dir", d.backups], capture_output=True,
                       text=True, timeout=60, preexec_fn=as_owner)
    assert r.returncode == 0, r.stderr


@needs_root
def test_a_daemon_backup_refused_by_a_root_owned_folder_names_the_owner_and_the_chown(daemon_factory):
    d = daemon_factory(uid=NOBODY)
    d.backups.mkdir(parents=True)
    d.start().wait_ready()
    # What a root command used to leave: the folder root's, closed to everyone else.
    os.chown(d.backups, 0, 0)
    os.chmod(d.backups, 0o700)
    error = failed_backup(d)
    assert f"{d.backups} belongs to uid 0 (root) (mode 0700), not to this daemon's user, uid {NOBODY}" in error, error
    assert error.endswith(f"Fix: chown -R {NOBODY}:{NOBODY} {d.backups}"), error
