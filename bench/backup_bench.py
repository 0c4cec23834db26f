#!/usr/bin/env python3
"""Backups side by side, on one database in one run: sqlkeeper's verified backup
(copy and verification from `sqlkeeper backup --json`) next to `cp` + fsync and
the sqlite3 CLI's `.backup` (alone, and plus `PRAGMA integrity_check` of its copy,
the same work as sqlkeeper's), with each one's peak RSS; and the commit latency
of a writer process (one small transaction every ~1 ms) idle, during sqlkeeper's
backup and during `sqlite3 .backup`.

usage: bench/backup_bench.py SQLKEEPER_BINARY [SIZE_MIB=1024] [REPEATS=3] [WORKDIR]
"""
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRITER = HERE.parent / "tests" / "integration" / "writer.py"


def run(argv, **kw):
    """Runs argv; returns (seconds, peak RSS in MiB, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read()
    if p.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({p.returncode}): {err.decode(errors='replace')}")
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, out.decode()


def build_database(path, mib):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE bulk (i INTEGER PRIMARY KEY, pad BLOB)")
    con.execute("CREATE INDEX bulk_small ON bulk (substr(pad, 1, 8))")
    rows = mib * 1024 // 1  # ~1 KiB per row
    con.execute("BEGIN")
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
                "INSERT INTO bulk SELECT i, randomblob(950) FROM c", (rows,))
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stats(values):
    return min(values), statistics.median(values), max(values)


def fmt(values, unit="s"):
    lo, med, hi = stats(values)
    return f"{med:.2f} {unit} ({lo:.2f}-{hi:.2f})"


def with_writer(db, action):
    """Runs action() while writer.py commits every ~1 ms; returns the writer's summary."""
    w = subprocess.Popen([sys.executable, str(WRITER), str(db), "0.001", "10000", "bench_ticks"],
                         stdout=subprocess.PIPE, text=True)
    assert w.stdout.readline().strip() == "started"
    time.sleep(1.0)  # the writer's steady state before the action
    try:
        action()
    finally:
        w.send_signal(signal.SIGTERM)
        out, _ = w.communicate(timeout=60)
    return json.loads(out.strip().splitlines()[-1])


def main():
    binary = sys.argv[1]
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    work = Path(sys.argv[4]) if len(sys.argv) > 4 else Path(tempfile.mkdtemp(prefix="sqlkeeper-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "app.db"
    backups = work / "backups"
    if not db.exists():
        t0 = time.perf_counter()
        build_database(str(db), mib)
        print(f"built {db} ({db.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f} s", flush=True)
    sk = [binary, "backup", "--json", "--database", str(db), "--backup-dir", str(backups)]
    results = {k: [] for k in ("sk_total", "sk_copy", "sk_verify", "cp", "cli", "cli_check", "vacuum")}
    rss = {k: 0.0 for k in ("sk", "cp", "cli")}
    for _ in range(repeats):
        shutil.rmtree(backups, ignore_errors=True)
        seconds, peak, out = run(sk)
        r = json.loads(out)
        results["sk_total"].append(r["total_ms"] / 1000)
        results["sk_copy"].append(r["copy_ms"] / 1000)
        results["sk_verify"].append(r["verify_ms"] / 1000)
        rss["sk"] = max(rss["sk"], peak)
        target = work / "cp.db"
        t0 = time.perf_counter()
        _, peak, _ = run(["cp", str(db), str(target)])
        fsync_path(target)
        results["cp"].append(time.perf_counter() - t0)
        rss["cp"] = max(rss["cp"], peak)
        target.unlink()
        target = work / "cli.db"
        seconds, peak, _ = run(["sqlite3", str(db), f".backup '{target}'"])
        results["cli"].append(seconds)
        rss["cli"] = max(rss["cli"], peak)
        check, _, out = run(["sqlite3", str(target), "PRAGMA integrity_check"])
        assert out.strip() == "ok", out
        results["cli_check"].append(seconds + check)
        target.unlink()
        target = work / "vacuum.db"
        seconds, _, _ = run(["sqlite3", str(db), f"VACUUM INTO '{target}'"])
        results["vacuum"].append(seconds)
        target.unlink()
    print(f"\n## Backup of a {db.stat().st_size / 2**20:.0f} MiB database (median, min-max of {repeats})\n")
    print("| what | time | peak RSS |\n| --- | --- | --- |")
    print(f"| sqlkeeper backup: copy | {fmt(results['sk_copy'])} | |")
    print(f"| sqlkeeper backup: verification (integrity_check, SHA-256) | {fmt(results['sk_verify'])} | |")
    print(f"| sqlkeeper backup: total (checkpoint, copy, fsync, verify, publish) | {fmt(results['sk_total'])} | "
          f"{rss['sk']:.1f} MiB |")
    print(f"| cp + fsync | {fmt(results['cp'])} | {rss['cp']:.1f} MiB |")
    print(f"| sqlite3 .backup | {fmt(results['cli'])} | {rss['cli']:.1f} MiB |")
    print(f"| sqlite3 .backup + integrity_check | {fmt(results['cli_check'])} | |")
    print(f"| sqlite3 VACUUM INTO | {fmt(results['vacuum'])} | |")

    shutil.rmtree(backups, ignore_errors=True)
    idle = with_writer(db, lambda: time.sleep(5))
    during_sk = with_writer(db, lambda: run(sk))
    target = work / "cli.db"
    during_cli = with_writer(db, lambda: run(["sqlite3", str(db), f".backup '{target}'"]))
    target.unlink()
    print("\n## A writer committing every ~1 ms (commit latency)\n")
    print("| while | p50 | p99 | max | failures |\n| --- | --- | --- | --- | --- |")
    for name, s in (("idle", idle), ("sqlkeeper backup", during_sk), ("sqlite3 .backup", during_cli)):
        print(f"| {name} | {s['p50_ms']:.2f} ms | {s['p99_ms']:.2f} ms | {s['max_ms']:.1f} ms | {len(s['failures'])} |")


if __name__ == "__main__":
    main()
