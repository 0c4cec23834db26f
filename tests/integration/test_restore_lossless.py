"""An in-place restore under an application that keeps committing: every commit
that returned success before the restore's own commit is in the pre-restore
backup, and every later one is in the restored database, with and without the
daemon running. A restore that is stopped says exactly what happened: before its
commit nothing changed, after it the database is restored."""
import json
import os
import signal
import subprocess

import pytest

from conftest import (BIN, BUNDLED_MIGRATIONS, clean_env, migrate_cli, open_db, query, run_cli, start_writer,
                      stop_writer, wait_until)


def fill(db, megabytes):
    con = open_db(db)
    con.execute("CREATE TABLE IF NOT EXISTS bulk (i INTEGER PRIMARY KEY, pad BLOB)")
    con.execute("CREATE TABLE IF NOT EXISTS ticks (id INTEGER PRIMARY KEY, at REAL NOT NULL, pad BLOB)")
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
                "INSERT INTO bulk(pad) SELECT randomblob(1000) FROM c", (megabytes * 1000,))
    con.close()


def cli(db, backups, *args, timeout=300):
    return run_cli(*args, "--database", db, "--backup-dir", backups, timeout=timeout)


def ids(path):
    return {r[0] for r in query(path, "SELECT id FROM ticks")}


def max_tick(db):
    return query(db, "SELECT coalesce(max(id), 0) FROM ticks")[0][0]


def pre_restore_backups(db, backups):
    listing = json.loads(cli(db, backups, "backups", "--json").stdout)
    return [b["file"] for b in listing["backups"] if b["label"] == "pre-restore"]


@pytest.mark.parametrize("with_daemon", [False, True], ids=["alone", "beside-the-daemon"])
def test_a_restore_under_a_busy_writer_loses_no_commit(tmp_path, daemon_factory, with_daemon):
    if with_daemon:
        d = daemon_factory().start().wait_ready()
        db, backups = d.database, d.backups
    else:
        db, backups = tmp_path / "data" / "app.db", tmp_path / "backups"
        assert migrate_cli("up", db, BUNDLED_MIGRATIONS, backup_dir=backups).returncode == 0
    fill(db, 40)
    writer = start_writer(db, busy_ms=60000)
    try:
        wait_until(lambda: max_tick(db) > 100, 20, what="the writer to get going")
        r = cli(db, backups, "backup", "--json")
        assert r.returncode == 0, r.stderr
        backup = json.loads(r.stdout)["file"]
        seen = max_tick(db)
        wait_until(lambda: max_tick(db) > seen + 200, 20, what="commits after the backup")
        before = max_tick(db)
        r = cli(db, backups, "restore", backup, "--force")
        assert r.returncode == 0, r.stderr
        after = max_tick(db)
        wait_until(lambda: max_tick(db) > after + 100, 30, what="commits after the restore")
    finally:
        summary = stop_writer(writer)
    assert summary["failures"] == [], summary["failures"][:3]
    committed = set(range(1, summary["committed"] + 1))
    [pre] = pre_restore_backups(db, backups)
    kept, live = ids(pre), ids(db)
    lost = sorted(committed - kept - live)
    during = max(kept) - before
    print(f"\nrestore under a writer ({'daemon running' if with_daemon else 'no daemon'}): "
          f"database {os.path.getsize(pre) / 2**20:.1f} MiB, {summary['committed']} commits, "
          f"{during} during the restore, writer's longest commit {summary['max_ms']:.0f} ms, lost: {len(lost)}")
    assert lost == [], f"{len(lost)} committed rows are in neither the pre-restore backup nor the database: {lost[:10]}"
    # the pre-restore backup is the whole committed state up to the restore, and the restored
    # database the backup plus what came after: nothing from before the restore leaked into it
    assert kept == set(range(1, max(kept) + 1))
    assert min(live - ids(backup)) > max(kept)
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert cli(db, backups, "verify", pre).returncode == 0


def start_restore(db, backups, *args):
    return subprocess.Popen([BIN, "restore", *map(str, args), "--database", str(db), "--backup-dir", str(backups)],
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_at(db, backups, backup, phase):
    """Runs `restore BACKUP --force` and sends SIGTERM once it logs `phase`."""
    p = start_restore(db, backups, backup, "--force")
    err = []
    for line in p.stderr:
        err.append(line)
        if phase in line:
            p.send_signal(signal.SIGTERM)
            break
    out, rest = p.communicate(timeout=300)
    return p.returncode, out, "".join(err) + rest


@pytest.mark.parametrize("phase,expected", [
    ("restore: saving the replaced content", "unchanged"),
    ("restore: loading", "unchanged"),
    ("restore: checking", "restored, check stopped"),
])
def test_a_stopped_restore_says_what_happened(tmp_path, phase, expected):
    """SIGTERM at each step of the restore: the exit status and the message agree
    with what the database holds, and a stop before the load's commit changes nothing."""
    db, backups = tmp_path / "data" / "app.db", tmp_path / "backups"
    assert migrate_cli("up", db, BUNDLED_MIGRATIONS, backup_dir=backups).returncode == 0
    fill(db, 60)
    r = cli(db, backups, "backup", "--json")
    assert r.returncode == 0, r.stderr
    backup = json.loads(r.stdout)["file"]
    con = open_db(db)
    con.execute("DELETE FROM bulk")
    con.execute("INSERT INTO bulk(pad) VALUES ('changed')")
    con.close()
    code, out, err = stop_at(db, backups, backup, phase)
    rows = query(db, "SELECT count(*) FROM bulk")[0][0]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    if expected == "unchanged":
        assert code != 0, (out, err)
        assert rows == 1, f"exit {code} but the database holds the backup's {rows} rows: {err}"
        assert "nothing was changed" in err, err
    else:
        assert code == 0, err
        assert rows == 60000
        assert "restored" in out and "the check after it was stopped" in out, (out, err)
    assert not [f for f in os.listdir(backups) if f.endswith(".tmp")]
