"""The daemon re-reads every kept backup at least once per verify-interval and
compares it with its sidecar: a backup truncated or damaged after it was
written is found, recorded in its sidecar, named in the log, and no longer
counts as verified (`restore --latest` passes it over); a good one is recorded
as checked."""
import json

from conftest import open_db, run_cli, wait_until


def take_backup(d):
    r = cli(d, "backup", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["file"]


def sidecar_field(backup, key):
    for line in open(backup + ".sha256").read().splitlines():
        if line.startswith(f"# {key}: "):
            return line[len(f"# {key}: "):]
    return None


def cli(d, *args):
    return run_cli(*args, "--database", d.database, "--backup-dir", d.backups)


def test_the_scrub_finds_a_backup_truncated_after_it_was_written(daemon_factory):
    d = daemon_factory(extra_args=["--verify-interval", "2s"]).start().wait_ready()
    con = open_db(d.database)
    con.execute("CREATE TABLE bulk (i INTEGER PRIMARY KEY, pad BLOB)")
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
                "INSERT INTO bulk SELECT i, randomblob(1000) FROM c")
    con.close()
    damaged = take_backup(d)
    size = len(open(damaged, "rb").read())
    with open(damaged, "r+b") as f:
        f.truncate(size - 4096)
    assert json.loads(cli(d, "backups", "--json").stdout)["backups"][0]["verified"] is True

    wait_until(lambda: sidecar_field(damaged, "check") is not None, 20, what="the scrub to check the backup")
    assert sidecar_field(damaged, "check") == f"size {size - 4096} bytes, the sidecar says {size}"
    wait_until(lambda: "no longer matches its checksum" in d.output(), 5, what="the log line")
    assert damaged.split("/")[-1] in d.output()
    assert json.loads(cli(d, "backups", "--json").stdout)["backups"][0]["verified"] is False
    r = cli(d, "restore", "--latest", "--to", d.workdir / "restored.db")
    assert r.returncode != 0 and "no verified backup" in r.stderr, r.stderr

    good = take_backup(d)
    wait_until(lambda: sidecar_field(good, "check") == "ok", 20, what="the scrub to check the good backup")
    # the damaged one is not checked again: it stays as it was found
    assert sidecar_field(damaged, "check").startswith("size ")
