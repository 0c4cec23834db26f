"""The WAL archive's property test (issue 25), for two applications: one that
checkpoints by itself (autocheckpoint after every commit, TRUNCATE every 100 ms
from a second process), and one that commits every 0.3 ms with SQLite's default
autocheckpoint, whose WAL only the archive's own restarts keep small; sqlkeeper killed with SIGKILL and started again a few times;
then restores to random moments must each hold exactly a prefix of the commits:
every one committed at least archive-interval + 1 s before TIME, none committed
after TIME, no holes. Every kill that cost transactions is a reported gap, and a
TIME in a gap is refused naming it."""
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import linked_sqlite, BIN, run_cli, wait_until

# On an SQLite with the WAL-reset bug sqlkeeper takes no checkpoints, so no backup
# can begin an archive chain: the archive is off there (its reason in /status).
pytestmark = pytest.mark.skipif(not linked_sqlite()["wal_reset_fix"],
                                reason="the archive is off on a library with the WAL-reset bug")

HERE = Path(__file__).parent
INTERVAL_S = 1.0


def rfc3339(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_ms(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def checkpointer(database, stop_file):
    """A second process running wal_checkpoint(TRUNCATE) every 100 ms."""
    code = (
        "import sqlite3, sys, time, os\n"
        "con = sqlite3.connect(sys.argv[1], timeout=2, isolation_level=None)\n"
        "done = 0\n"
        "while not os.path.exists(sys.argv[2]):\n"
        "    busy, log, ck = con.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()\n"
        "    done += busy == 0\n"
        "    time.sleep(0.1)\n"
        "print(done)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(database), str(stop_file)], stdout=subprocess.PIPE,
                            text=True)


def archive_status(d):
    status, body = d.get_json("/status")
    assert status == 200
    return body["archive"]


def ledger_ids(path):
    con = sqlite3.connect(path)
    try:
        if not con.execute("SELECT 1 FROM sqlite_schema WHERE name = 'ledger'").fetchone():
            return []  # restored to a moment before the application made its table
        return [row[0] for row in con.execute("SELECT id FROM ledger ORDER BY id")]
    finally:
        con.close()


def cli_args(d):
    return ["--database", d.database, "--backup-dir", d.backups, "--migrations", d.migrations]


@pytest.mark.parametrize("app", ["checkpoints", "never-pauses"])
def test_restore_at_random_moments_holds_exactly_a_prefix_of_the_commits(daemon_factory, tmp_path, app):
    checkpoints = app == "checkpoints"
    rng = random.Random(int(os.environ.get("SK_PITR_SEED", "25")))
    # Small segments: many are sealed and compressed, so restores read compressed
    # segments and skip the ones before their backup by their summaries.
    d = daemon_factory(extra_args=["--archive-interval", "1s", "--archive-segment-size", "256KiB"])
    d.start().wait_ready()
    wait_until(lambda: archive_status(d)["chain"] is not None, 30, what="the first archive chain")
    log = tmp_path / "commits.log"
    stop_file = tmp_path / "stop-checkpointer"
    pace = ["0.002", "1"] if checkpoints else ["0.0003", "1000"]
    writer = subprocess.Popen([sys.executable, HERE / "commit_log_writer.py", d.database, log, *pace],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "started"
    ckpt = checkpointer(d.database, stop_file) if checkpoints else None
    kills = []
    wal_restarts = 0  # by the archive, summed over the daemon's runs
    try:
        for _ in range(3):
            time.sleep(rng.uniform(3.0, 5.0))
            wal_restarts += archive_status(d)["wal_restarts"]
            kills.append(time.time())
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait(10)
            time.sleep(rng.uniform(0.5, 1.5))
            d.log.close()
            d.notify.drain()
            seen = len(d.notify.messages)
            d.start()
            d.notify.wait_for("READY", "1", 20, after=seen)
            wait_until(lambda: archive_status(d)["chain"] is not None, 30, what="a new chain after the kill")
        time.sleep(3.0)
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(10)
        stop_file.touch()
        truncates = int(ckpt.communicate(timeout=10)[0] or 0) if ckpt else 0
    wait_until(lambda: archive_status(d)["pending_transactions"] == 0, 10, what="the archive to catch up")
    wal_restarts += archive_status(d)["wal_restarts"]
    d.stop()

    commits = {}
    for line in log.read_text().splitlines():
        i, before, after = line.split()
        commits[int(i)] = (float(before), float(after))
    total = max(commits)
    assert total > 1000, f"the writer committed only {total}"
    if checkpoints:
        assert truncates > 20, f"the app's TRUNCATE checkpoints succeeded only {truncates} times"
    else:
        assert wal_restarts >= 3, f"the archive restarted the WAL only {wal_restarts} times"

    # Everything at the end, after a clean stop: every commit is there.
    latest = tmp_path / "latest.db"
    r = run_cli("restore", "--at", "latest", "--to", latest, *cli_args(d))
    assert r.returncode == 0, r.stderr
    ids = ledger_ids(latest)
    assert ids == list(range(1, total + 1)), f"restore --at latest holds {len(ids)} of {total} commits"

    # The gaps the kills caused are reported, with their cause.
    r = run_cli("archive", "--json", *cli_args(d))
    assert r.returncode == 0, r.stderr + r.stdout
    report = json.loads(r.stdout)
    gaps = [(parse_ms(g["since"]), parse_ms(g["until"]) if g["until"] else float("inf"), g["cause"])
            for g in report["gaps"]]
    for k in kills:
        assert any(s <= k <= u for s, u, _ in gaps), f"the kill at {rfc3339(k)} is in no reported gap: {gaps}"

    # From the archive's first moment (the backup at start) to a second after the last commit.
    first = max(min(b for b, _ in commits.values()) - 1.0, parse_ms(report["covered"][0]["from"]))
    last = max(a for _, a in commits.values()) + 1.0
    # 40 TIMEs inside the covered ranges (each must restore), 10 anywhere (a gap refuses).
    covered = [(max(parse_ms(c["from"]), first), min(parse_ms(c["to"]), last)) for c in report["covered"]]
    covered = [(a, b) for a, b in covered if b > a]
    assert covered, report["covered"]

    def inside():
        a, b = rng.choices(covered, weights=[b - a for a, b in covered])[0]
        return rng.uniform(a, b)
    compressed = list((d.backups / "wal").glob("*/*.seg.zst"))
    tried = restored = refused = checked = 0
    for n in range(50):
        t = inside() if n < 40 else rng.uniform(first, last)
        tried += 1
        target = tmp_path / f"at-{n}.db"
        r = run_cli("restore", "--at", rfc3339(t), "--to", target, *cli_args(d))
        in_gap = [g for g in gaps if g[0] <= t < g[1]]
        if r.returncode != 0:
            assert in_gap, f"restore --at {rfc3339(t)} refused outside any gap: {r.stderr}"
            assert "gap" in r.stderr, r.stderr
            refused += 1
            continue
        restored += 1
        ids = ledger_ids(target)
        k = len(ids)
        assert ids == list(range(1, k + 1)), f"restore --at {rfc3339(t)}: not a prefix (holes)"
        for i, (before, after) in commits.items():
            if after <= t - INTERVAL_S - 1.0:
                assert i <= k, f"restore --at {rfc3339(t)}: commit {i} (done at {rfc3339(after)}) is missing"
            if before > t:
                assert i > k, f"restore --at {rfc3339(t)}: commit {i} (begun at {rfc3339(before)}) is there"
            checked += 1
        target.unlink()
    print(f"\nPITR property ({app}): {total} commits, {len(kills)} kills, {len(gaps)} gaps reported, {truncates} app "
          f"TRUNCATEs, {wal_restarts} WAL restarts by the archive; {tried} TIMEs: {restored} restored and checked ({checked} commit checks), {refused} refused "
          f"in a gap; gaps (s): {[round(u - s_, 2) for s_, u, _ in gaps]}; covered: {report['covered']}; "
          f"{len(compressed)} compressed segments")
    assert restored >= 40
    assert len(compressed) >= 3, "sealed segments are compressed"
