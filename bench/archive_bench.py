#!/usr/bin/env python3
"""The WAL archive's cost and speed (issue 25), side by side with the archive off:

  writer    commit latency p50/p99/max of an application committing one small row
            every ~1 ms, with the archive off and on (two daemons, each on its own
            database; the writer alternates between them in slices, six unless
            --slices; the p99 ratio's 90% interval from the slices drawn again)
  lag       how long after its commit each transaction was durable in the archive
            (p50/p99/max; /status sampled every 20 ms, so +-20 ms)
  bytes     archive bytes written per WAL byte read
  bytes     archive bytes on disk per WAL byte (sealed segments are compressed)
  restore   restore --at latest and --at a second in the middle of the writes (the
            backup plus the archived transactions) next to restore FILE --to X of
            that backup alone
  checks    the daemon's chain check of a backup taken after the writes (the first
            backup brought forward by the archive and compared page by page), and
            sqlkeeper verify --archive of the whole chain
  idle      the daemon's context switches in 10 s with nothing written

  python3 bench/archive_bench.py [--binary build/sqlkeeper] [--seconds 20] [--size-mib 64]
  python3 bench/archive_bench.py --guard   # CI: archive on only; exit 1 when the lag p99 passes 2 s
"""
import argparse
import heapq
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def http_get(sock_path, target):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(sock_path))
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def status(sock):
    return json.loads(http_get(sock, "/status")[1])


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def start(binary, work, archive, archive_dir=None, extra=()):
    # No migrations: the database is the benchmark's own.
    (work / "migrations").mkdir(exist_ok=True)
    args = [binary, "run", "--database", work / "app.db", "--backup-dir", work / "backups", "--socket",
            work / "s.sock", "--migrations", work / "migrations", "--archive", "true" if archive else "false"]
    if archive and archive_dir:
        args += ["--archive-dir", archive_dir]
    args += list(extra)
    proc = subprocess.Popen([str(a) for a in args], stdout=open(work / "daemon.log", "ab"), stderr=subprocess.STDOUT,
                            env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"})
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            # With the archive, once the backup that begins its chain is done: its
            # copy of the whole file would be measured with the writer otherwise.
            if http_get(work / "s.sock", "/health/ready")[0] == 200 and (
                    not archive or status(work / "s.sock")["archive"]["chain_has_base"]):
                return proc
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("the daemon did not get ready")


def settle(sock):
    """Until the daemon runs no backup (the one at its first start, a copy of the whole file)."""
    deadline = time.time() + 300
    while status(sock)["backups"]["activity"]["running"] is not None:
        if time.time() > deadline:
            raise SystemExit("a backup ran for 5 minutes")
        time.sleep(0.2)


def fill(db, size_mib):
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS filler (id INTEGER PRIMARY KEY, v BLOB)")
    con.execute("CREATE TABLE IF NOT EXISTS ticks (id INTEGER PRIMARY KEY, at REAL, pad BLOB)")
    con.execute("BEGIN")
    for _ in range(size_mib * 16):
        con.execute("INSERT INTO filler (v) VALUES (randomblob(65000))")
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


# Samples /status every 20 ms in a process of its own: in the writer's process it
# took the GIL from the writer, and only where the archive was on.
SAMPLER = """
import json, socket, sys, time
def get():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sys.argv[1])
    s.sendall(b"GET /status HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    return json.loads(data.partition(b"\\r\\n\\r\\n")[2])["archive"].get("last_transaction", 0)
while True:
    try:
        print(time.time(), get(), flush=True)
    except OSError:
        pass
    time.sleep(0.02)
"""


def write(db, seconds, sock):
    """Commits a row every ~1 ms; returns latencies (ms), commit end times, /status samples and
    the largest size of the -wal file seen. The sampler runs whether the archive is on or off."""
    con = sqlite3.connect(db, isolation_level=None, timeout=10)
    latencies, done = [], []
    first_seq = status(sock)["archive"].get("last_transaction", 0)
    sampler = subprocess.Popen([sys.executable, "-c", SAMPLER, str(sock)], stdout=subprocess.PIPE, text=True)
    end = time.time() + seconds
    wal_max = 0
    while time.time() < end:
        t0 = time.perf_counter()
        con.execute("INSERT INTO ticks (at, pad) VALUES (?, randomblob(100))", (time.time(),))
        latencies.append((time.perf_counter() - t0) * 1000)
        done.append(time.time())
        if len(done) % 100 == 0:
            wal_max = max(wal_max, os.path.getsize(str(db) + "-wal"))
        time.sleep(0.001)
    time.sleep(2)  # the last commits' lag
    sampler.terminate()
    out = sampler.communicate(timeout=10)[0]
    samples = [(float(t), int(q)) for t, q in (line.split() for line in out.splitlines() if line.count(" ") == 1)]
    con.close()
    return latencies, done, samples, first_seq, wal_max


def lags(done, samples, first_seq):
    out = []
    j = 0
    for k, t in enumerate(done, start=1):
        while j < len(samples) and samples[j][1] < first_seq + k:
            j += 1
        if j == len(samples):
            break
        out.append((samples[j][0] - t) * 1000)
    return out


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def idle_switches(pid, seconds=10):
    def switches():
        fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status") if ":" in line)
        return int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])
    time.sleep(2)
    before = switches()
    time.sleep(seconds)
    return switches() - before


