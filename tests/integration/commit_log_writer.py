"""The application of the archive's property test: commits rows id 1, 2, 3 ...
into table `ledger` as fast as it can (pausing `interval` seconds), with
wal_autocheckpoint=1 by default (it checkpoints after every commit, as an app that
wants a small WAL would), and logs each commit as "id before after": the wall-clock
times just before BEGIN and just after COMMIT returned, so a test knows when
each transaction was certainly not yet and certainly committed. Stops on SIGTERM.
AUTOCHECKPOINT (1) is its wal_autocheckpoint: 1000, SQLite's default, is an app
that leaves its WAL to grow to 4 MiB between checkpoints.
usage: commit_log_writer.py DATABASE LOG [INTERVAL [AUTOCHECKPOINT]]"""
import signal
import sqlite3
import sys
import time

database, log_path = sys.argv[1], sys.argv[2]
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.002
autocheckpoint = int(sys.argv[4]) if len(sys.argv) > 4 else 1
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
con = sqlite3.connect(database, timeout=10, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
con.execute("CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, note TEXT NOT NULL)")
next_id = con.execute("SELECT coalesce(max(id), 0) FROM ledger").fetchone()[0] + 1
with open(log_path, "a", buffering=1) as log:
    print("started", flush=True)
    while not stop:
        before = time.time()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO ledger (id, note) VALUES (?, ?)", (next_id, "x" * (50 + next_id % 200)))
        con.execute("COMMIT")
        after = time.time()
        log.write(f"{next_id} {before:.6f} {after:.6f}\n")
        next_id += 1
        time.sleep(interval)
