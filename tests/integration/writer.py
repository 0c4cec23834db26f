"""A stand-in for the application: commits one small row every `interval` seconds
into table `ticks` (or the table named by the fourth argument; id 1, 2, 3... in
order) until SIGTERM, then prints a JSON summary: rows committed, failures, and
the commit latencies' p50/p99/max in ms. Run as its own process, like the real
application. usage: writer.py DATABASE [INTERVAL] [BUSY_MS] [TABLE] [WAL_AUTOCHECKPOINT]
With SK_WRITER_SERIES=FILE in the environment it also writes each commit's
(seconds since start, latency in ms) there, for plots."""
import os
import json
import signal
import sqlite3
import sys
import time

database, interval = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.001
busy_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
table = sys.argv[4] if len(sys.argv) > 4 else "ticks"
autocheckpoint = int(sys.argv[5]) if len(sys.argv) > 5 else None
assert table.isidentifier()
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
con = sqlite3.connect(database, timeout=busy_ms / 1000, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
if autocheckpoint is not None:
    con.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
series = [] if os.environ.get("SK_WRITER_SERIES") else None
begun = time.perf_counter()
con.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, at REAL NOT NULL, pad BLOB)")
committed = con.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
failures, latencies = [], []
print("started", flush=True)
while not stop:
    t0 = time.perf_counter()
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute(f"INSERT INTO {table} (id, at, pad) VALUES (?, ?, randomblob(100))", (committed + 1, time.time()))
        con.execute("COMMIT")
        committed += 1
        latencies.append((time.perf_counter() - t0) * 1000)
        if series is not None:
            series.append((t0 - begun, latencies[-1]))
    except sqlite3.Error as e:
        failures.append(str(e))
        try:
            con.execute("ROLLBACK")
        except sqlite3.Error:
            pass
    time.sleep(interval)
if series is not None:
    with open(os.environ["SK_WRITER_SERIES"], "w") as f:
        f.writelines(f"{t:.4f} {ms:.4f}\n" for t, ms in series)
latencies.sort()


def pct(p):
    return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else 0.0


print(json.dumps({"committed": committed, "failures": failures, "p50_ms": pct(0.5), "p99_ms": pct(0.99),
                  "max_ms": latencies[-1] if latencies else 0.0}), flush=True)
