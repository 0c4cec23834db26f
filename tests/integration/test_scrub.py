"""The daemon re-reads every kept backup at least once per verify-interval and
compares it with its sidecar: a backup damaged after it was written (a flipped
bit, same size, which only reading it all again sees) is found, recorded in its sidecar, named in the log, and no longer
counts as verified (`restore --latest` passes it over); a good one is recorded
as checked."""
import json

from conftest import NO_ARCHIVE, open_db, run_cli, wait_until


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


def test_the_scrub_finds_a_backup_damaged_after_it_was_written(daemon_factory):
    d = daemon_factory(extra_args=["--verify-interval", "2s", *NO_ARCHIVE]).start().wait_ready()
    con = open_db(d.database)
    con.execute("CREATE TABLE bulk (i INTEGER PRIMARY KEY, pad BLOB)")
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) "
                "INSERT INTO bulk SELECT i, randomblob(1000) FROM c")
    con.close()
    damaged = take_backup(d)
    # A flipped bit deep in the file, same size: only reading it all again finds it.
    with open(damaged, "r+b") as f:
        f.seek(200_000)
        byte = f.read(1)
        f.seek(200_000)
        f.write(bytes([byte[0] ^ 0x10]))

    wait_until(lambda: sidecar_field(damaged, "check") is not None, 20, what="the scrub to check the backup")
    assert sidecar_field(damaged, "check").startswith("SHA-256 "), sidecar_field(damaged, "check")
    wait_until(lambda: "no longer matches its checksum" in d.output(), 5, what="the log line")
    name = damaged.split("/")[-1]
    assert name in d.output()
    wait_until(lambda: "backup_files" in d.get_json("/health")[1].get("checks", {}), 10, what="health to name it")
    check = d.get_json("/health")[1]["checks"]["backup_files"]
    assert check["status"] == "degraded" and f"{name} is damaged" in check["detail"], check
    listed = json.loads(cli(d, "backups", "--json").stdout)["backups"][0]
    assert listed["state"] == "damaged" and "the scrub found it" in listed["problem"], listed
    r = cli(d, "restore", "--latest", "--to", d.workdir / "restored.db")
    assert r.returncode != 0 and "nothing to restore" in r.stderr and f"passed over {name}" in r.stderr, r.stderr

    good = take_backup(d)
    wait_until(lambda: sidecar_field(good, "check") == "ok", 20, what="the scrub to check the good backup")
    # the damaged one is not checked again: it stays as it was found
    assert sidecar_field(damaged, "check").startswith("SHA-256 ")
    listed = next(b for b in json.loads(cli(d, "backups", "--json").stdout)["backups"] if b["file"] == good)
    # verified at its backup, and again by the scrub since
    assert listed["state"] == "ok" and listed["last_verified"] > listed["time"], listed
    assert "LAST VERIFIED" in cli(d, "backups").stdout
