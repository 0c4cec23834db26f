"""The archive checked against the backups (issue 25): each new backup the
daemon takes is compared, page by page, with the chain's backup before it
brought forward by the archive; `sqlkeeper verify --archive` checks every pair
and every chain's tail. A backup that is not what the archive says is failing
health, named, and verify --archive names it."""
import hashlib
import json
import sqlite3

import pytest

from conftest import http_request, linked_sqlite, open_db, run_cli, wait_until
from test_archive_daemon import archive_status, cli_args, insert, restart, started, stop_for_a_restart

pytestmark = pytest.mark.skipif(not linked_sqlite()["wal_reset_fix"],
                                reason="the archive is off on a library with the WAL-reset bug")


def daemon_backup(d):
    """POST /backup, and waits until its chain check is recorded; the check."""
    before = archive_status(d)["chain_check"]["total"]
    status, _, _ = http_request(d.socket, "POST", "/backup", timeout=30)
    assert status == 202
    wait_until(lambda: archive_status(d)["chain_check"]["total"] > before, 30, what="the new backup's chain check")
    return archive_status(d)["chain_check"]


def health(d):
    return d.get_json("/status")[1]["checks"]["archive"]


def rewrite_consistently(backup, sql):
    """Changes a backup's content and its sidecar's checksum and size to match:
    a backup that is intact as a file but is not what the archive says."""
    con = sqlite3.connect(backup, isolation_level=None)
    con.execute(sql)
    con.close()
    data = open(backup, "rb").read()
    sidecar = backup + ".sha256"
    lines = open(sidecar).read().splitlines()
    lines[0] = hashlib.sha256(data).hexdigest() + lines[0][64:]
    lines = [f"# size: {len(data)}" if line.startswith("# size: ") else line for line in lines]
    open(sidecar, "w").write("\n".join(lines) + "\n")


def test_each_new_backup_is_checked_against_the_chain_and_verify_archive_checks_them_all(daemon_factory):
    d = started(daemon_factory)
    insert(d, 1, 50)
    first = daemon_backup(d)
    assert first["last"]["ok"], first
    assert "+ 51 archived transactions = " in first["last"]["result"], first["last"]["result"]
    con = open_db(d.database)
    con.execute("DELETE FROM items WHERE id % 3 = 0")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the app's own: the WAL restarts, the chain goes on
    con.close()
    insert(d, 100, 30)
    second = daemon_backup(d)
    assert second["last"]["ok"] and second["total"] == first["total"] + 1 and second["mismatches_total"] == 0
    assert health(d)["status"] == "ok", health(d)
    _, _, metrics = d.get("/metrics")
    assert b"sqlkeeper_archive_chain_mismatches_total 0" in metrics

    insert(d, 200, 10)
    r = run_cli("verify", "--archive", "--json", *cli_args(d))
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["ok"] and report["chains"] == 1
    pairs = [s for s in report["steps"] if s["to"]]
    tails = [s for s in report["steps"] if not s["to"]]
    assert len(pairs) == 2 and all(s["ok"] and s["pages"] > 0 for s in pairs), report
    assert len(tails) == 1 and tails[0]["ok"] and tails[0]["transactions"] == 10, tails
    r = run_cli("verify", "--archive", *cli_args(d))
    assert r.returncode == 0 and r.stdout.strip().endswith("s)") and "page for page" in r.stdout, r.stdout


def test_a_backup_that_is_not_what_the_archive_says_fails_health_and_verify_names_the_page(daemon_factory):
    d = started(daemon_factory)
    insert(d, 1, 40)
    con = open_db(d.database)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    con.executemany("INSERT INTO notes VALUES (?, ?)", [(i, f"note {i}") for i in range(1, 201)])
    con.close()
    backup = daemon_backup(d)
    assert backup["last"]["ok"]
    newest = str(d.backups / backup["last"]["backup"])
    # Intact as a file (its checksum matches), but one row differs from what the
    # archive replays to, on a page the later transactions do not write again.
    rewrite_consistently(newest, "UPDATE notes SET body = 'changed' WHERE id = 7")
    insert(d, 41, 10)
    check = daemon_backup(d)
    assert not check["last"]["ok"] and check["mismatches_total"] == 1, check
    assert backup["last"]["backup"] in check["last"]["result"] and "page" in check["last"]["result"], check
    h = health(d)
    assert h["status"] == "failing" and "does not reproduce" in h["detail"], h
    _, _, metrics = d.get("/metrics")
    assert b"sqlkeeper_archive_chain_mismatches_total 1" in metrics

    r = run_cli("verify", "--archive", *cli_args(d))
    assert r.returncode == 1, r.stdout + r.stderr
    bad = [line for line in r.stdout.splitlines() if "BAD" in line]
    assert any(backup["last"]["backup"] in line and "page" in line and "differs" in line for line in bad), r.stdout

    # A damaged segment is named too.
    [segment] = list((d.backups / "wal").glob("*/00000001.open"))
    d.stop()
    data = bytearray(segment.read_bytes())
    data[len(data) // 3] ^= 0x01
    segment.write_bytes(bytes(data))
    r = run_cli("verify", "--archive", *cli_args(d))
    assert r.returncode == 1 and "00000001.open" in r.stdout, r.stdout


def drill(d):
    return archive_status(d)["drill"]


def test_the_daemon_drills_a_restore_of_a_random_past_second_and_reports_it(daemon_factory):
    d = started(daemon_factory, "--archive-drill-interval", "2s")
    insert(d, 1, 30)
    wait_until(lambda: drill(d)["last"] is not None, 30, what="the first restore drill")
    last = drill(d)["last"]
    assert last["ok"] and last["problem"] is None, last
    assert last["backup"].startswith("app-") and last["pages"] > 0 and last["ms"] >= 0, last
    covered = json.loads(run_cli("archive", "--json", *cli_args(d)).stdout)["covered"]
    assert any(c["from"] <= last["target"] <= c["to"] for c in covered), (last, covered)
    assert drill(d)["next"] is not None
    assert not list(d.backups.glob("*restore-drill*")), "the drill's scratch file is gone"
    _, _, metrics = d.get("/metrics")
    assert b"sqlkeeper_archive_drill_ok 1" in metrics

    # Its record survives a restart: with a day to the next drill, /status has it at once.
    stop_for_a_restart(d)
    d.args[d.args.index("2s")] = "1d"
    restart(d)
    wait_until(lambda: drill(d)["last"] is not None, 10, what="the last drill's record")
    assert drill(d)["last"] == last
    assert (d.backups / "wal" / "drill.json").is_file()


def test_a_drill_that_cannot_restore_is_failing_health_and_named(daemon_factory):
    d = started(daemon_factory, "--archive-drill-interval", "2s")
    insert(d, 1, 20)
    [base] = [p for p in d.backups.glob("*.db") if (p.parent / (p.name + ".sha256")).exists()]
    data = bytearray(base.read_bytes())
    data[len(data) // 2] ^= 0x01
    base.write_bytes(bytes(data))
    wait_until(lambda: drill(d)["last"] is not None and not drill(d)["last"]["ok"], 30, what="a failed drill")
    last = drill(d)["last"]
    assert base.name in last["problem"], last
    h = health(d)
    assert h["status"] == "failing" and "restore drill failed" in h["detail"] and base.name in h["detail"], h
