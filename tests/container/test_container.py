"""The issue's cases for the image, each under the hardening of HARDENED (read-only
root, no capabilities, no network, a uid of the user's choosing); the first also
runs plain, as `docker run IMAGE` would."""
import os
import sqlite3
import time

import pytest

from conftest import (GID, HARDENED, IMAGE, SQLKEEPER_UID, fill_database, image_healthcheck_with_start_period, query,
                      wait_until)


def backups_of(pod):
    return sorted(p for p in pod.data.joinpath("backups").glob("app-*.db")) if pod.data.joinpath("backups").exists() \
        else []


def temporaries(pod):
    return sorted(str(p) for p in pod.data.joinpath("backups").glob("*.tmp"))


def test_image_has_no_compiler_headers_or_apt_lists(engine, images):
    r = engine("run", "--rm", "--entrypoint", "/bin/sh", "localhost/sqlkeeper:e2e", "-c",
               "ls -A /var/lib/apt/lists; for t in cc gcc g++ c++ cmake; do command -v $t; done; "
               "ls /usr/include 2>/dev/null | head -n 3; id -u; id -g")
    assert r.stdout.split() == ["10001", "10001"], r.stdout
    assert images["size"] < 120e6, images["size"]


@pytest.mark.parametrize("options", [HARDENED, []], ids=["hardened", "plain"])
def test_migrates_is_healthy_within_10s_and_the_app_starts_after(pod, options):
    sk = pod.sqlkeeper(options=options).start()
    took = sk.wait_healthy(timeout=10)
    print(f"\ncontainer: healthy {took:.2f} s after `podman run` ({'hardened' if options else 'plain'})")
    # Healthy means migrated: what `depends_on: condition: service_healthy` waits for.
    assert query(sk.database, "SELECT name FROM sqlite_schema WHERE name = 'notes'") == [("notes",)]
    assert sk.inspect("{{.State.Health.Status}}") == "healthy"
    app = pod.app(interval="0.05").start()
    wait_until(lambda: len(app.committed()) >= 3, 20, what=f"the app's commits:\n{app.output()}")
    assert app.stop() == list(range(1, len(app.committed()) + 1))
    st = os.stat(sk.database)
    assert (st.st_mode & 0o777, st.st_gid) == (0o660, GID)


def test_writer_commits_while_interval_backups_run_and_every_backup_verifies(pod):
    sk = pod.sqlkeeper(env={"SQLKEEPER_BACKUP_INTERVAL": "2s"}).start()
    sk.wait_healthy()
    app = pod.app(interval="0.005").start()
    wait_until(lambda: len(backups_of(pod)) >= 3, 60, what="three interval backups")
    committed = app.stop()
    pod.engine("stop", "-t", "10", sk.name)  # no backup half-written while they are checked
    r = pod.engine("run", "--rm", *HARDENED, "-v", f"{pod.data}:/data", IMAGE, "verify", "--all", check=False)
    assert r.returncode == 0 and r.stdout.count(": ok") == len(backups_of(pod)) >= 3, r.stdout + r.stderr
    for backup in backups_of(pod):
        # A backup holds a prefix of the commits: nothing half-committed, no gap.
        ids = [row[0] for row in query(backup, "SELECT id FROM notes ORDER BY id")]
        assert ids == list(range(1, len(ids) + 1)), backup
    ids = [row[0] for row in query(sk.database, "SELECT id FROM notes ORDER BY id")]
    assert committed and ids[:len(committed)] == committed, "a commit the app saw returned is missing"


def test_stop_during_a_large_backup_exits_0_in_time_and_leaves_nothing(pod):
    sk = pod.sqlkeeper(env={"SQLKEEPER_BACKUP_INTERVAL": "1s"}).start()
    sk.wait_healthy()
    pod.engine("stop", "-t", "10", sk.name)
    fill_database(sk.database, 256)
    pod.engine("start", sk.name)
    sk.wait_for_message("backup 1 started")
    assert not [m for m in sk.messages() if "backup 1 done" in m], "the backup ended before the stop"
    started = time.monotonic()
    pod.engine("stop", "-t", "10", sk.name, timeout=60)
    took = time.monotonic() - started
    print(f"\ncontainer: `podman stop` during a 256 MiB backup took {took:.2f} s")
    assert took < 10
    assert sk.inspect("{{.State.ExitCode}}") == "0", sk.logs_text()
    assert not [m for m in sk.messages() if "backup 1 done" in m]
    assert temporaries(pod) == []
    assert query(sk.database, "PRAGMA integrity_check") == [("ok",)]
    assert query(sk.database, "SELECT count(*) FROM filler") == [(256 * 16,)]


