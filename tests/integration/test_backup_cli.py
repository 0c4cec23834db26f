"""`sqlkeeper backup`, `backups`, `verify` and `restore` against real files: a
backup under a busy writer is a consistent snapshot; a listed backup verifies; a
damaged one is named and refused; a restore loads through SQLite so another
process's open connection sees the restored data; nothing half-made is left."""
import datetime as dt
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import BUNDLED_MIGRATIONS, linked_sqlite, migrate_cli, open_db, query, run_cli, start_writer, stop_writer, wait_until



def setup_db(tmp_path, rows=0):
    db = tmp_path / "data" / "app.db"
    r = migrate_cli("up", db, BUNDLED_MIGRATIONS, backup_dir=tmp_path / "backups")
    assert r.returncode == 0, r.stderr
    if rows:
        con = open_db(db)
        con.execute("CREATE TABLE bulk (i INTEGER PRIMARY KEY, pad BLOB)")
        con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
                    "INSERT INTO bulk SELECT i, randomblob(1000) FROM c", (rows,))
        con.close()
    return db


def cli(tmp_path, *args, timeout=120):
    return run_cli(*args, "--database", tmp_path / "data" / "app.db", "--backup-dir", tmp_path / "backups",
                   timeout=timeout)


def backup_json(tmp_path):
    r = cli(tmp_path, "backup", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)




def test_a_backup_under_a_busy_writer_is_one_consistent_snapshot(tmp_path):
    db = setup_db(tmp_path, rows=20000)
    writer = start_writer(db)
    try:
        wait_until(lambda: query(db, "SELECT count(*) FROM ticks")[0][0] > 200, 20, what="the writer to get going")
        result = backup_json(tmp_path)
    finally:
        summary = stop_writer(writer)
    assert summary["failures"] == [], summary
    for key in ("file", "bytes", "copy_ms", "verify_ms", "total_ms", "verified"):
        assert key in result, result
    assert result["verified"] is True
    backup = result["file"]
    ids = [r[0] for r in query(backup, "SELECT id FROM ticks ORDER BY id")]
    # exactly a prefix of what the writer committed: one snapshot, no gap, nothing torn
    assert ids == list(range(1, len(ids) + 1)) and 0 < len(ids) <= summary["committed"]
    assert query(backup, "PRAGMA integrity_check") == [("ok",)]
    assert query(backup, "SELECT count(*) FROM bulk") == [(20000,)]
    assert query(backup, "PRAGMA journal_mode") == [("delete",)]
    assert os.stat(backup).st_mode & 0o777 == 0o600
    # the sidecar is one sha256sum(1) accepts
    check = subprocess.run(["sha256sum", "-c", "--strict", os.path.basename(backup) + ".sha256"],
                           cwd=os.path.dirname(backup), capture_output=True, text=True)
    assert check.returncode == 0 and ": OK" in check.stdout, check


def assert_one_snapshot(backup, committed):
    ids = [r[0] for r in query(backup, "SELECT id FROM ticks ORDER BY id")]
    assert ids == list(range(1, len(ids) + 1)) and len(ids) <= committed, backup
    assert query(backup, "PRAGMA integrity_check") == [("ok",)]
    assert query(backup, "PRAGMA journal_mode") == [("delete",)]
    return len(ids)


def test_both_ways_of_copying_give_one_consistent_snapshot_under_a_writer(tmp_path):
    """The whole-file copy (when the snapshot's WAL is empty) and the page-by-page
    copy (when it is not), each taken many times while a writer commits every ~1 ms:
    every backup is exactly a prefix of the writer's commits and passes
    integrity_check, and a later backup never holds fewer rows."""
    db = setup_db(tmp_path, rows=20000)
    writer = start_writer(db)
    methods, counts = [], []
    try:
        wait_until(lambda: query(db, "SELECT count(*) FROM ticks")[0][0] > 100, 20, what="the writer to get going")
        for _ in range(40):
            result = backup_json(tmp_path)
            methods.append(result["copy_method"])
            counts.append(assert_one_snapshot(result["file"], 10 ** 9))
            if len(methods) >= 8 and "file" in methods:
                break
        # A reader that holds the WAL: the checkpoint cannot empty it, so the copy goes page by page.
        reader = open_db(db)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM ticks").fetchall()
        wait_until(lambda: os.path.getsize(str(db) + "-wal") > 0, 10, what="the WAL to fill")
        pinned = backup_json(tmp_path)
        reader.execute("COMMIT")
        reader.close()
    finally:
        summary = stop_writer(writer)
    assert summary["failures"] == [], summary
    for c in counts:
        assert c <= summary["committed"]
    assert counts == sorted(counts), counts
    if linked_sqlite()["wal_reset_fix"]:
        # sqlkeeper checkpoints first, on the connection it then copies from.
        assert "file" in methods, methods
        assert pinned["checkpoint_note"].startswith("checkpoint skipped"), pinned
    assert pinned["copy_method"] == "pages", pinned
    assert assert_one_snapshot(pinned["file"], summary["committed"]) >= counts[-1]
    r = cli(tmp_path, "verify", "--all")
    assert r.returncode == 0, r.stdout + r.stderr
    print(methods)


