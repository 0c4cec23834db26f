#!/usr/bin/env python3
"""sqlkeeper's benchmark, side by side with what a user would use instead, on one
database in one run (repeated: median, min-max):

  1. backup      sqlkeeper's verified backup (copy and verification apart) next to
                 cp + fsync, sqlite3 .backup, VACUUM INTO, and the peers plus
                 integrity_check of their copy; time and peak RSS
  2. impact      a writer process committing every ~1 ms: its commit latency idle,
                 during sqlkeeper's backup, during sqlite3 .backup, during
                 sqlkeeper's checkpoint of a large WAL
  3. health      /health and /status under a load client with many keep-alive
                 connections, idle and during a backup
  4. footprint   the daemon's RSS idle and during a backup, CPU time and wake-ups
                 when idle, start to READY (schema up to date; 500 pending migrations)
  5. wal         the WAL's size over time under a writer and a reader that comes
                 and goes: SQLite's autocheckpoint alone, and with sqlkeeper

It prints the tables, writes them to bench/results/<date>-<host>.md with the
machine's description, and draws PNG plots beside it when matplotlib is there.

  python3 bench/bench.py [--binary build/sqlkeeper] [--size-mib 1024] [--repeats 3]
                         [--sections backup,impact,health,footprint,wal] [--work DIR]
  python3 bench/bench.py --guard   # CI: a 64 MiB database, ratios only; exit 1 on a regression
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WRITER = ROOT / "tests" / "integration" / "writer.py"


# --- processes ----------------------------------------------------------------

def status_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def run(argv, timeout=None, **kw):
    """Runs argv; returns (seconds, peak RSS in MiB, stdout), or None when it did
    not finish within `timeout` seconds. The peak is the child's own VmHWM, polled
    (ru_maxrss of a child would include this Python process, which the fork copied)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out = []
    reader = threading.Thread(target=lambda: out.append(p.stdout.read()))
    reader.start()
    peak = 0
    while p.poll() is None:
        peak = max(peak, status_kib(p.pid, "VmHWM"))
        if timeout and time.perf_counter() - t0 > timeout:
            p.kill()
            p.wait()
            reader.join()
            return None
        time.sleep(0.025)  # VmHWM is a high-water mark: sparse polls miss nothing but the last moments
    reader.join()
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({p.returncode}): {p.stderr.read().decode(errors='replace')}")
    return seconds, peak / 1024, out[0].decode()


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Writer:
    """writer.py in its own process: one small commit every ~1 ms."""

    def __init__(self, db, autocheckpoint=None, series=None, pad_table="bench_ticks"):
        argv = [sys.executable, str(WRITER), str(db), "0.001", "10000", pad_table]
        if autocheckpoint is not None:
            argv.append(str(autocheckpoint))
        env = dict(os.environ)
        if series:
            env["SK_WRITER_SERIES"] = str(series)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout.readline().strip() == "started"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return json.loads(out.strip().splitlines()[-1])


def with_writer(db, action, settle=1.0, **kw):
    """Runs action() while a Writer commits; returns (the writer's summary, action's result)."""
    w = Writer(db, **kw)
    time.sleep(settle)  # the writer's steady state before the action
    try:
        result = action()
    finally:
        summary = w.stop()
    return summary, result


