"""The WAL archive beside a running daemon (issue 25): on by default, a chain
begun by a backup at start, `sqlkeeper archive`, restore --at in place and into
a new file, --dry-run, a damaged segment refused by name, a restart that goes on
with the chain, and the archive's retention following the backups'."""
import json
import signal
import stat
import time
from datetime import datetime, timezone

import pytest

from conftest import linked_sqlite, open_db, run_cli, wait_until

# On an SQLite with the WAL-reset bug sqlkeeper takes no checkpoints, so no backup
# can begin an archive chain: the archive is off there (its reason in /status).
pytestmark = pytest.mark.skipif(not linked_sqlite()["wal_reset_fix"],
                                reason="the archive is off on a library with the WAL-reset bug")


def rfc3339(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def archive_status(d):
    return d.get_json("/status")[1]["archive"]


def cli_args(d):
    return ["--database", d.database, "--backup-dir", d.backups, "--migrations", d.migrations, "--socket", d.socket]


def based(d):
    """A chain runs and a finished backup marks its place in it."""
    a = archive_status(d)
    return a["chain"] is not None and a["chain_has_base"]


def started(daemon_factory, *args):
    d = daemon_factory(extra_args=list(args)).start().wait_ready()
    wait_until(lambda: based(d), 30, what="the first archive chain and its backup")
    return d


def insert(d, first, count):
    """Commits `count` rows, one transaction each (and one more that makes the
    table, the first time), and waits until the archive holds them all."""
    before = archive_status(d)["last_transaction"]
    con = open_db(d.database)
    made = not con.execute("SELECT 1 FROM sqlite_schema WHERE name = 'items'").fetchone()
    con.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY)")
    for i in range(first, first + count):
        con.execute("INSERT INTO items VALUES (?)", (i,))
    con.close()
    expected = before + count + made
    wait_until(lambda: archive_status(d)["last_transaction"] >= expected, 10, what=f"transaction {expected} archived")


def items(path):
    con = open_db(path)
    try:
        return [r[0] for r in con.execute("SELECT id FROM items ORDER BY id")]
    finally:
        con.close()


def stop_for_a_restart(d, sig=signal.SIGTERM):
    d.proc.send_signal(sig)
    d.proc.wait(15)
    d.log.close()


def restart(d):
    d.notify.drain()
    seen = len(d.notify.messages)
    d.start()
    d.notify.wait_for("READY", "1", 20, after=seen)


def test_the_archive_is_on_by_default_and_begins_with_a_backup_at_start(daemon_factory):
    d = started(daemon_factory)
    a = archive_status(d)
    assert a["on"] and a["dir"] == str(d.backups / "wal") and a["interval_ms"] == 1000
    wait_until(lambda: list(d.backups.glob("*.db.sha256")), 20, what="the backup that begins the chain")
    sidecars = list(d.backups.glob("*.db.sha256"))
    assert len(sidecars) == 1
    assert f"# archive: {a['chain']} 0 " in sidecars[0].read_text()
    # The lock file names the chain written, for a prune in another process.
    assert (d.backups / "wal" / ".archiving").read_text() == a["chain"] + "\n"
    status, body = d.get_json("/health")
    assert status == 200 and body == {"status": "ok"}, body
    insert(d, 1, 50)
    a = archive_status(d)
    assert a["transactions_archived"] >= 50 and a["gaps"] == [] and a["error"] is None
    r = run_cli("archive", *cli_args(d))
    assert r.returncode == 0, r.stderr
    assert "a daemon archives now" in r.stdout and "you can restore to any second from" in r.stdout, r.stdout
    assert "lag:" in r.stdout, r.stdout
    r = run_cli("backups", "--json", *cli_args(d))
    assert json.loads(r.stdout)["backups"][0]["archive"]["chain"] == a["chain"]