def test_backups_lists_verified_backups_and_foreign_files(tmp_path):
    setup_db(tmp_path)
    first = backup_json(tmp_path)["file"]
    (tmp_path / "backups" / "notes.txt").write_text("mine")
    stale = tmp_path / "backups" / (os.path.basename(first)[:-3] + "-7.db.tmp")
    stale.write_bytes(b"half")
    r = cli(tmp_path, "backups", "--json")
    assert r.returncode == 0, r.stderr
    listing = json.loads(r.stdout)
    assert [b["file"] for b in listing["backups"]] == [first]
    assert listing["backups"][0]["verified"] is True and listing["backups"][0]["checksum"] == "ok"
    assert listing["foreign"] == [str(tmp_path / "backups" / "notes.txt")]
    assert listing["temporaries"] == [str(stale)]
    text = cli(tmp_path, "backups").stdout
    assert os.path.basename(first) in text and "not a backup (left alone): notes.txt" in text
    # the next backup removes the stale temporary, never the foreign file
    backup_json(tmp_path)
    assert not stale.exists() and (tmp_path / "backups" / "notes.txt").exists()


def test_verify_names_a_damaged_backup_and_why(tmp_path):
    setup_db(tmp_path, rows=2000)
    good = backup_json(tmp_path)["file"]
    bad = backup_json(tmp_path)["file"]
    with open(bad, "r+b") as f:
        f.seek(os.path.getsize(bad) // 2)
        f.write(b"\xff" * 64)
    r = cli(tmp_path, "verify", "--all")
    assert r.returncode == 1
    assert f"{good}: ok" in r.stdout
    assert f"{bad}: BAD: damaged: checksum mismatch" in r.stdout
    assert cli(tmp_path, "verify", good).returncode == 0
    # without its sidecar the damage is still found by integrity_check
    os.unlink(bad + ".sha256")
    r = cli(tmp_path, "verify", bad)
    assert r.returncode == 1 and "BAD: " in r.stdout, r.stdout
    r = cli(tmp_path, "verify", tmp_path / "nope.db")
    assert r.returncode == 1 and "no such file" in r.stdout


def test_restore_round_trip_into_a_new_file(tmp_path):
    db = setup_db(tmp_path, rows=500)
    backup = backup_json(tmp_path)["file"]
    target = tmp_path / "restored" / "copy.db"
    r = cli(tmp_path, "restore", backup, "--to", target)
    assert r.returncode == 0, r.stderr
    assert query(target, "SELECT count(*) FROM bulk") == [(500,)]
    assert query(target, "PRAGMA journal_mode") == [("wal",)]
    assert query(target, "PRAGMA integrity_check") == [("ok",)]
    r = cli(tmp_path, "restore", backup, "--to", target)
    assert r.returncode != 0 and "it exists" in r.stderr
    assert query(db, "SELECT count(*) FROM bulk") == [(500,)]


def test_restore_in_place_is_seen_by_an_open_connection_of_another_process(tmp_path):
    db = setup_db(tmp_path, rows=100)
    backup = backup_json(tmp_path)["file"]
    con = open_db(db)
    con.execute("DELETE FROM bulk WHERE i > 10")
    assert con.execute("SELECT count(*) FROM bulk").fetchone() == (10,)
    # another process keeps an idle connection open across the restore
    holder = subprocess.Popen([sys.executable, "-c", """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
print(con.execute("SELECT count(*) FROM bulk").fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute("SELECT count(*) FROM bulk").fetchone()[0], flush=True)
""", str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "10"
    r = cli(tmp_path, "restore", backup)
    assert r.returncode != 0 and "add --force" in r.stderr
    r = cli(tmp_path, "restore", "--latest", "--force")
    assert r.returncode == 0, r.stderr
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "100"
    holder.wait(10)
    assert con.execute("SELECT count(*) FROM bulk").fetchone() == (100,)
    assert query(db, "PRAGMA journal_mode") == [("wal",)]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # the replaced content was kept, verified, labelled pre-restore
    listing = json.loads(cli(tmp_path, "backups", "--json").stdout)
    pre = [b for b in listing["backups"] if b["label"] == "pre-restore"]
    assert len(pre) == 1 and pre[0]["verified"]
    assert query(pre[0]["file"], "SELECT count(*) FROM bulk") == [(10,)]


def test_a_damaged_backup_is_refused_before_anything_is_touched(tmp_path):
    db = setup_db(tmp_path, rows=100)
    backup = backup_json(tmp_path)["file"]
    with open(backup, "r+b") as f:
        f.seek(8192)
        f.write(b"\x00" * 100)
    open_db(db).execute("DELETE FROM bulk WHERE i > 5")
    before = query(db, "SELECT count(*) FROM bulk")
    r = cli(tmp_path, "restore", backup, "--force")
    assert r.returncode != 0 and "refusing to restore" in r.stderr and "checksum mismatch" in r.stderr
    assert query(db, "SELECT count(*) FROM bulk") == before == [(5,)]
    listing = json.loads(cli(tmp_path, "backups", "--json").stdout)
    assert not any(b["label"] == "pre-restore" for b in listing["backups"])


def test_a_backup_folder_that_is_a_file_is_a_configuration_error(tmp_path):
    setup_db(tmp_path, rows=100)
    (tmp_path / "backups").write_text("not a folder")
    r = cli(tmp_path, "backup")
    assert r.returncode == 78 and "option 'backup-dir'" in r.stderr, r.stderr
    assert (tmp_path / "backups").read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_backup_volume_refuses_the_backup_and_keeps_the_old_ones(tmp_path):
    setup_db(tmp_path, rows=30000)  # ~30 MB
    vol = tmp_path / "backups"
    vol.mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(vol)], check=True)
    try:
        (vol / "keep.txt").write_text("someone else's")
        r = cli(tmp_path, "backup")
        assert r.returncode == 1 and "not enough space for a backup in" in r.stderr, r.stderr
        assert sorted(p.name for p in vol.iterdir()) == [".sqlkeeper.lock", "keep.txt"]
        # read-only: the error names the folder
        subprocess.run(["mount", "-o", "remount,ro", str(vol)], check=True)
        r = cli(tmp_path, "backup")
        assert r.returncode == 1 and str(vol) in r.stderr, r.stderr
    finally:
        subprocess.run(["umount", "-l", str(vol)], check=False)


def plant(tmp_path, template, at, sidecar=True):
    """A copy of a real backup named as taken at `at`, with a sidecar like the real one's."""
    name = f"app-{at.strftime('%Y%m%dT%H%M%SZ')}.db"
    target = tmp_path / "backups" / name
    shutil.copyfile(template["file"], target)
    os.chmod(target, 0o600)
    if sidecar:
        lines = open(template["sidecar"]).read().splitlines()
        lines[0] = f"{template['sha256']}  {name}"
        lines = [f"# time: {int(at.timestamp())}" if l.startswith("# time:") else l for l in lines]
        (tmp_path / "backups" / (name + ".sha256")).write_text("\n".join(lines) + "\n")
    return target


def test_prune_deletes_only_backups_with_a_parseable_sidecar_of_this_database(tmp_path):
    """Item 6: a file with a backup's name but no sidecar (or one that does not
    parse) is never deleted by retention, however old; one with its sidecar is."""
    setup_db(tmp_path)
    template = backup_json(tmp_path)
    now = dt.datetime.now(dt.timezone.utc)
    with_sidecar = plant(tmp_path, template, now - dt.timedelta(days=40))
    without = plant(tmp_path, template, now - dt.timedelta(days=41), sidecar=False)
    unparseable = plant(tmp_path, template, now - dt.timedelta(days=42))
    pathlib.Path(str(unparseable) + ".sha256").write_text("not a checksum line\n")
    r = cli(tmp_path, "prune", "--retention-days", "1", "--retention-min-count", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert not with_sidecar.exists() and not pathlib.Path(str(with_sidecar) + ".sha256").exists(), r.stdout
    assert without.exists(), r.stdout
    assert unparseable.exists() and pathlib.Path(str(unparseable) + ".sha256").exists(), r.stdout
    lines = {l.split()[1]: l for l in r.stdout.splitlines() if l.startswith("keep ")}
    assert "unfinished" in lines[without.name] and "no sidecar" in lines[without.name], r.stdout
    assert "damaged" in lines[unparseable.name], r.stdout
    assert r.stdout.splitlines()[-1] == "deleted 1 backup, keeping 3", r.stdout