def test_sigint_stops_it_cleanly_too(pod):
    sk = pod.sqlkeeper().start()
    sk.wait_healthy()
    pod.engine("kill", "--signal", "INT", sk.name)
    wait_until(lambda: sk.inspect("{{.State.Status}}") == "exited", 10, what="the stop on SIGINT")
    assert sk.inspect("{{.State.ExitCode}}") == "0", sk.logs_text()
    assert any("received SIGINT, stopping" in m for m in sk.messages())
    assert not (pod.data / "sqlkeeper.sock").exists()


def test_kill_then_start_is_healthy_and_loses_nothing(pod):
    sk = pod.sqlkeeper().start()
    sk.wait_healthy()
    app = pod.app(interval="0.005").start()
    wait_until(lambda: len(app.committed()) >= 50, 30, what="the app's commits")
    pod.engine("kill", "--signal", "KILL", sk.name)
    wait_until(lambda: sk.inspect("{{.State.Status}}") == "exited", 10, what="the kill")
    pod.engine("start", sk.name)
    sk.started_at = time.monotonic()
    sk.wait_healthy()
    committed = app.stop()
    ids = [row[0] for row in query(sk.database, "SELECT id FROM notes ORDER BY id")]
    assert ids[:len(committed)] == committed
    assert query(sk.database, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_database_deleted_or_replaced_turns_the_container_unhealthy(pod, how):
    # Podman 4.3 counts no failure within the start period even after the first
    # success (Docker ends the period there), and the image's is 10 minutes.
    sk = pod.sqlkeeper(options=[*HARDENED, *image_healthcheck_with_start_period(pod.engine, 1)]).start()
    sk.wait_healthy()
    if how == "deleted":
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{sk.database}{suffix}"):
                os.unlink(f"{sk.database}{suffix}")
    else:
        other = pod.data / "other.db"
        sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
        os.chown(other, SQLKEEPER_UID, GID)
        os.replace(other, sk.database)
    # Three failed checks in a row (the image's --retries) make the engine call it unhealthy.
    wait_until(lambda: not sk.healthcheck() and sk.inspect("{{.State.Health.Status}}") == "unhealthy", 30,
               interval=0.5, what="the container unhealthy")
    out = sk.exec("sqlkeeper", "health", check=False)
    assert out.returncode == 2 and "database:" in out.stdout, out.stdout


def test_a_post_backup_command_that_forks_and_exits_leaves_no_zombie(pod):
    # The first run leaves a child behind: when the command exits, the child is
    # handed to PID 1, which must reap it once it ends.
    command = "/bin/sh -c '[ -e /data/forked ] || { touch /data/forked; sleep 0.5 & }; exit 0'"
    sk = pod.sqlkeeper(env={"SQLKEEPER_BACKUP_INTERVAL": "2s", "SQLKEEPER_POST_BACKUP_COMMAND": command}).start()
    sk.wait_healthy()
    wait_until(lambda: (pod.data / "forked").exists(), 30, what="the post-backup-command's first run")

    def processes():
        """{pid: (comm, state letter)} of every process in the container."""
        out = sk.exec("/bin/sh", "-c", "for p in /proc/[0-9]*; do echo \"${p#/proc/} $(cat $p/comm) "
                      "$(sed -n 's/^State:[[:space:]]*//p' $p/status)\"; done 2>/dev/null").stdout
        return {int(f[0]): (f[1], f[2][0]) for f in (line.split() for line in out.splitlines()) if len(f) >= 3}

    # The child ends after 0.5 s; then it is gone (reaped) or a zombie (not reaped).
    wait_until(lambda: all(state == "Z" for comm, state in processes().values() if comm == "sleep"), 20,
               what="the command's child to end")
    zombies = {pid: p for pid, p in processes().items() if p[1] == "Z"}
    assert zombies == {}, zombies
