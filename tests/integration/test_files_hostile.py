"""The files sqlkeeper makes, against a hostile neighbour: links planted where
its backups, sidecars and temporaries are about to go are never followed, and
every file has the mode specified even under umask 0."""
import datetime
import json
import os
import stat

from conftest import linked_sqlite, wait_until, open_db, run_cli


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def names_for_the_coming_seconds(stem, seconds=20):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    for s in range(-1, seconds):
        yield f"{stem}-{(now + datetime.timedelta(seconds=s)).strftime('%Y%m%dT%H%M%SZ')}.db"


def test_links_planted_at_backup_sidecar_and_temporary_paths_are_not_followed(tmp_path):
    database = tmp_path / "app.db"
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    con = open_db(database)
    con.execute("CREATE TABLE t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.close()
    victims = {}
    for name in names_for_the_coming_seconds("app"):
        for suffix in ("", ".tmp", ".sha256", ".sha256.tmp"):
            victim = tmp_path / f"victim-{name}{suffix}"
            victim.write_bytes(b"precious\n")
            os.symlink(victim, backups / f"{name}{suffix}")
            victims[victim] = backups / f"{name}{suffix}"
    r = run_cli("backup", "--database", database, "--backup-dir", backups, "--json")
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    assert not os.path.islink(made["file"]) and not os.path.islink(made["file"] + ".sha256")
    for victim in victims:
        assert victim.read_bytes() == b"precious\n", victim
    # The links are someone else's files: listed as foreign, never a backup.
    r = run_cli("backups", "--database", database, "--backup-dir", backups, "--json")
    listing = json.loads(r.stdout)
    assert [b["file"] for b in listing["backups"]] == [made["file"]]
    remaining = {str(p) for p in victims.values() if os.path.islink(p)}
    assert remaining and remaining <= set(listing["foreign"]) | set(listing.get("temporaries", [])), listing
    r = run_cli("verify", "--all", "--database", database, "--backup-dir", backups)
    assert r.returncode == 0, r.stdout + r.stderr
    # Pruning everything it may leaves the links and what they point at alone.
    r = run_cli("prune", "--database", database, "--backup-dir", backups, "--retention-days", "1",
                "--retention-min-count", "1")
    assert r.returncode == 0, r.stderr
    for victim in victims:
        assert victim.read_bytes() == b"precious\n", victim
    # A link at the path restore --to writes to is refused, not written through.
    target = tmp_path / "restored.db"
    os.symlink(tmp_path / "victim-restore", target)
    r = run_cli("restore", made["file"], "--to", target, "--database", database, "--backup-dir", backups)
    assert r.returncode != 0 and "exists" in r.stderr, r.stderr
    assert not (tmp_path / "victim-restore").exists()


def test_every_file_has_its_mode_under_umask_0(daemon_factory):
    d = daemon_factory(extra_args=["--file-mode", "0660", "--socket-mode", "0660"], umask=0)
    d.start().wait_ready()
    con = open_db(d.database)
    con.execute("CREATE TABLE IF NOT EXISTS t (x)")
    con.execute("INSERT INTO t VALUES (1)")
    r = run_cli("backup", "--database", d.database, "--backup-dir", d.backups, "--json")
    assert r.returncode == 0, r.stderr
    made = json.loads(r.stdout)
    con.close()
    assert mode_of(d.database) == 0o660
    for suffix in ("-wal", "-shm"):
        path = f"{d.database}{suffix}"
        if os.path.exists(path):
            assert mode_of(path) == 0o660, suffix
    assert mode_of(d.socket) == 0o660
    assert stat.S_ISSOCK(os.lstat(d.socket).st_mode)
    archiving = linked_sqlite()["wal_reset_fix"]  # the archive is off on a library with the bug
    if archiving:
        wait_until(lambda: (d.backups / "wal").is_dir(), 20, what="the archive's first chain")
    # Backups stay owner-only whatever file-mode says.
    assert mode_of(d.backups) == 0o700
    for entry in d.backups.rglob("*"):
        if entry.name.startswith("."):
            continue
        # Folders (the WAL archive's and its chains) owner-only too.
        assert mode_of(entry) == (0o700 if entry.is_dir() else 0o600), entry
    assert (d.backups / "wal").is_dir() == archiving, "the WAL archive goes into the backup folder by default"
    assert (d.backups / os.path.basename(made["file"])).exists()