def post_backup(sock):
    """A backup by the daemon (a place in the chain), and its chain check once recorded."""
    before = status(sock)["archive"]["chain_check"]["total"]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(sock))
    s.sendall(b"POST /backup HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
    deadline = time.time() + 600
    while time.time() < deadline:
        check = status(sock)["archive"]["chain_check"]
        if check["total"] > before:
            return check["last"]
        time.sleep(0.1)
    raise SystemExit("the backup's chain check did not finish")


def spread(off_slices, on_slices, draws=400):
    """How far the p99 ratio can be trusted: the slices drawn again with replacement
    (each draw takes slice pairs, as they ran side by side), the ratio of the pooled
    p99s in each draw; its 5th and 95th percentiles, and the per-slice ratios."""
    rng = random.Random(1)
    pairs = list(zip(off_slices, on_slices))

    # A draw's pooled p99 is its k-th largest latency, k a hundredth of its count: among
    # each slice's k largest (a slice drawn twice gives them twice), so those are all it keeps.
    def p99_of(slices, ks):
        k = max(1, round(sum(len(s) for s in slices) / 100))
        return heapq.nlargest(k, (x for s in slices for x in ks[id(s)][:k]))[-1]

    def tops(side):
        k = max(1, round(sum(len(s) for s in side) / 100))
        return {id(s): sorted(s, reverse=True)[:k] for s in side}
    top = {**tops(off_slices), **tops(on_slices)}
    ratios = []
    for _ in range(draws):
        pick = [rng.choice(pairs) for _ in pairs]
        ratios.append(p99_of([p[1] for p in pick], top) / p99_of([p[0] for p in pick], top))
    each = sorted(pct(on, 99) / pct(off, 99) for off, on in pairs)
    return (f"90% interval over {len(pairs)} slice pairs {pct(ratios, 5):.2f}x to {pct(ratios, 95):.2f}x; "
            f"per slice: median {statistics.median(each):.2f}x, {sum(r <= 1 for r in each)} of {len(each)} at or below 1x")


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    return (time.perf_counter() - t0) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=str(ROOT / "build" / "sqlkeeper"))
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--size-mib", type=int, default=64)
    ap.add_argument("--guard", action="store_true")
    # To tell the archive's own disk writes from the rest of its cost: on a tmpfs
    # (/dev/shm) its fsyncs no longer share the database's disk and journal.
    ap.add_argument("--archive-dir", help="the archive's folder (default: beside the backups)")
    ap.add_argument("--slices", type=int, default=6,
                    help="alternating slices per daemon; more make the p99 ratio's interval narrower")
    ap.add_argument("--daemon-arg", action="append", default=[],
                    help="one more argument for both daemons, e.g. --daemon-arg=--archive-segment-size=1GiB")
    ap.add_argument("--control", action="store_true",
                    help="both daemons with the archive off: the ratio this VM gives for no difference at all")
    args = ap.parse_args()
    if args.guard:
        args.seconds = 10
    modes = (True,) if args.guard else (False, True)
    # The writer alternates between the two daemons in slices, so a drift of the
    # machine (another VM's load, the page cache) falls on both alike.
    rounds = 1 if args.guard else args.slices
    rows = []
    with tempfile.TemporaryDirectory(prefix="sk-archive-bench-") as tmp:
        works, procs = {}, {}
        try:
            for archive in modes:
                work = works[archive] = Path(tmp) / ("on" if archive else "off")
                work.mkdir()
                fill(work / "app.db", args.size_mib)
                procs[archive] = start(args.binary, work, archive and not args.control,
                                       args.archive_dir and Path(args.archive_dir) / Path(tmp).name, args.daemon_arg)
            for archive in modes:
                settle(works[archive] / "s.sock")
            idle = {archive: idle_switches(procs[archive].pid) for archive in modes}
            runs = {archive: {"lat": [], "slices": [], "done": [], "lag": [], "wal_max": 0, "cpu": 0.0}
                    for archive in modes}
            for _ in range(rounds):
                for archive in modes:
                    work, run = works[archive], runs[archive]
                    cpu = cpu_seconds(procs[archive].pid)
                    lat, done, samples, first, wal_max = write(work / "app.db", args.seconds / rounds,
                                                               work / "s.sock")
                    run["cpu"] += cpu_seconds(procs[archive].pid) - cpu
                    run["lat"] += lat
                    run["slices"].append(lat)
                    run["done"] += done
                    run["wal_max"] = max(run["wal_max"], wal_max)
                    if archive and not args.control:
                        run["lag"] += lags(done, samples, first)
            for archive in modes:
                work, run = works[archive], runs[archive]
                lat, done = run["lat"], run["done"]
                row = {"archive": ("off, second" if args.control else "on") if archive else "off", "commits": len(lat), "p50": pct(lat, 50),
                       "p99": pct(lat, 99), "max": max(lat), "idle": idle[archive], "wal_max": run["wal_max"],
                       "cpu": run["cpu"]}
                if archive and args.control:
                    rows.append(row)
                    continue
                if archive:
                    lag = run["lag"]
                    row.update(lag_p50=pct(lag, 50), lag_p99=pct(lag, 99), lag_max=max(lag),
                               wal_restarts=status(work / "s.sock")["archive"]["wal_restarts"])
                if archive and not args.guard:
                    procs[False].terminate()  # quiet for the restores
                    procs[False].wait(30)
                    cli = ["--database", work / "app.db", "--backup-dir", work / "backups", "--migrations",
                           work / "migrations", "--socket", work / "s.sock"]
                    if args.archive_dir:
                        cli += ["--archive-dir", Path(args.archive_dir) / Path(tmp).name]
                    report = json.loads(subprocess.run([args.binary, "archive", "--json", *[str(c) for c in cli]],
                                                       capture_output=True, text=True).stdout)
                    row["ratio"] = report["bytes_on_disk"] / max(1, report["wal_bytes"])
                    row["archive_bytes"] = report["bytes_on_disk"]
                    backup = next((work / "backups").glob("app-*.db"))
                    row["restore_backup_ms"] = timed([args.binary, "restore", backup, "--to", work / "r1.db", *cli])
                    row["restore_at_ms"] = timed([args.binary, "restore", "--at", "latest", "--to", work / "r2.db", *cli])
                    middle = done[len(done) // 2]
                    row["restore_mid_ms"] = timed([args.binary, "restore", "--at", rfc3339(middle), "--to",
                                                   work / "r3.db", *cli])
                    row["replayed"] = len(done)
                    check = post_backup(work / "s.sock")
                    row["chain_check_ms"] = check["ms"]
                    row["chain_check"] = check["result"]
                    row["verify_ms"] = timed([args.binary, "verify", "--archive", *cli])
                rows.append(row)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.terminate()
                    proc.wait(30)
            if args.archive_dir:
                shutil.rmtree(Path(args.archive_dir) / Path(tmp).name, ignore_errors=True)
    where = f", archive in {args.archive_dir}" if args.archive_dir else ""
    print(f"\nWAL archive{where}, {args.size_mib} MiB database, a writer committing every ~1 ms for {args.seconds} s "
          f"on each daemon, in {rounds} alternating slices\n")
    print("| archive | commits | writer p50 ms | p99 ms | max ms | largest -wal MiB | daemon CPU s while writing "
          "| idle context switches / 10 s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['archive']} | {r['commits']} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.1f} | "
              f"{r['wal_max'] / 2**20:.1f} | {r['cpu']:.2f} | {r['idle']} |")
    on = rows[-1]
    if args.control:
        print(f"\ncontrol (both off): writer p99 second/first: {on['p99'] / rows[0]['p99']:.2f}x; "
              f"{spread(runs[False]['slices'], runs[True]['slices'])}")
        return
    print(f"\narchive lag after commit: p50 {on['lag_p50']:.0f} ms, p99 {on['lag_p99']:.0f} ms, max {on['lag_max']:.0f} ms "
          f"(archive-interval 1 s; /status sampled every 20 ms); the archive restarted the WAL {on['wal_restarts']} times")
    if args.guard:
        if on["lag_p99"] > 2000:
            print("GUARD: the archive's lag p99 is past 2 s (archive-interval 1 s + 1 s)")
            sys.exit(1)
        print("guard: ok")
        return
    print(f"writer p99 on/off: {on['p99'] / rows[0]['p99']:.2f}x; {spread(runs[False]['slices'], runs[True]['slices'])}")
    print(f"archive on disk: {on['archive_bytes'] / 2**20:.1f} MiB, {on['ratio']:.3f} bytes per WAL byte")
    print(f"restore of the backup alone: {on['restore_backup_ms']:.0f} ms; restore --at latest "
          f"(the backup plus {on['replayed']} transactions): {on['restore_at_ms']:.0f} ms "
          f"({on['restore_at_ms'] / on['restore_backup_ms']:.2f}x); --at the middle second: "
          f"{on['restore_mid_ms']:.0f} ms ({on['restore_mid_ms'] / on['restore_backup_ms']:.2f}x)")
    print(f"the daemon's chain check of a backup after the writes: {on['chain_check_ms']} ms ({on['chain_check']})")
    print(f"sqlkeeper verify --archive (every backup pair and the tail): {on['verify_ms']:.0f} ms")


if __name__ == "__main__":
    main()