def test_restore_at_in_place_beside_the_daemon_and_the_archive_goes_on_through_it(daemon_factory, tmp_path):
    d = started(daemon_factory)
    insert(d, 1, 100)
    time.sleep(1.1)
    moment = time.time()
    time.sleep(1.1)
    insert(d, 101, 100)  # a mistake to undo
    plan = run_cli("restore", "--at", rfc3339(moment), "--dry-run", *cli_args(d))
    assert plan.returncode == 0, plan.stderr
    assert "would restore" in plan.stdout and "would apply" in plan.stdout, plan.stdout
    assert items(d.database)[-1] == 200, "a dry run changes nothing"
    before = archive_status(d)["last_transaction"]
    r = run_cli("restore", "--at", rfc3339(moment), "--force", *cli_args(d))
    assert r.returncode == 0, r.stderr
    wait_until(lambda: archive_status(d)["last_transaction"] > before, 10, what="the load archived")
    assert "the replaced content is kept as" in r.stdout, r.stdout
    assert items(d.database) == list(range(1, 101))
    # The load is a transaction like any other: archived, and later moments hold it.
    insert(d, 1001, 10)
    later = tmp_path / "later.db"
    r = run_cli("restore", "--at", "latest", "--to", later, *cli_args(d))
    assert r.returncode == 0, r.stderr
    assert items(later) == list(range(1, 101)) + list(range(1001, 1011))
    # The replayed copy was renamed into place: nothing else of it stays beside it.
    assert sorted(p.name for p in tmp_path.glob("later.db*")) == ["later.db"]
    assert stat.S_IMODE(later.stat().st_mode) == 0o600
    assert archive_status(d)["gaps"] == []
    # Never over a file that is there.
    later.write_bytes(b"mine")
    r = run_cli("restore", "--at", "latest", "--to", later, *cli_args(d))
    assert r.returncode != 0 and "exists" in r.stderr, r.stderr
    assert later.read_bytes() == b"mine"


def test_a_damaged_segment_is_refused_by_name_and_archive_names_it(daemon_factory, tmp_path):
    d = started(daemon_factory)
    insert(d, 1, 20)
    d.stop()
    [segment] = list((d.backups / "wal").glob("*/00000001.open"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0x01
    segment.write_bytes(bytes(data))
    r = run_cli("restore", "--at", "latest", "--to", tmp_path / "x.db", *cli_args(d))
    assert r.returncode != 0 and "00000001.open" in r.stderr, r.stderr
    assert list(tmp_path.glob("x.db*")) == [], "no restored file and no scratch beside it"
    r = run_cli("archive", *cli_args(d))
    assert r.returncode == 1 and "00000001.open" in r.stdout and "damaged" in r.stdout, r.stdout


def test_a_restart_without_a_wal_restart_goes_on_with_the_chain_and_names_the_pause(daemon_factory, tmp_path):
    d = started(daemon_factory)
    insert(d, 1, 20)
    chain = archive_status(d)["chain"]
    stop_for_a_restart(d, signal.SIGKILL)
    restart(d)
    wait_until(lambda: archive_status(d)["chain"] is not None, 20, what="the chain")
    assert archive_status(d)["chain"] == chain, "the WAL was not restarted: the same chain goes on"
    assert (d.backups / "wal" / ".archiving").read_text() == chain + "\n"
    assert archive_status(d)["chain_has_base"], "the chain's backup is in the backup folder"
    insert(d, 21, 20)
    report = json.loads(run_cli("archive", "--json", *cli_args(d)).stdout)
    assert [g["cause"] for g in report["gaps"]] == ["sqlkeeper was not running"], report["gaps"]
    out = tmp_path / "out.db"
    r = run_cli("restore", "--at", "latest", "--to", out, *cli_args(d))
    assert r.returncode == 0, r.stderr
    assert items(out) == list(range(1, 41))


def test_the_archive_keeps_what_the_kept_backups_need(daemon_factory):
    d = started(daemon_factory)
    insert(d, 1, 20)
    first_chain = archive_status(d)["chain"]
    stop_for_a_restart(d)
    # The application checkpoints while sqlkeeper is stopped: the next start begins a new chain.
    con = open_db(d.database)
    con.execute("INSERT INTO items VALUES (999)")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("INSERT INTO items VALUES (1000)")
    con.close()
    restart(d)
    wait_until(lambda: based(d) and archive_status(d)["chain"] != first_chain, 30, what="a new chain and its backup")
    # The daemon prunes after each backup; its prune of the new chain's backup must be
    # over before this test deletes a backup, or it, not the command below, deletes the chain.
    wait_until(lambda: d.get_json("/status")[1]["backups"]["schedule"]["prune"]["last_run"], 30,
               what="the daemon's prune after the new chain's backup")
    assert (d.backups / "wal" / first_chain).is_dir()
    r = run_cli("prune", "--dry-run", *cli_args(d))
    assert r.returncode == 0 and "archive:" not in r.stdout, r.stdout
    # The first chain's backup goes (as retention would delete it): its chain goes with it at the next prune.
    [old] = [p for p in d.backups.glob("*.db.sha256") if first_chain in p.read_text()]
    old.unlink()
    old.with_suffix("").unlink()
    r = run_cli("prune", *cli_args(d))
    assert r.returncode == 0, r.stderr
    assert "archive: deleted 1 chains" in r.stdout, r.stdout
    assert not (d.backups / "wal" / first_chain).exists()
    assert (d.backups / "wal" / archive_status(d)["chain"]).is_dir()