class Daemon:
    """`sqlkeeper run` on the database, with a NOTIFY_SOCKET of our own."""

    def __init__(self, binary, work, db, name="daemon", migrations=None, extra=()):
        self.dir = Path(work) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / "sk.sock"
        notify_path = self.dir / "notify.sock"
        if notify_path.exists():
            notify_path.unlink()
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(notify_path))
        self.notify.settimeout(0.5)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SQLKEEPER_")}
        env["NOTIFY_SOCKET"] = str(notify_path)
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [binary, "run", "--database", str(db), "--backup-dir", str(self.dir / "backups"), "--socket",
             str(self.socket), "--migrations", str(migrations or ROOT / "migrations"), "--log-level", "warning",
             *extra], env=env, stderr=subprocess.DEVNULL)
        while True:
            try:
                if b"READY=1" in self.notify.recv(4096):
                    break
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise SystemExit(f"sqlkeeper run exited with {self.proc.returncode} before READY")
        self.ready_seconds = time.perf_counter() - t0

    def request(self, method, target, timeout=600):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(str(self.socket))
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(body) if body.strip() else None

    def status(self):
        return self.request("GET", "/status")[1]

    def backup(self):
        """POST /backup and wait for it; returns the backup's activity figures."""
        before = self.status()["backups"]["activity"]
        done_before = self.status()["backups"]["last"]
        assert self.request("POST", "/backup")[0] == 202
        while True:
            s = self.status()
            if s["backups"]["activity"]["running"] is None and s["backups"]["last"] != done_before:
                return s["backups"]["activity"]
            if s["backups"]["activity"]["failures_total"] > before["failures_total"]:
                raise SystemExit(f"backup failed: {s['backups']['activity']['last_failure']}")
            time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.notify.close()


def load(tool, sock, seconds, target="/health", connections=32):
    out = subprocess.run([tool, str(sock), str(connections), str(seconds), target], capture_output=True, text=True,
                         timeout=seconds + 60)
    return json.loads(out.stdout)


# --- figures ------------------------------------------------------------------

def stats(values):
    return min(values), statistics.median(values), max(values)


def fmt(values, unit="s", digits=2):
    lo, med, hi = stats(values)
    return f"{med:.{digits}f} {unit} ({lo:.{digits}f}-{hi:.{digits}f})"


def build_database(binary, path, mib):
    # The bundled migrations first: sqlkeeper refuses to migrate a database with
    # tables it does not know the history of.
    subprocess.run([binary, "migrate", "up", "--database", str(path), "--migrations", str(ROOT / "migrations"),
                    "--backup-dir", str(Path(path).parent / "backups")], check=True, capture_output=True)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE bulk (i INTEGER PRIMARY KEY, pad BLOB)")
    con.execute("CREATE INDEX bulk_small ON bulk (substr(pad, 1, 8))")
    con.execute("BEGIN")
    con.execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) "
                "INSERT INTO bulk SELECT i, randomblob(950) FROM c", (mib * 1024,))
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem_kib = next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    sqlite_cli = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True).stdout.split()[0]
    return (f"{platform.node()}: {os.cpu_count()} × {cpu}, {int(mem_kib) // 1024} MiB RAM, "
            f"Linux {platform.release()}, sqlite3 CLI {sqlite_cli}")


class Report:
    def __init__(self):
        self.lines = []
        self.plots = []

    def add(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def table(self, header, rows):
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + " --- |" * len(header))
        for r in rows:
            self.add("| " + " | ".join(str(c) for c in r) + " |")
        self.add()


def plot(path, title, xlabel, ylabel, series):
    """series: [(label, xs, ys)]; False when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(9, 4))
    for label, xs, ys in series:
        ax.plot(xs, ys, label=label, linewidth=0.8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# --- sections -----------------------------------------------------------------

def sk_backup(binary, db, backups):
    shutil.rmtree(backups, ignore_errors=True)
    seconds, peak, out = run([binary, "backup", "--json", "--database", str(db), "--backup-dir", str(backups)])
    r = json.loads(out)
    r["peak_mib"] = max(peak, r["peak_rss_bytes"] / 2**20)
    r["seconds"] = seconds
    return r


def section_backup(args, report, db, work):
    res = {k: [] for k in ("sk_copy", "sk_verify", "sk_total", "cp", "cli", "cli_check", "vacuum", "vacuum_check")}
    rss = {k: 0.0 for k in ("sk", "cp", "cli", "vacuum")}
    methods = set()
    for _ in range(args.repeats):
        r = sk_backup(args.binary, db, work / "backups")
        methods.add(r["copy_method"])
        res["sk_copy"].append(r["copy_ms"] / 1000)
        res["sk_verify"].append(r["verify_ms"] / 1000)
        res["sk_total"].append(r["total_ms"] / 1000)
        rss["sk"] = max(rss["sk"], r["peak_mib"])
        target = work / "cp.db"
        t0 = time.perf_counter()
        _, peak, _ = run(["cp", str(db), str(target)])
        fsync_path(target)
        res["cp"].append(time.perf_counter() - t0)
        rss["cp"] = max(rss["cp"], peak)
        target.unlink()
        for key, sql in (("cli", f".backup '{work / 'peer.db'}'"), ("vacuum", f"VACUUM INTO '{work / 'peer.db'}'")):
            seconds, peak, _ = run(["sqlite3", str(db), sql])
            fsync_path(work / "peer.db")
            seconds_check, _, out = run(["sqlite3", str(work / "peer.db"), "PRAGMA integrity_check"])
            assert out.strip() == "ok", out
            res[key].append(seconds)
            res[key + "_check"].append(seconds + seconds_check)
            rss[key] = max(rss[key], peak)
            (work / "peer.db").unlink()
    size = db.stat().st_size / 2**20
    report.add(f"## 1. Backup of a {size:.0f} MiB database (median, min-max of {args.repeats}; warm cache)\n")
    report.table(["what", "time", "peak RSS"], [
        [f"sqlkeeper backup: copy ({', '.join(sorted(methods))}), fsync", fmt(res["sk_copy"]), ""],
        ["sqlkeeper backup: verification (integrity_check; SHA-256 during the copy)", fmt(res["sk_verify"]), ""],
        ["**sqlkeeper backup: total** (checkpoint, copy, verify, publish)", fmt(res["sk_total"]),
         f"{rss['sk']:.1f} MiB"],
        ["cp + fsync (inconsistent on a live database)", fmt(res["cp"]), f"{rss['cp']:.1f} MiB"],
        ["sqlite3 .backup", fmt(res["cli"]), f"{rss['cli']:.1f} MiB"],
        ["**sqlite3 .backup + integrity_check of its copy**", fmt(res["cli_check"]), ""],
        ["sqlite3 VACUUM INTO", fmt(res["vacuum"]), f"{rss['vacuum']:.1f} MiB"],
        ["sqlite3 VACUUM INTO + integrity_check", fmt(res["vacuum_check"]), ""],
    ])
    med = {k: statistics.median(v) for k, v in res.items()}
    report.add(f"Copy / (cp + fsync): **{med['sk_copy'] / med['cp']:.2f}x** (target 1.5x). "
               f"Whole verified backup / (sqlite3 .backup + integrity_check): "
               f"**{med['sk_total'] / med['cli_check']:.2f}x** (target below 1).\n")
    return med, methods, rss


def section_impact(args, report, db, work):
    idle, _ = with_writer(db, lambda: time.sleep(5), series=work / "idle.series")
    during_sk, _ = with_writer(db, lambda: sk_backup(args.binary, db, work / "backups"),
                               series=work / "sk.series")
    peer = work / "peer.db"
    during_cli, cli = with_writer(db, lambda: run(["sqlite3", str(db), f".backup '{peer}'"], timeout=60),
                                  series=work / "cli.series")
    for f in work.glob("peer.db*"):
        f.unlink()
    # A large WAL (a reader held it while 256 MiB were written), then sqlkeeper's
    # checkpoint of it while the writer goes on (with autocheckpoint off, as
    # docs/operations.md recommends, so the checkpoint is sqlkeeper's).
    d = Daemon(args.binary, work, db, "impact", extra=["--checkpoint-interval", "24h", "--wal-max-bytes", "4GiB"])
    con = sqlite3.connect(str(db), isolation_level=None)
    try:
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("UPDATE bulk SET pad = randomblob(950) WHERE i <= ?", (min(256, args.size_mib // 2) * 1024,))
        # Kept open until the checkpoint is done: the last connection to close would checkpoint itself.
        wal_before = os.path.getsize(str(db) + "-wal")
        during_ckpt, ckpt = with_writer(db, lambda: d.request("POST", "/checkpoint"), autocheckpoint=0,
                                        series=work / "ckpt.series")
    finally:
        con.close()
        d.stop()
    rows = [["idle", idle], ["sqlkeeper backup", during_sk]]
    rows.append(["sqlite3 .backup" + ("" if cli else " (**did not finish in 60 s**: it restarts at every commit)"),
                 during_cli])
    rows.append([f"sqlkeeper checkpoint of a {wal_before / 2**20:.0f} MiB WAL", during_ckpt])
    report.add("## 2. Application impact: a writer committing every ~1 ms\n")
    report.table(["while", "commits", "p50", "p99", "max", "failures"],
                 [[n, s["committed"], f"{s['p50_ms']:.2f} ms", f"{s['p99_ms']:.2f} ms", f"{s['max_ms']:.1f} ms",
                   len(s["failures"])] for n, s in rows])
    report.add(f"p99 during sqlkeeper's backup / idle p99: **{during_sk['p99_ms'] / idle['p99_ms']:.2f}x** "
               f"(target 2x); checkpoint answered {ckpt[0]}: {json.dumps(ckpt[1])}\n")
    series = []
    for label, f in (("idle", "idle"), ("during sqlkeeper backup", "sk"), ("during sqlite3 .backup", "cli")):
        pts = [tuple(map(float, l.split())) for l in open(work / f"{f}.series")]
        series.append((label, [p[0] for p in pts], [p[1] for p in pts]))
    if plot(work / "latency.png", "Writer commit latency", "seconds", "ms", series):
        report.plots.append(("latency.png", "A writer's commit latency idle, during sqlkeeper's backup, during "
                                            "sqlite3 .backup"))
    return idle, during_sk, during_cli


def section_health(args, report, db, work):
    tool = args.load
    d = Daemon(args.binary, work, db, "health")
    rows = {}
    try:
        rows["/health idle, 8 connections"] = load(tool, d.socket, 5, connections=8)
        rows["/health idle, 32 connections"] = load(tool, d.socket, 5, connections=32)
        rows["/status idle, 8 connections"] = load(tool, d.socket, 5, "/status", connections=8)
        box = {}
        t = threading.Thread(target=lambda: box.update(b=d.backup()))
        t.start()
        time.sleep(0.2)
        rows["/health during a backup, 8 connections"] = load(tool, d.socket, 3, connections=8)
        t.join()
    finally:
        d.stop()
    report.add("## 3. Health socket under load (keep-alive connections, each sending its next request as soon as "
               "the answer is in)\n")
    report.table(["requests", "requests/s", "p50", "p99", "max"],
                 [[n, f"{r['rps']:.0f}", f"{r['p50_us'] / 1000:.3f} ms", f"{r['p99_us'] / 1000:.3f} ms",
                   f"{r['max_us'] / 1000:.1f} ms"] for n, r in rows.items()])
    report.add(f"The backup during the load took {box['b']['last_total_ms']} ms. With every connection "
               "always waiting, latency is concurrency / throughput (Little's law): 8 connections measure "
               "latency, 32 the most requests per second.\n")
    return rows


def cpu_and_wakeups(pid):
    ticks = sum(int(x) for x in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11:13])
    switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        for line in open(f"/proc/{pid}/task/{task}/status"):
            if "ctxt_switches" in line:
                switches += int(line.split()[1])
    return ticks / os.sysconf("SC_CLK_TCK"), switches


def section_footprint(args, report, db, work):
    d = Daemon(args.binary, work, db, "footprint")
    time.sleep(1)
    idle_rss = status_kib(d.proc.pid, "VmRSS") / 1024
    cpu0, sw0 = cpu_and_wakeups(d.proc.pid)
    time.sleep(args.idle_seconds)
    cpu1, sw1 = cpu_and_wakeups(d.proc.pid)
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], status_kib(d.proc.pid, "VmRSS"))
            time.sleep(0.01)
    s = threading.Thread(target=sample)
    s.start()
    d.backup()
    stop.set()
    s.join()
    d.stop()
    ready = []
    for i in range(5):
        r = Daemon(args.binary, work, db, f"ready{i}")
        ready.append(r.ready_seconds)
        r.stop()
    pending = work / "pending"
    shutil.rmtree(pending, ignore_errors=True)
    pending.mkdir()
    for i in range(1, 501):
        (pending / f"{i:04d}_t{i}.sql").write_text(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT);\n")
    fresh = work / "fresh" / "app.db"
    shutil.rmtree(fresh.parent, ignore_errors=True)
    fresh.parent.mkdir()
    m = Daemon(args.binary, work, fresh, "migrate500", migrations=pending)
    m.stop()
    report.add("## 4. Footprint of the daemon\n")
    minutes = args.idle_seconds / 60
    report.table(["what", "figure"], [
        ["RSS idle", f"{idle_rss:.1f} MiB"],
        [f"RSS peak during a backup of {db.stat().st_size / 2**20:.0f} MiB", f"{peak[0] / 1024:.1f} MiB"],
        [f"CPU time idle, over {args.idle_seconds} s", f"{(cpu1 - cpu0) * 1000:.0f} ms"],
        ["context switches (wake-ups) per minute idle, all threads", f"{(sw1 - sw0) / minutes:.0f}"],
        ["start to READY, schema up to date (median of 5)", f"{statistics.median(ready) * 1000:.1f} ms"],
        ["start to READY, 500 pending migrations on a new database", f"{m.ready_seconds * 1000:.0f} ms"],
    ])
    return idle_rss, peak[0] / 1024, statistics.median(ready)


def section_wal(args, report, db, work):
    """A writer (default autocheckpoint) and a reader that holds a read transaction
    for 8 s in every 12 (a report, a backup by another tool): the WAL's size
    sampled every 100 ms."""
    results = {}
    for name in ("autocheckpoint alone", "with sqlkeeper"):
        con = sqlite3.connect(str(db), isolation_level=None)
        con.execute("PRAGMA journal_size_limit=-1")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        d = None
        if name == "with sqlkeeper":
            d = Daemon(args.binary, work, db, "wal", extra=["--checkpoint-interval", "5s", "--wal-max-bytes", "8MiB"])
        samples = []
        stop = threading.Event()

        def reader():
            r = sqlite3.connect(str(db), isolation_level=None)
            while not stop.is_set():
                r.execute("BEGIN")
                r.execute("SELECT count(*) FROM bench_ticks").fetchall()
                stop.wait(8)
                r.execute("COMMIT")
                stop.wait(4)
            r.close()

        def sampler():
            t0 = time.monotonic()
            while not stop.is_set():
                try:
                    samples.append((time.monotonic() - t0, os.path.getsize(str(db) + "-wal") / 2**20))
                except FileNotFoundError:
                    samples.append((time.monotonic() - t0, 0.0))
                time.sleep(0.1)

        w = Writer(db, pad_table="bench_ticks")
        threads = [threading.Thread(target=reader), threading.Thread(target=sampler)]
        for t in threads:
            t.start()
        time.sleep(args.wal_seconds)
        stop.set()
        for t in threads:
            t.join()
        w.stop()
        if d:
            d.stop()
        results[name] = samples
    report.add(f"## 5. WAL size under a writer and a reader that comes and goes ({args.wal_seconds} s)\n")
    rows = []
    for name, s in results.items():
        sizes = sorted(v for _, v in s)
        rows.append([name, f"{sizes[-1]:.1f} MiB", f"{statistics.mean(sizes):.1f} MiB", f"{s[-1][1]:.1f} MiB"])
    report.table(["checkpoints", "max", "mean", "at the end"], rows)
    report.add("While the reader holds its snapshot no checkpoint can reset the WAL; SQLite's autocheckpoint "
               "never makes the file smaller again, sqlkeeper's TRUNCATE checkpoint (with journal_size_limit) "
               "does once the reader lets go.\n")
    if plot(work / "wal.png", "WAL size", "seconds", "MiB",
            [(n, [t for t, _ in s], [v for _, v in s]) for n, s in results.items()]):
        report.plots.append(("wal.png", "WAL size over time, SQLite's autocheckpoint alone and with sqlkeeper"))
    return results


# --- guard --------------------------------------------------------------------

def guard(args, db, work):
    """Ratios that a regression breaks, on a small database: the copy is the
    whole-file one and close to cp, and /health keeps answering during backups."""
    failures = []
    copies, cps, methods = [], [], set()
    for _ in range(5):
        r = sk_backup(args.binary, db, work / "backups")
        methods.add(r["copy_method"])
        copies.append(r["copy_ms"] / 1000)
        t0 = time.perf_counter()
        run(["cp", str(db), str(work / "cp.db")])
        fsync_path(work / "cp.db")
        cps.append(time.perf_counter() - t0)
        (work / "cp.db").unlink()
    ratio = statistics.median(copies) / statistics.median(cps)
    print(f"copy method {sorted(methods)}, copy / (cp + fsync) = {ratio:.2f}")
    if methods != {"file"}:
        failures.append(f"the copy went page by page ({sorted(methods)}), not as the whole file")
    if ratio > 3.0:
        failures.append(f"the copy took {ratio:.2f}x cp + fsync (at most 3x)")
    d = Daemon(args.binary, work, db, "guard")
    totals = []
    stop = threading.Event()

    def backups():
        while not stop.is_set():
            totals.append(d.backup()["last_total_ms"])
    t = threading.Thread(target=backups)
    t.start()
    time.sleep(0.3)
    during = load(args.load, d.socket, 3, connections=8)
    stop.set()
    t.join()
    d.stop()
    slowest = during["max_us"] / 1000
    backup_ms = statistics.median(totals)
    print(f"/health during {len(totals)} backups of {backup_ms:.0f} ms each: p99 {during['p99_us'] / 1000:.2f} ms, "
          f"max {slowest:.1f} ms, {during['rps']:.0f} requests/s")
    if slowest > 0.5 * backup_ms:
        failures.append(f"/health waited {slowest:.1f} ms during a backup of {backup_ms:.0f} ms: the loop was blocked")
    for f in failures:
        print("REGRESSION: " + f)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=str(ROOT / "build" / "sqlkeeper"))
    ap.add_argument("--load", help="the sqlkeeper_health_load binary (default: beside --binary)")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sections", default="backup,impact,health,footprint,wal")
    ap.add_argument("--work", help="where the database and copies go (default: a new temporary folder)")
    ap.add_argument("--idle-seconds", type=int, default=60)
    ap.add_argument("--wal-seconds", type=int, default=36)
    ap.add_argument("--guard", action="store_true")
    args = ap.parse_args()
    args.binary = str(Path(args.binary).resolve())
    args.load = args.load or str(Path(args.binary).parent / "sqlkeeper_health_load")
    if args.guard:
        args.size_mib = 64
    work = Path(args.work or tempfile.mkdtemp(prefix="sqlkeeper-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / f"bench-{args.size_mib}.db"
    if not db.exists():
        t0 = time.perf_counter()
        build_database(args.binary, str(db), args.size_mib)
        print(f"built {db} ({db.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f} s", flush=True)
    if args.guard:
        code = guard(args, db, work)
        if not args.work:
            shutil.rmtree(work)
        return code
    report = Report()
    report.add(f"# sqlkeeper benchmark, {datetime.date.today()}\n")
    version = subprocess.run([args.binary, "--version"], capture_output=True, text=True).stdout.splitlines()
    report.add(f"Machine: {machine()}. {version[0]}, linked with {version[1]}. "
               f"Command: `python3 bench/bench.py --size-mib {args.size_mib} --repeats {args.repeats}`.\n")
    sections = args.sections.split(",")
    for name, fn in (("backup", section_backup), ("impact", section_impact), ("health", section_health),
                     ("footprint", section_footprint), ("wal", section_wal)):
        if name in sections:
            fn(args, report, db, work)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    stem = f"{datetime.date.today()}-{platform.node()}"
    for png, caption in report.plots:
        shutil.copyfile(work / png, out_dir / f"{stem}-{png}")
        report.add(f"![{caption}]({stem}-{png})\n")
    (out_dir / f"{stem}.md").write_text("\n".join(report.lines) + "\n")
    print(f"wrote {out_dir / (stem + '.md')}")
    if not args.work:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
